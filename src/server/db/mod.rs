//! The storage seam: every service reaches the database through [`Store`],
//! the sum of one trait per area. Each area module holds its trait, its
//! query types and its SQL, written once for both databases and run through
//! [`sql`]; [`dialect`] names the few places where SQLite and PostgreSQL
//! differ. The `DATABASE_URL` scheme picks the database at start-up.

mod actions;
mod audiences;
mod audit;
mod campaigns;
mod changes;
mod deploys;
mod dialect;
mod environments;
mod gates;
mod incidents;
mod metrics;
mod notify;
mod people;
mod postgres;
mod readers;
mod releases;
mod rerender;
mod retros;
mod risk;
mod root_causes;
mod sessions;
mod sql;
mod sqlite;
mod subscribers;
mod tokens;

use crate::server::clock::Clock;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
pub use sessions::SessionBackend;
use std::sync::Arc;

pub use actions::{ActionEdit, ActionQuery, ActionStore, NewAction};
pub use audiences::AudienceStore;
pub use audit::{AuditQuery, AuditStore, NewAudit};
pub use campaigns::{CampaignRow, CampaignStore, Candidate, Claimed, DigestJob, Outcome};
pub use changes::{ChangeStore, Cursor, Found, Mark, PublicQuery, PublicReleaseQuery};
pub use deploys::{DeployQuery, DeployStore, NewCommit, NewDeploy, NewEntry};
pub use environments::{
    kind_of as environment_kind_of, EnvDeploy, EnvironmentRow, EnvironmentStore, NightNote,
};
pub use gates::{BlockQuery, BuildEdit, GateStore, NewBlock, NewBuild};
pub use incidents::{IncidentEdit, IncidentQuery, IncidentStore, NewIncident};
pub use metrics::{DoraDeploy, MetricsStore};
pub use notify::{Attempt, DueDelivery, NewNotification, NewWebhook, NotifyStore, Unmailed};
pub use people::{KeyFailures, NewInvitation, NewUser, PeopleStore, SignedIn};
pub use releases::{
    CandidateQuery, NewRelease, ReleaseEdit, ReleaseQuery, ReleaseState, ReleaseStore,
};
pub use rerender::{MarkdownField, RerenderStore, MARKDOWN_FIELDS};
pub use retros::{NewRetro, NewRetroItem, NewReview, PeriodRows, RetroItemRow, RetroStore};
pub use risk::{ProcessRow, ProcessScope, RiskStore};
pub use root_causes::{NewHole, RootCauseStore};
pub use subscribers::{NewSubscriber, SubscriberLink, SubscriberQuery, SubscriberStore};
pub use tokens::{NewToken, TokenStore};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the text names what clashed.
    #[error("{0}")]
    Conflict(String),
    /// A compare-and-set found the row at another revision than the one given.
    #[error("changed since the given revision")]
    Stale,
    /// The change would leave no active admin.
    #[error("no active admin would remain")]
    LastAdmin,
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
}

pub type DbResult<T> = Result<T, DbError>;

