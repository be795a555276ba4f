//! The audit log: one row per write.

use super::sql::{sql, Params};
use super::{DbResult, SqlStore};
use crate::model::AuditEntry;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub struct NewAudit {
    pub actor: String,
    pub actor_kind: &'static str,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub ip: String,
}

#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Paths containing this text.
    pub path: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only rows older than this id (the next page).
    pub before: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record_audit(&self, new: &NewAudit) -> DbResult<()>;
    /// Newest first.
    async fn audit(&self, q: &AuditQuery) -> DbResult<Vec<AuditEntry>>;
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn record_audit(&self, new: &NewAudit) -> DbResult<()> {
        sql(
            "INSERT INTO audit_log (at, actor, actor_kind, method, path, status, ip)
             VALUES (:now, :actor, :actor_kind, :method, :path, :status, :ip)",
        )
        .set("now", self.now())
        .set("actor", &new.actor)
        .set("actor_kind", new.actor_kind)
        .set("method", &new.method)
        .set("path", &new.path)
        .set("status", new.status)
        .set("ip", &new.ip)
        .execute(self.write())
        .await?;
        Ok(())
    }

    async fn audit(&self, q: &AuditQuery) -> DbResult<Vec<AuditEntry>> {
        let mut params = Params::default();
        let mut filter = vec!["TRUE".to_string()];
        if let Some(actor) = &q.actor {
            filter.push(format!("actor = {}", params.add(actor)));
        }
        if let Some(path) = &q.path {
            let escaped = path
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            filter.push(format!(
                "path LIKE {} ESCAPE '\\'",
                params.add(format!("%{escaped}%"))
            ));
        }
        if let Some(from) = q.from {
            filter.push(format!("at >= {}", params.add(from)));
        }
        if let Some(until) = q.until {
            filter.push(format!("at < {}", params.add(until)));
        }
        if let Some(before) = q.before {
            filter.push(format!("id < {}", params.add(before)));
        }
        let limit = params.add(q.limit);
        sql(format!(
            "SELECT id, at, actor, actor_kind, method, path, status, ip FROM audit_log
             WHERE {} ORDER BY id DESC LIMIT {limit}",
            filter.join(" AND ")
        ))
        .params(params)
        .all(self.read())
        .await
    }
}
