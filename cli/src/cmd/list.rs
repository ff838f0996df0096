//! `tether ls`: the forwards as a table, or as JSON or YAML.

use super::Ctx;
use crate::args::Format;
use crate::error::Failure;
use crate::view::ForwardView;
use crate::{out, table, time};

/// Runs `tether ls`.
///
/// # Errors
/// A [`Failure`] when the daemon cannot be reached or the call fails.
pub async fn run(ctx: &Ctx, format: Option<Format>) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let all = client
        .all_forwards()
        .await
        .map_err(|status| Failure::rpc("list forwards", &status, None))?;
    let mut forwards: Vec<ForwardView> = all.iter().map(ForwardView::from).collect();
    forwards.sort_by(|a, b| a.name.cmp(&b.name));
    if forwards.is_empty() && matches!(format, None | Some(Format::Wide)) {
        out::note("No forwards. Create one with `tether forward TARGET PORT`.");
        return Ok(());
    }
    out::text(&table::render(&forwards, format, time::now_unix(), out::stdout_color())?)
}
