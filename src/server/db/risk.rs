//! The risk-based process: risky components, the rule of each risk level,
//! approvals and checklist ticks on entries, and the risk map.

use super::sql::{sql, Params};
use super::{Conflict, DbError, DbResult, SqlStore};
use crate::model::{Approval, Check, Risk, RiskMapRow, RiskRule, RiskyComponent};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Which entries to read with their deploy.
#[derive(Clone, Debug)]
pub enum ProcessScope {
    One(i64),
    /// Entries of deploys that shipped a build: by `build_id` or by commit.
    Build {
        id: i64,
        shas: Vec<String>,
    },
    /// Entries of deploys to other environments than production, started since.
    Waiting {
        since: DateTime<Utc>,
        limit: i64,
    },
}

/// An entry with what the process needs of its deploy.
#[derive(Clone, Debug, sqlx::FromRow)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct ProcessRow {
    pub entry_id: i64,
    pub title: String,
    pub deploy_id: i64,
    pub version: String,
    pub environment: String,
    pub component: Option<String>,
    pub audience: String,
    #[sqlx(try_from = "String")]
    pub risk: Risk,
    pub created_by: Option<String>,
}

#[async_trait]
pub trait RiskStore: Send + Sync {
    async fn risky_components(&self) -> DbResult<Vec<RiskyComponent>>;
    /// Marks (or re-marks, with a new note) a component risky.
    async fn mark_risky(&self, component: &str, note: Option<&str>, by: &str) -> DbResult<()>;
    async fn unmark_risky(&self, component: &str) -> DbResult<()>;
    /// One per risk level, low to high.
    async fn risk_rules(&self) -> DbResult<Vec<RiskRule>>;
    async fn set_risk_rule(&self, rule: &RiskRule) -> DbResult<()>;
    async fn process_rows(&self, scope: &ProcessScope) -> DbResult<Vec<ProcessRow>>;
    /// The commit authors of deploys: (deploy id, author).
    async fn commit_authors(&self, deploys: &[i64]) -> DbResult<Vec<(i64, String)>>;
    async fn approvals(&self, entries: &[i64]) -> DbResult<Vec<Approval>>;
    async fn checks(&self, entries: &[i64]) -> DbResult<Vec<Check>>;
    /// One approval per person and entry: a second is a conflict.
    async fn approve(&self, entry: i64, approver: &str) -> DbResult<()>;
    async fn withdraw_approval(&self, entry: i64, approver: &str) -> DbResult<()>;
    async fn set_check(&self, entry: i64, item: &str, by: &str, done: bool) -> DbResult<()>;
    async fn risk_map(&self) -> DbResult<Vec<RiskMapRow>>;
}

pub(super) const PROCESS: &str = "SELECT n.id AS entry_id, n.title, n.deploy_id, d.version,
    e.slug AS environment, n.component, n.audience, n.risk, d.created_by
    FROM entries n JOIN deploys d ON d.id = n.deploy_id
    JOIN environments e ON e.id = d.environment_id";

#[async_trait]
impl RiskStore for SqlStore {
    async fn risky_components(&self) -> DbResult<Vec<RiskyComponent>> {
        sql("SELECT component, note, marked_by, marked_at FROM risky_components ORDER BY component")
            .all(self.read())
            .await
    }

    async fn mark_risky(&self, component: &str, note: Option<&str>, by: &str) -> DbResult<()> {
        sql(
            "INSERT INTO risky_components (component, note, marked_by, marked_at)
             VALUES (:component, :note, :by, :now)
             ON CONFLICT (component) DO UPDATE SET note = excluded.note,
                 marked_by = excluded.marked_by, marked_at = excluded.marked_at",
        )
        .set("component", component)
        .set("note", note.map(str::to_string))
        .set("by", by)
        .set("now", self.now())
        .execute(self.write())
        .await?;
        Ok(())
    }

    async fn unmark_risky(&self, component: &str) -> DbResult<()> {
        let gone = sql("DELETE FROM risky_components WHERE component = :component")
            .set("component", component)
            .execute(self.write())
            .await?;
        if gone == 0 {
            return Err(DbError::NotFound);
        }
        Ok(())
    }

    async fn risk_rules(&self) -> DbResult<Vec<RiskRule>> {
        sql(
            "SELECT risk, approvals, checklist, staged, updated_by, updated_at FROM risk_rules
             ORDER BY CASE risk WHEN 'low' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END",
        )
        .all(self.read())
        .await
    }

    async fn set_risk_rule(&self, rule: &RiskRule) -> DbResult<()> {
        let mut params = Params::default();
        let [risk, approvals, checklist, staged, by, at] = [
            params.add(rule.risk.as_str()),
            params.add(rule.approvals),
            params.add_json(&rule.checklist),
            params.add(rule.staged),
            params.add(&rule.updated_by),
            params.add(rule.updated_at),
        ];
        sql(format!(
            "UPDATE risk_rules SET approvals = {approvals}, checklist = {checklist},
                 staged = {staged}, updated_by = {by}, updated_at = {at}
             WHERE risk = {risk}"
        ))
        .params(params)
        .change_one(self.write())
        .await
    }

