//! Older kubectl from other eras against the modern cluster: 1.29 speaks only SPDY, 1.30 uses
//! WebSocket for exec and SPDY for port-forward (the cases assert what was negotiated).

use crate::exec::exec_cases;
use crate::harness::{Env, Kubectl};
use crate::portforward::pf_cases;

#[test]
fn kubectl_1_29_spdy_only() {
    let Some(kubectl) = Kubectl::version(29) else { return };
    let env = Env::start(|_| {});
    exec_cases(&kubectl, &env);
    pf_cases(&kubectl, &env);
}

#[test]
fn kubectl_1_30_websocket_exec_spdy_port_forward() {
    let Some(kubectl) = Kubectl::version(30) else { return };
    let env = Env::start(|_| {});
    exec_cases(&kubectl, &env);
    pf_cases(&kubectl, &env);
}
