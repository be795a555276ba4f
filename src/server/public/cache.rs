//! Rendered customer pages, kept in memory (plain and gzipped) so the public
//! site answers from memory. A page is dropped when anything is written through
//! this instance (any successful non-GET request, or the scheduler publishing);
//! then the next request renders it again while the others wait for that one
//! render. After a short time to live (which bounds staleness when another
//! instance did the writing) one request renders it afresh while the others
//! are still served the previous copy.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// At most this many pages are kept; past it the cache starts afresh.
const MAX_PAGES: usize = 2_000;

#[derive(Clone)]
struct Page {
    generation: u64,
    made: Instant,
    content_type: HeaderValue,
    extra: Vec<(header::HeaderName, HeaderValue)>,
    plain: Bytes,
    gzip: Bytes,
    /// Set by the one request re-rendering this page after its time to live.
    refreshing: Arc<AtomicBool>,
}

/// What the cache holds for a key.
enum Lookup {
    Fresh(Page),
    /// Still valid but old: serve it, unless this request was chosen to refresh it.
    Stale(Page, bool),
    Missing,
}

#[derive(Clone)]
pub struct PageCache {
    ttl: Duration,
    generation: Arc<AtomicU64>,
    pages: Arc<RwLock<HashMap<String, Page>>>,
    /// One render at a time per page: the others wait and then read the cache.
    renders: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl PageCache {
    /// A zero `ttl` turns caching off.
    pub fn new(ttl: Duration) -> Self {
        PageCache {
            ttl,
            generation: Arc::new(AtomicU64::new(0)),
            pages: Arc::new(RwLock::new(HashMap::new())),
            renders: Arc::new(std::sync::Mutex::new(HashMap::new())),
        }
    }

    fn render_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut renders = self.renders.lock().unwrap_or_else(|p| p.into_inner());
        if renders.len() >= MAX_PAGES {
            renders.clear();
        }
        renders.entry(key.to_string()).or_default().clone()
    }

    /// Forgets every page: something customers may see has changed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn lookup(&self, key: &str) -> Lookup {
        let generation = self.generation.load(Ordering::SeqCst);
        let Ok(pages) = self.pages.read() else {
            return Lookup::Missing;
        };
        match pages.get(key) {
            Some(p) if p.generation != generation => Lookup::Missing,
            Some(p) if p.made.elapsed() < self.ttl => Lookup::Fresh(p.clone()),
            Some(p) => {
                let chosen = !p.refreshing.swap(true, Ordering::SeqCst);
                Lookup::Stale(p.clone(), chosen)
            }
            None => Lookup::Missing,
        }
    }

    fn put(&self, key: String, page: Page) {
        if let Ok(mut pages) = self.pages.write() {
            if pages.len() >= MAX_PAGES {
                pages.clear();
            }
            pages.insert(key, page);
        }
    }
}

fn accepts_gzip(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

fn respond(page: &Page, gzip: bool) -> Response {
    let mut res = Response::new(Body::from(if gzip {
        page.gzip.clone()
    } else {
        page.plain.clone()
    }));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, page.content_type.clone());
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    for (k, v) in &page.extra {
        h.insert(k.clone(), v.clone());
    }
    res
}

/// The customer pages (public and private), the only ones cached.
fn is_customer_page(path: &str) -> bool {
    path == "/"
        || path == "/changes"
        || ["/changes/", "/releases/", "/feeds/", "/a/"]
            .iter()
            .any(|p| path.starts_with(p))
}

/// Serves GETs of customer pages from the cache, filling it on a miss. It sits
/// outside sessions, compression and the sign-in gate, so a hit costs little.
pub async fn serve(State(cache): State<PageCache>, mut req: Request, next: Next) -> Response {
    if cache.ttl.is_zero() || req.method() != Method::GET || !is_customer_page(req.uri().path()) {
        return next.run(req).await;
    }
    let key = req.uri().to_string();
    let gzip = accepts_gzip(&req);
    // The page is compressed here, once, not by the layers inside.
    req.headers_mut().remove(header::ACCEPT_ENCODING);
    let mut refreshing = None;
    let _render = match cache.lookup(&key) {
        Lookup::Fresh(page) | Lookup::Stale(page, false) => return respond(&page, gzip),
        Lookup::Stale(page, true) => {
            refreshing = Some(page.refreshing);
            None
        }
        Lookup::Missing => {
            let lock = cache.render_lock(&key);
            let guard = lock.lock_owned().await;
            // Someone else may have rendered it while this request waited.
            if let Lookup::Fresh(page) = cache.lookup(&key) {
                return respond(&page, gzip);
            }
            Some(guard)
        }
    };
    let generation = cache.generation.load(Ordering::SeqCst);
    let res = next.run(req).await;
    if res.status() != StatusCode::OK {
        // Let a later request try the refresh again.
        if let Some(flag) = refreshing {
            flag.store(false, Ordering::SeqCst);
        }
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(plain) = axum::body::to_bytes(body, 8 * 1024 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "page too large").into_response();
    };
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let gz = encoder.write_all(&plain).and_then(|_| encoder.finish());
    let Ok(gz) = gz else {
        return Response::from_parts(parts, Body::from(plain));
    };
    let extra = [
        header::REFERRER_POLICY,
        header::CACHE_CONTROL,
        header::HeaderName::from_static("x-robots-tag"),
    ]
    .into_iter()
    .filter_map(|k| parts.headers.get(&k).map(|v| (k, v.clone())))
    .collect();
    let page = Page {
        generation,
        made: Instant::now(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or(HeaderValue::from_static("text/html; charset=utf-8")),
        extra,
        plain,
        gzip: Bytes::from(gz),
        refreshing: Arc::new(AtomicBool::new(false)),
    };
    let res = respond(&page, gzip);
    cache.put(key, page);
    res
}

/// Drops every cached page after a successful write from this instance.
pub async fn invalidate_on_write(
    State(cache): State<PageCache>,
    req: Request,
    next: Next,
) -> Response {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let res = next.run(req).await;
    if writes && (res.status().is_success() || res.status().is_redirection()) {
        cache.invalidate();
    }
    res
}
