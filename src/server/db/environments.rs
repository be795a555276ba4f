//! Environments: their kind, their deploy nights, what is on each, and the
//! reasons given for nights without a deploy.

use super::sql::sql;
use super::{Conflict, DbError, DbResult, Kind, SqlStore};
use crate::model::{DeployStatus, EnvironmentKind, NightReason, OnEnvironment};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

/// The kind a new environment gets from its name; admins change it.
pub fn kind_of(slug: &str) -> EnvironmentKind {
    match slug {
        crate::model::PRODUCTION => EnvironmentKind::Production,
        s if s.starts_with("internal") || s == "qa" || s == "preprod" => EnvironmentKind::Internal,
        _ => EnvironmentKind::Staging,
    }
}

/// Production deploys on weeknights by default; other environments have no nights.
pub fn default_days(slug: &str) -> &'static str {
    if slug == crate::model::PRODUCTION {
        "1,2,3,4,5"
    } else {
        ""
    }
}

pub fn default_time(slug: &str) -> Option<&'static str> {
    (slug == crate::model::PRODUCTION).then_some("21:00")
}

/// An environment as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EnvironmentRow {
    pub slug: String,
    #[sqlx(try_from = "String")]
    pub kind: EnvironmentKind,
    /// `1,2,3,4,5`
    pub schedule_days: String,
    pub schedule_time: Option<String>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct EnvDeploy {
    pub environment: String,
    pub deploy_id: i64,
    pub version: String,
    #[sqlx(try_from = "String")]
    pub status: DeployStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub build_id: Option<i64>,
}

impl From<EnvDeploy> for OnEnvironment {
    fn from(d: EnvDeploy) -> Self {
        OnEnvironment {
            deploy_id: d.deploy_id,
            version: d.version,
            status: d.status,
            started_at: d.started_at,
            finished_at: d.finished_at,
            build_id: d.build_id,
        }
    }
}

/// A reason given for a night.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct NightNote {
    pub night: NaiveDate,
    #[sqlx(try_from = "String")]
    pub reason: NightReason,
    pub note: Option<String>,
    pub given_by: String,
    pub given_at: DateTime<Utc>,
}

