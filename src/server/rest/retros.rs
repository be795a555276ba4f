//! `/api/v1/retros`: thin handlers over `service::retros`. Any token reads
//! retros and takes part (items, votes, groups); engineer, pm and admin
//! tokens open them, set the cadence and review actions; the facilitator
//! (or an admin) turns items into actions and closes.

use super::extract::{ApiCaller, ApiJson, ApiPath};
use crate::model::*;
use crate::server::error::{AppError, ErrorBody};
use crate::server::service::retros::{self, ItemActionInput, ItemInput, RetroInput, ReviewInput};
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The retros, newest first, with the cadence.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RetroList {
    pub retros: Vec<Retro>,
    /// When the next retro is due, by the cadence.
    pub next_due: NaiveDate,
    pub settings: RetroSettings,
}

/// A change to an item: group it with another item, or (`null`) take it
/// out of its group.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemChange {
    #[serde(deserialize_with = "crate::server::service::validate::present")]
    #[schema(value_type = Option<i64>)]
    pub group_with: Option<Option<i64>>,
}

/// List retros.
#[utoipa::path(get, path = "/api/v1/retros", security(("bearer" = [])),
    responses(
        (status = 200, description = "Retros, newest first", body = RetroList),
        (status = 401, description = "No or invalid token", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
) -> Result<Json<RetroList>, AppError> {
    let (retros, next_due) = retros::list(&state.db).await?;
    Ok(Json(RetroList {
        retros,
        next_due,
        settings: retros::settings(&state.db).await?,
    }))
}

/// Open a retro for its period (by default, the days since the previous one).
#[utoipa::path(post, path = "/api/v1/retros", request_body = RetroInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Opened", body = RetroDetail),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewers may not open retros", body = ErrorBody),
        (status = 409, description = "Another retro is still open", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    input: ApiJson<RetroInput>,
) -> Result<(StatusCode, Json<RetroDetail>), AppError> {
    crate::server::service::retros::may_organise(&actor)?;
    let input = input.parse()?;
    let retro = retros::create(&state.db, &actor, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(retros::get(&state.db, &actor, retro.id).await?),
    ))
}

/// The cadence and the votes each person has.
#[utoipa::path(get, path = "/api/v1/retros/settings", security(("bearer" = [])),
    responses(
        (status = 200, description = "Settings", body = RetroSettings),
        (status = 401, description = "No or invalid token", body = ErrorBody),
    ))]
pub async fn settings(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
) -> Result<Json<RetroSettings>, AppError> {
    Ok(Json(retros::settings(&state.db).await?))
}

/// Set the cadence and the votes each person has.
#[utoipa::path(put, path = "/api/v1/retros/settings", request_body = RetroSettings,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Saved", body = RetroSettings),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewers may not", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn save_settings(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    input: ApiJson<RetroSettings>,
) -> Result<Json<RetroSettings>, AppError> {
    crate::server::service::retros::may_organise(&actor)?;
    let input = input.parse()?;
    Ok(Json(retros::save_settings(&state.db, &actor, input).await?))
}

/// One retro: its period, the actions to review, and the board as the caller sees it.
#[utoipa::path(get, path = "/api/v1/retros/{id}", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The retro", body = RetroDetail),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 404, description = "No such retro", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RetroDetail>, AppError> {
    Ok(Json(retros::get(&state.db, &actor, id).await?))
}

/// Add an item to an open retro's board.
#[utoipa::path(post, path = "/api/v1/retros/{id}/items", params(("id" = i64, Path)),
    request_body = ItemInput, security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = RetroItem),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 404, description = "No such retro", body = ErrorBody),
        (status = 409, description = "The retro is closed", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn add_item(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    audit: Option<axum::Extension<crate::server::audit::AuditSlot>>,
    input: ApiJson<ItemInput>,
) -> Result<(StatusCode, Json<RetroItem>), AppError> {
    let input = input.parse()?;
    if input.anonymous {
        if let Some(axum::Extension(slot)) = audit {
            slot.anonymise();
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(retros::add_item(&state.db, &actor, id, input).await?),
    ))
}

/// Group an item with another, or take it out of its group.
#[utoipa::path(patch, path = "/api/v1/retros/{id}/items/{item}",
    params(("id" = i64, Path), ("item" = i64, Path)),
    request_body = ItemChange, security(("bearer" = [])),
    responses(
        (status = 204, description = "Grouped"),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 404, description = "No such retro or item", body = ErrorBody),
        (status = 409, description = "The retro is closed", body = ErrorBody),
    ))]
