//! Rendered customer pages, kept in memory (plain and gzipped) so the public
//! site answers from memory. A page is dropped when anything is written through
//! this instance (any successful non-GET request, or the scheduler publishing),
//! and after a short time to live, which bounds how stale a page can be when
//! another instance did the writing.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
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
}

#[derive(Clone)]
pub struct PageCache {
    ttl: Duration,
    generation: Arc<AtomicU64>,
    pages: Arc<RwLock<HashMap<String, Page>>>,
}

impl PageCache {
    /// A zero `ttl` turns caching off.
    pub fn new(ttl: Duration) -> Self {
        PageCache {
            ttl,
            generation: Arc::new(AtomicU64::new(0)),
            pages: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// Forgets every page: something customers may see has changed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn get(&self, key: &str) -> Option<Page> {
        let generation = self.generation.load(Ordering::SeqCst);
        let pages = self.pages.read().ok()?;
        pages
            .get(key)
            .filter(|p| p.generation == generation && p.made.elapsed() < self.ttl)
            .cloned()
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

/// Serves GETs of customer pages from the cache, filling it on a miss.
pub async fn serve(State(cache): State<PageCache>, req: Request, next: Next) -> Response {
    if cache.ttl.is_zero() || req.method() != Method::GET {
        return next.run(req).await;
    }
    let key = req.uri().to_string();
    let gzip = accepts_gzip(&req);
    if let Some(page) = cache.get(&key) {
        return respond(&page, gzip);
    }
    let generation = cache.generation.load(Ordering::SeqCst);
    let res = next.run(req).await;
    if res.status() != StatusCode::OK {
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
