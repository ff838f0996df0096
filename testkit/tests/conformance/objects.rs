//! REST as kubectl uses it: `get pods` tables, `delete pod` with its wait, and the deployment
//! controller replacing the deleted pod under a new name.

use std::time::Duration;

use tether_testsupport::until;

use crate::harness::{Env, Kubectl, PortForward, modern};

#[test]
fn get_pods_prints_a_table() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = modern();
    let out = kubectl.run(&env, &["get", "pods"], None);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let text = out.stdout_str();
    let header: Vec<&str> = text.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("toolbox ") && l.contains("1/1") && l.contains("Running")),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("web-")).count(), 2, "{text}");
    let out = kubectl.run(&env, &["get", "pods", "-l", "app=web", "-o", "name"], None);
    assert_eq!(out.stdout_str().lines().count(), 2, "{}", out.stdout_str());
    let out = kubectl.run(&env, &["get", "svc,deploy,endpoints"], None);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    for name in ["service/web", "deployment.apps/web", "endpoints/web"] {
        assert!(out.stdout_str().contains(name), "{name} missing: {}", out.stdout_str());
    }
}

#[test]
fn deleted_pod_is_replaced_by_its_deployment() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|c| c.recreate_delay = Duration::from_millis(300));
    let before = env.web_pods();
    let victim = before[0].clone();
    let out = kubectl.run(&env, &["delete", "pod", &victim], None);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout_str().trim(), format!("pod \"{victim}\" deleted"));
    let out = kubectl.run(&env, &["get", "pod", &victim], None);
    assert_eq!(out.code(), 1, "kubectl delete waits until the pod is gone");
    assert!(out.stderr.contains("NotFound") || out.stderr.contains("not found"), "{}", out.stderr);
    let after = env.wait_web(2);
    assert!(!after.contains(&victim), "{after:?}");
    assert!(after.iter().all(|p| p.starts_with("web-")), "{after:?}");
    let prefix = |p: &str| p.rsplit_once('-').map(|(a, _)| a.to_owned());
    assert_eq!(prefix(&after[0]), prefix(&victim), "same pod-template-hash");
}

#[test]
fn client_certificate_kubeconfig_is_accepted() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|c| c.auth = tether_testkit::AuthMode::ClientCert);
    let text = std::fs::read_to_string(&env.kubeconfig).expect("kubeconfig");
    assert!(text.contains("client-certificate-data") && !text.contains("token"), "{text}");
    let out = kubectl.run(&env, &["get", "pods", "-o", "name"], None);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout_str().contains("pod/toolbox"));
}

/// A fixture with a statefulset and pods running every built-in workload.
const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - name: echo
          command: ["tether-testkit", "workload", "echo"]
          ports: [{name: pg, containerPort: 5432}]
---
apiVersion: v1
kind: Pod
metadata: {name: data, namespace: default, labels: {app: data}}
spec:
  containers:
    - name: sink
      command: ["tether-testkit", "workload", "sink", "--port", "$(PORT_9000)"]
      ports: [{containerPort: 9000}]
    - name: source
      command: ["tether-testkit", "workload", "source", "--port", "$(PORT_9001)", "--bytes", "1000000"]
      ports: [{containerPort: 9001}]
"#;

#[test]
fn statefulsets_and_every_workload_through_port_forward() {
    use std::io::{Read as _, Write as _};
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|c| {
        let mut fixture = tether_testkit::fixture::Fixture::default_cluster();
        fixture
            .objects
            .extend(tether_testkit::fixture::Fixture::parse(WORKLOADS).expect("fixture").objects);
        c.fixture = fixture;
    });
    let ready = env.runtime.block_on(env.cluster.wait_ready(
        "app in (db,data)",
        2,
        Duration::from_secs(30),
    ));
    assert_eq!(
        ready.map(|mut r| {
            r.sort();
            r
        }),
        Some(vec!["data".to_owned(), "db-0".to_owned()])
    );
    let (_, sum) = crate::harness::random_file(env.cluster.cluster().state_dir(), "blob", 500_000);
    let blob = std::fs::read(env.cluster.cluster().state_dir().join("blob")).expect("blob");

    let connect = |port: u16| {
        let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        tcp
    };
    let echo = PortForward::start(&kubectl, &env, "sts/db", "pg");
    let mut tcp = connect(echo.local_port);
    let writer = {
        let mut t = tcp.try_clone().expect("clone");
        let b = blob.clone();
        std::thread::spawn(move || {
            t.write_all(&b).expect("write");
            t.shutdown(std::net::Shutdown::Write).expect("half-close");
        })
    };
    let mut back = Vec::new();
    tcp.read_to_end(&mut back).expect("echo");
    writer.join().expect("writer");
    assert!(back == blob, "echo through sts/db returned {} of {} bytes", back.len(), blob.len());

    let sink = PortForward::start(&kubectl, &env, "pod/data", "9000");
    let mut tcp = connect(sink.local_port);
    tcp.write_all(&blob).expect("write");
    tcp.shutdown(std::net::Shutdown::Write).expect("half-close");
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).expect("sink answer");
    assert_eq!(answer, format!("{} {sum}\n", blob.len()));

    let source = PortForward::start(&kubectl, &env, "pod/data", "9001");
    let mut got = Vec::new();
    connect(source.local_port).read_to_end(&mut got).expect("source");
    assert_eq!(got.len(), 1_000_000);
    assert!(
        got.iter().enumerate().all(|(i, b)| *b == tether_testkit::workload::pattern_byte(i as u64)),
        "pattern"
    );
}