#[async_trait]
pub trait EnvironmentStore: Send + Sync {
    /// Every environment, by name.
    async fn environment_rows(&self) -> DbResult<Vec<EnvironmentRow>>;
    async fn create_environment(&self, row: &EnvironmentRow) -> DbResult<()>;
    async fn update_environment(&self, row: &EnvironmentRow) -> DbResult<()>;
    /// Each environment's newest deploy and newest succeeded deploy.
    async fn latest_deploys(&self) -> DbResult<(Vec<EnvDeploy>, Vec<EnvDeploy>)>;
    /// An environment's deploys started in `[from, until)`, oldest first.
    async fn deploys_between(
        &self,
        environment: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<Vec<EnvDeploy>>;
    async fn night_notes(
        &self,
        environment: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> DbResult<Vec<NightNote>>;
    /// Gives (or replaces) the reason for a night; `None` removes it.
    async fn set_night_note(
        &self,
        environment: &str,
        night: NaiveDate,
        note: Option<(NightReason, Option<String>, String)>,
    ) -> DbResult<()>;
    /// Whether a deploy naming an unknown environment creates it.
    async fn creates_environments_from_ci(&self) -> DbResult<bool>;
    async fn set_creates_environments_from_ci(&self, on: bool) -> DbResult<()>;
}

pub(super) const ENV_DEPLOY: &str =
    "SELECT e.slug AS environment, d.id AS deploy_id, d.version, d.status,
    d.started_at, d.finished_at, d.build_id
    FROM deploys d JOIN environments e ON e.id = d.environment_id";

#[async_trait]
impl EnvironmentStore for SqlStore {
    async fn creates_environments_from_ci(&self) -> DbResult<bool> {
        sql("SELECT create_environments_from_ci FROM team_settings WHERE id = 1")
            .value(self.read())
            .await
    }

    async fn set_creates_environments_from_ci(&self, on: bool) -> DbResult<()> {
        sql("UPDATE team_settings SET create_environments_from_ci = :on WHERE id = 1")
            .set("on", on)
            .change_one(self.write())
            .await
    }

    async fn environment_rows(&self) -> DbResult<Vec<EnvironmentRow>> {
        sql("SELECT slug, kind, schedule_days, schedule_time FROM environments ORDER BY slug")
            .all(self.read())
            .await
    }

    async fn create_environment(&self, row: &EnvironmentRow) -> DbResult<()> {
        sql(
            "INSERT INTO environments (slug, kind, schedule_days, schedule_time, created_at)
             VALUES (:slug, :kind, :schedule_days, :schedule_time, :now)",
        )
        .set("slug", &row.slug)
        .set("kind", row.kind.as_str())
        .set("schedule_days", &row.schedule_days)
        .set("schedule_time", &row.schedule_time)
        .set("now", self.now())
        .or_conflict(Conflict::Taken {
            what: Kind::Environment,
            key: row.slug.clone(),
        })
        .execute(self.write())
        .await?;
        Ok(())
    }

    async fn update_environment(&self, row: &EnvironmentRow) -> DbResult<()> {
        let changed = sql(
            "UPDATE environments SET kind = :kind, schedule_days = :schedule_days, schedule_time = :schedule_time
             WHERE slug = :slug",
        )
        .set("slug", &row.slug)
        .set("kind", row.kind.as_str())
        .set("schedule_days", &row.schedule_days)
        .set("schedule_time", &row.schedule_time)
        .execute(self.write())
        .await?;
        if changed == 0 {
            return Err(DbError::NotFound);
        }
        Ok(())
    }

    async fn latest_deploys(&self) -> DbResult<(Vec<EnvDeploy>, Vec<EnvDeploy>)> {
        let newest = |succeeded: bool| {
            format!(
                "{ENV_DEPLOY} WHERE d.id = (SELECT d2.id FROM deploys d2
                     WHERE d2.environment_id = d.environment_id {}
                     ORDER BY d2.started_at DESC, d2.id DESC LIMIT 1)
                 ORDER BY e.slug",
                if succeeded {
                    "AND d2.status = 'succeeded'"
                } else {
                    ""
                }
            )
        };
        let latest = sql(newest(false)).all(self.read()).await?;
        let current = sql(newest(true)).all(self.read()).await?;
        Ok((latest, current))
    }

    async fn deploys_between(
        &self,
        environment: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<Vec<EnvDeploy>> {
        sql(format!(
            "{ENV_DEPLOY} WHERE e.slug = :environment AND d.started_at >= :from AND d.started_at < :until
             ORDER BY d.started_at, d.id"
        ))
        .set("environment", environment)
        .set("from", from)
        .set("until", until)
        .all(self.read())
        .await
    }

    async fn night_notes(
        &self,
        environment: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> DbResult<Vec<NightNote>> {
        sql("SELECT n.night, n.reason, n.note, n.given_by, n.given_at
             FROM deploy_nights n JOIN environments e ON e.id = n.environment_id
             WHERE e.slug = :environment AND n.night >= :from AND n.night <= :to
             ORDER BY n.night")
        .set("environment", environment)
        .set("from", Some(from))
        .set("to", Some(to))
        .all(self.read())
        .await
    }

    async fn set_night_note(
        &self,
        environment: &str,
        night: NaiveDate,
        note: Option<(NightReason, Option<String>, String)>,
    ) -> DbResult<()> {
        let mut tx = self.begin().await?;
        sql("DELETE FROM deploy_nights
             WHERE environment_id = (SELECT id FROM environments WHERE slug = :environment) AND night = :night")
        .set("environment", environment)
        .set("night", Some(night))
        .execute(tx.conn())
        .await?;
        if let Some((reason, text, by)) = note {
            sql("INSERT INTO deploy_nights (environment_id, night, reason, note, given_by, given_at)
                 VALUES ((SELECT id FROM environments WHERE slug = :environment), :night, :reason, :text, :by, :now)")
            .set("environment", environment)
            .set("night", Some(night))
            .set("reason", reason.as_str())
            .set("text", text)
            .set("by", by)
            .set("now", self.now())
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await
    }
}
