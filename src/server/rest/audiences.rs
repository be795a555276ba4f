//! `/api/v1/accounts` and `/api/v1/cohorts`: customer accounts, cohorts and
//! private notes links (pm and admin tokens).

use super::extract::{ApiCaller, ApiJson, ApiPath};
use crate::model::*;
use crate::server::error::{AppError, ErrorBody};
use crate::server::service::audiences;
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNamed {
    /// Lowercase letters, digits and dashes.
    #[schema(example = "acme")]
    pub slug: String,
    #[schema(example = "Acme Corp")]
    pub name: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Members {
    /// Account slugs; replaces the current members.
    pub accounts: Vec<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkKind {
    /// The administrators' link (also shows `admins` entries) instead of the members' link.
    #[serde(default)]
    pub admin: bool,
}

/// Create a customer account.
#[utoipa::path(post, path = "/api/v1/accounts", request_body = NewNamed, security(("bearer" = [])),
    responses((status = 201, body = Account), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_account(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    body: ApiJson<NewNamed>,
) -> Result<(StatusCode, Json<Account>), AppError> {
    crate::server::service::audiences::may_manage(&actor)?;
    let body = body.parse()?;
    let account = audiences::create_account(&state.db, &actor, &body.slug, &body.name).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// List customer accounts with their cohorts.
#[utoipa::path(get, path = "/api/v1/accounts", security(("bearer" = [])),
    responses((status = 200, body = Vec<Account>), (status = 403, body = ErrorBody)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
) -> Result<Json<Vec<Account>>, AppError> {
    Ok(Json(audiences::list_accounts(&state.db, &actor).await?))
}

/// Create (or replace) an account's private notes link; the URL is shown only now.
#[utoipa::path(post, path = "/api/v1/accounts/{slug}/links", params(("slug" = String, Path)), request_body = LinkKind,
    security(("bearer" = [])),
    responses((status = 201, body = NewAccountLink), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_link(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(slug): ApiPath<String>,
    kind: ApiJson<LinkKind>,
) -> Result<(StatusCode, Json<NewAccountLink>), AppError> {
    crate::server::service::audiences::may_manage(&actor)?;
    let kind = kind.parse()?;
    let config = state.config.clone();
    let link =
        audiences::create_link(&state.db, &actor, |p| config.link(p), &slug, kind.admin).await?;
    Ok((StatusCode::CREATED, Json(link)))
}

/// Revoke an account's private notes link.
#[utoipa::path(delete, path = "/api/v1/accounts/{slug}/links", params(("slug" = String, Path)), request_body = LinkKind,
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_link(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(slug): ApiPath<String>,
    kind: ApiJson<LinkKind>,
) -> Result<StatusCode, AppError> {
    crate::server::service::audiences::may_manage(&actor)?;
    let kind = kind.parse()?;
    audiences::revoke_link(&state.db, &actor, &slug, kind.admin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create a cohort.
#[utoipa::path(post, path = "/api/v1/cohorts", request_body = NewNamed, security(("bearer" = [])),
    responses((status = 201, body = Cohort), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_cohort(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    body: ApiJson<NewNamed>,
) -> Result<(StatusCode, Json<Cohort>), AppError> {
    crate::server::service::audiences::may_manage(&actor)?;
    let body = body.parse()?;
    let cohort = audiences::create_cohort(&state.db, &actor, &body.slug, &body.name).await?;
    Ok((StatusCode::CREATED, Json(cohort)))
}

/// List cohorts; their accounts are listed to pm and admin tokens only.
#[utoipa::path(get, path = "/api/v1/cohorts", security(("bearer" = [])),
    responses((status = 200, body = Vec<Cohort>)))]
pub async fn list_cohorts(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
) -> Result<Json<Vec<Cohort>>, AppError> {
    Ok(Json(audiences::list_cohorts(&state.db, &actor).await?))
}

/// Replace a cohort's accounts.
#[utoipa::path(put, path = "/api/v1/cohorts/{slug}/members", params(("slug" = String, Path)), request_body = Members,
    security(("bearer" = [])),
    responses((status = 200, body = Cohort), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn set_members(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(slug): ApiPath<String>,
    body: ApiJson<Members>,
) -> Result<Json<Cohort>, AppError> {
    crate::server::service::audiences::may_manage(&actor)?;
    let body = body.parse()?;
    Ok(Json(
        audiences::set_members(&state.db, &actor, &slug, &body.accounts).await?,
    ))
}
