//! REST as kubectl uses it: `get pods` tables, `delete pod` with its wait, and the deployment
//! controller replacing the deleted pod under a new name.

use std::time::Duration;

use crate::harness::{Env, Kubectl, modern};

#[test]
fn get_pods_prints_a_table() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let out = kubectl.run(modern(), &["get", "pods"], None);
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
    let out = kubectl.run(modern(), &["get", "pods", "-l", "app=web", "-o", "name"], None);
    assert_eq!(out.stdout_str().lines().count(), 2, "{}", out.stdout_str());
    let out = kubectl.run(modern(), &["get", "svc,deploy,endpoints"], None);
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
