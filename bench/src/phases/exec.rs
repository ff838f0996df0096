//! Exec through `tether exec` (the CLI and the warm daemon behind it) against `kubectl exec`:
//! stdout throughput of `cat` of a large file, and the time from starting the command to its
//! exit for `-- true`, which is what a user waits for before the first output.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::args::WayKind;
use crate::measure::stats::Summary;
use crate::proc::{children_cpu_seconds, tree_cpu_seconds};
use crate::results::ExecPerf;
use crate::world::World;

/// Runs not counted, per way, before the `-- true` samples.
const WARMUP: usize = 2;
/// The longest one exec may take before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(120);

/// How to run one way's exec: the program and its environment.
struct Runner {
    way: WayKind,
    bin: PathBuf,
    env: Vec<(&'static str, String)>,
    /// A forwarding process whose CPU counts too (tetherd behind the CLI).
    daemon: Option<i32>,
}

/// tetherd and kubectl, as the plan asks; a payload file of the plan's size in the temp folder.
pub async fn run(w: &mut World) -> anyhow::Result<()> {
    let pod = crate::cluster::ready_echo_pods(&w.cluster).into_iter().next();
    let pod = pod.context("no Ready echo pod to exec in")?;
    let payload = w.dir.path().join("exec-payload");
    let bytes = w.plan.bytes;
    let file = payload.clone();
    tokio::task::spawn_blocking(move || write_payload(&file, bytes)).await??;
    let mut runners = Vec::new();
    if w.plan.uses(WayKind::Tetherd) {
        let env = vec![
            (tether_proto::paths::ENV_SOCKET, w.tetherd.socket().display().to_string()),
            ("KUBECONFIG", w.kubectl.kubeconfig.display().to_string()),
        ];
        let bin = crate::world::sibling("tether")?;
        runners.push(Runner { way: WayKind::Tetherd, bin, env, daemon: Some(w.tetherd.pid()) });
    }
    if w.plan.uses(WayKind::Kubectl) {
        let env = vec![
            ("KUBECONFIG", w.kubectl.kubeconfig.display().to_string()),
            ("KUBECACHEDIR", w.kubectl.cache.display().to_string()),
        ];
        runners.push(Runner {
            way: WayKind::Kubectl,
            bin: w.plan.kubectl.clone(),
            env,
            daemon: None,
        });
    }
    let (repeats, samples) = if w.plan.quick { (1, 10) } else { (3, 40) };
    let found = tokio::task::spawn_blocking(move || {
        measure(&runners, &pod, &payload, bytes, repeats, samples)
    })
    .await?;
    w.results.exec = found;
    Ok(())
}

fn measure(
    runners: &[Runner],
    pod: &str,
    payload: &Path,
    bytes: u64,
    repeats: usize,
    samples: usize,
) -> std::collections::BTreeMap<WayKind, ExecPerf> {
    let mut out = std::collections::BTreeMap::new();
    let cat = ["exec", pod, "--", "cat", &payload.display().to_string()].map(str::to_owned);
    let yes = ["exec", pod, "--", "true"].map(str::to_owned);
    for r in runners {
        eprintln!("bench: exec cat through {} ...", r.way.title());
        let perf: &mut ExecPerf = out.entry(r.way).or_default();
        for _ in 0..repeats {
            match r.run(&cat) {
                Ok(run) if run.stdout == bytes => {
                    let mbps = bytes as f64 / run.wall.as_secs_f64() / 1e6;
                    if perf.mbps.is_none_or(|best| mbps > best) {
                        perf.mbps = Some(mbps);
                        perf.cpu_per_gb = Some(run.cpu / (bytes as f64 / 1e9));
                    }
                }
                Ok(run) => perf.fail(format!("cat gave {} of {bytes} bytes", run.stdout)),
                Err(e) => perf.fail(format!("{e:#}")),
            }
        }
    }
    // Alternate the ways so that neither sees a warmer or colder machine.
    eprintln!("bench: exec -- true, {samples} times each ...");
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); runners.len()];
    for i in 0..WARMUP + samples {
        for (r, t) in runners.iter().zip(&mut times) {
            match r.run(&yes) {
                Ok(run) if i >= WARMUP => t.push(run.wall),
                Ok(_) => {}
                Err(e) => out.entry(r.way).or_default().fail(format!("{e:#}")),
            }
        }
    }
    for (r, t) in runners.iter().zip(times) {
        out.entry(r.way).or_default().start = Summary::of(&t);
    }
    out
}

/// What one exec did.
struct Run {
    wall: Duration,
    stdout: u64,
    /// CPU seconds of the client, and of the daemon behind it.
    cpu: f64,
}

impl Runner {
    /// Runs `BIN ARGS`, reading (and counting) its stdout as a terminal-less user's pipe would.
    fn run(&self, args: &[String]) -> anyhow::Result<Run> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let daemon_before = self.daemon.map(tree_cpu_seconds).transpose()?;
        let children_before = children_cpu_seconds();
        let start = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("failed to start {:?}", self.bin))?;
        let mut stdout = child.stdout.take().context("no stdout pipe")?;
        let mut stderr = child.stderr.take().context("no stderr pipe")?;
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _read = stderr.read_to_string(&mut text);
            text
        });
        let watchdog = watchdog(child.id());
        let mut buf = vec![0u8; 1 << 16];
        let mut count = 0u64;
        loop {
            let n = stdout.read(&mut buf).context("failed to read the exec's stdout")?;
            if n == 0 {
                break;
            }
            count += n as u64;
        }
        let status = child.wait().context("failed to wait for the exec")?;
        drop(watchdog);
        let wall = start.elapsed();
        let stderr = errors.join().unwrap_or_default();
        anyhow::ensure!(
            status.success(),
            "{} exec failed ({status}): {}",
            self.way.title(),
            stderr.trim()
        );
        let mut cpu = children_cpu_seconds() - children_before;
        if let (Some(pid), Some(before)) = (self.daemon, daemon_before) {
            cpu += tree_cpu_seconds(pid)? - before;
        }
        Ok(Run { wall, stdout: count, cpu })
    }
}

/// Kills `pid` unless the returned sender is dropped within [`TIMEOUT`].
fn watchdog(pid: u32) -> std::sync::mpsc::Sender<()> {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if wait.recv_timeout(TIMEOUT) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
            let _killed = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    });
    done
}

/// Writes `bytes` of incompressible-looking data (a xorshift stream) to `path`.
fn write_payload(path: &Path, bytes: u64) -> anyhow::Result<()> {
    use std::io::Write as _;
    let file = std::fs::File::create(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut left = bytes;
    while left > 0 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let word = x.to_le_bytes();
        let n = usize::try_from(left.min(8)).unwrap_or(8);
        out.write_all(&word[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    Ok(())
}
