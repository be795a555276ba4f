//! What the DORA metrics are computed from: an environment's finished
//! deploys in a window, their commits' ages, and its restored incidents.
//! Rows come back raw; `service::metrics` does the arithmetic, the same on
//! both databases.

use super::sql::sql;
use super::{DbResult, SqlStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A finished deploy, with what incidents say of it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DoraDeploy {
    pub id: i64,
    pub status: String,
    pub finished_at: DateTime<Utc>,
    /// One of its entries is named as the cause of an incident.
    pub caused_incident: bool,
    /// It is the deploy that fixed an incident.
    pub fixed_incident: bool,
}

#[async_trait]
pub trait MetricsStore: Send + Sync {
    /// Deploys to `environment` finished in `[from, until)`.
    async fn finished_deploys(
        &self,
        environment: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<Vec<DoraDeploy>>;
    /// (finished_at, authored_at) of every commit with an author time, of
    /// succeeded deploys to `environment` finished in the window.
    async fn commit_ages(
        &self,
        environment: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<Vec<(DateTime<Utc>, DateTime<Utc>)>>;
    /// (detected_at, resolved_at) of incidents in `environment` resolved in the window.
    async fn restores(
        &self,
        environment: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<Vec<(DateTime<Utc>, DateTime<Utc>)>>;
}

#[async_trait]
impl MetricsStore for SqlStore {
    async fn finished_deploys(
        &self,
        environment: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<Vec<DoraDeploy>> {
        sql("SELECT d.id, d.status, d.finished_at,
                    EXISTS (SELECT 1 FROM incident_causes c JOIN entries n ON n.id = c.entry_id
                            WHERE n.deploy_id = d.id) AS caused_incident,
                    EXISTS (SELECT 1 FROM incidents i WHERE i.fixed_by_deploy_id = d.id)
                        AS fixed_incident
             FROM deploys d JOIN environments e ON e.id = d.environment_id
             WHERE e.slug = :environment AND d.status IN ('succeeded', 'failed', 'rolled_back')
               AND d.finished_at >= :from AND d.finished_at < :until
             ORDER BY d.finished_at, d.id")
        .set("environment", environment)
        .set("from", from)
        .set("until", until)
        .all(self.read())
        .await
    }

    async fn commit_ages(
        &self,
        environment: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
        sql("SELECT d.finished_at, c.authored_at
             FROM commits c JOIN deploys d ON d.id = c.deploy_id
             JOIN environments e ON e.id = d.environment_id
             WHERE e.slug = :environment AND d.status = 'succeeded'
               AND d.finished_at >= :from AND d.finished_at < :until AND c.authored_at IS NOT NULL")
        .set("environment", environment)
        .set("from", from)
        .set("until", until)
        .all(self.read())
        .await
    }

    async fn restores(
        &self,
        environment: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
        sql("SELECT i.detected_at, i.resolved_at
             FROM incidents i JOIN environments e ON e.id = i.environment_id
             WHERE e.slug = :environment AND i.status = 'resolved'
               AND i.resolved_at >= :from AND i.resolved_at < :until")
        .set("environment", environment)
        .set("from", from)
        .set("until", until)
        .all(self.read())
        .await
    }
}
