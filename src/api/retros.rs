//! Retrospectives for the team's pages: the list and cadence, one retro's
//! period and action review, and its board, which pages poll by revision.

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use chrono::NaiveDate;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetrosView {
    pub retros: Vec<Retro>,
    pub next_due: NaiveDate,
    pub settings: RetroSettings,
    /// The period the next retro would cover.
    pub next_start: NaiveDate,
    pub next_end: NaiveDate,
    pub can_organise: bool,
}

#[server(prefix = "/fn", endpoint = "retros")]
pub async fn load_retros() -> Result<RetrosView, FnError> {
    use crate::server::service::retros;
    let (state, user, _) = ctx::signed_in().await?;
    let (list, next_due) = retros::list(&state.db).await?;
    let (next_start, next_end) = retros::next_period(&state.db).await?;
    Ok(RetrosView {
        retros: list,
        next_due,
        settings: retros::settings(&state.db).await?,
        next_start,
        next_end,
        can_organise: user.role.can_file_incidents(),
    })
}

#[server(prefix = "/fn", endpoint = "create_retro")]
pub async fn create_retro(
    title: String,
    period_start: String,
    period_end: String,
) -> Result<i64, FnError> {
    use crate::server::service::retros::{self, RetroInput};
    use crate::server::service::validate;
    let (state, _, actor) = ctx::signed_in().await?;
    let input = RetroInput {
        title: Some(title),
        period_start: validate::day("period_start", &period_start)?,
        period_end: validate::day("period_end", &period_end)?,
        facilitator_email: None,
    };
    Ok(retros::create(&state.db, &actor, input).await?.id)
}

#[server(prefix = "/fn", endpoint = "retro_settings")]
pub async fn save_retro_settings(cadence_days: i64, votes_per_person: i64) -> Result<(), FnError> {
    use crate::server::service::retros;
    let (state, _, actor) = ctx::signed_in().await?;
    let settings = RetroSettings {
        cadence_days,
        votes_per_person,
    };
    retros::save_settings(&state.db, &actor, settings).await?;
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetroView {
    pub detail: RetroDetail,
    /// May close it.
    pub facilitates: bool,
    /// May review actions.
    pub can_review: bool,
}

#[server(prefix = "/fn", endpoint = "retro")]
pub async fn load_retro(id: i64) -> Result<RetroView, FnError> {
    use crate::server::service::retros;
    let (state, user, actor) = ctx::signed_in().await?;
    let detail = retros::get(&state.db, &actor, id).await?;
    Ok(RetroView {
        facilitates: retros::facilitates(&actor, &detail.retro),
        detail,
        can_review: user.role.can_file_incidents(),
    })
}

/// The board alone, as the reader sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoardView {
    pub status: RetroStatus,
    pub revision: i64,
    pub items: Vec<RetroItem>,
    pub votes_left: i64,
    pub votes_per_person: i64,
    /// The reader's label (email).
    pub me: String,
    /// May turn items into actions.
    pub facilitates: bool,
    /// Who may own an action: (email, name).
    pub people: Vec<(String, String)>,
}

#[server(prefix = "/fn", endpoint = "retro_board")]
pub async fn load_board(id: i64) -> Result<BoardView, FnError> {
    use crate::server::service::{retros, users};
    let (state, user, actor) = ctx::signed_in().await?;
    let (retro, items, votes_left) = retros::board(&state.db, &actor, id).await?;
    let people = users::team(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.email, u.name))
        .collect();
    Ok(BoardView {
        facilitates: retros::facilitates(&actor, &retro),
        status: retro.status,
        revision: retro.revision,
        items,
        votes_left,
        votes_per_person: retro.votes_per_person,
        me: user.email,
        people,
    })
}

/// The board's revision and whether it is still open: pages poll it and
/// reload the board when it moves.
#[server(prefix = "/fn", endpoint = "retro_revision")]
pub async fn retro_revision(id: i64) -> Result<(i64, bool), FnError> {
    use crate::server::error::AppError;
    let (state, _, _) = ctx::signed_in().await?;
    let retro = state
        .db
        .retro(id)
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| AppError::not_found(format!("There is no retro {id}.")))?;
    Ok((retro.revision, retro.status == RetroStatus::Open))
}

#[server(prefix = "/fn", endpoint = "add_retro_item")]
pub async fn add_retro_item(
    id: i64,
    column: String,
    body: String,
    anonymous: bool,
) -> Result<(), FnError> {
    use crate::server::service::{retros, validate};
    let (state, _, actor) = ctx::signed_in().await?;
    if anonymous {
        // Anonymous for admins too: the audit log names nobody.
        if let Ok(axum::Extension(slot)) =
            leptos_axum::extract::<axum::Extension<crate::server::audit::AuditSlot>>().await
        {
            slot.anonymise();
        }
    }
    let input = retros::ItemInput {
        column: validate::choice("column", &column)?,
        body,
        anonymous,
    };
    retros::add_item(&state.db, &actor, id, input).await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "retro_vote")]
pub async fn retro_vote(id: i64, item: i64, on: bool) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::retros::vote(&state.db, &actor, id, item, on).await?;
    Ok(())
}

/// Groups `item` with `with`, or (0) takes it out of its group.
#[server(prefix = "/fn", endpoint = "group_retro_item")]
pub async fn group_retro_item(id: i64, item: i64, with: i64) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    let with = (with > 0).then_some(with);
    crate::server::service::retros::group(&state.db, &actor, id, item, with).await?;
    Ok(())
}

/// The facilitator's form to make an action of an item.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemActionForm {
    pub title: String,
    pub owner_email: String,
    /// `YYYY-MM-DD`.
    pub due: String,
    pub kind: String,
}

#[server(prefix = "/fn", endpoint = "retro_item_action")]
pub async fn retro_item_action(id: i64, item: i64, form: ItemActionForm) -> Result<(), FnError> {
    use crate::server::error::AppError;
    use crate::server::service::{retros, validate};
    let (state, _, actor) = ctx::signed_in().await?;
    retros::may_facilitate_retro(&state.db, &actor, id).await?;
    let input = retros::ItemActionInput {
        title: Some(form.title),
        owner_email: form.owner_email,
        due: NaiveDate::parse_from_str(form.due.trim(), "%Y-%m-%d")
            .map_err(|_| AppError::invalid("due", "choose the day it is due"))?,
        kind: validate::choice("type", &form.kind)?,
    };
    retros::item_to_action(&state.db, &actor, id, item, input).await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "review_retro_action")]
pub async fn review_retro_action(
    id: i64,
    action: i64,
    outcome: String,
    due: String,
    note: String,
) -> Result<(), FnError> {
    use crate::server::service::retros::{self, ActionRef, ReviewInput};
    use crate::server::service::validate;
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::actions::may_act(&actor)?;
    let due = validate::day("due", &due)?;
    let input = ReviewInput {
        action_id: ActionRef::Id(action),
        outcome: validate::choice("outcome", &outcome)?,
        due,
        note,
    };
    retros::review(&state.db, &actor, id, input).await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "close_retro")]
pub async fn close_retro(id: i64) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::retros::close(&state.db, &actor, id).await?;
    Ok(())
}
