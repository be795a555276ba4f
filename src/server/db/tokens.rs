//! API tokens: stored as a hash with a recognisable prefix.

use super::sql::sql;
use super::{DbResult, SqlStore};
use crate::model::{ApiToken, Role};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub token_hash: String,
    pub prefix: String,
    pub created_by: Option<i64>,
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn create_token(&self, token: NewToken) -> DbResult<ApiToken>;
    async fn token_by_hash(&self, token_hash: &str) -> DbResult<Option<ApiToken>>;
    async fn touch_token(&self, id: i64, at: DateTime<Utc>) -> DbResult<()>;
    async fn list_tokens(&self) -> DbResult<Vec<ApiToken>>;
    /// Revokes once: revoking again keeps the first time.
    async fn revoke_token(&self, id: i64, at: DateTime<Utc>) -> DbResult<ApiToken>;
}

pub(super) const COLUMNS: &str = "id, name, role, prefix, created_at, last_used_at, revoked_at";

#[async_trait]
impl TokenStore for SqlStore {
    async fn create_token(&self, token: NewToken) -> DbResult<ApiToken> {
        sql(format!(
            "INSERT INTO api_tokens (name, role, token_hash, prefix, created_by, created_at)
             VALUES (:name, :role, :token_hash, :prefix, :created_by, :now) RETURNING {COLUMNS}"
        ))
        .set("name", &token.name)
        .set("role", token.role.as_str())
        .set("token_hash", &token.token_hash)
        .set("prefix", &token.prefix)
        .set("created_by", token.created_by)
        .set("now", self.now())
        .one(self.write())
        .await
    }

    async fn token_by_hash(&self, token_hash: &str) -> DbResult<Option<ApiToken>> {
        sql(format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE token_hash = :token_hash"
        ))
        .set("token_hash", token_hash)
        .optional(self.read())
        .await
    }

    async fn touch_token(&self, id: i64, at: DateTime<Utc>) -> DbResult<()> {
        sql("UPDATE api_tokens SET last_used_at = :at WHERE id = :id")
            .set("id", id)
            .set("at", at)
            .execute(self.write())
            .await?;
        Ok(())
    }

    async fn list_tokens(&self) -> DbResult<Vec<ApiToken>> {
        sql(format!(
            "SELECT {COLUMNS} FROM api_tokens
             ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC"
        ))
        .all(self.read())
        .await
    }

    async fn revoke_token(&self, id: i64, at: DateTime<Utc>) -> DbResult<ApiToken> {
        sql(format!(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, :at) WHERE id = :id
             RETURNING {COLUMNS}"
        ))
        .set("id", id)
        .set("at", at)
        .one(self.write())
        .await
    }
}
