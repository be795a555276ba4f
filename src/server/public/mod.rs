//! Customer-facing pages: rendered completely on the server from Leptos views,
//! with no JavaScript at all, so they stay light and work everywhere. They are
//! plain Axum handlers, not routes of the hydrated app.
//!
//! Every page exists twice: on the public site (`/…`, the `everyone` audience)
//! and under an account's private link (`/a/<link>/…`, that account's audiences).

mod feeds;
mod pages;
mod subscribe;

use crate::model::{EntryKind, Reader};
use crate::server::db::Mark;
use crate::server::error::AppError;
use crate::server::service::audiences;
use crate::server::service::changes::{self, ChangesFilter, PageAt};
use crate::server::service::delivery::PREVIEW_TOKEN;
use crate::server::state::AppState;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use serde::Deserialize;
use std::collections::HashMap;

/// Every customer page and form. The router is built from this list, and the
/// tests' authorisation matrix walks it, so no route escapes either.
pub fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/", get(home_page)),
        ("/releases/{slug}", get(release_page)),
        ("/changes", get(changes_page)),
        ("/changes/{id}", get(change_page)),
        ("/feeds/{feed}", get(feeds::feed)),
        ("/a/{link}/feeds/{feed}", get(feeds::feed)),
        ("/a/{link}", get(home_page)),
        ("/a/{link}/", get(home_page)),
        ("/a/{link}/releases/{slug}", get(release_page)),
        ("/a/{link}/changes", get(changes_page)),
        ("/a/{link}/changes/{id}", get(change_page)),
        (
            "/subscribe",
            get(subscribe::form_page).post(subscribe::submit),
        ),
        (
            "/a/{link}/subscribe",
            get(subscribe::form_page).post(subscribe::submit),
        ),
        ("/subscribe/confirm", get(subscribe::confirm)),
        (
            "/subscription/{token}",
            get(subscribe::preferences_page).post(subscribe::save),
        ),
        (
            "/unsubscribe/{token}",
            get(subscribe::unsubscribe_page).post(subscribe::unsubscribe),
        ),
    ]
}

pub fn router() -> Router<AppState> {
    routes()
        .into_iter()
        .fold(Router::new(), |router, (path, handlers)| {
            router.route(path, handlers)
        })
}

/// Who is reading, and the path prefix their links keep.
pub struct Viewer {
    pub reader: Reader,
    pub base: String,
    /// A fresh signed token for the subscribe form.
    pub form_token: String,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // A path whose parts cannot be read (`/a/%ff/`) names no page.
        let params: HashMap<String, String> =
            match Path::<HashMap<String, String>>::from_request_parts(parts, state).await {
                Ok(p) => p.0,
                Err(_) => {
                    return Err(private_headers(error_page(AppError::not_found(
                        "There is nothing at this address.",
                    ))))
                }
            };
        let form_token = match state.signer().await {
            Ok(signer) => crate::server::service::subscribers::form_token(signer, state.db.now()),
            Err(e) => return Err(error_page(e)),
        };
        match params.get("link") {
            None => Ok(Viewer {
                reader: Reader::Public,
                base: String::new(),
                form_token,
            }),
            Some(link) if link == PREVIEW_TOKEN => Err(private_headers(preview_link_page())),
            Some(link) => match audiences::reader(&state.db, link).await {
                Ok(reader) => Ok(Viewer {
                    reader,
                    base: format!("/a/{link}"),
                    form_token,
                }),
                Err(e) => Err(private_headers(error_page(e))),
            },
        }
    }
}

impl Viewer {
    fn is_private(&self) -> bool {
        matches!(self.reader, Reader::Account { .. })
    }

    /// A page for this viewer; private pages stay out of search engines, caches
    /// and the `Referer` of outgoing links.
    fn respond(&self, res: Response) -> Response {
        if self.is_private() {
            private_headers(res)
        } else {
            res
        }
    }
}

fn private_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}

/// Where a link of a preview or test email leads: it stands in for a
/// subscriber's secret, so it explains itself and does nothing.
fn preview_link_page() -> Response {
    Html(pages::notice(
        None,
        "A link from a preview",
        &[
            "This link comes from a preview or a test email, which never carries a subscriber's own links.".into(),
            "In the email subscribers receive, it opens their own page.".into(),
        ],
        None,
    ))
    .into_response()
}

/// An error page in the public site's style, for answers made outside it.
pub fn error_html(status: StatusCode, message: &str) -> String {
    pages::error(status, message)
}

/// A page-level error: the message in a page, with the right status.
fn error_page(e: AppError) -> Response {
    let status = e.status();
    let message = e.to_string();
    if let AppError::Internal(cause) = &e {
        tracing::error!(error = format!("{cause:#}"), "public page failed");
    }
    (status, Html(pages::error(status, &message))).into_response()
}

fn page_number(raw: Option<&str>) -> Result<i64, AppError> {
    match raw.filter(|v| !v.is_empty()) {
        None => Ok(1),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=changes::NUMBERED_PAGES).contains(&n) => Ok(n),
            Ok(n) if n > changes::NUMBERED_PAGES => Err(AppError::not_found(format!(
                "Only the first {} pages are numbered: from the first page, follow “Older” as far back as you like.",
                changes::NUMBERED_PAGES
            ))),
            _ => Err(AppError::invalid(
                "page",
                "the page must be a positive number",
            )),
        },
    }
}

