//! Action items and their owners.

use super::sql::{sql, Params};
use super::{DbError, DbResult, SqlStore};
use crate::model::{ActionItem, ActionKind, ActionStatus};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

#[derive(Clone, Debug)]
pub struct NewAction {
    pub title: String,
    pub owner_id: i64,
    pub due: NaiveDate,
    pub kind: ActionKind,
    pub incident_id: Option<i64>,
    pub created_by: String,
}

/// Every field an edit may change, as it is to be stored.
#[derive(Clone, Debug)]
pub struct ActionEdit {
    pub title: String,
    pub owner_id: i64,
    pub due: NaiveDate,
    pub kind: ActionKind,
    pub status: ActionStatus,
    pub note: String,
    pub evidence_deploy_id: Option<i64>,
    pub done_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct ActionQuery {
    pub statuses: Vec<ActionStatus>,
    pub owner_id: Option<i64>,
    pub incident_id: Option<i64>,
    /// Only those due before this day.
    pub due_before: Option<NaiveDate>,
    /// Only those due on this day.
    pub due_on: Option<NaiveDate>,
    pub limit: i64,
}

#[async_trait]
pub trait ActionStore: Send + Sync {
    async fn create_action(&self, new: NewAction) -> DbResult<ActionItem>;
    async fn action(&self, id: i64) -> DbResult<Option<ActionItem>>;
    /// Open ones first, by due date.
    async fn list_actions(&self, q: &ActionQuery) -> DbResult<Vec<ActionItem>>;
    /// Claims a reminder before it is sent: `false` when it was claimed already.
    async fn claim_reminder(&self, key: &str, at: DateTime<Utc>) -> DbResult<bool>;
    /// Gives a claimed reminder back, after its message could not be sent.
    async fn release_reminder(&self, key: &str) -> DbResult<()>;
    /// Stores the edit unless the action changed since `updated_at` ([`DbError::Stale`]).
    async fn update_action(
        &self,
        id: i64,
        updated_at: DateTime<Utc>,
        edit: &ActionEdit,
    ) -> DbResult<ActionItem>;
}

pub(super) const COLUMNS: &str =
    "a.id, a.title, a.owner_id, u.email AS owner_email, u.name AS owner_name,
    a.due, a.kind, a.status, a.note, a.incident_id, a.evidence_deploy_id,
    (SELECT MIN(h.id) FROM holes h WHERE h.action_id = a.id) AS hole_id,
    (SELECT MIN(ri.retro_id) FROM retro_items ri WHERE ri.action_id = a.id) AS retro_id,
    a.created_by, a.created_at, a.updated_at, a.done_at";

pub(super) const FROM: &str = "actions a JOIN users u ON u.id = a.owner_id";

fn today(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive()
}

/// Inserts an open action; its id.
pub(super) async fn insert_action(
    conn: super::sql::Conn<'_>,
    new: &NewAction,
    now: DateTime<Utc>,
) -> DbResult<i64> {
    sql(
        "INSERT INTO actions (title, owner_id, due, kind, status, note, incident_id,
             created_by, created_at, updated_at)
         VALUES (:title, :owner_id, :due, :kind, 'open', '', :incident_id, :created_by, :now, :now) RETURNING id",
    )
    .set("title", &new.title)
    .set("owner_id", new.owner_id)
    .set("due", new.due)
    .set("kind", new.kind.as_str())
    .set("incident_id", new.incident_id)
    .set("created_by", &new.created_by)
    .set("now", now)
    .value(conn)
    .await
}

