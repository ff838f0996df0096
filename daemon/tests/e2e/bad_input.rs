//! Bad input at the API, table by table: every bad field of every call, streams whose first
//! message is wrong, bytes that do not decode, garbage and idle connections on the socket. Each
//! gets its status code and a bounded message, and nothing changes: not the forwards listed,
//! not the store.

use std::time::Duration;

use tether_proto::pb;
use tonic::Code;

use crate::harness::{Options, World};

/// No error message is longer than this, whatever came in.
const BOUNDED: usize = 2048;

/// Checks that `result` is refused with `code` and a bounded message naming `field` first; the
/// refusal, for further checks.
fn check<T>(
    case: &str,
    result: Result<T, tonic::Status>,
    code: Code,
    field: &str,
) -> tonic::Status {
    let Err(status) = result else { panic!("{case}: accepted") };
    assert_eq!(status.code(), code, "{case}: {status:?}");
    assert!(status.message().len() <= BOUNDED, "{case}: a {}-byte message", status.message().len());
    assert!(status.message().starts_with(field), "{case}: {}", status.message());
    status
}

fn spec(w: &World) -> pb::ForwardSpec {
    w.spec("bad", "svc/web", &[":80"])
}

/// Every bad field of a forward spec, and the field named first in the message.
fn bad_specs(w: &World) -> Vec<(&'static str, pb::ForwardSpec, &'static str)> {
    let huge = "x".repeat(100_000);
    let with = |f: &dyn Fn(&mut pb::ForwardSpec)| {
        let mut s = spec(w);
        f(&mut s);
        s
    };
    vec![
        ("a 100 KB name", with(&|s| s.name = huge.clone()), "spec.name"),
        ("a name with capitals", with(&|s| s.name = "Bad_Name".into()), "spec.name"),
        ("an unknown kind", with(&|s| s.target = "job/x".into()), "spec.target"),
        ("a target with capitals", with(&|s| s.target = "svc/Web".into()), "spec.target"),
        ("a 100 KB target", with(&|s| s.target = format!("svc/{huge}")), "spec.target"),
        ("no ports", with(&|s| s.ports.clear()), "spec.ports"),
        (
            "2000 ports",
            with(&|s| s.ports = (1..=2000).map(|p| p.to_string()).collect()),
            "spec.ports",
        ),
        ("port 70000", with(&|s| s.ports = vec!["70000".into()]), "spec.ports[0]"),
        ("local port 99999", with(&|s| s.ports = vec!["99999:80".into()]), "spec.ports[0]"),
        ("port 0", with(&|s| s.ports = vec!["0".into()]), "spec.ports[0]"),
        ("a 100 KB port", with(&|s| s.ports = vec![huge.clone()]), "spec.ports[0]"),
        ("a host name as address", with(&|s| s.address = "nowhere".into()), "spec.address"),
        ("a 1 KB address", with(&|s| s.address = "1".repeat(1024)), "spec.address"),
        ("a namespace with capitals", with(&|s| s.namespace = "Shop".into()), "spec.namespace"),
        ("a 2 MiB context", with(&|s| s.context = "c".repeat(2 << 20)), "spec.context"),
        ("a relative kubeconfig", with(&|s| s.kubeconfig = "kubeconfig".into()), "spec.kubeconfig"),
        (
            "an 8 KB kubeconfig",
            with(&|s| s.kubeconfig = format!("/{}", "k".repeat(8192))),
            "spec.kubeconfig",
        ),
        ("a kubeconfig with NUL", with(&|s| s.kubeconfig = "/a\0b".into()), "spec.kubeconfig"),
    ]
}

