//! A small HTTPS client for the control endpoint, configured from a kubeconfig the testkit wrote.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject as _};
use serde_json::Value;

use crate::faults::{Fault, FaultReport};

/// Errors from the control client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig could not be read or lacks something.
    #[error("failed to read kubeconfig {path}: {reason}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// TLS setup failed.
    #[error("failed to set up TLS")]
    Tls(#[from] rustls::Error),
    /// The connection failed.
    #[error("failed to connect to {0}")]
    Connect(String, #[source] std::io::Error),
    /// HTTP failed.
    #[error("failed to send the request")]
    Http(#[from] hyper::Error),
    /// The server refused.
    #[error("failed to apply the fault: the server answered {status}: {body}")]
    Refused {
        /// HTTP status.
        status: StatusCode,
        /// Response body.
        body: String,
    },
}

/// Talks to one cluster's control endpoint.
#[derive(Debug, Clone)]
pub struct ControlClient {
    host: String,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    token: Option<String>,
}

fn b64(v: &Value) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(v.as_str()?).ok()
}

impl ControlClient {
    /// Reads the server, CA and credentials of the current context.
    ///
    /// # Errors
    /// Fails when the file is not a kubeconfig written by the testkit.
    pub fn from_kubeconfig(path: &Path) -> Result<Self, ClientError> {
        let bad = |reason: &str| ClientError::Kubeconfig {
            path: path.display().to_string(),
            reason: reason.into(),
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(&e.to_string()))?;
        let kc: Value = serde_yaml::from_str(&text).map_err(|e| bad(&e.to_string()))?;
        let cluster = &kc["clusters"][0]["cluster"];
        let user = &kc["users"][0]["user"];
        let server = cluster["server"].as_str().ok_or_else(|| bad("no server"))?;
        let url = url::Url::parse(server).map_err(|e| bad(&e.to_string()))?;
        let host = url.host_str().ok_or_else(|| bad("no host"))?.to_owned();
        let port = url.port_or_known_default().ok_or_else(|| bad("no port"))?;
        let ca = b64(&cluster["certificate-authority-data"])
            .ok_or_else(|| bad("no certificate-authority-data"))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca).flatten() {
            roots.add(cert)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let (tls, token) =
            match (b64(&user["client-certificate-data"]), b64(&user["client-key-data"])) {
                (Some(cert), Some(key)) => {
                    let certs: Vec<CertificateDer<'static>> =
                        CertificateDer::pem_slice_iter(&cert).flatten().collect();
                    let key =
                        PrivateKeyDer::from_pem_slice(&key).map_err(|e| bad(&e.to_string()))?;
                    (builder.with_client_auth_cert(certs, key)?, None)
                }
                _ => (
                    builder.with_no_client_auth(),
                    Some(token_of(user).ok_or_else(|| bad("no usable credential"))?),
                ),
            };
        Ok(Self { host, port, tls: Arc::new(tls), token })
    }

    /// The bearer token this client presents, if it uses one.
    #[must_use]
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The same client presenting `token` (or no credentials at all).
    #[must_use]
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// `host:port` of the server.
    #[must_use]
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Opens a TLS connection to the server (HTTP/1.1, no ALPN).
    ///
    /// # Errors
    /// Fails if the server cannot be reached or its certificate is not the cluster's.
    pub async fn connect(
        &self,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, ClientError> {
        let addr = self.authority();
        let tcp = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| ClientError::Connect(addr.clone(), e))?;
        let _nodelay = tcp.set_nodelay(true);
        let name = ServerName::try_from(self.host.clone())
            .map_err(|e| ClientError::Connect(addr.clone(), std::io::Error::other(e)))?;
        tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| ClientError::Connect(addr, e))
    }

    /// Sends one request and returns the status and the whole body.
    ///
    /// # Errors
    /// Fails if the server cannot be reached or the exchange breaks.
    pub async fn request(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let tls = self.connect().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        let driver = tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, self.authority())
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::Connect(self.authority(), std::io::Error::other(e)))?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        driver.abort();
        Ok((status, bytes))
    }

    /// Applies `fault` on the server.
    ///
    /// # Errors
    /// Fails if the server cannot be reached or refuses the fault.
    pub async fn inject(&self, fault: &Fault) -> Result<FaultReport, ClientError> {
        let body = serde_json::to_vec(fault).unwrap_or_default();
        let (status, bytes) =
            self.request(http::Method::POST, "/testkit/v1/faults", Some(body)).await?;
        if !status.is_success() {
            return Err(ClientError::Refused {
                status,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        Ok(serde_json::from_slice(&bytes).unwrap_or_default())
    }
}

/// A static token, or the token an exec plugin prints.
fn token_of(user: &Value) -> Option<String> {
    if let Some(token) = user["token"].as_str() {
        return Some(token.to_owned());
    }
    let exec = &user["exec"];
    let command = exec["command"].as_str()?;
    let args: Vec<&str> = exec["args"].as_array()?.iter().filter_map(Value::as_str).collect();
    let out = std::process::Command::new(command).args(args).output().ok()?;
    let cred: Value = serde_json::from_slice(&out.stdout).ok()?;
    cred["status"]["token"].as_str().map(str::to_owned)
}
