//! API tokens for CI: created by admins, shown once, stored hashed.

use super::{validate, Actor};
use crate::model::*;
use crate::server::auth::token;
use crate::server::db::{Db, NewToken};
use crate::server::error::AppError;
use chrono::TimeDelta;

pub const PREFIX: &str = "shp_";

/// Creates a token; people need the admin role, the command line
/// (`Actor::system`) may too.
pub async fn create(
    db: &Db,
    actor: &Actor,
    name: &str,
    role: &str,
) -> Result<NewApiToken, AppError> {
    actor.require(actor.role.is_admin(), "create API tokens")?;
    let name = validate::token_name("name", name)?;
    let role: Role = validate::choice("role", role)?;
    let secret = token::generate(PREFIX);
    let created = db
        .create_token(NewToken {
            name,
            role,
            token_hash: token::hash(&secret),
            prefix: secret[..PREFIX.len() + 6].to_string(),
            created_by: actor.user_id,
        })
        .await?;
    tracing::info!(token = created.id, role = %role, by = %actor.label, "API token created");
    Ok(NewApiToken {
        token: created,
        secret,
    })
}

/// The token behind a bearer secret, if it exists and is not revoked.
pub async fn authenticate(db: &Db, secret: &str) -> Result<Actor, AppError> {
    let invalid = || AppError::unauthorized("The API token is invalid or has been revoked.");
    let found = db
        .token_by_hash(&token::hash(secret.trim()))
        .await?
        .ok_or_else(invalid)?;
    if found.revoked_at.is_some() {
        return Err(invalid());
    }
    // Last-used is informative: a minute's precision spares a write per request.
    let now = db.now();
    if found
        .last_used_at
        .is_none_or(|t| now - t > TimeDelta::minutes(1))
    {
        db.touch_token(found.id, now).await?;
    }
    Ok(Actor {
        label: format!("token:{}", found.name),
        role: found.role,
        user_id: None,
    })
}

pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<ApiToken>, AppError> {
    actor.require(actor.role.is_admin(), "manage API tokens")?;
    Ok(db.list_tokens().await?)
}

pub async fn revoke(db: &Db, actor: &Actor, id: i64) -> Result<ApiToken, AppError> {
    actor.require(actor.role.is_admin(), "revoke API tokens")?;
    let t = db.revoke_token(id, db.now()).await?;
    tracing::info!(token = id, by = %actor.label, "API token revoked");
    Ok(t)
}
