//! Builds and blocks: what the gate reads.

use super::sql::{sql, Params};
use super::{Conflict, DbError, DbResult, SqlStore};
use crate::model::{Block, BlockInput, Build, BuildCommit, BuildStatus, TestCounts};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub struct NewBuild {
    pub version: String,
    pub commit: String,
    pub branch: String,
    pub status: BuildStatus,
    pub url: Option<String>,
    pub commits: Vec<BuildCommit>,
    pub tests: Option<TestCounts>,
    pub created_by: String,
}

/// A build's fields after an edit.
#[derive(Clone, Debug)]
pub struct BuildEdit {
    pub status: BuildStatus,
    pub url: Option<String>,
    pub tests: Option<TestCounts>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A block to store: what was asked, checked by the service.
#[derive(Clone, Debug)]
pub struct NewBlock {
    /// Its environment exists; `expires_at` here is what was asked for.
    pub input: BlockInput,
    pub placed_by: String,
    /// When it stops holding (asked for, or the default).
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default)]
pub struct BlockQuery {
    pub environment: Option<String>,
    /// Narrows to blocks that may hold at this time (neither lifted nor run
    /// out), using the index; whether one holds is `Block::holds_at`'s to say.
    pub holding_at: Option<DateTime<Utc>>,
    /// Only blocks placed in `[from, until)`.
    pub placed_in: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub limit: i64,
}

#[async_trait]
pub trait GateStore: Send + Sync {
    async fn create_build(&self, new: NewBuild) -> DbResult<Build>;
    async fn build(&self, id: i64) -> DbResult<Option<Build>>;
    /// Newest first, optionally only of one status.
    async fn list_builds(&self, status: Option<BuildStatus>, limit: i64) -> DbResult<Vec<Build>>;
    /// Stores the edit unless the build changed since `updated_at`.
    async fn update_build(
        &self,
        id: i64,
        updated_at: DateTime<Utc>,
        edit: &BuildEdit,
    ) -> DbResult<Build>;
    /// Which of `among` are already deployed (successfully or in progress)
    /// to an environment.
    async fn deployed_builds(&self, environment: &str, among: &[i64]) -> DbResult<Vec<i64>>;
    /// The environment must exist.
    async fn place_block(&self, new: NewBlock) -> DbResult<Block>;
    async fn block(&self, id: i64) -> DbResult<Option<Block>>;
    /// Newest first.
    async fn list_blocks(&self, q: &BlockQuery) -> DbResult<Vec<Block>>;
    /// Lifts a block that still holds; one lifted or expired is a conflict.
    async fn lift_block(&self, id: i64, by: &str, note: &str, at: DateTime<Utc>)
        -> DbResult<Block>;
}

#[derive(sqlx::FromRow)]
struct BuildRow {
    id: i64,
    version: String,
    commit_sha: String,
    branch: String,
    #[sqlx(try_from = "String")]
    status: BuildStatus,
    url: Option<String>,
    #[sqlx(json)]
    commits: Vec<BuildCommit>,
    tests_passed: Option<i64>,
    tests_failed: Option<i64>,
    tests_skipped: Option<i64>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl From<BuildRow> for Build {
    fn from(r: BuildRow) -> Build {
        let tests = match (r.tests_passed, r.tests_failed, r.tests_skipped) {
            (None, None, None) => None,
            (p, f, s) => Some(TestCounts {
                passed: p.unwrap_or(0),
                failed: f.unwrap_or(0),
                skipped: s.unwrap_or(0),
            }),
        };
        Build {
            id: r.id,
            version: r.version,
            commit: r.commit_sha,
            branch: r.branch,
            status: r.status,
            url: r.url,
            commits: r.commits,
            tests,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            finished_at: r.finished_at,
        }
    }
}

pub(super) const BUILD: &str =
    "SELECT id, version, commit_sha, branch, status, url, commits, tests_passed,
    tests_failed, tests_skipped, created_by, created_at, updated_at, finished_at FROM builds";

pub(super) const BLOCK: &str = "SELECT b.id, e.slug AS environment, b.reason, b.entry_id,
    n.title AS entry_title, b.component, b.placed_by, b.placed_at, b.expires_at, b.lifted_by,
    b.lifted_at, b.lift_note
    FROM blocks b JOIN environments e ON e.id = b.environment_id
    LEFT JOIN entries n ON n.id = b.entry_id";

impl SqlStore {
    async fn build_in(&self, id: i64, conn: super::sql::Conn<'_>) -> DbResult<Option<Build>> {
        Ok(sql(format!("{BUILD} WHERE id = :id"))
            .set("id", id)
            .optional::<BuildRow>(conn)
            .await?
            .map(Build::from))
    }

