//! Releases: product managers group shipped entries into announcements,
//! check readiness, schedule and publish them.

use super::{validate, Actor};
use crate::model::*;
use crate::server::db::{
    CandidateQuery, Db, DbError, NewRelease, ReleaseEdit, ReleaseQuery, ReleaseState,
};
use crate::server::error::AppError;
use crate::server::markdown::Markdown;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

pub const PAGE_SIZE: i64 = 10;

/// The answer to an edit that started from an older revision.
pub const CHANGED_MEANWHILE: &str = "Someone else changed this release since you opened it. Reload to see their changes, then apply yours again.";

/// A release's editable text, as the editor and the API send it.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseInput {
    pub title: String,
    /// Defaults to one made from the title.
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub version_name: Option<String>,
    /// Markdown.
    #[serde(default)]
    pub narrative: String,
    /// Who may read it: `everyone` (default), `admins` or `cohort:<slug>`.
    /// Readers also need to see at least one of its entries.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "everyone")]
    pub audience: Option<Audience>,
}

/// Whether `actor` may manage releases; checked before any input is read.
pub fn may_manage(actor: &Actor) -> Result<(), AppError> {
    actor.require(
        actor.role.can_manage_releases(),
        "create, edit or publish releases",
    )
}

/// `Winter update: faster search!` -> `winter-update-faster-search`.
pub fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(60).collect();
    slug.trim_end_matches('-').to_string()
}

async fn text_fields(md: &Markdown, input: &ReleaseInput) -> Result<ReleaseEdit, AppError> {
    let title = validate::title("title", &input.title)?;
    let slug = match input
        .slug
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) if is_slug(s) => s.to_string(),
        Some(_) => {
            return Err(AppError::invalid(
                "slug",
                "a slug is lowercase letters, digits and dashes (e.g. `winter-update`)",
            ))
        }
        None => {
            let s = slugify(&title);
            if s.is_empty() {
                return Err(AppError::invalid(
                    "slug",
                    "give the release a slug: its title has no letters to make one from",
                ));
            }
            s
        }
    };
    let version_name = input
        .version_name
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            if v.chars().count() > 60 {
                Err(AppError::invalid(
                    "version_name",
                    "the version name is too long (at most 60 characters)",
                ))
            } else {
                Ok(v.to_string())
            }
        })
        .transpose()?;
    let audience = input.audience.clone().unwrap_or(Audience::Everyone);
    if !audience.is_customer_visible() {
        return Err(AppError::invalid(
            "audience",
            "a release is for customers: choose everyone, admins or a cohort",
        ));
    }
    let narrative = validate::body("narrative", &input.narrative)?;
    let rendered = md.render_one("narrative", &narrative).await?;
    Ok(ReleaseEdit {
        slug,
        title,
        version_name,
        narrative_html: rendered.html,
        narrative_text: rendered.text,
        narrative,
        audience,
    })
}

pub async fn create(
    db: &Db,
    md: &Markdown,
    actor: &Actor,
    input: &ReleaseInput,
) -> Result<Release, AppError> {
    may_manage(actor)?;
    let f = text_fields(md, input).await?;
    let release = db
        .create_release(NewRelease {
            slug: f.slug,
            title: f.title,
            version_name: f.version_name,
            narrative: f.narrative,
            narrative_html: f.narrative_html,
            narrative_text: f.narrative_text,
            audience: f.audience,
            created_by: Some(actor.label.clone()),
        })
        .await?;
    tracing::info!(release = release.id, by = %actor.label, "release drafted");
    Ok(release)
}

/// A revision check failed: someone else changed the release meanwhile.
fn stale(e: DbError) -> AppError {
    match e {
        DbError::Stale => AppError::conflict(CHANGED_MEANWHILE),
        other => other.into(),
    }
}

fn not_found(slug: &str) -> AppError {
    AppError::not_found(format!("There is no release `{slug}`."))
}

/// A release by slug, with its linked entries and where each shipped: the
/// team's view, drafts included, for PMs and admins only.
pub async fn draft(db: &Db, actor: &Actor, slug: &str) -> Result<ReleaseDetail, AppError> {
    actor.require(
        actor.role.can_manage_releases(),
        "read unpublished releases",
    )?;
    get(db, slug).await
}

