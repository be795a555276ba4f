//! Marketing releases: drafts, schedules, publishing, and the entries they group.
//!
//! Every change to a release moves its `revision` on; edits that name an older
//! revision are refused ([`DbError::Stale`]).

use super::deploys::ENTRY_COLUMNS;
use super::sql::{sql, Conn};
use super::{Conflict, DbError, DbResult, Kind, SqlStore, CUSTOMER_VISIBLE};
use crate::model::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub struct NewRelease {
    pub slug: String,
    pub title: String,
    pub version_name: Option<String>,
    pub narrative: String,
    pub narrative_html: String,
    pub narrative_text: String,
    pub audience: Audience,
    pub created_by: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ReleaseEdit {
    pub slug: String,
    pub title: String,
    pub version_name: Option<String>,
    pub narrative: String,
    pub narrative_html: String,
    pub narrative_text: String,
    pub audience: Audience,
}

#[derive(Clone, Debug)]
pub struct ReleaseState {
    pub status: ReleaseStatus,
    pub publish_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub archived: bool,
    /// Whether publishing drafts its email announcement; `None` leaves it.
    pub announce: Option<bool>,
}

#[derive(Clone, Debug, Default)]
pub struct ReleaseQuery {
    pub include_archived: bool,
    pub search: String,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Clone, Debug, Default)]
pub struct CandidateQuery {
    pub environment: Option<String>,
    pub kind: Option<EntryKind>,
    pub component: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub text: String,
    pub limit: i64,
}

#[async_trait]
pub trait ReleaseStore: Send + Sync {
    async fn create_release(&self, release: NewRelease) -> DbResult<Release>;
    /// Edits text fields if the release is still at `revision`.
    async fn edit_release(&self, id: i64, revision: i64, edit: ReleaseEdit) -> DbResult<Release>;
    /// Changes status, schedule and archive flag if still at `revision`.
    async fn set_release_state(
        &self,
        id: i64,
        revision: i64,
        state: ReleaseState,
    ) -> DbResult<Release>;
    async fn release(&self, id: i64) -> DbResult<Option<ReleaseDetail>>;
    async fn release_id(&self, slug: &str) -> DbResult<Option<i64>>;
    /// Whether publishing the release drafts its email announcement.
    async fn release_announces(&self, id: i64) -> DbResult<bool>;
    /// Every release (drafts and scheduled first), for the team.
    async fn list_releases(&self, query: &ReleaseQuery) -> DbResult<Vec<Release>>;
    /// Links entries in one transaction; an entry of another release refuses them all,
    /// and so does a release no longer at `revision` when one is given.
    async fn link_entries(
        &self,
        release_id: i64,
        entry_ids: &[i64],
        revision: Option<i64>,
    ) -> DbResult<()>;
    /// One entry with the deploy it shipped in.
    async fn linked_entry(&self, id: i64) -> DbResult<Option<LinkedEntry>>;
    async fn unlink_entry(&self, release_id: i64, entry_id: i64) -> DbResult<()>;
    /// Publishes every scheduled release whose time has come, once; their ids.
    async fn publish_due(&self, now: DateTime<Utc>) -> DbResult<Vec<i64>>;
    /// Customer-visible entries in no release yet, newest first.
    async fn candidate_entries(&self, query: &CandidateQuery) -> DbResult<Vec<LinkedEntry>>;
    /// Customer-visible entries shipped to `environment` and in no published or
    /// scheduled release, oldest first.
    async fn unannounced(&self, environment: &str) -> DbResult<Vec<LinkedEntry>>;
    /// (announced, all) customer-visible entries shipped to `environment` since `since`.
    async fn announced_share(
        &self,
        environment: &str,
        since: DateTime<Utc>,
    ) -> DbResult<(i64, i64)>;
}

/// The columns of [`Release`], from `releases r`.
pub(super) const RELEASE_COLUMNS: &str = "
    r.id, r.slug, r.title, r.version_name, r.narrative, r.narrative_html, r.audience, r.status,
    r.publish_at, r.published_at, r.archived, r.revision, r.created_by, r.created_at, r.updated_at,
    (SELECT COUNT(*) FROM entries x WHERE x.release_id = r.id) AS entry_count";

/// Releases with their entry counts, narrowed down by `rest` (`WHERE …`).
fn releases_where(rest: &str) -> String {
    format!("SELECT {RELEASE_COLUMNS} FROM releases r {rest}")
}

/// An entry with the deploy it went out in (`entries n`, `deploys d`, `environments e`).
pub(super) fn linked(filter_and_order: &str) -> String {
    format!(
        "SELECT {ENTRY_COLUMNS}, d.version, e.slug AS environment, d.status AS deploy_status,
                d.started_at AS deployed_at
         FROM entries n
         JOIN deploys d ON d.id = n.deploy_id
         JOIN environments e ON e.id = d.environment_id
         {filter_and_order}"
    )
}

