//! Pod lists and watches with tidy query strings. kube-core builds `?&labelSelector=...`; the
//! API server accepts it, but audit logs and API priority-and-fairness rules show the stray `&`.

use futures_util::Stream;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, ObjectList, WatchEvent, WatchParams};
use kube::core::Request;

/// `?&` becomes `?`.
fn tidy(mut req: http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let uri = req.uri().to_string();
    if let Some((path, query)) = uri.split_once("?&")
        && let Ok(tidy) = format!("{path}?{query}").parse()
    {
        *req.uri_mut() = tidy;
    }
    req
}

fn pods(namespace: &str) -> Request {
    Request::new(format!("/api/v1/namespaces/{namespace}/pods"))
}

/// Lists pods, as `Api::<Pod>::list` does.
pub(super) async fn list(
    client: &kube::Client,
    namespace: &str,
    lp: &ListParams,
) -> kube::Result<ObjectList<Pod>> {
    let mut req = pods(namespace).list(lp).map_err(kube::Error::BuildRequest)?;
    req.extensions_mut().insert("list");
    client.request::<ObjectList<Pod>>(tidy(req)).await
}

/// Watches pods from `version`, as `Api::<Pod>::watch` does.
pub(super) async fn watch(
    client: &kube::Client,
    namespace: &str,
    wp: &WatchParams,
    version: &str,
) -> kube::Result<impl Stream<Item = kube::Result<WatchEvent<Pod>>> + use<>> {
    let mut req = pods(namespace).watch(wp, version).map_err(kube::Error::BuildRequest)?;
    req.extensions_mut().insert("watch");
    client.request_events::<Pod>(tidy(req)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_has_no_stray_ampersand() {
        let lp = ListParams::default().labels("app=web");
        let req = tidy(pods("shop").list(&lp).expect("request"));
        assert_eq!(req.uri().to_string(), "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb");
        let wp = WatchParams::default().timeout(290).fields("metadata.name=x");
        let req = tidy(pods("shop").watch(&wp, "18").expect("request"));
        let uri = req.uri().to_string();
        assert!(uri.starts_with("/api/v1/namespaces/shop/pods?watch=true&"), "{uri}");
    }
}
