//! Server options: the fixture, how clients authenticate, the old-cluster switch and timings.

use std::path::PathBuf;
use std::time::Duration;

use crate::fixture::Fixture;

/// How the written kubeconfig authenticates. The server accepts every kind at all times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// A static bearer token.
    #[default]
    Token,
    /// A client certificate signed by the cluster CA.
    ClientCert,
    /// An exec credential plugin (`tether-testkit credential`) that reads the current token, so
    /// clients can pick up a new token after [`crate::Fault::ExpireTokens`].
    Exec,
}

/// In which order a kubelet ends a port-forward connection's two SPDY streams when forwarding
/// fails (the pod's port refused, or a read from it failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortForwardErrorOrder {
    /// As the kubelet does with containerd: containerd's port-forward closes the data stream
    /// (FIN) as it returns, and only then does the kubelet write the error text on the error
    /// stream and close it (FIN). `pkg/kubelet/cri/streaming/portforward/httpstream.go`.
    #[default]
    DataCloseFirst,
    /// The error text first, then both streams reset: what the fake server behind the captured
    /// kubectl vectors did (`portforward-ws-tunnel-error.jsonl`).
    ErrorFirst,
}

/// Options for one emulated cluster.
#[derive(Debug, Clone)]
pub struct Config {
    /// The objects to create at start.
    pub fixture: Fixture,
    /// What the written kubeconfig uses.
    pub auth: AuthMode,
    /// Emulate a cluster before Kubernetes 1.30: no `v5.channel.k8s.io` translator and no
    /// `SPDY/3.1+portforward.k8s.io` tunnel, so clients must fall back.
    pub old_cluster: bool,
    /// Send SPDY header blocks as zlib stored blocks, as tetherd does, instead of deflating
    /// them as the kubelet does; real kubectl reading these proves spdystream accepts them.
    pub stored_spdy_headers: bool,
    /// How a failed port-forward connection's streams end.
    pub portforward_error_order: PortForwardErrorOrder,
    /// Delay before a controller replaces a deleted pod.
    pub recreate_delay: Duration,
    /// How long a deleted pod's processes get after SIGTERM before SIGKILL.
    pub grace_period: Duration,
    /// Where pod working folders, the kubeconfig and the token file go; a temporary folder when
    /// `None`.
    pub state_dir: Option<PathBuf>,
    /// Where to write the kubeconfig; `<state_dir>/kubeconfig` when `None`.
    pub kubeconfig_out: Option<PathBuf>,
    /// The program run for container commands named `tether-testkit` and for the exec plugin.
    pub testkit_exe: PathBuf,
}

impl Config {
    /// How the SPDY server side compresses its header blocks.
    #[must_use]
    pub fn header_compression(&self) -> tether_wire::spdy::HeaderCompression {
        if self.stored_spdy_headers {
            tether_wire::spdy::HeaderCompression::Stored
        } else {
            tether_wire::spdy::HeaderCompression::Deflate
        }
    }

    /// The default fixture with default timings, running workloads with `testkit_exe`.
    #[must_use]
    pub fn new(testkit_exe: impl Into<PathBuf>) -> Self {
        Self {
            fixture: Fixture::default_cluster(),
            auth: AuthMode::Token,
            old_cluster: false,
            stored_spdy_headers: false,
            portforward_error_order: PortForwardErrorOrder::default(),
            recreate_delay: Duration::from_millis(500),
            grace_period: Duration::from_secs(2),
            state_dir: None,
            kubeconfig_out: None,
            testkit_exe: testkit_exe.into(),
        }
    }

    /// The version this cluster reports on `/version`.
    #[must_use]
    pub fn server_version(&self) -> (&'static str, &'static str, &'static str) {
        if self.old_cluster { ("1", "29", "v1.29.14") } else { ("1", "32", "v1.32.4") }
    }
}

/// Finds the `tether-testkit` binary for processes: `TETHER_TESTKIT_EXE`, then a sibling of the
/// current executable (or of its parent folder, where cargo puts test binaries).
///
/// # Errors
/// Fails when no such binary exists; build it with `cargo build -p tether-testkit`.
pub fn locate_testkit_exe() -> std::io::Result<PathBuf> {
    if let Some(path) = std::env::var_os(ENV_TESTKIT_EXE) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let name = format!("tether-testkit{}", std::env::consts::EXE_SUFFIX);
    if exe.file_name().is_some_and(|n| n == name.as_str()) {
        return Ok(exe);
    }
    let dirs = [exe.parent(), exe.parent().and_then(std::path::Path::parent)];
    for dir in dirs.into_iter().flatten() {
        let candidate = dir.join(&name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "failed to find the tether-testkit binary: build it with `cargo build -p tether-testkit` \
         or set TETHER_TESTKIT_EXE",
    ))
}

/// Names the testkit binary when the caller cannot find it otherwise.
pub const ENV_TESTKIT_EXE: &str = "TETHER_TESTKIT_EXE";
