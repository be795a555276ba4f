//! Incidents, the entries that caused them and the deploy that fixed them.

use super::releases::linked;
use super::sql::sql;
use super::{Conflict, DbError, DbResult, SqlStore};
use crate::model::{
    incident_number, ChangeEntry, DetectedBy, Incident, IncidentStatus, LinkedEntry, Severity,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub struct NewIncident {
    pub title: String,
    pub severity: Severity,
    pub environment: String,
    pub detected_at: DateTime<Utc>,
    pub detected_by: DetectedBy,
    pub customer_impact: String,
    pub customer_impact_html: String,
    pub created_by: String,
    /// Alertmanager's group key, when an alert opens it.
    pub alert_key: Option<String>,
    pub caused_by: Vec<i64>,
}

/// Every field an edit may change, as it is to be stored.
#[derive(Clone, Debug)]
pub struct IncidentEdit {
    pub title: String,
    pub severity: Severity,
    pub detected_at: DateTime<Utc>,
    pub detected_by: DetectedBy,
    pub customer_impact: String,
    pub customer_impact_html: String,
    pub status: IncidentStatus,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub fixed_by_deploy_id: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct IncidentQuery {
    /// Only these statuses (all when empty).
    pub statuses: Vec<IncidentStatus>,
    pub environment: Option<String>,
    /// Incidents older than this id.
    pub before: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Adds the customer-facing note of an incident, as an entry of
    /// `deploy_id`; an incident that has one already is a conflict.
    async fn add_customer_note(
        &self,
        incident_id: i64,
        deploy_id: i64,
        entry: super::NewEntry,
    ) -> DbResult<ChangeEntry>;
    /// Files an incident with its causes; an alert group that already has an
    /// unresolved incident is a conflict.
    async fn create_incident(&self, new: NewIncident) -> DbResult<Incident>;
    async fn incident(&self, id: i64) -> DbResult<Option<Incident>>;
    /// Newest first.
    async fn list_incidents(&self, q: &IncidentQuery) -> DbResult<Vec<Incident>>;
    /// Stores the edit unless the incident changed since `updated_at` (then
    /// [`DbError::Stale`]); `caused_by`, when given, replaces the causes.
    async fn update_incident(
        &self,
        id: i64,
        updated_at: DateTime<Utc>,
        edit: &IncidentEdit,
        caused_by: Option<&[i64]>,
    ) -> DbResult<Incident>;
    /// The entries that caused it, with their deploys, oldest deploy first.
    async fn incident_causes(&self, id: i64) -> DbResult<Vec<LinkedEntry>>;
    /// The unresolved incident an alert group opened, if any.
    async fn incident_for_alert(&self, alert_key: &str) -> DbResult<Option<Incident>>;
    /// Unresolved incidents caused by any of these entries, with the entry.
    async fn unresolved_incidents_of(&self, entry_ids: &[i64]) -> DbResult<Vec<(i64, Incident)>>;
    /// The entries of the last `deploys` deploys to `environment` that started
    /// at or before `before`, newest deploy first.
    async fn entries_deployed_before(
        &self,
        environment: &str,
        before: DateTime<Utc>,
        deploys: i64,
    ) -> DbResult<Vec<LinkedEntry>>;
}

pub(super) const COLUMNS: &str = "i.id, i.title, i.severity, e.slug AS environment, i.detected_at,
    i.detected_by, i.customer_impact, i.customer_impact_html, i.status, i.mitigated_at,
    i.resolved_at, i.fixed_by_deploy_id, i.customer_entry_id, i.created_by, i.created_at,
    i.updated_at";

pub(super) const FROM: &str = "incidents i JOIN environments e ON e.id = i.environment_id";

/// Rows carry no number; it is the id, written out.
pub(super) fn numbered(mut incident: Incident) -> Incident {
    incident.number = incident_number(incident.id);
    incident
}

/// Records the entries that caused an incident.
async fn insert_causes(tx: &mut super::sql::Tx, id: i64, entries: &[i64]) -> DbResult<()> {
    for entry in entries {
        sql("INSERT INTO incident_causes (incident_id, entry_id) VALUES (:id, :entry)")
            .set("id", id)
            .set("entry", *entry)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

impl SqlStore {
    async fn incident_in(&self, id: i64, conn: super::sql::Conn<'_>) -> DbResult<Option<Incident>> {
        Ok(
            sql(format!("SELECT {COLUMNS} FROM {FROM} WHERE i.id = :id"))
                .set("id", id)
                .optional::<Incident>(conn)
                .await?
                .map(numbered),
        )
    }
}

#[async_trait]
impl IncidentStore for SqlStore {
    async fn add_customer_note(
        &self,
        incident_id: i64,
        deploy_id: i64,
        entry: super::NewEntry,
    ) -> DbResult<ChangeEntry> {
        let mut tx = self.begin().await?;
        let added = super::deploys::add_entry_in(&mut tx, deploy_id, entry, self.now()).await?;
        let noted = sql(
            "UPDATE incidents SET customer_entry_id = :id, updated_at = :now
             WHERE id = :incident_id AND customer_entry_id IS NULL",
        )
        .set("id", added.id)
        .set("incident_id", incident_id)
        .set("now", self.now())
        .execute(tx.conn())
        .await?;
        if noted == 0 {
            return Err(DbError::Conflict(Conflict::CustomersAlreadyTold));
        }
        tx.commit().await?;
        Ok(added)
    }

    async fn create_incident(&self, new: NewIncident) -> DbResult<Incident> {
        let mut tx = self.begin().await?;
        let environment: Option<i64> = sql("SELECT id FROM environments WHERE slug = :environment")
            .set("environment", &new.environment)
            .scalar(tx.conn())
            .await?;
        let environment = environment.ok_or(DbError::NotFound)?;
        let now = self.now();
        let id: i64 = sql(
            "INSERT INTO incidents (title, severity, environment_id, detected_at, detected_by,
                 customer_impact, customer_impact_html, status, alert_key, created_by,
                 created_at, updated_at)
             VALUES (:title, :severity, :environment, :detected_at, :detected_by, :customer_impact, :customer_impact_html, 'open', :alert_key, :created_by, :now, :now) RETURNING id",
        )
        .set("title", &new.title)
        .set("severity", new.severity.as_str())
        .set("environment", environment)
        .set("detected_at", new.detected_at)
        .set("detected_by", new.detected_by.as_str())
        .set("customer_impact", &new.customer_impact)
        .set("customer_impact_html", &new.customer_impact_html)
        .set("alert_key", new.alert_key.as_deref())
        .set("created_by", &new.created_by)
        .set("now", now)
        .or_conflict(Conflict::AlertGroupOpen { reopening: false })
        .value(tx.conn())
        .await?;
        insert_causes(&mut tx, id, &new.caused_by).await?;
        let incident = self
            .incident_in(id, tx.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        tx.commit().await?;
        Ok(incident)
    }

    async fn incident(&self, id: i64) -> DbResult<Option<Incident>> {
        self.incident_in(id, self.read()).await
    }

    async fn list_incidents(&self, q: &IncidentQuery) -> DbResult<Vec<Incident>> {
        let mut params = super::sql::Params::default();
        let mut filter = vec!["TRUE".to_string()];
        if !q.statuses.is_empty() {
            let statuses: Vec<String> = q.statuses.iter().map(|s| s.as_str().to_string()).collect();
            let p = params.add(&statuses);
            filter.push(self.dialect().any("i.status", &p));
        }
        if let Some(env) = &q.environment {
            filter.push(format!("e.slug = {}", params.add(env)));
        }
        if let Some(before) = q.before {
            filter.push(format!("i.id < {}", params.add(before)));
        }
        let limit = params.add(q.limit);
        Ok(sql(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE {} ORDER BY i.id DESC LIMIT {limit}",
            filter.join(" AND ")
        ))
        .params(params)
        .all::<Incident>(self.read())
        .await?
        .into_iter()
        .map(numbered)
        .collect())
    }

    async fn update_incident(
        &self,
        id: i64,
        updated_at: DateTime<Utc>,
        edit: &IncidentEdit,
        caused_by: Option<&[i64]>,
    ) -> DbResult<Incident> {
        let mut tx = self.begin().await?;
        let changed = sql(
            "UPDATE incidents SET title = :title, severity = :severity, detected_at = :detected_at, detected_by = :detected_by,
                 customer_impact = :customer_impact, customer_impact_html = :customer_impact_html, status = :status,
                 mitigated_at = :mitigated_at, resolved_at = :resolved_at, fixed_by_deploy_id = :fixed_by_deploy_id, updated_at = :new_updated_at
             WHERE id = :id AND updated_at = :updated_at",
        )
        .set("id", id)
        .set("updated_at", updated_at)
        .set("title", &edit.title)
        .set("severity", edit.severity.as_str())
        .set("detected_at", edit.detected_at)
        .set("detected_by", edit.detected_by.as_str())
        .set("customer_impact", &edit.customer_impact)
        .set("customer_impact_html", &edit.customer_impact_html)
        .set("status", edit.status.as_str())
        .set("mitigated_at", edit.mitigated_at)
        .set("resolved_at", edit.resolved_at)
        .set("fixed_by_deploy_id", edit.fixed_by_deploy_id)
        .set("new_updated_at", 
            self.now()
                .max(updated_at + chrono::TimeDelta::microseconds(1)),
        )
        .or_conflict(Conflict::AlertGroupOpen { reopening: true })
        .execute(tx.conn())
        .await?;
        if changed == 0 {
            return Err(DbError::Stale);
        }
        if let Some(entries) = caused_by {
            sql("DELETE FROM incident_causes WHERE incident_id = :id")
                .set("id", id)
                .execute(tx.conn())
                .await?;
            insert_causes(&mut tx, id, entries).await?;
        }
        let incident = self
            .incident_in(id, tx.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        tx.commit().await?;
        Ok(incident)
    }

    async fn incident_causes(&self, id: i64) -> DbResult<Vec<LinkedEntry>> {
        sql(linked(
            "JOIN incident_causes c ON c.entry_id = n.id WHERE c.incident_id = :id
             ORDER BY d.started_at, n.position",
        ))
        .set("id", id)
        .all(self.read())
        .await
    }

    async fn incident_for_alert(&self, alert_key: &str) -> DbResult<Option<Incident>> {
        Ok(sql(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE i.alert_key = :alert_key AND i.status <> 'resolved'"
        ))
        .set("alert_key", alert_key)
        .optional::<Incident>(self.write())
        .await?
        .map(numbered))
    }

    async fn unresolved_incidents_of(&self, entry_ids: &[i64]) -> DbResult<Vec<(i64, Incident)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            entry_id: i64,
            #[sqlx(flatten)]
            incident: Incident,
        }
        let rows: Vec<Row> = sql(format!(
            "SELECT c.entry_id, {COLUMNS} FROM incident_causes c
             JOIN incidents i ON i.id = c.incident_id
             JOIN environments e ON e.id = i.environment_id
             WHERE i.status <> 'resolved' AND {} ORDER BY i.id",
            self.dialect().any("c.entry_id", ":entry_ids")
        ))
        .set("entry_ids", entry_ids)
        .all(self.read())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.entry_id, numbered(r.incident)))
            .collect())
    }

    async fn entries_deployed_before(
        &self,
        environment: &str,
        before: DateTime<Utc>,
        deploys: i64,
    ) -> DbResult<Vec<LinkedEntry>> {
        sql(linked(&format!(
            "WHERE n.deploy_id IN (
                 SELECT d2.id FROM deploys d2 JOIN environments e2 ON e2.id = d2.environment_id
                 WHERE e2.slug = :environment AND {} AND d2.status <> 'failed'
                 ORDER BY d2.started_at DESC, d2.id DESC LIMIT :deploys)
             ORDER BY d.started_at DESC, d.id DESC, n.position",
            self.dialect().time_at_or_before("d2.started_at", ":before")
        )))
        .set("environment", environment)
        .set("before", before)
        .set("deploys", deploys)
        .all(self.read())
        .await
    }
}
