//! The protocols spoken directly, with `tether-wire`'s client side: authentication errors, the
//! legacy channel protocols kubectl no longer uses, the SPDY tunnel and the legacy WebSocket
//! port-forward, and negotiation failures. These run without kubectl.

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use http::{Method, StatusCode};
use tether_testkit::cli::ControlClient;
use tether_wire::channel::{self, ChannelCodec, ExitOutcome, Frame, MessageKind};
use tether_wire::negotiate;
use tether_wire::portforward::{ClientDecoder, ClientEvent};
use tether_wire::spdy::{Event, HeaderBlock, Role, Session};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::harness::{Env, modern, old};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

fn client(env: &Env) -> ControlClient {
    ControlClient::from_kubeconfig(&env.kubeconfig).expect("kubeconfig")
}

/// Opens a WebSocket to `path` offering `protocols`; the server's chosen protocol, or the
/// HTTP status of a refusal.
async fn websocket(env: &Env, path: &str, protocols: &str) -> Result<(Ws, String), StatusCode> {
    let c = client(env);
    let tls = c.connect().await.expect("TLS");
    let mut req = format!("wss://{}{path}", c.authority()).into_client_request().expect("request");
    let headers = req.headers_mut();
    headers.insert(
        "Authorization",
        format!("Bearer {}", c.token().expect("token")).parse().expect("header"),
    );
    if !protocols.is_empty() {
        headers.insert("Sec-WebSocket-Protocol", protocols.parse().expect("header"));
    }
    match tokio_tungstenite::client_async(req, tls).await {
        Ok((ws, resp)) => {
            let chosen = resp
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            Ok((ws, chosen.to_owned()))
        }
        Err(tungstenite::Error::Http(resp)) => Err(resp.status()),
        Err(e) => panic!("handshake failed: {e}"),
    }
}

#[test]
fn missing_or_wrong_credentials_get_401_with_a_status() {
    let env = &modern();
    for token in [None, Some("wrong".to_owned())] {
        let c = client(env).with_token(token);
        let (status, body) = env
            .runtime
            .block_on(c.request(Method::GET, "/api/v1/namespaces/default/pods", None))
            .expect("request");
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let status: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            (status["kind"].as_str(), status["code"].as_i64()),
            (Some("Status"), Some(401)),
            "{status}"
        );
        assert_eq!(status["reason"], "Unauthorized");
    }
}

