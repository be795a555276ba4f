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
#[cfg(test)]
mod select_lists;
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

/// A write refused by a rule the database keeps (a unique key, a row no
/// longer in the state the write needs), with what the caller needs to say why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// A unique key: `what` already has a row with this `key`.
    Taken {
        what: Kind,
        key: String,
    },
    /// The write names a row by its key and there is none.
    Missing {
        what: Kind,
        key: String,
    },
    /// `version` is already deployed to `environment`.
    VersionDeployed {
        version: String,
        environment: String,
    },
    /// The entry is linked to another release.
    EntryInAnotherRelease {
        entry: i64,
    },
    /// The block was lifted (`lifted`) or ran out, so it cannot be lifted.
    BlockEnded {
        lifted: bool,
    },
    /// Customers were already told about the incident.
    CustomersAlreadyTold,
    /// An alert group has one unresolved incident at most; `reopening` when
    /// the write reopened a resolved one.
    AlertGroupOpen {
        reopening: bool,
    },
    /// The retro is closed: nothing in it changes.
    RetroClosed,
    /// The retro being closed already was.
    RetroAlreadyClosed,
    /// One retro is open at a time.
    AnotherRetroOpen,
    /// The voter has cast every vote they have.
    VotesUsed {
        limit: i64,
    },
    AlreadyVoted,
    /// The retro item was already turned into an action.
    ItemAlreadyAction,
    /// The approver already approved the change.
    AlreadyApproved,
    /// Setup ran after the first admin exists.
    AdminExists,
    /// The invitation was accepted already or ran out.
    InvitationUsed,
    /// A webhook delivery is still being attempted.
    DeliveryPending,
    /// Backups of this kind are SQLite's only.
    BackupNeedsSqlite,
}

/// The conflict of a write that names a row (`what` by `key`) there is none of.
fn missing(what: Kind, key: &str) -> DbError {
    DbError::Conflict(Conflict::Missing {
        what,
        key: key.to_string(),
    })
}

/// What a [`Conflict`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Account,
    Cohort,
    Entry,
    Environment,
    Release,
    Subscriber,
    User,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    /// The write ran into a rule: which one, and its facts. Services say it
    /// in words (`service::conflicts`).
    #[error("{0:?}")]
    Conflict(Conflict),
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
                sql::sql("VACUUM INTO :path")
                    .set("path", path)
                    .execute(self.write())
                    .await?;
                Ok(())
            }
            dialect::Dialect::Postgres => Err(DbError::Conflict(Conflict::BackupNeedsSqlite)),
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
