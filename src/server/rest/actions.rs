//! `/api/v1/actions`: thin handlers over `service::actions`. Any token reads
//! them; engineer, pm and admin tokens create and change them.

use super::extract::{list_param, ApiCaller, ApiJson, ApiPath, ApiQuery};
use crate::model::*;
use crate::server::error::{AppError, ErrorBody};
use crate::server::service::actions::{self, ActionChange, ActionInput};
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

/// `ACT-7` or `7`.
fn number(raw: &str) -> Result<i64, AppError> {
    parse_action_number(raw)
        .ok_or_else(|| AppError::not_found(format!("There is no action {raw}.")))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only these statuses, comma-separated (`open,done`).
    pub status: Option<String>,
    /// Only this owner's.
    pub owner: Option<String>,
    /// Only those following up this incident (`INC-12` or `12`).
    pub incident: Option<String>,
    /// `true`: only open actions past their due date.
    pub overdue: Option<bool>,
}

/// Create an action.
#[utoipa::path(post, path = "/api/v1/actions", request_body = ActionInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = ActionItem),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewers may not create actions", body = ErrorBody),
        (status = 422, description = "A field is invalid; `field` names it", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    input: ApiJson<ActionInput>,
) -> Result<(StatusCode, Json<ActionItem>), AppError> {
    crate::server::service::actions::may_act(&actor)?;
    let input = input.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(actions::create(&state.db, &actor, input).await?),
    ))
}

/// List actions, open ones first by due date.
#[utoipa::path(get, path = "/api/v1/actions", params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Actions", body = [ActionItem]),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 422, description = "A parameter is invalid", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<Vec<ActionItem>>, AppError> {
    let statuses: Vec<ActionStatus> = list_param("status", p.status.as_deref())?;
    let incident = match p.incident.as_deref() {
        None => None,
        Some(raw) => Some(
            parse_incident_number(raw)
                .ok_or_else(|| AppError::invalid("incident", "name an incident as INC-12 or 12"))?,
        ),
    };
    Ok(Json(
        actions::list(
            &state.db,
            statuses,
            p.owner.as_deref(),
            incident,
            p.overdue.unwrap_or(false),
        )
        .await?,
    ))
}

/// One action.
#[utoipa::path(get, path = "/api/v1/actions/{id}", params(("id" = String, Path, description = "`ACT-7` or `7`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The action", body = ActionItem),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 404, description = "No such action", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ActionItem>, AppError> {
    Ok(Json(actions::get(&state.db, number(&id)?).await?))
}

/// Change an action: mark it done, drop it with a reason, reassign it, move its due date.
#[utoipa::path(patch, path = "/api/v1/actions/{id}", params(("id" = String, Path, description = "`ACT-7` or `7`")),
    request_body = ActionChange,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = ActionItem),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewers may not change actions", body = ErrorBody),
        (status = 404, description = "No such action", body = ErrorBody),
        (status = 409, description = "Changed by someone else meanwhile", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<String>,
    body: ApiJson<ActionChange>,
) -> Result<Json<ActionItem>, AppError> {
    crate::server::service::actions::may_act(&actor)?;
    let body = body.parse()?;
    Ok(Json(
        actions::change(&state.db, &actor, number(&id)?, body).await?,
    ))
}
