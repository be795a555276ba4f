//! The deploy log: deploys, their entries and commits, and environments.
//!
//! An entry carries where and when it shipped (`shipped_environment`,
//! `shipped_at`), copied from its deploy while that deploy is `succeeded`
//! and cleared otherwise, so that what readers see is read from one indexed
//! table. [`mark_shipped`] keeps the copy true on every change of status.

use super::sql::{db_time, sql, Conn, Params, Tx};
use super::{Conflict, DbResult, SqlStore};
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
    pub build_id: Option<i64>,
    /// Create `environment` if it does not exist (the service allowed it).
    pub create_environment: bool,
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
    /// Every deploy ever recorded.
    async fn count_deploys(&self) -> DbResult<i64>;
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

/// Adds one entry after a deploy's others, inside `tx`.
pub(super) async fn add_entry_in(
    tx: &mut Tx,
    deploy_id: i64,
    entry: NewEntry,
    now: DateTime<Utc>,
) -> DbResult<ChangeEntry> {
    let position: i64 = sql("SELECT CAST(COALESCE(MAX(position) + 1, 0) AS BIGINT)
                             FROM entries WHERE deploy_id = :deploy_id")
    .set("deploy_id", deploy_id)
    .value(tx.conn())
    .await?;
    let mut added = insert_entries(tx, deploy_id, position, &[entry], now, None).await?;
    mark_shipped(tx.conn(), deploy_id).await?;
    added.pop().ok_or(super::DbError::NotFound)
}

/// A deploy as the timeline lists it.
pub(super) const DEPLOY: &str = "
    SELECT d.id, e.slug AS environment, d.version, d.commit_sha, d.status, d.started_at,
           d.finished_at, d.created_by, d.build_id,
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
                WHERE d.id = :deploy_id AND d.status = 'succeeded'),
            shipped_at = (
                SELECT COALESCE(d.finished_at, d.started_at) FROM deploys d
                WHERE d.id = :deploy_id AND d.status = 'succeeded')
         WHERE deploy_id = :deploy_id")
    .set("deploy_id", deploy_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where and when an entry shipped, when its deploy has succeeded.
type Shipped<'a> = Option<(&'a str, DateTime<Utc>)>;

/// The columns an entry's fields are written to, in the order of [`entry_fields`].
const ENTRY_FIELDS: [&str; 10] = [
    "title",
    "body",
    "body_html",
    "kind",
    "audience",
    "risk",
    "component",
    "breaking",
    "links",
    "body_text",
];

/// An entry's fields as parameters, in the order of [`ENTRY_FIELDS`].
fn entry_fields(params: &mut Params, e: &NewEntry) -> [String; 10] {
    [
        params.add(&e.title),
        params.add(&e.body),
        params.add(&e.body_html),
        params.add(e.kind.as_str()),
        params.add(e.audience.as_string()),
        params.add(e.risk.as_str()),
        params.add(&e.component),
        params.add(e.breaking),
        params.add_json(&e.links),
        params.add(&e.body_text),
    ]
}

/// Writes entries from `first_position` on, a hundred to a statement (one
/// round trip to the database each, not one per entry).
async fn insert_entries(
    tx: &mut Tx,
    deploy_id: i64,
    first_position: i64,
    entries: &[NewEntry],
    now: DateTime<Utc>,
    shipped: Shipped<'_>,
) -> DbResult<Vec<ChangeEntry>> {
    let mut written = Vec::with_capacity(entries.len());
    for (chunk_no, chunk) in entries.chunks(100).enumerate() {
        let mut params = Params::default();
        let deploy = params.add(deploy_id);
        let at = params.add(now);
        let environment = params.add(shipped.map(|(environment, _)| environment));
        let shipped_at = params.add(shipped.map(|(_, at)| at));
        let rows: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let fields = entry_fields(&mut params, e).join(", ");
                let position = params.add(first_position + (chunk_no * 100 + i) as i64);
                format!("({fields}, {deploy}, {position}, {at}, {at}, {environment}, {shipped_at})")
            })
            .collect();
        let mut ids: Vec<(i64, i64)> = sql(format!(
            "INSERT INTO entries ({}, deploy_id, position, created_at, updated_at,
                shipped_environment, shipped_at)
             VALUES {} RETURNING CAST(position AS BIGINT), id",
            ENTRY_FIELDS.join(", "),
            rows.join(", ")
        ))
        .params(params)
        .all(tx.conn())
        .await?;
        ids.sort_unstable();
        written.extend(chunk.iter().zip(ids).map(|(e, (_, id))| ChangeEntry {
            id,
            deploy_id,
            title: e.title.clone(),
            body: e.body.clone(),
            body_html: e.body_html.clone(),
            kind: e.kind,
            audience: e.audience.clone(),
            risk: e.risk,
            component: e.component.clone(),
            breaking: e.breaking,
            links: e.links.clone(),
            release_id: None,
            created_at: db_time(now),
            updated_at: db_time(now),
        }));
    }
    Ok(written)
}

async fn load_deploy(conn: Conn<'_>, id: i64) -> DbResult<Option<Deploy>> {
    sql(format!("{DEPLOY} WHERE d.id = :id"))
        .set("id", id)
        .optional(conn)
        .await
}

