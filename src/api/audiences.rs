//! Customer accounts, cohorts and private links, for the app.

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Audiences {
    pub accounts: Vec<Account>,
    pub cohorts: Vec<Cohort>,
}

#[server(prefix = "/fn", endpoint = "audiences")]
pub async fn load_audiences() -> Result<Audiences, FnError> {
    use crate::server::service::audiences;
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(Audiences {
        accounts: audiences::list_accounts(&state.db, &actor).await?,
        cohorts: audiences::list_cohorts(&state.db, &actor).await?,
    })
}

#[server(prefix = "/fn", endpoint = "create_account")]
pub async fn create_account(slug: String, name: String) -> Result<Account, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::audiences::create_account(&state.db, &actor, &slug, &name).await?)
}

#[server(prefix = "/fn", endpoint = "create_cohort")]
pub async fn create_cohort(slug: String, name: String) -> Result<Cohort, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::audiences::create_cohort(&state.db, &actor, &slug, &name).await?)
}

#[server(prefix = "/fn", endpoint = "set_cohort_members")]
pub async fn set_cohort_members(cohort: String, accounts: Vec<String>) -> Result<Cohort, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(
        crate::server::service::audiences::set_members(&state.db, &actor, &cohort, &accounts)
            .await?,
    )
}

#[server(prefix = "/fn", endpoint = "create_account_link")]
pub async fn create_account_link(account: String, admin: bool) -> Result<NewAccountLink, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    let config = state.config.clone();
    Ok(crate::server::service::audiences::create_link(
        &state.db,
        &actor,
        |p| config.link(p),
        &account,
        admin,
    )
    .await?)
}

#[server(prefix = "/fn", endpoint = "revoke_account_link")]
pub async fn revoke_account_link(account: String, admin: bool) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::audiences::revoke_link(&state.db, &actor, &account, admin).await?;
    Ok(())
}
