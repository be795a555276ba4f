//! `/api/v1/subscribers`, `/api/v1/suppressions` and `/api/v1/campaigns`:
//! customer email for scripts (pm and admin tokens; suppressions: admin).

use super::extract::{ApiCaller, ApiJson, ApiPath, ApiQuery};
use crate::model::*;
use crate::server::db::SubscriberQuery;
use crate::server::error::{AppError, ErrorBody};
use crate::server::service::campaigns;
use crate::server::service::subscribers;
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Add one subscriber or an array of them, all or none. `confirmed: true`
/// means these people consented: no confirmation email. Others are stored
/// pending and sent a confirmation request.
#[utoipa::path(post, path = "/api/v1/subscribers", request_body = SubscriberInput, security(("bearer" = [])),
    responses((status = 201, body = ImportReport), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    crate::server::service::subscribers::may_manage(&actor)?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("The body is not valid JSON: {e}")))?;
    let rows: Vec<SubscriberInput> = match value {
        serde_json::Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::from_value(v)
                    .map_err(|e| AppError::invalid(format!("[{i}]"), e.to_string()))
            })
            .collect::<Result<_, _>>()?,
        v @ serde_json::Value::Object(_) => {
            vec![serde_json::from_value(v).map_err(|e| AppError::invalid("body", e.to_string()))?]
        }
        _ => {
            return Err(AppError::invalid(
                "body",
                "send a subscriber object or an array of them",
            ))
        }
    };
    let out = state.outbox().await?;
    let fx = state.effects();
    let report = subscribers::import(&state.db, &out, &fx, &actor, &rows, false, "api").await?;
    if !report.imported {
        let first = &report.rejected[0];
        let body = serde_json::json!({
            "error": {
                "code": "invalid",
                "message": format!(
                    "{} of {} subscribers were rejected, so none was added; the first: row {} ({}): {}",
                    report.rejected.len(), rows.len(), first.row, first.email, first.reason
                ),
                "field": format!("[{}].{}", first.row - 1, first.field),
            },
            "rejected": report.rejected,
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Part of an address.
    q: Option<String>,
    /// `pending`, `confirmed`, `unsubscribed` or `suppressed`.
    status: Option<String>,
    /// An account slug, or `none`.
    account: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// List subscribers (newest first), with filters.
#[utoipa::path(get, path = "/api/v1/subscribers", params(ListParams), security(("bearer" = [])),
    responses((status = 200, body = SubscriberPage), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<SubscriberPage>, AppError> {
    let q = SubscriberQuery {
        search: p.q.unwrap_or_default(),
        status: p.status.filter(|s| !s.is_empty()),
        account: p.account.filter(|s| !s.is_empty()),
        limit: p.limit.unwrap_or(100).clamp(1, 1000),
        offset: p.offset.unwrap_or(0).max(0),
    };
    Ok(Json(subscribers::list(&state.db, &actor, &q).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSuppression {
    #[schema(example = "bounced@example.com")]
    pub email: String,
    #[schema(value_type = String, example = "bounce")]
    pub reason: SuppressionReason,
    /// The provider's words, if any.
    #[serde(default)]
    pub detail: Option<String>,
}

/// Never mail an address again (a provider's bounce or complaint webhook).
#[utoipa::path(post, path = "/api/v1/suppressions", request_body = NewSuppression, security(("bearer" = [])),
    responses((status = 201, body = Suppression), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn suppress(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    body: ApiJson<NewSuppression>,
) -> Result<(StatusCode, Json<Suppression>), AppError> {
    crate::server::service::subscribers::may_suppress(&actor)?;
    let body = body.parse()?;
    let s = subscribers::suppress(
        &state.db,
        &actor,
        &body.email,
        body.reason,
        body.detail.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// Suppressed addresses.
#[utoipa::path(get, path = "/api/v1/suppressions", security(("bearer" = [])),
    responses((status = 200, body = Vec<Suppression>), (status = 403, body = ErrorBody)))]
pub async fn suppressions(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
) -> Result<Json<Vec<Suppression>>, AppError> {
    Ok(Json(subscribers::suppressions(&state.db, &actor).await?))
}

/// Lift a suppression: the address may be mailed again (admin).
#[utoipa::path(delete, path = "/api/v1/suppressions/{email}", params(("email" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn lift(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(email): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    subscribers::lift_suppression(&state.db, &actor, &email).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    /// The release's slug.
    #[schema(example = "spring-2026")]
    pub release: String,
}

/// The release's announcement campaign: `201` with a new draft, or `200`
/// with the one that exists (publishing makes one).
#[utoipa::path(post, path = "/api/v1/campaigns", request_body = NewCampaign, security(("bearer" = [])),
    responses((status = 201, body = Campaign), (status = 200, body = Campaign), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_campaign(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    body: ApiJson<NewCampaign>,
) -> Result<(StatusCode, Json<Campaign>), AppError> {
    crate::server::service::campaigns::may_manage(&actor)?;
    let body = body.parse()?;
    let (campaign, made) = campaigns::create(&state.db, &actor, &body.release).await?;
    let status = if made {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(campaign)))
}

/// Campaigns, newest first.
#[utoipa::path(get, path = "/api/v1/campaigns", security(("bearer" = [])),
    responses((status = 200, body = Vec<Campaign>), (status = 403, body = ErrorBody)))]
pub async fn list_campaigns(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
) -> Result<Json<Vec<Campaign>>, AppError> {
    Ok(Json(campaigns::list(&state.db, &actor).await?))
}

/// A campaign's state, counts (`queued`, `sent`, `failed`, `skipped`) and rate.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Campaign), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_campaign(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Campaign>, AppError> {
    Ok(Json(campaigns::get(&state.db, &actor, id).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendAt {
    /// When to send (RFC 3339); now when left out.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// Send now, or schedule with `{"at": "…"}`.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/send", params(("id" = i64, Path)), request_body = SendAt, security(("bearer" = [])),
    responses((status = 200, body = Campaign), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn send(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Result<Json<Campaign>, AppError> {
    let at = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<SendAt>(&body)
            .map_err(|e| AppError::invalid("at", e.to_string()))?
            .at
    };
    let fx = state.effects();
    let send = CampaignAction::Send;
    let campaign =
        campaigns::act(&state.db, &fx, state.config.host(), &actor, id, send, at).await?;
    Ok(Json(campaign))
}

macro_rules! campaign_action {
    ($name:ident, $action:ident, $path:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, params(("id" = i64, Path)), security(("bearer" = [])),
            responses((status = 200, body = Campaign), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
        pub async fn $name(
            State(state): State<AppState>,
            ApiCaller(actor): ApiCaller,
            ApiPath(id): ApiPath<i64>,
        ) -> Result<Json<Campaign>, AppError> {
            let (fx, host) = (state.effects(), state.config.host());
            let action = CampaignAction::$action;
            Ok(Json(campaigns::act(&state.db, &fx, host, &actor, id, action, None).await?))
        }
    };
}

campaign_action!(
    pause,
    Pause,
    "/api/v1/campaigns/{id}/pause",
    "Pause a campaign that is sending."
);
campaign_action!(
    resume,
    Resume,
    "/api/v1/campaigns/{id}/resume",
    "Resume a paused campaign."
);
campaign_action!(
    cancel,
    Cancel,
    "/api/v1/campaigns/{id}/cancel",
    "Cancel a campaign; what was not sent is skipped."
);
