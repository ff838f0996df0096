//! Forwards: what they are ([`spec`]), what state they are in ([`state`]).

pub mod events;
pub mod registry;
pub mod relay;
pub mod spec;
pub mod state;
pub mod supervisor;
pub mod wake;
