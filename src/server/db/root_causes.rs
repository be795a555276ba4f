//! Root-cause notes with their versions, and the holes each incident found.

use super::actions::{insert_action, NewAction};
use super::sql::{sql, Arg};
use super::{DbError, DbResult, SqlStore};
use crate::model::{Hole, HoleArea, NoteDocument, NoteVersion, RootCause, RootCauseCategory};
use async_trait::async_trait;

#[derive(Clone, Debug)]
pub struct NewHole {
    pub incident_id: i64,
    pub area: HoleArea,
    pub component: Option<String>,
    pub description: String,
    pub created_by: String,
}

#[async_trait]
pub trait RootCauseStore: Send + Sync {
    async fn root_cause(&self, incident_id: i64) -> DbResult<Option<RootCause>>;
    /// Writes the note: creates it (`version` must be `None`) or edits the
    /// version given ([`DbError::Stale`] when it moved on meanwhile). Editing a
    /// final note keeps the version it replaces.
    async fn save_root_cause(
        &self,
        incident_id: i64,
        version: Option<i64>,
        document: &NoteDocument,
        category: RootCauseCategory,
        by: &str,
    ) -> DbResult<RootCause>;
    /// Makes the draft at `version` final, reviewed by `reviewer`.
    async fn finalize_root_cause(
        &self,
        incident_id: i64,
        version: i64,
        reviewer: &str,
    ) -> DbResult<RootCause>;
    /// Earlier versions, newest first.
    async fn root_cause_history(&self, incident_id: i64) -> DbResult<Vec<NoteVersion>>;
    /// Records a hole with the action that repairs it, together.
    async fn create_hole(&self, hole: NewHole, action: NewAction) -> DbResult<Hole>;
    async fn holes(&self, incident_id: i64) -> DbResult<Vec<Hole>>;
    /// Every hole, newest first.
    async fn all_holes(&self) -> DbResult<Vec<Hole>>;
}

const NOTE: &str = "SELECT incident_id, document, category, status, author, reviewer, version,
    created_at, updated_at, finalized_at FROM root_causes";

const HOLE: &str = "SELECT h.id, h.incident_id, h.kind, h.area, h.component, h.description,
    h.action_id, a.status AS action_status, (a.status = 'done') AS closed,
    CASE WHEN a.status = 'done' THEN a.done_at END AS repaired_at, h.created_by, h.created_at
    FROM holes h JOIN actions a ON a.id = h.action_id";

/// The note as it stands on `conn` (inside a transaction that just wrote it).
async fn note_in(conn: super::sql::Conn<'_>, incident_id: i64) -> DbResult<RootCause> {
    sql(format!("{NOTE} WHERE incident_id = $1"))
        .bind(incident_id)
        .one(conn)
        .await
}

fn json(document: &NoteDocument) -> Arg {
    Arg::Json(serde_json::to_value(document).expect("notes always serialise"))
}

#[async_trait]
impl RootCauseStore for SqlStore {
    async fn root_cause(&self, incident_id: i64) -> DbResult<Option<RootCause>> {
        sql(format!("{NOTE} WHERE incident_id = $1"))
            .bind(incident_id)
            .optional(self.read())
            .await
    }

    async fn save_root_cause(
        &self,
        incident_id: i64,
        version: Option<i64>,
        document: &NoteDocument,
        category: RootCauseCategory,
        by: &str,
    ) -> DbResult<RootCause> {
        let mut tx = self.begin().await?;
        let lock = self.dialect().for_update();
        let current: Option<RootCause> = sql(format!("{NOTE} WHERE incident_id = $1 {lock}"))
            .bind(incident_id)
            .optional(tx.conn())
            .await?;
        let now = self.now();
        match (current, version) {
            (None, None) => {
                sql(
                    "INSERT INTO root_causes (incident_id, document, category, status, author,
                         version, created_at, updated_at)
                     VALUES ($1, $2, $3, 'draft', $4, 1, $5, $5)",
                )
                .bind(incident_id)
                .bind(json(document))
                .bind(category.as_str())
                .bind(by)
                .bind(now)
                .execute(tx.conn())
                .await?;
            }
            (Some(note), Some(v)) if note.version == v => {
                if note.status == crate::model::NoteStatus::Final {
                    sql(
                        "INSERT INTO root_cause_versions (incident_id, version, document, category,
                             edited_by, edited_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(incident_id)
                    .bind(note.version)
                    .bind(json(&note.document))
                    .bind(note.category.as_str())
                    .bind(by)
                    .bind(now)
                    .execute(tx.conn())
                    .await?;
                }
                sql(
                    "UPDATE root_causes SET document = $2, category = $3, version = version + 1,
                         updated_at = $4 WHERE incident_id = $1",
                )
                .bind(incident_id)
                .bind(json(document))
                .bind(category.as_str())
                .bind(now)
                .execute(tx.conn())
                .await?;
            }
            _ => return Err(DbError::Stale),
        }
        let note = note_in(tx.conn(), incident_id).await?;
        tx.commit().await?;
        Ok(note)
    }

    async fn finalize_root_cause(
        &self,
        incident_id: i64,
        version: i64,
        reviewer: &str,
    ) -> DbResult<RootCause> {
        let mut tx = self.begin().await?;
        let changed = sql(
            "UPDATE root_causes SET status = 'final', reviewer = $3, finalized_at = $4,
                 updated_at = $4
             WHERE incident_id = $1 AND version = $2 AND status = 'draft'",
        )
        .bind(incident_id)
        .bind(version)
        .bind(reviewer)
        .bind(self.now())
        .execute(tx.conn())
        .await?;
        if changed == 0 {
            return Err(DbError::Stale);
        }
        let note = note_in(tx.conn(), incident_id).await?;
        tx.commit().await?;
        Ok(note)
    }

    async fn root_cause_history(&self, incident_id: i64) -> DbResult<Vec<NoteVersion>> {
        sql(
            "SELECT version, document, category, edited_by, edited_at FROM root_cause_versions
             WHERE incident_id = $1 ORDER BY version DESC",
        )
        .bind(incident_id)
        .all(self.read())
        .await
    }

    async fn create_hole(&self, hole: NewHole, action: NewAction) -> DbResult<Hole> {
        let mut tx = self.begin().await?;
        let now = self.now();
        let action_id = insert_action(tx.conn(), &action, now).await?;
        let id: i64 = sql(
            "INSERT INTO holes (incident_id, kind, area, component, description, action_id,
                 created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(hole.incident_id)
        .bind(hole.area.kind().as_str())
        .bind(hole.area.as_str())
        .bind(hole.component.as_deref())
        .bind(&hole.description)
        .bind(action_id)
        .bind(&hole.created_by)
        .bind(now)
        .value(tx.conn())
        .await?;
        let hole: Hole = sql(format!("{HOLE} WHERE h.id = $1"))
            .bind(id)
            .one(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(hole)
    }

    async fn holes(&self, incident_id: i64) -> DbResult<Vec<Hole>> {
        sql(format!("{HOLE} WHERE h.incident_id = $1 ORDER BY h.id"))
            .bind(incident_id)
            .all(self.read())
            .await
    }

    async fn all_holes(&self) -> DbResult<Vec<Hole>> {
        sql(format!("{HOLE} ORDER BY h.id DESC LIMIT 10000"))
            .all(self.read())
            .await
    }
}
