//! Retrospectives. The team sets a cadence; each retro covers the days since
//! the previous one and opens with that period's deploys, failures and
//! incidents, and first the review of every open action. Everyone on the
//! team (viewers and tokens too) adds items, votes within an allowance and
//! groups items; authors may stay anonymous to everyone else. The
//! facilitator (or an admin) turns items into actions and closes the retro,
//! after which it is read-only.

use super::actions::{self, ActionChange, ActionInput};
use super::{validate, Actor};
use crate::model::*;
use crate::server::db::{Db, DbError, NewRetro, NewRetroItem, NewReview, RetroItemRow};
use crate::server::error::AppError;
use chrono::{NaiveDate, TimeDelta};
use serde::Deserialize;

/// The longest item, in characters.
const MAX_ITEM: usize = 1000;

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("There is no retro {id}."))
}

/// Anyone but viewers opens retros and sets their cadence; checked before any input is read.
pub fn may_organise(actor: &Actor) -> Result<(), AppError> {
    actor.require(
        actor.role.can_file_incidents(),
        "open retros or change their cadence",
    )
}

/// Whether `actor` runs `retro`: its facilitator, or an admin.
pub fn facilitates(actor: &Actor, retro: &Retro) -> bool {
    actor.label == retro.facilitator || actor.role == Role::Admin
}

/// Only the facilitator, or an admin, turns items into actions and closes.
fn may_facilitate(actor: &Actor, retro: &Retro) -> Result<(), AppError> {
    if facilitates(actor, retro) {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "Only the facilitator ({}) or an admin may do that.",
            retro.facilitator
        )))
    }
}

/// The cadence and the votes each person has.
pub async fn settings(db: &Db) -> Result<RetroSettings, AppError> {
    Ok(db.retro_settings().await?)
}

pub async fn save_settings(
    db: &Db,
    actor: &Actor,
    settings: RetroSettings,
) -> Result<RetroSettings, AppError> {
    may_organise(actor)?;
    if !(1..=90).contains(&settings.cadence_days) {
        return Err(AppError::invalid(
            "cadence_days",
            "hold a retro every 1 to 90 days",
        ));
    }
    if !(1..=20).contains(&settings.votes_per_person) {
        return Err(AppError::invalid(
            "votes_per_person",
            "give each person 1 to 20 votes",
        ));
    }
    let saved = db.save_retro_settings(settings).await?;
    tracing::info!(cadence_days = saved.cadence_days, votes = saved.votes_per_person, by = %actor.label, "retro cadence set");
    Ok(saved)
}

/// The retros, newest first, and when the next one is due.
pub async fn list(db: &Db) -> Result<(Vec<Retro>, NaiveDate), AppError> {
    let retros = db.list_retros(200).await?;
    let cadence = db.retro_settings().await?.cadence_days;
    let next = match retros.first() {
        Some(last) => last.period_end + TimeDelta::days(cadence),
        None => db.now().date_naive(),
    };
    Ok((retros, next))
}

/// The period the next retro covers: the day after the previous one's
/// period to today, or the last cadence's worth of days for the first.
pub async fn next_period(db: &Db) -> Result<(NaiveDate, NaiveDate), AppError> {
    let today = db.now().date_naive();
    let cadence = db.retro_settings().await?.cadence_days;
    let start = match db.list_retros(1).await?.first() {
        Some(last) => (last.period_end + TimeDelta::days(1)).min(today),
        None => today - TimeDelta::days(cadence - 1),
    };
    Ok((start, today))
}

/// A new retro; every field has a default.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetroInput {
    /// Default: "Retro <start> – <end>".
    pub title: Option<String>,
    /// Default: the day after the previous retro's period (or one cadence ago).
    pub period_start: Option<NaiveDate>,
    /// Default: today.
    pub period_end: Option<NaiveDate>,
    /// A team member's email. Default: whoever opens it.
    pub facilitator_email: Option<String>,
}