async fn get(db: &Db, slug: &str) -> Result<ReleaseDetail, AppError> {
    let id = db.release_id(slug).await?.ok_or_else(|| not_found(slug))?;
    db.release(id).await?.ok_or_else(|| not_found(slug))
}

pub async fn edit(
    db: &Db,
    md: &Markdown,
    actor: &Actor,
    slug: &str,
    revision: i64,
    input: &ReleaseInput,
) -> Result<Release, AppError> {
    may_manage(actor)?;
    let current = get(db, slug).await?;
    let f = text_fields(md, input).await?;
    db.edit_release(current.release.id, revision, f)
        .await
        .map_err(stale)
}

/// Every release, drafts included (PMs and admins).
pub async fn list(
    db: &Db,
    actor: &Actor,
    search: &str,
    page: i64,
) -> Result<Vec<Release>, AppError> {
    actor.require(
        actor.role.can_manage_releases(),
        "read unpublished releases",
    )?;
    Ok(db
        .list_releases(&ReleaseQuery {
            include_archived: true,
            search: search.to_string(),
            limit: 200,
            offset: (page.max(1) - 1) * 200,
        })
        .await?)
}

/// Links entries. A release that is published or scheduled is what customers
/// read (or soon will): linking to it names the revision it started from and
/// passes readiness again, as publishing did.
pub async fn link(
    db: &Db,
    actor: &Actor,
    slug: &str,
    entry_ids: &[i64],
    revision: Option<i64>,
    override_readiness: bool,
) -> Result<ReleaseDetail, AppError> {
    may_manage(actor)?;
    let current = get(db, slug).await?;
    if entry_ids.is_empty() {
        return Err(AppError::invalid("entries", "choose at least one entry"));
    }
    let announced = current.release.status != ReleaseStatus::Draft;
    if announced {
        let Some(revision) = revision else {
            return Err(AppError::invalid(
                "revision",
                "this release is published or scheduled: send the revision you started from",
            ));
        };
        if revision != current.release.revision {
            return Err(AppError::conflict(CHANGED_MEANWHILE));
        }
        let mut after = current.clone();
        for id in entry_ids {
            if after.entries.iter().any(|e| e.entry.id == *id) {
                continue;
            }
            let entry = db
                .linked_entry(*id)
                .await?
                .ok_or_else(|| AppError::conflict(format!("there is no entry {id}")))?;
            after.entries.push(entry);
        }
        check_ready(db, &after, override_readiness).await?;
    }
    db.link_entries(
        current.release.id,
        entry_ids,
        announced.then_some(current.release.revision),
    )
    .await
    .map_err(stale)?;
    get(db, &current.release.slug).await
}

pub async fn unlink(
    db: &Db,
    actor: &Actor,
    slug: &str,
    entry_id: i64,
) -> Result<ReleaseDetail, AppError> {
    may_manage(actor)?;
    let current = get(db, slug).await?;
    db.unlink_entry(current.release.id, entry_id)
        .await
        .map_err(|e| match e {
            DbError::NotFound => {
                AppError::not_found(format!("Entry {entry_id} is not in this release."))
            }
            other => other.into(),
        })?;
    get(db, slug).await
}

/// Refuses while a linked entry has not shipped, or caused an incident that
/// is not resolved yet, naming each and why.
async fn check_ready(
    db: &Db,
    detail: &ReleaseDetail,
    override_readiness: bool,
) -> Result<(), AppError> {
    if detail.entries.is_empty() {
        return Err(AppError::conflict(
            "This release has no entries yet; link the changes it announces first.",
        ));
    }
    if override_readiness {
        return Ok(());
    }
    let ids: Vec<i64> = detail.entries.iter().map(|e| e.entry.id).collect();
    let incidents = if ids.is_empty() {
        vec![]
    } else {
        db.unresolved_incidents_of(&ids).await?
    };
    if !incidents.is_empty() {
        let reasons: Vec<String> = incidents
            .iter()
            .map(|(entry, i)| {
                let title = detail
                    .entries
                    .iter()
                    .find(|e| e.entry.id == *entry)
                    .map(|e| e.entry.title.as_str())
                    .unwrap_or_default();
                format!(
                    "{} (“{}”, {}) was caused by “{title}”",
                    i.number, i.title, i.status
                )
            })
            .collect();
        return Err(AppError::conflict(format!(
            "Defects first: {}. Resolve it, remove the entry, or publish anyway.",
            reasons.join("; ")
        )));
    }
    let unshipped = detail.unshipped();
    if unshipped.is_empty() {
        return Ok(());
    }
    let reasons: Vec<String> = unshipped
        .iter()
        .map(|e| {
            format!(
                "“{}” ({})",
                e.entry.title,
                e.not_shipped_reason().unwrap_or_default()
            )
        })
        .collect();
    Err(AppError::conflict(format!(
        "Not every change has shipped to production: {}. Wait for them, remove them, or publish anyway.",
        reasons.join("; ")
    )))
}

