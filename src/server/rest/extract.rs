//! Extractors that turn every bad request into the API's JSON error shape.

use crate::server::error::AppError;
use crate::server::service::{tokens, Actor};
use crate::server::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use serde::de::DeserializeOwned;

/// The caller, authenticated by `Authorization: Bearer <token>`.
pub struct ApiCaller(pub Actor);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                AppError::unauthorized("Send an API token: `Authorization: Bearer <token>`.")
            })?;
        let secret = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                AppError::unauthorized("The Authorization header must be `Bearer <token>`.")
            })?;
        let actor = tokens::authenticate(&state.db, secret).await?;
        if let Some(slot) = parts.extensions.get::<crate::server::audit::AuditSlot>() {
            slot.set(&actor.label);
        }
        Ok(ApiCaller(actor))
    }
}

/// A JSON body, read but not yet parsed: a handler checks the caller's
/// role first, then [`ApiJson::parse`]s it, so a role that may not use a
/// route hears `403`, never about its input. Too big is `413` (on reading);
/// not JSON or a syntax error `400`, a wrong field `422` naming it (on parsing).
pub struct ApiJson<T> {
    bytes: Bytes,
    is_json: bool,
    wants: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("+json"));
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge(format!(
                        "The request body is larger than {} bytes.",
                        super::MAX_BODY_BYTES
                    ))
                } else {
                    AppError::BadRequest(format!("The request body could not be read: {e}"))
                }
            })?;
        Ok(ApiJson {
            bytes,
            is_json,
            wants: std::marker::PhantomData,
        })
    }
}

impl<T: DeserializeOwned> ApiJson<T> {
    /// The body as `T`.
    pub fn parse(self) -> Result<T, AppError> {
        if !self.is_json {
            return Err(AppError::BadRequest(
                "Send the body as JSON with `Content-Type: application/json`.".into(),
            ));
        }
        let bytes = self.bytes;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            if inner.is_data() && !is_object {
                AppError::invalid("body", "the body must be a JSON object")
            } else if inner.is_data() {
                let message = strip_position(&inner.to_string());
                AppError::invalid(field_of(&path, &message), message)
            } else {
                AppError::BadRequest(format!("The body is not valid JSON: {inner}"))
            }
        })
    }
}

/// The field an error is about: serde names a missing or unknown field in the
/// message rather than in the path.
fn field_of(path: &str, message: &str) -> String {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        (".", Some(name)) => name.to_string(),
        (".", None) => "body".to_string(),
        (path, Some(name)) if !path.ends_with(name) => format!("{path}.{name}"),
        (path, _) => path.to_string(),
    }
}

/// serde_json appends "at line 1 column 42"; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A path parameter; a malformed one is `404` (no such resource), as a person expects.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_: PathRejection| AppError::not_found("Not found."))
    }
}

/// Query parameters; a malformed one is `422` naming it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| AppError::invalid("query", e.body_text()))
    }
}

/// A comma-separated query value (`status=open,mitigated`) as values of `T`;
/// absent or empty is none.
pub fn list_param<T: std::str::FromStr<Err = String>>(
    field: &str,
    raw: Option<&str>,
) -> Result<Vec<T>, AppError> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|e: String| AppError::invalid(field, e)))
        .collect()
}
