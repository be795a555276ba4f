//! Deploying safely: builds CI records, blocks anyone may place (a viewer, a
//! token), and the gate: whether a build may go to an environment now, with
//! every reason it may not, and which passed build is promotable.

use super::{conventional, validate, Actor};
use crate::model::*;
use crate::server::db::{BlockQuery, BuildEdit, Db, DbError, NewBlock, NewBuild};
use crate::server::error::AppError;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

const MAX_COMMITS: usize = 5000;
/// A block lasts at most this long.
const MAX_BLOCK_DAYS: i64 = 30;

/// A build as CI reports it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildInput {
    pub version: String,
    pub commit: String,
    pub branch: String,
    /// `running`, `passed` or `failed`.
    pub status: BuildStatus,
    pub url: Option<String>,
    #[serde(default)]
    pub commits: Vec<BuildCommit>,
    pub tests: Option<TestCounts>,
}

/// Changes to a build; absent fields stay as they are.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildChange {
    pub status: Option<BuildStatus>,
    #[serde(
        default,
        deserialize_with = "crate::server::service::validate::present"
    )]
    #[schema(value_type = Option<String>)]
    pub url: Option<Option<String>>,
    pub tests: Option<TestCounts>,
}

/// Only engineers and admins record builds; checked before any input is read.
pub fn may_build(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role.can_write_deploys(), "record builds")
}

fn url(raw: Option<&str>) -> Result<Option<String>, AppError> {
    match raw.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(None),
        Some(u) => Ok(Some(validate::link("url", u)?)),
    }
}

fn tests(t: Option<TestCounts>) -> Result<Option<TestCounts>, AppError> {
    if let Some(t) = t {
        if t.passed < 0 || t.failed < 0 || t.skipped < 0 {
            return Err(AppError::invalid("tests", "test counts cannot be negative"));
        }
    }
    Ok(t)
}

/// Records a build.
pub async fn create_build(db: &Db, actor: &Actor, input: BuildInput) -> Result<Build, AppError> {
    may_build(actor)?;
    if input.commits.len() > MAX_COMMITS {
        return Err(AppError::invalid(
            "commits",
            format!("at most {MAX_COMMITS} commits per build"),
        ));
    }
    let commits = super::entries::checked_commits(
        input
            .commits
            .into_iter()
            .map(super::entries::CommitInput::from)
            .collect(),
    )?
    .into_iter()
    .map(|c| BuildCommit {
        sha: c.sha,
        message: c.message,
        author: c.author,
        authored_at: c.authored_at,
    })
    .collect();
    let branch = validate::title("branch", &input.branch)?;
    let build = db
        .create_build(NewBuild {
            version: validate::version("version", &input.version)?,
            commit: validate::commit_sha("commit", &input.commit)?,
            branch,
            status: input.status,
            url: url(input.url.as_deref())?,
            commits,
            tests: tests(input.tests)?,
            created_by: actor.label.clone(),
        })
        .await?;
    tracing::info!(build = build.id, status = %build.status, by = %actor.label, "build recorded");
    if build.status == BuildStatus::Failed {
        super::notify::build_failed(db, &build).await;
    }
    Ok(build)
}

pub async fn get_build(db: &Db, id: i64) -> Result<Build, AppError> {
    db.build(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("There is no build {id}.")))
}

pub async fn list_builds(
    db: &Db,
    status: Option<BuildStatus>,
    limit: Option<i64>,
) -> Result<Vec<Build>, AppError> {
    let limit = limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            "the limit must be between 1 and 200",
        ));
    }
    Ok(db.list_builds(status, limit).await?)
}

/// Moves a build on (a running build passes or fails), sets its link or tests.
pub async fn change_build(
    db: &Db,
    actor: &Actor,
    id: i64,
    change: BuildChange,
) -> Result<Build, AppError> {
    may_build(actor)?;
    let current = get_build(db, id).await?;
    let status = change.status.unwrap_or(current.status);
    let edit = BuildEdit {
        status,
        url: match change.url {
            Some(u) => url(u.as_deref())?,
            None => current.url.clone(),
        },
        tests: match change.tests {
            Some(t) => tests(Some(t))?,
            None => current.tests,
        },
        finished_at: match status {
            BuildStatus::Running => None,
            _ if status == current.status => current.finished_at,
            _ => Some(db.now()),
        },
    };
    let build = db
        .update_build(id, current.updated_at, &edit)
        .await
        .map_err(|e| match e {
            DbError::Stale => {
                AppError::conflict("This build changed at the same time; send the change again.")
            }
            other => other.into(),
        })?;
    if status != current.status {
        tracing::info!(build = id, from = %current.status, to = %status, by = %actor.label, "build status changed");
        if status == BuildStatus::Failed {
            super::notify::build_failed(db, &build).await;
        }
    }
    Ok(build)
}

