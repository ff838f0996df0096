//! Faults, observed the way clients see them: kubectl losing a forward on a clean close or a
//! reset, a blackholed tunnel that stops answering while new connections work, latency and
//! bandwidth on the wire, refused upgrades, expired tokens, and pod churn. Each test has its
//! own cluster, since faults touch every connection.

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use tether_testkit::{AuthMode, Fault};
use tether_testsupport::{until, wait_output};

use crate::harness::{Env, Kubectl, PortForward, concurrent_gets, http_get};

fn lost_connection(fault: Fault) {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|_| {});
    let mut pf = PortForward::start(&kubectl, &env, "svc/web", "80");
    assert_eq!(concurrent_gets(pf.local_port, 3).len(), 3);
    assert!(env.inject(fault.clone()) >= 1, "the tunnel is a streaming connection");
    // kubectl notices on its next connection at the latest.
    let _maybe = http_get(pf.local_port, "/");
    let status = pf.wait_exit(Duration::from_secs(20)).expect("kubectl gives up");
    assert_eq!(status.code(), Some(1), "{fault:?}: {}", pf.log());
    assert!(pf.log().contains("lost connection to pod"), "{fault:?}: {}", pf.log());
}

#[test]
fn close_streams_ends_kubectl_port_forward() {
    lost_connection(Fault::CloseStreams);
}

#[test]
fn reset_streams_ends_kubectl_port_forward() {
    lost_connection(Fault::ResetStreams);
}

#[test]
fn blackhole_stops_existing_tunnels_but_not_new_connections() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|_| {});
    let pf = PortForward::start(&kubectl, &env, "svc/web", "80");
    assert_eq!(concurrent_gets(pf.local_port, 2).len(), 2);
    assert_eq!(env.inject(Fault::Blackhole), 1);
    let mut tcp =
        std::net::TcpStream::connect(("127.0.0.1", pf.local_port)).expect("kubectl still accepts");
    tcp.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
    tcp.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("write");
    let mut buf = [0u8; 64];
    let read = tcp.read(&mut buf);
    assert!(read.is_err(), "a blackholed tunnel must not answer, got {read:?}");
    let out = kubectl.run(&env, &["exec", "toolbox", "--", "echo", "fresh"], None);
    assert_eq!(out.stdout_str(), "fresh\n", "new connections are not blackholed: {}", out.stderr);
}

#[test]
fn latency_and_bandwidth_shape_the_wire() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|_| {});
    env.inject(Fault::Latency { millis: 400 });
    let started = Instant::now();
    let out = kubectl.run(&env, &["exec", "toolbox", "--", "true"], None);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    // At least the REST round trips and the upgrade each wait the added latency.
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "latency not applied: {:?}",
        started.elapsed()
    );
    env.inject(Fault::Clear);
    env.inject(Fault::Bandwidth { bytes_per_sec: 256 * 1024 });
    let started = Instant::now();
    let out =
        kubectl.run(&env, &["exec", "toolbox", "--", "head", "-c", "1000000", "/dev/zero"], None);
    assert_eq!(out.stdout.len(), 1_000_000, "{}", out.stderr);
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "bandwidth not limited: {:?}",
        started.elapsed()
    );
}

#[test]
fn rejected_upgrades_fail_both_protocols_until_cleared() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|_| {});
    env.inject(Fault::RejectUpgrades { status: 403 });
    let asked = env.cluster.cluster().upgrade_requests();
    let out = kubectl.run(&env, &["exec", "toolbox", "--", "true"], None);
    assert_eq!(out.code(), 1);
    // The API server's RBAC answer, as a real one words it.
    assert!(
        out.stderr.contains("Forbidden")
            && out.stderr.contains("cannot create resource \"pods/exec\""),
        "{}",
        out.stderr
    );
    assert_eq!(
        env.cluster.cluster().upgrade_requests() - asked,
        2,
        "kubectl asked over WebSocket, then over SPDY"
    );
    env.inject(Fault::RejectUpgrades { status: 0 });
    let out = kubectl.run(&env, &["exec", "toolbox", "--", "echo", "ok"], None);
    assert_eq!(out.stdout_str(), "ok\n", "{}", out.stderr);
}

#[test]
fn expired_tokens_get_401_until_the_new_one_is_presented() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|c| c.auth = AuthMode::Exec);
    let static_kc = env.cluster.cluster().state_dir().join("static-kubeconfig");
    let text = std::fs::read_to_string(&env.kubeconfig).expect("kubeconfig");
    let mut kc: serde_json::Value = serde_yaml::from_str(&text).expect("yaml");
    kc["users"][0]["user"] = serde_json::json!({"token": env.cluster.cluster().current_token()});
    std::fs::write(&static_kc, serde_yaml::to_string(&kc).expect("yaml")).expect("write");
    let static_env = || {
        let mut cmd = kubectl.command(&env, &["get", "pods", "-o", "name"]);
        cmd.env("KUBECONFIG", &static_kc)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        wait_output(cmd.spawn().expect("spawn"), Duration::from_secs(60), "get pods")
    };
    assert_eq!(static_env().code(), 0);
    env.inject(Fault::ExpireTokens);
    let out = static_env();
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr.contains("Unauthorized") || out.stderr.contains("credentials"),
        "{}",
        out.stderr
    );
    let out = kubectl.run(&env, &["get", "pods", "-o", "name"], None);
    assert_eq!(out.code(), 0, "the exec plugin presents the new token: {}", out.stderr);
}

#[test]
fn pod_faults_delete_recreate_and_readiness() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|c| c.recreate_delay = Duration::from_secs(60));
    let uid = |name: &str| {
        let out = kubectl.run(&env, &["get", "pod", name, "-o", "jsonpath={.metadata.uid}"], None);
        out.stdout_str()
    };
    let before = uid("toolbox");
    env.inject(Fault::RecreatePod { namespace: "default".into(), name: "toolbox".into() });
    let after = uid("toolbox");
    assert!(!after.is_empty() && after != before, "same name, new pod: {before} -> {after}");

    let web = env.web_pods();
    env.inject(Fault::SetReady { namespace: "default".into(), name: web[0].clone(), ready: false });
    let out = kubectl.run(&env, &["get", "pod", &web[0]], None);
    assert!(out.stdout_str().contains("0/1"), "{}", out.stdout_str());
    let out = kubectl.run(
        &env,
        &[
            "get",
            "endpoints",
            "web",
            "-o",
            "jsonpath={.subsets[0].notReadyAddresses[0].targetRef.name}",
        ],
        None,
    );
    assert_eq!(out.stdout_str(), web[0]);

    // From the shell, through the control endpoint: every web pod goes, none comes back yet.
    let kc = env.kubeconfig.to_str().expect("utf8").to_owned();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tether-testkit"))
        .args(["fault", "--kubeconfig", &kc, "delete-pods", "app=web"])
        .output()
        .expect("fault command runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "affected=2");
    until(Duration::from_secs(20), "the web pods are deleted", || {
        let left = env.cluster.cluster().pods("default", "app=web");
        if left.is_empty() { Ok(()) } else { Err(left.len()) }
    });
    env.inject(Fault::RecreateDelay { millis: 100 });
    assert_eq!(env.wait_web(2).len(), 2, "the controller brings them back");
}
