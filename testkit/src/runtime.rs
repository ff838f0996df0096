//! The node: pods as real local processes, their status in the store, exec, attach and ports.
//!
//! Each pod gets a working folder, a fake pod IP and, per declared container port, a free
//! loopback port its workload binds. A readiness probe connects to those ports; the not-ready
//! fault overrides it. Deleting a pod marks it terminating, sends SIGTERM to its process groups,
//! SIGKILL after the grace period, and then removes the object.

mod container;
mod process;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

pub(crate) use container::{Container, ContainerSpec};
pub(crate) use process::{
    Input, Output, ProcessSpec, SpawnError, Spawned, exit_code, signal_group,
};

use crate::cluster::Cluster;
use crate::store::{Resource, StoreError, now_rfc3339};

/// A pod's processes and runtime facts.
#[derive(Debug)]
pub(crate) struct Pod {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub ip: String,
    pub dir: PathBuf,
    pub containers: Vec<Arc<Container>>,
    pub stop: CancellationToken,
    pub not_ready: AtomicBool,
    probe_ok: AtomicBool,
    tasks: TaskTracker,
}

impl Pod {
    /// A container by name, or the first one when `name` is empty.
    pub(crate) fn container(&self, name: &str) -> Option<&Arc<Container>> {
        if name.is_empty() {
            return self.containers.first();
        }
        self.containers.iter().find(|c| c.spec.name == name)
    }

    /// The loopback port serving container port `port` in any container.
    pub(crate) fn host_port(&self, port: u16) -> Option<u16> {
        self.containers.iter().find_map(|c| c.host_port(port))
    }
}

/// Every pod process of the cluster.
#[derive(Debug)]
pub(crate) struct Runtime {
    root: PathBuf,
    pods: Mutex<HashMap<(String, String), Arc<Pod>>>,
    ports: Mutex<HashSet<u16>>,
    groups: Mutex<HashSet<i32>>,
    next_ip: AtomicU32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Runtime {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self {
            root,
            pods: Mutex::default(),
            ports: Mutex::default(),
            groups: Mutex::default(),
            next_ip: AtomicU32::new(10),
        }
    }

    pub(crate) fn pod(&self, namespace: &str, name: &str) -> Option<Arc<Pod>> {
        lock(&self.pods).get(&(namespace.to_owned(), name.to_owned())).cloned()
    }

    fn alloc_port(&self) -> std::io::Result<u16> {
        loop {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            if lock(&self.ports).insert(port) {
                return Ok(port);
            }
        }
    }

    /// Starts an exec process in `pod`'s container, tracked so shutdown can kill it.
    pub(crate) fn exec(
        &self,
        pod: &Pod,
        container: &Container,
        argv: &[String],
        tty: bool,
        stdin: bool,
        tracker: &TaskTracker,
    ) -> Result<Spawned, SpawnError> {
        let mut env = container.spec.env.clone();
        if tty {
            env.insert("TERM".into(), "xterm".into());
        }
        let spec = ProcessSpec { argv, env: &env, cwd: &pod.dir, tty, stdin, initial_size: None };
        let spawned = process::spawn(&spec, tracker)?;
        lock(&self.groups).insert(spawned.pgid);
        Ok(spawned)
    }

    /// Forgets a process group that has exited.
    pub(crate) fn reaped(&self, pgid: i32) {
        lock(&self.groups).remove(&pgid);
    }

    fn all_groups(&self) -> Vec<i32> {
        let mut groups: Vec<i32> = lock(&self.groups).iter().copied().collect();
        for pod in lock(&self.pods).values() {
            groups.extend(pod.containers.iter().map(|c| c.pgid.load(Ordering::SeqCst)));
        }
        groups.retain(|g| *g > 0);
        groups
    }

    /// SIGTERM to every process group, then SIGKILL to those left after `grace`.
    pub(crate) async fn stop_all(&self, grace: Duration) {
        let pods: Vec<Arc<Pod>> = lock(&self.pods).values().cloned().collect();
        for pod in &pods {
            pod.stop.cancel();
        }
        for pgid in lock(&self.groups).iter() {
            signal_group(*pgid, nix::sys::signal::Signal::SIGTERM);
        }
        let all_done = async {
            for pod in &pods {
                pod.tasks.close();
                pod.tasks.wait().await;
            }
        };
        if tokio::time::timeout(grace + Duration::from_secs(1), all_done).await.is_err() {
            tracing::warn!("pod processes outlived the grace period");
        }
        self.kill_all_now();
    }

