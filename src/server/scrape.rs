//! `/metrics`: what `telemetry` counted, with the database's pools and
//! queues. Served on `SHIPLOG_METRICS_LISTEN` without authentication (a
//! private port), and on the main port to an admin token.

use crate::server::db::Db;
use crate::server::error::AppError;
use crate::server::state::AppState;
use crate::server::telemetry::{render, Storage};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

async fn page(db: &Db) -> Result<String, AppError> {
    let storage = Storage {
        pools: db.pool_stats(),
        queues: db.queue_depths().await?,
    };
    Ok(render(&storage))
}

fn text(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `/metrics` on the main port: admin tokens only.
pub async fn for_admins(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| AppError::unauthorized("Send an admin API token: `Authorization: Bearer <token>`, or scrape SHIPLOG_METRICS_LISTEN."))?;
    let actor = crate::server::service::tokens::authenticate(&state.db, secret).await?;
    actor.require(actor.role.is_admin(), "read the metrics")?;
    Ok(text(page(&state.db).await?))
}

/// `/metrics` on `SHIPLOG_METRICS_LISTEN`: for the scraper on a private port.
pub async fn open(State(db): State<Db>) -> Result<Response, AppError> {
    Ok(text(page(&db).await?))
}
