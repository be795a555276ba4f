//! Releases, the entry picker and "shipped but not announced", for the app.

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[server(prefix = "/fn", endpoint = "releases")]
pub async fn load_releases(search: String) -> Result<Vec<Release>, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::releases::list(&state.db, &actor, &search, 1).await?)
}

#[server(prefix = "/fn", endpoint = "create_release")]
pub async fn create_release(title: String) -> Result<Release, FnError> {
    use crate::server::service::releases::{self, ReleaseInput};
    let (state, _, actor) = ctx::signed_in().await?;
    let release = releases::create(
        &state.db,
        &state.markdown,
        &actor,
        &ReleaseInput {
            title,
            ..Default::default()
        },
    )
    .await?;
    leptos_axum::redirect(&format!("/app/releases/{}", release.slug));
    Ok(release)
}

/// A release for its editor, and whether the viewer may change it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleaseView {
    pub detail: ReleaseDetail,
    pub can_edit: bool,
    pub environments: Vec<String>,
    /// Cohort slugs, offered as the release's audience.
    pub cohorts: Vec<String>,
}

#[server(prefix = "/fn", endpoint = "release")]
pub async fn load_release(slug: String) -> Result<ReleaseView, FnError> {
    let (state, user, actor) = ctx::signed_in().await?;
    Ok(ReleaseView {
        detail: crate::server::service::releases::draft(&state.db, &actor, &slug).await?,
        can_edit: user.role.can_manage_releases(),
        environments: crate::server::service::deploys::environments(&state.db).await?,
        cohorts: crate::server::service::audiences::list_cohorts(&state.db, &actor)
            .await?
            .into_iter()
            .map(|c| c.slug)
            .collect(),
    })
}

#[server(prefix = "/fn", endpoint = "save_release")]
pub async fn save_release(
    slug: String,
    revision: i64,
    title: String,
    new_slug: String,
    version_name: String,
    narrative: String,
    audience: String,
) -> Result<Release, FnError> {
    use crate::server::service::{
        releases::{self, ReleaseInput},
        validate,
    };
    let (state, _, actor) = ctx::signed_in().await?;
    releases::may_manage(&actor)?;
    let input = ReleaseInput {
        title,
        slug: Some(new_slug),
        version_name: Some(version_name),
        narrative,
        audience: Some(validate::choice("audience", &audience)?),
    };
    Ok(releases::edit(&state.db, &state.markdown, &actor, &slug, revision, &input).await?)
}

#[server(prefix = "/fn", endpoint = "link_entries")]
pub async fn link_entries(
    slug: String,
    entry_ids: Vec<i64>,
    revision: i64,
    override_readiness: bool,
) -> Result<ReleaseDetail, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::releases::link(
        &state.db,
        &actor,
        &slug,
        &entry_ids,
        Some(revision),
        override_readiness,
    )
    .await?)
}

#[server(prefix = "/fn", endpoint = "unlink_entry")]
pub async fn unlink_entry(slug: String, entry_id: i64) -> Result<ReleaseDetail, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::releases::unlink(&state.db, &actor, &slug, entry_id).await?)
}

/// Publishes now, or at `input.at` when `schedule` (the button pressed:
/// scheduling without a time is refused rather than publishing now).
#[server(prefix = "/fn", endpoint = "publish_release")]
pub async fn publish_release(
    slug: String,
    input: PublishInput,
    schedule: bool,
) -> Result<Release, FnError> {
    use crate::server::error::AppError;
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::releases::may_manage(&actor)?;
    if schedule && input.at.is_none() {
        return Err(AppError::invalid("publish_at", "choose a date and time to publish at").into());
    }
    Ok(crate::server::service::releases::publish(&state.db, &actor, &slug, input).await?)
}

/// Back to draft, archive or unarchive.
#[server(prefix = "/fn", endpoint = "publication")]
pub async fn change_publication(
    slug: String,
    revision: i64,
    action: Publication,
) -> Result<Release, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::releases::change_publication(
        &state.db, &actor, &slug, revision, action,
    )
    .await?)
}

#[server(prefix = "/fn", endpoint = "candidates")]
pub async fn candidates(filter: PickerFilter) -> Result<Vec<LinkedEntry>, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::releases::candidates(&state.db, &actor, &filter).await?)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnannouncedView {
    pub entries: Vec<LinkedEntry>,
    pub announced_30d: i64,
    pub total_30d: i64,
}

#[server(prefix = "/fn", endpoint = "unannounced")]
pub async fn load_unannounced() -> Result<UnannouncedView, FnError> {
    let (state, _, _) = ctx::signed_in().await?;
    let u = crate::server::service::releases::unannounced(&state.db).await?;
    Ok(UnannouncedView {
        entries: u.entries,
        announced_30d: u.announced_30d,
        total_30d: u.total_30d,
    })
}