/// Opens a retro for its period.
pub async fn create(db: &Db, actor: &Actor, input: RetroInput) -> Result<Retro, AppError> {
    may_organise(actor)?;
    let (default_start, default_end) = next_period(db).await?;
    let period_start = input.period_start.unwrap_or(default_start);
    let period_end = input.period_end.unwrap_or(default_end);
    if period_start > period_end {
        return Err(AppError::invalid(
            "period_start",
            "the period must start on or before its last day",
        ));
    }
    if (period_end - period_start).num_days() > 366 {
        return Err(AppError::invalid(
            "period_start",
            "a retro covers at most a year",
        ));
    }
    let title = match input
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(t) => validate::title("title", t)?,
        None => format!("Retro {period_start} – {period_end}"),
    };
    let facilitator = match input
        .facilitator_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        None => actor.label.clone(),
        Some(email) => {
            let email = validate::email("facilitator_email", email)?;
            match db.user_by_email(&email).await? {
                Some(u) if u.active => u.email,
                _ => {
                    return Err(AppError::invalid(
                        "facilitator_email",
                        format!("nobody active on the team has the address {email}"),
                    ))
                }
            }
        }
    };
    let votes_per_person = db.retro_settings().await?.votes_per_person;
    let retro = db
        .create_retro(NewRetro {
            title,
            period_start,
            period_end,
            facilitator,
            votes_per_person,
            created_by: actor.label.clone(),
        })
        .await?;
    tracing::info!(retro = retro.id, by = %actor.label, "retro opened");
    Ok(retro)
}

async fn retro(db: &Db, id: i64) -> Result<Retro, AppError> {
    db.retro(id).await?.ok_or_else(|| not_found(id))
}

/// An item as `reader` sees it: an anonymous author's name only for the
/// author.
fn as_seen(row: RetroItemRow, reader: &str, voted: &[i64]) -> RetroItem {
    let mine = row.author == reader;
    RetroItem {
        id: row.id,
        column: row.column_name,
        body: row.body,
        author: (!row.anonymous || mine).then_some(row.author),
        anonymous: row.anonymous,
        mine,
        group_id: row.group_id,
        votes: row.votes,
        voted: voted.contains(&row.id),
        action_id: row.action_id,
        created_at: row.created_at,
    }
}

/// The board alone, as `actor` sees it: what pages poll.
pub async fn board(
    db: &Db,
    actor: &Actor,
    id: i64,
) -> Result<(Retro, Vec<RetroItem>, i64), AppError> {
    let retro = retro(db, id).await?;
    let voted = db.retro_votes_of(id, &actor.label).await?;
    let items = db
        .retro_items(id)
        .await?
        .into_iter()
        .map(|row| as_seen(row, &actor.label, &voted))
        .collect();
    let left = (retro.votes_per_person - voted.len() as i64).max(0);
    Ok((retro, items, left))
}

/// Everything a retro's page shows, as `actor` sees it.
pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<RetroDetail, AppError> {
    let (retro, items, votes_left) = board(db, actor, id).await?;
    let from = retro
        .period_start
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let until = (retro.period_end + TimeDelta::days(1))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let rows = db.retro_period(from, until).await?;
    let mut incidents = Vec::with_capacity(rows.incidents.len());
    for incident in rows.incidents {
        let note = db.root_cause(incident.id).await?;
        incidents.push(RetroIncident {
            root_cause_category: note.as_ref().map(|n| n.category),
            root_cause_summary: note.as_ref().map(|n| n.document.summary.clone()),
            root_cause_status: note.as_ref().map(|n| n.status),
            incident,
        });
    }
    let blocks = db
        .list_blocks(&crate::server::db::BlockQuery {
            placed_in: Some((from, until)),
            limit: 500,
            ..Default::default()
        })
        .await?;
    let dora = super::metrics::dora(db, PRODUCTION, retro.period_start, retro.period_end).await?;
    let reviews = db.retro_reviews(id).await?;
    // An open retro reviews every action open when it opened; a closed one
    // shows what it decided.
    let mut actions_to_review = vec![];
    if retro.status == RetroStatus::Open {
        actions_to_review = actions::list(db, vec![ActionStatus::Open], None, None, false)
            .await?
            .into_iter()
            .filter(|a| a.created_at < retro.created_at)
            .collect();
    }
    for review in &reviews {
        if !actions_to_review.iter().any(|a| a.id == review.action_id) {
            if let Some(a) = db.action(review.action_id).await? {
                actions_to_review.push(a);
            }
        }
    }
    Ok(RetroDetail {
        retro,
        period: RetroPeriodSummary {
            deploys: rows.deploys,
            production_deploys: rows.production_deploys,
            failed_deploys: rows.failed_deploys,
            incidents,
            blocks,
            dora: PeriodDora {
                deployment_frequency_per_day: dora.deployment_frequency_per_day,
                lead_time_median_hours: dora.lead_time_hours.median,
                change_failure_rate: dora.change_failure_rate,
                time_to_restore_median_hours: dora.time_to_restore_hours.median,
                rework_rate: dora.rework_rate,
            },
        },
        actions_to_review,
        reviews,
        items,
        votes_left,
    })
}

