//! Subscribing by email from the public pages: the form (plain HTML, no
//! JavaScript), the confirmation link, the preferences page and one-click
//! unsubscribe. The links carry the subscriber's secret, never the address.

use super::{error_page, pages, preview_link_page, private_headers, Viewer};
use crate::model::{ChoicesForm, SubscribeForm, SubscriberStatus};
use crate::server::auth::client::client_address;
use crate::server::error::AppError;
use crate::server::service::delivery::PREVIEW_TOKEN;
use crate::server::service::subscribers;
use crate::server::state::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use std::net::SocketAddr;

/// Reads a form body; repeated fields (`kinds`) become a list, and a body
/// that is not a form reads as an empty one (the service says what is missing).
fn form_fields(body: &[u8]) -> (SubscribeForm, ChoicesForm) {
    let choices: ChoicesForm = serde_html_form::from_bytes(body).unwrap_or_default();
    let form = SubscribeForm {
        choices: choices.clone(),
        ..serde_html_form::from_bytes(body).unwrap_or_default()
    };
    (form, choices)
}

/// `GET /subscribe`: every choice.
pub async fn form_page(viewer: Viewer) -> Response {
    viewer.respond(Html(pages::subscribe(&viewer, None)).into_response())
}

/// `POST /subscribe`: the same answer whether or not the address was known.
pub async fn submit(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let viewer = match Viewer::from_request_parts(&mut parts, &state).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = client_address(peer, &parts.headers, &state.config.trusted_proxies);
    let body = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(b) => b,
        Err(_) => Bytes::new(),
    };
    let (form, _) = form_fields(&body);
    let result = async {
        let out = state.outbox().await?;
        subscribers::subscribe(&state.db, &out, &viewer.reader, &form, &client).await
    }
    .await;
    let res = match result {
        Ok(()) => Html(pages::notice(
            Some(&viewer),
            "Check your inbox",
            &[
                "If this address can receive our release notes, we have sent it an email. Open the link in it to confirm your subscription (it works for 48 hours).".into(),
                "Nothing else is sent until you confirm.".into(),
            ],
            Some(("Back to the release notes", format!("{}/", viewer.base))),
        ))
        .into_response(),
        Err(e @ AppError::Invalid { .. }) => {
            let status = e.status();
            let message = match &e {
                AppError::Invalid { message, .. } => capitalise(message),
                _ => e.to_string(),
            };
            (status, Html(pages::subscribe(&viewer, Some(message)))).into_response()
        }
        Err(e) => error_page(e),
    };
    viewer.respond(res)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str().trim_end_matches('.')),
        None => String::new(),
    }
}

#[derive(Deserialize)]
pub struct ConfirmParams {
    #[serde(default)]
    t: String,
}

/// `GET /subscribe/confirm?t=…`: confirming twice is fine.
pub async fn confirm(State(state): State<AppState>, Query(p): Query<ConfirmParams>) -> Response {
    let result = async {
        let signer = state.signer().await?;
        subscribers::confirm(&state.db, signer, &p.t).await
    }
    .await;
    private_headers(match result {
        Ok(link) => Html(pages::notice(
            None,
            "You are subscribed",
            &[format!(
                "Thank you: {} will receive our release notes. Every email has a link to change what you receive or to unsubscribe.",
                link.subscriber.email.clone().unwrap_or_default()
            )],
            Some(("Choose what you receive", format!("/subscription/{}", link.token))),
        ))
        .into_response(),
        Err(e) => error_page(e),
    })
}

/// `GET /subscription/{token}`.
pub async fn preferences_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Response {
    if token == PREVIEW_TOKEN {
        return private_headers(preview_link_page());
    }
    private_headers(match subscribers::by_token(&state.db, &token).await {
        Ok(link) => Html(pages::preferences(&link, &token, false, None)).into_response(),
        Err(e) => error_page(e),
    })
}

/// `POST /subscription/{token}`: new choices.
pub async fn save(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    if token == PREVIEW_TOKEN {
        return private_headers(preview_link_page());
    }
    let (_, choices) = form_fields(&body);
    private_headers(
        match subscribers::save_preferences(&state.db, &token, &choices).await {
            Ok(link) => Html(pages::preferences(&link, &token, true, None)).into_response(),
            Err(e @ AppError::Invalid { .. }) => {
                match subscribers::by_token(&state.db, &token).await {
                    Ok(link) => {
                        let message = match &e {
                            AppError::Invalid { message, .. } => capitalise(message),
                            _ => e.to_string(),
                        };
                        (
                            StatusCode::UNPROCESSABLE_ENTITY,
                            Html(pages::preferences(&link, &token, false, Some(message))),
                        )
                            .into_response()
                    }
                    Err(e) => error_page(e),
                }
            }
            Err(e) => error_page(e),
        },
    )
}

/// `GET /unsubscribe/{token}`: a button, because mail scanners follow links.
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Response {
    if token == PREVIEW_TOKEN {
        return private_headers(preview_link_page());
    }
    private_headers(match subscribers::by_token(&state.db, &token).await {
        Ok(link) if link.subscriber.status == SubscriberStatus::Unsubscribed => {
            Html(unsubscribed_page(&link.token)).into_response()
        }
        Ok(link) => Html(pages::unsubscribe(
            &token,
            link.subscriber.email.as_deref().unwrap_or_default(),
        ))
        .into_response(),
        Err(e) => error_page(e),
    })
}

fn unsubscribed_page(token: &str) -> String {
    pages::notice(
        None,
        "You are unsubscribed",
        &["We will not send you release notes any more.".into()],
        Some((
            "Changed your mind? Subscribe again",
            format!("/subscription/{token}"),
        )),
    )
}

/// `POST /unsubscribe/{token}`: one click (RFC 8058). Mail clients post here
/// with no session and from no page of ours, so no CSRF check applies: the
/// secret in the address is the credential.
pub async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if token == PREVIEW_TOKEN {
        return private_headers(preview_link_page());
    }
    private_headers(match subscribers::unsubscribe(&state.db, &token).await {
        Ok(link) => Html(unsubscribed_page(&link.token)).into_response(),
        Err(e) => error_page(e),
    })
}
