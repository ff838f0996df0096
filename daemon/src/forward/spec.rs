//! What a forward is: its target and ports in kubectl's grammar, validated into real types.
//!
//! Targets: `pod/NAME`, `svc/NAME`, `deploy/NAME`, `sts/NAME` (with the long spellings kubectl
//! accepts) and a bare `NAME` for a pod. Ports: `LOCAL:REMOTE`, `:REMOTE` (a free local port),
//! `PORT` (the same both sides), and a name (`http`) for the remote side.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU16;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kind of object a forward reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// One pod, by name; the forward waits for it to come back.
    Pod,
    /// A service: its selector picks the pods, its ports map to container ports.
    Service,
    /// A deployment: its selector picks the pods.
    Deployment,
    /// A statefulset: its selector picks the pods.
    StatefulSet,
}

impl TargetKind {
    /// The short prefix kubectl prints (`pod`, `svc`, `deploy`, `sts`).
    #[must_use]
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Pod => "pod",
            Self::Service => "svc",
            Self::Deployment => "deploy",
            Self::StatefulSet => "sts",
        }
    }

    fn parse(prefix: &str) -> Option<Self> {
        Some(match prefix.to_ascii_lowercase().as_str() {
            "pod" | "pods" | "po" => Self::Pod,
            "svc" | "service" | "services" => Self::Service,
            "deploy" | "deployment" | "deployments" | "deployment.apps" | "deployments.apps" => {
                Self::Deployment
            }
            "sts" | "statefulset" | "statefulsets" | "statefulset.apps" | "statefulsets.apps" => {
                Self::StatefulSet
            }
            _ => return None,
        })
    }
}

/// A parsed target, such as `svc/db`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    /// What kind of object.
    pub kind: TargetKind,
    /// Its name.
    pub name: String,
}

/// Why a target or port did not parse. Each message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The target is malformed.
    #[error(
        "invalid target {input:?}: {reason}; use pod/NAME, svc/NAME, deploy/NAME, sts/NAME or NAME"
    )]
    Target {
        /// What was given.
        input: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A port spec is malformed.
    #[error("invalid port {input:?}: {reason}; use LOCAL:REMOTE, :REMOTE, PORT or a port name")]
    Port {
        /// What was given.
        input: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The bind address is not an IP address.
    #[error("invalid address {0:?}: use an IP address such as 127.0.0.1 or ::1")]
    Address(String),
    /// No ports at all.
    #[error("no ports given: a forward needs at least one port, such as 5432 or 8080:80")]
    NoPorts,
    /// A name that Kubernetes would not accept.
    #[error("invalid {what} {input:?}: {reason}")]
    Name {
        /// Which name.
        what: &'static str,
        /// What was given.
        input: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Checks a DNS-1123 label or subdomain, as Kubernetes object names must be.
pub fn check_name(what: &'static str, input: &str) -> Result<(), SpecError> {
    let err = |reason| SpecError::Name { what, input: input.to_owned(), reason };
    if input.is_empty() {
        return Err(err("it is empty"));
    }
    if input.len() > 253 {
        return Err(err("it is longer than 253 characters"));
    }
    let ok =
        input.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if !ok {
        return Err(err("use lower-case letters, digits, '-' and '.'"));
    }
    if input.starts_with(['-', '.']) || input.ends_with(['-', '.']) {
        return Err(err("it must start and end with a letter or digit"));
    }
    Ok(())
}

impl FromStr for Target {
    type Err = SpecError;

    fn from_str(input: &str) -> Result<Self, SpecError> {
        let bad = |reason| SpecError::Target { input: input.to_owned(), reason };
        let (kind, name) = match input.split_once('/') {
            Some((prefix, name)) => {
                (TargetKind::parse(prefix).ok_or_else(|| bad("unknown kind"))?, name)
            }
            None => (TargetKind::Pod, input),
        };
        if name.contains('/') {
            return Err(bad("too many '/'"));
        }
        check_name("name", name).map_err(|_| bad("the name must be a Kubernetes object name"))?;
        Ok(Self { kind, name: name.to_owned() })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.prefix(), self.name)
    }
}

/// The remote side of a port mapping: a number, or a container/service port name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RemotePort {
    /// A port number.
    Number(NonZeroU16),
    /// A named port (`http`), resolved against the pod or the service.
    Name(String),
}

impl fmt::Display for RemotePort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Name(s) => f.write_str(s),
        }
    }
}

/// One `LOCAL:REMOTE` mapping. `local` is `None` for "any free port"; once assigned, the daemon
/// stores the port it got so the forward keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    /// The local port, if fixed.
    pub local: Option<NonZeroU16>,
    /// The remote port.
    pub remote: RemotePort,
}

