//! Fault injection: a first-class enum, applied from Rust tests, the control endpoint and the
//! `tether-testkit fault` command.
//!
//! Connection faults act on streaming (upgraded) connections: a clean close (WebSocket close
//! 1000, SPDY GOAWAY), a TCP reset, or a blackhole that stops moving bytes but keeps the socket
//! open, as the peer of a sleeping laptop sees it. Latency and bandwidth shape every connection,
//! new ones included, until cleared.

mod io;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

pub(crate) use io::{FaultyIo, Shaping};

use crate::cluster::Cluster;
use crate::config::PortForwardErrorOrder;
use crate::store::{Resource, StoreError};

/// Something to break (or mend) in the emulated cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "kebab-case")]
pub enum Fault {
    /// Close every streaming connection cleanly (WebSocket close 1000, SPDY GOAWAY, TLS close).
    CloseStreams,
    /// Reset every streaming connection (TCP RST).
    ResetStreams,
    /// Stop moving bytes on every streaming connection, keeping the sockets open. New
    /// connections are unaffected.
    Blackhole,
    /// Delay every byte from clients by this many milliseconds (0 removes it).
    Latency {
        /// One-way delay added to each client-to-server byte, so to each round trip.
        millis: u64,
    },
    /// Limit every connection to this many bytes per second each way (0 removes the limit).
    Bandwidth {
        /// Bytes per second.
        bytes_per_sec: u64,
    },
    /// Answer every upgrade request with this HTTP status until cleared (0 clears).
    RejectUpgrades {
        /// The status, such as 403 or 500.
        status: u16,
    },
    /// Invalidate the current token: requests get 401 until they present the new one (which the
    /// exec credential plugin reads).
    ExpireTokens,
    /// Delete a pod (its controller replaces it after the recreate delay).
    DeletePod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
    },
    /// Delete every pod matching a label selector.
    DeletePods {
        /// Namespace.
        namespace: String,
        /// Label selector, such as `app=web`.
        selector: String,
    },
    /// Delete a pod and create it again with the same name and spec.
    RecreatePod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
    },
    /// Force a pod's Ready condition to False, or give it back to its probe.
    SetReady {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
        /// False makes it not ready.
        ready: bool,
    },
    /// Change how long controllers wait before replacing a deleted pod.
    RecreateDelay {
        /// Milliseconds.
        millis: u64,
    },
    /// Change how a failed port-forward connection's streams end from now on.
    PortForwardErrors {
        /// The order.
        order: PortForwardErrorOrder,
    },
    /// Remove latency, bandwidth limits and upgrade rejection.
    Clear,
}

/// What a fault touched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultReport {
    /// Connections or pods affected.
    pub affected: usize,
}

