//! `/api/v1/environments`, `/api/v1/calendar`, `/api/v1/risk/...`,
//! `/api/v1/entries/{id}/approvals|checklist` and `/api/v1/webhooks`: thin
//! handlers over `service::{environments, risk, notify}`.

use super::extract::{ApiCaller, ApiJson, ApiPath, ApiQuery};
use crate::model::*;
use crate::server::error::{AppError, ErrorBody};
use crate::server::service::environments::{self, EnvironmentInput, NightInput};
use crate::server::service::notify::{self, WebhookInput};
use crate::server::service::risk::{self, RuleInput};
use crate::server::service::validate;
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

/// Every environment: its kind, deploy nights and what is on it now.
#[utoipa::path(get, path = "/api/v1/environments", security(("bearer" = [])),
    responses(
        (status = 200, description = "Environments, production first", body = [Environment]),
        (status = 401, description = "No or invalid token", body = ErrorBody),
    ))]
pub async fn list_environments(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
) -> Result<Json<Vec<Environment>>, AppError> {
    Ok(Json(
        environments::list(&state.db, state.config.time_zone).await?,
    ))
}

async fn one_environment(state: &AppState, slug: &str) -> Result<Environment, AppError> {
    environments::list(&state.db, state.config.time_zone)
        .await?
        .into_iter()
        .find(|e| e.slug == slug)
        .ok_or_else(|| AppError::not_found(format!("There is no environment `{slug}`.")))
}

/// Add an environment (admin).
#[utoipa::path(post, path = "/api/v1/environments", request_body = EnvironmentInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = Environment),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 409, description = "It exists already", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn create_environment(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    input: ApiJson<EnvironmentInput>,
) -> Result<(StatusCode, Json<Environment>), AppError> {
    crate::server::service::environments::may_manage(&actor)?;
    let input = input.parse()?;
    let slug = environments::create(&state.db, &actor, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(one_environment(&state, &slug).await?),
    ))
}

/// Change an environment's kind or deploy nights (admin).
#[utoipa::path(put, path = "/api/v1/environments/{slug}", params(("slug" = String, Path)),
    request_body = EnvironmentInput, security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = Environment),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "No such environment", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn update_environment(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(slug): ApiPath<String>,
    input: ApiJson<EnvironmentInput>,
) -> Result<Json<Environment>, AppError> {
    crate::server::service::environments::may_manage(&actor)?;
    let input = input.parse()?;
    environments::update(&state.db, &actor, &slug, input).await?;
    Ok(Json(one_environment(&state, &slug).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CalendarParams {
    /// The environment's slug, e.g. `production`.
    pub environment: String,
    /// First day, `YYYY-MM-DD` (default: eight weeks before `to`).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (default: today, in the team's time zone).
    pub to: Option<String>,
}

/// The deploy nights of an environment: deployed, skipped and why, or flagged.
#[utoipa::path(get, path = "/api/v1/calendar", params(CalendarParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The nights, newest first, with the streak", body = Calendar),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 422, description = "A parameter is invalid", body = ErrorBody),
    ))]
pub async fn calendar(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiQuery(p): ApiQuery<CalendarParams>,
) -> Result<Json<Calendar>, AppError> {
    Ok(Json(
        environments::calendar(
            &state.db,
            state.config.time_zone,
            &p.environment,
            validate::day("from", p.from.as_deref().unwrap_or(""))?,
            validate::day("to", p.to.as_deref().unwrap_or(""))?,
        )
        .await?,
    ))
}

/// Say why a night has no deploy (or take the reason back with `"reason": null`).
#[utoipa::path(put, path = "/api/v1/calendar/{environment}/{night}",
    params(("environment" = String, Path), ("night" = chrono::NaiveDate, Path, description = "YYYY-MM-DD")),
    request_body = NightInput, security(("bearer" = [])),
    responses(
        (status = 204, description = "Recorded"),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 422, description = "Not a deploy night, or a field is invalid", body = ErrorBody),
    ))]
pub async fn explain_night(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath((environment, night)): ApiPath<(String, String)>,
    input: ApiJson<NightInput>,
) -> Result<StatusCode, AppError> {
    let input = input.parse()?;
    let night = validate::day("night", &night)?
        .ok_or_else(|| AppError::invalid("night", "give the night as YYYY-MM-DD"))?;
    environments::explain_night(
        &state.db,
        state.config.time_zone,
        &actor,
        &environment,
        night,
        input,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The rule of each risk level and the components marked risky.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RiskSettings {
    pub rules: Vec<RiskRule>,
    pub risky_components: Vec<RiskyComponent>,
}

/// The risk rules and risky components.
#[utoipa::path(get, path = "/api/v1/risk", security(("bearer" = [])),
    responses(
        (status = 200, description = "Rules and risky components", body = RiskSettings),
        (status = 401, description = "No or invalid token", body = ErrorBody),
    ))]
pub async fn risk_settings(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
) -> Result<Json<RiskSettings>, AppError> {
    let (rules, risky_components) = risk::settings(&state.db).await?;
    Ok(Json(RiskSettings {
        rules,
        risky_components,
    }))
}

