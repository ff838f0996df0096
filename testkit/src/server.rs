//! The accept loop: TCP with fault shaping, TLS, and HTTP/1.1 with upgrades for each connection.

use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument as _;

use crate::cluster::Cluster;
use crate::faults::ConnEntry;

/// What a request handler knows about its connection.
#[derive(Debug)]
pub(crate) struct ConnCtx {
    pub cluster: Arc<Cluster>,
    pub entry: Arc<ConnEntry>,
    pub peer_cert: Option<CertificateDer<'static>>,
}

/// Serves `listener` until the cluster is cancelled.
pub(crate) async fn serve(
    cluster: Arc<Cluster>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let accepted = tokio::select! {
            () = cluster.cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "failed to accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _nodelay = tcp.set_nodelay(true);
        let close = cluster.cancel.child_token();
        let (io, entry) = match cluster.faults.register(tcp, close) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "failed to register a connection");
                continue;
            }
        };
        let span = tracing::debug_span!("conn", %peer);
        cluster
            .tracker
            .spawn(connection(cluster.clone(), acceptor.clone(), io, entry).instrument(span));
    }
}

async fn connection(
    cluster: Arc<Cluster>,
    acceptor: TlsAcceptor,
    io: crate::faults::FaultyIo,
    entry: Arc<ConnEntry>,
) {
    let tls = match acceptor.accept(io).await {
        Ok(tls) => tls,
        Err(e) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
    };
    let peer_cert =
        tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.clone().into_owned());
    let cancel = cluster.cancel.clone();
    let ctx = Arc::new(ConnCtx { cluster, entry, peer_cert });
    let service = service_fn(move |req| crate::rest::handle(ctx.clone(), req));
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(tls), service)
        .with_upgrades();
    tokio::select! {
        result = conn => if let Err(e) = result {
            tracing::debug!(error = %e, "connection ended with an error");
        },
        () = cancel.cancelled() => {}
    }
}