/// A new item on the board.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// `went-well`, `to-improve` or `ideas`.
    pub column: RetroColumn,
    pub body: String,
    /// Hide the author from everyone else.
    #[serde(default)]
    pub anonymous: bool,
}

/// Adds an item; anyone on the team takes part.
pub async fn add_item(
    db: &Db,
    actor: &Actor,
    id: i64,
    input: ItemInput,
) -> Result<RetroItem, AppError> {
    let body = input.body.trim();
    if body.is_empty() {
        return Err(AppError::invalid("body", "write something first"));
    }
    if body.chars().count() > MAX_ITEM {
        return Err(AppError::invalid(
            "body",
            format!("keep an item under {MAX_ITEM} characters"),
        ));
    }
    retro(db, id).await?;
    let item_id = db
        .add_retro_item(
            id,
            NewRetroItem {
                column: input.column,
                body: body.to_string(),
                author: actor.label.clone(),
                anonymous: input.anonymous,
            },
        )
        .await?;
    let (_, items, _) = board(db, actor, id).await?;
    items
        .into_iter()
        .find(|i| i.id == item_id)
        .ok_or_else(|| not_found(id))
}

fn item_not_found(e: DbError) -> AppError {
    match e {
        DbError::NotFound => AppError::not_found("There is no such item in this retro."),
        other => other.into(),
    }
}

/// Casts a vote (`on`) or takes it back, within the retro's allowance.
pub async fn vote(db: &Db, actor: &Actor, id: i64, item_id: i64, on: bool) -> Result<(), AppError> {
    let retro = retro(db, id).await?;
    db.retro_vote(id, item_id, &actor.label, on, retro.votes_per_person)
        .await
        .map_err(item_not_found)
}

/// Groups an item with another (`Some`), or takes it out of its group.
pub async fn group(
    db: &Db,
    _actor: &Actor,
    id: i64,
    item_id: i64,
    with: Option<i64>,
) -> Result<(), AppError> {
    retro(db, id).await?;
    db.group_retro_item(id, item_id, with)
        .await
        .map_err(item_not_found)
}

/// The action a facilitator makes of an item.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemActionInput {
    /// Default: the item's text.
    pub title: Option<String>,
    pub owner_email: String,
    pub due: NaiveDate,
    #[serde(rename = "type")]
    pub kind: ActionKind,
}

/// Turns an item into an action (facilitator or admin).
/// Whether `actor` facilitates retro `id` (or is an admin); checked before
/// any input is read.
pub async fn may_facilitate_retro(db: &Db, actor: &Actor, id: i64) -> Result<(), AppError> {
    may_facilitate(actor, &retro(db, id).await?)
}

