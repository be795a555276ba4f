//! Browser sessions: tower-sessions, stored in the application's own database.

use crate::model::User;
use crate::server::error::AppError;
use crate::server::state::AppState;
use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions::Session;

/// The session key holding the signed-in person's id.
const USER_ID: &str = "user_id";

/// tower-sessions' sqlx store for whichever database was chosen at start-up.
#[derive(Clone, Debug)]
pub enum SessionBackend {
    Sqlite(tower_sessions_sqlx_store::SqliteStore),
    Postgres(tower_sessions_sqlx_store::PostgresStore),
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            SessionBackend::Sqlite(s) => s.create(record).await,
            SessionBackend::Postgres(s) => s.create(record).await,
        }
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            SessionBackend::Sqlite(s) => s.save(record).await,
            SessionBackend::Postgres(s) => s.save(record).await,
        }
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            SessionBackend::Sqlite(s) => s.load(id).await,
            SessionBackend::Postgres(s) => s.load(id).await,
        }
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            SessionBackend::Sqlite(s) => s.delete(id).await,
            SessionBackend::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for SessionBackend {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            SessionBackend::Sqlite(s) => s.delete_expired().await,
            SessionBackend::Postgres(s) => s.delete_expired().await,
        }
    }
}

/// Starts a signed-in session under a fresh id (so a planted id is worthless).
pub async fn sign_in(session: &Session, user: &User) -> Result<(), AppError> {
    session
        .cycle_id()
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("session cycle failed: {e}")))?;
    session
        .insert(USER_ID, user.id)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("session write failed: {e}")))
}

/// Ends the session on the server, not just in the browser.
pub async fn sign_out(session: &Session) -> Result<(), AppError> {
    session
        .flush()
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("session flush failed: {e}")))
}

/// The signed-in, still active person, if any.
pub async fn current_user(state: &AppState, session: &Session) -> Result<Option<User>, AppError> {
    let id: Option<i64> = session
        .get(USER_ID)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("session read failed: {e}")))?;
    let Some(id) = id else { return Ok(None) };
    let user = state.db.user_by_id(id).await?;
    Ok(user.filter(|u| u.active))
}
