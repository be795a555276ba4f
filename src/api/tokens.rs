//! API tokens for CI (admins only).

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use leptos::prelude::*;

#[server(prefix = "/fn", endpoint = "tokens")]
pub async fn load_tokens() -> Result<Vec<ApiToken>, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::tokens::list(&state.db, &actor).await?)
}

#[server(prefix = "/fn", endpoint = "create_token")]
pub async fn create_token(name: String, role: String) -> Result<NewApiToken, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::tokens::create(&state.db, &actor, &name, &role).await?)
}

#[server(prefix = "/fn", endpoint = "revoke_token")]
pub async fn revoke_token(id: i64) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::tokens::revoke(&state.db, &actor, id).await?;
    Ok(())
}