/// Stores an edit if the action is still at `updated_at`; how many rows changed.
pub(super) async fn update_action_in(
    conn: super::sql::Conn<'_>,
    id: i64,
    updated_at: DateTime<Utc>,
    edit: &ActionEdit,
    now: DateTime<Utc>,
) -> DbResult<u64> {
    sql(
        "UPDATE actions SET title = :title, owner_id = :owner_id, due = :due, kind = :kind, status = :status,
             note = :note, evidence_deploy_id = :evidence_deploy_id, done_at = :done_at, updated_at = :new_updated_at
         WHERE id = :id AND updated_at = :updated_at",
    )
    .set("id", id)
    .set("updated_at", updated_at)
    .set("title", &edit.title)
    .set("owner_id", edit.owner_id)
    .set("due", edit.due)
    .set("kind", edit.kind.as_str())
    .set("status", edit.status.as_str())
    .set("note", &edit.note)
    .set("evidence_deploy_id", edit.evidence_deploy_id)
    .set("done_at", edit.done_at)
    .set("new_updated_at", now.max(updated_at + chrono::TimeDelta::microseconds(1)))
    .execute(conn)
    .await
}

impl SqlStore {
    pub(super) async fn action_in(
        &self,
        id: i64,
        conn: super::sql::Conn<'_>,
    ) -> DbResult<Option<ActionItem>> {
        Ok(
            sql(format!("SELECT {COLUMNS} FROM {FROM} WHERE a.id = :id"))
                .set("id", id)
                .optional::<ActionItem>(conn)
                .await?
                .map(|a| a.completed(today(self.now()))),
        )
    }
}

#[async_trait]
impl ActionStore for SqlStore {
    async fn create_action(&self, new: NewAction) -> DbResult<ActionItem> {
        let mut tx = self.begin().await?;
        let id = insert_action(tx.conn(), &new, self.now()).await?;
        let action = self
            .action_in(id, tx.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        tx.commit().await?;
        Ok(action)
    }

    async fn action(&self, id: i64) -> DbResult<Option<ActionItem>> {
        self.action_in(id, self.read()).await
    }

    async fn list_actions(&self, q: &ActionQuery) -> DbResult<Vec<ActionItem>> {
        let mut params = Params::default();
        let mut filter = vec!["TRUE".to_string()];
        if !q.statuses.is_empty() {
            let statuses: Vec<String> = q.statuses.iter().map(|s| s.as_str().to_string()).collect();
            let p = params.add(&statuses);
            filter.push(self.dialect().any("a.status", &p));
        }
        if let Some(owner) = q.owner_id {
            filter.push(format!("a.owner_id = {}", params.add(owner)));
        }
        if let Some(incident) = q.incident_id {
            filter.push(format!("a.incident_id = {}", params.add(incident)));
        }
        if let Some(day) = q.due_before {
            filter.push(format!("a.due < {}", params.add(day)));
        }
        if let Some(day) = q.due_on {
            filter.push(format!("a.due = {}", params.add(day)));
        }
        let limit = params.add(q.limit);
        let today = today(self.now());
        Ok(sql(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE {}
             ORDER BY a.status <> 'open', a.due, a.id LIMIT {limit}",
            filter.join(" AND ")
        ))
        .params(params)
        .all::<ActionItem>(self.read())
        .await?
        .into_iter()
        .map(|a| a.completed(today))
        .collect())
    }

    async fn claim_reminder(&self, key: &str, at: DateTime<Utc>) -> DbResult<bool> {
        let claimed = sql(
            "INSERT INTO action_reminders (key, sent_at) VALUES (:key, :at)
             ON CONFLICT (key) DO NOTHING",
        )
        .set("key", key)
        .set("at", at)
        .execute(self.write())
        .await?;
        Ok(claimed == 1)
    }

    async fn release_reminder(&self, key: &str) -> DbResult<()> {
        sql("DELETE FROM action_reminders WHERE key = :key")
            .set("key", key)
            .execute(self.write())
            .await?;
        Ok(())
    }

    async fn update_action(
        &self,
        id: i64,
        updated_at: DateTime<Utc>,
        edit: &ActionEdit,
    ) -> DbResult<ActionItem> {
        let mut tx = self.begin().await?;
        let changed = update_action_in(tx.conn(), id, updated_at, edit, self.now()).await?;
        if changed == 0 {
            return Err(DbError::Stale);
        }
        let action = self
            .action_in(id, tx.conn())
            .await?
            .ok_or(DbError::NotFound)?;
        tx.commit().await?;
        Ok(action)
    }
}
