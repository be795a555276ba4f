//! `/api/v1/incidents` and `/api/v1/alerts`: thin handlers over
//! `service::incidents`. Incidents are the team's own: any token reads them;
//! engineer, pm and admin tokens file and edit them.

use super::extract::{list_param, ApiCaller, ApiJson, ApiPath, ApiQuery};
use crate::model::*;
use crate::server::error::{AppError, ErrorBody};
use crate::server::service::incidents::{
    self, AlertNotification, AlertOutcome, CustomerNote, CustomerNoteInput, IncidentChange,
    IncidentInput,
};
use crate::server::service::root_causes::{self, HoleInput, NoteInput};
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

/// An incident as the API answers it: with its page in the web app.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IncidentResponse {
    #[serde(flatten)]
    pub incident: IncidentDetail,
    /// The incident's page in the web app.
    pub url: String,
}

fn respond(state: &AppState, incident: IncidentDetail) -> Json<IncidentResponse> {
    let url = state
        .config
        .link(&format!("/app/incidents/{}", incident.incident.id));
    Json(IncidentResponse { incident, url })
}

/// `INC-12` or `12`.
fn number(raw: &str) -> Result<i64, AppError> {
    parse_incident_number(raw)
        .ok_or_else(|| AppError::not_found(format!("There is no incident {raw}.")))
}

/// The `before` cursor of the list: a malformed one is a bad parameter
/// (422 naming it), not a missing incident.
fn before_param(raw: Option<&str>) -> Result<Option<i64>, AppError> {
    raw.map(|raw| {
        parse_incident_number(raw)
            .ok_or_else(|| AppError::invalid("before", "name an incident as INC-12 or 12"))
    })
    .transpose()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only these statuses, comma-separated (`open,mitigated`).
    pub status: Option<String>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Incidents older than this one (its number or id).
    pub before: Option<String>,
}

/// File an incident.
#[utoipa::path(post, path = "/api/v1/incidents", request_body = IncidentInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Filed", body = IncidentResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewers may not file incidents", body = ErrorBody),
        (status = 422, description = "A field is invalid; `field` names it", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    input: ApiJson<IncidentInput>,
) -> Result<(StatusCode, Json<IncidentResponse>), AppError> {
    crate::server::service::incidents::may_file(&actor)?;
    let input = input.parse()?;
    let detail = incidents::file(&state.db, &state.markdown, &actor, input).await?;
    Ok((StatusCode::CREATED, respond(&state, detail)))
}

/// List incidents, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Incidents", body = [Incident]),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 422, description = "A parameter is invalid", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<Vec<Incident>>, AppError> {
    let statuses: Vec<IncidentStatus> = list_param("status", p.status.as_deref())?;
    let before = before_param(p.before.as_deref())?;
    Ok(Json(
        incidents::list(&state.db, statuses, p.environment, p.limit, before).await?,
    ))
}

/// One incident with its causes, fix, times and suspects.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", params(("id" = String, Path, description = "`INC-12` or `12`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The incident", body = IncidentResponse),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<IncidentResponse>, AppError> {
    Ok(respond(
        &state,
        incidents::get(&state.db, number(&id)?).await?,
    ))
}

/// Edit an incident: its fields, status, causes or fixing deploy.
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", params(("id" = String, Path, description = "`INC-12` or `12`")),
    request_body = IncidentChange,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = IncidentResponse),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewers may not edit incidents", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "Changed by someone else meanwhile", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<String>,
    body: ApiJson<IncidentChange>,
) -> Result<Json<IncidentResponse>, AppError> {
    crate::server::service::incidents::may_file(&actor)?;
    let body = body.parse()?;
    let detail = incidents::change(&state.db, &state.markdown, &actor, number(&id)?, body).await?;
    Ok(respond(&state, detail))
}

/// Prometheus Alertmanager's webhook, as it sends it: a firing group opens an
/// incident (one per group), its resolution resolves it.
#[utoipa::path(post, path = "/api/v1/alerts", request_body = AlertNotification,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What the notification did", body = AlertOutcome),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewer tokens may not open incidents", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn alerts(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    note: ApiJson<AlertNotification>,
) -> Result<Json<AlertOutcome>, AppError> {
    crate::server::service::incidents::may_file(&actor)?;
    let note = note.parse()?;
    Ok(Json(
        incidents::alert(&state.db, &state.markdown, &actor, note).await?,
    ))
}

/// An incident's root-cause note (`null` until written), its earlier
/// versions, its holes and the blameless check's warnings.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/root-cause", params(("id" = String, Path, description = "`INC-12` or `12`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The note and its holes", body = RootCauseView),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
    ))]
