//! `kubectl port-forward` as a process: started against the testkit's kubeconfig with a private
//! cache folder, its local ports parsed from "Forwarding from 127.0.0.1:PORT -> REMOTE".

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::proc::ChildGuard;

/// How to run kubectl.
#[derive(Debug, Clone)]
pub struct Kubectl {
    pub bin: PathBuf,
    pub kubeconfig: PathBuf,
    pub cache: PathBuf,
}

/// A running `kubectl port-forward`; killed on drop.
#[derive(Debug)]
pub struct PortForward {
    child: ChildGuard,
    /// The local port of each remote port, in order.
    pub ports: Vec<u16>,
    log: Arc<Mutex<String>>,
}

impl Kubectl {
    /// `kubectl version` output, for the record.
    pub fn version(&self) -> String {
        let out =
            self.command().args(["version", "--request-timeout=10s"]).stdin(Stdio::null()).output();
        match out {
            Ok(o) => String::from_utf8_lossy(&o.stdout).trim().replace('\n', "; "),
            Err(e) => format!("unknown ({e})"),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", &self.cache)
            .env_remove("KUBECTL_PORT_FORWARD_WEBSOCKETS");
        cmd
    }

    /// Starts `kubectl port-forward TARGET :R1 :R2 ...` and waits (up to 30 s) until it
    /// announces a local port for every remote port.
    pub fn port_forward(&self, target: &str, remotes: &[&str]) -> anyhow::Result<PortForward> {
        let mut cmd = self.command();
        cmd.arg("port-forward").arg(target);
        cmd.args(remotes.iter().map(|r| format!(":{r}")));
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = ChildGuard::spawn(&mut cmd, "kubectl port-forward")?;
        let log = Arc::new(Mutex::new(String::new()));
        let out = child.child_mut().stdout.take().context("kubectl stdout")?;
        let err = child.child_mut().stderr.take().context("kubectl stderr")?;
        collect(Box::new(out), log.clone());
        collect(Box::new(err), log.clone());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = log.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let ports = parse_ports(&text);
            if ports.len() >= remotes.len() {
                return Ok(PortForward { child, ports, log });
            }
            if let Some(status) = child.exited() {
                anyhow::bail!("kubectl port-forward {target} exited with {status}: {text}");
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "kubectl port-forward {target} never announced its ports: {text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// [`Kubectl::port_forward`] off the async runtime, which serves the cluster kubectl talks
    /// to.
    pub async fn start(&self, target: &str, remotes: &[&str]) -> anyhow::Result<PortForward> {
        let (k, target) = (self.clone(), target.to_owned());
        let remotes: Vec<String> = remotes.iter().map(|r| (*r).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            let remotes: Vec<&str> = remotes.iter().map(String::as_str).collect();
            k.port_forward(&target, &remotes)
        })
        .await?
    }
}

impl PortForward {
    /// kubectl's process id.
    pub fn pid(&self) -> i32 {
        self.child.pid()
    }

    /// Waits up to `timeout` for kubectl to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.child.wait_exit(timeout)
    }

    /// What kubectl printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

fn collect(mut pipe: Box<dyn std::io::Read + Send>, log: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

/// The IPv4 local ports kubectl announced, in order.
fn parse_ports(text: &str) -> Vec<u16> {
    text.lines()
        .filter_map(|l| l.strip_prefix("Forwarding from 127.0.0.1:"))
        .filter_map(|rest| rest.split(' ').next())
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_ports;

    #[test]
    fn forwarding_lines_give_ports_in_order() {
        let text = "Forwarding from 127.0.0.1:4100 -> 7100\nForwarding from [::1]:4100 -> 7100\n\
                    Forwarding from 127.0.0.1:4200 -> 7200\n";
        assert_eq!(parse_ports(text), vec![4100, 4200]);
    }
}
