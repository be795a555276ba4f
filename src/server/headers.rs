//! Security headers on every answer. Customer pages and everything else run no
//! script at all; the team's app may run only the hydration scripts carrying
//! this response's nonce (its policy is set while the shell renders, see
//! [`app_policy`]). Team pages and server-function answers are never stored
//! by browsers or proxies.

use crate::server::config::Config;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// `img-src` sources: this instance and the hosts admins allow.
fn image_sources(config: &Config) -> String {
    let mut sources = vec!["'self'".to_string()];
    sources.extend(config.image_hosts.iter().map(|h| format!("https://{h}")));
    sources.join(" ")
}

/// The policy for answers that run no script (customer pages, feeds, the API).
pub fn no_script_policy(config: &Config) -> String {
    format!(
        "default-src 'none'; style-src 'self'; img-src {}; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
        image_sources(config)
    )
}

/// The policy for the team's app: its wasm bundle and the inline hydration
/// scripts marked with `nonce`.
pub fn app_policy(config: &Config, nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src {}; connect-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        image_sources(config)
    )
}

/// Pages of the team's app and their calls: answers that hold team data.
fn never_stored(path: &str) -> bool {
    path == "/app"
        || path.starts_with("/app/")
        || path.starts_with("/fn/")
        || matches!(path, "/login" | "/setup")
        || path.starts_with("/invite/")
}

/// The headers every answer gets, made once from the settings (this runs
/// on every request, cached pages included).
#[derive(Clone)]
pub struct SecurityHeaders {
    no_script_policy: Option<HeaderValue>,
    hsts: bool,
}

impl SecurityHeaders {
    pub fn new(config: &Config) -> Arc<Self> {
        Arc::new(SecurityHeaders {
            no_script_policy: HeaderValue::from_str(&no_script_policy(config)).ok(),
            hsts: config.public_url.scheme() == "https",
        })
    }
}

pub async fn security_headers(
    State(headers): State<Arc<SecurityHeaders>>,
    req: Request,
    next: Next,
) -> Response {
    let no_store = never_stored(req.uri().path());
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        if let Some(v) = &headers.no_script_policy {
            h.insert(header::CONTENT_SECURITY_POLICY, v.clone());
        }
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        );
    }
    if no_store {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if headers.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}
