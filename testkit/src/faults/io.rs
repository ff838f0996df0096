//! The shaping layer under TLS: latency, bandwidth limits, blackholes and resets applied to
//! the raw bytes of one connection. With no fault active it is a straight pass-through.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// Fault settings of one connection, shared with the fault controller.
#[derive(Debug)]
pub(crate) struct Shaping {
    latency_us: AtomicU64,
    bandwidth: AtomicU64,
    blackholed: AtomicBool,
    reset: AtomicBool,
    read_waker: AtomicWaker,
    write_waker: AtomicWaker,
}

impl Shaping {
    pub(crate) fn new(latency: Duration, bandwidth: u64) -> Self {
        Self {
            latency_us: AtomicU64::new(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX)),
            bandwidth: AtomicU64::new(bandwidth),
            blackholed: AtomicBool::new(false),
            reset: AtomicBool::new(false),
            read_waker: AtomicWaker::new(),
            write_waker: AtomicWaker::new(),
        }
    }

    fn wake(&self) {
        self.read_waker.wake();
        self.write_waker.wake();
    }

    /// Stops moving bytes, for good.
    pub(crate) fn blackhole(&self) {
        self.blackholed.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// Fails every further read and write with a connection reset.
    pub(crate) fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
        self.wake();
    }

    pub(crate) fn set_latency(&self, latency: Duration) {
        self.latency_us
            .store(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX), Ordering::SeqCst);
        self.wake();
    }

    pub(crate) fn set_bandwidth(&self, bytes_per_sec: u64) {
        self.bandwidth.store(bytes_per_sec, Ordering::SeqCst);
        self.wake();
    }

    fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::SeqCst))
    }
}

/// A token bucket for one direction.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new() -> Self {
        Self { tokens: 0.0, last: Instant::now() }
    }

    /// Takes up to `want` bytes of budget at `rate`, or says how long to wait for one byte.
    fn take(&mut self, rate: u64, want: usize) -> Result<usize, Duration> {
        let now = Instant::now();
        let rate_f = rate as f64;
        let burst = (rate_f / 20.0).max(16_384.0);
        self.tokens = (self.tokens + rate_f * (now - self.last).as_secs_f64()).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            let n = want.min(self.tokens as usize).max(1);
            self.tokens -= n as f64;
            Ok(n)
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate_f))
        }
    }

    fn refund(&mut self, n: usize) {
        self.tokens += n as f64;
    }
}

/// A TCP stream with faults applied.
#[derive(Debug)]
pub(crate) struct FaultyIo {
    inner: TcpStream,
    shaping: std::sync::Arc<Shaping>,
    /// Bytes read from the socket and not yet due; an empty chunk marks EOF.
    delayed: VecDeque<(Instant, Bytes)>,
    delayed_len: usize,
    eof_read: bool,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
    read_bucket: Bucket,
    write_bucket: Bucket,
}

const MAX_DELAYED: usize = 4 << 20;

fn reset_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by fault injection")
}

/// Arms `timer` to fire after `wait` and polls it; Pending unless it already fired.
fn wait(timer: &mut Option<Pin<Box<Sleep>>>, wait: Duration, cx: &mut Context<'_>) -> Poll<()> {
    let deadline = Instant::now() + wait;
    let sleep = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    sleep.as_mut().reset(deadline);
    ready!(sleep.as_mut().poll(cx));
    cx.waker().wake_by_ref();
    Poll::Pending
}

impl FaultyIo {
    pub(crate) fn new(inner: TcpStream, shaping: std::sync::Arc<Shaping>) -> Self {
        Self {
            inner,
            shaping,
            delayed: VecDeque::new(),
            delayed_len: 0,
            eof_read: false,
            read_timer: None,
            write_timer: None,
            read_bucket: Bucket::new(),
            write_bucket: Bucket::new(),
        }
    }

