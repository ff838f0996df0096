//! Authentication: bearer tokens (rotated by the token-expiry fault) and client certificates.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rustls::pki_types::CertificateDer;

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A valid bearer token.
    Token,
    /// The cluster's client certificate.
    ClientCert,
}

/// Why a request was not authenticated (always answered with 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No credentials at all.
    Missing,
    /// A token that is not (or no longer) valid.
    BadToken,
}

/// The credentials the cluster accepts.
#[derive(Debug)]
pub struct Auth {
    token: Mutex<String>,
    token_file: PathBuf,
    client_cert: CertificateDer<'static>,
}

fn fresh_token() -> String {
    format!("tk-{:032x}", rand::random::<u128>())
}

impl Auth {
    /// Accepts a fresh random token (also written to `token_file` for the exec plugin) and
    /// `client_cert`.
    ///
    /// # Errors
    /// Fails if the token file cannot be written.
    pub fn new(token_file: &Path, client_cert: CertificateDer<'static>) -> std::io::Result<Self> {
        let token = fresh_token();
        write_private(token_file, &token)?;
        Ok(Self { token: Mutex::new(token), token_file: token_file.to_owned(), client_cert })
    }

    /// The token valid now.
    #[must_use]
    pub fn current_token(&self) -> String {
        self.token.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The file holding the current token.
    #[must_use]
    pub fn token_file(&self) -> &Path {
        &self.token_file
    }

    /// Invalidates the current token and issues a new one; returns it.
    ///
    /// # Errors
    /// Fails if the token file cannot be rewritten (the new token is in force regardless).
    pub fn rotate(&self) -> std::io::Result<String> {
        let token = fresh_token();
        *self.token.lock().unwrap_or_else(PoisonError::into_inner) = token.clone();
        write_private(&self.token_file, &token)?;
        Ok(token)
    }

    /// Checks a request's `Authorization` header and the connection's client certificate.
    ///
    /// # Errors
    /// Why the request is unauthenticated.
    pub fn check(
        &self,
        authorization: Option<&str>,
        peer_cert: Option<&CertificateDer<'_>>,
    ) -> Result<Identity, Rejection> {
        if let Some(header) = authorization {
            let token = header.strip_prefix("Bearer ").map(str::trim);
            return match token {
                Some(t) if !t.is_empty() && t == self.current_token() => Ok(Identity::Token),
                _ => Err(Rejection::BadToken),
            };
        }
        match peer_cert {
            Some(cert) if cert.as_ref() == self.client_cert.as_ref() => Ok(Identity::ClientCert),
            _ => Err(Rejection::Missing),
        }
    }
}

/// Writes `contents` to a file only the owner can read.
///
/// # Errors
/// Fails if the file cannot be written.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_rotate_and_certificates_are_recognised() {
        let dir = std::env::temp_dir().join(format!("testkit-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let cert = CertificateDer::from(vec![1, 2, 3]);
        let auth = Auth::new(&dir.join("token"), cert.clone()).expect("auth");
        let old = format!("Bearer {}", auth.current_token());
        assert_eq!(auth.check(Some(&old), None), Ok(Identity::Token));
        assert_eq!(auth.check(None, Some(&cert)), Ok(Identity::ClientCert));
        assert_eq!(auth.check(None, None), Err(Rejection::Missing));
        let new = auth.rotate().expect("rotate");
        assert_eq!(auth.check(Some(&old), None), Err(Rejection::BadToken));
        assert_eq!(std::fs::read_to_string(dir.join("token")).expect("file"), new);
        assert_eq!(auth.check(Some("Basic abc"), Some(&cert)), Err(Rejection::BadToken));
        std::fs::remove_dir_all(dir).expect("cleanup");
    }
}
