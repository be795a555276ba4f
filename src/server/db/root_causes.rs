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

pub(super) const NOTE: &str =
    "SELECT incident_id, document, category, status, author, reviewer, version,
    created_at, updated_at, finalized_at FROM root_causes";

pub(super) const HOLE: &str =
    "SELECT h.id, h.incident_id, h.kind, h.area, h.component, h.description,
    h.action_id, a.status AS action_status, (a.status = 'done') AS closed,
    CASE WHEN a.status = 'done' THEN a.done_at END AS repaired_at, h.created_by, h.created_at
    FROM holes h JOIN actions a ON a.id = h.action_id";

/// The note as it stands on `conn` (inside a transaction that just wrote it).
async fn note_in(conn: super::sql::Conn<'_>, incident_id: i64) -> DbResult<RootCause> {
    sql(format!("{NOTE} WHERE incident_id = :incident_id"))
        .set("incident_id", incident_id)
        .one(conn)
        .await
}

fn json(document: &NoteDocument) -> Arg {
    Arg::Json(serde_json::to_value(document).expect("notes always serialise"))
}

#[async_trait]
impl RootCauseStore for SqlStore {
    async fn root_cause(&self, incident_id: i64) -> DbResult<Option<RootCause>> {
        sql(format!("{NOTE} WHERE incident_id = :incident_id"))
            .set("incident_id", incident_id)
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
        let current: Option<RootCause> =
            sql(format!("{NOTE} WHERE incident_id = :incident_id {lock}"))
                .set("incident_id", incident_id)
                .optional(tx.conn())
                .await?;
        let now = self.now();
        match (current, version) {
            (None, None) => {
                sql(
                    "INSERT INTO root_causes (incident_id, document, category, status, author,
                         version, created_at, updated_at)
                     VALUES (:incident_id, :document, :category, 'draft', :by, 1, :now, :now)",
                )
                .set("incident_id", incident_id)
                .set("document", json(document))
                .set("category", category.as_str())
                .set("by", by)
                .set("now", now)
                .execute(tx.conn())
                .await?;
            }
            (Some(note), Some(v)) if note.version == v => {
                if note.status == crate::model::NoteStatus::Final {
                    sql(
                        "INSERT INTO root_cause_versions (incident_id, version, document, category,
                             edited_by, edited_at) VALUES (:incident_id, :version, :document, :category, :by, :now)",
                    )
                    .set("incident_id", incident_id)
                    .set("version", note.version)
                    .set("document", json(&note.document))
                    .set("category", note.category.as_str())
                    .set("by", by)
                    .set("now", now)
                    .execute(tx.conn())
                    .await?;
                }
                sql(
                    "UPDATE root_causes SET document = :document, category = :category, version = version + 1,
                         updated_at = :now WHERE incident_id = :incident_id",
                )
                .set("incident_id", incident_id)
                .set("document", json(document))
                .set("category", category.as_str())
                .set("now", now)
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
            "UPDATE root_causes SET status = 'final', reviewer = :reviewer, finalized_at = :now,
                 updated_at = :now
             WHERE incident_id = :incident_id AND version = :version AND status = 'draft'",
        )
        .set("incident_id", incident_id)
        .set("version", version)
        .set("reviewer", reviewer)
        .set("now", self.now())
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
             WHERE incident_id = :incident_id ORDER BY version DESC",
        )
        .set("incident_id", incident_id)
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
             VALUES (:incident_id, :kind, :area, :component, :description, :action_id, :created_by, :now) RETURNING id",
        )
        .set("incident_id", hole.incident_id)
        .set("kind", hole.area.kind().as_str())
        .set("area", hole.area.as_str())
        .set("component", hole.component.as_deref())
        .set("description", &hole.description)
        .set("action_id", action_id)
        .set("created_by", &hole.created_by)
        .set("now", now)
        .value(tx.conn())
        .await?;
        let hole: Hole = sql(format!("{HOLE} WHERE h.id = :id"))
            .set("id", id)
            .one(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(hole)
    }

    async fn holes(&self, incident_id: i64) -> DbResult<Vec<Hole>> {
        sql(format!(
            "{HOLE} WHERE h.incident_id = :incident_id ORDER BY h.id"
        ))
        .set("incident_id", incident_id)
        .all(self.read())
        .await
    }

    async fn all_holes(&self) -> DbResult<Vec<Hole>> {
        sql(format!("{HOLE} ORDER BY h.id DESC LIMIT 10000"))
            .all(self.read())
            .await
    }
}
