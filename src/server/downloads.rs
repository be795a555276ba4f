//! Files the team's app offers for download, for the signed-in person.

use crate::server::browser_session as session;
use crate::server::error::AppError;
use crate::server::service::{subscribers, Actor};
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `GET /app/subscribers/export.csv`: every subscriber (PMs and admins).
pub async fn subscribers_csv(
    State(state): State<AppState>,
    session: tower_sessions::Session,
) -> Result<Response, AppError> {
    let user = session::current_user(&state, &session)
        .await?
        .ok_or_else(AppError::sign_in_required)?;
    let csv = subscribers::export_csv(&state.db, &Actor::person(&user)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"subscribers.csv\"",
            ),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        csv,
    )
        .into_response())
}

#[derive(serde::Deserialize)]
pub struct DoraCsvParams {
    environment: Option<String>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
}

/// `GET /app/metrics/dora.csv`: the weekly DORA trend of a window, for anyone signed in.
pub async fn dora_csv(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    axum::extract::Query(p): axum::extract::Query<DoraCsvParams>,
) -> Result<Response, AppError> {
    use crate::server::service::metrics;
    session::current_user(&state, &session)
        .await?
        .ok_or_else(AppError::sign_in_required)?;
    let (from, to) = metrics::days(p.from, p.to, state.db.now())?;
    let environment = p
        .environment
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| crate::model::PRODUCTION.into());
    let weeks = metrics::weekly(&state.db, &environment, from, to).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"dora.csv\"",
            ),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        metrics::weekly_csv(&weeks),
    )
        .into_response())
}
