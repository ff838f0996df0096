//! HTTP heads of the captures and the negotiation matrix: offers, selections, checks, fallbacks.

use serde_json::Value;
use tether_wire::channel::Version;
use tether_wire::negotiate::{
    self, PORT_FORWARD, PORT_FORWARD_TUNNEL, REMOTE_COMMAND_SPDY, REMOTE_COMMAND_SPDY_KUBELET,
    V4_CHANNEL, V5_CHANNEL,
};

use crate::capture::Capture;

/// A parsed request or response head: first line and headers in order.
struct Head {
    line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn parse(text: &str) -> Self {
        let mut lines = text.split("\r\n");
        let line = lines.next().expect("first line").to_owned();
        let headers = lines
            .take_while(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header line");
                (n.to_owned(), v.trim().to_owned())
            })
            .collect();
        Self { line, headers }
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn first(&self, name: &str) -> Option<&str> {
        self.all(name).into_iter().next()
    }
}

fn heads(capture: &Capture) -> Vec<(String, Head)> {
    capture
        .layer("http")
        .map(|e| {
            (
                e["dir"].as_str().expect("dir").to_owned(),
                Head::parse(e["text"].as_str().expect("text")),
            )
        })
        .collect()
}

/// For every upgrade in a capture: the server's selection from the request equals the answer the
/// fake server gave, and the client's check of that answer agrees with what kubectl did next.
fn check_upgrades(name: &str) -> Vec<String> {
    let capture = Capture::load(name);
    let heads = heads(&capture);
    let mut chosen = Vec::new();
    for pair in heads.windows(2) {
        let [(d1, req), (d2, resp)] = pair else { continue };
        if d1 != "c2s" || d2 != "s2c" {
            continue;
        }
        if let Some(offer) = req.first("Sec-WebSocket-Protocol") {
            let offers: Vec<&str> = negotiate::split_protocols(offer).collect();
            if resp.line.contains(" 101 ") {
                let supported = [V5_CHANNEL, PORT_FORWARD_TUNNEL];
                let selected = negotiate::ws_select(Some(offer), &supported).expect("selected");
                assert_eq!(resp.first("Sec-WebSocket-Protocol"), Some(selected));
                let checked =
                    negotiate::ws_check_answer(&offers, Some(selected)).expect("accepted");
                chosen.push(checked.to_owned());
            } else {
                assert!(
                    resp.line.contains(" 400 "),
                    "refused to force the fallback: {}",
                    resp.line
                );
            }
        }
        let versions = req.all("X-Stream-Protocol-Version");
        if !versions.is_empty() {
            assert_eq!(req.first("Upgrade"), Some("SPDY/3.1"));
            let supported: &[&str] = if versions.contains(&PORT_FORWARD) {
                &[PORT_FORWARD]
            } else {
                &REMOTE_COMMAND_SPDY_KUBELET
            };
            let selected =
                negotiate::spdy_select(versions.iter().copied(), supported).expect("common");
            assert_eq!(resp.first("X-Stream-Protocol-Version"), Some(selected));
            chosen.push(selected.to_owned());
        }
    }
    chosen
}

#[test]
fn upgrades_in_every_capture_negotiate_as_recorded() {
    let ws_exec =
        ["exec-ws-v5-stdin-eof.jsonl", "exec-ws-v5-exit-code.jsonl", "attach-ws-v5.jsonl"];
    for name in ws_exec {
        assert_eq!(check_upgrades(name), vec![V5_CHANNEL], "{name}");
    }
    assert_eq!(check_upgrades("portforward-ws-tunnel.jsonl"), vec![PORT_FORWARD_TUNNEL]);
    assert_eq!(
        check_upgrades("exec-fallback-to-spdy.jsonl"),
        vec![V4_CHANNEL],
        "kubelet lands on v4"
    );
    assert_eq!(check_upgrades("exec-spdy-tty-resize.jsonl"), vec![V4_CHANNEL]);
    assert_eq!(check_upgrades("portforward-fallback-to-spdy.jsonl"), vec![PORT_FORWARD]);
}

