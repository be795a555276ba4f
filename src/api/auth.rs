//! Signing in and out, the first admin, accepting invitations.

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use leptos::prelude::*;

/// The person signed in, if any.
#[server(prefix = "/fn", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<User>, FnError> {
    use crate::server::browser_session as session;
    let state = ctx::state()?;
    let s = ctx::session().await?;
    Ok(session::current_user(&state, &s).await?)
}

#[server(prefix = "/fn", endpoint = "create_admin")]
pub async fn create_admin(email: String, name: String, password: String) -> Result<(), FnError> {
    use crate::server::service::users;
    let state = ctx::state()?;
    let user = users::create_first_admin(&state.db, &email, &name, &password).await?;
    ctx::start_session(&state, &user).await?;
    leptos_axum::redirect("/app");
    Ok(())
}

#[server(prefix = "/fn", endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), FnError> {
    use crate::server::service::users;
    let state = ctx::state()?;
    let address = ctx::client_address(&state).await;
    let device = ctx::known_device(&state, &email).await?;
    let user =
        users::authenticate(&state.db, &email, &password, &address, device.as_deref()).await?;
    ctx::start_session(&state, &user).await?;
    // Only a path of this site, never an absolute URL elsewhere.
    let target = crate::server::service::validate::next_path(next.as_deref());
    leptos_axum::redirect(&target);
    Ok(())
}

#[server(prefix = "/fn", endpoint = "logout")]
pub async fn logout() -> Result<(), FnError> {
    let state = ctx::state()?;
    crate::server::browser_session::sign_out(&state, &ctx::session().await?).await?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// The invitation behind a link, to greet the invited person.
#[server(prefix = "/fn", endpoint = "invitation")]
pub async fn load_invitation(token: String) -> Result<Invitation, FnError> {
    let state = ctx::state()?;
    Ok(crate::server::service::users::open_invitation(&state.db, &token).await?)
}

#[server(prefix = "/fn", endpoint = "accept_invitation")]
pub async fn accept_invitation(
    token: String,
    name: String,
    password: String,
) -> Result<(), FnError> {
    use crate::server::service::users;
    let state = ctx::state()?;
    let user = users::accept_invitation(&state.db, &token, &name, &password).await?;
    ctx::start_session(&state, &user).await?;
    leptos_axum::redirect("/app");
    Ok(())
}

/// Where the signed-in person is signed in (this browser marked `current`).
#[server(prefix = "/fn", endpoint = "my_sessions")]
pub async fn my_sessions() -> Result<Vec<SignIn>, FnError> {
    let (state, user, here) = ctx::signed_in_here().await?;
    Ok(crate::server::service::sessions::list(&state.db, &user, here).await?)
}

/// Signs one of the person's other browsers out.
#[server(prefix = "/fn", endpoint = "end_session")]
pub async fn end_session(id: i64) -> Result<(), FnError> {
    let (state, user, here) = ctx::signed_in_here().await?;
    Ok(crate::server::service::sessions::end(&state.db, &user, here, id).await?)
}

/// Signs every other browser of the person out; answers how many.
#[server(prefix = "/fn", endpoint = "end_other_sessions")]
pub async fn end_other_sessions() -> Result<u64, FnError> {
    let (state, user, here) = ctx::signed_in_here().await?;
    Ok(crate::server::service::sessions::end_others(&state.db, &user, here).await?)
}
