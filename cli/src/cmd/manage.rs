//! `tether rm`, `tether pause` and `tether resume`.

use tether_proto::pb;

use super::Ctx;
use crate::args::RmArgs;
use crate::error::Failure;
use crate::out;

/// Runs `tether rm`: removes each forward named (or all), going on past failures.
///
/// # Errors
/// The failure itself when one forward was named, else a summary with the first one's code.
pub async fn remove(ctx: &Ctx, args: RmArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let names = if args.all {
        let all = client
            .all_forwards()
            .await
            .map_err(|status| Failure::rpc("list forwards", &status, None))?;
        all.into_iter().filter_map(|f| f.spec).map(|s| s.name).collect()
    } else {
        args.names
    };
    let mut failures = Vec::new();
    for name in &names {
        let request = pb::DeleteForwardRequest { name: name.clone() };
        match client.forwards.delete_forward(request).await {
            Ok(_) => out::line(&format!("forward {name} deleted"))?,
            Err(status) => {
                failures.push(Failure::rpc(&format!("delete forward {name}"), &status, None))
            }
        }
    }
    summarize("delete", names.len(), failures)
}

/// One failure as it is; several printed one by one, then summed up.
fn summarize(verb: &str, total: usize, mut failures: Vec<Failure>) -> anyhow::Result<()> {
    if failures.len() <= 1 {
        return failures.pop().map_or(Ok(()), |f| Err(f.into()));
    }
    for failure in &failures {
        out::error(&failure.message);
    }
    let exit = failures[0].exit;
    Err(Failure::new(exit, format!("failed to {verb} {} of {total} forwards", failures.len()))
        .into())
}

/// Runs `tether pause NAME`.
///
/// # Errors
/// A [`Failure`] when the call fails, such as for an unknown name.
pub async fn pause(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let request = pb::PauseForwardRequest { name: name.to_owned() };
    client
        .forwards
        .pause_forward(request)
        .await
        .map_err(|status| Failure::rpc(&format!("pause forward {name}"), &status, None))?;
    out::line(&format!("forward {name} paused; its local ports stay reserved"))
}

/// Runs `tether resume NAME`.
///
/// # Errors
/// A [`Failure`] when the call fails, such as for an unknown name.
pub async fn resume(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let request = pb::ResumeForwardRequest { name: name.to_owned() };
    client
        .forwards
        .resume_forward(request)
        .await
        .map_err(|status| Failure::rpc(&format!("resume forward {name}"), &status, None))?;
    out::line(&format!("forward {name} resumed"))
}
