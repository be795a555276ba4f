//! Action items: created from an incident (or on their own), owned by one
//! team member, due on a day, done by hand or by a deploy that says
//! `Closes-Action: ACT-<n>`, or dropped with a reason.

use super::{conventional, validate, Actor};
use crate::model::*;
use crate::server::db::{ActionEdit, ActionQuery, Db, DbError, NewAction};
use crate::server::error::AppError;
use chrono::{Datelike, NaiveDate, Utc};
use serde::Deserialize;

const MAX_PAGE: i64 = 500;

/// An incident named by its id or its number (`INC-12`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum IncidentRef {
    Id(i64),
    Number(String),
}

impl IncidentRef {
    fn id(&self) -> Option<i64> {
        match self {
            IncidentRef::Id(n) => (*n > 0).then_some(*n),
            IncidentRef::Number(s) => parse_incident_number(s),
        }
    }
}

/// A new action.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionInput {
    pub title: String,
    /// A team member's email.
    pub owner_email: String,
    /// The day it is due (`YYYY-MM-DD`).
    pub due: NaiveDate,
    /// `testing`, `monitoring`, `process` or `code`.
    #[serde(rename = "type")]
    pub kind: ActionKind,
    /// The incident it follows up (`12` or `"INC-12"`).
    #[serde(default)]
    pub incident_id: Option<IncidentRef>,
}

/// Changes to an action; absent fields stay as they are.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionChange {
    pub title: Option<String>,
    pub owner_email: Option<String>,
    pub due: Option<NaiveDate>,
    #[serde(rename = "type")]
    pub kind: Option<ActionKind>,
    /// `open`, `done` or `dropped` (dropping needs a `note` saying why).
    pub status: Option<ActionStatus>,
    pub note: Option<String>,
    /// The deploy that did it; `null` clears it.
    #[serde(
        default,
        deserialize_with = "crate::server::service::validate::present"
    )]
    #[schema(value_type = Option<i64>)]
    pub evidence_deploy_id: Option<Option<i64>>,
}

/// Checked before any input is read.
pub fn may_act(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role.can_file_incidents(), "create or change actions")
}

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("There is no action {}.", action_number(id)))
}

/// An active team member, by email.
pub(super) async fn owner(db: &Db, raw: &str) -> Result<i64, AppError> {
    let email = validate::email("owner_email", raw)?;
    match db.user_by_email(&email).await? {
        Some(u) if u.active => Ok(u.id),
        Some(_) => Err(AppError::invalid(
            "owner_email",
            format!("{email} is deactivated; choose someone on the team"),
        )),
        None => Err(AppError::invalid(
            "owner_email",
            format!("nobody on the team has the address {email}"),
        )),
    }
}

pub(super) fn due(day: NaiveDate, today: NaiveDate) -> Result<NaiveDate, AppError> {
    if !(1970..=9999).contains(&day.year()) {
        return Err(AppError::invalid(
            "due",
            "the due date must fall between 1970 and 9999",
        ));
    }
    if day < today {
        return Err(AppError::invalid("due", "the due date is in the past"));
    }
    Ok(day)
}

/// Creates an action.
pub async fn create(db: &Db, actor: &Actor, input: ActionInput) -> Result<ActionItem, AppError> {
    may_act(actor)?;
    let new = check(db, &input).await?;
    let action = db
        .create_action(NewAction {
            created_by: actor.label.clone(),
            ..new
        })
        .await?;
    tracing::info!(action = %action.number, by = %actor.label, "action created");
    Ok(action)
}

/// Checks a new action's fields; what to store (with no author yet).
pub async fn check(db: &Db, input: &ActionInput) -> Result<NewAction, AppError> {
    let title = validate::title("title", &input.title)?;
    let owner_id = owner(db, &input.owner_email).await?;
    let due = due(input.due, db.now().date_naive())?;
    let incident_id = match &input.incident_id {
        None => None,
        Some(r) => {
            let found = match r.id() {
                Some(id) => db.incident(id).await?,
                None => None,
            };
            Some(
                found
                    .ok_or_else(|| AppError::invalid("incident_id", "there is no such incident"))?
                    .id,
            )
        }
    };
    Ok(NewAction {
        title,
        owner_id,
        due,
        kind: input.kind,
        incident_id,
        created_by: String::new(),
    })
}

