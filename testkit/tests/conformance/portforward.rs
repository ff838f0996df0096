//! `kubectl port-forward` to `pod/`, `svc/web` and `deploy/web`, each carrying 50 concurrent
//! HTTP requests, over the WebSocket tunnel, over SPDY, and through the old-cluster fallback;
//! each asserting the protocol the cluster saw negotiated.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use tether_testkit::{Fault, PortForwardErrorOrder};
use tether_testsupport::until;

use crate::harness::{Env, Kubectl, PortForward, SPDY_PF, concurrent_gets};

/// The port-forward cases, for one kubectl against one private cluster: one tunnel for each of
/// three targets, over the protocol that kubectl must negotiate there.
pub fn pf_cases(kubectl: &Kubectl, env: &Env) {
    env.expect_upgrades(kubectl.port_forward_protocol(env), 3, || pf_steps(kubectl, env));
}

fn pf_steps(kubectl: &Kubectl, env: &Env) {
    let pods = env.web_pods();
    let pod = format!("pod/{}", pods[0]);
    for (target, remote) in [(pod.as_str(), "8080"), ("svc/web", "80"), ("deploy/web", "http")] {
        let pf = PortForward::start(kubectl, env, target, remote);
        let bodies = concurrent_gets(pf.local_port, 50);
        assert_eq!(bodies.len(), 50);
        assert!(
            bodies.iter().all(|b| pods.contains(b)),
            "{target}: answers must name a web pod: {bodies:?}"
        );
        if target.starts_with("pod/") {
            assert!(bodies.iter().all(|b| *b == pods[0]), "pod/ reaches that very pod");
        }
        assert!(pf.log().contains("-> 8080"), "{target} maps to container port 8080: {}", pf.log());
    }
}

#[test]
fn websocket_tunnel() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    pf_cases(&kubectl, &Env::start(|_| {}));
}

#[test]
fn spdy_when_websockets_are_disabled() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    pf_cases(&kubectl.with_env("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false"), &Env::start(|_| {}));
}

#[test]
fn old_cluster_forces_the_spdy_fallback() {
    // The gcloud dispatcher would run kubectl 1.29 against a 1.29 server; run 1.32 directly.
    let Some(kubectl) = Kubectl::version(32) else { return };
    let env = Env::start(|c| c.old_cluster = true);
    pf_cases(&kubectl, &env);
    let pf = env.expect_upgrades(SPDY_PF, 1, || {
        let pf =
            PortForward::start_with(&kubectl, &env, &["-v=4", "port-forward", "svc/web", ":80"]);
        assert_eq!(concurrent_gets(pf.local_port, 1).len(), 1);
        pf
    });
    assert!(
        pf.log().contains("fallback to secondary dialer"),
        "kubectl must have fallen back: {}",
        pf.log()
    );
}

/// A refused port under both stream orders, on one cluster: kubectl gives the local connection
/// an empty reply, prints the kubelet's error and exits, which shows it reads the text that
/// follows a data stream's close (the kubelet-with-containerd order) as well as the text before
/// the resets.
#[test]
fn a_refused_port_reports_the_kubelets_error_in_either_order() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|_| {});
    let pod = format!("pod/{}", env.web_pods()[0]);
    for order in [PortForwardErrorOrder::DataCloseFirst, PortForwardErrorOrder::ErrorFirst] {
        env.inject(Fault::PortForwardErrors { order });
        env.expect_upgrades(kubectl.port_forward_protocol(&env), 1, || {
            // Nothing listens on port 9 in the pod.
            let mut pf = PortForward::start(&kubectl, &env, &pod, "9");
            let mut conn = TcpStream::connect(("127.0.0.1", pf.local_port)).expect("connect");
            conn.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
            let _sent = conn.write_all(b"GET / HTTP/1.0\r\n\r\n");
            let mut reply = Vec::new();
            // EOF or a reset: either way no byte came from the pod.
            let _ended = conn.read_to_end(&mut reply);
            assert!(reply.is_empty(), "{order:?}: {reply:?}");
            let what = format!("{order:?}: kubectl prints the kubelet's error");
            until(Duration::from_secs(20), &what, || {
                let log = pf.log();
                let printed =
                    log.contains("error forwarding port 9") && log.contains("connection refused");
                if printed { Ok(()) } else { Err(log) }
            });
            // kubectl ends the port-forward: "error: lost connection to pod".
            let ended = pf.wait_exit(Duration::from_secs(5));
            assert!(ended.is_some(), "{order:?}: kubectl exits after the refusal: {}", pf.log());
        });
    }
}
