//! SIGKILL at random moments of creates and removes, 60 times over: a forward whose create was
//! answered is never lost, and a forward whose removal was answered never comes back. What was
//! in flight at the kill may land either way.

use std::collections::BTreeSet;
use std::time::Duration;

use tether_proto::pb;

use crate::harness::{connect, socket_in, temp_dir};
use crate::restart::tetherd;

/// How many times the daemon is killed.
const KILLS: usize = 60;

/// A small deterministic generator, so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn spec(name: &str) -> pb::ForwardSpec {
    // No cluster is needed: the forward is stored whatever its kubeconfig says.
    pb::ForwardSpec {
        name: name.into(),
        target: "svc/web".into(),
        namespace: "default".into(),
        kubeconfig: "/nonexistent/kubeconfig".into(),
        ports: vec![":80".into()],
        ..pb::ForwardSpec::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answered_create_or_remove_is_undone_by_a_sigkill() {
    let dir = temp_dir("crash-loop");
    let socket = socket_in(&dir);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    // What the daemon answered: present for sure, absent for sure.
    let (mut present, mut absent) = (BTreeSet::new(), BTreeSet::new());
    let mut next = 0u32;
    for round in 0..KILLS {
        let mut daemon = tetherd(&dir);
        let mut client = connect(&socket).await;
        // Every answered fact holds after the restart.
        let listed: BTreeSet<String> = client
            .all_forwards()
            .await
            .expect("list")
            .into_iter()
            .filter_map(|f| f.spec.map(|s| s.name))
            .collect();
        let lost: Vec<_> = present.difference(&listed).collect();
        assert!(lost.is_empty(), "round {round}: created, answered, then lost: {lost:?}");
        let back: Vec<_> = absent.intersection(&listed).collect();
        assert!(back.is_empty(), "round {round}: removed, answered, then back: {back:?}");
        // In-flight outcomes are whatever the store says now.
        present = listed.clone();
        absent.retain(|n| !listed.contains(n));
        // Creates and removes, as fast as they go, killed after a random moment.
        let kill_after = Duration::from_millis(5 + rng.next() % 120);
        let work = async {
            loop {
                let remove = !present.is_empty() && rng.next().is_multiple_of(3);
                if remove {
                    // In flight, the forward is neither surely there nor surely gone.
                    let name = present.pop_first().unwrap_or_default();
                    let req = pb::DeleteForwardRequest { name: name.clone() };
                    if client.forwards.delete_forward(req).await.is_ok() {
                        absent.insert(name);
                    } else {
                        present.insert(name);
                    }
                } else {
                    next += 1;
                    let name = format!("f{next}");
                    let req = pb::CreateForwardRequest {
                        spec: Some(spec(&name)),
                        ..pb::CreateForwardRequest::default()
                    };
                    if client.forwards.create_forward(req).await.is_ok() {
                        absent.remove(&name);
                        present.insert(name);
                    }
                }
            }
        };
        let _killed_mid_work = tokio::time::timeout(kill_after, work).await;
        daemon.kill().expect("SIGKILL");
        let _reaped = daemon.wait();
    }
    assert!(next > KILLS as u32, "work was done between the kills: {next} creates");
}
