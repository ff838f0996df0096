//! Exec and attach upgrades: the WebSocket channel protocols first (`v5.channel.k8s.io` and
//! `v4.channel.k8s.io` offered together: a modern apiserver picks v5, an old one's kubelet v4),
//! then raw SPDY/3.1 (v5 to v1 offered, as kubectl does).

use tether_wire::negotiate::{self, REMOTE_COMMAND_SPDY, V4_CHANNEL, V5_CHANNEL};

use super::KubeCluster;
use super::status::Needs;
use super::upgrade::{Failure, spdy_offering, websocket_offering};
use crate::cluster::ClusterError;
use crate::exec::{Process, Request};

pub(super) async fn remote_command(
    cluster: &KubeCluster,
    request: Request,
) -> Result<Process, ClusterError> {
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}/{}?{}",
        cluster.namespace,
        request.pod,
        request.subresource(),
        request.query()
    );
    let resource = format!("pods/{}", request.subresource());
    let needs = Needs { verb: "create", resource: &resource, namespace: &cluster.namespace };
    let ws = cluster.with_refresh(|client| {
        let path = path.clone();
        async move {
            match websocket_offering(&client, &path, &[V5_CHANNEL, V4_CHANNEL], needs).await {
                Ok(ok) => Ok(Ok(ok)),
                Err(Failure::Fatal(e @ ClusterError::Unauthorized(_))) => Err(e),
                Err(f) => Ok(Err(f)),
            }
        }
    });
    let refusal = match ws.await? {
        Ok((ws, chosen)) => {
            let (version, encoding) = negotiate::remote_command_version(&chosen)
                .ok_or_else(|| ClusterError::Protocol(format!("unknown protocol {chosen}")))?;
            let codec = tether_wire::channel::ChannelCodec::new(version, encoding);
            return Ok(crate::exec::ws::start(
                ws,
                codec,
                &request,
                cluster.liveness,
                &cluster.cancel,
                &cluster.tracker,
            ));
        }
        Err(Failure::Fatal(e)) => return Err(e),
        Err(Failure::Unsupported(answer)) => answer,
    };
    tracing::debug!(%refusal, "WebSocket not spoken: falling back to SPDY");
    let spdy = cluster.with_refresh(|client| {
        let path = path.clone();
        async move {
            match spdy_offering(&client, &path, &REMOTE_COMMAND_SPDY, needs).await {
                Ok(ok) => Ok(Ok(ok)),
                Err(Failure::Fatal(e @ ClusterError::Unauthorized(_))) => Err(e),
                Err(f) => Ok(Err(f)),
            }
        }
    });
    match spdy.await? {
        Ok((io, answer)) => {
            let version =
                negotiate::spdy_check_remote_command(&REMOTE_COMMAND_SPDY, answer.as_deref())
                    .map_err(|e| ClusterError::Protocol(e.to_string()))?;
            crate::exec::spdy::start(
                io,
                version,
                &request,
                cluster.liveness,
                &cluster.cancel,
                &cluster.tracker,
            )
            .map_err(ClusterError::Protocol)
        }
        Err(Failure::Fatal(e)) => Err(e),
        Err(Failure::Unsupported(answer)) => Err(ClusterError::Protocol(format!(
            "the cluster speaks neither remote-command protocol: WebSocket ({refusal}), SPDY \
             ({answer})"
        ))),
    }
}
