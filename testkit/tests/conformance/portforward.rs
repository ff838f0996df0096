//! `kubectl port-forward` to `pod/`, `svc/web` and `deploy/web`, each carrying 50 concurrent
//! HTTP requests, over the WebSocket tunnel, over SPDY, and through the old-cluster fallback.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tether_testkit::PortForwardErrorOrder;

use crate::harness::{Env, Kubectl, PortForward, concurrent_gets, modern, old};

/// The port-forward cases, for one kubectl against one cluster.
pub fn pf_cases(kubectl: &Kubectl, env: &Env) {
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
    pf_cases(&kubectl, &modern());
}

#[test]
fn spdy_when_websockets_are_disabled() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    pf_cases(&kubectl.with_env("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false"), &modern());
}

#[test]
fn old_cluster_forces_the_spdy_fallback() {
    // The gcloud dispatcher would run kubectl 1.29 against a 1.29 server; run 1.32 directly.
    let Some(kubectl) = Kubectl::version("1.32") else { return };
    let env = old();
    pf_cases(&kubectl, &env);
    let pf = PortForward::start_with(&kubectl, &env, &["-v=4", "port-forward", "svc/web", ":80"]);
    assert_eq!(concurrent_gets(pf.local_port, 1).len(), 1);
    assert!(
        pf.log().contains("fallback to secondary dialer"),
        "kubectl must have fallen back: {}",
        pf.log()
    );
}

/// A refused port under both stream orders: kubectl gives the local connection an empty reply
/// and prints the kubelet's error, which shows it reads the text that follows a data stream's
/// close (the kubelet-with-containerd order) as well as the text before the resets.
#[test]
fn a_refused_port_reports_the_kubelets_error_in_either_order() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    for order in [PortForwardErrorOrder::DataCloseFirst, PortForwardErrorOrder::ErrorFirst] {
        let env = Env::start(|c| c.portforward_error_order = order);
        let pod = format!("pod/{}", env.web_pods()[0]);
        // Nothing listens on port 9 in the pod.
        let mut pf = PortForward::start(&kubectl, &env, &pod, "9");
        let mut conn = TcpStream::connect(("127.0.0.1", pf.local_port)).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let _sent = conn.write_all(b"GET / HTTP/1.0\r\n\r\n");
        let mut reply = Vec::new();
        // EOF or a reset: either way no byte came from the pod.
        let _ended = conn.read_to_end(&mut reply);
        assert!(reply.is_empty(), "{order:?}: {reply:?}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !pf.log().contains("connection refused") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = pf.log();
        assert!(
            log.contains("error forwarding port 9") && log.contains("connection refused"),
            "{order:?}: kubectl printed the kubelet's error: {log}"
        );
        let _ended = pf.wait_exit(Duration::from_secs(5));
    }
}
