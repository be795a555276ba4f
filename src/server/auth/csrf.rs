//! Cross-site request forgery: a state-changing request from a browser must come
//! from a page of this site, at its public URL (`SHIPLOG_PUBLIC_URL`). Browsers send `Origin` on every such request (and
//! `Referer` as a fallback); a request whose origin is another site, or that
//! names none, is refused before any handler runs. The JSON API (`/api/v1`)
//! never reads cookies, only bearer tokens, so it carries no ambient credential
//! to forge and is left to its own check.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use url::Url;

/// The site's own address, the one origin whose requests are accepted.
#[derive(Clone, Debug)]
pub struct PublicUrl(pub Url);

pub async fn guard(State(site): State<PublicUrl>, req: Request, next: Next) -> Response {
    if is_safe(req.method())
        || is_api(&req)
        || is_one_click_unsubscribe(&req)
        || (is_subscriber_form(&req) && names_no_origin(&req))
        || same_origin(&site.0, &req)
    {
        return next.run(req).await;
    }
    tracing::warn!(
        method = %req.method(),
        path = %crate::server::logging::loggable_path(req.uri().path()),
        origin = ?req.headers().get(header::ORIGIN),
        "refused a cross-site request"
    );
    refuse()
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// RFC 8058: mail clients post to the unsubscribe link from outside any
/// page. The secret in the path is the only credential, and there is no
/// session to ride on, so there is nothing to forge.
fn is_one_click_unsubscribe(req: &Request) -> bool {
    req.method() == Method::POST && req.uri().path().starts_with("/unsubscribe/")
}

/// The subscribe and preferences forms carry their own proof (a signed form
/// token; the subscriber's secret in the address) and ride on no session.
/// They are posted from pages that send no `Referer` (private-link and
/// preferences pages), so the browser says `Origin: null`; a request that
/// names another site is still refused.
fn is_subscriber_form(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == Method::POST
        && (path == "/subscribe"
            || (path.starts_with("/a/") && path.ends_with("/subscribe"))
            || path.starts_with("/subscription/"))
}

fn names_no_origin(req: &Request) -> bool {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let referer = req.headers().get(header::REFERER);
    matches!(origin, None | Some("null")) && referer.is_none()
}

fn is_api(req: &Request) -> bool {
    req.uri().path().starts_with("/api/v1/")
}

/// `host[:port]` of an absolute URL, as `Origin` and `Host` compare.
fn authority(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

fn same_origin(public_url: &Url, req: &Request) -> bool {
    let headers = req.headers();
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .filter(|v| *v != "null")
        .and_then(|v| Url::parse(v).ok());
    let Some(claimed) = claimed else { return false };
    // The scheme counts too: a page served over http on the same host (one a
    // network attacker can write) is another origin than the https site.
    if claimed.scheme() != public_url.scheme() {
        return false;
    }
    // The public URL's origin only: a request's own `Host` header is the
    // client's to write, so an `Origin` equal to it proves nothing.
    let Some(claimed) = authority(&claimed) else {
        return false;
    };
    authority(public_url).as_deref() == Some(&claimed)
}

fn refuse() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from("This request came from another site and was refused (cross-site request forgery protection). Open Shiplog at its own address (SHIPLOG_PUBLIC_URL), reload the page and try again."),
    )
        .into_response()
}
