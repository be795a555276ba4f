//! Server functions: the browser app's calls. Each one authorises, calls a
//! service and maps the error; no SQL and no domain rule lives here.

pub mod actions;
pub mod audiences;
pub mod auth;
pub mod deploys;
pub mod email;
pub mod gates;
pub mod holes;
pub mod incidents;
pub mod metrics;
pub mod people;
pub mod releases;
pub mod retros;
pub mod safety;
pub mod tokens;

#[cfg(feature = "ssr")]
mod ctx {
    use crate::model::FnError;
    use crate::model::User;
    use crate::server::browser_session as session;
    use crate::server::error::AppError;
    use crate::server::service::Actor;
    use crate::server::state::AppState;
    use leptos::prelude::*;
    use tower_sessions::Session;

    pub fn state() -> Result<AppState, FnError> {
        use_context::<AppState>().ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("application state is missing")).into()
        })
    }

    pub async fn session() -> Result<Session, FnError> {
        leptos_axum::extract::<Session>()
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("session unavailable: {e}")).into())
    }

    /// The signed-in person, or an error asking to sign in.
    pub async fn signed_in() -> Result<(AppState, User, Actor), FnError> {
        let state = state()?;
        let session = session().await?;
        let user = session::current_user(&state, &session)
            .await?
            .ok_or_else(AppError::sign_in_required)?;
        let actor = Actor::person(&user);
        Ok((state, user, actor))
    }

    /// This browser's device id for `email`, when its device cookie says it
    /// signed in as that account before.
    pub async fn known_device(state: &AppState, email: &str) -> Result<Option<String>, FnError> {
        let headers = leptos_axum::extract::<axum::http::HeaderMap>()
            .await
            .unwrap_or_default();
        let secure = state.config.secure_cookies();
        let Some(value) = crate::server::auth::device::from_headers(&headers, secure) else {
            return Ok(None);
        };
        let signer = state.signer().await?;
        Ok(crate::server::auth::device::verify(
            signer,
            &value,
            email,
            state.db.now(),
        ))
    }

    /// Signs this browser in as `user`, recording where from, and remembers
    /// the browser as one `user` signs in from (its device cookie).
    pub async fn start_session(state: &AppState, user: &User) -> Result<(), FnError> {
        let signer = state.signer().await?;
        let value = crate::server::auth::device::issue(signer, &user.email, state.db.now());
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            let cookie =
                crate::server::auth::device::set_cookie(&value, state.config.secure_cookies());
            if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
                res.append_header(axum::http::header::SET_COOKIE, v);
            }
        }
        let address = client_address(state).await;
        let headers = leptos_axum::extract::<axum::http::HeaderMap>()
            .await
            .unwrap_or_default();
        let agent = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        Ok(session::sign_in(state, &session().await?, user, &address, agent).await?)
    }

    /// The signed-in person and the sign-in this browser's session names.
    pub async fn signed_in_here() -> Result<(AppState, User, i64), FnError> {
        let (state, user, _) = signed_in().await?;
        let id = session::sign_in_of(&session().await?)
            .await?
            .ok_or_else(AppError::sign_in_required)?;
        Ok((state, user, id))
    }

    /// The address a request came from, for sign-in throttling.
    pub async fn client_address(state: &AppState) -> String {
        use axum::extract::ConnectInfo;
        use std::net::SocketAddr;
        let peer = leptos_axum::extract::<ConnectInfo<SocketAddr>>()
            .await
            .ok()
            .map(|ci| ci.0.ip());
        let headers = leptos_axum::extract::<axum::http::HeaderMap>()
            .await
            .unwrap_or_default();
        crate::server::auth::client::client_address(peer, &headers, &state.config.trusted_proxies)
    }
}

/// The message to show for a failed call.
pub fn error_text(e: &crate::model::FnError) -> String {
    e.message.clone()
}