    /// Moves everything the socket has into the delay queue, stamped with its due time.
    fn fill_delayed(&mut self, cx: &mut Context<'_>, latency: Duration) -> io::Result<()> {
        let mut tmp = [0u8; 16 * 1024];
        while self.delayed_len < MAX_DELAYED && !self.eof_read {
            let mut rb = ReadBuf::new(&mut tmp);
            match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let chunk = Bytes::copy_from_slice(rb.filled());
                    self.eof_read = chunk.is_empty();
                    self.delayed_len += chunk.len();
                    self.delayed.push_back((Instant::now() + latency, chunk));
                }
                Poll::Ready(Err(e)) if self.delayed.is_empty() => return Err(e),
                Poll::Ready(Err(_)) | Poll::Pending => break,
            }
        }
        Ok(())
    }

    fn poll_read_shaped(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let latency = self.shaping.latency();
        let rate = self.shaping.bandwidth.load(Ordering::SeqCst);
        if !latency.is_zero() || !self.delayed.is_empty() {
            self.fill_delayed(cx, latency)?;
        } else if !self.eof_read {
            // Bandwidth only: read at most what the bucket allows.
            let n = match self.read_bucket.take(rate, buf.remaining()) {
                Ok(n) => n,
                Err(d) => {
                    ready!(wait(&mut self.read_timer, d, cx));
                    return Poll::Pending;
                }
            };
            let mut tmp = vec![0u8; n];
            let mut rb = ReadBuf::new(&mut tmp);
            let polled = Pin::new(&mut self.inner).poll_read(cx, &mut rb);
            if polled.is_pending() {
                self.read_bucket.refund(n);
            }
            ready!(polled)?;
            self.read_bucket.refund(n - rb.filled().len());
            buf.put_slice(rb.filled());
            return Poll::Ready(Ok(()));
        }
        let Some((due, chunk)) = self.delayed.front_mut() else { return Poll::Pending };
        let now = Instant::now();
        if *due > now {
            let d = *due - now;
            ready!(wait(&mut self.read_timer, d, cx));
            return Poll::Pending;
        }
        if chunk.is_empty() {
            self.delayed.pop_front();
            return Poll::Ready(Ok(()));
        }
        let mut n = buf.remaining().min(chunk.len());
        if rate > 0 {
            match self.read_bucket.take(rate, n) {
                Ok(allowed) => n = allowed,
                Err(d) => {
                    ready!(wait(&mut self.read_timer, d, cx));
                    return Poll::Pending;
                }
            }
        }
        buf.put_slice(&chunk.split_to(n));
        self.delayed_len -= n;
        if chunk.is_empty() {
            self.delayed.pop_front();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for FaultyIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.shaping.reset.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset_error()));
        }
        if this.shaping.blackholed.load(Ordering::SeqCst) {
            this.shaping.read_waker.register(cx.waker());
            if this.shaping.reset.load(Ordering::SeqCst) {
                return Poll::Ready(Err(reset_error()));
            }
            return Poll::Pending;
        }
        let shaped = this.shaping.latency_us.load(Ordering::SeqCst) > 0
            || this.shaping.bandwidth.load(Ordering::SeqCst) > 0
            || !this.delayed.is_empty();
        if !shaped {
            this.shaping.read_waker.register(cx.waker());
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        this.shaping.read_waker.register(cx.waker());
        this.poll_read_shaped(cx, buf)
    }
}

impl AsyncWrite for FaultyIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.shaping.reset.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset_error()));
        }
        if this.shaping.blackholed.load(Ordering::SeqCst) {
            this.shaping.write_waker.register(cx.waker());
            return Poll::Pending;
        }
        let rate = this.shaping.bandwidth.load(Ordering::SeqCst);
        if rate == 0 {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        let n = match this.write_bucket.take(rate, buf.len()) {
            Ok(n) => n,
            Err(d) => {
                this.shaping.write_waker.register(cx.waker());
                ready!(wait(&mut this.write_timer, d, cx));
                return Poll::Pending;
            }
        };
        let polled = Pin::new(&mut this.inner).poll_write(cx, &buf[..n]);
        match &polled {
            Poll::Pending => this.write_bucket.refund(n),
            Poll::Ready(Ok(written)) => this.write_bucket.refund(n - written),
            Poll::Ready(Err(_)) => {}
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let plain = !self.shaping.reset.load(Ordering::SeqCst)
            && !self.shaping.blackholed.load(Ordering::SeqCst)
            && self.shaping.bandwidth.load(Ordering::SeqCst) == 0;
        if plain {
            return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        }
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &**b);
        self.poll_write(cx, first)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shaping.reset.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shaping.reset.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
