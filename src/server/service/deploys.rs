//! Recording deploys and editing their entries.

use super::{conventional, validate, Actor};
use crate::model::*;
use crate::server::db::{Db, DeployQuery, NewCommit, NewDeploy, NewEntry};
use crate::server::error::AppError;
use crate::server::markdown::Markdown;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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

/// One change entry as the API takes it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryInput {
    pub title: String,
    /// Markdown.
    #[serde(default)]
    pub body: String,
    pub kind: EntryKind,
    /// `everyone` (default), `admins`, `cohort:<slug>` or `internal`.
    #[schema(value_type = Option<String>, example = "everyone")]
    pub audience: Option<Audience>,
    /// Defaults to `low`.
    pub risk: Option<Risk>,
    pub component: Option<String>,
    #[serde(default)]
    pub breaking: bool,
    #[serde(default)]
    pub links: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitInput {
    pub sha: String,
    pub message: String,
    pub author: Option<String>,
    pub authored_at: Option<DateTime<Utc>>,
}

/// One page of the timeline.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeployPage {
    pub deploys: Vec<Deploy>,
    /// Pass as `before` to get the next page; absent on the last page.
    pub next_before: Option<i64>,
}

fn entry(field: &str, e: EntryInput) -> Result<NewEntry, AppError> {
    let body = validate::body(&format!("{field}.body"), &e.body)?;
    let links = e
        .links
        .iter()
        .enumerate()
        .map(|(i, l)| validate::link(&format!("{field}.links[{i}]"), l))
        .collect::<Result<Vec<_>, _>>()?;
    if links.len() > 20 {
        return Err(AppError::invalid(
            format!("{field}.links"),
            "at most 20 links per entry",
        ));
    }
    Ok(NewEntry {
        title: validate::title(&format!("{field}.title"), &e.title)?,
        // Filled in by `render_bodies`, off the async runtime.
        body_html: String::new(),
        body_text: String::new(),
        body,
        kind: e.kind,
        audience: audience_of(field, e.kind, e.audience)?,
        risk: e.risk.unwrap_or(Risk::Low),
        component: validate::component(&format!("{field}.component"), e.component.as_deref())?,
        breaking: e.breaking,
        links,
    })
}

/// Who may read an entry: `internal` changes stay with the team unless told
/// otherwise, and told otherwise they are refused (an internal change for
/// customers is a contradiction); the rest default to everyone.
fn audience_of(
    field: &str,
    kind: EntryKind,
    audience: Option<Audience>,
) -> Result<Audience, AppError> {
    match (kind, audience) {
        (EntryKind::Internal, None | Some(Audience::Internal)) => Ok(Audience::Internal),
        (EntryKind::Internal, Some(other)) => Err(AppError::invalid(
            format!("{field}.audience"),
            format!(
                "an internal change is for the team only: leave the audience out (or say `internal`), not `{}`; or give the change a customer-facing kind",
                other.as_string()
            ),
        )),
        (_, audience) => Ok(audience.unwrap_or(Audience::Everyone)),
    }
}

/// Parses the web form's text fields into an API-shaped entry.
pub fn entry_from_form(f: &EntryForm) -> Result<EntryInput, AppError> {
    Ok(EntryInput {
        title: f.title.clone(),
        body: f.body.clone(),
        kind: validate::choice("kind", &f.kind)?,
        audience: Some(validate::choice("audience", &f.audience)?),
        risk: Some(validate::choice("risk", &f.risk)?),
        component: Some(f.component.clone()),
        breaking: f.breaking,
        links: f
            .links
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    })
}

fn drafted_entries(commits: &[NewCommit]) -> Vec<NewEntry> {
    commits
        .iter()
        .filter_map(|c| conventional::draft(&c.message))
        .map(|d| NewEntry {
            body_html: String::new(),
            body_text: String::new(),
            title: d.title,
            body: d.body,
            kind: d.kind,
            // Drafts of internal commits stay internal; the rest are for everyone.
            audience: if d.kind == EntryKind::Internal {
                Audience::Internal
            } else {
                Audience::Everyone
            },
            risk: if d.breaking { Risk::High } else { Risk::Low },
            component: d.component,
            breaking: d.breaking,
            links: vec![],
        })
        .collect()
}

/// Renders the entries' Markdown in one go, off the async runtime; `field`
/// names an entry in errors (`entries[3].body`). What customers read is the
/// body without its trailer block (`Closes-Action: ACT-9`), which stays in
/// the source for the team.
async fn render_bodies(
    md: &Markdown,
    entries: &mut [NewEntry],
    field: impl Fn(usize) -> String,
) -> Result<(), AppError> {
    let texts = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                format!("{}.body", field(i)),
                conventional::without_trailers(&e.body).into_owned(),
            )
        })
        .collect();
    for (e, r) in entries.iter_mut().zip(md.render_all(texts).await?) {
        e.body_html = r.html;
        e.body_text = r.text;
    }
    Ok(())
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
    let started_at = validate::timestamp("started_at", input.started_at.unwrap_or_else(Utc::now))?;
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
        (true, None) => Some(Utc::now().max(started_at)),
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
        (true, None) if current.deploy.finished_at.is_none() => Some(Utc::now()),
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

impl From<BuildCommit> for CommitInput {
    fn from(c: BuildCommit) -> Self {
        CommitInput {
            sha: c.sha,
            message: c.message,
            author: c.author,
            authored_at: c.authored_at,
        }
    }
}

/// Commits as the API takes them (a deploy's or a build's), checked: each
/// error names `commits[i].<field>`.
pub fn checked_commits(commits: Vec<CommitInput>) -> Result<Vec<NewCommit>, AppError> {
    commits
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let field = format!("commits[{i}]");
            let message = c.message.trim().to_string();
            if message.is_empty() {
                return Err(AppError::invalid(
                    format!("{field}.message"),
                    "the commit message is required",
                ));
            }
            Ok(NewCommit {
                sha: validate::commit_sha(&format!("{field}.sha"), &c.sha)?,
                message,
                author: c
                    .author
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty()),
                authored_at: c
                    .authored_at
                    .map(|t| validate::timestamp(&format!("{field}.authored_at"), t))
                    .transpose()?,
            })
        })
        .collect()
}

/// One entry, checked and with its body rendered, ready to store.
pub async fn checked_entry(md: &Markdown, input: EntryInput) -> Result<NewEntry, AppError> {
    let mut new = [entry("entry", input)?];
    render_bodies(md, &mut new, |_| "body".into()).await?;
    let [new] = new;
    Ok(new)
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

/// Renders Markdown the way entries are stored, for the editor's preview.
pub async fn preview(md: &Markdown, markdown_text: &str) -> Result<String, AppError> {
    let body = validate::body("body", markdown_text)?;
    Ok(md
        .render_one("body", &conventional::without_trailers(&body))
        .await?
        .html)
}
