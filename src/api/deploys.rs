//! The deploy log in the browser app.

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One page of the timeline with the environments to filter by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Defects first: every incident not yet resolved, on top.
    pub open_incidents: Vec<Incident>,
    pub deploys: Vec<Deploy>,
    pub next_before: Option<i64>,
    pub environments: Vec<String>,
    /// Each environment's gate now, production first.
    pub gates: Vec<Gate>,
}

#[server(prefix = "/fn", endpoint = "timeline")]
pub async fn load_timeline(
    environment: Option<String>,
    before: Option<i64>,
) -> Result<Timeline, FnError> {
    use crate::server::service::deploys;
    let (state, _, _) = ctx::signed_in().await?;
    let page = deploys::list(&state.db, environment, Some(deploys::DEFAULT_PAGE), before).await?;
    let environments = deploys::environments(&state.db).await?;
    Ok(Timeline {
        open_incidents: crate::server::service::incidents::unresolved(&state.db).await?,
        deploys: page.deploys,
        next_before: page.next_before,
        gates: crate::server::service::gates::gates(&state.db, &environments).await?,
        environments,
    })
}

/// A deploy's page, and whether the viewer may edit it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeployView {
    pub detail: DeployDetail,
    pub can_edit: bool,
    /// Unresolved incidents its entries caused, by entry id.
    pub incidents: Vec<(i64, Incident)>,
    /// Engineers, PMs and admins may file incidents from it.
    pub can_file_incidents: bool,
    /// Cohort slugs, offered as audiences in the entry editor.
    pub cohorts: Vec<String>,
}

#[server(prefix = "/fn", endpoint = "deploy")]
pub async fn load_deploy(id: i64) -> Result<DeployView, FnError> {
    let (state, user, actor) = ctx::signed_in().await?;
    let detail = crate::server::service::deploys::get(&state.db, id).await?;
    let entry_ids: Vec<i64> = detail.entries.iter().map(|e| e.id).collect();
    Ok(DeployView {
        incidents: crate::server::service::incidents::unresolved_of(&state.db, &entry_ids).await?,
        detail,
        can_edit: user.role.can_write_deploys(),
        can_file_incidents: user.role.can_file_incidents(),
        cohorts: crate::server::service::audiences::list_cohorts(&state.db, &actor)
            .await?
            .into_iter()
            .map(|c| c.slug)
            .collect(),
    })
}

#[server(prefix = "/fn", endpoint = "set_deploy_status")]
pub async fn set_deploy_status(id: i64, status: String) -> Result<(), FnError> {
    use crate::server::service::{deploys, validate};
    let (state, _, actor) = ctx::signed_in().await?;
    deploys::may_edit(&actor)?;
    let status = validate::choice("status", &status)?;
    deploys::change_status(&state.db, &actor, id, status, None).await?;
    Ok(())
}

/// Adds an entry (no `entry_id`) or edits one.
#[server(prefix = "/fn", endpoint = "save_entry")]
pub async fn save_entry(
    deploy_id: i64,
    entry_id: Option<i64>,
    form: EntryForm,
) -> Result<ChangeEntry, FnError> {
    use crate::server::service::deploys;
    let (state, _, actor) = ctx::signed_in().await?;
    deploys::may_edit(&actor)?;
    let input = deploys::entry_from_form(&form)?;
    Ok(match entry_id {
        Some(id) => deploys::update_entry(&state.db, &state.markdown, &actor, id, input).await?,
        None => deploys::add_entry(&state.db, &state.markdown, &actor, deploy_id, input).await?,
    })
}

#[server(prefix = "/fn", endpoint = "delete_entry")]
pub async fn delete_entry(id: i64) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::deploys::delete_entry(&state.db, &actor, id).await?;
    Ok(())
}

/// Markdown rendered exactly as it will be stored, for the editor's preview.
#[server(prefix = "/fn", endpoint = "preview_markdown")]
pub async fn preview_markdown(body: String) -> Result<String, FnError> {
    let (state, _, _) = ctx::signed_in().await?;
    Ok(crate::server::service::deploys::preview(&state.markdown, &body).await?)
}
