//! What clients sent, for tests that check clients: each request's method, path and query as
//! sent, and User-Agent (the last [`KEEP`]), and the upgrades that succeeded, by protocol.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// How many requests are kept.
pub const KEEP: usize = 4096;

/// One request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path and the query string exactly as sent.
    pub target: String,
    /// The User-Agent header, empty when absent.
    pub user_agent: String,
}

/// The audit log of one cluster.
#[derive(Debug, Default)]
pub(crate) struct Audit {
    requests: Mutex<VecDeque<Request>>,
    upgrades: Mutex<BTreeMap<String, u64>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Audit {
    pub(crate) fn request(&self, req: &http::Request<hyper::body::Incoming>) {
        let target = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
        let user_agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let mut requests = lock(&self.requests);
        if requests.len() == KEEP {
            requests.pop_front();
        }
        requests.push_back(Request { method: req.method().to_string(), target, user_agent });
    }

    /// An upgrade answered 101 with `protocol` (`websocket:v5.channel.k8s.io`,
    /// `spdy:portforward.k8s.io`, ...).
    pub(crate) fn upgraded(&self, protocol: String) {
        *lock(&self.upgrades).entry(protocol).or_default() += 1;
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        lock(&self.requests).iter().cloned().collect()
    }

    pub(crate) fn upgrades(&self) -> BTreeMap<String, u64> {
        lock(&self.upgrades).clone()
    }
}
