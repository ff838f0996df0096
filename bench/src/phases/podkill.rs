//! A pod kill under load: 4 clients make echo round trips on new connections while the pod in
//! use is deleted; failures are counted until a few seconds after the replacement is Ready.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tether_proto::pb;
use tether_testkit::{Fault, PortForwardErrorOrder};

use crate::args::WayKind;
use crate::conn::Dialer;
use crate::results::PodKill;
use crate::world::World;

const THREADS: usize = 4;
/// Bytes per round trip.
const PAYLOAD: usize = 2048;
/// A failed client waits this long before its next connection, so a dead forwarder's refusals
/// are counted at a bounded rate.
const RETRY: Duration = Duration::from_millis(10);

/// tetherd on `svc/echo`, then kubectl on the same pods.
pub async fn run(w: &mut World) -> anyhow::Result<()> {
    if w.plan.uses(WayKind::Tetherd) {
        eprintln!("bench: pod kill through tetherd ...");
        let port = w.forwards().await?.echo;
        let ready = |s: &pb::ForwardStatus| s.phase() == pb::Phase::Ready && !s.pod.is_empty();
        let (status, _) =
            w.tetherd.wait_status("echo", Duration::from_secs(30), RETRY, ready).await?;
        let mut result = kill_under_load(w, port, &status.pod).await?;
        let now = w.tetherd.status("echo").await?;
        result.note = format!("forward {:?} on {}", now.phase(), now.pod);
        note(w, WayKind::Tetherd, &result);
        w.results.pod_kill.insert(WayKind::Tetherd, result);
        // Again with the error text before the resets, on the pod serving now.
        eprintln!("bench: pod kill through tetherd, error text first ...");
        w.inject(Fault::PortForwardErrors { order: PortForwardErrorOrder::ErrorFirst }).await?;
        let (status, _) =
            w.tetherd.wait_status("echo", Duration::from_secs(30), RETRY, ready).await?;
        let result = kill_under_load(w, port, &status.pod).await;
        w.inject(Fault::PortForwardErrors { order: PortForwardErrorOrder::DataCloseFirst }).await?;
        let mut result = result?;
        result.note = "error text first".to_owned();
        note(w, WayKind::Tetherd, &result);
        w.results.pod_kill_error_first = Some(result);
    }
    if w.plan.uses(WayKind::Kubectl) {
        eprintln!("bench: pod kill through kubectl ...");
        // kubectl resolves svc/echo to one pod at start and keeps it; name that pod outright.
        let pod = crate::cluster::ready_echo_pods(&w.cluster).first().cloned();
        let pod = pod.ok_or_else(|| anyhow::anyhow!("no Ready echo pod"))?;
        let mut pf = w.kubectl.start(&format!("pod/{pod}"), &["7000"]).await?;
        let mut result = kill_under_load(w, pf.ports[0], &pod).await?;
        let exited = tokio::task::spawn_blocking(move || pf.wait_exit(Duration::ZERO)).await?;
        result.note = match exited {
            Some(status) => format!("kubectl exited ({status})"),
            None => "kubectl still running".to_owned(),
        };
        note(w, WayKind::Kubectl, &result);
        w.results.pod_kill.insert(WayKind::Kubectl, result);
    }
    Ok(())
}

fn note(w: &mut World, way: WayKind, r: &PodKill) {
    let first =
        r.first_error.as_deref().map(|e| format!("; first failure: {e}")).unwrap_or_default();
    let text = format!("pod kill via {}: {}{first}", way.title(), r.note);
    w.results.notes.push(text);
}

async fn kill_under_load(w: &mut World, port: u16, pod: &str) -> anyhow::Result<PodKill> {
    let traffic = Traffic::start(port);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed = w.inject(Fault::DeletePod { namespace: "default".into(), name: pod.into() }).await;
    let replaced = match killed {
        Ok(_) => w.wait_echo_pods(pod, Duration::from_secs(30)).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if replaced.is_ok() {
        let settle = if w.plan.quick { 2 } else { 3 };
        tokio::time::sleep(Duration::from_secs(settle)).await;
    }
    let result = tokio::task::spawn_blocking(move || traffic.stop()).await?;
    replaced?;
    anyhow::ensure!(result.ok > 0, "no round trip succeeded: {:?}", result.first_error);
    Ok(result)
}

/// Client threads making round trips until stopped.
#[derive(Debug)]
struct Traffic {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    first_error: Arc<Mutex<Option<String>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Traffic {
    fn start(port: u16) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let first_error = Arc::new(Mutex::new(None));
        let threads = (0..THREADS)
            .map(|t| {
                let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
                let first_error = first_error.clone();
                std::thread::spawn(move || {
                    let dialer = Dialer::local(port);
                    let data: Vec<u8> = (0..PAYLOAD).map(|i| ((i + t) % 251) as u8).collect();
                    let mut back = vec![0u8; PAYLOAD];
                    while !stop.load(Ordering::SeqCst) {
                        let trip = dialer
                            .dial(Duration::from_secs(5))
                            .and_then(|mut c| c.echo(&data, &mut back));
                        match trip {
                            Ok(()) => {
                                ok.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => {
                                failed.fetch_add(1, Ordering::SeqCst);
                                let mut first =
                                    first_error.lock().unwrap_or_else(PoisonError::into_inner);
                                first.get_or_insert_with(|| e.to_string());
                                drop(first);
                                std::thread::sleep(RETRY);
                            }
                        }
                    }
                })
            })
            .collect();
        Self { stop, ok, failed, first_error, threads }
    }

    fn stop(self) -> PodKill {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            let _joined = t.join();
        }
        let first_error = self.first_error.lock().unwrap_or_else(PoisonError::into_inner).clone();
        PodKill {
            ok: self.ok.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
            first_error,
            note: String::new(),
        }
    }
}
