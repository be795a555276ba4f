//! Recording deploys and editing their entries.

use super::{validate, Actor};
use crate::model::*;
use crate::server::db::{Db, DeployQuery, NewDeploy};
use crate::server::error::AppError;
use crate::server::markdown::Markdown;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use super::entries::{
    checked_commits, checked_entry, entry_from_form, preview, CommitInput, EntryInput,
};
use super::entries::{drafted_entries, entry, render_bodies};

pub const MAX_ENTRIES: usize = 500;
pub const MAX_COMMITS: usize = 1000;
pub const DEFAULT_PAGE: i64 = 20;
pub const MAX_PAGE: i64 = 100;

/// A deploy as CI reports it (`POST /api/v1/deploys`).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployInput {
    /// Environment slug: one that exists (`GET /api/v1/environments`), or
    /// any when an admin lets CI create environments.
    #[schema(example = "production")]
    pub environment: String,
    /// Unique per environment.
    #[schema(example = "2026.11.26-1")]
    pub version: String,
    pub commit: Option<String>,
    /// Defaults to `started`.
    pub status: Option<DeployStatus>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The changelog. When absent, entries are drafted from `commits`.
    pub entries: Option<Vec<EntryInput>>,
    /// Default: the build's commits, when `build_id` names one.
    #[serde(default)]
    pub commits: Vec<CommitInput>,
    /// The build this deploy ships (`POST /api/v1/builds`).
    #[serde(default)]
    pub build_id: Option<i64>,
}

/// One page of the timeline.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeployPage {
    pub deploys: Vec<Deploy>,
    /// Pass as `before` to get the next page; absent on the last page.
    pub next_before: Option<i64>,
}

/// Only engineers and admins record deploys, change their status and edit
/// or delete their entries; checked before any input is read.
pub fn may_edit(actor: &Actor) -> Result<(), AppError> {
    actor.require(
        actor.role.can_write_deploys(),
        "record deploys or edit their entries",
    )
}

pub async fn create(
    db: &Db,
    md: &Markdown,
    actor: &Actor,
    input: DeployInput,
) -> Result<DeployDetail, AppError> {
    actor.require(actor.role.can_write_deploys(), "record deploys")?;
    let mut input = input;
    if let Some(id) = input.build_id {
        let build = db
            .build(id)
            .await?
            .ok_or_else(|| AppError::invalid("build_id", format!("there is no build {id}")))?;
        if input.commits.is_empty() {
            input.commits = build.commits.into_iter().map(CommitInput::from).collect();
        }
        input.commit = input.commit.or(Some(build.commit));
    }
    let status = input.status.unwrap_or(DeployStatus::Started);
    let started_at =
        validate::timestamp("started_at", input.started_at.unwrap_or_else(|| db.now()))?;
    if let Some(f) = input.finished_at {
        validate::timestamp("finished_at", f)?;
    }
    let finished_at = match (status.is_finished(), input.finished_at) {
        (false, Some(_)) => {
            return Err(AppError::invalid(
                "finished_at",
                "a deploy that has only started has no finish time",
            ))
        }
        (true, None) => Some(db.now().max(started_at)),
        (_, f) => f,
    };
    if finished_at.is_some_and(|f| f < started_at) {
        return Err(AppError::invalid(
            "finished_at",
            "finished_at is before started_at",
        ));
    }
    if input.commits.len() > MAX_COMMITS {
        return Err(AppError::invalid(
            "commits",
            format!("at most {MAX_COMMITS} commits per deploy"),
        ));
    }
    let commits = checked_commits(input.commits)?;
    let drafted = input.entries.is_none();
    let mut entries = match input.entries {
        Some(entries) => {
            if entries.len() > MAX_ENTRIES {
                return Err(AppError::invalid(
                    "entries",
                    format!("at most {MAX_ENTRIES} entries per deploy"),
                ));
            }
            entries
                .into_iter()
                .enumerate()
                .map(|(i, e)| entry(&format!("entries[{i}]"), e))
                .collect::<Result<Vec<_>, _>>()?
        }
        None => drafted_entries(&commits),
    };
    render_bodies(md, &mut entries, |i| {
        if drafted {
            format!("commits[{i}]")
        } else {
            format!("entries[{i}]")
        }
    })
    .await?;
    let environment = validate::environment_slug("environment", &input.environment)?;
    let create_environment = super::environments::deployable(db, &environment).await?;
    let deploy = NewDeploy {
        create_environment,
        environment,
        version: validate::version("version", &input.version)?,
        commit: input
            .commit
            .as_deref()
            .map(|c| validate::commit_sha("commit", c))
            .transpose()?,
        status,
        started_at,
        finished_at,
        created_by: Some(actor.label.clone()),
        entries,
        commits,
        build_id: input.build_id,
    };
    let detail = db.create_deploy(deploy).await?;
    tracing::info!(deploy = detail.deploy.id, environment = %detail.deploy.environment,
        version = %detail.deploy.version, by = %actor.label, "deploy recorded");
    super::incidents::note_fixes(db, &detail).await?;
    super::actions::note_closes(db, &detail).await?;
    super::notify::deploy_finished_badly(db, &detail).await;
    Ok(detail)
}

