//! The holes page: where testing and monitoring let defects through, and
//! whether the team repairs them as fast as it finds them.

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use leptos::prelude::*;

#[server(prefix = "/fn", endpoint = "holes")]
pub async fn load_holes() -> Result<HolesReport, FnError> {
    let (state, _, _) = ctx::signed_in().await?;
    Ok(crate::server::service::root_causes::report(&state.db).await?)
}
