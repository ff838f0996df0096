//! One session's task: start the process, keep its output, pass clients' input, and decide what
//! a drop means (attach: re-join; exec: `Lost`, or run again with `--restart on-drop`).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::scrollback::Scrollback;
use super::{Exit, Kind, Phase, Record, Restart, TAIL};
use crate::cluster::{ClusterError, ClusterFactory};
use crate::exec::{Ending, Input, Output, Process, Request};
use crate::forward::events::{Event, EventKind, now_ms};
use crate::forward::state::Backoff;
use crate::store::Store;

/// A live session, shared by its task, the manager and attached clients.
#[derive(Debug)]
pub struct Live {
    record: Mutex<Record>,
    /// Output kept and fanned out.
    pub scrollback: Scrollback,
    /// Clients' input to the process.
    pub input_tx: mpsc::Sender<Input>,
    /// Cancelled to kill the process.
    pub kill: CancellationToken,
    /// Whether the kill should say `exit` first.
    pub graceful: AtomicBool,
    /// Clients attached now.
    pub attached: AtomicU32,
    /// Cancelled when the session's task has finished (at once for a session restored ended).
    pub finished: CancellationToken,
}

impl Live {
    /// A session around `record`, and the receiver of its clients' input.
    #[must_use]
    pub fn new(record: Record) -> (Arc<Self>, mpsc::Receiver<Input>) {
        let (input_tx, input_rx) = mpsc::channel(crate::exec::QUEUE);
        let scrollback = Scrollback::new(record.scrollback);
        if let Ok(tail) = base64::engine::general_purpose::STANDARD.decode(&record.tail) {
            scrollback.seed(tail.into(), record.output_bytes);
        }
        let live = Self {
            record: Mutex::new(record),
            scrollback,
            input_tx,
            kill: CancellationToken::new(),
            graceful: AtomicBool::new(false),
            attached: AtomicU32::new(0),
            finished: CancellationToken::new(),
        };
        (Arc::new(live), input_rx)
    }

    fn lock(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The record now, with the current output tail.
    #[must_use]
    pub fn record(&self) -> Record {
        let mut r = self.lock().clone();
        r.output_bytes = self.scrollback.total();
        r.tail = base64::engine::general_purpose::STANDARD.encode(self.scrollback.tail(TAIL));
        r
    }

    /// The record once it has left `Starting` (running, or failed to start), or as it is
    /// at `deadline`.
    pub async fn settled(&self, deadline: Instant) -> Record {
        let mut updates = self.scrollback.subscribe();
        loop {
            let record = self.summary();
            if record.phase != Phase::Starting {
                return record;
            }
            match tokio::time::timeout_at(deadline, updates.recv()).await {
                Err(_) | Ok(Err(broadcast::error::RecvError::Closed)) => return self.summary(),
                Ok(_) => {}
            }
        }
    }

    /// The record without the tail (cheap, for listing).
    #[must_use]
    pub fn summary(&self) -> Record {
        let mut r = self.lock().clone();
        r.output_bytes = self.scrollback.total();
        r.tail.clear();
        r
    }
}

/// What a session task needs from the daemon.
#[derive(Debug, Clone)]
pub struct Deps {
    /// Reaches clusters.
    pub factory: Arc<dyn ClusterFactory>,
    /// Keeps records.
    pub store: Arc<dyn Store>,
    /// Where session events go.
    pub events_tx: broadcast::Sender<Event>,
}

struct Runner {
    live: Arc<Live>,
    deps: Deps,
    input_rx: mpsc::Receiver<Input>,
}

/// Runs a session until it ends, is killed, or the daemon stops (`cancel`).
pub async fn run(
    live: Arc<Live>,
    deps: Deps,
    input_rx: mpsc::Receiver<Input>,
    cancel: CancellationToken,
) {
    let mut runner = Runner { live, deps, input_rx };
    let phase = runner.live.summary().phase;
    runner.set(phase, |_| {});
    runner.life(&cancel).await;
    runner.persist().await;
    runner.live.finished.cancel();
}

impl Runner {
    fn set(&self, phase: Phase, change: impl FnOnce(&mut Record)) {
        let (id, pod, name, reason) = {
            let mut r = self.live.lock();
            r.phase = phase;
            change(&mut r);
            let reason = match &r.phase {
                Phase::Reconnecting(why) | Phase::Lost(why) => why.clone(),
                Phase::Exited(Exit::Error { message, .. }) => message.clone(),
                _ => String::new(),
            };
            (r.id.clone(), r.pod.clone(), phase_name(&r.phase), reason)
        };
        tracing::info!(session = %id, phase = name, %reason, "session");
        self.live.scrollback.changed();
        let kind = EventKind::Session { id, phase: name.into(), reason, pod };
        let _nobody =
            self.deps.events_tx.send(Event { time_ms: now_ms(), forward: String::new(), kind });
    }

