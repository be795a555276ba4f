//! One error type for services, the JSON API and server functions. It says what
//! went wrong in words a person can act on; an internal failure becomes an opaque
//! message while its cause goes to the log.

use crate::model::FnError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Well-formed input that breaks a rule; names the offending field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// A link that worked once and has expired.
    #[error("{0}")]
    Gone(String),
    #[error("Something went wrong on our side; it has been logged. Please try again.")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// The same error, its field named inside `prefix` (`action.` + `due`).
    pub fn prefixed(self, prefix: &str) -> Self {
        match self {
            AppError::Invalid { field, message } => AppError::Invalid {
                field: format!("{prefix}{field}"),
                message,
            },
            other => other,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound(what.into())
    }
    pub fn forbidden(why: impl Into<String>) -> Self {
        AppError::Forbidden(why.into())
    }
    pub fn conflict(why: impl Into<String>) -> Self {
        AppError::Conflict(why.into())
    }
    pub fn unauthorized(why: impl Into<String>) -> Self {
        AppError::Unauthorized(why.into())
    }
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(cause.into())
    }
    /// The caller must be signed in.
    pub fn sign_in_required() -> Self {
        AppError::unauthorized("Please sign in.")
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code in API answers.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid { .. } => "invalid",
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::MethodNotAllowed(_) => "method_not_allowed",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::TooManyRequests(_) => "too_many_requests",
            AppError::Gone(_) => "gone",
            AppError::Internal(_) => "internal",
        }
    }

    /// Logs the cause of an internal error; other errors are the caller's to fix.
    fn log(&self) {
        if let AppError::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
    }
}

/// The JSON body of every API error: `{"error": {"code", "message", "field"?}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable code: invalid, bad_request, unauthorized, forbidden, not_found,
    /// method_not_allowed, conflict, payload_too_large, too_many_requests, gone,
    /// internal.
    pub code: String,
    pub message: String,
    /// The offending field, for `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let (message, field) = match &self {
            AppError::Invalid { field, message } => (message.clone(), Some(field.clone())),
            other => (other.to_string(), None),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message,
                field,
            },
        };
        (self.status(), Json(body)).into_response()
    }
}

/// Server functions answer with the error's own status and words.
impl From<AppError> for FnError {
    fn from(e: AppError) -> Self {
        e.log();
        if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(e.status());
        }
        FnError {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}