/// Set the rule of a risk level (admin).
#[utoipa::path(put, path = "/api/v1/risk/rules/{risk}", params(("risk" = Risk, Path, description = "low, medium or high")),
    request_body = RuleInput, security(("bearer" = [])),
    responses(
        (status = 200, description = "The rule", body = RiskRule),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn set_rule(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(level): ApiPath<String>,
    input: ApiJson<RuleInput>,
) -> Result<Json<RiskRule>, AppError> {
    crate::server::service::risk::may_set_rules(&actor)?;
    let input = input.parse()?;
    let level: Risk = validate::choice("risk", &level)?;
    Ok(Json(risk::set_rule(&state.db, &actor, level, input).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskyInput {
    pub note: Option<String>,
}

/// Mark a component risky: its entries are at least `medium` (admin).
#[utoipa::path(put, path = "/api/v1/risk/components/{component}", params(("component" = String, Path)),
    request_body = RiskyInput, security(("bearer" = [])),
    responses(
        (status = 204, description = "Marked"),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn mark_risky(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(component): ApiPath<String>,
    input: ApiJson<RiskyInput>,
) -> Result<StatusCode, AppError> {
    crate::server::service::risk::may_set_rules(&actor)?;
    let input = input.parse()?;
    risk::mark_risky(&state.db, &actor, &component, input.note.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// No longer treat a component as risky (admin).
#[utoipa::path(delete, path = "/api/v1/risk/components/{component}", params(("component" = String, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Unmarked"),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "It is not marked risky", body = ErrorBody),
    ))]
pub async fn unmark_risky(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(component): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    risk::unmark_risky(&state.db, &actor, &component).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Per component: production deploys, incidents caused, change failure rate.
#[utoipa::path(get, path = "/api/v1/risk/map", security(("bearer" = [])),
    responses(
        (status = 200, description = "Components, highest failure rate first", body = [RiskMapRow]),
        (status = 401, description = "No or invalid token", body = ErrorBody),
    ))]
pub async fn risk_map(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
) -> Result<Json<Vec<RiskMapRow>>, AppError> {
    Ok(Json(risk::risk_map(&state.db).await?))
}

/// Where an entry stands in the process its risk asks for.
#[utoipa::path(get, path = "/api/v1/entries/{id}/process", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Its rule, approvals, ticks and what is unmet", body = EntryProcess),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
    ))]
pub async fn entry_process(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<EntryProcess>, AppError> {
    Ok(Json(risk::entry(&state.db, id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInput {
    /// A checklist item of the entry's rule.
    pub item: String,
    /// `false` unticks it.
    #[serde(default = "yes")]
    pub done: bool,
}

fn yes() -> bool {
    true
}

/// Tick (or untick) a checklist item of an entry.
#[utoipa::path(put, path = "/api/v1/entries/{id}/checklist", params(("id" = i64, Path)),
    request_body = CheckInput, security(("bearer" = [])),
    responses(
        (status = 200, description = "Where the entry stands now", body = EntryProcess),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewers may not tick checklists", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
        (status = 422, description = "Not an item of its checklist", body = ErrorBody),
    ))]
pub async fn check(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    input: ApiJson<CheckInput>,
) -> Result<Json<EntryProcess>, AppError> {
    crate::server::service::risk::may_tick(&actor)?;
    let input = input.parse()?;
    Ok(Json(
        risk::check(&state.db, &actor, id, &input.item, input.done).await?,
    ))
}

/// Add an outgoing webhook (admin). The secret is never shown again.
#[utoipa::path(post, path = "/api/v1/webhooks", request_body = WebhookInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = Webhook),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn create_webhook(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    input: ApiJson<WebhookInput>,
) -> Result<(StatusCode, Json<Webhook>), AppError> {
    crate::server::service::notify::may_configure(&actor)?;
    let input = input.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(notify::create_webhook(&state.db, &state.config, &actor, input).await?),
    ))
}

/// The webhooks (admin).
#[utoipa::path(get, path = "/api/v1/webhooks", security(("bearer" = [])),
    responses(
        (status = 200, description = "Webhooks with their delivery counts", body = [Webhook]),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
    ))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
) -> Result<Json<Vec<Webhook>>, AppError> {
    Ok(Json(notify::webhooks(&state.db, &actor).await?))
}

/// Remove a webhook (admin); its delivery log stays.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
pub async fn remove_webhook(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    notify::remove_webhook(&state.db, &actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's delivery log, newest first (admin).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deliveries with response codes", body = [WebhookDelivery]),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
pub async fn deliveries(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<WebhookDelivery>>, AppError> {
    Ok(Json(notify::deliveries(&state.db, &actor, id).await?))
}

/// Send a delivery again (admin).
#[utoipa::path(post, path = "/api/v1/webhooks/deliveries/{id}/redeliver", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued again", body = WebhookDelivery),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "No such delivery", body = ErrorBody),
        (status = 409, description = "It is still being sent", body = ErrorBody),
    ))]
pub async fn redeliver(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<WebhookDelivery>), AppError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(notify::redeliver(&state.db, &actor, id).await?),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Exactly this actor: an email, `token:<name>` or `anonymous`.
    pub actor: Option<String>,
    /// Paths containing this text, e.g. `/blocks`.
    pub path: Option<String>,
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Last day, inclusive.
    pub to: Option<String>,
    /// Rows older than this id: the next page.
    pub before: Option<i64>,
    /// 1 to 500 (default 50).
    pub limit: Option<i64>,
}

/// The audit log: every write, newest first (admin).
#[utoipa::path(get, path = "/api/v1/audit", params(AuditParams), security(("bearer" = [])),
    responses(
        (status = 200, description = "Writes, newest first", body = [AuditEntry]),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 422, description = "A parameter is invalid", body = ErrorBody),
    ))]
pub async fn audit(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Json<Vec<AuditEntry>>, AppError> {
    use crate::server::service::audit::{self, AuditFilter};
    let filter = AuditFilter {
        actor: p.actor,
        path: p.path,
        from: p.from,
        to: p.to,
        before: p.before,
        limit: p.limit,
    };
    Ok(Json(audit::list(&state.db, &actor, filter).await?))
}