#[test]
fn preflight_fetches_discovery_then_the_pod() {
    let capture = Capture::load("preflight-http.jsonl");
    let requests: Vec<Head> =
        heads(&capture).into_iter().filter(|(d, _)| d == "c2s").map(|(_, h)| h).collect();
    let paths: Vec<&str> =
        requests.iter().map(|h| h.line.split(' ').nth(1).expect("path")).collect();
    assert_eq!(
        paths,
        [
            "/version?timeout=5s",
            "/api?timeout=32s",
            "/apis?timeout=32s",
            "/api/v1?timeout=32s",
            "/api/v1/namespaces/default/pods/nginx"
        ]
    );
    assert!(
        requests[1].first("Accept").is_some_and(|a| a.contains("as=APIGroupDiscoveryList")),
        "aggregated discovery is asked for"
    );
    assert!(requests.iter().all(|h| h.first("Authorization") == Some("Bearer fake-token-123")));
    assert_eq!(requests[1].first("Kubectl-Command"), Some("kubectl exec"));
}

fn rows<'a>(matrix: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> + 'a {
    matrix[key].as_array().expect("rows").iter()
}

#[test]
fn negotiation_matrix_agrees_with_our_client_and_server_rules() {
    let text = std::fs::read_to_string(crate::capture::dir().join("negotiation-matrix.json"))
        .expect("matrix");
    let matrix: Value = serde_json::from_str(&text).expect("JSON");
    let mut checked = 0;
    for row in rows(&matrix, "exec_rows").chain(rows(&matrix, "portforward_rows")) {
        let scenario = row["scenario"].as_str().expect("scenario");
        let server = row["server_ws_response"].as_str().unwrap_or_default();
        // A 101 without the offered protocol must fail the client check, as kubectl falls back.
        if server.starts_with("101") {
            let answer = server.split("Sec-WebSocket-Protocol: ").nth(1);
            assert!(negotiate::ws_check_answer(&[V5_CHANNEL], answer).is_err(), "{scenario}");
            checked += 1;
        }
        for request in row["requests"].as_array().into_iter().flatten() {
            let headers: Vec<&str> = request["negotiation_headers"]
                .as_array()
                .expect("headers")
                .iter()
                .map(|h| h.as_str().expect("str"))
                .collect();
            let value = |name: &'static str| {
                headers.iter().filter_map(move |h| h.strip_prefix(name)).map(str::trim)
            };
            if let Some(offer) = value("Sec-WebSocket-Protocol:").next() {
                let picked = negotiate::ws_select(Some(offer), &[V5_CHANNEL, PORT_FORWARD_TUNNEL])
                    .expect("one offer");
                assert!(
                    negotiate::is_tunnel_protocol(picked) || picked == V5_CHANNEL,
                    "{scenario}"
                );
            } else {
                let offers: Vec<&str> = value("X-Stream-Protocol-Version:").collect();
                let pf = offers == [PORT_FORWARD];
                let supported: &[&str] =
                    if pf { &[PORT_FORWARD] } else { &REMOTE_COMMAND_SPDY_KUBELET };
                let picked =
                    negotiate::spdy_select(offers.iter().copied(), supported).expect("common");
                if pf {
                    assert_eq!(negotiate::spdy_check_port_forward(Some(picked)), Ok(()));
                } else {
                    assert_eq!(offers, REMOTE_COMMAND_SPDY, "kubectl offers v5 to v1 in order");
                    assert_eq!(
                        negotiate::spdy_check_remote_command(&offers, Some(picked)),
                        Ok(Version::V4)
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "matrix rows checked: {checked}");
    let versions: Vec<&str> = rows(&matrix, "kubectl_versions")
        .map(|r| r["port-forward"].as_str().expect("pf"))
        .collect();
    assert_eq!(
        versions.iter().filter(|v| v.starts_with("GET WebSocket")).count(),
        3,
        "1.31+ tunnel first"
    );
}