pub async fn root_cause(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RootCauseView>, AppError> {
    Ok(Json(root_causes::get(&state.db, number(&id)?).await?))
}

/// Write the root-cause note: a new draft (no `revision`) or an edit of the
/// version it started from. Edits of a final note keep the version they replace.
#[utoipa::path(put, path = "/api/v1/incidents/{id}/root-cause", params(("id" = String, Path, description = "`INC-12` or `12`")),
    request_body = NoteInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Saved", body = RootCauseView),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewers may not write notes", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The note changed since `revision`", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn save_root_cause(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<String>,
    body: ApiJson<NoteInput>,
) -> Result<Json<RootCauseView>, AppError> {
    crate::server::service::root_causes::may_write(&actor)?;
    let body = body.parse()?;
    Ok(Json(
        root_causes::save(&state.db, &state.markdown, &actor, number(&id)?, body).await?,
    ))
}

/// A review: who approves the draft at `revision`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// The version read and approved.
    pub revision: i64,
}

/// Approve the draft: a second engineer, never its author, makes it final.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/root-cause/review", params(("id" = String, Path, description = "`INC-12` or `12`")),
    request_body = Review,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Final", body = RootCauseView),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Its author, or a viewer", body = ErrorBody),
        (status = 404, description = "No such incident or no note", body = ErrorBody),
        (status = 409, description = "Already final, or changed since `revision`", body = ErrorBody),
    ))]
pub async fn review_root_cause(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<String>,
    body: ApiJson<Review>,
) -> Result<Json<RootCauseView>, AppError> {
    crate::server::service::root_causes::may_write(&actor)?;
    let body = body.parse()?;
    Ok(Json(
        root_causes::review(&state.db, &actor, number(&id)?, body.revision).await?,
    ))
}

/// Record a hole in testing or monitoring with the action that repairs it.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/holes", params(("id" = String, Path, description = "`INC-12` or `12`")),
    request_body = HoleInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded, with its action", body = Hole),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Viewers may not record holes", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 422, description = "A field is invalid (`action.…` for the action's)", body = ErrorBody),
    ))]
pub async fn add_hole(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<String>,
    body: ApiJson<HoleInput>,
) -> Result<(StatusCode, Json<Hole>), AppError> {
    crate::server::service::root_causes::may_write(&actor)?;
    let body = body.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(root_causes::add_hole(&state.db, &actor, number(&id)?, body).await?),
    ))
}

/// Where the holes in testing and monitoring are: open ones by area and
/// component, and those found and repaired in each of the last twelve months.
#[utoipa::path(get, path = "/api/v1/holes", security(("bearer" = [])),
    responses(
        (status = 200, description = "The report", body = HolesReport),
        (status = 401, description = "No or invalid token", body = ErrorBody),
    ))]
pub async fn holes(
    State(state): State<AppState>,
    ApiCaller(_): ApiCaller,
) -> Result<Json<HolesReport>, AppError> {
    Ok(Json(root_causes::report(&state.db).await?))
}

/// Tell customers about a resolved incident that affected them: the note
/// becomes a `fix` entry (with the audience of the entry that caused it) on
/// the deploy that fixed it and, with `announce`, an emailed release.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/customer-note", params(("id" = String, Path, description = "`INC-12` or `12`")),
    request_body = CustomerNoteInput,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Published (and announced)", body = CustomerNote),
        (status = 401, description = "No or invalid token", body = ErrorBody),
        (status = 403, description = "Only PMs and admins tell customers", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "Not resolved, no customer impact, no cause or fix recorded, or already told", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn customer_note(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(id): ApiPath<String>,
    input: ApiJson<CustomerNoteInput>,
) -> Result<(StatusCode, Json<CustomerNote>), AppError> {
    crate::server::service::incidents::may_tell_customers(&actor)?;
    let input = input.parse()?;
    let note = incidents::customer_note(
        &state.db,
        &state.markdown,
        &state.effects(),
        state.config.host(),
        &actor,
        number(&id)?,
        input,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(note)))
}

#[cfg(test)]
mod tests {
    use super::before_param;
    use crate::server::error::AppError;

    #[test]
    fn a_malformed_cursor_is_an_invalid_parameter() {
        assert_eq!(before_param(None).unwrap(), None);
        assert_eq!(before_param(Some("INC-12")).unwrap(), Some(12));
        assert_eq!(before_param(Some("12")).unwrap(), Some(12));
        // `?before=` and `?before=x` answered 404 "There is no incident".
        for raw in ["", "x", "INC-0"] {
            match before_param(Some(raw)) {
                Err(AppError::Invalid { field, .. }) => assert_eq!(field, "before", "{raw:?}"),
                other => panic!("{raw:?}: {:?}", other.map_err(|e| e.status())),
            }
        }
    }
}