#[async_trait]
impl DeployStore for SqlStore {
    async fn create_deploy(&self, d: NewDeploy) -> DbResult<DeployDetail> {
        let now = self.now();
        let mut tx = self.begin().await?;
        if d.create_environment {
            sql(
                "INSERT INTO environments (slug, created_at, kind, schedule_days, schedule_time)
                 VALUES (:environment, :now, :kind, :schedule_days, :schedule_time)
                 ON CONFLICT (slug) DO NOTHING",
            )
            .set("environment", &d.environment)
            .set("now", now)
            .set(
                "kind",
                super::environments::kind_of(&d.environment).as_str(),
            )
            .set(
                "schedule_days",
                super::environments::default_days(&d.environment),
            )
            .set(
                "schedule_time",
                super::environments::default_time(&d.environment),
            )
            .execute(tx.conn())
            .await?;
        }
        let id: i64 = sql(
            "INSERT INTO deploys (environment_id, version, commit_sha, status, started_at,
                finished_at, created_by, created_at, build_id)
             VALUES ((SELECT id FROM environments WHERE slug = :environment), :version, :commit, :status, :started_at, :finished_at, :created_by, :now, :build_id)
             RETURNING id",
        )
        .set("environment", &d.environment)
        .set("version", &d.version)
        .set("commit", &d.commit)
        .set("status", d.status.as_str())
        .set("started_at", d.started_at)
        .set("finished_at", d.finished_at)
        .set("created_by", &d.created_by)
        .set("now", now)
        .set("build_id", d.build_id)
        .or_conflict(Conflict::VersionDeployed {
            version: d.version.clone(),
            environment: d.environment.clone(),
        })
        .value(tx.conn())
        .await?;
        // The same values `mark_shipped` copies, known here without a read.
        let shipped = (d.status == DeployStatus::Succeeded).then(|| {
            (
                d.environment.as_str(),
                d.finished_at.unwrap_or(d.started_at),
            )
        });
        let entries = insert_entries(&mut tx, id, 0, &d.entries, now, shipped).await?;
        for (chunk_no, chunk) in d.commits.chunks(100).enumerate() {
            let mut params = Params::default();
            let deploy = params.add(id);
            let rows: Vec<String> = chunk
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let position = params.add((chunk_no * 100 + i) as i64);
                    let (sha, message) = (params.add(&c.sha), params.add(&c.message));
                    let (author, at) = (params.add(&c.author), params.add(c.authored_at));
                    format!("({deploy}, {position}, {sha}, {message}, {author}, {at})")
                })
                .collect();
            sql(format!(
                "INSERT INTO commits (deploy_id, position, sha, message, author, authored_at)
                 VALUES {}",
                rows.join(", ")
            ))
            .params(params)
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
            build_id: d.build_id,
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
            "SELECT {ENTRY_COLUMNS} FROM entries n WHERE n.deploy_id = :id ORDER BY n.position, n.id"
        ))
        .set("id", id)
        .all(self.read())
        .await?;
        let commits = sql("SELECT sha, message, author, authored_at FROM commits
                           WHERE deploy_id = :id ORDER BY position")
        .set("id", id)
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
             WHERE (:environment IS NULL OR e.slug = :environment)
               AND (:before IS NULL OR (d.started_at, d.id) <
                    (SELECT b.started_at, b.id FROM deploys b WHERE b.id = :before))
             ORDER BY d.started_at DESC, d.id DESC LIMIT :limit"
        ))
        .set("environment", &q.environment)
        .set("before", q.before)
        .set("limit", q.limit)
        .all(self.read())
        .await
    }

    async fn count_deploys(&self) -> DbResult<i64> {
        sql("SELECT COUNT(*) FROM deploys").value(self.read()).await
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
            "UPDATE deploys SET status = :to, finished_at = COALESCE(:finished_at, finished_at)
                         WHERE id = :id AND status = :from",
        )
        .set("id", id)
        .set("from", from.as_str())
        .set("to", to.as_str())
        .set("finished_at", finished_at)
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
            "SELECT {ENTRY_COLUMNS} FROM entries n WHERE n.id = :id"
        ))
        .set("id", id)
        .optional(self.read())
        .await
    }

    async fn add_entry(&self, deploy_id: i64, entry: NewEntry) -> DbResult<ChangeEntry> {
        let mut tx = self.begin().await?;
        let added = add_entry_in(&mut tx, deploy_id, entry, self.now()).await?;
        tx.commit().await?;
        Ok(added)
    }

    async fn update_entry(&self, id: i64, e: NewEntry) -> DbResult<ChangeEntry> {
        let mut params = Params::default();
        let fields = entry_fields(&mut params, &e);
        let set: Vec<String> = ENTRY_FIELDS
            .iter()
            .zip(&fields)
            .map(|(column, p)| format!("{column} = {p}"))
            .collect();
        let (updated_at, id) = (params.add(self.now()), params.add(id));
        sql(format!(
            "UPDATE entries SET {}, updated_at = {updated_at} WHERE id = {id} {ENTRY_RETURNING}",
            set.join(", ")
        ))
        .params(params)
        .one(self.write())
        .await
    }

    async fn delete_entry(&self, id: i64) -> DbResult<()> {
        sql("DELETE FROM entries WHERE id = :id")
            .set("id", id)
            .change_one(self.write())
            .await
    }
}
