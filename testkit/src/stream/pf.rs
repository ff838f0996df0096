//! What every port-forward flavour shares: reaching a pod's port, and the kubelet's error text.

use tokio::net::TcpStream;

use crate::runtime::Pod;

/// Connects to container port `port` of `pod`, or returns the error text the kubelet (via
/// containerd) would write on the error stream.
pub(crate) async fn connect(pod: &Pod, port: u16) -> Result<TcpStream, String> {
    let refused = |detail: &str| {
        format!(
            "error forwarding port {port} to pod {}, uid : failed to execute portforward in network namespace \
             \"/var/run/netns/cni-{}\": failed to connect to localhost:{port} inside namespace: {detail}",
            pod.uid,
            &pod.uid[..pod.uid.len().min(8)]
        )
    };
    if pod.stop.is_cancelled() {
        return Err(format!(
            "error forwarding port {port} to pod {}, uid : pod not found or terminating",
            pod.uid
        ));
    }
    let Some(host_port) = pod.host_port(port) else {
        return Err(refused(&format!("dial tcp4 127.0.0.1:{port}: connect: connection refused")));
    };
    match TcpStream::connect(("127.0.0.1", host_port)).await {
        Ok(tcp) => {
            let _nodelay = tcp.set_nodelay(true);
            Ok(tcp)
        }
        Err(e) => Err(refused(&format!("dial tcp4 127.0.0.1:{port}: connect: {e}"))),
    }
}
