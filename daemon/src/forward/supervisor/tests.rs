//! The registry and the supervisor against a fake cluster and fake tunnels, in virtual time:
//! backoff, final failures, pause, replay on another pod, store failures, probes after a
//! freeze or a wake, the standby dialed on demand, and every way a tunnel dies.

use std::sync::Arc;
use std::time::Duration;

use tether_testsupport::wait::until_async;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::super::events::{Event, EventKind};
use super::super::registry::{Registry, RegistryError};
use super::super::spec::ForwardSpec;
use super::super::state::{Desired, ForwardState, Reason};
use super::super::wake::{Pause, PauseKind};
use super::{Context, Settings};
use crate::cluster::ClusterError;
use crate::cluster::fake::{FakeCluster, FakeFactory, PodBehavior, pod};
use crate::store::{FailingStore, MemoryStore, Store};
use crate::tunnel::{Health, ProbeCause, TunnelEnd};

struct Rig {
    cluster: Arc<FakeCluster>,
    registry: Registry,
    events: broadcast::Receiver<Event>,
    pauses: broadcast::Sender<Pause>,
    cancel: CancellationToken,
}

fn rig_with(pods: Vec<crate::cluster::PodInfo>, store: Arc<dyn Store>) -> Rig {
    let cluster = FakeCluster::new(pods);
    let (events_tx, events) = broadcast::channel(1024);
    let (pauses, _) = broadcast::channel(4);
    let ctx = Context {
        factory: Arc::new(FakeFactory(cluster.clone())),
        events_tx,
        pauses: pauses.clone(),
        settings: Settings { hold: Duration::from_secs(30), ..Settings::default() },
        tracker: TaskTracker::new(),
    };
    let cancel = CancellationToken::new();
    let registry = Registry::new(store, ctx, cancel.clone());
    Rig { cluster, registry, events, pauses, cancel }
}

fn rig(pods: Vec<crate::cluster::PodInfo>) -> Rig {
    rig_with(pods, Arc::new(MemoryStore::new()))
}

fn spec(name: &str) -> ForwardSpec {
    ForwardSpec {
        name: name.into(),
        target: "deploy/fake".parse().expect("target"),
        namespace: None,
        context: None,
        kubeconfig: None,
        ports: vec![":7000".parse().expect("port")],
        address: [127, 0, 0, 1].into(),
    }
}

impl Rig {
    async fn create(&self, name: &str) -> u16 {
        let created = self.registry.create(spec(name)).await.expect("created");
        created.snapshot.local_ports[0]
    }

    /// Waits (virtual time) until the forward's state satisfies `ok`.
    async fn state(&self, name: &str, ok: impl Fn(&ForwardState) -> bool) -> ForwardState {
        until_async(Duration::from_secs(120), "the state came", async || {
            let s = self.registry.get(name).await.expect("exists").status.state;
            if ok(&s) { Ok(s) } else { Err(s) }
        })
        .await
    }

    async fn ready(&self, name: &str) -> String {
        self.state(name, |s| *s == ForwardState::Ready).await;
        self.registry.get(name).await.expect("exists").status.pod.expect("a pod")
    }