    /// SIGKILL to every known process group, at once.
    pub(crate) fn kill_all_now(&self) {
        for pgid in self.all_groups() {
            signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Whether a pod object's Ready condition is True.
#[must_use]
pub(crate) fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Creates a pod object and starts its containers.
pub(crate) fn create_pod(
    cluster: &Arc<Cluster>,
    mut object: Value,
) -> Result<Arc<Value>, StoreError> {
    let count = object["spec"]["containers"].as_array().map_or(0, Vec::len);
    if count == 0 {
        return Err(StoreError::Invalid("spec.containers: Required value".into()));
    }
    object["spec"]["nodeName"] = json!("testkit-node");
    object["spec"]["restartPolicy"] = json!("Always");
    object["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
    let stored = cluster.store.create(Resource::Pods, object)?;
    start_pod(cluster, &stored)
        .map_err(|e| StoreError::Invalid(format!("failed to start pod: {e}")))?;
    Ok(stored)
}

fn start_pod(cluster: &Arc<Cluster>, object: &Value) -> std::io::Result<()> {
    let rt = &cluster.runtime;
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or("default").to_owned();
    let name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    let uid = object["metadata"]["uid"].as_str().unwrap_or_default().to_owned();
    let dir = rt.root.join(&namespace).join(format!("{name}-{}", &uid[..uid.len().min(8)]));
    std::fs::create_dir_all(&dir)?;
    let testkit = cluster.config.testkit_exe.display().to_string();
    let mut alloc = || rt.alloc_port();
    let count = object["spec"]["containers"].as_array().map_or(0, Vec::len);
    let mut containers = Vec::with_capacity(count);
    for i in 0..count {
        let spec = ContainerSpec::from_pod(object, i, &dir, &testkit, &mut alloc)?;
        containers.push(Arc::new(Container::new(spec, dir.clone())));
    }
    let n = rt.next_ip.fetch_add(1, Ordering::SeqCst);
    let pod = Arc::new(Pod {
        uid,
        ip: format!("10.244.{}.{}", n / 250, n % 250 + 2),
        namespace: namespace.clone(),
        name: name.clone(),
        dir,
        containers,
        stop: cluster.cancel.child_token(),
        not_ready: AtomicBool::new(false),
        probe_ok: AtomicBool::new(false),
        tasks: TaskTracker::new(),
    });
    lock(&rt.pods).insert((namespace.clone(), name.clone()), pod.clone());
    let span = tracing::info_span!("pod", namespace = %namespace, pod = %name);
    for container in &pod.containers {
        let (c, p, cl) = (container.clone(), pod.clone(), cluster.clone());
        let fut = async move {
            let on_change = || write_status(&cl, &p);
            c.supervise(p.stop.clone(), cl.tracker.clone(), cl.config.grace_period, on_change)
                .await;
        };
        pod.tasks.spawn(cluster.tracker.track_future(fut.instrument(span.clone())));
    }
    pod.tasks
        .spawn(cluster.tracker.track_future(probe(cluster.clone(), pod.clone()).instrument(span)));
    Ok(())
}

/// Keeps `probe_ok` current by connecting to every declared port.
async fn probe(cluster: Arc<Cluster>, pod: Arc<Pod>) {
    let ports: Vec<u16> =
        pod.containers.iter().flat_map(|c| c.spec.ports.iter().map(|p| p.host_port)).collect();
    loop {
        let running = pod.containers.iter().all(|c| c.pgid.load(Ordering::SeqCst) > 0);
        let mut ok = running;
        for port in &ports {
            let connect = tokio::net::TcpStream::connect(("127.0.0.1", *port));
            ok &= matches!(
                tokio::time::timeout(Duration::from_millis(300), connect).await,
                Ok(Ok(_))
            );
        }
        if pod.probe_ok.swap(ok, Ordering::SeqCst) != ok {
            write_status(&cluster, &pod);
        }
        let period = if ok { Duration::from_millis(500) } else { Duration::from_millis(100) };
        tokio::select! { () = pod.stop.cancelled() => return, () = tokio::time::sleep(period) => {} }
    }
}

/// Writes the pod's status (phase, conditions, container statuses) into the store.
pub(crate) fn write_status(cluster: &Cluster, pod: &Pod) {
    let now = now_rfc3339();
    let ready = pod.probe_ok.load(Ordering::SeqCst)
        && !pod.not_ready.load(Ordering::SeqCst)
        && !pod.stop.is_cancelled();
    let statuses: Vec<Value> = pod
        .containers
        .iter()
        .map(|c| {
            let running = c.pgid.load(Ordering::SeqCst) > 0;
            let last = *c.last_exit.lock().unwrap_or_else(PoisonError::into_inner);
            let state = if running {
                json!({"running": {"startedAt": now}})
            } else {
                json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("exit code {}", last.unwrap_or(0))}})
            };
            json!({
                "name": c.spec.name, "image": c.spec.image, "imageID": format!("testkit://{}", c.spec.image),
                "containerID": format!("testkit://{}-{}", pod.uid, c.spec.name),
                "ready": running && ready, "started": running, "state": state,
                "restartCount": c.restarts.load(Ordering::SeqCst),
            })
        })
        .collect();
    let flag = |b: bool| if b { "True" } else { "False" };
    let update = cluster.store.update(Resource::Pods, &pod.namespace, &pod.name, |obj| {
        let keep_time = |kind: &str, status: &str| {
            obj["status"]["conditions"].as_array().and_then(|cs| {
                cs.iter().find(|c| c["type"] == kind && c["status"] == status).map(|c| c["lastTransitionTime"].clone())
            })
        };
        let cond = |kind: &str, status: &str| {
            let since = keep_time(kind, status).unwrap_or_else(|| json!(now));
            json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": since})
        };
        let conditions = json!([
            cond("Initialized", "True"),
            cond("Ready", flag(ready)),
            cond("ContainersReady", flag(ready)),
            cond("PodScheduled", "True"),
        ]);
        let start = obj["status"]["startTime"].as_str().map_or_else(|| now.clone(), str::to_owned);
        obj["status"] = json!({
            "phase": "Running", "conditions": conditions, "hostIP": "127.0.0.1", "podIP": pod.ip,
            "podIPs": [{"ip": pod.ip}], "startTime": start, "containerStatuses": statuses, "qosClass": "BestEffort",
        });
    });
    if let Err(e) = update {
        tracing::debug!(error = %e, "pod gone before its status was written");
    }
}

/// Marks a pod terminating and stops it in the background; the object goes once its processes
/// have exited. Returns the terminating object, as the API does.
pub(crate) fn delete_pod(
    cluster: &Arc<Cluster>,
    namespace: &str,
    name: &str,
) -> Result<Arc<Value>, StoreError> {
    let grace = cluster.config.grace_period;
    let marked = cluster.store.update(Resource::Pods, namespace, name, |obj| {
        if obj["metadata"]["deletionTimestamp"].is_null() {
            obj["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
            obj["metadata"]["deletionGracePeriodSeconds"] = json!(grace.as_secs());
        }
    })?;
    let pod = cluster.runtime.pod(namespace, name);
    let (cl, ns, n) = (cluster.clone(), namespace.to_owned(), name.to_owned());
    cluster.tracker.spawn(async move {
        if let Some(pod) = pod {
            pod.stop.cancel();
            write_status(&cl, &pod);
            pod.tasks.close();
            let _timed_out =
                tokio::time::timeout(grace + Duration::from_secs(2), pod.tasks.wait()).await;
            for c in &pod.containers {
                cl.runtime
                    .ports
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .retain(|p| !c.spec.ports.iter().any(|m| m.host_port == *p));
            }
            lock(&cl.runtime.pods).remove(&(ns.clone(), n.clone()));
        }
        if let Err(e) = cl.store.delete(Resource::Pods, &ns, &n) {
            tracing::debug!(error = %e, "pod already removed");
        }
    });
    Ok(marked)
}
