//! Serving connections so that slow, silent or greedy clients cannot hold
//! the server: every connection must send its request head within the
//! header timeout, its body within the body timeout, and is closed after
//! the idle timeout between requests; one client address may hold only so
//! many connections at once (reverse proxies named in
//! `SHIPLOG_TRUSTED_PROXIES` excepted); and on shutdown, requests in flight
//! get a bounded time to finish before the process exits.
//!
//! `axum::serve` has none of these bounds: a thousand silent connections
//! used up the open-files limit and every new request timed out.

use crate::server::auth::client::Cidr;
use crate::server::config::ServeLimits;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::Router;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// How often each connection checks its own timeouts.
const TICK: Duration = Duration::from_millis(500);

/// Serves `router` on `listener` until `shutdown` completes, then lets
/// requests in flight finish for at most `limits.drain`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    trusted_proxies: Vec<Cidr>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let counts = Addresses::default();
    let (closing, closed) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let started = Instant::now();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of files, or a connection reset before it was
                    // taken: wait a moment rather than spin.
                    tracing::warn!(error = %e, "a connection could not be accepted");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let ip = peer.ip();
        let capped = !trusted_proxies.iter().any(|c| c.contains(ip));
        let Some(held) = counts.take(ip, capped.then_some(limits.per_address)) else {
            crate::server::telemetry::global()
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            peer,
            router.clone(),
            limits.clone(),
            closed.clone(),
            held,
            started,
        ));
    }
    // Stop taking connections; ask each to finish what it is doing.
    drop(listener);
    let _ = closing.send(true);
    let drained = tokio::time::timeout(limits.drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "requests were still in flight when the shutdown time ran out; closing them"
        );
        connections.abort_all();
    }
    Ok(())
}

/// Connections open per client address.
#[derive(Clone, Default)]
struct Addresses(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection's place in [`Addresses`], given back when it closes.
struct Held {
    addresses: Addresses,
    ip: IpAddr,
}

impl Addresses {
    fn take(&self, ip: IpAddr, cap: Option<usize>) -> Option<Held> {
        let mut open = self.0.lock().expect("never poisoned");
        let n = open.entry(ip).or_default();
        if cap.is_some_and(|cap| *n >= cap) {
            return None;
        }
        *n += 1;
        Some(Held {
            addresses: self.clone(),
            ip,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.addresses.0.lock().expect("never poisoned");
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// What a connection has been doing, in milliseconds since the server started.
#[derive(Default)]
struct Activity {
    /// Requests whose response has not been handed to the connection yet.
    in_flight: AtomicUsize,
    /// Requests answered.
    served: AtomicU64,
    /// When the last byte was read or written.
    last_io: AtomicU64,
    /// When bytes of a new request head started arriving (0: none since
    /// the last request started).
    head_from: AtomicU64,
}

impl Activity {
    fn now(started: Instant) -> u64 {
        started.elapsed().as_millis() as u64 + 1
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ServeLimits,
    mut closing: tokio::sync::watch::Receiver<bool>,
    held: Held,
    started: Instant,
) {
    let activity = Arc::new(Activity::default());
    activity
        .last_io
        .store(Activity::now(started), Ordering::Relaxed);
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
        started,
    });
    let service = {
        let activity = activity.clone();
        let body_timeout = limits.body_timeout;
        hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
            let (mut parts, body) = req.into_parts();
            parts.extensions.insert(ConnectInfo(peer));
            // Most requests (GETs) have no body: nothing to time.
            let body = if body.is_end_stream() {
                Body::new(body)
            } else {
                Body::new(Deadline::new(body, body_timeout))
            };
            let router = router.clone();
            let activity = activity.clone();
            activity.in_flight.fetch_add(1, Ordering::Relaxed);
            activity.head_from.store(0, Ordering::Relaxed);
            async move {
                let res = router.oneshot(http::Request::from_parts(parts, body)).await;
                activity.in_flight.fetch_sub(1, Ordering::Relaxed);
                activity.served.fetch_add(1, Ordering::Relaxed);
                activity.head_from.store(0, Ordering::Relaxed);
                activity
                    .last_io
                    .store(Activity::now(started), Ordering::Relaxed);
                res
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            changed = closing.changed(), if !shutting_down => {
                shutting_down = true;
                if changed.is_err() || activity.in_flight.load(Ordering::Relaxed) == 0 {
                    break;
                }
                // Finish the request in flight, then close.
                conn.as_mut().graceful_shutdown();
            }
            _ = tick.tick() => {
                if expired(&activity, &limits, started, shutting_down) {
                    break;
                }
            }
        }
    }
    drop(held);
}

/// Whether a connection with no request in flight has waited too long: for
/// the rest of a request head it started sending, or for a first request,
/// the header timeout; between requests, the idle timeout.
fn expired(activity: &Activity, limits: &ServeLimits, started: Instant, closing: bool) -> bool {
    if activity.in_flight.load(Ordering::Relaxed) > 0 {
        return false;
    }
    if closing {
        return true;
    }
    let now = Activity::now(started);
    let since = |t: u64| Duration::from_millis(now.saturating_sub(t));
    let head_from = activity.head_from.load(Ordering::Relaxed);
    if head_from > 0 {
        return since(head_from) > limits.header_timeout;
    }
    let quiet = since(activity.last_io.load(Ordering::Relaxed));
    if activity.served.load(Ordering::Relaxed) == 0 {
        quiet > limits.header_timeout
    } else {
        quiet > limits.idle_timeout
    }
}

/// A connection's stream, noting when bytes move.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
    started: Instant,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let now = Activity::now(self.started);
            self.activity.last_io.store(now, Ordering::Relaxed);
            if self.activity.in_flight.load(Ordering::Relaxed) == 0 {
                let _ = self.activity.head_from.compare_exchange(
                    0,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
        res
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            let now = Activity::now(self.started);
            self.activity.last_io.store(now, Ordering::Relaxed);
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            let now = Activity::now(self.started);
            self.activity.last_io.store(now, Ordering::Relaxed);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that must arrive in full within its time; after that,
/// reading it fails (and the handler answers that the body could not be read).
struct Deadline {
    inner: hyper::body::Incoming,
    sleep: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl Deadline {
    fn new(inner: hyper::body::Incoming, limit: Duration) -> Self {
        Deadline {
            inner,
            sleep: Box::pin(tokio::time::sleep(limit)),
            limit,
        }
    }
}

/// The error a late body ends with.
#[derive(Debug)]
pub struct BodyTooSlow(Duration);

impl std::fmt::Display for BodyTooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} seconds",
            self.0.as_secs()
        )
    }
}

impl std::error::Error for BodyTooSlow {}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            let limit = self.limit;
            return Poll::Ready(Some(Err(Box::new(BodyTooSlow(limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_its_share_of_connections() {
        let counts = Addresses::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let a = counts.take(ip, Some(2)).unwrap();
        let _b = counts.take(ip, Some(2)).unwrap();
        assert!(counts.take(ip, Some(2)).is_none(), "a third is refused");
        assert!(counts.take("192.0.2.2".parse().unwrap(), Some(2)).is_some());
        assert!(
            counts.take(ip, None).is_some(),
            "a trusted proxy has no cap"
        );
        drop(a);
        assert!(
            counts.take(ip, Some(3)).is_some(),
            "a closed one frees its place"
        );
    }
}
