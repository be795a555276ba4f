//! Rendered public pages, kept in memory (plain and gzipped) so the public
//! site answers from memory. A page is keyed by its path and the query
//! parameters that page reads (so `?utm=1`, `?utm=2`… share one copy), and the
//! whole cache is bounded in bytes. Private-link pages (`/a/<link>/…`) are
//! never cached: a revoked link stops at once, on every instance. A page is dropped when anything is written through
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

/// At most this many pages are kept.
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

impl Page {
    fn bytes(&self) -> usize {
        self.plain.len() + self.gzip.len()
    }
}

#[derive(Default)]
struct Pages {
    map: HashMap<String, Page>,
    /// The sum of `Page::bytes` over `map`.
    bytes: usize,
}

#[derive(Clone)]
pub struct PageCache {
    ttl: Duration,
    max_bytes: usize,
    generation: Arc<AtomicU64>,
    pages: Arc<RwLock<Pages>>,
    /// One render at a time per page: the others wait and then read the cache.
    renders: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// The components each audience set may filter by, kept even when pages
    /// are not: see [`PageCache::components`].
    components: Arc<RwLock<HashMap<Vec<String>, Remembered>>>,
}

/// A list every page of changes shows, whatever its URL.
struct Remembered {
    generation: u64,
    made: Instant,
    list: Arc<Vec<String>>,
}

/// How long the components list is kept when nothing is written through this
/// instance: what bounds its staleness after another instance's write.
const COMPONENTS_TTL: Duration = Duration::from_secs(1);

/// At most this many audience sets are remembered (readers have a handful).
const MAX_AUDIENCE_SETS: usize = 1_000;

