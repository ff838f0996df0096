//! Port-forward over the kubelet's legacy WebSocket channel protocol (`ports=` query; spec
//! §7.2): one TCP connection per requested port, channel `2i` for data and `2i+1` for errors,
//! each channel opened with the port in little-endian. The socket closes when every port's
//! connection has ended.

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use tether_wire::channel::Encoding;
use tether_wire::portforward::{self, ServerEvent};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::Session;
use super::ws::Ws;

enum Up {
    Data(usize, Bytes),
    Error(usize, String),
    Done(usize),
}

fn message(encoding: Encoding, payload: Bytes) -> Message {
    use base64::Engine as _;
    match encoding {
        Encoding::Binary => Message::Binary(payload),
        Encoding::Base64 => {
            let mut text = String::from(char::from(b'0' + payload[0]));
            base64::engine::general_purpose::STANDARD.encode_string(&payload[1..], &mut text);
            Message::Text(text.into())
        }
    }
}

pub(super) async fn serve(session: Session, mut ws: Ws, encoding: Encoding) {
    let ports = session.opts.ports.clone();
    let close = session.ctx.entry.close.clone();
    for (i, port) in ports.iter().enumerate() {
        for ch in [portforward::data_channel(i), portforward::error_channel(i)] {
            if ws.send(message(encoding, portforward::encode_port_prefix(ch, *port))).await.is_err()
            {
                return;
            }
        }
    }
    let (up_tx, mut up_rx) = mpsc::channel::<Up>(64);
    let mut down: Vec<Option<mpsc::Sender<Bytes>>> = Vec::with_capacity(ports.len());
    for (i, port) in ports.iter().enumerate() {
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        down.push(Some(tx));
        let (pod, up) = (session.pod.clone(), up_tx.clone());
        let port = *port;
        session.ctx.cluster.tracker.spawn(async move {
            match super::pf::connect(&pod, port).await {
                Ok(tcp) => relay(i, tcp, rx, up).await,
                Err(text) => {
                    let _gone = up.send(Up::Error(i, text)).await;
                    let _gone = up.send(Up::Done(i)).await;
                }
            }
        });
    }
    drop(up_tx);
    let mut live = ports.len();
    while live > 0 {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Binary(b))) => forward(&mut down, ports.len(), &b).await,
                Some(Ok(Message::Text(t))) if encoding == Encoding::Base64 => {
                    if let Some(b) = decode_base64(t.as_bytes()) { forward(&mut down, ports.len(), &b).await }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            up = up_rx.recv() => match up {
                Some(Up::Data(i, data)) => {
                    let msg = portforward::encode(portforward::data_channel(i), &data);
                    if ws.send(message(encoding, msg)).await.is_err() { return }
                }
                Some(Up::Error(i, text)) => {
                    let msg = portforward::encode(portforward::error_channel(i), text.as_bytes());
                    if ws.send(message(encoding, msg)).await.is_err() { return }
                }
                Some(Up::Done(i)) => { down[i] = None; live -= 1; }
                None => break,
            },
            () = close.cancelled() => break,
        }
    }
    let _gone = ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })).await;
}

fn decode_base64(text: &[u8]) -> Option<Bytes> {
    use base64::Engine as _;
    let (&digit, rest) = text.split_first()?;
    let mut out = vec![digit.checked_sub(b'0')?];
    out.extend(base64::engine::general_purpose::STANDARD.decode(rest).ok()?);
    Some(Bytes::from(out))
}

async fn forward(down: &mut [Option<mpsc::Sender<Bytes>>], ports: usize, msg: &Bytes) {
    if let ServerEvent::Data { port_index, data } = portforward::decode_client_message(ports, msg)
        && let Some(Some(tx)) = down.get(port_index)
    {
        let _gone = tx.send(data).await;
    }
}

async fn relay(
    i: usize,
    tcp: tokio::net::TcpStream,
    mut down: mpsc::Receiver<Bytes>,
    up: mpsc::Sender<Up>,
) {
    let (mut reader, mut writer) = tcp.into_split();
    let to_pod = async move {
        while let Some(data) = down.recv().await {
            if writer.write_all(&data).await.is_err() {
                break;
            }
        }
        let _closed = writer.shutdown().await;
    };
    let up2 = up.clone();
    let from_pod = async move {
        let mut buf = vec![0u8; 32 * 1024];
        while let Ok(n) = reader.read(&mut buf).await {
            if n == 0 || up2.send(Up::Data(i, Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
                break;
            }
        }
    };
    // The legacy protocol has no half-close: the session ending stops both directions; a pod
    // close gives the client direction a second, as containerd does.
    tokio::pin!(to_pod, from_pod);
    tokio::select! {
        () = &mut to_pod => {}
        () = &mut from_pod => { let _late = tokio::time::timeout(std::time::Duration::from_secs(1), to_pod).await; }
    }
    let _gone = up.send(Up::Done(i)).await;
}
