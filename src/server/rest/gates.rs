//! `/api/v1/builds`, `/api/v1/blocks` and `/api/v1/gate`: thin handlers over
//! `service::gates`. Engineer, pm and admin tokens record builds; every
//! token, a viewer's too, may place and lift blocks and ask the gate.

use super::extract::{ApiCaller, ApiJson, ApiPath, ApiQuery};
use crate::model::*;
use crate::server::error::{AppError, ErrorBody, ErrorDetail};
use crate::server::service::gates::{self, BuildChange, BuildInput};
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BuildListParams {
    /// Only builds with this status.
    pub status: Option<BuildStatus>,
    /// 1 to 200 (default 50).
    pub limit: Option<i64>,
}

/// Record a build.
#[utoipa::path(post, path = "/api/v1/builds", request_body = BuildInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded", body = Build),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewers may not record builds", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn create_build(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    input: ApiJson<BuildInput>,
) -> Result<(StatusCode, Json<Build>), AppError> {
    crate::server::service::gates::may_build(&actor)?;
    let input = input.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(gates::create_build(&state.db, &actor, input).await?),
    ))
}

/// List builds, newest first.
#[utoipa::path(get, path = "/api/v1/builds", params(BuildListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Builds", body = [Build]),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 422, description = "A parameter is invalid", body = ErrorBody),
    ))]
pub async fn list_builds(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiQuery(p): ApiQuery<BuildListParams>,
) -> Result<Json<Vec<Build>>, AppError> {
    Ok(Json(
        gates::list_builds(&state.db, p.status, p.limit).await?,
    ))
}

/// One build.
#[utoipa::path(get, path = "/api/v1/builds/{id}", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The build", body = Build),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 404, description = "No such build", body = ErrorBody),
    ))]
pub async fn get_build(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Build>, AppError> {
    Ok(Json(gates::get_build(&state.db, id).await?))
}

/// Change a build: it passed or failed, its link, its test counts.
#[utoipa::path(patch, path = "/api/v1/builds/{id}", params(("id" = i64, Path)),
    request_body = BuildChange, security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = Build),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewers may not change builds", body = ErrorBody),
        (status = 404, description = "No such build", body = ErrorBody),
        (status = 409, description = "Changed at the same time", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn update_build(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    change: ApiJson<BuildChange>,
) -> Result<Json<Build>, AppError> {
    crate::server::service::gates::may_build(&actor)?;
    let change = change.parse()?;
    Ok(Json(
        gates::change_build(&state.db, &actor, id, change).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentParam {
    /// The environment's slug, e.g. `production`.
    pub environment: String,
}

/// Why no build can be promoted: the error, with every reason.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NotPromotable {
    pub error: ErrorDetail,
    /// Every reason, newest build first.
    pub reasons: Vec<String>,
}

/// The newest passed build the gate lets through to the environment, not deployed there yet.
#[utoipa::path(get, path = "/api/v1/builds/promotable", params(EnvironmentParam),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The build to promote", body = Build),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 409, description = "None qualifies, with every reason", body = NotPromotable),
        (status = 422, description = "A parameter is invalid", body = ErrorBody),
    ))]
pub async fn promotable(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiQuery(p): ApiQuery<EnvironmentParam>,
) -> Result<Response, AppError> {
    Ok(match gates::promotable(&state.db, &p.environment).await? {
        Ok(build) => Json(build).into_response(),
        Err(reasons) => (
            StatusCode::CONFLICT,
            Json(NotPromotable {
                error: ErrorDetail {
                    code: "conflict".into(),
                    message: format!(
                        "No build can be promoted to {}: {}",
                        p.environment.trim(),
                        reasons.first().cloned().unwrap_or_default()
                    ),
                    field: None,
                },
                reasons,
            }),
        )
            .into_response(),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GateParams {
    /// The environment's slug, e.g. `production`.
    pub environment: String,
    /// The build to let through (optional: without it, any deploy).
    pub build: Option<i64>,
}

/// Whether a build (or any deploy) may go to the environment now, with every reason it may not.
#[utoipa::path(get, path = "/api/v1/gate", params(GateParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The gate, open or closed", body = Gate),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 422, description = "No such environment or build", body = ErrorBody),
    ))]
pub async fn gate(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiQuery(p): ApiQuery<GateParams>,
) -> Result<Json<Gate>, AppError> {
    Ok(Json(gates::gate(&state.db, &p.environment, p.build).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BlockListParams {
    /// Only this environment's.
    pub environment: Option<String>,
    /// `true`: only blocks that hold now.
    pub holding: Option<bool>,
}

/// Block a deploy: a whole environment, one entry's change, or a component. Anyone may.
#[utoipa::path(post, path = "/api/v1/blocks", request_body = BlockInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Placed", body = Block),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn place_block(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    input: ApiJson<BlockInput>,
) -> Result<(StatusCode, Json<Block>), AppError> {
    let input = input.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(gates::place_block(&state.db, state.config.time_zone, &actor, input).await?),
    ))
}

/// Every block, newest first: holding, expired and lifted.
#[utoipa::path(get, path = "/api/v1/blocks", params(BlockListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Blocks", body = [Block]),
        (status = 401, description = "No or invalid token", body = ErrorBody),
    ))]
pub async fn list_blocks(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiQuery(p): ApiQuery<BlockListParams>,
) -> Result<Json<Vec<Block>>, AppError> {
    Ok(Json(
        gates::blocks(
            &state.db,
            p.environment.as_deref(),
            p.holding.unwrap_or(false),
        )
        .await?,
    ))
}

/// A lift's note: why the block no longer holds.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftInput {
    pub note: String,
}

/// Lift a block, saying why. Anyone may.
#[utoipa::path(delete, path = "/api/v1/blocks/{id}", params(("id" = i64, Path)),
    request_body = LiftInput, security(("bearer" = [])),
    responses(
        (status = 200, description = "Lifted", body = Block),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 404, description = "No such block", body = ErrorBody),
        (status = 409, description = "Already lifted or expired", body = ErrorBody),
        (status = 422, description = "The note is missing", body = ErrorBody),
    ))]
pub async fn lift_block(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    input: ApiJson<LiftInput>,
) -> Result<Json<Block>, AppError> {
    let input = input.parse()?;
    Ok(Json(
        gates::lift_block(&state.db, &actor, id, &input.note).await?,
    ))
}