    /// The next TunnelDown event's reason.
    async fn tunnel_down(&mut self) -> Reason {
        let wait = async {
            loop {
                if let Ok(Event { kind: EventKind::TunnelDown { reason, .. }, .. }) =
                    self.events.recv().await
                {
                    return reason;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), wait).await.expect("a TunnelDown event")
    }
}

/// Waits until `tunnel` has been probed `count` times.
async fn probed(tunnel: &crate::cluster::fake::FakeTunnel, count: usize) {
    until_async(Duration::from_secs(5), "the tunnel was probed", async || {
        let causes = tunnel.probe_causes();
        if causes.len() >= count { Ok(()) } else { Err(causes) }
    })
    .await;
}

/// One round trip through the local port: what came back.
async fn echo(port: u16, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.write_all(data).await?;
    tcp.shutdown().await?;
    let mut back = Vec::new();
    tcp.read_to_end(&mut back).await?;
    Ok(back)
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_immediately_then_exponentially() {
    let r = rig(vec![pod("a", true)]);
    let refused = || ClusterError::Connection("connection refused".into());
    r.cluster.failures.lock().expect("lock").extend((0..5).map(|_| refused()));
    r.create("fwd").await;
    r.ready("fwd").await;
    let times = r.cluster.dial_times();
    assert_eq!(times.len(), 6, "five failures, then a tunnel");
    let dial = r.cluster.dial_time;
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0] - dial).collect();
    assert_eq!(gaps[0], Duration::ZERO, "the first retry is immediate: {gaps:?}");
    for (gap, base_ms) in gaps[1..].iter().zip([250u64, 500, 1000, 2000]) {
        let base = Duration::from_millis(base_ms);
        assert!(*gap >= base.mul_f64(0.8) && *gap <= base.mul_f64(1.2), "{gaps:?}");
    }
    r.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn forbidden_is_final_with_no_retries() {
    let r = rig(vec![pod("a", true)]);
    r.cluster.failures.lock().expect("lock").push_back(ClusterError::Forbidden("no".into()));
    r.create("fwd").await;
    let state = r.state("fwd", |s| matches!(s, ForwardState::Failed { .. })).await;
    assert!(matches!(state, ForwardState::Failed { reason: Reason::Forbidden(_) }));
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(r.cluster.dial_count(), 1, "no hot loop, no retry");
    // A resume tries again.
    r.registry.set_desired("fwd", Desired::Running).await.expect("resume");
    r.ready("fwd").await;
    r.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_paused_forward_refuses_connections_and_serves_after_resume() {
    let r = rig(vec![pod("a", true)]);
    let port = r.create("fwd").await;
    r.ready("fwd").await;
    r.registry.set_desired("fwd", Desired::Paused).await.expect("pause");
    r.state("fwd", |s| *s == ForwardState::Paused).await;
    let back = echo(port, b"hello").await;
    assert!(back.map_or(true, |b| b.is_empty()), "refused while paused");
    r.registry.set_desired("fwd", Desired::Running).await.expect("resume");
    r.ready("fwd").await;
    assert_eq!(echo(port, b"hello").await.expect("served"), b"hello");
    r.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_connection_refused_by_a_pod_going_away_is_replayed_on_another_pod() {
    let r = rig(vec![pod("a", true)]);
    r.cluster.behavior.lock().expect("lock").insert("a".into(), PodBehavior::Refuse);
    let port = r.create("fwd").await;
    assert_eq!(r.ready("fwd").await, "a");
    let client = tokio::spawn(echo(port, b"undelivered"));
    // Pod a goes away once its port refused the connection; b is Ready.
    let tunnel = r.cluster.tunnel();
    until_async(Duration::from_secs(5), "pod a got the connection", async || {
        let opened = *tunnel.opened.lock().expect("lock");
        if opened > 0 { Ok(()) } else { Err(opened) }
    })
    .await;
    r.cluster.set_pods(vec![pod("b", true)]);
    let back = tokio::time::timeout(Duration::from_secs(60), client).await;
    assert_eq!(back.expect("in time").expect("task").expect("served"), b"undelivered");
    assert_eq!(r.ready("fwd").await, "b");
    r.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_failed_store_write_leaves_the_registry_unchanged() {
    let store = Arc::new(FailingStore::new());
    let r = rig_with(vec![pod("a", true)], store.clone());
    let mut fixed = spec("fwd");
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("a");
    fixed.ports = vec![format!("{}:7000", free.port()).parse().expect("port")];
    store.fail_writes(true);
    let failed = r.registry.create(fixed.clone()).await;
    assert!(matches!(failed, Err(RegistryError::Store(_))), "{failed:?}");
    assert!(r.registry.list().await.is_empty(), "nothing was added");
    assert_eq!(r.cluster.dial_count(), 0, "no supervisor started");
    store.fail_writes(false);
    let created = r.registry.create(fixed).await.expect("the port was released");
    assert_eq!(created.snapshot.local_ports, [free.port()]);
    // A pause whose write fails changes nothing either.
    r.ready("fwd").await;
    store.fail_writes(true);
    assert!(r.registry.set_desired("fwd", Desired::Paused).await.is_err());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(r.registry.get("fwd").await.expect("kept").status.state, ForwardState::Ready);
    r.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_freeze_or_a_wake_probes_the_tunnel_and_an_unanswered_probe_replaces_it() {
    let mut r = rig(vec![pod("a", true)]);
    r.create("fwd").await;
    r.ready("fwd").await;
    let first = r.cluster.tunnel();
    let length = Duration::from_secs(20);
    r.pauses.send(Pause { kind: PauseKind::Freeze, length }).expect("a supervisor listens");
    probed(&first, 1).await;
    assert_eq!(first.probe_causes(), [ProbeCause::Freeze], "answered: the tunnel stays");
    assert_eq!(r.cluster.tunnel_count(), 1);
    *r.cluster.answer_probes.lock().expect("lock") = false;
    r.pauses.send(Pause { kind: PauseKind::Sleep, length }).expect("a supervisor listens");
    probed(&first, 2).await;
    assert_eq!(first.probe_causes(), [ProbeCause::Freeze, ProbeCause::Wake]);
    let waited = Duration::from_secs(1);
    first.kill(TunnelEnd::ProbeUnanswered { cause: ProbeCause::Wake, waited });
    assert!(matches!(r.tunnel_down().await, Reason::Wake(_)));
    r.ready("fwd").await;
    assert!(r.cluster.tunnel_count() >= 2, "a new tunnel");
    r.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_probe_on_demand_dials_a_standby_that_takes_over_unless_the_probe_is_answered() {
    let mut r = rig(vec![pod("a", true)]);
    let port = r.create("fwd").await;
    r.ready("fwd").await;
    let first = r.cluster.tunnel();
    // Answered within the grace: no upgrade at all.
    first.set_health(Health::Probing { cause: ProbeCause::Demand, since: Instant::now() });
    tokio::time::sleep(Duration::from_millis(20)).await;
    first.set_health(Health::Alive);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(r.cluster.dial_count(), 1, "no standby for a tunnel that answered");
    // Unanswered: after the grace a standby is dialed, and it takes over while the first is
    // still in doubt.
    let asked = Instant::now();
    first.set_health(Health::Probing { cause: ProbeCause::Demand, since: asked });
    until_async(Duration::from_secs(5), "a standby was dialed", async || {
        let count = r.cluster.tunnel_count();
        if count >= 2 { Ok(()) } else { Err(count) }
    })
    .await;
    assert!(asked.elapsed() <= Duration::from_millis(600), "grace and dial: {:?}", asked.elapsed());
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(echo(port, b"via the standby").await.expect("served"), b"via the standby");
    let second = r.cluster.tunnel();
    assert_eq!(*second.opened.lock().expect("lock"), 1, "new connections use the standby");
    // The first dies of its probe: that is reported, and nothing else changes.
    let waited = Duration::from_secs(1);
    first.kill(TunnelEnd::ProbeUnanswered { cause: ProbeCause::Demand, waited });
    assert!(matches!(r.tunnel_down().await, Reason::DeadPeer(_)));
    assert_eq!(r.registry.get("fwd").await.expect("fwd").status.state, ForwardState::Ready);
    r.cancel.cancel();
}

/// What a reason must look like.
type Expect = fn(&Reason) -> bool;

#[tokio::test(start_paused = true)]
async fn every_way_a_tunnel_dies_reaches_the_events_with_its_kind() {
    let mut r = rig(vec![pod("a", true)]);
    r.create("fwd").await;
    r.ready("fwd").await;
    let s = Duration::from_secs;
    let cases: [(TunnelEnd, Expect); 8] = [
        (TunnelEnd::ServerClosed, |r| matches!(r, Reason::Connection(_))),
        (TunnelEnd::GoAway, |r| matches!(r, Reason::Connection(_))),
        (TunnelEnd::DeadPeer { silent: s(12) }, |r| matches!(r, Reason::DeadPeer(_))),
        (TunnelEnd::ProbeUnanswered { cause: ProbeCause::Demand, waited: s(1) }, |r| {
            matches!(r, Reason::DeadPeer(_))
        }),
        (TunnelEnd::ProbeUnanswered { cause: ProbeCause::Freeze, waited: s(1) }, |r| {
            matches!(r, Reason::Freeze(_))
        }),
        (TunnelEnd::ProbeUnanswered { cause: ProbeCause::Wake, waited: s(1) }, |r| {
            matches!(r, Reason::Wake(_))
        }),
        (TunnelEnd::Transport("reset".into()), |r| matches!(r, Reason::Connection(_))),
        (TunnelEnd::Protocol("bad frame".into()), |r| matches!(r, Reason::Connection(_))),
    ];
    for (end, expected) in cases {
        let tunnel = r.cluster.tunnel();
        tunnel.kill(end.clone());
        let reason = r.tunnel_down().await;
        assert!(expected(&reason), "{end:?} reached the events as {reason:?}");
        r.ready("fwd").await;
    }
    // A pod that stops being Ready is reported as gone.
    r.cluster.set_pods(vec![pod("a", false), pod("b", true)]);
    assert!(matches!(r.tunnel_down().await, Reason::PodGone(_)));
    assert_eq!(r.ready("fwd").await, "b");
    r.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_named_port_the_pod_lacks_is_said_at_once_and_the_forward_waits() {
    let r = rig(vec![pod("a", true)]);
    let mut named = spec("fwd");
    named.ports = vec![":grpc".parse().expect("port")];
    r.registry.create(named).await.expect("created");
    let started = Instant::now();
    let settled = r.registry.wait_settled("fwd", Duration::from_secs(30)).await.expect("fwd");
    match settled.status.state {
        ForwardState::Reconnecting { reason: Reason::NoSuchPort(text), .. } => {
            assert_eq!(text, "Pod 'a' does not have a named port 'grpc'");
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(1), "at once, not after the wait");
    let mut with_port = pod("c", true);
    with_port.ports.push((Some("grpc".into()), 9000));
    r.cluster.set_pods(vec![with_port]);
    assert_eq!(r.ready("fwd").await, "c");
    r.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_pod_target_keeps_serving_while_its_pod_terminates_until_it_is_gone() {
    let mut r = rig(vec![pod("a", true)]);
    let mut single = spec("one");
    single.target = "pod/a".parse().expect("target");
    let port = r.registry.create(single).await.expect("created").snapshot.local_ports[0];
    assert_eq!(r.ready("one").await, "a");
    // Deleted: terminating through its grace period, and no longer Ready.
    let mut terminating = pod("a", false);
    terminating.terminating = true;
    r.cluster.set_pods(vec![terminating]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(r.registry.get("one").await.expect("one").status.state, ForwardState::Ready);
    assert_eq!(r.cluster.tunnel_count(), 1, "the tunnel was kept");
    assert_eq!(echo(port, b"still here").await.expect("served"), b"still here");
    // The container is gone: now the forward lets go.
    r.cluster.set_pods(vec![]);
    assert!(matches!(r.tunnel_down().await, Reason::PodGone(_)));
    r.cancel.cancel();
}
