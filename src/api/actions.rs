//! Action items for the team's pages: mine, everyone's open ones, and what
//! was closed lately; create, mark done, drop with a reason, reopen.

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionsView {
    /// The signed-in person's open actions, by due date.
    pub mine: Vec<ActionItem>,
    /// Everyone else's open actions.
    pub others: Vec<ActionItem>,
    /// Done or dropped, newest first.
    pub closed: Vec<ActionItem>,
    /// Who may own an action: (email, name) of active team members.
    pub people: Vec<(String, String)>,
    pub me: String,
    pub can_edit: bool,
}

#[server(prefix = "/fn", endpoint = "actions")]
pub async fn load_actions() -> Result<ActionsView, FnError> {
    use crate::server::service::{actions, users};
    let (state, user, _) = ctx::signed_in().await?;
    let open = actions::list(&state.db, vec![ActionStatus::Open], None, None, false).await?;
    let (mine, others) = open.into_iter().partition(|a| a.owner_id == user.id);
    let mut closed = actions::list(
        &state.db,
        vec![ActionStatus::Done, ActionStatus::Dropped],
        None,
        None,
        false,
    )
    .await?;
    closed.sort_by_key(|a| std::cmp::Reverse(a.updated_at));
    closed.truncate(30);
    let people = users::team(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.email, u.name))
        .collect();
    Ok(ActionsView {
        mine,
        others,
        closed,
        people,
        me: user.email,
        can_edit: user.role.can_file_incidents(),
    })
}

#[server(prefix = "/fn", endpoint = "create_action")]
pub async fn create_action(
    title: String,
    owner_email: String,
    due: String,
    kind: String,
    incident: String,
) -> Result<ActionItem, FnError> {
    use crate::server::service::actions::{self, ActionForm};
    let (state, _, actor) = ctx::signed_in().await?;
    let form = ActionForm {
        title,
        owner_email,
        due,
        kind,
        incident,
    };
    Ok(actions::create_form(&state.db, &actor, form).await?)
}

/// Marks an action done, drops it (`note` says why) or reopens it.
#[server(prefix = "/fn", endpoint = "action_status")]
pub async fn change_action_status(id: i64, status: String, note: String) -> Result<(), FnError> {
    use crate::server::service::actions::{self, ActionChange};
    let (state, _, actor) = ctx::signed_in().await?;
    actions::may_act(&actor)?;
    let status = crate::server::service::validate::choice("status", &status)?;
    let change = ActionChange {
        status: Some(status),
        note: Some(note),
        ..Default::default()
    };
    actions::change(&state.db, &actor, id, change).await?;
    Ok(())
}
