//! `DaemonService`: the version handshake, information, and shutdown on request.

use std::sync::Arc;

use tether_proto::pb::daemon_service_server::DaemonService;
use tether_proto::pb::{
    GetInfoRequest, GetInfoResponse, HandshakeRequest, HandshakeResponse, ShutdownRequest,
    ShutdownResponse,
};
use tether_proto::{API_MAJOR, VERSION};
use tonic::{Request, Response, Status};

use super::ApiState;

/// The service.
#[derive(Debug)]
pub struct Daemon(pub(super) Arc<ApiState>);

#[tonic::async_trait]
impl DaemonService for Daemon {
    async fn handshake(
        &self,
        request: Request<HandshakeRequest>,
    ) -> Result<Response<HandshakeResponse>, Status> {
        let req = request.into_inner();
        let compatible = req.api_major == API_MAJOR;
        let message = if compatible {
            String::new()
        } else {
            format!(
                "the client speaks API v{} and tetherd {VERSION} speaks v{API_MAJOR}; restart the daemon with `tether daemon stop` and try again, or upgrade the client",
                req.api_major
            )
        };
        tracing::debug!(client = %req.client_name, version = %req.client_version, compatible, "handshake");
        Ok(Response::new(HandshakeResponse {
            daemon_version: VERSION.into(),
            api_major: API_MAJOR,
            compatible,
            message,
        }))
    }

    async fn get_info(
        &self,
        _request: Request<GetInfoRequest>,
    ) -> Result<Response<GetInfoResponse>, Status> {
        let s = &self.0;
        let (forwards, ready) = s.registry.counts().await;
        Ok(Response::new(GetInfoResponse {
            daemon_version: VERSION.into(),
            api_major: API_MAJOR,
            pid: std::process::id(),
            uptime_seconds: s.started.elapsed().as_secs(),
            socket_path: s.config.socket.display().to_string(),
            state_dir: s.config.state_dir.display().to_string(),
            forwards: u32::try_from(forwards).unwrap_or(u32::MAX),
            forwards_ready: u32::try_from(ready).unwrap_or(u32::MAX),
            log_file: s
                .config
                .log_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            launch: s.config.launch.as_str().into(),
        }))
    }

    async fn shutdown(
        &self,
        _request: Request<ShutdownRequest>,
    ) -> Result<Response<ShutdownResponse>, Status> {
        tracing::info!("shutdown requested through the API");
        self.0.shutdown.cancel();
        Ok(Response::new(ShutdownResponse {}))
    }
}