pub async fn item_to_action(
    db: &Db,
    actor: &Actor,
    id: i64,
    item_id: i64,
    input: ItemActionInput,
) -> Result<ActionItem, AppError> {
    let retro = retro(db, id).await?;
    may_facilitate(actor, &retro)?;
    let items = db.retro_items(id).await?;
    let item = items
        .iter()
        .find(|i| i.id == item_id)
        .ok_or_else(|| AppError::not_found("There is no such item in this retro."))?;
    let title = match input
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(t) => t.to_string(),
        None => item.body.chars().take(200).collect(),
    };
    let mut new = actions::check(
        db,
        &ActionInput {
            title,
            owner_email: input.owner_email,
            due: input.due,
            kind: input.kind,
            incident_id: None,
        },
    )
    .await?;
    new.created_by = actor.label.clone();
    let action = db
        .retro_item_action(id, item_id, new)
        .await
        .map_err(item_not_found)?;
    tracing::info!(retro = id, action = %action.number, by = %actor.label, "retro item became an action");
    Ok(action)
}

/// What the retro decides about one open action.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// `ACT-7` or 7.
    pub action_id: ActionRef,
    /// `done`, `still-open` (with a new `due`) or `dropped` (with a `note`).
    pub outcome: ReviewOutcome,
    pub due: Option<NaiveDate>,
    #[serde(default)]
    pub note: String,
}

/// An action named by its id or its number (`ACT-7`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ActionRef {
    Id(i64),
    Number(String),
}

/// Records the review of an open action and changes the action to match.
pub async fn review(
    db: &Db,
    actor: &Actor,
    id: i64,
    input: ReviewInput,
) -> Result<ActionReview, AppError> {
    actions::may_act(actor)?;
    retro(db, id).await?;
    let action_id = match &input.action_id {
        ActionRef::Id(n) => Some(*n),
        ActionRef::Number(s) => parse_action_number(s),
    }
    .ok_or_else(|| AppError::invalid("action_id", "name an action as ACT-7 or 7"))?;
    let current = db
        .action(action_id)
        .await?
        .ok_or_else(|| AppError::invalid("action_id", "there is no such action"))?;
    let note = input.note.trim().to_string();
    let change = match input.outcome {
        ReviewOutcome::Done => ActionChange {
            status: Some(ActionStatus::Done),
            ..Default::default()
        },
        ReviewOutcome::StillOpen => {
            let due = input
                .due
                .ok_or_else(|| AppError::invalid("due", "give the action a new due date"))?;
            ActionChange {
                status: Some(ActionStatus::Open),
                due: Some(actions::due(due, db.now().date_naive())?),
                ..Default::default()
            }
        }
        ReviewOutcome::Dropped => {
            if note.is_empty() {
                return Err(AppError::invalid("note", "say why the action is dropped"));
            }
            ActionChange {
                status: Some(ActionStatus::Dropped),
                note: Some(note.clone()),
                ..Default::default()
            }
        }
    };
    let edit = actions::edit_for(db, &current, change).await?;
    db.review_action(
        id,
        NewReview {
            action_id,
            outcome: input.outcome,
            due: (input.outcome == ReviewOutcome::StillOpen).then_some(edit.due),
            note,
            reviewed_by: actor.label.clone(),
            edit,
            action_updated_at: current.updated_at,
        },
    )
    .await
    .map_err(|e| match e {
        DbError::Stale => AppError::conflict(
            "Someone else changed this action at the same time; reload and review it again.",
        ),
        other => other.into(),
    })?;
    tracing::info!(retro = id, action = %current.number, outcome = %input.outcome, by = %actor.label, "action reviewed");
    db.retro_reviews(id)
        .await?
        .into_iter()
        .find(|r| r.action_id == action_id)
        .ok_or_else(|| not_found(id))
}

/// Closes a retro (facilitator or admin): it is read-only from then on.
pub async fn close(db: &Db, actor: &Actor, id: i64) -> Result<Retro, AppError> {
    let retro = retro(db, id).await?;
    may_facilitate(actor, &retro)?;
    let closed = db.close_retro(id).await?;
    tracing::info!(retro = id, by = %actor.label, "retro closed");
    Ok(closed)
}