impl PageCache {
    /// A zero `ttl` turns caching off; at most `max_bytes` of pages are kept.
    pub fn new(ttl: Duration, max_bytes: usize) -> Self {
        PageCache {
            ttl,
            max_bytes,
            generation: Arc::new(AtomicU64::new(0)),
            pages: Arc::new(RwLock::new(Pages::default())),
            renders: Arc::new(std::sync::Mutex::new(HashMap::new())),
            components: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// The components readers with `audiences` may filter changes by, from
    /// `load` at most once a second, and again after any write through this
    /// instance. Every page of changes (each search, filter and later page)
    /// shows the same list, so with pages uncached it would otherwise be read
    /// once per request. Kept even when the page cache is off: another
    /// instance's new component shows in the filter a second late at most.
    pub async fn components<F, Fut, E>(
        &self,
        audiences: &[String],
        load: F,
    ) -> Result<Arc<Vec<String>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<String>, E>>,
    {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Ok(lists) = self.components.read() {
            if let Some(r) = lists.get(audiences) {
                if r.generation == generation && r.made.elapsed() < COMPONENTS_TTL {
                    return Ok(r.list.clone());
                }
            }
        }
        let made = Instant::now();
        let list = Arc::new(load().await?);
        if let Ok(mut lists) = self.components.write() {
            if lists.len() >= MAX_AUDIENCE_SETS {
                lists.clear();
            }
            let remembered = Remembered {
                generation,
                made,
                list: list.clone(),
            };
            lists.insert(audiences.to_vec(), remembered);
        }
        Ok(list)
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
        match pages.map.get(key) {
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
        // A page that would crowd out most others is served, not kept.
        if page.bytes() > self.max_bytes / 4 {
            return;
        }
        let Ok(mut pages) = self.pages.write() else {
            return;
        };
        if let Some(old) = pages.map.remove(&key) {
            pages.bytes -= old.bytes();
        }
        // Make room by dropping the oldest pages (stale generations first).
        let generation = self.generation.load(Ordering::SeqCst);
        while !pages.map.is_empty()
            && (pages.bytes + page.bytes() > self.max_bytes || pages.map.len() >= MAX_PAGES)
        {
            let victim = pages
                .map
                .iter()
                .min_by_key(|(_, p)| (p.generation == generation, p.made))
                .map(|(k, _)| k.clone());
            if let Some(k) = victim {
                if let Some(old) = pages.map.remove(&k) {
                    pages.bytes -= old.bytes();
                }
            }
        }
        pages.bytes += page.bytes();
        pages.map.insert(key, page);
    }

    /// (pages, bytes) held now.
    pub fn usage(&self) -> (usize, usize) {
        self.pages
            .read()
            .map(|p| (p.map.len(), p.bytes))
            .unwrap_or_default()
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

/// The public pages, the only ones cached, and the query parameters each reads.
fn cached_params(path: &str) -> Option<&'static [&'static str]> {
    match path {
        "/" => Some(&["q", "page", "older", "newer"]),
        "/changes" => Some(&["q", "kind", "component", "page", "older", "newer"]),
        p if ["/changes/", "/releases/", "/feeds/"]
            .iter()
            .any(|prefix| p.starts_with(prefix)) =>
        {
            Some(&[])
        }
        _ => None,
    }
}

/// The cache key: the path and the parameters the page reads, non-empty,
/// in a fixed order. `None` when the page is not cached, or when a parameter
/// is repeated (the page would refuse it).
fn cache_key(path: &str, query: Option<&str>) -> Option<String> {
    let names = cached_params(path)?;
    let mut kept: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if !names.contains(&k.as_ref()) {
            continue;
        }
        if kept.iter().any(|(seen, _)| *seen == k) {
            return None;
        }
        kept.push((k.into_owned(), v.into_owned()));
    }
    kept.retain(|(_, v)| !v.is_empty());
    kept.sort();
    let mut key = path.to_string();
    if !kept.is_empty() {
        key.push('?');
        key.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(kept)
                .finish(),
        );
    }
    Some(key)
}

/// Serves GETs of customer pages from the cache, filling it on a miss. It sits
/// outside sessions, compression and the sign-in gate, so a hit costs little.
pub async fn serve(State(cache): State<PageCache>, mut req: Request, next: Next) -> Response {
    if cache.ttl.is_zero() || req.method() != Method::GET {
        return next.run(req).await;
    }
    let Some(key) = cache_key(req.uri().path(), req.uri().query()) else {
        return next.run(req).await;
    };
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

#[cfg(test)]
mod tests {
    use super::{cache_key, PageCache, COMPONENTS_TTL};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn components_are_read_again_after_a_write_or_a_second() {
        // Pages uncached, as in bench/public.sh: the list is still remembered.
        let cache = PageCache::new(Duration::ZERO, 1 << 20);
        let loads = AtomicUsize::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(vec!["api".to_string()])
        };
        let everyone = ["everyone".to_string()];
        let admins = ["everyone".to_string(), "admins".to_string()];
        assert_eq!(*cache.components(&everyone, load).await.unwrap(), ["api"]);
        cache.components(&everyone, load).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        cache.components(&admins, load).await.unwrap();
        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "each audience set has its own list"
        );
        cache.invalidate();
        cache.components(&everyone, load).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 3, "a write drops the list");
        tokio::time::sleep(COMPONENTS_TTL + Duration::from_millis(50)).await;
        cache.components(&everyone, load).await.unwrap();
        assert_eq!(
            loads.load(Ordering::SeqCst),
            4,
            "another instance's write shows in a second"
        );
        let failed = cache
            .components(&["cohort:x".to_string()], || async {
                Err("down".to_string())
            })
            .await;
        assert_eq!(failed.unwrap_err(), "down");
        cache
            .components(&["cohort:x".to_string()], load)
            .await
            .unwrap();
        assert_eq!(
            loads.load(Ordering::SeqCst),
            5,
            "a failure is not remembered"
        );
    }

    #[test]
    fn keys_keep_only_what_the_page_reads() {
        assert_eq!(cache_key("/", Some("utm=1")).unwrap(), "/");
        assert_eq!(cache_key("/", Some("utm=2&q=")).unwrap(), "/");
        assert_eq!(
            cache_key("/changes", Some("page=2&utm=x&kind=fix&q=a+b")).unwrap(),
            "/changes?kind=fix&page=2&q=a+b"
        );
        assert_eq!(
            cache_key("/releases/x", Some("q=1")).unwrap(),
            "/releases/x"
        );
        assert_eq!(cache_key("/changes", Some("q=a&q=b")), None);
        assert_eq!(cache_key("/a/secret/changes", None), None);
        assert_eq!(cache_key("/a/secret/", None), None);
        assert_eq!(cache_key("/app", None), None);
    }
}
