//! Kubeconfigs that cannot work: a path that is not a regular file (`/dev/zero` used to take
//! the daemon to 23 GB, a FIFO blocked a runtime thread for good), and a credential plugin that
//! is not on the daemon's PATH. Each fails its own forward with a reason, at once, and nothing
//! else: the daemon goes on answering and serving.

use std::time::Duration;

use tether_proto::pb;

use crate::harness::{Options, World, http_get, temp_dir};

/// How long a failure may take to show: well under the 10 s read timeout.
const AT_ONCE: Duration = Duration::from_secs(5);

async fn failed_with(w: &mut World, name: &str, kubeconfig: &str) -> pb::ForwardStatus {
    let mut spec = w.spec(name, "svc/web", &[":80"]);
    spec.kubeconfig = kubeconfig.into();
    let req = pb::CreateForwardRequest { spec: Some(spec), ..Default::default() };
    w.client.forwards.create_forward(req).await.expect("accepted: the path is checked on use");
    w.wait_phase(name, AT_ONCE, |s| s.phase() == pb::Phase::Failed).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubeconfig_that_is_not_a_regular_file_fails_its_forward_and_nothing_else() {
    let mut w = World::start("kubeconfig-files", Options::default()).await;
    let port = w.forward("good", "svc/web", &[":80"]).await;
    let dir = temp_dir("fifo");
    let fifo = dir.join("kubeconfig");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let fifo = fifo.display().to_string();
    for (name, path) in [("zero", "/dev/zero"), ("fifo", fifo.as_str()), ("folder", "/tmp")] {
        let status = failed_with(&mut w, name, path).await;
        assert!(status.reason.contains("is not a regular file"), "{name}: {status:?}");
        assert_eq!(status.reason_kind(), pb::ReasonKind::Other, "{name}");
    }
    // The daemon answers and the good forward serves.
    assert_eq!(w.client.all_forwards().await.expect("list").len(), 4);
    let body = tokio::task::spawn_blocking(move || http_get(port)).await.expect("task");
    assert!(body.expect("served").starts_with("web-"));
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_plugin_not_on_the_path_is_named_with_the_path_and_the_fix() {
    let mut w = World::start("plugin", Options::default()).await;
    // The cluster's kubeconfig, whose user now runs a plugin nobody installed.
    let text = std::fs::read_to_string(w.cluster.kubeconfig()).expect("kubeconfig");
    let mut config: serde_json::Value = serde_yaml::from_str(&text).expect("yaml");
    config["users"][0]["user"] = serde_json::json!({"exec": {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": "gke-gcloud-auth-plugin-missing",
        "interactiveMode": "Never",
    }});
    let dir = temp_dir("plugin-kubeconfig");
    let path = dir.join("kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&config).expect("yaml")).expect("write");
    let status = failed_with(&mut w, "plugin", &path.display().to_string()).await;
    let reason = &status.reason;
    assert!(reason.contains("`gke-gcloud-auth-plugin-missing` did not start"), "{reason}");
    assert!(reason.contains("tetherd's PATH is"), "{reason}");
    assert!(reason.contains("tether daemon install"), "{reason}");
    w.shutdown().await;
}