/// Raises `gate.closed` once per environment and night when, in the hour
/// before a deploy night starts, the gate is closed.
pub async fn check_gates(db: &Db, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Result<(), AppError> {
    for row in db.environment_rows().await? {
        let Some(schedule) = super::environments::Schedule::of(&row) else {
            continue;
        };
        let Some((night, starts)) = schedule.next(now, tz) else {
            continue;
        };
        if now < starts - TimeDelta::hours(1) || now >= starts {
            continue;
        }
        let gate = gate(db, &row.slug, None).await?;
        if gate.open {
            continue;
        }
        if !db
            .claim_reminder(&format!("gate.closed:{}:{night}", row.slug), now)
            .await?
        {
            continue;
        }
        super::notify::emit(
            db,
            NotifyEvent::GateClosed,
            format!(
                "The gate to {} is closed, {} minutes before tonight's deploy: {}",
                row.slug,
                (starts - now).num_minutes().max(0),
                gate.reasons.join(" ")
            ),
            "/app",
            serde_json::json!({ "night": night, "starts_at": starts, "gate": gate }),
        )
        .await;
    }
    Ok(())
}

/// Places a block. Anyone on the team may, viewers and every token too.
pub async fn place_block(
    db: &Db,
    tz: chrono_tz::Tz,
    actor: &Actor,
    input: BlockInput,
) -> Result<Block, AppError> {
    let environment = validate::environment_slug("environment", &input.environment)?;
    let known = db.list_environments().await?;
    if !known.contains(&environment) {
        return Err(super::environments::unknown(&environment, &known));
    }
    let reason = input.reason.trim();
    if reason.is_empty() {
        return Err(AppError::invalid("reason", "say why the deploy is blocked"));
    }
    if reason.chars().count() > 1000 {
        return Err(AppError::invalid(
            "reason",
            "keep the reason under 1,000 characters",
        ));
    }
    if let Some(entry) = input.entry_id {
        if db.entry(entry).await?.is_none() {
            return Err(AppError::invalid(
                "entry_id",
                format!("there is no entry {entry}"),
            ));
        }
    }
    let component = validate::component("component", input.component.as_deref())?;
    if input.entry_id.is_some() && component.is_some() {
        return Err(AppError::invalid(
            "component",
            "block either one entry or a component, not both",
        ));
    }
    let now = db.now();
    let expires_at = match input.expires_at {
        Some(at) => {
            if at <= now {
                return Err(AppError::invalid(
                    "expires_at",
                    "a block must end in the future",
                ));
            }
            if at > now + TimeDelta::days(MAX_BLOCK_DAYS) {
                return Err(AppError::invalid(
                    "expires_at",
                    format!("a block lasts at most {MAX_BLOCK_DAYS} days"),
                ));
            }
            at
        }
        None => super::environments::block_default_expiry(db, &environment, now, tz).await?,
    };
    let reason = reason.to_string();
    let block = db
        .place_block(NewBlock {
            input: BlockInput {
                environment,
                reason,
                component,
                ..input
            },
            placed_by: actor.label.clone(),
            expires_at,
        })
        .await?;
    tracing::info!(block = block.id, environment = %block.environment, by = %actor.label, "deploy blocked");
    super::notify::block_changed(db, &block, false).await;
    Ok(block)
}

/// Lifts a block, with a note saying why. Anyone may.
pub async fn lift_block(db: &Db, actor: &Actor, id: i64, note: &str) -> Result<Block, AppError> {
    let note = note.trim();
    if note.is_empty() {
        return Err(AppError::invalid("note", "say why the block is lifted"));
    }
    if note.chars().count() > 1000 {
        return Err(AppError::invalid(
            "note",
            "keep the note under 1,000 characters",
        ));
    }
    db.block(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("There is no block {id}.")))?;
    let block = db.lift_block(id, &actor.label, note, db.now()).await?;
    tracing::info!(block = id, by = %actor.label, "block lifted");
    super::notify::block_changed(db, &block, true).await;
    Ok(block)
}

/// Every block of an environment (or all), newest first: holding, expired
/// and lifted.
pub async fn blocks(
    db: &Db,
    environment: Option<&str>,
    holding: bool,
) -> Result<Vec<Block>, AppError> {
    let now = db.now();
    let mut found = db
        .list_blocks(&BlockQuery {
            environment: environment.map(str::to_string),
            holding_at: holding.then_some(now),
            placed_in: None,
            limit: 500,
        })
        .await?;
    if holding {
        found.retain(|b| b.holds_at(now));
    }
    Ok(found)
}

/// Whether `build` carries the change of `entry`: its deploy's commit or
/// one of its commits is among the build's.
async fn carries_entry(db: &Db, build: &Build, entry: i64) -> Result<bool, AppError> {
    let Some(e) = db.entry(entry).await? else {
        return Ok(false);
    };
    let Some(d) = db.deploy(e.deploy_id).await? else {
        return Ok(false);
    };
    let shas: Vec<&str> = std::iter::once(build.commit.as_str())
        .chain(build.commits.iter().map(|c| c.sha.as_str()))
        .collect();
    Ok(d.deploy
        .commit
        .as_deref()
        .is_some_and(|c| shas.contains(&c))
        || d.commits.iter().any(|c| shas.contains(&c.sha.as_str())))
}