async fn listed(w: &mut World) -> Vec<pb::Forward> {
    w.client.all_forwards().await.expect("list")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_field_is_refused_with_a_bounded_message_and_changes_nothing() {
    use pb::{attach_request, dial_request, exec_request};
    let mut w = World::start("bad-input", Options::default()).await;
    w.forward("good", "svc/web", &[":80"]).await;
    let before = listed(&mut w).await;

    for (case, spec, field) in bad_specs(&w) {
        let req = pb::CreateForwardRequest { spec: Some(spec), ..Default::default() };
        check(case, w.client.forwards.create_forward(req).await, Code::InvalidArgument, field);
    }
    let none = pb::CreateForwardRequest::default();
    let result = w.client.forwards.create_forward(none).await;
    check("no spec", result, Code::InvalidArgument, "spec");
    // The same spec again is the same forward; another spec under the name is refused with
    // the field that differs.
    let same = pb::CreateForwardRequest {
        spec: Some(w.spec("good", "svc/web", &[":80"])),
        ..Default::default()
    };
    let again = w.client.forwards.create_forward(same).await.expect("same spec").into_inner();
    assert!(again.existed);
    let first = before.iter().find(|f| f.spec.as_ref().is_some_and(|s| s.name == "good"));
    assert_eq!(
        again.forward.and_then(|f| f.status).map(|s| s.local_addresses),
        first.and_then(|f| f.status.clone()).map(|s| s.local_addresses)
    );
    let other = pb::CreateForwardRequest {
        spec: Some(w.spec("good", "svc/web", &[":8080"])),
        ..Default::default()
    };
    let result = w.client.forwards.create_forward(other).await;
    let refused = check("the name with another spec", result, Code::AlreadyExists, "spec.ports");
    assert!(refused.message().contains("spec.ports :80, not :8080"), "{}", refused.message());

    let huge = "n".repeat(100_000);
    let f = &mut w.client.forwards;
    let gets = [
        ("get a 100 KB name", huge.as_str(), Code::InvalidArgument, "name"),
        ("get no name", "", Code::InvalidArgument, "name"),
        ("get an unknown name", "nope", Code::NotFound, "failed to find"),
    ];
    for (case, name, code, field) in gets {
        check(case, f.get_forward(pb::GetForwardRequest { name: name.into() }).await, code, field);
    }
    let del = pb::DeleteForwardRequest { name: huge.clone() };
    check("rm a 100 KB name", f.delete_forward(del).await, Code::InvalidArgument, "name");
    let pause = pb::PauseForwardRequest { name: "nope".into() };
    check("pause an unknown name", f.pause_forward(pause).await, Code::NotFound, "failed to find");
    let list = pb::ListForwardsRequest { page_size: 0, page_token: huge.clone() };
    let result = f.list_forwards(list).await;
    check("a 100 KB page token", result, Code::InvalidArgument, "page_token");

    // Streams whose first message is wrong, or whose fields are.
    let open = |forward: &str, port: &str| {
        dial_request::Kind::Open(pb::DialOpen { forward: forward.into(), port: port.into() })
    };
    let dials = [
        ("dial without open", dial_request::Kind::Data(bytes::Bytes::from_static(b"x")), "open"),
        ("dial a 100 KB name", open(&huge, ""), "open.forward"),
        ("dial a 100-byte port", open("good", &"p".repeat(100)), "open.port"),
    ];
    for (case, kind, field) in dials {
        let messages = futures_util::stream::iter([pb::DialRequest { kind: Some(kind) }]);
        check(case, f.dial(messages).await, Code::InvalidArgument, field);
    }

    let s = &mut w.client.sessions;
    let start = |command: Vec<String>| {
        exec_request::Kind::Start(pb::ProcessSpec {
            target: "toolbox".into(),
            command,
            ..Default::default()
        })
    };
    let execs = [
        ("exec without start", exec_request::Kind::Stdin(bytes::Bytes::from_static(b"x")), "start"),
        (
            "a 40 KB command",
            start(vec!["sh".into(), "-c".into(), "x".repeat(40 * 1024)]),
            "start.command",
        ),
        ("5000 words", start(vec!["echo".into(); 5000]), "start.command"),
    ];
    for (case, kind, field) in execs {
        let messages = futures_util::stream::iter([pb::ExecRequest { kind: Some(kind) }]);
        check(case, s.exec(messages).await, Code::InvalidArgument, field);
    }
    let exec_kind = pb::SessionKind::Exec as i32;
    let creates = [
        ("no session kind", 0, 0, 0, "kind"),
        ("restart 99", exec_kind, 99, 0, "restart"),
        ("a 4 GiB scrollback", exec_kind, 0, u32::MAX, "scrollback_bytes"),
    ];
    for (case, kind, restart, scrollback_bytes, field) in creates {
        let req = pb::CreateSessionRequest {
            spec: Some(pb::ProcessSpec {
                target: "toolbox".into(),
                command: vec!["true".into()],
                ..Default::default()
            }),
            kind,
            restart,
            scrollback_bytes,
        };
        check(case, s.create_session(req).await, Code::InvalidArgument, field);
    }
    let attaches = [
        ("attach without open", attach_request::Kind::Detach(true), "open"),
        (
            "attach a 100 KB id",
            attach_request::Kind::Open(pb::AttachOpen { session: huge.clone(), no_replay: false }),
            "open.session",
        ),
    ];
    for (case, kind, field) in attaches {
        let messages = futures_util::stream::iter([pb::AttachRequest { kind: Some(kind) }]);
        check(case, s.attach_session(messages).await, Code::InvalidArgument, field);
    }
    let kills = [
        ("kill no id", "", Code::InvalidArgument, "id"),
        ("kill an unknown id", "s-0123456789", Code::NotFound, "failed to find"),
    ];
    for (case, id, code, field) in kills {
        let req = pb::KillSessionRequest { id: id.into(), graceful: false };
        check(case, s.kill_session(req).await, code, field);
    }

    assert_eq!(listed(&mut w).await, before, "bad input changed the forwards");
    let stored = w.stop_daemon().await;
    let names: Vec<String> =
        before.iter().filter_map(|f| f.spec.as_ref().map(|s| s.name.clone())).collect();
    assert_eq!(stored, names, "bad input changed the store");
}

/// A message whose string is not UTF-8 does not decode: the caller's INVALID_ARGUMENT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_do_not_decode_are_invalid_argument() {
    let mut w = World::start("raw", Options::default()).await;
    let channel = tether_proto::client::channel(&w.socket()).await.expect("channel");
    let mut grpc = tonic::client::Grpc::new(channel);
    // CreateForwardRequest { spec (1): ForwardSpec { target (2): 0xff 0xfe } }.
    let spec = [0x12, 0x02, 0xff, 0xfe];
    let mut request = vec![0x0a, u8::try_from(spec.len()).expect("short")];
    request.extend_from_slice(&spec);
    grpc.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static("/tether.v1.ForwardService/CreateForward");
    let result = grpc.unary(tonic::Request::new(request), path, raw::Raw).await;
    check("a target that is not UTF-8", result, Code::InvalidArgument, "failed to decode");
    assert!(listed(&mut w).await.is_empty());
    w.shutdown().await;
}