    async fn block_in(&self, id: i64, conn: super::sql::Conn<'_>) -> DbResult<Option<Block>> {
        Ok(sql(format!("{BLOCK} WHERE b.id = :id"))
            .set("id", id)
            .optional::<Block>(conn)
            .await?
            .map(|b| b.at(self.now())))
    }
}

#[async_trait]
impl GateStore for SqlStore {
    async fn create_build(&self, new: NewBuild) -> DbResult<Build> {
        let now = self.now();
        let finished = (new.status != BuildStatus::Running).then_some(now);
        let mut tx = self.begin().await?;
        let mut params = Params::default();
        let values = [
            params.add(&new.version),
            params.add(&new.commit),
            params.add(&new.branch),
            params.add(new.status.as_str()),
            params.add(&new.url),
            params.add_json(&new.commits),
            params.add(new.tests.map(|t| t.passed)),
            params.add(new.tests.map(|t| t.failed)),
            params.add(new.tests.map(|t| t.skipped)),
            params.add(&new.created_by),
            params.add(now),
            params.add(finished),
        ];
        let [version, commit, branch, status, url, commits, passed, failed, skipped, by, at, done] =
            values;
        let id: i64 = sql(format!(
            "INSERT INTO builds (version, commit_sha, branch, status, url, commits, tests_passed,
                 tests_failed, tests_skipped, created_by, created_at, updated_at, finished_at)
             VALUES ({version}, {commit}, {branch}, {status}, {url}, {commits}, {passed},
                 {failed}, {skipped}, {by}, {at}, {at}, {done}) RETURNING id"
        ))
        .params(params)
        .value(tx.conn())
        .await?;
        let build = self
            .build_in(id, tx.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        tx.commit().await?;
        Ok(build)
    }

    async fn build(&self, id: i64) -> DbResult<Option<Build>> {
        self.build_in(id, self.read()).await
    }

    async fn list_builds(&self, status: Option<BuildStatus>, limit: i64) -> DbResult<Vec<Build>> {
        Ok(sql(format!(
            "{BUILD} WHERE (:status IS NULL OR status = :status) ORDER BY id DESC LIMIT :limit"
        ))
        .set("status", status.map(|s| s.as_str().to_string()))
        .set("limit", limit)
        .all::<BuildRow>(self.read())
        .await?
        .into_iter()
        .map(Build::from)
        .collect())
    }

