//! The cluster's own PKI: a CA generated at start, a server certificate for 127.0.0.1 and
//! localhost, a client certificate for kubeconfigs, and the rustls server configuration.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

/// Errors from setting up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("failed to generate certificates")]
    Generate(#[from] rcgen::Error),
    /// rustls rejected the configuration.
    #[error("failed to configure TLS")]
    Rustls(#[from] rustls::Error),
    /// The client verifier could not be built.
    #[error("failed to configure client certificate verification")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// Certificates and keys of one emulated cluster.
#[derive(Debug)]
pub struct Pki {
    /// The CA certificate, PEM (kubeconfig `certificate-authority-data`).
    pub ca_pem: String,
    /// The client certificate, PEM (kubeconfig `client-certificate-data`).
    pub client_cert_pem: String,
    /// The client key, PEM (kubeconfig `client-key-data`).
    pub client_key_pem: String,
    /// The client certificate, DER, to recognise it on connections.
    pub client_cert_der: CertificateDer<'static>,
    ca_der: CertificateDer<'static>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key_der: Vec<u8>,
}

/// The user name the client certificate authenticates as.
pub const CLIENT_CERT_USER: &str = "tether-admin";

impl Pki {
    /// Generates a fresh CA, server certificate and client certificate.
    ///
    /// # Errors
    /// Fails only if key generation fails.
    pub fn generate() -> Result<Self, TlsError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "tether-testkit-ca");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let mut server =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        server.distinguished_name.push(DnType::CommonName, "tether-testkit");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &issuer)?;

        let client_key = KeyPair::generate()?;
        let mut client = CertificateParams::new(Vec::<String>::new())?;
        client.distinguished_name.push(DnType::CommonName, CLIENT_CERT_USER);
        client.distinguished_name.push(DnType::OrganizationName, "system:masters");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client.signed_by(&client_key, &issuer)?;

        Ok(Self {
            ca_pem: ca_cert.pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            client_cert_der: client_cert.der().clone(),
            ca_der: ca_cert.der().clone(),
            server_chain: vec![server_cert.der().clone()],
            server_key_der: server_key.serialize_der(),
        })
    }

    /// A rustls server config that asks for, but does not require, a client certificate, and
    /// negotiates no ALPN protocol, so every connection is HTTP/1.1 as upgrades need.
    ///
    /// # Errors
    /// Fails if rustls rejects the generated material.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone())?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.server_chain.clone(), key)?;
        Ok(Arc::new(config))
    }
}