    async fn persist(&self) {
        let (store, record) = (self.deps.store.clone(), self.live.record());
        if let Err(e) = crate::store::blocking("write", move || store.put_session(&record)).await {
            tracing::warn!(error = %e, "failed to save a session");
        }
    }

    async fn life(&mut self, cancel: &CancellationToken) {
        let backoff = Backoff::default();
        let mut attempt = 0u32;
        loop {
            let process = tokio::select! {
                p = self.start() => p,
                () = self.live.kill.cancelled() => return self.set(Phase::Killed, |_| {}),
                () = cancel.cancelled() => return,
            };
            let rejoin = self.kind() == Kind::Attach || self.restarts();
            let why = match process {
                Ok(process) => {
                    attempt = 0;
                    match self.pump(process, cancel).await {
                        None => return,
                        Some(why) => why,
                    }
                }
                // A first start that fails is the user's answer (no such pod or container, a
                // command refused); later, only what retrying cannot fix ends the session.
                Err(e) if !self.ever_ran() || !e.is_retryable() || !rejoin => {
                    return self.set(Phase::Exited(failure(&e)), |_| {});
                }
                Err(e) => e.to_string(),
            };
            if !rejoin {
                return self.set(Phase::Lost(why), |_| {});
            }
            attempt += 1;
            self.set(Phase::Reconnecting(why), |r| r.restarts += 1);
            let delay = backoff.delay(attempt, rand::random());
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.live.kill.cancelled() => return self.set(Phase::Killed, |_| {}),
                () = cancel.cancelled() => return,
            }
        }
    }

    fn kind(&self) -> Kind {
        self.live.lock().kind
    }

    fn restarts(&self) -> bool {
        self.live.lock().restart == Restart::OnDrop
    }

    /// Whether the process ever started (a restored session has too).
    fn ever_ran(&self) -> bool {
        !self.live.lock().pod.is_empty()
    }

    /// Resolves the pod and starts the process.
    async fn start(&self) -> Result<Process, ClusterError> {
        let spec = self.live.summary().spec;
        let started = start(self.deps.factory.as_ref(), &spec).await?;
        let protocol = started.process.protocol;
        self.set(Phase::Running, |r| {
            r.pod = started.pod;
            r.container = started.container;
            r.protocol = protocol.to_owned();
        });
        self.persist().await;
        Ok(started.process)
    }