    async fn update_build(
        &self,
        id: i64,
        updated_at: DateTime<Utc>,
        edit: &BuildEdit,
    ) -> DbResult<Build> {
        let mut tx = self.begin().await?;
        let changed = sql(
            "UPDATE builds SET status = :status, url = :url, tests_passed = :passed, tests_failed = :failed,
                 tests_skipped = :skipped, finished_at = :finished_at, updated_at = :new_updated_at
             WHERE id = :id AND updated_at = :updated_at",
        )
        .set("id", id)
        .set("updated_at", updated_at)
        .set("status", edit.status.as_str())
        .set("url", &edit.url)
        .set("passed", edit.tests.map(|t| t.passed))
        .set("failed", edit.tests.map(|t| t.failed))
        .set("skipped", edit.tests.map(|t| t.skipped))
        .set("finished_at", edit.finished_at)
        .set("new_updated_at", 
            self.now()
                .max(updated_at + chrono::TimeDelta::microseconds(1)),
        )
        .execute(tx.conn())
        .await?;
        if changed == 0 {
            return Err(DbError::Stale);
        }
        let build = self
            .build_in(id, tx.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        tx.commit().await?;
        Ok(build)
    }

    async fn deployed_builds(&self, environment: &str, among: &[i64]) -> DbResult<Vec<i64>> {
        sql(format!(
            "SELECT DISTINCT d.build_id FROM deploys d
             JOIN environments e ON e.id = d.environment_id
             WHERE e.slug = :environment AND {} AND d.status IN ('started', 'succeeded')",
            self.dialect().any("d.build_id", ":among")
        ))
        .set("environment", environment)
        .set("among", super::sql::Arg::Ints(among.to_vec()))
        .column(self.read())
        .await
    }

    async fn place_block(&self, new: NewBlock) -> DbResult<Block> {
        let mut tx = self.begin().await?;
        let input = &new.input;
        let id: i64 = sql(
            "INSERT INTO blocks (environment_id, reason, entry_id, component, placed_by,
                 placed_at, expires_at)
             VALUES ((SELECT id FROM environments WHERE slug = :environment), :reason,
                 :entry_id, :component, :placed_by, :placed_at, :expires_at)
             RETURNING id",
        )
        .set("environment", &input.environment)
        .set("reason", &input.reason)
        .set("entry_id", input.entry_id)
        .set("component", &input.component)
        .set("placed_by", &new.placed_by)
        .set("placed_at", self.now())
        .set("expires_at", new.expires_at)
        .value(tx.conn())
        .await?;
        let block = self
            .block_in(id, tx.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        tx.commit().await?;
        Ok(block)
    }

    async fn block(&self, id: i64) -> DbResult<Option<Block>> {
        self.block_in(id, self.read()).await
    }

    async fn list_blocks(&self, q: &BlockQuery) -> DbResult<Vec<Block>> {
        let mut params = Params::default();
        let mut filter = vec!["TRUE".to_string()];
        if let Some(env) = &q.environment {
            filter.push(format!("e.slug = {}", params.add(env)));
        }
        if let Some(at) = q.holding_at {
            filter.push(format!(
                "b.lifted_at IS NULL AND b.expires_at > {}",
                params.add(at)
            ));
        }
        if let Some((from, until)) = q.placed_in {
            filter.push(format!(
                "b.placed_at >= {} AND b.placed_at < {}",
                params.add(from),
                params.add(until)
            ));
        }
        let limit = params.add(q.limit);
        let now = self.now();
        Ok(sql(format!(
            "{BLOCK} WHERE {} ORDER BY b.placed_at DESC, b.id DESC LIMIT {limit}",
            filter.join(" AND ")
        ))
        .params(params)
        .all::<Block>(self.read())
        .await?
        .into_iter()
        .map(|b| b.at(now))
        .collect())
    }

    async fn lift_block(
        &self,
        id: i64,
        by: &str,
        note: &str,
        at: DateTime<Utc>,
    ) -> DbResult<Block> {
        let mut tx = self.begin().await?;
        let lifted = sql(
            "UPDATE blocks SET lifted_by = :by, lifted_at = :at, lift_note = :note
             WHERE id = :id AND lifted_at IS NULL AND expires_at > :at",
        )
        .set("id", id)
        .set("by", by)
        .set("at", at)
        .set("note", note)
        .execute(tx.conn())
        .await?;
        let block = self
            .block_in(id, tx.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        if lifted == 0 {
            return Err(DbError::Conflict(Conflict::BlockEnded {
                lifted: block.lifted_at.is_some(),
            }));
        }
        tx.commit().await?;
        Ok(block)
    }
}
