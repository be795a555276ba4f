//! Customer-facing pages: rendered completely on the server from Leptos views,
//! with no JavaScript at all, so they stay light and work everywhere. They are
//! plain Axum handlers, not routes of the hydrated app.

mod pages;

use crate::model::{EntryKind, Reader};
use crate::server::error::AppError;
use crate::server::service::audiences;
use crate::server::service::changes::{self, ChangesFilter};
use crate::server::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/changes") }))
        .route("/changes", get(changes_page))
        .route("/changes/{id}", get(change_page))
        // An account's private notes: the same pages, for that account's audiences.
        .route("/a/{link}", get(|Path(link): Path<String>| async move { Redirect::to(&format!("/a/{link}/changes")) }))
        .route("/a/{link}/changes", get(private_changes_page))
        .route("/a/{link}/changes/{id}", get(private_change_page))
}

/// Who is reading, and the path prefix their links keep.
pub struct Viewer {
    pub reader: Reader,
    pub base: String,
}

impl Viewer {
    fn public() -> Self {
        Viewer {
            reader: Reader::Public,
            base: String::new(),
        }
    }

    async fn private(state: &AppState, link: &str) -> Result<Self, AppError> {
        Ok(Viewer {
            reader: audiences::reader(&state.db, link).await?,
            base: format!("/a/{link}"),
        })
    }
}

/// Private pages are not for search engines, and their address must not leak
/// through the `Referer` of outgoing links.
fn private_headers(res: Response) -> Response {
    use axum::http::{header, HeaderValue};
    let mut res = res;
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

async fn private_changes_page(
    State(state): State<AppState>,
    Path(link): Path<String>,
    Query(p): Query<ChangesParams>,
) -> Response {
    let viewer = match Viewer::private(&state, &link).await {
        Ok(v) => v,
        Err(e) => return private_headers(error_page(&state, e)),
    };
    private_headers(render_changes(&state, &viewer, p).await)
}

async fn private_change_page(
    State(state): State<AppState>,
    Path((link, id)): Path<(String, String)>,
) -> Response {
    let viewer = match Viewer::private(&state, &link).await {
        Ok(v) => v,
        Err(e) => return private_headers(error_page(&state, e)),
    };
    private_headers(render_change(&state, &viewer, &id).await)
}

#[derive(Deserialize, Default)]
pub struct ChangesParams {
    kind: Option<String>,
    component: Option<String>,
    page: Option<String>,
}

/// A page-level error: the message in a page, with the right status.
fn error_page(state: &AppState, e: AppError) -> Response {
    let status = e.status();
    let message = e.to_string();
    if let AppError::Internal(cause) = &e {
        tracing::error!(error = ?cause, "public page failed");
    }
    let _ = state;
    (status, Html(pages::error(status, &message))).into_response()
}

async fn changes_page(State(state): State<AppState>, Query(p): Query<ChangesParams>) -> Response {
    render_changes(&state, &Viewer::public(), p).await
}

async fn render_changes(state: &AppState, viewer: &Viewer, p: ChangesParams) -> Response {
    let state = state.clone();
    let kind = match p.kind.as_deref().filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => match k.parse::<EntryKind>() {
            Ok(k) => Some(k),
            Err(e) => return error_page(&state, AppError::invalid("kind", e)),
        },
    };
    let page = match p.page.as_deref().filter(|v| !v.is_empty()) {
        None => 1,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=100_000).contains(&n) => n,
            _ => {
                return error_page(
                    &state,
                    AppError::invalid("page", "the page must be a positive number"),
                )
            }
        },
    };
    let filter = ChangesFilter {
        kind,
        component: p.component.filter(|c| !c.is_empty()),
        page,
    };
    match changes::list(&state.db, &viewer.reader, &filter).await {
        Ok(list) => Html(pages::changes(viewer, &filter, &list)).into_response(),
        Err(e) => error_page(&state, e),
    }
}

async fn change_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    render_change(&state, &Viewer::public(), &id).await
}

async fn render_change(state: &AppState, viewer: &Viewer, id: &str) -> Response {
    let state = state.clone();
    let Ok(id) = id.parse::<i64>() else {
        return error_page(
            &state,
            AppError::not_found("This change does not exist or is not public."),
        );
    };
    match changes::get(&state.db, &viewer.reader, id).await {
        Ok(entry) => Html(pages::change(viewer, &entry)).into_response(),
        Err(e) => error_page(&state, e),
    }
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