#[test]
fn watch_resumes_from_a_resource_version_and_sees_deletion() {
    let env = Env::start(|c| c.recreate_delay = Duration::from_secs(60));
    let client =
        tether_testkit::cli::ControlClient::from_kubeconfig(&env.kubeconfig).expect("client");
    let victim = env.web_pods()[0].clone();
    let (status, list) = env
        .runtime
        .block_on(client.request(
            http::Method::GET,
            "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb",
            None,
        ))
        .expect("list");
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_slice(&list).expect("json");
    assert_eq!(list["kind"], "PodList");
    let rv = list["metadata"]["resourceVersion"].as_str().expect("rv").to_owned();
    let path = format!(
        "/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dweb&resourceVersion={rv}&timeoutSeconds=4"
    );
    let watch = env.runtime.spawn({
        let (client, path) = (client.clone(), path.clone());
        async move { client.request(http::Method::GET, &path, None).await }
    });
    // The deletion comes once the server has the watch (from the resource version on, it would
    // also be replayed: either way the watch must see it).
    until(Duration::from_secs(20), "the server receives the watch", || {
        let requests = env.cluster.cluster().requests();
        if requests.iter().any(|r| r.target == path) { Ok(()) } else { Err(requests.len()) }
    });
    env.inject(tether_testkit::Fault::DeletePod {
        namespace: "default".into(),
        name: victim.clone(),
    });
    let (status, body) = env.runtime.block_on(watch).expect("task").expect("watch");
    assert_eq!(status, 200);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&body)
        .lines()
        .map(|l| serde_json::from_str(l).expect("event JSON"))
        .collect();
    // Resumed at the current version, with nothing newer to replay: still only pods (the web
    // Deployment and Endpoints carry the same label, and kube-rs fails on any other kind).
    let kinds: Vec<&str> =
        lines.iter().map(|v| v["object"]["kind"].as_str().unwrap_or("")).collect();
    assert!(kinds.iter().all(|k| *k == "Pod"), "a pods watch delivered {kinds:?}");
    let events: Vec<(String, String)> = lines
        .iter()
        .map(|v| {
            (
                v["type"].as_str().unwrap_or_default().to_owned(),
                v["object"]["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(events.contains(&("MODIFIED".into(), victim.clone())), "terminating: {events:?}");
    assert_eq!(events.last(), Some(&("DELETED".into(), victim)), "{events:?}");
}

#[test]
fn pods_created_through_the_api_run() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = &modern();
    let manifest = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"created","labels":{"app":"created"}},
        "spec":{"containers":[{"name":"c","command":["sh","-c","echo started > marker; exec sleep 600"]}]}}"#;
    let out = kubectl.run(env, &["create", "--validate=false", "-f", "-"], Some(manifest));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout_str().trim(), "pod/created created");
    assert!(
        env.runtime
            .block_on(env.cluster.wait_ready("app=created", 1, Duration::from_secs(20)))
            .is_some()
    );
    let out = kubectl.run(env, &["exec", "created", "--", "cat", "marker"], None);
    assert_eq!(
        out.stdout_str(),
        "started\n",
        "exec runs in the pod's working folder: {}",
        out.stderr
    );
    let out = kubectl.run(env, &["create", "--validate=false", "-f", "-"], Some(manifest));
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr.contains("AlreadyExists") || out.stderr.contains("already exists"),
        "{}",
        out.stderr
    );
}