fn parse_port(input: &str, text: &str) -> Result<NonZeroU16, SpecError> {
    let bad = |reason| SpecError::Port { input: input.to_owned(), reason };
    let n: u32 = text.parse().map_err(|_| bad("not a number"))?;
    let n = u16::try_from(n).map_err(|_| bad("ports go from 1 to 65535"))?;
    NonZeroU16::new(n).ok_or_else(|| bad("ports go from 1 to 65535"))
}

fn parse_remote(input: &str, text: &str) -> Result<RemotePort, SpecError> {
    if text.is_empty() {
        return Err(SpecError::Port {
            input: input.to_owned(),
            reason: "the remote port is missing",
        });
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return parse_port(input, text).map(RemotePort::Number);
    }
    // IANA_SVC_NAME: at most 15 characters, lower-case letters, digits and '-', one letter.
    let valid = text.len() <= 15
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && text.bytes().any(|b| b.is_ascii_lowercase())
        && !text.starts_with('-')
        && !text.ends_with('-');
    if valid {
        Ok(RemotePort::Name(text.to_owned()))
    } else {
        Err(SpecError::Port {
            input: input.to_owned(),
            reason: "a port name has at most 15 lower-case letters, digits and '-'",
        })
    }
}

impl FromStr for PortMapping {
    type Err = SpecError;

    fn from_str(input: &str) -> Result<Self, SpecError> {
        match input.split_once(':') {
            Some((local, remote)) => {
                let local = if local.is_empty() { None } else { Some(parse_port(input, local)?) };
                Ok(Self { local, remote: parse_remote(input, remote)? })
            }
            None => {
                let remote = parse_remote(input, input)?;
                let local = match &remote {
                    RemotePort::Number(n) => Some(*n),
                    // kubectl needs a local port for a named remote; `http` alone means ":http".
                    RemotePort::Name(_) => None,
                };
                Ok(Self { local, remote })
            }
        }
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.local {
            Some(l) => write!(f, "{l}:{}", self.remote),
            None => write!(f, ":{}", self.remote),
        }
    }
}

/// Everything the user asked for when creating a forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardSpec {
    /// The forward's name, unique in the daemon.
    pub name: String,
    /// What to reach.
    pub target: Target,
    /// Namespace; `None` means the context's namespace.
    pub namespace: Option<String>,
    /// kubeconfig context; `None` means the current context.
    pub context: Option<String>,
    /// kubeconfig file; `None` means the default lookup (`KUBECONFIG`, `~/.kube/config`).
    pub kubeconfig: Option<String>,
    /// Port mappings, at least one.
    pub ports: Vec<PortMapping>,
    /// Local bind address, 127.0.0.1 unless the user asks otherwise.
    pub address: IpAddr,
}

impl ForwardSpec {
    /// Checks the parts that parsing alone does not.
    ///
    /// # Errors
    /// No ports, or an invalid name or namespace.
    pub fn validate(&self) -> Result<(), SpecError> {
        check_name("forward name", &self.name)?;
        if let Some(ns) = &self.namespace {
            check_name("namespace", ns)?;
        }
        if self.ports.is_empty() {
            return Err(SpecError::NoPorts);
        }
        Ok(())
    }

    /// The first field in which `other` differs from this spec, as the API names it, with this
    /// spec's value and the other's; `None` when they ask for the same forward.
    #[must_use]
    pub fn difference(&self, other: &Self) -> Option<(&'static str, String, String)> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(default)".to_owned());
        let ports =
            |p: &[PortMapping]| p.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        let fields = [
            ("spec.target", self.target.to_string(), other.target.to_string()),
            ("spec.namespace", opt(&self.namespace), opt(&other.namespace)),
            ("spec.context", opt(&self.context), opt(&other.context)),
            ("spec.kubeconfig", opt(&self.kubeconfig), opt(&other.kubeconfig)),
            ("spec.ports", ports(&self.ports), ports(&other.ports)),
            ("spec.address", self.address.to_string(), other.address.to_string()),
        ];
        fields.into_iter().find(|(_, a, b)| a != b)
    }

    /// A name for a forward when the user gives none: the target and the first remote port.
    #[must_use]
    pub fn default_name(target: &Target, ports: &[PortMapping]) -> String {
        let port = ports.first().map(|p| p.remote.to_string()).unwrap_or_default();
        format!("{}-{}-{port}", target.kind.prefix(), target.name).chars().take(63).collect()
    }
}

/// Parses a bind address.
///
/// # Errors
/// When it is not an IP address (`localhost` is accepted as 127.0.0.1).
pub fn parse_address(input: &str) -> Result<IpAddr, SpecError> {
    if input == "localhost" {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    input.parse().map_err(|_| SpecError::Address(input.to_owned()))
}

#[cfg(test)]
mod tests;