/// Publishes a release now, or schedules it (`input.at`, in the future; the
/// scheduler publishes it then): the one way to publish, for the API, the
/// app and the incident flow. Whether it drafts its email announcement is
/// written with the new state, in one statement, so a refused publish
/// changes nothing.
pub async fn publish(
    db: &Db,
    actor: &Actor,
    slug: &str,
    input: PublishInput,
) -> Result<Release, AppError> {
    may_manage(actor)?;
    let detail = get(db, slug).await?;
    if detail.release.status == ReleaseStatus::Published {
        return Err(AppError::conflict("This release is already published."));
    }
    let now = db.now();
    let state = match input.at {
        None => ReleaseState {
            status: ReleaseStatus::Published,
            publish_at: Some(now),
            published_at: Some(now),
            archived: detail.release.archived,
            announce: input.announce,
        },
        Some(at) => {
            validate::timestamp("publish_at", at)?;
            if at <= now + TimeDelta::seconds(5) {
                return Err(AppError::invalid(
                    "publish_at",
                    "the publish time must be in the future",
                ));
            }
            ReleaseState {
                status: ReleaseStatus::Scheduled,
                publish_at: Some(at),
                published_at: None,
                archived: detail.release.archived,
                announce: input.announce,
            }
        }
    };
    check_ready(db, &detail, input.override_readiness).await?;
    let release = db
        .set_release_state(detail.release.id, input.revision, state)
        .await
        .map_err(stale)?;
    match input.at {
        None => {
            tracing::info!(release = release.id, by = %actor.label, override_readiness = input.override_readiness, "release published");
            super::campaigns::on_published(db, release.id, &actor.label).await?;
        }
        Some(at) => {
            tracing::info!(release = release.id, at = %at, by = %actor.label, "release scheduled")
        }
    }
    Ok(release)
}

/// The app's other publication changes: back to draft, archive, unarchive.
pub async fn change_publication(
    db: &Db,
    actor: &Actor,
    slug: &str,
    revision: i64,
    change: Publication,
) -> Result<Release, AppError> {
    match change {
        Publication::Unpublish => unpublish(db, actor, slug, revision).await,
        Publication::Archive => set_archived(db, actor, slug, revision, true).await,
        Publication::Unarchive => set_archived(db, actor, slug, revision, false).await,
    }
}

/// Back to draft (from scheduled or published).
pub async fn unpublish(
    db: &Db,
    actor: &Actor,
    slug: &str,
    revision: i64,
) -> Result<Release, AppError> {
    may_manage(actor)?;
    let detail = get(db, slug).await?;
    db.set_release_state(
        detail.release.id,
        revision,
        ReleaseState {
            status: ReleaseStatus::Draft,
            publish_at: None,
            published_at: None,
            archived: detail.release.archived,
            announce: None,
        },
    )
    .await
    .map_err(stale)
}

pub async fn set_archived(
    db: &Db,
    actor: &Actor,
    slug: &str,
    revision: i64,
    archived: bool,
) -> Result<Release, AppError> {
    may_manage(actor)?;
    let r = get(db, slug).await?.release;
    db.set_release_state(
        r.id,
        revision,
        ReleaseState {
            status: r.status,
            publish_at: r.publish_at,
            published_at: r.published_at,
            archived,
            announce: None,
        },
    )
    .await
    .map_err(stale)
}

/// Publishes what is due; safe to run on several instances at once.
pub async fn publish_due(db: &Db, now: DateTime<Utc>) -> Result<Vec<i64>, AppError> {
    let ids = db.publish_due(now).await?;
    for id in &ids {
        tracing::info!(release = id, "scheduled release published");
        super::campaigns::on_published(db, *id, "scheduler").await?;
    }
    Ok(ids)
}