/// The team page's form, as typed.
#[derive(Clone, Debug, Default)]
pub struct ActionForm {
    pub title: String,
    pub owner_email: String,
    /// `YYYY-MM-DD`.
    pub due: String,
    pub kind: String,
    /// `INC-12`, `12` or empty.
    pub incident: String,
}

/// Creates an action from the team page's form.
pub async fn create_form(db: &Db, actor: &Actor, form: ActionForm) -> Result<ActionItem, AppError> {
    may_act(actor)?;
    let due = NaiveDate::parse_from_str(form.due.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::invalid("due", "choose the day it is due"))?;
    let incident = form.incident.trim();
    let input = ActionInput {
        title: form.title,
        owner_email: form.owner_email,
        due,
        kind: validate::choice("type", &form.kind)?,
        incident_id: (!incident.is_empty()).then(|| IncidentRef::Number(incident.to_string())),
    };
    create(db, actor, input).await
}

pub async fn get(db: &Db, id: i64) -> Result<ActionItem, AppError> {
    db.action(id).await?.ok_or_else(|| not_found(id))
}

/// Actions, open ones first by due date.
pub async fn list(
    db: &Db,
    statuses: Vec<ActionStatus>,
    owner_email: Option<&str>,
    incident_id: Option<i64>,
    overdue: bool,
) -> Result<Vec<ActionItem>, AppError> {
    let owner_id = match owner_email.map(str::trim).filter(|e| !e.is_empty()) {
        None => None,
        Some(email) => match db.user_by_email(&email.to_lowercase()).await? {
            Some(u) => Some(u.id),
            None => return Ok(vec![]),
        },
    };
    let (statuses, due_before) = if overdue {
        (vec![ActionStatus::Open], Some(db.now().date_naive()))
    } else {
        (statuses, None)
    };
    Ok(db
        .list_actions(&ActionQuery {
            statuses,
            owner_id,
            incident_id,
            due_before,
            limit: MAX_PAGE,
            ..Default::default()
        })
        .await?)
}

/// Edits an action (see [`edit_for`]).
pub async fn change(
    db: &Db,
    actor: &Actor,
    id: i64,
    change: ActionChange,
) -> Result<ActionItem, AppError> {
    may_act(actor)?;
    let current = get(db, id).await?;
    let edit = edit_for(db, &current, change).await?;
    let status = edit.status;
    let action = db
        .update_action(id, current.updated_at, &edit)
        .await
        .map_err(|e| match e {
            DbError::Stale => AppError::conflict(
                "Someone else changed this action at the same time; reload and try again.",
            ),
            other => other.into(),
        })?;
    if status != current.status {
        tracing::info!(action = %action.number, from = %current.status, to = %status, by = %actor.label, "action status changed");
    }
    Ok(action)
}

/// What `change` makes of the action `current`, checked: done stamps the
/// time; dropped needs a reason; reopening clears both and the evidence.
pub async fn edit_for(
    db: &Db,
    current: &ActionItem,
    change: ActionChange,
) -> Result<ActionEdit, AppError> {
    let status = change.status.unwrap_or(current.status);
    let note = change
        .note
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| current.note.clone());
    if status == ActionStatus::Dropped && note.is_empty() {
        return Err(AppError::invalid("note", "say why the action is dropped"));
    }
    if note.chars().count() > 2000 {
        return Err(AppError::invalid(
            "note",
            "keep the note under 2,000 characters",
        ));
    }
    let evidence_deploy_id = match change.evidence_deploy_id {
        Some(Some(deploy)) => {
            if db.deploy(deploy).await?.is_none() {
                return Err(AppError::invalid(
                    "evidence_deploy_id",
                    format!("there is no deploy {deploy}"),
                ));
            }
            Some(deploy)
        }
        Some(None) => None,
        None if status == ActionStatus::Open => None,
        None => current.evidence_deploy_id,
    };
    let edit = ActionEdit {
        title: match change.title.as_deref() {
            Some(t) => validate::title("title", t)?,
            None => current.title.clone(),
        },
        owner_id: match change.owner_email.as_deref() {
            Some(e) => owner(db, e).await?,
            None => current.owner_id,
        },
        due: match change.due {
            // A due date may move, but not into the past.
            Some(d) => due(d, db.now().date_naive().min(current.due))?,
            None => current.due,
        },
        kind: change.kind.unwrap_or(current.kind),
        status,
        note,
        evidence_deploy_id,
        done_at: match status {
            ActionStatus::Done => current.done_at.or(Some(db.now())),
            _ => None,
        },
    };
    Ok(edit)
}

