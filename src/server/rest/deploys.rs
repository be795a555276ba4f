//! `/api/v1/deploys`: thin handlers over `service::deploys`.

use super::extract::{ApiCaller, ApiJson, ApiPath, ApiQuery};
use crate::model::*;
use crate::server::error::{AppError, ErrorBody};
use crate::server::service::deploys::{self, DeployInput, DeployPage};
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A deploy as the API answers it: with its page in the web app.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeployResponse {
    #[serde(flatten)]
    pub deploy: DeployDetail,
    /// The deploy's page in the web app.
    pub url: String,
}

fn respond(state: &AppState, deploy: DeployDetail) -> Json<DeployResponse> {
    let url = state
        .config
        .link(&format!("/app/deploys/{}", deploy.deploy.id));
    Json(DeployResponse { deploy, url })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only this environment.
    pub environment: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// Deploys older than this deploy id (`next_before` of the previous page).
    pub before: Option<i64>,
}

/// A status change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusUpdate {
    /// `succeeded`, `failed` or `rolled_back`.
    pub status: DeployStatus,
    /// Defaults to now when the deploy finishes.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Record a deploy with its changelog.
#[utoipa::path(post, path = "/api/v1/deploys", request_body = DeployInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded", body = DeployResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "The token's role may not record deploys", body = ErrorBody),
        (status = 409, description = "This version was already deployed to this environment", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "A field is invalid; `field` names it", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    input: ApiJson<DeployInput>,
) -> Result<(StatusCode, Json<DeployResponse>), AppError> {
    crate::server::service::deploys::may_edit(&actor)?;
    let input = input.parse()?;
    let detail = deploys::create(&state.db, &state.markdown, &actor, input).await?;
    Ok((StatusCode::CREATED, respond(&state, detail)))
}

/// List deploys, newest first.
#[utoipa::path(get, path = "/api/v1/deploys", params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of deploys", body = DeployPage),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 422, description = "A parameter is invalid", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<DeployPage>, AppError> {
    Ok(Json(
        deploys::list(&state.db, p.environment, p.limit, p.before).await?,
    ))
}

/// One deploy with its entries and commits.
#[utoipa::path(get, path = "/api/v1/deploys/{id}", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The deploy", body = DeployResponse),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 404, description = "No such deploy", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DeployResponse>, AppError> {
    Ok(respond(&state, deploys::get(&state.db, id).await?))
}

/// Move a deploy's status on.
#[utoipa::path(patch, path = "/api/v1/deploys/{id}", params(("id" = i64, Path)), request_body = StatusUpdate,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = DeployResponse),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "The token's role may not change deploys", body = ErrorBody),
        (status = 404, description = "No such deploy", body = ErrorBody),
        (status = 409, description = "Impossible transition", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    body: ApiJson<StatusUpdate>,
) -> Result<Json<DeployResponse>, AppError> {
    crate::server::service::deploys::may_edit(&actor)?;
    let body = body.parse()?;
    let detail =
        deploys::change_status(&state.db, &actor, id, body.status, body.finished_at).await?;
    Ok(respond(&state, detail))
}