/// A place in a list given as a page position (`older`, `newer`): a row's
/// id, or a search hit's (`t` for a title hit, `o` for another, then its id).
fn position(name: &'static str, raw: Option<&str>) -> Result<Option<Position>, AppError> {
    let Some(v) = raw.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let (hit, digits) = match v.as_bytes()[0] {
        b't' => (Some(true), &v[1..]),
        b'o' => (Some(false), &v[1..]),
        _ => (None, v),
    };
    match digits.parse::<i64>() {
        Ok(id) if id > 0 => Ok(Some(match hit {
            Some(in_title) => Position::Hit(Mark { in_title, id }),
            None => Position::Row(id),
        })),
        _ => Err(AppError::invalid(
            name,
            "this must name a place in the list, as the page's links do",
        )),
    }
}

/// What `older` or `newer` names.
#[derive(Clone, Copy)]
enum Position {
    Row(i64),
    Hit(Mark),
}

/// Which page the query asks for: `older`, `newer` or a numbered `page`.
fn page_at(
    older: Option<&str>,
    newer: Option<&str>,
    page: Option<&str>,
) -> Result<PageAt, AppError> {
    Ok(
        match (position("older", older)?, position("newer", newer)?) {
            (Some(Position::Row(id)), _) => PageAt::Older(id),
            (Some(Position::Hit(m)), _) => PageAt::After(m),
            (None, Some(Position::Row(id))) => PageAt::Newer(id),
            (None, Some(Position::Hit(m))) => PageAt::Before(m),
            (None, None) => PageAt::Number(page_number(page)?),
        },
    )
}

/// The query value naming a page position, as [`position`] reads it.
pub fn position_value(at: PageAt) -> Option<(&'static str, String)> {
    let hit = |m: Mark| format!("{}{}", if m.in_title { 't' } else { 'o' }, m.id);
    match at {
        PageAt::Number(n) if n > 1 => Some(("page", n.to_string())),
        PageAt::Number(_) => None,
        PageAt::Older(id) => Some(("older", id.to_string())),
        PageAt::Newer(id) => Some(("newer", id.to_string())),
        PageAt::After(m) => Some(("older", hit(m))),
        PageAt::Before(m) => Some(("newer", hit(m))),
    }
}

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> &'a str {
    params.get(name).map(String::as_str).unwrap_or_default()
}

#[derive(Deserialize, Default)]
pub struct HomeParams {
    q: Option<String>,
    page: Option<String>,
    older: Option<String>,
    newer: Option<String>,
}

async fn home_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(p): Query<HomeParams>,
) -> Response {
    let result = async {
        let at = page_at(p.older.as_deref(), p.newer.as_deref(), p.page.as_deref())?;
        let search = p.q.unwrap_or_default();
        let list = changes::releases(&state.db, &viewer.reader, &search, at).await?;
        Ok::<_, AppError>(pages::home(&viewer, &search, &list))
    }
    .await;
    viewer.respond(match result {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(e),
    })
}

async fn release_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    viewer.respond(
        match changes::release(&state.db, &viewer.reader, param(&params, "slug")).await {
            Ok(r) => Html(pages::release(&viewer, &r)).into_response(),
            Err(e) => error_page(e),
        },
    )
}

#[derive(Deserialize, Default)]
pub struct ChangesParams {
    q: Option<String>,
    kind: Option<String>,
    component: Option<String>,
    page: Option<String>,
    older: Option<String>,
    newer: Option<String>,
}

async fn changes_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(p): Query<ChangesParams>,
) -> Response {
    let result = async {
        let kind = p
            .kind
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(|k| {
                k.parse::<EntryKind>()
                    .map_err(|e| AppError::invalid("kind", e))
            })
            .transpose()?;
        let filter = ChangesFilter {
            search: p.q.unwrap_or_default(),
            kind,
            component: p.component.filter(|c| !c.is_empty()),
            at: page_at(p.older.as_deref(), p.newer.as_deref(), p.page.as_deref())?,
        };
        let list = changes::list(&state.db, &viewer.reader, &filter).await?;
        let components = state
            .pages
            .components(&viewer.reader.audiences(), || {
                changes::components(&state.db, &viewer.reader)
            })
            .await?;
        Ok::<_, AppError>(pages::changes(&viewer, &filter, &list, &components))
    }
    .await;
    viewer.respond(match result {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(e),
    })
}

async fn change_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let result = async {
        let id = param(&params, "id")
            .parse::<i64>()
            .map_err(|_| AppError::not_found("This change does not exist or is not public."))?;
        changes::get(&state.db, &viewer.reader, id).await
    }
    .await;
    viewer.respond(match result {
        Ok(entry) => Html(pages::change(&viewer, &entry)).into_response(),
        Err(e) => error_page(e),
    })
}

/// `404` for any address nobody handles, as a light page.
pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(pages::error(
            StatusCode::NOT_FOUND,
            "There is nothing at this address.",
        )),
    )
        .into_response()
}
