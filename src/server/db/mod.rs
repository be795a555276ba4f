//! The storage seam: every handler, server function and service reaches the
//! database through [`Store`]. SQLite and PostgreSQL each implement it; the
//! `DATABASE_URL` scheme picks one at start-up.

// `sql` holds the shared SQL as macros; `#[macro_use]` puts them in scope below.
#[macro_use]
mod sql;
mod postgres;
mod rows;
mod sqlite;

use crate::model::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

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

/// The store chosen at start-up, shared by every request.
pub type Db = Arc<dyn Store>;

/// Opens the database named by `url`, creating a SQLite file on first use,
/// and applies the migrations. A failed migration is an error, never ignored.
pub async fn connect(url: &str) -> anyhow::Result<Db> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else {
        Ok(Arc::new(PgStore::connect(url).await?))
    }
}

/// A person to create; the password is already hashed.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

#[derive(Clone, Debug)]
pub struct NewInvitation {
    pub email: String,
    pub role: Role,
    pub token_hash: String,
    pub invited_by: Option<i64>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub token_hash: String,
    pub prefix: String,
    pub created_by: Option<i64>,
}

/// A validated entry, Markdown already rendered.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub title: String,
    pub body: String,
    pub body_html: String,
    /// The rendered text as readers see it (what search matches).
    pub body_text: String,
    pub kind: EntryKind,
    pub audience: Audience,
    pub risk: Risk,
    pub component: Option<String>,
    pub breaking: bool,
    pub links: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct NewCommit {
    pub sha: String,
    pub message: String,
    pub author: Option<String>,
    pub authored_at: Option<DateTime<Utc>>,
}

/// A validated deploy with its entries and commits, written in one transaction.
#[derive(Clone, Debug)]
pub struct NewDeploy {
    pub environment: String,
    pub version: String,
    pub commit: Option<String>,
    pub status: DeployStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    pub entries: Vec<NewEntry>,
    pub commits: Vec<NewCommit>,
}

/// One page of the timeline: newest first, strictly older than `before` (a deploy id).
#[derive(Clone, Debug, Default)]
pub struct DeployQuery {
    pub environment: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

/// One page of `/changes`.
#[derive(Clone, Debug, Default)]
pub struct PublicQuery {
    pub environment: String,
    /// The stored audience values the reader may see (`Reader::audiences`).
    pub audiences: Vec<String>,
    pub kind: Option<EntryKind>,
    pub component: Option<String>,
    pub search: String,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Clone, Debug)]
pub struct NewRelease {
    pub slug: String,
    pub title: String,
    pub version_name: Option<String>,
    pub narrative: String,
    pub narrative_html: String,
    pub narrative_text: String,
    pub audience: Audience,
    pub created_by: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ReleaseEdit {
    pub slug: String,
    pub title: String,
    pub version_name: Option<String>,
    pub narrative: String,
    pub narrative_html: String,
    pub narrative_text: String,
    pub audience: Audience,
}

#[derive(Clone, Debug)]
pub struct ReleaseState {
    pub status: ReleaseStatus,
    pub publish_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub archived: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ReleaseQuery {
    pub include_archived: bool,
    pub search: String,
    pub limit: i64,
    pub offset: i64,
}

/// One page of published releases for one reader.
#[derive(Clone, Debug, Default)]
pub struct PublicReleaseQuery {
    pub environment: String,
    /// The stored audience values the reader may see (`Reader::audiences`).
    pub audiences: Vec<String>,
    pub search: String,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Clone, Debug, Default)]
pub struct CandidateQuery {
    pub environment: Option<String>,
    pub kind: Option<EntryKind>,
    pub component: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub text: String,
    pub limit: i64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which database this is, for logs and benchmarks.
    fn backend(&self) -> &'static str;
    /// The session store for tower-sessions, on the same database.
    fn session_store(&self) -> crate::server::auth::session::SessionBackend;
    async fn ping(&self) -> DbResult<()>;