/// One pass of the scheduler at `now`: publishes what is due and, when
/// something went out, calls `published` (which drops the cached pages).
pub async fn scheduler_tick(
    db: &Db,
    now: DateTime<Utc>,
    published: &(impl Fn() + Send + Sync),
) -> Result<usize, AppError> {
    let ids = publish_due(db, now).await?;
    if !ids.is_empty() {
        published();
    }
    Ok(ids.len())
}

/// Runs `scheduler_tick` every `every` until the process ends. Nothing is
/// kept in memory: a restart simply finds the same due releases in the
/// database.
pub fn spawn_scheduler(
    db: Db,
    every: std::time::Duration,
    published: impl Fn() + Send + Sync + 'static,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let t = crate::server::telemetry::global();
            t.scheduler_runs
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = scheduler_tick(&db, db.now(), &published).await {
                t.scheduler_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::error!(error = %e, "publishing scheduled releases failed");
            }
        }
    });
}

/// Entries a PM may link: customer-visible and in no release yet, filtered
/// as the picker asks.
pub async fn candidates(
    db: &Db,
    actor: &Actor,
    filter: &PickerFilter,
) -> Result<Vec<LinkedEntry>, AppError> {
    may_manage(actor)?;
    Ok(db.candidate_entries(&candidate_query(filter)?).await?)
}

/// The picker's filters as a query: blanks mean "any", dates are whole days
/// (UTC) with the last one included.
fn candidate_query(filter: &PickerFilter) -> Result<CandidateQuery, AppError> {
    let day = |field: &str, v: &str, end: bool| -> Result<Option<DateTime<Utc>>, AppError> {
        let Some(d) = validate::day(field, v)? else {
            return Ok(None);
        };
        // The end day is included: entries before the next midnight.
        let d = if end { d + TimeDelta::days(1) } else { d };
        Ok(Some(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()))
    };
    Ok(CandidateQuery {
        environment: Some(filter.environment.trim().to_string()).filter(|e| !e.is_empty()),
        kind: Some(filter.kind.trim())
            .filter(|k| !k.is_empty())
            .map(|k| validate::choice("kind", k))
            .transpose()?,
        component: Some(filter.component.trim().to_lowercase()).filter(|c| !c.is_empty()),
        from: day("from", &filter.from, false)?,
        to: day("to", &filter.to, true)?,
        text: filter.text.clone(),
        limit: 200,
    })
}

/// Shipped but not announced, with the share announced over the last 30 days.
pub struct Unannounced {
    pub entries: Vec<LinkedEntry>,
    pub announced_30d: i64,
    pub total_30d: i64,
}

pub async fn unannounced(db: &Db) -> Result<Unannounced, AppError> {
    let (announced, total) = db
        .announced_share(PRODUCTION, db.now() - TimeDelta::days(30))
        .await?;
    Ok(Unannounced {
        entries: db.unannounced(PRODUCTION).await?,
        announced_30d: announced,
        total_30d: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picker_filters_become_a_query() {
        let q = candidate_query(&PickerFilter {
            environment: " production ".into(),
            kind: "fix".into(),
            component: " Billing ".into(),
            from: "2026-11-01".into(),
            to: "2026-11-03".into(),
            text: "export".into(),
        })
        .unwrap();
        assert_eq!(q.environment.as_deref(), Some("production"));
        assert_eq!(q.kind, Some(EntryKind::Fix));
        assert_eq!(q.component.as_deref(), Some("billing"));
        assert_eq!(q.from.unwrap().to_rfc3339(), "2026-11-01T00:00:00+00:00");
        // The last day is included: up to the next midnight.
        assert_eq!(q.to.unwrap().to_rfc3339(), "2026-11-04T00:00:00+00:00");
        let blank = candidate_query(&PickerFilter::default()).unwrap();
        assert!(blank.environment.is_none() && blank.kind.is_none() && blank.from.is_none());
        let bad = candidate_query(&PickerFilter {
            to: "03/11/2026".into(),
            ..Default::default()
        });
        assert!(matches!(bad, Err(AppError::Invalid { field, .. }) if field == "to"));
    }

    #[test]
    fn slugs_from_titles() {
        assert_eq!(
            slugify("Winter update: faster search!"),
            "winter-update-faster-search"
        );
        assert_eq!(slugify("  ---  "), "");
    }
}
