//! Writing the kubeconfig that points clients at the emulated cluster, and the exec credential
//! plugin output (`tether-testkit credential`).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::AuthMode;
use crate::tls::Pki;

/// The cluster, user and context name in written kubeconfigs.
pub const CONTEXT: &str = "tether-testkit";

/// What a kubeconfig needs to know.
#[derive(Debug)]
pub struct KubeconfigSpec<'a> {
    /// `https://127.0.0.1:PORT`.
    pub server: &'a str,
    /// The cluster's PKI.
    pub pki: &'a Pki,
    /// Which credential to write.
    pub auth: AuthMode,
    /// The current token (for [`AuthMode::Token`]).
    pub token: &'a str,
    /// The exec plugin command line (for [`AuthMode::Exec`]).
    pub exec_command: &'a [String],
}

/// Renders the kubeconfig as YAML.
#[must_use]
pub fn render(spec: &KubeconfigSpec<'_>) -> String {
    let user = match spec.auth {
        AuthMode::Token => json!({"token": spec.token}),
        AuthMode::ClientCert => json!({
            "client-certificate-data": BASE64.encode(&spec.pki.client_cert_pem),
            "client-key-data": BASE64.encode(&spec.pki.client_key_pem),
        }),
        AuthMode::Exec => {
            let (command, args) =
                spec.exec_command.split_first().map_or(("", &[][..]), |(c, a)| (c.as_str(), a));
            json!({"exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": command,
                "args": args,
                "interactiveMode": "Never",
                "provideClusterInfo": false,
            }})
        }
    };
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {
            "server": spec.server,
            "certificate-authority-data": BASE64.encode(&spec.pki.ca_pem),
        }}],
        "users": [{"name": CONTEXT, "user": user}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default"}}],
        "current-context": CONTEXT,
        "preferences": {},
    });
    serde_yaml::to_string(&config).unwrap_or_default()
}

/// Writes the kubeconfig with owner-only permissions.
///
/// # Errors
/// Fails if the file cannot be written.
pub fn write(path: &Path, spec: &KubeconfigSpec<'_>) -> std::io::Result<()> {
    crate::auth::write_private(path, &render(spec))
}

/// The `ExecCredential` an exec plugin prints for `token`.
#[must_use]
pub fn exec_credential(token: &str) -> Value {
    json!({
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token},
    })
}
