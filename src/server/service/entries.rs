//! A change entry and a commit as the API and the forms give them, checked
//! and rendered, ready to store: shared by deploys, builds and the defects
//! an incident files.

use super::{conventional, validate};
use crate::model::*;
use crate::server::db::{NewCommit, NewEntry};
use crate::server::error::AppError;
use crate::server::markdown::Markdown;
use chrono::{DateTime, Utc};
use serde::Deserialize;

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

pub(super) fn entry(field: &str, e: EntryInput) -> Result<NewEntry, AppError> {
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

pub(super) fn drafted_entries(commits: &[NewCommit]) -> Vec<NewEntry> {
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
pub(super) async fn render_bodies(
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

/// Renders Markdown the way entries are stored, for the editor's preview.
pub async fn preview(md: &Markdown, markdown_text: &str) -> Result<String, AppError> {
    let body = validate::body("body", markdown_text)?;
    Ok(md
        .render_one("body", &conventional::without_trailers(&body))
        .await?
        .html)
}
