//! `/api/v1/releases`: published releases for anyone; drafting, linking and
//! publishing for pm and admin tokens.

use super::extract::{ApiCaller, ApiJson, ApiPath, ApiQuery};
use crate::model::*;
use crate::server::error::{AppError, ErrorBody};
use crate::server::service::changes;
use crate::server::service::releases::{self, ReleaseInput};
use crate::server::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A published release as the public sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicRelease {
    pub slug: String,
    pub title: String,
    pub version_name: Option<String>,
    pub narrative_html: String,
    pub published_at: Option<DateTime<Utc>>,
    pub url: String,
    pub entries: Vec<PublicReleaseEntry>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicReleaseEntry {
    pub id: i64,
    pub title: String,
    pub kind: EntryKind,
    pub component: Option<String>,
    pub body_html: String,
    pub url: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicReleasePage {
    pub releases: Vec<PublicRelease>,
    /// Pass as `page` for more; absent on the last page.
    pub next_page: Option<i64>,
}

fn public(state: &AppState, r: changes::ReaderRelease) -> PublicRelease {
    PublicRelease {
        url: state.config.link(&format!("/releases/{}", r.release.slug)),
        slug: r.release.slug,
        title: r.release.title,
        version_name: r.release.version_name,
        narrative_html: r.release.narrative_html,
        published_at: r.release.published_at,
        entries: r
            .entries
            .into_iter()
            .map(|e| PublicReleaseEntry {
                url: state.config.link(&format!("/changes/{}", e.entry.id)),
                id: e.entry.id,
                title: e.entry.title,
                kind: e.entry.kind,
                component: e.entry.component,
                body_html: e.entry.body_html,
            })
            .collect(),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Words to find in titles and narratives.
    pub q: Option<String>,
    /// 1-based page of 10 releases.
    pub page: Option<i64>,
}

/// Published releases, newest first (no token needed).
#[utoipa::path(get, path = "/api/v1/releases", params(ListParams),
    responses((status = 200, body = PublicReleasePage), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<PublicReleasePage>, AppError> {
    let page = p.page.unwrap_or(1);
    let list = changes::releases(
        &state.db,
        &Reader::Public,
        p.q.as_deref().unwrap_or_default(),
        changes::PageAt::Number(page),
    )
    .await?;
    Ok(Json(PublicReleasePage {
        next_page: list.next.is_some().then_some(page + 1),
        releases: list.rows.into_iter().map(|r| public(&state, r)).collect(),
    }))
}

/// One published release (no token needed).
#[utoipa::path(get, path = "/api/v1/releases/{slug}", params(("slug" = String, Path)),
    responses((status = 200, body = PublicRelease), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<PublicRelease>, AppError> {
    let r = changes::release(&state.db, &Reader::Public, &slug).await?;
    Ok(Json(public(&state, r)))
}

/// Draft a release.
#[utoipa::path(post, path = "/api/v1/releases", request_body = ReleaseInput, security(("bearer" = [])),
    responses((status = 201, body = Release), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    input: ApiJson<ReleaseInput>,
) -> Result<(StatusCode, Json<Release>), AppError> {
    crate::server::service::releases::may_manage(&actor)?;
    let input = input.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(releases::create(&state.db, &state.markdown, &actor, &input).await?),
    ))
}

/// Any release with its linked entries and their readiness (pm and admin).
#[utoipa::path(get, path = "/api/v1/releases/{slug}/draft", params(("slug" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ReleaseDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn draft(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<ReleaseDetail>, AppError> {
    Ok(Json(releases::draft(&state.db, &actor, &slug).await?))
}

/// A release's text with the revision the edit started from. Its fields are
/// spelled out rather than `#[serde(flatten)]`ed from `ReleaseInput`: serde
/// ignores `deny_unknown_fields` through a flatten, and the document then
/// described a body no request could satisfy.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseEditInput {
    /// The revision the edit started from; a newer one answers 409.
    pub revision: i64,
    pub title: String,
    /// Defaults to one made from the title.
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub version_name: Option<String>,
    /// Markdown.
    #[serde(default)]
    pub narrative: String,
    /// Who may read it: `everyone` (default), `admins` or `cohort:<slug>`.
    /// Readers also need to see at least one of its entries.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "everyone")]
    pub audience: Option<Audience>,
}

impl ReleaseEditInput {
    fn into_parts(self) -> (i64, ReleaseInput) {
        let fields = ReleaseInput {
            title: self.title,
            slug: self.slug,
            version_name: self.version_name,
            narrative: self.narrative,
            audience: self.audience,
        };
        (self.revision, fields)
    }
}

/// Edit a release's text.
#[utoipa::path(patch, path = "/api/v1/releases/{slug}", params(("slug" = String, Path)), request_body = ReleaseEditInput,
    security(("bearer" = [])),
    responses((status = 200, body = Release), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn edit(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(slug): ApiPath<String>,
    body: ApiJson<ReleaseEditInput>,
) -> Result<Json<Release>, AppError> {
    crate::server::service::releases::may_manage(&actor)?;
    let body = body.parse()?;
    let (revision, fields) = body.into_parts();
    Ok(Json(
        releases::edit(&state.db, &state.markdown, &actor, &slug, revision, &fields).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub entry_ids: Vec<i64>,
    /// Required when the release is published or scheduled: the revision the
    /// change started from (a newer one answers 409).
    pub revision: Option<i64>,
    /// Link to a published or scheduled release even though some entries have
    /// not shipped to production.
    #[serde(default, rename = "override")]
    pub override_readiness: bool,
    /// Draft its email announcement when it is published (the default);
    /// `false` publishes without one.
    #[serde(default)]
    pub announce: Option<bool>,
}

/// Link entries (from any deploys) to a release. A published or scheduled
/// release takes them only under the revision check and when they are ready.
#[utoipa::path(post, path = "/api/v1/releases/{slug}/entries", params(("slug" = String, Path)), request_body = LinkInput,
    security(("bearer" = [])),
    responses((status = 200, body = ReleaseDetail), (status = 403, body = ErrorBody), (status = 409, description = "Not ready, taken by another release, or changed meanwhile", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn link(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(slug): ApiPath<String>,
    body: ApiJson<LinkInput>,
) -> Result<Json<ReleaseDetail>, AppError> {
    crate::server::service::releases::may_manage(&actor)?;
    let body = body.parse()?;
    Ok(Json(
        releases::link(
            &state.db,
            &actor,
            &slug,
            &body.entry_ids,
            body.revision,
            body.override_readiness,
        )
        .await?,
    ))
}

/// Remove an entry from a release.
#[utoipa::path(delete, path = "/api/v1/releases/{slug}/entries/{id}", params(("slug" = String, Path), ("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ReleaseDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unlink(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
) -> Result<Json<ReleaseDetail>, AppError> {
    Ok(Json(releases::unlink(&state.db, &actor, &slug, id).await?))
}

/// Publish a release now, or schedule it.
#[utoipa::path(post, path = "/api/v1/releases/{slug}/publish", params(("slug" = String, Path)), request_body = PublishInput,
    security(("bearer" = [])),
    responses((status = 200, body = Release), (status = 403, body = ErrorBody), (status = 409, description = "Not ready, or changed meanwhile", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn publish(
    State(state): State<AppState>,
    ApiCaller(actor): ApiCaller,
    ApiPath(slug): ApiPath<String>,
    body: ApiJson<PublishInput>,
) -> Result<Json<Release>, AppError> {
    crate::server::service::releases::may_manage(&actor)?;
    let input = body.parse()?;
    Ok(Json(
        releases::publish(&state.db, &actor, &slug, input).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::ReleaseEditInput;

    #[test]
    fn an_edit_carries_its_revision_and_refuses_unknown_fields() {
        let body = r#"{"revision": 3, "title": "Winter", "narrative": "Faster search"}"#;
        let (revision, fields) = serde_json::from_str::<ReleaseEditInput>(body)
            .unwrap()
            .into_parts();
        assert_eq!(revision, 3);
        assert_eq!(fields.title, "Winter");
        assert_eq!(fields.narrative, "Faster search");
        // Through a flatten, this typo was silently dropped.
        let typo = r#"{"revision": 3, "title": "Winter", "narative": "Faster search"}"#;
        let Err(error) = serde_json::from_str::<ReleaseEditInput>(typo) else {
            panic!("an unknown field was accepted");
        };
        assert!(
            error.to_string().contains("unknown field `narative`"),
            "{error}"
        );
    }
}
