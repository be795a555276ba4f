//! Browser sessions: tower-sessions, stored in the application's own database.

use crate::model::User;
use crate::server::error::AppError;
use crate::server::service::sessions;
use crate::server::state::AppState;
use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions::Session;

/// The session key naming the browser's sign-in row (`sign_ins.id`).
const SIGN_IN: &str = "sign_in";
/// Rewritten when the sign-in is seen again, so the cookie's expiry moves on.
const SEEN: &str = "seen";

/// The session cookie's name: `__Host-` (Secure, path `/`, no domain, so no
/// other host or path can set it) when people reach Shiplog over https.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-shiplog_session"
    } else {
        "shiplog_session"
    }
}

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

fn failed(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::internal(anyhow::anyhow!("session {what} failed: {e}"))
}

/// Starts a signed-in session under a fresh id (so a planted id is worthless),
/// recorded as a sign-in from this browser.
pub async fn sign_in(
    state: &AppState,
    session: &Session,
    user: &User,
    ip: &str,
    user_agent: &str,
) -> Result<(), AppError> {
    if let Some(old) = sign_in_of(session).await? {
        sessions::end_quietly(&state.db, user.id, old).await?;
    }
    let id = sessions::begin(&state.db, user, ip, user_agent).await?;
    session.cycle_id().await.map_err(|e| failed("cycle", e))?;
    session
        .insert(SIGN_IN, id)
        .await
        .map_err(|e| failed("write", e))
}

/// Ends the session on the server, not just in the browser.
pub async fn sign_out(state: &AppState, session: &Session) -> Result<(), AppError> {
    if let Some(id) = sign_in_of(session).await? {
        if let Some(found) = state.db.signed_in(id).await? {
            sessions::end_quietly(&state.db, found.user.id, id).await?;
        }
    }
    session.flush().await.map_err(|e| failed("flush", e))
}

/// The sign-in this browser's session names, if any.
pub async fn sign_in_of(session: &Session) -> Result<Option<i64>, AppError> {
    session.get(SIGN_IN).await.map_err(|e| failed("read", e))
}

/// The signed-in, still active person, if any. A session that has ended
/// (signed out elsewhere, idle or too old) is emptied here.
pub async fn current_user(state: &AppState, session: &Session) -> Result<Option<User>, AppError> {
    let Some(id) = sign_in_of(session).await? else {
        return Ok(None);
    };
    let (user, touched) = sessions::resume(&state.db, id, state.config.sessions).await?;
    match &user {
        None => session.flush().await.map_err(|e| failed("flush", e))?,
        Some(_) if touched => session
            .insert(SEEN, chrono::Utc::now().timestamp())
            .await
            .map_err(|e| failed("write", e))?,
        Some(_) => {}
    }
    Ok(user)
}