pub async fn change_item(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath((id, item)): ApiPath<(i64, i64)>,
    change: ApiJson<ItemChange>,
) -> Result<StatusCode, AppError> {
    let change = change.parse()?;
    if let Some(with) = change.group_with {
        retros::group(&state.db, &actor, id, item, with).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Vote for an item (each person has the retro's allowance of votes).
#[utoipa::path(post, path = "/api/v1/retros/{id}/items/{item}/vote",
    params(("id" = i64, Path), ("item" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 204, description = "Voted"),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 404, description = "No such retro or item", body = ErrorBody),
        (status = 409, description = "No votes left, already voted, or the retro is closed", body = ErrorBody),
    ))]
pub async fn vote(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath((id, item)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    retros::vote(&state.db, &actor, id, item, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take a vote back.
#[utoipa::path(delete, path = "/api/v1/retros/{id}/items/{item}/vote",
    params(("id" = i64, Path), ("item" = i64, Path)), security(("bearer" = [])),
    responses(
        (status = 204, description = "Taken back"),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 404, description = "No such retro or item", body = ErrorBody),
        (status = 409, description = "The retro is closed", body = ErrorBody),
    ))]
pub async fn unvote(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath((id, item)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    retros::vote(&state.db, &actor, id, item, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turn an item into an action (the facilitator or an admin).
#[utoipa::path(post, path = "/api/v1/retros/{id}/items/{item}/action",
    params(("id" = i64, Path), ("item" = i64, Path)),
    request_body = ItemActionInput, security(("bearer" = [])),
    responses(
        (status = 201, description = "The action", body = ActionItem),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Only the facilitator or an admin", body = ErrorBody),
        (status = 404, description = "No such retro or item", body = ErrorBody),
        (status = 409, description = "Already an action, or the retro is closed", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn item_action(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath((id, item)): ApiPath<(i64, i64)>,
    input: ApiJson<ItemActionInput>,
) -> Result<(StatusCode, Json<ActionItem>), AppError> {
    crate::server::service::actions::may_act(&actor)?;
    retros::may_facilitate_retro(&state.db, &actor, id).await?;
    let input = input.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(retros::item_to_action(&state.db, &actor, id, item, input).await?),
    ))
}

/// Review an open action: done, still open with a new due date, or dropped with a reason.
#[utoipa::path(post, path = "/api/v1/retros/{id}/reviews", params(("id" = i64, Path)),
    request_body = ReviewInput, security(("bearer" = [])),
    responses(
        (status = 200, description = "Recorded", body = ActionReview),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewers may not change actions", body = ErrorBody),
        (status = 404, description = "No such retro", body = ErrorBody),
        (status = 409, description = "The retro is closed, or the action changed meanwhile", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn review(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    input: ApiJson<ReviewInput>,
) -> Result<Json<ActionReview>, AppError> {
    crate::server::service::actions::may_act(&actor)?;
    let input = input.parse()?;
    Ok(Json(retros::review(&state.db, &actor, id, input).await?))
}

/// Close a retro (the facilitator or an admin); it is read-only afterwards.
#[utoipa::path(post, path = "/api/v1/retros/{id}/close", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Closed", body = Retro),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Only the facilitator or an admin", body = ErrorBody),
        (status = 404, description = "No such retro", body = ErrorBody),
        (status = 409, description = "Already closed", body = ErrorBody),
    ))]
pub async fn close(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Retro>, AppError> {
    Ok(Json(retros::close(&state.db, &actor, id).await?))
}
