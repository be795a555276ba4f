//! Blocks for the team's pages: placed from the home page by anyone signed
//! in (viewers too), lifted with a note, and their history.

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use leptos::prelude::*;

/// Blocks an environment (or, with `entry_id` or `component`, one change or a component).
#[server(prefix = "/fn", endpoint = "place_block")]
pub async fn place_block(input: BlockInput) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::gates::place_block(&state.db, state.config.time_zone, &actor, input)
        .await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "lift_block")]
pub async fn lift_block(id: i64, note: String) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::gates::lift_block(&state.db, &actor, id, &note).await?;
    Ok(())
}

/// Every block, newest first: holding, expired and lifted.
#[server(prefix = "/fn", endpoint = "blocks")]
pub async fn load_blocks() -> Result<Vec<Block>, FnError> {
    let (state, _, _) = ctx::signed_in().await?;
    Ok(crate::server::service::gates::blocks(&state.db, None, false).await?)
}