/// Everything the application stores.
#[async_trait]
pub trait Store:
    PeopleStore
    + TokenStore
    + DeployStore
    + ChangeStore
    + ReleaseStore
    + AudienceStore
    + SubscriberStore
    + CampaignStore
    + IncidentStore
    + ActionStore
    + RootCauseStore
    + RetroStore
    + GateStore
    + MetricsStore
    + EnvironmentStore
    + RiskStore
    + NotifyStore
    + AuditStore
    + RerenderStore
    + 'static
{
    /// Which database this is, for logs and benchmarks.
    fn backend(&self) -> &'static str;
    /// The time every rule and scheduler reads (`crate::server::clock`).
    fn clock(&self) -> &Clock;
    /// Now, by [`Store::clock`].
    fn now(&self) -> DateTime<Utc> {
        self.clock().now()
    }
    /// The session store for tower-sessions, on the same database.
    fn session_store(&self) -> SessionBackend;
    async fn ping(&self) -> DbResult<()>;
    /// After a bulk load: the planner's statistics, where the database keeps them.
    async fn refresh_statistics(&self) -> DbResult<()>;
    /// A consistent copy of a SQLite database into a new file, while it
    /// serves (`VACUUM INTO`). PostgreSQL is backed up with `pg_dump`.
    async fn backup_into(&self, path: &str) -> DbResult<()>;
    /// SQLite's `PRAGMA integrity_check` (`ok` when sound); PostgreSQL
    /// checks itself and answers `ok`.
    async fn integrity_check(&self) -> DbResult<String>;
    /// Each pool: (name, open connections, idle ones).
    fn pool_stats(&self) -> Vec<(&'static str, u32, usize)>;
    /// Messages waiting: (subscriber mail, webhook deliveries).
    async fn queue_depths(&self) -> DbResult<(i64, i64)>;
}

/// The store chosen at start-up, shared by every request.
pub type Db = Arc<dyn Store>;

/// Opens the database named by `url`, creating a SQLite file on first use,
/// and applies the migrations. A failed migration is an error, never ignored.
pub async fn connect(url: &str) -> anyhow::Result<Db> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::connect(url).await?))
    } else {
        Ok(Arc::new(postgres::connect(url).await?))
    }
}

/// Entries `n` any customer could ever read (their audience is not `internal`).
const CUSTOMER_VISIBLE: &str = "n.audience <> 'internal'";

/// The one implementation of every area trait, on either database.
pub struct SqlStore {
    pools: sql::Pools,
    sessions: SessionBackend,
    clock: Clock,
}

impl SqlStore {
    fn new(pools: sql::Pools, sessions: SessionBackend) -> SqlStore {
        SqlStore {
            pools,
            sessions,
            clock: Clock::default(),
        }
    }

    /// Now, by the store's clock.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn dialect(&self) -> dialect::Dialect {
        self.pools.dialect()
    }

    fn read(&self) -> sql::Conn<'_> {
        self.pools.read()
    }

    fn write(&self) -> sql::Conn<'_> {
        self.pools.write()
    }

    fn bulk(&self) -> sql::Conn<'_> {
        self.pools.bulk()
    }

    async fn begin(&self) -> DbResult<sql::Tx> {
        self.pools.begin().await
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        self.dialect().name()
    }

    fn clock(&self) -> &Clock {
        &self.clock
    }

    fn session_store(&self) -> SessionBackend {
        self.sessions.clone()
    }

    async fn ping(&self) -> DbResult<()> {
        sql::sql("SELECT 1").execute(self.read()).await?;
        Ok(())
    }

    async fn backup_into(&self, path: &str) -> DbResult<()> {
        match self.dialect() {
            dialect::Dialect::Sqlite => {
                sql::sql("VACUUM INTO $1")
                    .bind(path)
                    .execute(self.write())
                    .await?;
                Ok(())
            }
            dialect::Dialect::Postgres => Err(DbError::Conflict(
                "This Shiplog runs on PostgreSQL: back it up with pg_dump (see the README).".into(),
            )),
        }
    }

    fn pool_stats(&self) -> Vec<(&'static str, u32, usize)> {
        self.pools.stats()
    }

    async fn queue_depths(&self) -> DbResult<(i64, i64)> {
        let mail: i64 = sql::sql("SELECT COUNT(*) FROM deliveries WHERE status = 'queued'")
            .value(self.read())
            .await?;
        let hooks: i64 =
            sql::sql("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'")
                .value(self.read())
                .await?;
        Ok((mail, hooks))
    }

    async fn integrity_check(&self) -> DbResult<String> {
        match self.dialect() {
            dialect::Dialect::Sqlite => {
                let lines: Vec<String> = sql::sql("PRAGMA integrity_check")
                    .column(self.read())
                    .await?;
                Ok(lines.join("; "))
            }
            dialect::Dialect::Postgres => Ok("ok".into()),
        }
    }

    async fn refresh_statistics(&self) -> DbResult<()> {
        if let Some(analyze) = self.dialect().analyze() {
            sql::sql(analyze).execute(self.write()).await?;
        }
        Ok(())
    }
}