/// Runs `sh -c SCRIPT` over a WebSocket channel protocol; returns stdout, stderr and the outcome.
async fn exec_ws(env: &Env, protocol: &str, script: &str) -> (Vec<u8>, Vec<u8>, ExitOutcome) {
    let script = url::form_urlencoded::byte_serialize(script.as_bytes()).collect::<String>();
    let path = format!(
        "/api/v1/namespaces/default/pods/toolbox/exec?command=sh&command=-c&command={script}&stdout=true&stderr=true"
    );
    let (mut ws, chosen) = websocket(env, &path, protocol).await.expect("upgrade");
    assert_eq!(chosen, protocol, "the server echoes the one protocol offered");
    let (version, encoding) = negotiate::remote_command_version(&chosen).expect("known");
    let codec = ChannelCodec::new(version, encoding);
    let (mut out, mut err, mut status) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(msg) = ws.next().await {
        let (kind, payload) = match msg.expect("message") {
            Message::Binary(b) => (MessageKind::Binary, b),
            Message::Text(t) => (MessageKind::Text, Bytes::from(t)),
            Message::Close(_) => break,
            _ => continue,
        };
        match codec.decode(kind, payload).expect("valid message") {
            Frame::Data { channel: channel::id::STDOUT, payload } => {
                out.extend_from_slice(&payload)
            }
            Frame::Data { channel: channel::id::STDERR, payload } => {
                err.extend_from_slice(&payload)
            }
            Frame::Data { channel: channel::id::ERROR, payload } => {
                status.extend_from_slice(&payload)
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let outcome = channel::decode_error_channel(version, &status).expect("status");
    (out, err, outcome)
}

#[test]
fn legacy_channel_protocols_exec_when_offered() {
    let env = &modern();
    for protocol in [negotiate::V4_CHANNEL, negotiate::V4_BASE64_CHANNEL] {
        let (out, err, outcome) =
            env.runtime.block_on(exec_ws(env, protocol, "echo hi; echo oops >&2; exit 3"));
        assert_eq!((out.as_slice(), err.as_slice()), (&b"hi\n"[..], &b"oops\n"[..]), "{protocol}");
        assert_eq!(outcome, ExitOutcome::ExitCode(3), "{protocol}");
    }
    for protocol in [negotiate::V1_CHANNEL, negotiate::V1_BASE64_CHANNEL] {
        let (out, _, outcome) = env.runtime.block_on(exec_ws(env, protocol, "echo v1; exit 4"));
        assert_eq!(out, b"v1\n", "{protocol}");
        let ExitOutcome::Error { message, .. } = outcome else {
            panic!("v1 reports failure as text")
        };
        assert!(message.contains("exit code 4"), "{message}");
    }
}

/// Everything that arrives on channel `id` of `ws` until it ends; other channels are skipped.
async fn read_channel(ws: &mut Ws, codec: &ChannelCodec, id: u8) -> Vec<u8> {
    let mut got = Vec::new();
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Binary(b) = msg else { continue };
        if let Ok(Frame::Data { channel, payload }) = codec.decode(MessageKind::Binary, b)
            && channel == id
        {
            got.extend_from_slice(&payload);
        }
    }
    got
}

#[test]
fn v5_close_ends_stdin_and_old_clusters_refuse_v5() {
    let env = &modern();
    env.runtime.block_on(async {
        let path = "/api/v1/namespaces/default/pods/toolbox/exec?command=wc&command=-c&stdin=true&stdout=true";
        let (mut ws, chosen) = websocket(env, path, negotiate::V5_CHANNEL).await.expect("upgrade");
        assert_eq!(chosen, negotiate::V5_CHANNEL);
        let codec = ChannelCodec::new(channel::Version::V5, channel::Encoding::Binary);
        ws.send(Message::Binary(codec.encode(channel::id::STDIN, &[7u8; 1000]))).await.expect("send");
        ws.send(Message::Binary(codec.encode_close(channel::id::STDIN).expect("v5"))).await.expect("close");
        let out = read_channel(&mut ws, &codec, channel::id::STDOUT).await;
        assert_eq!(String::from_utf8_lossy(&out).trim(), "1000");
    });
    let old = old();
    let refused = old.runtime.block_on(websocket(
        &old,
        "/api/v1/namespaces/default/pods/toolbox/exec?command=true&stdout=true",
        negotiate::V5_CHANNEL,
    ));
    assert_eq!(refused.err(), Some(StatusCode::FORBIDDEN), "no translator before 1.30");
}

#[test]
fn spdy_tunnel_with_the_wire_client_session() {
    let env = &modern();
    let pod = env.web_pods()[0].clone();
    env.runtime.block_on(async {
        let path = format!("/api/v1/namespaces/default/pods/{pod}/portforward");
        let (mut ws, chosen) =
            websocket(env, &path, negotiate::PORT_FORWARD_TUNNEL).await.expect("upgrade");
        assert_eq!(chosen, negotiate::PORT_FORWARD_TUNNEL);
        let mut spdy = Session::new(Role::Client);
        // Three connections set up without waiting for any reply, the last to a closed port.
        let mut data = Vec::new();
        for (request, port) in [("0", "8080"), ("1", "8080"), ("2", "9")] {
            let headers = |kind| {
                HeaderBlock::from_pairs([
                    ("streamtype", kind),
                    ("port", port),
                    ("requestid", request),
                ])
            };
            let error = spdy.open_stream(&headers("error"), false).expect("open");
            spdy.finish(error).expect("half-close the error stream");
            let id = spdy.open_stream(&headers("data"), false).expect("open");
            spdy.send_data(id, Bytes::from_static(b"GET / HTTP/1.0\r\n\r\n"), true).expect("send");
            data.push((id, error));
        }
        let mut bodies = vec![Vec::new(); 3];
        let mut done = [false; 3];
        let mut error_text = Vec::new();
        while !done.iter().all(|d| *d) {
            let mut out = Vec::new();
            while let Some(chunk) = spdy.poll_transmit() {
                out.extend_from_slice(&chunk);
            }
            if !out.is_empty() {
                ws.send(Message::Binary(out.into())).await.expect("send");
            }
            let Some(Ok(Message::Binary(b))) = ws.next().await else {
                panic!("tunnel ended early")
            };
            spdy.receive(b);
            while let Some(event) = spdy.poll_event().expect("valid") {
                match event {
                    Event::Data { stream_id, data: bytes, fin } => {
                        if let Some(i) = data.iter().position(|(d, _)| *d == stream_id) {
                            bodies[i].extend_from_slice(&bytes);
                            done[i] |= fin;
                        } else if stream_id == data[2].1 {
                            error_text.extend_from_slice(&bytes);
                        }
                    }
                    Event::Reset { stream_id, .. } if stream_id == data[2].0 => done[2] = true,
                    _ => {}
                }
            }
        }
        for body in &bodies[..2] {
            let text = String::from_utf8_lossy(body);
            assert!(text.starts_with("HTTP/1.0 200") && text.contains(&pod), "{text}");
        }
        let text = String::from_utf8_lossy(&error_text);
        assert!(
            text.contains("error forwarding port 9") && text.contains("connection refused"),
            "{text}"
        );
    });
}

#[test]
fn legacy_websocket_port_forward_with_the_wire_decoder() {
    for env in [&modern(), &old()] {
        let pod = env.web_pods()[0].clone();
        env.runtime.block_on(async {
            let path = format!("/api/v1/namespaces/default/pods/{pod}/portforward?ports=8080");
            let offer = format!("{}, {}", negotiate::V5_CHANNEL, negotiate::V4_CHANNEL);
            let (mut ws, chosen) = websocket(env, &path, &offer).await.expect("upgrade");
            assert_eq!(chosen, negotiate::V4_CHANNEL, "what kube-rs and the Python client require");
            let mut decoder = ClientDecoder::new(&[8080]).expect("decoder");
            ws.send(Message::Binary(tether_wire::portforward::encode(
                0,
                b"GET / HTTP/1.0\r\n\r\n",
            )))
            .await
            .expect("send");
            let mut body = Vec::new();
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Binary(b) = msg else { continue };
                match decoder.decode(b).expect("valid") {
                    Some(ClientEvent::Data { data, .. }) => body.extend_from_slice(&data),
                    Some(ClientEvent::Error { message, .. }) => {
                        panic!("error: {}", String::from_utf8_lossy(&message))
                    }
                    None => {}
                }
            }
            let text = String::from_utf8_lossy(&body);
            assert!(text.starts_with("HTTP/1.0 200") && text.contains(&pod), "{text}");
        });
    }
}

#[test]
fn spdy_negotiation_failures_name_the_supported_versions() {
    let env = &modern();
    let status = env.runtime.block_on(async {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let c = client(env);
        let mut tls = c.connect().await.expect("TLS");
        let head = format!(
            "POST /api/v1/namespaces/default/pods/toolbox/exec?command=true&stdout=true HTTP/1.1\r\nHost: {}\r\n\
             Authorization: Bearer {}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\
             X-Stream-Protocol-Version: v9.channel.k8s.io\r\nContent-Length: 0\r\n\r\n",
            c.authority(),
            c.token().expect("token")
        );
        tls.write_all(head.as_bytes()).await.expect("write");
        let mut buf = vec![0u8; 4096];
        let n = tls.read(&mut buf).await.expect("read");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    for v in negotiate::REMOTE_COMMAND_SPDY_KUBELET {
        assert!(
            status
                .to_ascii_lowercase()
                .contains(&format!("x-accepted-stream-protocol-versions: {v}")),
            "{status}"
        );
    }
}

/// The v5 translator upgrades first and learns from the kubelet that no stream was asked for:
/// a 101, then an InternalError Status on channel 3. Older paths refuse before the upgrade.
#[test]
fn a_v5_exec_without_streams_is_upgraded_then_refused_on_the_error_channel() {
    let env = &modern();
    env.runtime.block_on(async {
        let path = "/api/v1/namespaces/default/pods/toolbox/exec?command=true";
        let (mut ws, chosen) = websocket(env, path, negotiate::V5_CHANNEL).await.expect("101");
        assert_eq!(chosen, negotiate::V5_CHANNEL);
        let codec = ChannelCodec::new(channel::Version::V5, channel::Encoding::Binary);
        let status = read_channel(&mut ws, &codec, channel::id::ERROR).await;
        let status: serde_json::Value = serde_json::from_slice(&status).expect("a Status");
        assert_eq!(
            (status["reason"].as_str(), status["code"].as_i64()),
            (Some("InternalError"), Some(500))
        );
        let message = status["message"].as_str().unwrap_or_default();
        assert_eq!(
            message,
            "Internal error occurred: unable to upgrade connection: you must specify at least 1 of \
             stdin, stdout, stderr"
        );
        let refused = websocket(env, path, negotiate::V4_CHANNEL).await.map(|(_, p)| p);
        assert_eq!(
            refused.err(),
            Some(StatusCode::BAD_REQUEST),
            "the kubelet's path refuses first"
        );
    });
}
