//! The deploy log: deploys, their entries and commits, and environments.
//!
//! An entry carries where and when it shipped (`shipped_environment`,
//! `shipped_at`), copied from its deploy while that deploy is `succeeded`
//! and cleared otherwise, so that what readers see is read from one indexed
//! table. [`mark_shipped`] keeps the copy true on every change of status.

use super::sql::{db_time, sql, Conn, Sql};
use super::{DbResult, SqlStore};
use crate::model::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A validated entry, Markdown already rendered.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub title: String,
    pub body: String,
    pub body_html: String,
    /// The rendered text as readers see it (what search matches).
    pub body_text: String,
    pub kind: EntryKind,
    pub audience: Audience,
    pub risk: Risk,
    pub component: Option<String>,
    pub breaking: bool,
    pub links: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct NewCommit {
    pub sha: String,
    pub message: String,
    pub author: Option<String>,
    pub authored_at: Option<DateTime<Utc>>,
}

/// A validated deploy with its entries and commits, written in one transaction.
#[derive(Clone, Debug)]
pub struct NewDeploy {
    pub environment: String,
    pub version: String,
    pub commit: Option<String>,
    pub status: DeployStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    pub entries: Vec<NewEntry>,
    pub commits: Vec<NewCommit>,
}

/// One page of the timeline: newest first, strictly older than `before` (a deploy id).
#[derive(Clone, Debug, Default)]
pub struct DeployQuery {
    pub environment: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait DeployStore: Send + Sync {
    async fn create_deploy(&self, deploy: NewDeploy) -> DbResult<DeployDetail>;
    async fn deploy(&self, id: i64) -> DbResult<Option<DeployDetail>>;
    async fn list_deploys(&self, query: &DeployQuery) -> DbResult<Vec<Deploy>>;
    async fn list_environments(&self) -> DbResult<Vec<String>>;
    /// Moves the status on only if it is still `from` (so two writers cannot both win).
    async fn set_deploy_status(
        &self,
        id: i64,
        from: DeployStatus,
        to: DeployStatus,
        finished_at: Option<DateTime<Utc>>,
    ) -> DbResult<bool>;

    async fn entry(&self, id: i64) -> DbResult<Option<ChangeEntry>>;
    async fn add_entry(&self, deploy_id: i64, entry: NewEntry) -> DbResult<ChangeEntry>;
    async fn update_entry(&self, id: i64, entry: NewEntry) -> DbResult<ChangeEntry>;
    async fn delete_entry(&self, id: i64) -> DbResult<()>;
}

/// A deploy as the timeline lists it.
pub(super) const DEPLOY: &str = "
    SELECT d.id, e.slug AS environment, d.version, d.commit_sha, d.status, d.started_at,
           d.finished_at, d.created_by,
           (SELECT COUNT(*) FROM entries x WHERE x.deploy_id = d.id) AS entry_count
    FROM deploys d
    JOIN environments e ON e.id = d.environment_id";

/// The columns of [`ChangeEntry`], from `entries n`.
pub(super) const ENTRY_COLUMNS: &str = "n.id, n.deploy_id, n.title, n.body, n.body_html, n.kind,
    n.audience, n.risk, n.component, n.breaking, n.links, n.release_id, n.created_at, n.updated_at";

const ENTRY_RETURNING: &str = "RETURNING id, deploy_id, title, body, body_html, kind, audience,
    risk, component, breaking, links, release_id, created_at, updated_at";

/// Copies the deploy's environment and finish time onto its entries while it
/// is `succeeded`; clears them otherwise.
async fn mark_shipped(conn: Conn<'_>, deploy_id: i64) -> DbResult<()> {
    sql("UPDATE entries SET
            shipped_environment = (
                SELECT e.slug FROM deploys d JOIN environments e ON e.id = d.environment_id
                WHERE d.id = $1 AND d.status = 'succeeded'),
            shipped_at = (
                SELECT COALESCE(d.finished_at, d.started_at) FROM deploys d
                WHERE d.id = $1 AND d.status = 'succeeded')
         WHERE deploy_id = $1")
    .bind(deploy_id)
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_entry(
    conn: Conn<'_>,
    deploy_id: i64,
    position: i64,
    e: &NewEntry,
    now: DateTime<Utc>,
) -> DbResult<ChangeEntry> {
    let insert = sql(format!(
        "INSERT INTO entries (title, body, body_html, kind, audience, risk, component, breaking,
            links, body_text, deploy_id, position, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
         {ENTRY_RETURNING}"
    ));
    bind_fields(insert, e)
        .bind(deploy_id)
        .bind(position)
        .bind(now)
        .one(conn)
        .await
}

/// Binds an entry's fields as `$1` to `$10`, in the order of `NewEntry`.
fn bind_fields(query: Sql, e: &NewEntry) -> Sql {
    query
        .bind(&e.title)
        .bind(&e.body)
        .bind(&e.body_html)
        .bind(e.kind.as_str())
        .bind(e.audience.as_string())
        .bind(e.risk.as_str())
        .bind(&e.component)
        .bind(e.breaking)
        .bind_json(&e.links)
        .bind(&e.body_text)
}

async fn load_deploy(conn: Conn<'_>, id: i64) -> DbResult<Option<Deploy>> {
    sql(format!("{DEPLOY} WHERE d.id = $1"))
        .bind(id)
        .optional(conn)
        .await
}

#[async_trait]
impl DeployStore for SqlStore {
    async fn create_deploy(&self, d: NewDeploy) -> DbResult<DeployDetail> {
        let now = Utc::now();
        let mut tx = self.begin().await?;
        sql("INSERT INTO environments (slug, created_at) VALUES ($1, $2)
             ON CONFLICT (slug) DO NOTHING")
        .bind(&d.environment)
        .bind(now)
        .execute(tx.conn())
        .await?;
        let id: i64 = sql(
            "INSERT INTO deploys (environment_id, version, commit_sha, status, started_at,
                finished_at, created_by, created_at)
             VALUES ((SELECT id FROM environments WHERE slug = $1), $2, $3, $4, $5, $6, $7, $8)
             RETURNING id",
        )
        .bind(&d.environment)
        .bind(&d.version)
        .bind(&d.commit)
        .bind(d.status.as_str())
        .bind(d.started_at)
        .bind(d.finished_at)
        .bind(&d.created_by)
        .bind(now)
        .or_conflict(format!(
            "version `{}` has already been deployed to `{}`",
            d.version, d.environment
        ))
        .value(tx.conn())
        .await?;
        let mut entries = Vec::with_capacity(d.entries.len());
        for (position, entry) in d.entries.iter().enumerate() {
            entries.push(insert_entry(tx.conn(), id, position as i64, entry, now).await?);
        }
        if d.status == DeployStatus::Succeeded && !entries.is_empty() {
            mark_shipped(tx.conn(), id).await?;
        }
        for (position, c) in d.commits.iter().enumerate() {
            sql(
                "INSERT INTO commits (deploy_id, position, sha, message, author, authored_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(position as i64)
            .bind(&c.sha)
            .bind(&c.message)
            .bind(&c.author)
            .bind(c.authored_at)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await?;
        // Everything stored is known here: answering from it keeps reads out
        // of the single writer's critical section.
        let deploy = Deploy {
            id,
            environment: d.environment,
            version: d.version,
            commit: d.commit,
            status: d.status,
            started_at: db_time(d.started_at),
            finished_at: d.finished_at.map(db_time),
            entry_count: entries.len() as i64,
            created_by: d.created_by,
        };
        let commits = d
            .commits
            .into_iter()
            .map(|c| Commit {
                sha: c.sha,
                message: c.message,
                author: c.author,
                authored_at: c.authored_at.map(db_time),
            })
            .collect();
        Ok(DeployDetail {
            deploy,
            entries,
            commits,
        })
    }

    async fn deploy(&self, id: i64) -> DbResult<Option<DeployDetail>> {
        let Some(deploy) = load_deploy(self.read(), id).await? else {
            return Ok(None);
        };
        let entries = sql(format!(
            "SELECT {ENTRY_COLUMNS} FROM entries n WHERE n.deploy_id = $1 ORDER BY n.position, n.id"
        ))
        .bind(id)
        .all(self.read())
        .await?;
        let commits = sql("SELECT sha, message, author, authored_at FROM commits
                           WHERE deploy_id = $1 ORDER BY position")
        .bind(id)
        .all(self.read())
        .await?;
        Ok(Some(DeployDetail {
            deploy,
            entries,
            commits,
        }))
    }

    async fn list_deploys(&self, q: &DeployQuery) -> DbResult<Vec<Deploy>> {
        sql(format!(
            "{DEPLOY}
             WHERE ($1 IS NULL OR e.slug = $1)
               AND ($2 IS NULL OR (d.started_at, d.id) <
                    (SELECT b.started_at, b.id FROM deploys b WHERE b.id = $2))
             ORDER BY d.started_at DESC, d.id DESC LIMIT $3"
        ))
        .bind(&q.environment)
        .bind(q.before)
        .bind(q.limit)
        .all(self.read())
        .await
    }

    async fn list_environments(&self) -> DbResult<Vec<String>> {
        sql("SELECT slug FROM environments ORDER BY slug")
            .column(self.read())
            .await
    }

    async fn set_deploy_status(
        &self,
        id: i64,
        from: DeployStatus,
        to: DeployStatus,
        finished_at: Option<DateTime<Utc>>,
    ) -> DbResult<bool> {
        let mut tx = self.begin().await?;
        let moved = sql(
            "UPDATE deploys SET status = $3, finished_at = COALESCE($4, finished_at)
                         WHERE id = $1 AND status = $2",
        )
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(finished_at)
        .execute(tx.conn())
        .await?;
        if moved == 1 {
            mark_shipped(tx.conn(), id).await?;
        }
        tx.commit().await?;
        Ok(moved == 1)
    }

    async fn entry(&self, id: i64) -> DbResult<Option<ChangeEntry>> {
        sql(format!(
            "SELECT {ENTRY_COLUMNS} FROM entries n WHERE n.id = $1"
        ))
        .bind(id)
        .optional(self.read())
        .await
    }

    async fn add_entry(&self, deploy_id: i64, entry: NewEntry) -> DbResult<ChangeEntry> {
        let mut tx = self.begin().await?;
        let position: i64 = sql("SELECT CAST(COALESCE(MAX(position) + 1, 0) AS BIGINT)
                                 FROM entries WHERE deploy_id = $1")
        .bind(deploy_id)
        .value(tx.conn())
        .await?;
        let added = insert_entry(tx.conn(), deploy_id, position, &entry, Utc::now()).await?;
        mark_shipped(tx.conn(), deploy_id).await?;
        tx.commit().await?;
        Ok(added)
    }

    async fn update_entry(&self, id: i64, e: NewEntry) -> DbResult<ChangeEntry> {
        let update = sql(format!(
            "UPDATE entries SET title = $1, body = $2, body_html = $3, kind = $4, audience = $5,
                risk = $6, component = $7, breaking = $8, links = $9, body_text = $10,
                updated_at = $11
             WHERE id = $12 {ENTRY_RETURNING}"
        ));
        bind_fields(update, &e)
            .bind(Utc::now())
            .bind(id)
            .one(self.write())
            .await
    }

    async fn delete_entry(&self, id: i64) -> DbResult<()> {
        sql("DELETE FROM entries WHERE id = $1")
            .bind(id)
            .change_one(self.write())
            .await
    }
}
