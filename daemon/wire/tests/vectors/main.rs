//! Decodes every captured kubectl v1.32.4 vector (`testdata/vectors`) and checks what it means:
//! channel messages, exit statuses, resizes, SPDY frames and header blocks, tunnel reassembly,
//! and negotiation. See `testdata/vectors/README.md` for how they were captured.

mod capture;
mod http;
mod spdy;
mod ws;

use std::collections::BTreeSet;

/// Every vector file must be claimed by one of the tests in this binary.
const COVERED: [&str; 16] = [
    "attach-ws-v5.jsonl",
    "exec-fallback-to-spdy.jsonl",
    "exec-spdy-exit-code.jsonl",
    "exec-spdy-tty-resize.jsonl",
    "exec-ws-v5-exit-code.jsonl",
    "exec-ws-v5-heartbeat.jsonl",
    "exec-ws-v5-no-pong-timeout.jsonl",
    "exec-ws-v5-stdin-eof.jsonl",
    "exec-ws-v5-tty-resize.jsonl",
    "negotiation-matrix.json",
    "portforward-fallback-to-spdy.jsonl",
    "portforward-ws-tunnel-error.jsonl",
    "portforward-ws-tunnel-halfclose.jsonl",
    "portforward-ws-tunnel-server-ping-goaway.jsonl",
    "portforward-ws-tunnel.jsonl",
    "preflight-http.jsonl",
];

#[test]
fn every_vector_file_is_decoded_by_a_test() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(capture::dir())
        .expect("vector folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".jsonl") || n.ends_with(".json"))
        .collect();
    let covered: BTreeSet<String> = COVERED.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(on_disk, covered, "a vector file without a test, or a test without its file");
}