/// The environments deploys have gone to, by slug.
pub async fn environments(db: &Db) -> Result<Vec<String>, AppError> {
    Ok(db.list_environments().await?)
}

pub async fn get(db: &Db, id: i64) -> Result<DeployDetail, AppError> {
    db.deploy(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("There is no deploy {id}.")))
}

pub async fn list(
    db: &Db,
    environment: Option<String>,
    limit: Option<i64>,
    before: Option<i64>,
) -> Result<DeployPage, AppError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            format!("limit must be between 1 and {MAX_PAGE}"),
        ));
    }
    let environment = environment
        .filter(|e| !e.is_empty())
        .map(|e| validate::environment_slug("environment", &e))
        .transpose()?;
    // One more than asked tells whether another page follows.
    let mut deploys = db
        .list_deploys(&DeployQuery {
            environment,
            before,
            limit: limit + 1,
        })
        .await?;
    let next_before = if deploys.len() as i64 > limit {
        deploys.truncate(limit as usize);
        deploys.last().map(|d| d.id)
    } else {
        None
    };
    Ok(DeployPage {
        deploys,
        next_before,
    })
}

/// Moves a deploy's status on; an impossible transition is a conflict.
pub async fn change_status(
    db: &Db,
    actor: &Actor,
    id: i64,
    to: DeployStatus,
    finished_at: Option<DateTime<Utc>>,
) -> Result<DeployDetail, AppError> {
    may_edit(actor)?;
    let current = get(db, id).await?;
    let from = current.deploy.status;
    if !from.can_move_to(to) {
        return Err(AppError::conflict(format!(
            "A deploy that is {} cannot become {}.",
            from.as_str(),
            to.as_str()
        )));
    }
    if let Some(f) = finished_at {
        validate::timestamp("finished_at", f)?;
    }
    let finished_at = match (to.is_finished(), finished_at) {
        (true, None) if current.deploy.finished_at.is_none() => Some(db.now()),
        (_, f) => f,
    };
    if finished_at.is_some_and(|f| f < current.deploy.started_at) {
        return Err(AppError::invalid(
            "finished_at",
            "finished_at is before the deploy started",
        ));
    }
    if !db.set_deploy_status(id, from, to, finished_at).await? {
        return Err(AppError::conflict(
            "Someone else changed this deploy's status at the same time; reload and try again.",
        ));
    }
    tracing::info!(deploy = id, from = %from, to = %to, by = %actor.label, "deploy status changed");
    let detail = get(db, id).await?;
    super::incidents::note_fixes(db, &detail).await?;
    super::actions::note_closes(db, &detail).await?;
    super::notify::deploy_finished_badly(db, &detail).await;
    Ok(detail)
}

pub async fn add_entry(
    db: &Db,
    md: &Markdown,
    actor: &Actor,
    deploy_id: i64,
    input: EntryInput,
) -> Result<ChangeEntry, AppError> {
    may_edit(actor)?;
    get(db, deploy_id).await?;
    let mut new = [entry("entry", input)?];
    render_bodies(md, &mut new, |_| "entry".into()).await?;
    let [new] = new;
    Ok(db.add_entry(deploy_id, new).await?)
}

pub async fn update_entry(
    db: &Db,
    md: &Markdown,
    actor: &Actor,
    id: i64,
    input: EntryInput,
) -> Result<ChangeEntry, AppError> {
    may_edit(actor)?;
    let mut new = [entry("entry", input)?];
    render_bodies(md, &mut new, |_| "entry".into()).await?;
    let [new] = new;
    db.update_entry(id, new).await.map_err(|e| match e {
        crate::server::db::DbError::NotFound => {
            AppError::not_found(format!("There is no entry {id}."))
        }
        other => other.into(),
    })
}

pub async fn delete_entry(db: &Db, actor: &Actor, id: i64) -> Result<(), AppError> {
    may_edit(actor)?;
    db.delete_entry(id).await.map_err(|e| match e {
        crate::server::db::DbError::NotFound => {
            AppError::not_found(format!("There is no entry {id}."))
        }
        other => other.into(),
    })
}