/// A succeeded production deploy whose entries or commits say
/// `Closes-Action: ACT-<n>` marks each open such action done, with the deploy
/// as its evidence.
pub async fn note_closes(db: &Db, deploy: &DeployDetail) -> Result<Vec<String>, AppError> {
    if deploy.deploy.status != DeployStatus::Succeeded || deploy.deploy.environment != PRODUCTION {
        return Ok(vec![]);
    }
    let named = conventional::deploy_trailers(deploy, "Closes-Action", parse_action_number);
    let mut closed = vec![];
    for id in named {
        let Some(action) = db.action(id).await? else {
            continue;
        };
        if action.status != ActionStatus::Open {
            continue;
        }
        let edit = ActionEdit {
            title: action.title.clone(),
            owner_id: action.owner_id,
            due: action.due,
            kind: action.kind,
            status: ActionStatus::Done,
            note: action.note.clone(),
            evidence_deploy_id: Some(deploy.deploy.id),
            done_at: Some(
                deploy
                    .deploy
                    .finished_at
                    .unwrap_or(deploy.deploy.started_at),
            ),
        };
        match db.update_action(id, action.updated_at, &edit).await {
            Ok(_) => {
                tracing::info!(action = %action.number, deploy = deploy.deploy.id, "action closed by a deploy");
                closed.push(action.number);
            }
            Err(DbError::Stale) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(closed)
}

/// Sends the reminders whose time has come, once the day's digest hour has
/// passed in the instance's time zone: each owner hears on the day an
/// action falls due, and on the digest weekday gets a summary of their
/// overdue ones. Each reminder is claimed in the database before it is
/// sent, so none goes out twice; one that fails to send is given back and
/// tried again on the next pass. How many went out.
pub async fn send_reminders(
    db: &Db,
    mailer: &crate::server::mail::Mailer,
    config: &crate::server::config::Config,
    now: chrono::DateTime<Utc>,
) -> Result<usize, AppError> {
    use chrono::Timelike;
    let local = now.with_timezone(&config.time_zone);
    if local.hour() < config.digest_hour {
        return Ok(0);
    }
    let today = local.date_naive();
    let link = config.link("/app/actions");
    let mut sent = 0;
    let open = |due_on: Option<NaiveDate>, due_before: Option<NaiveDate>| ActionQuery {
        statuses: vec![ActionStatus::Open],
        due_on,
        due_before,
        limit: 5000,
        ..Default::default()
    };
    let mut messages = vec![];
    for action in db.list_actions(&open(Some(today), None)).await? {
        let key = format!("due:{}:{today}", action.id);
        messages.push((key, crate::server::mail::action_due(&action, &link)));
    }
    if local.weekday() == config.digest_weekday {
        let week = local.iso_week();
        let mut by_owner: std::collections::BTreeMap<i64, Vec<ActionItem>> = Default::default();
        for action in db.list_actions(&open(None, Some(today))).await? {
            by_owner.entry(action.owner_id).or_default().push(action);
        }
        for (owner, actions) in by_owner {
            let key = format!("overdue:{owner}:{}-W{:02}", week.year(), week.week());
            if let Some(message) = crate::server::mail::actions_overdue(&actions, &link) {
                messages.push((key, message));
            }
        }
    }
    for (key, message) in messages {
        if !db.claim_reminder(&key, now).await? {
            continue;
        }
        match mailer.deliver(message).await {
            Ok(_) => {
                tracing::info!(reminder = %key, "action reminder sent");
                sent += 1;
            }
            Err(e) => {
                tracing::warn!(reminder = %key, error = %e, "an action reminder could not be sent; retrying later");
                db.release_reminder(&key).await?;
            }
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_dates_are_today_or_later() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        assert!(due(today, today).is_ok());
        assert!(due(today.pred_opt().unwrap(), today).is_err());
    }
}
