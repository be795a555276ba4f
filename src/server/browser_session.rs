//! The browser's session (tower-sessions, stored by `db::sessions`): signing
//! in and out, and who is signed in now, through the sessions service.

use crate::model::User;
use crate::server::auth::session::{SEEN, SIGN_IN};
use crate::server::error::AppError;
use crate::server::service::sessions;
use crate::server::state::AppState;
use tower_sessions::Session;

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
            .insert(SEEN, state.db.now().timestamp())
            .await
            .map_err(|e| failed("write", e))?,
        Some(_) => {}
    }
    Ok(user)
}