/// `%text%` in lower case for LIKE, or `''` for no filter.
fn like_pattern(text: &str) -> String {
    let t = text.trim().to_lowercase();
    if t.is_empty() {
        return String::new();
    }
    let escaped: String = t.chars().filter(|c| *c != '%' && *c != '_').collect();
    format!("%{escaped}%")
}

/// After a compare-and-set on `revision` (`changed` rows): the release as it
/// is now, or why nothing changed.
async fn revised(conn: Conn<'_>, id: i64, changed: u64) -> DbResult<Release> {
    let release: Option<Release> = sql(releases_where("WHERE r.id = :id"))
        .set("id", id)
        .optional(conn)
        .await?;
    match (changed, release) {
        (_, None) => Err(DbError::NotFound),
        (0, Some(_)) => Err(DbError::Stale),
        (_, Some(release)) => Ok(release),
    }
}

fn slug_taken(slug: &str) -> Conflict {
    Conflict::Taken {
        what: Kind::Release,
        key: slug.to_string(),
    }
}

#[async_trait]
impl ReleaseStore for SqlStore {
    async fn create_release(&self, r: NewRelease) -> DbResult<Release> {
        let id: i64 = sql(
            "INSERT INTO releases (slug, title, version_name, narrative, narrative_html, status,
                created_by, created_at, updated_at, narrative_text, audience)
             VALUES (:slug, :title, :version_name, :narrative, :narrative_html, 'draft', :created_by, :now, :now, :narrative_text, :audience) RETURNING id",
        )
        .set("slug", &r.slug)
        .set("title", &r.title)
        .set("version_name", &r.version_name)
        .set("narrative", &r.narrative)
        .set("narrative_html", &r.narrative_html)
        .set("created_by", &r.created_by)
        .set("now", self.now())
        .set("narrative_text", &r.narrative_text)
        .set("audience", r.audience.as_string())
        .or_conflict(slug_taken(&r.slug))
        .value(self.write())
        .await?;
        revised(self.write(), id, 1).await
    }

    async fn edit_release(&self, id: i64, revision: i64, r: ReleaseEdit) -> DbResult<Release> {
        let changed = sql(
            "UPDATE releases SET slug = :slug, title = :title, version_name = :version_name, narrative = :narrative,
                narrative_html = :narrative_html, revision = revision + 1, updated_at = :now,
                narrative_text = :narrative_text, audience = :audience
             WHERE id = :id AND revision = :revision",
        )
        .set("id", id)
        .set("revision", revision)
        .set("slug", &r.slug)
        .set("title", &r.title)
        .set("version_name", &r.version_name)
        .set("narrative", &r.narrative)
        .set("narrative_html", &r.narrative_html)
        .set("now", self.now())
        .set("narrative_text", &r.narrative_text)
        .set("audience", r.audience.as_string())
        .or_conflict(slug_taken(&r.slug))
        .execute(self.write())
        .await?;
        revised(self.write(), id, changed).await
    }

    async fn set_release_state(
        &self,
        id: i64,
        revision: i64,
        s: ReleaseState,
    ) -> DbResult<Release> {
        let changed = sql(
            "UPDATE releases SET status = :status, publish_at = :publish_at,
                published_at = :published_at, archived = :archived,
                announce = COALESCE(:announce, announce), revision = revision + 1, updated_at = :now
             WHERE id = :id AND revision = :revision",
        )
        .set("id", id)
        .set("revision", revision)
        .set("status", s.status.as_str())
        .set("publish_at", s.publish_at)
        .set("published_at", s.published_at)
        .set("archived", s.archived)
        .set("announce", s.announce)
        .set("now", self.now())
        .execute(self.write())
        .await?;
        revised(self.write(), id, changed).await
    }

    async fn release(&self, id: i64) -> DbResult<Option<ReleaseDetail>> {
        let release = sql(releases_where("WHERE r.id = :id"))
            .set("id", id)
            .optional(self.read())
            .await?;
        let Some(release) = release else {
            return Ok(None);
        };
        let entries = sql(linked(
            "WHERE n.release_id = :id ORDER BY d.started_at, n.position, n.id",
        ))
        .set("id", id)
        .all(self.read())
        .await?;
        Ok(Some(ReleaseDetail { release, entries }))
    }

    async fn release_announces(&self, id: i64) -> DbResult<bool> {
        sql("SELECT announce FROM releases WHERE id = :id")
            .set("id", id)
            .value(self.write())
            .await
    }

    async fn release_id(&self, slug: &str) -> DbResult<Option<i64>> {
        sql("SELECT id FROM releases WHERE slug = :slug")
            .set("slug", slug)
            .scalar(self.read())
            .await
    }

    async fn list_releases(&self, q: &ReleaseQuery) -> DbResult<Vec<Release>> {
        sql(releases_where(
            "WHERE (:include_archived = TRUE OR r.archived = FALSE)
               AND (:search = '' OR LOWER(r.title) LIKE :search OR LOWER(r.narrative) LIKE :search
                    OR LOWER(COALESCE(r.version_name, '')) LIKE :search)
             ORDER BY (r.status = 'published'),
                      COALESCE(r.published_at, r.publish_at, r.updated_at) DESC, r.id DESC
             LIMIT :limit OFFSET :offset",
        ))
        .set("include_archived", q.include_archived)
        .set("search", like_pattern(&q.search))
        .set("limit", q.limit)
        .set("offset", q.offset)
        .all(self.read())
        .await
    }

    async fn link_entries(
        &self,
        release_id: i64,
        entry_ids: &[i64],
        revision: Option<i64>,
    ) -> DbResult<()> {
        let mut tx = self.begin().await?;
        let moved = sql(
            "UPDATE releases SET revision = revision + 1, updated_at = :now
                         WHERE id = :release_id AND (:revision IS NULL OR revision = :revision)",
        )
        .set("release_id", release_id)
        .set("now", self.now())
        .set("revision", revision)
        .execute(tx.conn())
        .await?;
        if moved == 0 {
            return Err(DbError::Stale);
        }
        for id in entry_ids {
            let linked = sql("UPDATE entries SET release_id = :release_id
                              WHERE id = :id AND (release_id IS NULL OR release_id = :release_id)")
            .set("release_id", release_id)
            .set("id", *id)
            .execute(tx.conn())
            .await?;
            if linked == 0 {
                let exists: Option<i64> = sql("SELECT id FROM entries WHERE id = :id")
                    .set("id", *id)
                    .scalar(tx.conn())
                    .await?;
                return Err(DbError::Conflict(match exists {
                    Some(_) => Conflict::EntryInAnotherRelease { entry: *id },
                    None => Conflict::Missing {
                        what: Kind::Entry,
                        key: id.to_string(),
                    },
                }));
            }
        }
        tx.commit().await
    }

    async fn linked_entry(&self, id: i64) -> DbResult<Option<LinkedEntry>> {
        sql(linked("WHERE n.id = :id"))
            .set("id", id)
            .optional(self.read())
            .await
    }

    async fn unlink_entry(&self, release_id: i64, entry_id: i64) -> DbResult<()> {
        let mut tx = self.begin().await?;
        sql("UPDATE entries SET release_id = NULL WHERE id = :entry_id AND release_id = :release_id")
            .set("release_id", release_id)
            .set("entry_id", entry_id)
            .change_one(tx.conn())
            .await?;
        sql(
            "UPDATE releases SET revision = revision + 1, updated_at = :now WHERE id = :release_id",
        )
        .set("release_id", release_id)
        .set("now", self.now())
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    async fn publish_due(&self, now: DateTime<Utc>) -> DbResult<Vec<i64>> {
        sql(format!(
            "UPDATE releases SET status = 'published', published_at = publish_at,
                revision = revision + 1, updated_at = :now
             WHERE status = 'scheduled' AND {}
             RETURNING id",
            self.dialect().time_at_or_before("publish_at", ":now")
        ))
        .set("now", now)
        .column(self.write())
        .await
    }

    async fn candidate_entries(&self, q: &CandidateQuery) -> DbResult<Vec<LinkedEntry>> {
        sql(linked(&format!(
            "WHERE n.release_id IS NULL AND {CUSTOMER_VISIBLE}
               AND (:environment IS NULL OR e.slug = :environment) AND (:kind IS NULL OR n.kind = :kind)
               AND (:component IS NULL OR n.component = :component) AND (:from IS NULL OR d.started_at >= :from)
               AND (:to IS NULL OR d.started_at < :to)
               AND (:text = '' OR LOWER(n.title) LIKE :text OR LOWER(n.body) LIKE :text)
             ORDER BY d.started_at DESC, n.position, n.id LIMIT :limit"
        )))
        .set("environment", &q.environment)
        .set("kind", q.kind.map(|k| k.as_str()))
        .set("component", &q.component)
        .set("from", q.from)
        .set("to", q.to)
        .set("text", like_pattern(&q.text))
        .set("limit", q.limit)
        .all(self.read())
        .await
    }

    async fn unannounced(&self, environment: &str) -> DbResult<Vec<LinkedEntry>> {
        sql(linked(&format!(
            "LEFT JOIN releases r ON r.id = n.release_id
             WHERE n.shipped_environment = :environment AND {CUSTOMER_VISIBLE}
               AND (r.id IS NULL OR r.status = 'draft')
             ORDER BY d.started_at, n.position, n.id"
        )))
        .set("environment", environment)
        .all(self.read())
        .await
    }

    async fn announced_share(
        &self,
        environment: &str,
        since: DateTime<Utc>,
    ) -> DbResult<(i64, i64)> {
        sql(format!(
            "SELECT CAST(COALESCE(SUM(CASE WHEN r.status IN ('published', 'scheduled')
                                           THEN 1 ELSE 0 END), 0) AS BIGINT),
                    COUNT(*)
             FROM entries n
             JOIN deploys d ON d.id = n.deploy_id
             LEFT JOIN releases r ON r.id = n.release_id
             WHERE n.shipped_environment = :environment AND {CUSTOMER_VISIBLE} AND d.started_at >= :since"
        ))
        .set("environment", environment)
        .set("since", since)
        .one(self.read())
        .await
    }
}
