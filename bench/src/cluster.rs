//! The emulated cluster the bench measures against, and local copies of its workloads as the
//! direct baseline (the testkit does not expose its pods' loopback ports).

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tether_testkit::fixture::Fixture;
use tether_testkit::{Config, TestCluster};

use crate::proc::ChildGuard;

/// How long a controller waits before replacing a deleted pod.
pub const RECREATE_DELAY: Duration = Duration::from_millis(500);

/// `echo` (2 replicas, service port 70 to the named port `tcp`, 7000) and `bulk` (one pod with
/// a `source` of `bytes` per connection on 7100 and a `sink` on 7200, service ports the same).
pub fn fixture(bytes: u64) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: echo, namespace: default}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: echo}}}}
  template:
    metadata: {{labels: {{app: echo}}}}
    spec:
      containers:
        - name: echo
          command: ["tether-testkit", "workload", "echo", "--port", "$(PORT_TCP)"]
          ports: [{{name: tcp, containerPort: 7000}}]
---
apiVersion: v1
kind: Service
metadata: {{name: echo, namespace: default}}
spec:
  selector: {{app: echo}}
  ports: [{{name: tcp, port: 70, targetPort: tcp}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: bulk, namespace: default}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: bulk}}}}
  template:
    metadata: {{labels: {{app: bulk}}}}
    spec:
      containers:
        - name: source
          command: ["tether-testkit", "workload", "source", "--port", "$(PORT_SOURCE)", "--bytes", "{bytes}"]
          ports: [{{name: source, containerPort: 7100}}]
        - name: sink
          command: ["tether-testkit", "workload", "sink", "--port", "$(PORT_SINK)"]
          ports: [{{name: sink, containerPort: 7200}}]
---
apiVersion: v1
kind: Service
metadata: {{name: bulk, namespace: default}}
spec:
  selector: {{app: bulk}}
  ports:
    - {{name: source, port: 7100, targetPort: source}}
    - {{name: sink, port: 7200, targetPort: sink}}
"#
    )
}

/// Starts the default cluster plus [`fixture`] and waits for the echo and bulk pods.
pub async fn start(testkit: &Path, bytes: u64) -> anyhow::Result<TestCluster> {
    let mut config = Config::new(testkit);
    config.recreate_delay = RECREATE_DELAY;
    config.fixture.objects.extend(Fixture::parse(&fixture(bytes))?.objects);
    let cluster = TestCluster::start(config).await.context("failed to start the cluster")?;
    cluster
        .wait_ready("app in (echo,bulk)", 3, Duration::from_secs(60))
        .await
        .context("the echo and bulk pods never became ready")?;
    Ok(cluster)
}

/// Names of the Ready echo pods.
pub fn ready_echo_pods(cluster: &TestCluster) -> Vec<String> {
    cluster.cluster().ready_pods("default", "app=echo")
}

/// Local copies of the workloads, straight on loopback.
#[derive(Debug)]
pub struct Direct {
    pub echo: u16,
    pub source: u16,
    pub sink: u16,
    _children: Vec<ChildGuard>,
}

impl Direct {
    /// Starts `tether-testkit workload echo|source|sink` on free ports and waits until they
    /// accept connections.
    pub fn start(testkit: &Path, bytes: u64) -> anyhow::Result<Self> {
        let mut children = Vec::new();
        let mut ports = Vec::new();
        for kind in ["echo", "source", "sink"] {
            let port = free_port()?;
            let mut cmd = Command::new(testkit);
            cmd.args([
                "workload",
                kind,
                "--port",
                &port.to_string(),
                "--bytes",
                &bytes.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
            children.push(ChildGuard::spawn(&mut cmd, &format!("direct {kind}"))?);
            ports.push(port);
        }
        for &port in &ports {
            wait_listening(port, Duration::from_secs(10))?;
        }
        Ok(Self { echo: ports[0], source: ports[1], sink: ports[2], _children: children })
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts on 127.0.0.1:`port`.
pub fn wait_listening(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "nothing listens on port {port} after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
