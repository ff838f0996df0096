//! `tether demo`: an emulated cluster, a private daemon and a forward to `svc/web`, requested
//! every second while a pod is killed and, later, the tunnel is blackholed. It prints which pod
//! answered and how long each recovery took, and exits cleanly on Ctrl-C.

mod daemon;
mod probe;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use tether_proto::pb;
use tether_testkit::{Fault, TestCluster};

use crate::args::DemoArgs;
use crate::out;

/// What the demo is waiting to see after a fault.
enum Watch {
    Nothing,
    /// A pod was killed at this time; recovered when another pod answers.
    Kill {
        at: Instant,
        pod: String,
    },
    /// The tunnel was blackholed at this time; recovered when a new tunnel serves.
    Blackhole {
        at: Instant,
        reconnects: u64,
    },
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    out::note("starting an emulated cluster (deployment web, 2 replicas; service web)...");
    let exe = std::env::current_exe().context("failed to find this program's path")?;
    let mut config = tether_testkit::Config::new(exe);
    config.testkit_exe_prefix = vec![crate::args::TESTKIT_SUBCOMMAND.into()];
    config.recreate_delay = Duration::from_secs(1);
    let cluster =
        TestCluster::start(config).await.context("failed to start the emulated cluster")?;
    cluster
        .wait_ready("app=web", 2, Duration::from_secs(30))
        .await
        .context("the web pods did not become ready")?;
    let outcome = demo(&cluster, &args).await;
    out::note("stopping the emulated cluster...");
    cluster.shutdown(Duration::from_secs(5)).await;
    outcome
}

async fn demo(cluster: &TestCluster, args: &DemoArgs) -> anyhow::Result<()> {
    let daemon = daemon::Daemon::start(args.ping_deadline).await?;
    let outcome = serve(cluster, &daemon, args).await;
    daemon.stop().await;
    outcome
}

async fn serve(
    cluster: &TestCluster,
    daemon: &daemon::Daemon,
    args: &DemoArgs,
) -> anyhow::Result<()> {
    let mut client = daemon.client().await?;
    let spec = pb::ForwardSpec {
        name: "web".into(),
        target: "svc/web".into(),
        namespace: "default".into(),
        kubeconfig: cluster.kubeconfig().display().to_string(),
        ports: vec![":80".into()],
        ..pb::ForwardSpec::default()
    };
    let req =
        pb::CreateForwardRequest { spec: Some(spec), wait_ready: true, wait_timeout_ms: 30_000 };
    let fwd = client
        .forwards
        .create_forward(req)
        .await
        .context("failed to create the forward")?
        .into_inner();
    let status = fwd.forward.and_then(|f| f.status).context("the daemon returned no status")?;
    let address =
        status.local_addresses.first().cloned().context("the forward has no local address")?;
    out::line(&format!(
        "forward ready: http://{address}/ -> svc/web:80 (pod {}, {})",
        status.pod, status.protocol
    ))?;
    out::note("requesting it every second; Ctrl-C to stop");
    let started = Instant::now();
    let (mut killed, mut blackholed) = (false, false);
    let mut watch = Watch::Nothing;
    let mut tick = tokio::time::interval(args.interval);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        let t = started.elapsed();
        if args.duration.is_some_and(|d| t >= d) {
            break;
        }
        if !killed && t >= args.kill_after {
            killed = true;
            let pod = current(&mut client).await?.pod;
            out::line(&format!("{:>7.1}s  killing pod {pod}", t.as_secs_f64()))?;
            cluster
                .inject(Fault::DeletePod { namespace: "default".into(), name: pod.clone() })
                .await?;
            watch = Watch::Kill { at: Instant::now(), pod };
        }
        if !blackholed && t >= args.blackhole_after {
            blackholed = true;
            let reconnects = stats(&mut client).await?;
            out::line(&format!(
                "{:>7.1}s  blackholing the tunnel: the connection stays open, no byte moves",
                t.as_secs_f64()
            ))?;
            cluster.inject(Fault::Blackhole).await?;
            watch = Watch::Blackhole { at: Instant::now(), reconnects };
        }
        let answer = probe::get(&address, Duration::from_secs(5)).await;
        let line = match &answer {
            Ok((pod, took)) => format!(
                "{:>7.1}s  200 from {pod} ({:.1} ms)",
                t.as_secs_f64(),
                took.as_secs_f64() * 1000.0
            ),
            Err(e) => format!("{:>7.1}s  no answer: {e}", t.as_secs_f64()),
        };
        out::line(&line)?;
        watch =
            report(watch, answer.as_ref().ok().map(|(pod, _)| pod.as_str()), &mut client).await?;
    }
    out::note("done");
    Ok(())
}

/// Prints a recovery once it has happened; returns what is still awaited.
async fn report(
    watch: Watch,
    answered_by: Option<&str>,
    client: &mut tether_proto::client::Client,
) -> anyhow::Result<Watch> {
    match watch {
        Watch::Kill { at, pod } if answered_by.is_some_and(|p| p != pod) => {
            out::line(&format!(
                "          recovered from the pod kill: served by {} {:.0} ms after the kill",
                answered_by.unwrap_or_default(),
                at.elapsed().as_secs_f64() * 1000.0
            ))?;
            Ok(Watch::Nothing)
        }
        Watch::Blackhole { at, reconnects }
            if answered_by.is_some() && stats(client).await? > reconnects =>
        {
            out::line(&format!(
                "          recovered from the blackhole: dead tunnel detected and replaced, serving again {:.1} s after it",
                at.elapsed().as_secs_f64()
            ))?;
            Ok(Watch::Nothing)
        }
        other => Ok(other),
    }
}

async fn current(client: &mut tether_proto::client::Client) -> anyhow::Result<pb::ForwardStatus> {
    let fwd = client
        .forwards
        .get_forward(pb::GetForwardRequest { name: "web".into() })
        .await?
        .into_inner();
    fwd.forward.and_then(|f| f.status).context("the daemon returned no status")
}

async fn stats(client: &mut tether_proto::client::Client) -> anyhow::Result<u64> {
    let fwd = client
        .forwards
        .get_forward(pb::GetForwardRequest { name: "web".into() })
        .await?
        .into_inner();
    Ok(fwd.forward.and_then(|f| f.stats).map_or(0, |s| s.reconnects))
}