    /// Moves output and input until the process ends; `Some(reason)` for a drop.
    async fn pump(&mut self, mut process: Process, cancel: &CancellationToken) -> Option<String> {
        let mut saved_at = (Instant::now(), self.live.scrollback.total());
        let mut save = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                out = process.output.recv() => match out {
                    Some(Output::Stdout(b)) => self.live.scrollback.push(false, b),
                    Some(Output::Stderr(b)) => self.live.scrollback.push(true, b),
                    Some(Output::Warning(w)) => self.live.scrollback.push(true, format!("warning: {w}\n").into()),
                    Some(Output::End(Ending::Exited(outcome))) => {
                        self.set(Phase::Exited(Exit::from(&outcome)), |_| {});
                        return None;
                    }
                    Some(Output::End(Ending::Lost(why))) => return Some(why),
                    None => return Some("the connection ended".into()),
                },
                                input = self.input_rx.recv() => if let Some(input) = input {
                    if let Input::Resize(size) = &input {
                        // A re-joined attach or re-run command starts at the latest size.
                        self.live.lock().spec.size = Some((size.width, size.height));
                    }
                    let _ended = process.input.send(input).await;
                },
                () = self.live.kill.cancelled() => {
                    self.kill(process).await;
                    return None;
                }
                _ = save.tick() => {
                    let total = self.live.scrollback.total();
                    if total != saved_at.1 {
                        saved_at = (Instant::now(), total);
                        self.persist().await;
                    }
                }
                () = cancel.cancelled() => return None,
            }
        }
    }

    /// Ends the process: with `graceful` and a TTY, `exit` and Ctrl-D first.
    async fn kill(&self, mut process: Process) {
        let tty = self.live.lock().spec.tty;
        if self.live.graceful.load(Ordering::SeqCst) && tty {
            let _sent = process.input.send(Input::Stdin("exit\r".into())).await;
            let _sent = process.input.send(Input::Stdin(bytes::Bytes::from_static(b"\x04"))).await;
            let scrollback = &self.live.scrollback;
            let ended = tokio::time::timeout(Duration::from_secs(2), async {
                while let Some(out) = process.output.recv().await {
                    match out {
                        Output::Stdout(b) => scrollback.push(false, b),
                        Output::Stderr(b) => scrollback.push(true, b),
                        Output::Warning(_) => {}
                        Output::End(_) => return,
                    }
                }
            });
            let _timed_out = ended.await;
        }
        drop(process);
        self.set(Phase::Killed, |_| {});
    }
}

/// The phase name used in events and tables.
#[must_use]
pub fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::Starting => "Starting",
        Phase::Running => "Running",
        Phase::Reconnecting(_) => "Reconnecting",
        Phase::Exited(_) => "Exited",
        Phase::Lost(_) => "Lost",
        Phase::Killed => "Killed",
    }
}

/// A process started for a spec, and where it runs.
#[derive(Debug)]
pub struct Started {
    /// The process.
    pub process: Process,
    /// The pod it runs in.
    pub pod: String,
    /// The container it runs in.
    pub container: String,
}

/// Resolves `spec`'s target to a pod (as `kubectl exec deploy/web` picks one), chooses the
/// container (the named one, or the pod's default) and starts the process there.
///
/// # Errors
/// When the cluster cannot be reached, the target has no pod, or the server refuses.
pub async fn start(
    factory: &dyn ClusterFactory,
    spec: &super::Spec,
) -> Result<Started, ClusterError> {
    let cluster = factory
        .cluster(spec.kubeconfig.as_deref(), spec.context.as_deref(), spec.namespace.as_deref())
        .await?;
    let pod = cluster.pod_for(&spec.target).await?;
    let container = match &spec.container {
        Some(c) => c.clone(),
        None => pod.default_container().unwrap_or_default().to_owned(),
    };
    let request = Request {
        pod: pod.name.clone(),
        container: container.clone(),
        command: spec.command.clone(),
        stdin: spec.stdin,
        tty: spec.tty,
        size: spec.terminal_size(),
    };
    let process = cluster.remote_command(request).await?;
    Ok(Started { process, pod: pod.name, container })
}

/// How a failure to start ends a session.
#[must_use]
pub fn failure(e: &ClusterError) -> Exit {
    let reason = match e {
        ClusterError::Rejected { reason, .. } => Some(reason.clone()),
        ClusterError::NotFound(_) => Some("NotFound".to_owned()),
        ClusterError::Forbidden(_) => Some("Forbidden".to_owned()),
        ClusterError::Unauthorized(_) => Some("Unauthorized".to_owned()),
        _ => None,
    };
    Exit::Error { reason, message: e.to_string() }
}
