//! Incidents for the team's pages: list, file, and work one through
//! (status, causes, fix). Any signed-in member reads; viewers do not write.

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The incidents page: what is still open, what was recent, and what the
/// form to file one offers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentsView {
    pub unresolved: Vec<Incident>,
    pub resolved: Vec<Incident>,
    pub environments: Vec<String>,
    pub can_file: bool,
}

#[server(prefix = "/fn", endpoint = "incidents")]
pub async fn load_incidents() -> Result<IncidentsView, FnError> {
    use crate::server::service::{deploys, incidents};
    let (state, user, _) = ctx::signed_in().await?;
    let unresolved = incidents::unresolved(&state.db).await?;
    let resolved = incidents::list(
        &state.db,
        vec![IncidentStatus::Resolved],
        None,
        Some(50),
        None,
    )
    .await?;
    Ok(IncidentsView {
        unresolved,
        resolved,
        environments: deploys::environments(&state.db).await?,
        can_file: user.role.can_file_incidents(),
    })
}

/// Unresolved incidents, for the banner on top of the team's pages.
#[server(prefix = "/fn", endpoint = "open_incidents")]
pub async fn open_incidents() -> Result<Vec<Incident>, FnError> {
    let (state, _, _) = ctx::signed_in().await?;
    Ok(crate::server::service::incidents::unresolved(&state.db).await?)
}

/// Files an incident from the page's form; answers its id.
#[server(prefix = "/fn", endpoint = "file_incident")]
pub async fn file_incident(
    title: String,
    severity: String,
    environment: String,
    detected_at: String,
    detected_by: String,
    customer_impact: String,
    caused_by: Option<i64>,
) -> Result<i64, FnError> {
    use crate::server::service::incidents::{self, IncidentForm};
    let (state, _, actor) = ctx::signed_in().await?;
    let form = IncidentForm {
        title,
        severity,
        environment,
        detected_at,
        detected_by,
        customer_impact,
        caused_by,
    };
    let detail = incidents::file_form(&state.db, &state.markdown, &actor, form).await?;
    Ok(detail.incident.id)
}

/// One incident's page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentView {
    pub detail: IncidentDetail,
    pub can_edit: bool,
    /// Who may own its actions: (email, name).
    pub people: Vec<(String, String)>,
    pub me: String,
    /// Its root-cause note, holes and warnings.
    pub root_cause: RootCauseView,
    /// The note's timeline as the form edits it.
    pub timeline_text: String,
    /// May write the customer-facing note (PMs and admins).
    pub can_tell_customers: bool,
}

#[server(prefix = "/fn", endpoint = "incident")]
pub async fn load_incident(id: i64) -> Result<IncidentView, FnError> {
    let (state, user, _) = ctx::signed_in().await?;
    let team = crate::server::service::users::team(&state.db).await?;
    let root_cause = crate::server::service::root_causes::view(&state.db, id, &team).await?;
    Ok(IncidentView {
        detail: crate::server::service::incidents::get(&state.db, id).await?,
        can_edit: user.role.can_file_incidents(),
        can_tell_customers: user.role.can_manage_releases(),
        people: team.into_iter().map(|u| (u.email, u.name)).collect(),
        me: user.email,
        root_cause: root_cause.clone(),
        timeline_text: crate::server::service::root_causes::timeline_text(
            root_cause
                .note
                .as_ref()
                .map(|n| n.document.timeline.as_slice())
                .unwrap_or_default(),
        ),
    })
}

/// Tells customers about a resolved incident (see `service::incidents::customer_note`).
#[server(prefix = "/fn", endpoint = "customer_note")]
pub async fn tell_customers(
    id: i64,
    title: String,
    body: String,
    announce: bool,
) -> Result<(), FnError> {
    use crate::server::service::incidents::{self, CustomerNoteInput};
    let (state, _, actor) = ctx::signed_in().await?;
    let input = CustomerNoteInput {
        title,
        body,
        announce,
    };
    incidents::customer_note(
        &state.db,
        &state.markdown,
        &state.effects(),
        state.config.host(),
        &actor,
        id,
        input,
    )
    .await?;
    Ok(())
}

/// Moves the incident to `open`, `mitigated` or `resolved`.
#[server(prefix = "/fn", endpoint = "incident_status")]
pub async fn change_incident_status(id: i64, status: String) -> Result<(), FnError> {
    use crate::server::service::incidents::{self, IncidentChange};
    let (state, _, actor) = ctx::signed_in().await?;
    incidents::may_file(&actor)?;
    let status = crate::server::service::validate::choice("status", &status)?;
    let change = IncidentChange {
        status: Some(status),
        ..Default::default()
    };
    incidents::change(&state.db, &state.markdown, &actor, id, change).await?;
    Ok(())
}

/// Marks an entry as a cause ("caused by this entry"), or no longer one.
#[server(prefix = "/fn", endpoint = "incident_cause")]
pub async fn set_incident_cause(id: i64, entry_id: i64, caused: bool) -> Result<(), FnError> {
    use crate::server::service::incidents;
    let (state, _, actor) = ctx::signed_in().await?;
    incidents::set_cause(&state.db, &state.markdown, &actor, id, entry_id, caused).await?;
    Ok(())
}

/// Names the deploy that fixed it (none: `deploy` empty).
#[server(prefix = "/fn", endpoint = "incident_fix")]
pub async fn set_incident_fix(id: i64, deploy: String) -> Result<(), FnError> {
    use crate::server::service::incidents::{self, IncidentChange};
    let (state, _, actor) = ctx::signed_in().await?;
    let deploy = incidents::deploy_field(&deploy)?;
    let change = IncidentChange {
        fixed_by_deploy_id: Some(deploy),
        ..Default::default()
    };
    incidents::change(&state.db, &state.markdown, &actor, id, change).await?;
    Ok(())
}

/// The unresolved incidents some entries caused, by entry id (the deploy page
/// marks them).
#[server(prefix = "/fn", endpoint = "incidents_of_entries")]
pub async fn incidents_of_entries(entry_ids: Vec<i64>) -> Result<Vec<(i64, Incident)>, FnError> {
    let (state, _, _) = ctx::signed_in().await?;
    Ok(crate::server::service::incidents::unresolved_of(&state.db, &entry_ids).await?)
}

/// Writes the root-cause note from the page's form.
#[server(prefix = "/fn", endpoint = "save_root_cause")]
pub async fn save_root_cause(id: i64, note: NoteFields) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::root_causes::save_form(&state.db, &state.markdown, &actor, id, note)
        .await?;
    Ok(())
}

/// Approves the draft (a second engineer, not its author).
#[server(prefix = "/fn", endpoint = "review_root_cause")]
pub async fn review_root_cause(id: i64, revision: i64) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::root_causes::review(&state.db, &actor, id, revision).await?;
    Ok(())
}

/// Records a hole with the action that repairs it.
#[server(prefix = "/fn", endpoint = "add_hole")]
pub async fn add_hole(id: i64, hole: HoleFields) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::root_causes::add_hole_form(&state.db, &actor, id, hole).await?;
    Ok(())
}