/// Whether `build` touches `component`: a commit scoped to it
/// (`fix(billing): …`).
fn touches(build: &Build, component: &str) -> bool {
    build.commits.iter().any(|c| {
        conventional::draft(&c.message)
            .and_then(|d| d.component)
            .is_some_and(|scope| scope.eq_ignore_ascii_case(component))
    })
}

fn block_reason(b: &Block) -> String {
    format!(
        "Blocked by {} until {}: {} ({})",
        b.placed_by,
        b.expires_at.format("%Y-%m-%d %H:%M UTC"),
        b.reason,
        b.scope()
    )
}

/// The gate of `environment` for `build` (or for any deploy): open, or
/// closed with every reason.
pub async fn gate(db: &Db, environment: &str, build: Option<i64>) -> Result<Gate, AppError> {
    let environment = validate::environment_slug("environment", environment)?;
    let known = db.list_environments().await?;
    if !known.contains(&environment) {
        return Err(super::environments::unknown(&environment, &known));
    }
    let build = match build {
        Some(id) => Some(
            db.build(id)
                .await?
                .ok_or_else(|| AppError::invalid("build", format!("there is no build {id}")))?,
        ),
        None => None,
    };
    let holding = blocks(db, Some(&environment), true).await?;
    let mut reasons = vec![];
    let mut applying = vec![];
    for b in holding {
        let applies = match (&build, b.entry_id, &b.component) {
            (None, _, _) | (_, None, None) => true,
            (Some(build), Some(entry), _) => carries_entry(db, build, entry).await?,
            (Some(build), None, Some(component)) => touches(build, component),
        };
        if applies {
            reasons.push(block_reason(&b));
            applying.push(b);
        }
    }
    if let Some(b) = &build {
        for p in super::risk::of_build(db, b).await? {
            for unmet in &p.unmet {
                reasons.push(format!(
                    "The change “{}” ({} risk, in {} {}) {unmet}.",
                    p.title,
                    p.effective_risk.as_str(),
                    p.environment,
                    p.version
                ));
            }
        }
        if b.status != BuildStatus::Passed {
            reasons.push(format!(
                "Build {} has not passed: it is {}.",
                b.version,
                b.status.label().to_lowercase()
            ));
        }
    }
    Ok(Gate {
        environment,
        build: build.map(|b| b.id),
        open: reasons.is_empty(),
        reasons,
        blocks: applying,
    })
}

/// Every environment's gate for any deploy, production first.
pub async fn gates(db: &Db, environments: &[String]) -> Result<Vec<Gate>, AppError> {
    let mut environments = environments.to_vec();
    environments.sort_by_key(|e| (e != PRODUCTION, e.clone()));
    let mut all = Vec::with_capacity(environments.len());
    for env in environments {
        all.push(gate(db, &env, None).await?);
    }
    Ok(all)
}

/// The newest passed build the gate lets through to `environment` and that
/// is not there yet; otherwise every reason none qualifies.
pub async fn promotable(
    db: &Db,
    environment: &str,
) -> Result<Result<Build, Vec<String>>, AppError> {
    let environment = validate::environment_slug("environment", environment)?;
    let recent = db.list_builds(None, 50).await?;
    let ids: Vec<i64> = recent.iter().map(|b| b.id).collect();
    let deployed = db.deployed_builds(&environment, &ids).await?;
    let mut reasons = vec![];
    if recent.is_empty() {
        reasons.push("No build has been recorded yet.".to_string());
    }
    for build in recent {
        match build.status {
            BuildStatus::Failed => {
                reasons.push(format!("Build {} failed.", build.version));
                continue;
            }
            BuildStatus::Running => {
                reasons.push(format!("Build {} is still running.", build.version));
                continue;
            }
            BuildStatus::Passed => {}
        }
        if deployed.contains(&build.id) {
            reasons.push(format!(
                "Build {} is already deployed to {environment}; nothing newer passed.",
                build.version
            ));
            // Older builds would go backwards.
            break;
        }
        let g = gate(db, &environment, Some(build.id)).await?;
        if g.open {
            return Ok(Ok(build));
        }
        for r in g.reasons {
            reasons.push(format!("Build {}: {r}", build.version));
        }
    }
    Ok(Err(reasons))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_last_until_the_morning_after_the_next_deploy_night() {
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        // A Wednesday afternoon: until Thursday 06:00 in Paris.
        assert_eq!(
            super::super::environments::after_next_deploy_night(at("2026-11-25T15:00:00Z"), tz),
            at("2026-11-26T05:00:00Z")
        );
        // A Saturday: Monday night, so Tuesday morning.
        assert_eq!(
            super::super::environments::after_next_deploy_night(at("2026-11-28T10:00:00Z"), tz),
            at("2026-12-01T05:00:00Z")
        );
    }
}
