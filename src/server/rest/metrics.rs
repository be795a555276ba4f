//! `/api/v1/metrics/dora`: the DORA metrics of an environment over a window.

use super::extract::{ApiCaller, ApiQuery};
use crate::server::error::{AppError, ErrorBody};
use crate::server::service::metrics::{self, Dora};
use crate::server::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DoraParams {
    /// Default `production`.
    pub environment: Option<String>,
    /// First day, inclusive (UTC). Default: 29 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (UTC). Default: today.
    pub to: Option<NaiveDate>,
}

/// Deployment frequency, lead time, change failure rate, time to restore and
/// rework rate over a window of whole days, with the DORA report's levels.
#[utoipa::path(get, path = "/api/v1/metrics/dora", params(DoraParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The metrics", body = Dora),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 422, description = "A parameter is invalid", body = ErrorBody),
    ))]
pub async fn dora(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiQuery(p): ApiQuery<DoraParams>,
) -> Result<Json<Dora>, AppError> {
    let (from, to) = metrics::days(p.from, p.to, state.db.now())?;
    let environment = p
        .environment
        .unwrap_or_else(|| crate::model::PRODUCTION.into());
    Ok(Json(
        metrics::dora(&state.db, &environment, from, to).await?,
    ))
}