/// Garbage on the socket closes that connection only; idle connections do not stop the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_idle_connections_do_not_stop_the_daemon() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut w = World::start("garbage", Options::default()).await;
    let socket = w.socket();
    let mut garbage = tokio::net::UnixStream::connect(&socket).await.expect("connect");
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff\xfe garbage")
        .await
        .expect("write");
    let mut sink = Vec::new();
    let closed =
        tokio::time::timeout(Duration::from_secs(10), garbage.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "the daemon closed the garbage connection");
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(tokio::net::UnixStream::connect(&socket).await.expect("an idle connection"));
    }
    let served = tokio::time::timeout(Duration::from_secs(10), listed(&mut w)).await;
    assert!(served.is_ok(), "200 idle connections stopped the daemon from serving");
    drop(idle);
    w.shutdown().await;
}

/// A codec that sends bytes as they are.
mod raw {
    use bytes::{Buf as _, BufMut as _};
    use tonic::Status;
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

    #[derive(Debug, Default, Clone)]
    pub struct Raw;

    #[derive(Debug)]
    pub struct Bytes;

    impl Codec for Raw {
        type Encode = Vec<u8>;
        type Decode = Vec<u8>;
        type Encoder = Bytes;
        type Decoder = Bytes;

        fn encoder(&mut self) -> Bytes {
            Bytes
        }

        fn decoder(&mut self) -> Bytes {
            Bytes
        }
    }

    impl Encoder for Bytes {
        type Item = Vec<u8>;
        type Error = Status;

        fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
            dst.put_slice(&item);
            Ok(())
        }
    }

    impl Decoder for Bytes {
        type Item = Vec<u8>;
        type Error = Status;

        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
            Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
        }
    }
}
