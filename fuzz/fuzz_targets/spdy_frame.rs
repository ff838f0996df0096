//! Fuzzes SPDY/3.1 frame decoding from a `ChunkBuf` fed in arbitrarily cut chunks, and checks that
//! every decoded frame survives `Frame::encode` then `decode_frame` unchanged.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use tether_wire::spdy::{ChunkBuf, Frame, FrameError, decode_frame};

// Input layout: `n = data[0] % 16`, then `n` cut sizes (one byte each), then the byte stream.
// The stream is pushed in pieces of those sizes (zero-length pieces included, the rest last),
// decoding after every push until `Ok(None)` or the first error.
fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 16).min(rest.len());
    let (cuts, stream) = rest.split_at(n);

    let mut buf = ChunkBuf::new();
    let mut cut_results = Vec::new();
    let mut left = stream;
    let mut failed = false;
    for &cut in cuts {
        let cut = usize::from(cut).min(left.len());
        let (piece, tail) = left.split_at(cut);
        left = tail;
        buf.push(Bytes::copy_from_slice(piece));
        if drain(&mut buf, &mut cut_results) {
            failed = true;
            break;
        }
    }
    if !failed {
        buf.push(Bytes::copy_from_slice(left));
        drain(&mut buf, &mut cut_results);
    }

    // The same stream in one piece must decode to the same frames and the same error.
    let mut whole = ChunkBuf::new();
    whole.push(Bytes::copy_from_slice(stream));
    let mut whole_results = Vec::new();
    drain(&mut whole, &mut whole_results);
    assert_eq!(cut_results, whole_results, "the cut points changed the decoded frames");

    for frame in whole_results.iter().filter_map(|r| r.as_ref().ok()) {
        round_trip(frame);
    }
});

/// Decodes until more bytes are needed (false) or a frame fails (true).
fn drain(buf: &mut ChunkBuf, out: &mut Vec<Result<Frame, FrameError>>) -> bool {
    loop {
        let before = buf.len();
        match decode_frame(buf) {
            Ok(Some(frame)) => {
                assert!(buf.len() < before, "a frame was decoded from no bytes");
                out.push(Ok(frame));
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                return false;
            }
            Err(e) => {
                assert!(buf.len() + 8 <= before, "a failed frame left its bytes");
                out.push(Err(e));
                return true;
            }
        }
    }
}

/// decode(encode(frame)) == frame, consuming exactly the encoded bytes.
fn round_trip(frame: &Frame) {
    let mut out = BytesMut::new();
    frame.encode(&mut out);
    assert_eq!(out.len(), frame.to_bytes().len());
    let mut buf = ChunkBuf::new();
    buf.push(out.freeze());
    let again = decode_frame(&mut buf);
    assert_eq!(again, Ok(Some(frame.clone())), "decode(encode(f)) != f");
    assert!(buf.is_empty(), "bytes left after decoding an encoded frame");
}
