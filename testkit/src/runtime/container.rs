//! A container: its spec, environment and ports, and the supervised main process that
//! `attach` joins (output fanned out to every attacher, stdin shared, restarts on exit).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::process::{self, Input, Output, ProcessSpec};

/// One declared container port and the loopback port that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortMap {
    pub name: Option<String>,
    pub container_port: u16,
    pub host_port: u16,
}

/// What the container runs, resolved from the pod spec.
#[derive(Debug, Clone)]
pub(crate) struct ContainerSpec {
    pub name: String,
    pub argv: Vec<String>,
    pub env: HashMap<String, String>,
    pub ports: Vec<PortMap>,
    pub stdin: bool,
    pub tty: bool,
    pub image: String,
}

/// Expands Kubernetes `$(VAR)` references from `env`; `$$` escapes a `$`, unknown names stay.
pub(crate) fn expand(text: &str, env: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(close) =
            after.strip_prefix('(').and_then(|a| a.find(')').map(|c| (a, c)))
        {
            let (inner, end) = close;
            match env.get(&inner[..end]) {
                Some(value) => out.push_str(value),
                None => out.push_str(&rest[i..i + end + 3]),
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The base environment of every process: a clean one with PATH and a few basics.
pub(crate) fn base_env(pod: &str, home: &std::path::Path) -> HashMap<String, String> {
    let mut env = HashMap::new();
    env.insert(
        "PATH".into(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
    );
    env.insert("HOSTNAME".into(), pod.to_owned());
    env.insert("HOME".into(), home.display().to_string());
    env.insert("LANG".into(), "C.UTF-8".into());
    env
}

impl ContainerSpec {
    /// Reads container `index` of a pod spec. Host ports are allocated by `alloc`; a command
    /// named `tether-testkit` runs the program at `testkit`.
    pub(crate) fn from_pod(
        pod: &Value,
        index: usize,
        home: &std::path::Path,
        testkit: &str,
        alloc: &mut dyn FnMut() -> std::io::Result<u16>,
    ) -> std::io::Result<Self> {
        let c = &pod["spec"]["containers"][index];
        let name = c["name"].as_str().unwrap_or("main").to_owned();
        let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
        let mut env = base_env(pod_name, home);
        if c["tty"].as_bool() == Some(true) {
            env.insert("TERM".into(), "xterm".into());
        }
        let mut ports = Vec::new();
        for p in c["ports"].as_array().into_iter().flatten() {
            let container_port = p["containerPort"].as_u64().and_then(|v| u16::try_from(v).ok());
            let Some(container_port) = container_port else { continue };
            let host_port = alloc()?;
            let port_name = p["name"].as_str().map(str::to_owned);
            let key =
                port_name.as_deref().map_or_else(|| container_port.to_string(), str::to_owned);
            let key = key.to_ascii_uppercase().replace('-', "_");
            env.insert(format!("PORT_{key}"), host_port.to_string());
            env.entry("PORT".into()).or_insert_with(|| host_port.to_string());
            ports.push(PortMap { name: port_name, container_port, host_port });
        }
        for e in c["env"].as_array().into_iter().flatten() {
            if let (Some(k), Some(v)) = (e["name"].as_str(), e["value"].as_str()) {
                let v = expand(v, &env);
                env.insert(k.to_owned(), v);
            }
        }
        let words = |key: &str| -> Vec<String> {
            c[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .map(|s| expand(s, &env))
                .collect()
        };
        let mut argv = words("command");
        argv.extend(words("args"));
        if let Some(program) = argv.first_mut()
            && program == "tether-testkit"
        {
            *program = testkit.to_owned();
        }
        Ok(Self {
            name,
            argv,
            env,
            ports,
            stdin: c["stdin"].as_bool() == Some(true),
            tty: c["tty"].as_bool() == Some(true),
            image: c["image"].as_str().unwrap_or("tether/local").to_owned(),
        })
    }
}

/// A running container: the main process under supervision, and the ways to join it.
#[derive(Debug)]
pub(crate) struct Container {
    pub spec: ContainerSpec,
    pub dir: PathBuf,
    /// Attachers' input into the current main process.
    input_tx: Mutex<Option<mpsc::Sender<Input>>>,
    /// Output of the main process, to every attacher.
    output_tx: broadcast::Sender<Output>,
    pub restarts: AtomicU32,
    pub pgid: AtomicI32,
    pub last_exit: Mutex<Option<u8>>,
}

impl Container {
    pub(crate) fn new(spec: ContainerSpec, dir: PathBuf) -> Self {
        let (output_tx, _) = broadcast::channel(256);
        Self {
            spec,
            dir,
            input_tx: Mutex::new(None),
            output_tx,
            restarts: AtomicU32::new(0),
            pgid: AtomicI32::new(0),
            last_exit: Mutex::new(None),
        }
    }

    /// Joins the main process: its future output, and a sender for its stdin.
    pub(crate) fn attach(&self) -> (broadcast::Receiver<Output>, Option<mpsc::Sender<Input>>) {
        let input = self.input_tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        (self.output_tx.subscribe(), input)
    }

    /// Runs the main process until `stop`, restarting it one second after each exit
    /// (`restartPolicy: Always`). `on_change` is told whenever it starts or exits.
    pub(crate) async fn supervise(
        &self,
        stop: CancellationToken,
        tracker: TaskTracker,
        grace: Duration,
        on_change: impl Fn(),
    ) {
        while !stop.is_cancelled() {
            let spec = ProcessSpec {
                argv: &self.spec.argv,
                env: &self.spec.env,
                cwd: &self.dir,
                tty: self.spec.tty,
                stdin: self.spec.stdin,
                initial_size: None,
            };
            let mut spawned = match process::spawn(&spec, &tracker) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(container = %self.spec.name, error = %e, "failed to start container");
                    *self.last_exit.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(127);
                    on_change();
                    tokio::select! { () = stop.cancelled() => break, () = tokio::time::sleep(Duration::from_secs(1)) => continue }
                }
            };
            self.pgid.store(spawned.pgid, Ordering::SeqCst);
            *self.input_tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some(spawned.input_tx.clone());
            on_change();
            let mut output_open = true;
            let exit = loop {
                tokio::select! {
                    out = spawned.output_rx.recv(), if output_open => match out {
                        // No attacher is fine; a lagging one skips ahead.
                        Some(out) => { let _receivers = self.output_tx.send(out); }
                        None => output_open = false,
                    },
                    status = spawned.child.wait() => break status.ok().map(process::exit_code),
                    () = stop.cancelled() => {
                        process::signal_group(spawned.pgid, nix::sys::signal::Signal::SIGTERM);
                        let waited = tokio::time::timeout(grace, spawned.child.wait()).await;
                        if waited.is_err() {
                            process::signal_group(spawned.pgid, nix::sys::signal::Signal::SIGKILL);
                            let _status = spawned.child.wait().await;
                        }
                        break None;
                    }
                }
            };
            while let Ok(out) = spawned.output_rx.try_recv() {
                let _receivers = self.output_tx.send(out);
            }
            *self.input_tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            self.pgid.store(0, Ordering::SeqCst);
            *self.last_exit.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = exit;
            if stop.is_cancelled() {
                break;
            }
            self.restarts.fetch_add(1, Ordering::SeqCst);
            on_change();
            tokio::select! { () = stop.cancelled() => break, () = tokio::time::sleep(Duration::from_secs(1)) => {} }
        }
    }

    /// The loopback port serving `port` (a number or a port name), if declared.
    pub(crate) fn host_port(&self, port: u16) -> Option<u16> {
        self.spec.ports.iter().find(|p| p.container_port == port).map(|p| p.host_port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_kubernetes_rules() {
        let env: HashMap<String, String> = [("PORT".into(), "1234".into())].into();
        assert_eq!(expand("--port=$(PORT)", &env), "--port=1234");
        assert_eq!(expand("$$(PORT) $(NOPE) $ x", &env), "$(PORT) $(NOPE) $ x");
        assert_eq!(expand("$(PORT", &env), "$(PORT");
    }

    #[test]
    fn spec_resolves_ports_env_and_the_testkit_program() {
        let pod = serde_json::json!({"metadata": {"name": "web-1"}, "spec": {"containers": [{
            "name": "http", "command": ["tether-testkit", "workload", "http", "--port", "$(PORT_HTTP)"],
            "ports": [{"name": "http", "containerPort": 8080}, {"containerPort": 9090}],
            "env": [{"name": "GREETING", "value": "on $(PORT_9090)"}],
        }]}});
        let mut next = 40000;
        let mut alloc = || {
            next += 1;
            Ok(next)
        };
        let spec =
            ContainerSpec::from_pod(&pod, 0, std::path::Path::new("/tmp"), "/bin/tk", &mut alloc)
                .expect("spec");
        assert_eq!(spec.argv, ["/bin/tk", "workload", "http", "--port", "40001"]);
        assert_eq!(spec.env["PORT"], "40001");
        assert_eq!(spec.env["GREETING"], "on 40002");
        assert_eq!(spec.ports[1], PortMap { name: None, container_port: 9090, host_port: 40002 });
    }
}
