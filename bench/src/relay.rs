//! The physical ceiling: a TLS server in this process that relays each connection to a
//! workload, so a client pays one encryption hop, as it does to an API server.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// Relay copy buffers, each way.
const BUFFER: usize = 64 * 1024;

/// Listening relays; dropping this stops them and every connection they carry.
#[derive(Debug)]
pub struct TlsRelay {
    /// A client configuration that trusts the relay's certificate.
    pub client_config: Arc<ClientConfig>,
    /// The relay address for each target, in order.
    pub addrs: Vec<SocketAddr>,
    _tasks: JoinSet<()>,
}

impl TlsRelay {
    /// Starts one relay per target port on 127.0.0.1 (with a self-signed certificate for
    /// `localhost`, the same rustls provider as the testkit's API server).
    pub async fn start(targets: &[u16]) -> anyhow::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .context("failed to make the relay certificate")?;
        let cert = key.cert.der().clone();
        let private =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], private)?;
        let mut roots = RootCertStore::empty();
        roots.add(cert)?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let acceptor = TlsAcceptor::from(Arc::new(server));
        let mut tasks = JoinSet::new();
        let mut addrs = Vec::new();
        for &target in targets {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            addrs.push(listener.local_addr()?);
            tasks.spawn(serve(listener, acceptor.clone(), target));
        }
        Ok(Self { client_config: Arc::new(client), addrs, _tasks: tasks })
    }
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, target: u16) {
    // Owned here, so aborting this task aborts every connection it started.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of descriptors, most likely: give the others a moment to close.
                debug_log(&e);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            if let Err(e) = relay(tcp, acceptor, target).await {
                debug_log(&e);
            }
        });
    }
}

async fn relay(tcp: TcpStream, acceptor: TlsAcceptor, target: u16) -> std::io::Result<()> {
    tcp.set_nodelay(true)?;
    let mut tls = acceptor.accept(tcp).await?;
    let mut backend = TcpStream::connect(("127.0.0.1", target)).await?;
    backend.set_nodelay(true)?;
    tokio::io::copy_bidirectional_with_sizes(&mut tls, &mut backend, BUFFER, BUFFER).await?;
    Ok(())
}

/// Relay errors are expected when a client stops reading early; they matter only when
/// debugging the bench itself.
fn debug_log(e: &std::io::Error) {
    if std::env::var_os("TETHER_BENCH_DEBUG").is_some() {
        eprintln!("bench: relay: {e}");
    }
}
