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

fn check(case: &str, result: Result<(), tonic::Status>, code: Code, field: &str) {
    let status = result.expect_err(case);
    assert_eq!(status.code(), code, "{case}: {status:?}");
    assert!(status.message().len() <= BOUNDED, "{case}: a {}-byte message", status.message().len());
    assert!(status.message().starts_with(field), "{case}: {}", status.message());
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
        ("a 100 KB target", with(&|s| s.target = format!("svc/{huge}")), "spec.target"),
        ("no ports", with(&|s| s.ports.clear()), "spec.ports"),
        (
            "2000 ports",
            with(&|s| s.ports = (1..=2000).map(|p| p.to_string()).collect()),
            "spec.ports",
        ),
        ("port 70000", with(&|s| s.ports = vec!["70000".into()]), "spec.ports[0]"),
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
    let mut w = World::start("bad-input", Options::default()).await;
    w.forward("good", "svc/web", &[":80"]).await;
    let before = listed(&mut w).await;

    for (case, spec, field) in bad_specs(&w) {
        let req = pb::CreateForwardRequest { spec: Some(spec), ..Default::default() };
        let result = w.client.forwards.create_forward(req).await.map(|_| ());
        check(case, result, Code::InvalidArgument, field);
    }
    let none = pb::CreateForwardRequest::default();
    check(
        "no spec",
        w.client.forwards.create_forward(none).await.map(|_| ()),
        Code::InvalidArgument,
        "spec",
    );
    let mut other = w.spec("good", "svc/web", &[":81"]);
    other.name = "good".into();
    let req = pb::CreateForwardRequest { spec: Some(other), ..Default::default() };
    let result = w.client.forwards.create_forward(req).await.map(|_| ());
    check("the name with another spec", result, Code::AlreadyExists, "spec.ports");

    let huge = "n".repeat(100_000);
    let f = &mut w.client.forwards;
    let get = |name: &str| pb::GetForwardRequest { name: name.into() };
    check(
        "get a 100 KB name",
        f.get_forward(get(&huge)).await.map(|_| ()),
        Code::InvalidArgument,
        "name",
    );
    check("get no name", f.get_forward(get("")).await.map(|_| ()), Code::InvalidArgument, "name");
    check(
        "get an unknown name",
        f.get_forward(get("nope")).await.map(|_| ()),
        Code::NotFound,
        "failed to find",
    );
    let del = |name: &str| pb::DeleteForwardRequest { name: name.into() };
    check(
        "rm a 100 KB name",
        f.delete_forward(del(&huge)).await.map(|_| ()),
        Code::InvalidArgument,
        "name",
    );
    let pause = pb::PauseForwardRequest { name: "nope".into() };
    check(
        "pause an unknown name",
        f.pause_forward(pause).await.map(|_| ()),
        Code::NotFound,
        "failed to find",
    );
    let list = pb::ListForwardsRequest { page_size: 0, page_token: huge.clone() };
    check(
        "a 100 KB page token",
        f.list_forwards(list).await.map(|_| ()),
        Code::InvalidArgument,
        "page_token",
    );

    // Streams whose first message is wrong, or whose fields are.
    let dial = |kind| futures_util::stream::iter([pb::DialRequest { kind: Some(kind) }]);
    let data = pb::dial_request::Kind::Data(bytes::Bytes::from_static(b"x"));
    check("dial without open", f.dial(dial(data)).await.map(|_| ()), Code::InvalidArgument, "open");
    let open =
        pb::dial_request::Kind::Open(pb::DialOpen { forward: huge.clone(), port: String::new() });
    check(
        "dial a 100 KB name",
        f.dial(dial(open)).await.map(|_| ()),
        Code::InvalidArgument,
        "open.forward",
    );
    let open = pb::dial_request::Kind::Open(pb::DialOpen {
        forward: "good".into(),
        port: "p".repeat(100),
    });
    check(
        "dial a 100-byte port",
        f.dial(dial(open)).await.map(|_| ()),
        Code::InvalidArgument,
        "open.port",
    );

    let s = &mut w.client.sessions;
    let exec = |kind| futures_util::stream::iter([pb::ExecRequest { kind: Some(kind) }]);
    let stdin = pb::exec_request::Kind::Stdin(bytes::Bytes::from_static(b"x"));
    check(
        "exec without start",
        s.exec(exec(stdin)).await.map(|_| ()),
        Code::InvalidArgument,
        "start",
    );
    let long = pb::ProcessSpec {
        target: "toolbox".into(),
        command: vec!["sh".into(), "-c".into(), "x".repeat(40 * 1024)],
        ..Default::default()
    };
    let start = pb::exec_request::Kind::Start(long);
    check(
        "a 40 KB command",
        s.exec(exec(start)).await.map(|_| ()),
        Code::InvalidArgument,
        "start.command",
    );
    let words = pb::ProcessSpec {
        target: "toolbox".into(),
        command: vec!["echo".into(); 5000],
        ..Default::default()
    };
    let start = pb::exec_request::Kind::Start(words);
    check(
        "5000 words",
        s.exec(exec(start)).await.map(|_| ()),
        Code::InvalidArgument,
        "start.command",
    );
    let create = |kind: i32, restart: i32, scrollback_bytes: u32| pb::CreateSessionRequest {
        spec: Some(pb::ProcessSpec {
            target: "toolbox".into(),
            command: vec!["true".into()],
            ..Default::default()
        }),
        kind,
        restart,
        scrollback_bytes,
    };
    let exec_kind = pb::SessionKind::Exec as i32;
    check(
        "no session kind",
        s.create_session(create(0, 0, 0)).await.map(|_| ()),
        Code::InvalidArgument,
        "kind",
    );
    check(
        "restart 99",
        s.create_session(create(exec_kind, 99, 0)).await.map(|_| ()),
        Code::InvalidArgument,
        "restart",
    );
    check(
        "a 4 GiB scrollback",
        s.create_session(create(exec_kind, 0, u32::MAX)).await.map(|_| ()),
        Code::InvalidArgument,
        "scrollback_bytes",
    );
    let attach = |kind| futures_util::stream::iter([pb::AttachRequest { kind: Some(kind) }]);
    let detach = pb::attach_request::Kind::Detach(true);
    check(
        "attach without open",
        s.attach_session(attach(detach)).await.map(|_| ()),
        Code::InvalidArgument,
        "open",
    );
    let open =
        pb::attach_request::Kind::Open(pb::AttachOpen { session: huge.clone(), no_replay: false });
    check(
        "attach a 100 KB id",
        s.attach_session(attach(open)).await.map(|_| ()),
        Code::InvalidArgument,
        "open.session",
    );
    let kill = |id: &str| pb::KillSessionRequest { id: id.into(), graceful: false };
    check("kill no id", s.kill_session(kill("")).await.map(|_| ()), Code::InvalidArgument, "id");
    check(
        "kill an unknown id",
        s.kill_session(kill("s-0123456789")).await.map(|_| ()),
        Code::NotFound,
        "failed to find",
    );

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
    let result = grpc.unary(tonic::Request::new(request), path, raw::Raw).await.map(|_| ());
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