/// Errors from applying a fault.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The named object does not exist or could not be changed.
    #[error("failed to apply fault")]
    Store(#[from] StoreError),
    /// A selector could not be parsed.
    #[error("failed to apply fault")]
    Selector(#[from] crate::store::SelectorError),
    /// The token file could not be rewritten.
    #[error("failed to rotate the token")]
    Token(#[source] std::io::Error),
}

/// One accepted connection, as faults see it.
#[derive(Debug)]
pub(crate) struct ConnEntry {
    pub shaping: Arc<Shaping>,
    /// Cancelled to ask the connection's streaming task for a clean close.
    pub close: CancellationToken,
    streaming: std::sync::atomic::AtomicBool,
    /// A duplicate of the socket, to reset it from outside the task that owns it.
    socket: std::net::TcpStream,
}

impl ConnEntry {
    /// Marks the connection as upgraded, so connection faults apply to it.
    pub(crate) fn set_streaming(&self) {
        self.streaming.store(true, Ordering::SeqCst);
    }

    fn is_streaming(&self) -> bool {
        self.streaming.load(Ordering::SeqCst)
    }
}

/// Live connections and the sticky settings new ones inherit. An entry lives as long as its
/// connection or the streaming session on it, whichever ends last.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    conns: Mutex<Vec<Weak<ConnEntry>>>,
    latency_ms: AtomicU64,
    bandwidth: AtomicU64,
    reject_status: AtomicU64,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, Vec<Weak<ConnEntry>>> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wraps an accepted socket; the entry is registered while the returned `Arc` lives.
    pub(crate) fn register(
        &self,
        tcp: TcpStream,
        close: CancellationToken,
    ) -> std::io::Result<(FaultyIo, Arc<ConnEntry>)> {
        let std = tcp.into_std()?;
        let socket = std.try_clone()?;
        let tcp = TcpStream::from_std(std)?;
        let shaping = Arc::new(Shaping::new(
            Duration::from_millis(self.latency_ms.load(Ordering::SeqCst)),
            self.bandwidth.load(Ordering::SeqCst),
        ));
        let entry = Arc::new(ConnEntry {
            shaping: shaping.clone(),
            close,
            streaming: false.into(),
            socket,
        });
        let mut conns = self.lock();
        conns.retain(|c| c.strong_count() > 0);
        conns.push(Arc::downgrade(&entry));
        Ok((FaultyIo::new(tcp, shaping), entry))
    }

    /// The status upgrades are rejected with, if any.
    pub(crate) fn reject_status(&self) -> Option<u16> {
        u16::try_from(self.reject_status.load(Ordering::SeqCst)).ok().filter(|s| *s != 0)
    }

    fn streaming(&self) -> Vec<Arc<ConnEntry>> {
        self.all().into_iter().filter(|c| c.is_streaming()).collect()
    }

    fn all(&self) -> Vec<Arc<ConnEntry>> {
        self.lock().iter().filter_map(Weak::upgrade).collect()
    }
}

fn reset(conn: &ConnEntry) {
    // Linger 0 makes the final close send RST; shutting down the read side wakes the owner,
    // which then sees the reset error from the shaping layer and drops its end.
    let sock = socket2::SockRef::from(&conn.socket);
    let _ignored = sock.set_linger(Some(Duration::ZERO));
    conn.shaping.reset();
    let _ignored = conn.socket.shutdown(std::net::Shutdown::Read);
}

/// Applies `fault` to `cluster`.
pub(crate) async fn apply(cluster: &Arc<Cluster>, fault: Fault) -> Result<FaultReport, FaultError> {
    tracing::info!(?fault, "injecting fault");
    let faults = &cluster.faults;
    let affected = match fault {
        Fault::CloseStreams => each(faults.streaming(), |c| c.close.cancel()),
        Fault::ResetStreams => each(faults.streaming(), reset),
        Fault::Blackhole => each(faults.streaming(), |c| c.shaping.blackhole()),
        Fault::Latency { millis } => {
            faults.latency_ms.store(millis, Ordering::SeqCst);
            each(faults.all(), |c| c.shaping.set_latency(Duration::from_millis(millis)))
        }
        Fault::Bandwidth { bytes_per_sec } => {
            faults.bandwidth.store(bytes_per_sec, Ordering::SeqCst);
            each(faults.all(), |c| c.shaping.set_bandwidth(bytes_per_sec))
        }
        Fault::RejectUpgrades { status } => {
            faults.reject_status.store(u64::from(status), Ordering::SeqCst);
            0
        }
        Fault::Clear => {
            faults.latency_ms.store(0, Ordering::SeqCst);
            faults.bandwidth.store(0, Ordering::SeqCst);
            faults.reject_status.store(0, Ordering::SeqCst);
            each(faults.all(), |c| {
                c.shaping.set_latency(Duration::ZERO);
                c.shaping.set_bandwidth(0);
            })
        }
        Fault::ExpireTokens => {
            cluster.auth.rotate().map_err(FaultError::Token)?;
            1
        }
        Fault::DeletePod { namespace, name } => {
            crate::runtime::delete_pod(cluster, &namespace, &name)?;
            1
        }
        Fault::DeletePods { namespace, selector } => {
            let selector = crate::store::LabelSelector::parse(&selector)?;
            let pods =
                cluster.store.list(Resource::Pods, Some(&namespace), |p| selector.matches(p)).0;
            for pod in &pods {
                let name = pod["metadata"]["name"].as_str().unwrap_or_default();
                crate::runtime::delete_pod(cluster, &namespace, name)?;
            }
            pods.len()
        }
        Fault::RecreatePod { namespace, name } => {
            recreate(cluster, &namespace, &name).await?;
            1
        }
        Fault::SetReady { namespace, name, ready } => {
            let pod = cluster
                .runtime
                .pod(&namespace, &name)
                .ok_or_else(|| StoreError::NotFound { resource: "pods", name: name.clone() })?;
            pod.not_ready.store(!ready, Ordering::SeqCst);
            crate::runtime::write_status(cluster, &pod);
            1
        }
        Fault::RecreateDelay { millis } => {
            *cluster.recreate_delay.lock().unwrap_or_else(PoisonError::into_inner) =
                Duration::from_millis(millis);
            0
        }
        Fault::PortForwardErrors { order } => {
            *cluster.error_order.lock().unwrap_or_else(PoisonError::into_inner) = order;
            0
        }
    };
    Ok(FaultReport { affected })
}

fn each(conns: Vec<Arc<ConnEntry>>, f: impl Fn(&ConnEntry)) -> usize {
    conns.iter().for_each(|c| f(c));
    conns.len()
}

/// Deletes a pod, waits (up to 30 s) for it to be gone, and creates it again from its spec.
async fn recreate(cluster: &Arc<Cluster>, namespace: &str, name: &str) -> Result<(), FaultError> {
    let old = cluster
        .store
        .get(Resource::Pods, namespace, name)
        .ok_or_else(|| StoreError::NotFound { resource: "pods", name: name.to_owned() })?;
    crate::runtime::delete_pod(cluster, namespace, name)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while cluster.store.get(Resource::Pods, namespace, name).is_some()
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fresh = serde_json::json!({
        "metadata": {"name": name, "namespace": namespace, "labels": old["metadata"]["labels"],
            "annotations": old["metadata"]["annotations"], "ownerReferences": old["metadata"]["ownerReferences"]},
        "spec": old["spec"],
    });
    crate::runtime::create_pod(cluster, fresh)?;
    Ok(())
}
