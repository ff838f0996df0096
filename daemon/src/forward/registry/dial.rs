//! Dialing through a forward without a local listener: a stream to one of its remote ports
//! over the tunnel in use, waiting for one up to a hold.

use std::time::Duration;

use super::Registry;

/// Errors of [`Registry::dial`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    /// No such forward.
    #[error("failed to find forward {0:?}: see `tether ls`")]
    NotFound(String),
    /// The forward has no such remote port.
    #[error("failed to dial: the forward has no remote port {0}")]
    NoSuchPort(String),
    /// No tunnel became ready in time.
    #[error(
        "failed to dial: forward {0:?} has no working tunnel right now; see `tether ls` and `tether events`"
    )]
    NotReady(String),
    /// The tunnel refused the stream.
    #[error("failed to dial: {0}")]
    Tunnel(String),
}

impl Registry {
    /// Opens a stream through a forward's current tunnel, to the mapping whose remote port is
    /// `port` (the first when `None`), waiting up to `hold` for a tunnel. Returns the stream, the
    /// pod and the container port.
    ///
    /// # Errors
    /// Unknown forward or port, or no tunnel in time.
    pub async fn dial(
        &self,
        name: &str,
        port: Option<&crate::forward::spec::RemotePort>,
        hold: Duration,
    ) -> Result<(crate::tunnel::Stream, String, u16), DialError> {
        let (mut active_rx, index) = {
            let entries = self.entries.lock().await;
            let entry = entries.get(name).ok_or_else(|| DialError::NotFound(name.to_owned()))?;
            let index = match port {
                None => 0,
                Some(p) => entry
                    .shared
                    .spec
                    .ports
                    .iter()
                    .position(|m| &m.remote == p)
                    .ok_or_else(|| DialError::NoSuchPort(p.to_string()))?,
            };
            (entry.shared.active.clone(), index)
        };
        let ready = tokio::time::timeout(
            hold,
            active_rx.wait_for(|a| a.as_ref().is_some_and(|a| !a.tunnel.dead().is_cancelled())),
        )
        .await
        .map_err(|_| DialError::NotReady(name.to_owned()))?
        .map_err(|_| DialError::NotReady(name.to_owned()))?
        .clone();
        let Some(active) = ready else { return Err(DialError::NotReady(name.to_owned())) };
        let port = active.ports[index];
        let stream =
            active.tunnel.open(port).await.map_err(|e| DialError::Tunnel(e.to_string()))?;
        Ok((stream, active.pod, port))
    }
}