    // People
    async fn count_users(&self) -> DbResult<i64>;
    /// Creates the first admin only while nobody exists, atomically.
    async fn create_first_user(&self, user: NewUser) -> DbResult<User>;
    async fn create_user(&self, user: NewUser) -> DbResult<User>;
    async fn user_by_id(&self, id: i64) -> DbResult<Option<User>>;
    /// The person and their password hash, for signing in.
    async fn user_credentials(&self, email: &str) -> DbResult<Option<(User, String)>>;
    async fn list_users(&self) -> DbResult<Vec<User>>;
    /// Changes role and active flag together, refusing (Conflict) if no active admin would remain.
    async fn update_user(&self, id: i64, role: Role, active: bool) -> DbResult<User>;

    // Invitations
    async fn create_invitation(&self, inv: NewInvitation) -> DbResult<Invitation>;
    async fn invitation_by_token(&self, token_hash: &str) -> DbResult<Option<Invitation>>;
    /// Creates the person and marks the invitation used, in one transaction.
    async fn accept_invitation(
        &self,
        invitation_id: i64,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> DbResult<User>;
    async fn list_invitations(&self) -> DbResult<Vec<Invitation>>;
    async fn delete_invitation(&self, id: i64) -> DbResult<()>;

    // Sign-in throttling
    /// The oldest failure counted since `since`, to say when the lock lifts.
    async fn oldest_login_failure(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> DbResult<Option<DateTime<Utc>>>;
    async fn clear_login_failures(&self, key: &str) -> DbResult<()>;
    /// Records one sign-in attempt under each key, committed before the password
    /// is checked, and answers how many attempts each key has had since
    /// `since` (this one included), in the order of `keys`.
    async fn record_login_attempt(
        &self,
        keys: &[String],
        at: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> DbResult<(Vec<i64>, Vec<i64>)>;
    /// Forgets attempts by their ids (a successful sign-in is no failure).
    async fn forget_login_attempts(&self, ids: &[i64]) -> DbResult<()>;

    // Search text filled in for rows written before it was stored
    /// Entries (id, body_html) and releases without their reader text yet.
    async fn missing_reader_text(
        &self,
        limit: i64,
    ) -> DbResult<(Vec<(i64, String)>, Vec<(i64, String)>)>;
    async fn set_reader_text(
        &self,
        entries: &[(i64, String)],
        releases: &[(i64, String)],
    ) -> DbResult<()>;

    // API tokens
    async fn create_token(&self, token: NewToken) -> DbResult<ApiToken>;
    async fn token_by_hash(&self, token_hash: &str) -> DbResult<Option<ApiToken>>;
    async fn touch_token(&self, id: i64, at: DateTime<Utc>) -> DbResult<()>;
    async fn list_tokens(&self) -> DbResult<Vec<ApiToken>>;
    async fn revoke_token(&self, id: i64, at: DateTime<Utc>) -> DbResult<ApiToken>;

    // Deploys
    async fn create_deploy(&self, deploy: NewDeploy) -> DbResult<DeployDetail>;
    async fn deploy(&self, id: i64) -> DbResult<Option<DeployDetail>>;
    async fn list_deploys(&self, query: &DeployQuery) -> DbResult<Vec<Deploy>>;
    async fn list_environments(&self) -> DbResult<Vec<String>>;
    /// Moves the status on only if it is still `from` (so two writers cannot both win).
    async fn set_deploy_status(
        &self,
        id: i64,
        from: DeployStatus,
        to: DeployStatus,
        finished_at: Option<DateTime<Utc>>,
    ) -> DbResult<bool>;

    // Entries
    async fn entry(&self, id: i64) -> DbResult<Option<ChangeEntry>>;
    async fn add_entry(&self, deploy_id: i64, entry: NewEntry) -> DbResult<ChangeEntry>;
    async fn update_entry(&self, id: i64, entry: NewEntry) -> DbResult<ChangeEntry>;
    async fn delete_entry(&self, id: i64) -> DbResult<()>;

    // Public notes, for one reader's audiences
    async fn public_entries(&self, query: &PublicQuery) -> DbResult<Vec<PublicEntry>>;
    async fn public_entry(
        &self,
        environment: &str,
        audiences: &[String],
        id: i64,
    ) -> DbResult<Option<PublicEntry>>;
    async fn public_components(
        &self,
        environment: &str,
        audiences: &[String],
    ) -> DbResult<Vec<String>>;

    // Releases
    async fn create_release(&self, release: NewRelease) -> DbResult<Release>;
    /// Edits text fields if the release is still at `revision` (Conflict otherwise).
    async fn edit_release(&self, id: i64, revision: i64, edit: ReleaseEdit) -> DbResult<Release>;
    /// Changes status, schedule and archive flag if still at `revision`.
    async fn set_release_state(
        &self,
        id: i64,
        revision: i64,
        state: ReleaseState,
    ) -> DbResult<Release>;
    async fn release(&self, id: i64) -> DbResult<Option<ReleaseDetail>>;
    async fn release_id(&self, slug: &str) -> DbResult<Option<i64>>;
    /// Every release (drafts and scheduled first), for the team.
    async fn list_releases(&self, query: &ReleaseQuery) -> DbResult<Vec<Release>>;
    /// Links entries in one transaction; an entry of another release refuses them all,
    /// and so does a release no longer at `revision` when one is given (Conflict).
    async fn link_entries(
        &self,
        release_id: i64,
        entry_ids: &[i64],
        revision: Option<i64>,
    ) -> DbResult<()>;
    /// One entry with the deploy it shipped in.
    async fn linked_entry(&self, id: i64) -> DbResult<Option<LinkedEntry>>;
    async fn unlink_entry(&self, release_id: i64, entry_id: i64) -> DbResult<()>;
    /// Publishes every scheduled release whose time has come, once; their ids.
    async fn publish_due(&self, now: DateTime<Utc>) -> DbResult<Vec<i64>>;
    /// Customer-visible entries in no release yet, newest first.
    async fn candidate_entries(&self, query: &CandidateQuery) -> DbResult<Vec<LinkedEntry>>;
    /// Customer-visible entries shipped to `environment` and in no published or scheduled release, oldest first.
    async fn unannounced(&self, environment: &str) -> DbResult<Vec<LinkedEntry>>;
    /// (announced, all) customer-visible entries shipped to `environment` since `since`.
    async fn announced_share(
        &self,
        environment: &str,
        since: DateTime<Utc>,
    ) -> DbResult<(i64, i64)>;
    /// Published, unarchived releases this reader may see, newest first.
    async fn public_releases(&self, query: &PublicReleaseQuery) -> DbResult<Vec<Release>>;
    /// One published release (archived ones too) if this reader may see it.
    async fn public_release(
        &self,
        environment: &str,
        audiences: &[String],
        slug: &str,
    ) -> DbResult<Option<Release>>;
    async fn public_release_entries(
        &self,
        environment: &str,
        audiences: &[String],
        release_id: i64,
    ) -> DbResult<Vec<PublicEntry>>;

    // Customer accounts, cohorts and private links
    async fn create_account(&self, slug: &str, name: &str) -> DbResult<Account>;
    async fn list_accounts(&self) -> DbResult<Vec<Account>>;
    async fn create_cohort(&self, slug: &str, name: &str) -> DbResult<Cohort>;
    async fn list_cohorts(&self) -> DbResult<Vec<Cohort>>;
    /// Replaces a cohort's members in one transaction; an unknown slug changes nothing.
    async fn set_cohort_members(&self, cohort: &str, accounts: &[String]) -> DbResult<Cohort>;
    /// Revokes the account's live link of this kind and stores the new one, atomically.
    async fn replace_account_link(
        &self,
        account: &str,
        admin: bool,
        token_hash: &str,
    ) -> DbResult<()>;
    async fn revoke_account_link(&self, account: &str, admin: bool) -> DbResult<()>;
    /// The reader behind a live private link.
    async fn reader_by_link(&self, token_hash: &str) -> DbResult<Option<Reader>>;
}
