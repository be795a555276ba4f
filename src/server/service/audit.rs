//! Reading the audit log: admins only, newest first, filtered and paged.

use super::{validate, Actor};
use crate::model::AuditEntry;
use crate::server::db::{AuditQuery, Db};
use crate::server::error::AppError;
use chrono::{TimeDelta, TimeZone, Utc};

pub const PAGE: i64 = crate::model::AUDIT_PAGE;

/// Filters as people and scripts give them.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub path: Option<String>,
    /// First day, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Last day, inclusive.
    pub to: Option<String>,
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

pub async fn list(db: &Db, actor: &Actor, f: AuditFilter) -> Result<Vec<AuditEntry>, AppError> {
    actor.require(actor.role.is_admin(), "read the audit log")?;
    let limit = f.limit.unwrap_or(PAGE);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            "the limit must be between 1 and 500",
        ));
    }
    let day_start =
        |d: chrono::NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"));
    let from = validate::day("from", f.from.as_deref().unwrap_or(""))?.map(day_start);
    let until = validate::day("to", f.to.as_deref().unwrap_or(""))?
        .map(|d| day_start(d) + TimeDelta::days(1));
    let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(db
        .audit(&AuditQuery {
            actor: clean(f.actor),
            path: clean(f.path),
            from,
            until,
            before: f.before,
            limit,
        })
        .await?)
}
