//! `tether demo`: an emulated cluster (the `tether-testkit` binary), a private daemon and a
//! forward to `svc/web`, requested every second while a pod is killed and, later, the tunnel is
//! blackholed. It prints which pod answered and when each fault was recovered from, then ends
//! with a summary (or, with `--follow`, goes on until Ctrl-C). The children log to files in the
//! demo's folder, so no log line of theirs reaches the terminal.

mod cluster;
mod daemon;
mod probe;
mod process;
mod script;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tether_proto::client::Client;
use tether_proto::pb;

use self::cluster::Cluster;
use self::daemon::Daemon;
use self::script::{Fault, Tally};
use crate::args::DemoArgs;
use crate::error::{Exit, Failure};
use crate::out;

/// How long one request may take: tetherd replaces a blackholed tunnel in about 2 s.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long after the last fault the demo waits for the recovery before it gives up.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);
/// Answers shown after the last recovery, before the summary.
const TAIL: u32 = 2;
/// How long the forward may take to serve (the daemon waits for a Ready pod).
const READY_WITHIN: Duration = Duration::from_secs(30);
/// How long any other call to the daemon may take.
const CALL_WITHIN: Duration = Duration::from_secs(10);

/// Runs the demo.
///
/// # Errors
/// A [`Failure`] when a part cannot start, or a fault was not recovered from.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("tether-demo-{}", std::process::id()));
    tether_proto::paths::private_dir(&dir)?;
    out::note("starting an emulated cluster (deployment web, 2 replicas; service web)...");
    let outcome = with_cluster(&dir, &args).await;
    match &outcome {
        Ok(()) => {
            let _removed = std::fs::remove_dir_all(&dir);
        }
        Err(_) => {
            out::note(&format!("the logs of tetherd and the cluster are in {}", dir.display()))
        }
    }
    outcome
}

async fn with_cluster(dir: &Path, args: &DemoArgs) -> anyhow::Result<()> {
    let cluster = Cluster::start(dir).await?;
    let outcome = match Daemon::start(dir) {
        Ok(daemon) => {
            out::note(&format!("started a private tetherd on {}", daemon.socket().display()));
            let outcome = serve(&cluster, &daemon, args).await;
            out::note("stopping the private tetherd and the emulated cluster...");
            daemon.stop().await;
            outcome
        }
        Err(e) => Err(e),
    };
    cluster.stop().await;
    outcome
}

async fn serve(cluster: &Cluster, daemon: &Daemon, args: &DemoArgs) -> anyhow::Result<()> {
    let mut client = daemon.client().await?;
    let address = forward(&mut client, cluster.kubeconfig()).await?;
    out::note(&format!(
        "requesting it every {:?}: a pod kill at {:?}, a blackhole at {:?}; {}",
        args.interval,
        args.kill_after,
        args.blackhole_after,
        if args.follow { "Ctrl-C stops" } else { "a summary at the end (Ctrl-C stops early)" }
    ));
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut tail = 0;
    let mut tick = tokio::time::interval(args.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut ctrl_c => break,
        }
        let t = started.elapsed();
        inject(cluster, &mut client, &mut tally, args, t).await?;
        let answer = tokio::select! {
            answer = probe::get(&address, REQUEST_TIMEOUT) => answer,
            _ = &mut ctrl_c => break,
        };
        let line = match &answer {
            Ok((pod, took)) => format!("{:>7.1}s  200 from {pod} ({:.1} ms)", secs(t), ms(*took)),
            Err(e) => format!("{:>7.1}s  no answer: {e}", secs(t)),
        };
        out::line(&line)?;
        let pod = answer.as_ref().ok().map(|(pod, _)| pod.as_str());
        for recovered in tally.answer(started.elapsed(), pod) {
            out::line(&script::recovery_line(&recovered))?;
            tail = 0;
        }
        let scripted = tally.faults.len() == 2;
        tail += u32::from(scripted && tally.all_recovered());
        let given_up = scripted && t > args.blackhole_after + GIVE_UP_AFTER;
        if !args.follow && (tail > TAIL || given_up) {
            break;
        }
    }
    out::text(&tally.summary())?;
    if tally.all_recovered() {
        return Ok(());
    }
    let message = "the forward did not recover from every fault; see the summary above";
    Err(Failure::new(Exit::Error, message).into())
}

/// Creates the forward and waits until it serves; its local address.
async fn forward(client: &mut Client, kubeconfig: &Path) -> anyhow::Result<String> {
    let spec = pb::ForwardSpec {
        name: "web".into(),
        target: "svc/web".into(),
        namespace: "default".into(),
        kubeconfig: kubeconfig.display().to_string(),
        ports: vec![":80".into()],
        ..pb::ForwardSpec::default()
    };
    let wait_timeout_ms = u32::try_from(READY_WITHIN.as_millis()).unwrap_or(u32::MAX);
    let req = pb::CreateForwardRequest { spec: Some(spec), wait_ready: true, wait_timeout_ms };
    let created =
        tokio::time::timeout(READY_WITHIN + CALL_WITHIN, client.forwards.create_forward(req))
            .await
            .context("the private tetherd did not answer CreateForward in time")?;
    let fwd = created.context("failed to create the forward")?.into_inner();
    let status = fwd.forward.and_then(|f| f.status).context("the daemon returned no status")?;
    let address =
        status.local_addresses.first().cloned().context("the forward has no local address")?;
    out::line(&format!(
        "forward ready: http://{address}/ -> svc/web:80 (pod {}, {})",
        status.pod, status.protocol
    ))?;
    Ok(address)
}

/// Injects the faults whose time has come.
async fn inject(
    cluster: &Cluster,
    client: &mut Client,
    tally: &mut Tally,
    args: &DemoArgs,
    t: Duration,
) -> anyhow::Result<()> {
    if tally.faults.is_empty() && t >= args.kill_after {
        let pod = current_pod(client).await?;
        out::line(&format!("{:>7.1}s  killing pod {pod}", secs(t)))?;
        cluster.fault(&["delete-pod", &pod]).await?;
        tally.inject(Fault::PodKill { pod }, t);
    }
    if tally.faults.len() == 1 && t >= args.blackhole_after {
        out::line(&format!(
            "{:>7.1}s  blackholing the tunnel: the connection stays open, no byte moves",
            secs(t)
        ))?;
        cluster.fault(&["blackhole"]).await?;
        tally.inject(Fault::Blackhole, t);
    }
    Ok(())
}

async fn current_pod(client: &mut Client) -> anyhow::Result<String> {
    let asked = client.forwards.get_forward(pb::GetForwardRequest { name: "web".into() });
    let fwd = tokio::time::timeout(CALL_WITHIN, asked)
        .await
        .context("the private tetherd did not answer GetForward in time")?
        .context("failed to get the forward")?
        .into_inner();
    let status = fwd.forward.and_then(|f| f.status).context("the daemon returned no status")?;
    Ok(status.pod)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