    async fn process_rows(&self, scope: &ProcessScope) -> DbResult<Vec<ProcessRow>> {
        let mut params = Params::default();
        let (filter, tail) = match scope {
            ProcessScope::One(id) => (format!("n.id = {}", params.add(*id)), String::new()),
            ProcessScope::Build { id, shas } => {
                let id = params.add(*id);
                let shas = params.add(super::sql::Arg::List(shas.clone()));
                (
                    format!(
                        "(d.build_id = {id} OR {})",
                        self.dialect().any("d.commit_sha", &shas)
                    ),
                    "ORDER BY d.started_at, n.position".to_string(),
                )
            }
            ProcessScope::Waiting { since, limit } => (
                format!(
                    "e.slug <> {} AND d.started_at >= {}",
                    params.add(crate::model::PRODUCTION),
                    params.add(*since)
                ),
                format!(
                    "ORDER BY d.started_at DESC, n.position LIMIT {}",
                    params.add(*limit)
                ),
            ),
        };
        sql(format!("{PROCESS} WHERE {filter} {tail}"))
            .params(params)
            .all(self.read())
            .await
    }

    async fn commit_authors(&self, deploys: &[i64]) -> DbResult<Vec<(i64, String)>> {
        sql(format!(
            "SELECT DISTINCT deploy_id, author FROM commits
             WHERE author IS NOT NULL AND {}",
            self.dialect().any("deploy_id", ":deploys")
        ))
        .set("deploys", super::sql::Arg::Ints(deploys.to_vec()))
        .all(self.read())
        .await
    }

    async fn approvals(&self, entries: &[i64]) -> DbResult<Vec<Approval>> {
        sql(format!(
            "SELECT entry_id, approver, approved_at FROM entry_approvals WHERE {}
             ORDER BY approved_at",
            self.dialect().any("entry_id", ":entries")
        ))
        .set("entries", super::sql::Arg::Ints(entries.to_vec()))
        .all(self.read())
        .await
    }

    async fn checks(&self, entries: &[i64]) -> DbResult<Vec<Check>> {
        sql(format!(
            "SELECT entry_id, item, checked_by, checked_at FROM entry_checks WHERE {}
             ORDER BY checked_at",
            self.dialect().any("entry_id", ":entries")
        ))
        .set("entries", super::sql::Arg::Ints(entries.to_vec()))
        .all(self.read())
        .await
    }

    async fn approve(&self, entry: i64, approver: &str) -> DbResult<()> {
        sql("INSERT INTO entry_approvals (entry_id, approver, approved_at) VALUES (:entry, :approver, :now)")
            .set("entry", entry)
            .set("approver", approver)
            .set("now", self.now())
            .or_conflict(Conflict::AlreadyApproved)
            .execute(self.write())
            .await?;
        Ok(())
    }

    async fn withdraw_approval(&self, entry: i64, approver: &str) -> DbResult<()> {
        sql("DELETE FROM entry_approvals WHERE entry_id = :entry AND approver = :approver")
            .set("entry", entry)
            .set("approver", approver)
            .change_one(self.write())
            .await
    }

    async fn set_check(&self, entry: i64, item: &str, by: &str, done: bool) -> DbResult<()> {
        let query = if done {
            sql(
                "INSERT INTO entry_checks (entry_id, item, checked_by, checked_at)
                 VALUES (:entry, :item, :by, :now) ON CONFLICT (entry_id, item) DO NOTHING",
            )
            .set("entry", entry)
            .set("item", item)
            .set("by", by)
            .set("now", self.now())
        } else {
            sql("DELETE FROM entry_checks WHERE entry_id = :entry AND item = :item")
                .set("entry", entry)
                .set("item", item)
        };
        query.execute(self.write()).await?;
        Ok(())
    }

    async fn risk_map(&self) -> DbResult<Vec<RiskMapRow>> {
        sql("WITH touched AS (
                 SELECT DISTINCT n.component, d.id AS deploy_id, d.status,
                     EXISTS (SELECT 1 FROM incident_causes ic JOIN entries m ON m.id = ic.entry_id
                             WHERE m.deploy_id = d.id AND m.component = n.component) AS caused
                 FROM entries n JOIN deploys d ON d.id = n.deploy_id
                 JOIN environments e ON e.id = d.environment_id
                 WHERE n.component IS NOT NULL AND e.slug = :production
                   AND d.status IN ('succeeded', 'failed', 'rolled_back')
             ),
             names AS (SELECT component FROM touched UNION SELECT component FROM risky_components)
             SELECT names.component,
                 EXISTS (SELECT 1 FROM risky_components r WHERE r.component = names.component)
                     AS risky,
                 (SELECT COUNT(*) FROM touched t WHERE t.component = names.component) AS deploys,
                 (SELECT COUNT(*) FROM touched t
                  WHERE t.component = names.component AND t.status <> 'succeeded') AS failed,
                 (SELECT COUNT(DISTINCT ic.incident_id) FROM incident_causes ic
                  JOIN entries m ON m.id = ic.entry_id WHERE m.component = names.component)
                     AS incidents,
                 (SELECT COUNT(*) FROM touched t WHERE t.component = names.component
                    AND (t.status <> 'succeeded' OR t.caused)) AS failing
             FROM names ORDER BY names.component")
        .set("production", crate::model::PRODUCTION)
        .all(self.read())
        .await
    }
}
