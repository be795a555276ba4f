//! Customer accounts, cohorts and the private links that make a reader.

use super::sql::sql;
use super::{Conflict, DbError, DbResult, Kind, SqlStore};
use crate::model::{Account, Cohort, Reader};
use async_trait::async_trait;

#[async_trait]
pub trait AudienceStore: Send + Sync {
    async fn create_account(&self, slug: &str, name: &str) -> DbResult<Account>;
    async fn list_accounts(&self) -> DbResult<Vec<Account>>;
    async fn create_cohort(&self, slug: &str, name: &str) -> DbResult<Cohort>;
    async fn list_cohorts(&self) -> DbResult<Vec<Cohort>>;
    /// Replaces a cohort's members in one transaction; an unknown slug changes nothing.
    async fn set_cohort_members(&self, cohort: &str, accounts: &[String]) -> DbResult<Cohort>;
    /// Revokes the account's live link of this kind and stores the new one, atomically.
    async fn replace_account_link(
        &self,
        account: &str,
        admin: bool,
        token_hash: &str,
    ) -> DbResult<()>;
    async fn revoke_account_link(&self, account: &str, admin: bool) -> DbResult<()>;
    /// The reader behind a live private link.
    async fn reader_by_link(&self, token_hash: &str) -> DbResult<Option<Reader>>;
}

#[derive(sqlx::FromRow)]
struct LinkOwner {
    id: i64,
    slug: String,
    name: String,
    is_admin: bool,
}

#[async_trait]
impl AudienceStore for SqlStore {
    async fn create_account(&self, slug: &str, name: &str) -> DbResult<Account> {
        let id: i64 =
            sql("INSERT INTO accounts (slug, name, created_at) VALUES (:slug, :name, :now) RETURNING id")
                .set("slug", slug)
                .set("name", name)
                .set("now", self.now())
                .or_conflict(Conflict::Taken {
                    what: Kind::Account,
                    key: slug.to_string(),
                })
                .value(self.write())
                .await?;
        let mut accounts = self.list_accounts().await?;
        accounts.retain(|a| a.id == id);
        accounts.pop().ok_or(DbError::NotFound)
    }

    async fn list_accounts(&self) -> DbResult<Vec<Account>> {
        let mut accounts: Vec<Account> = sql("SELECT a.id, a.slug, a.name, a.created_at,
                EXISTS (SELECT 1 FROM account_links l WHERE l.account_id = a.id
                        AND l.is_admin = FALSE AND l.revoked_at IS NULL) AS has_link,
                EXISTS (SELECT 1 FROM account_links l WHERE l.account_id = a.id
                        AND l.is_admin = TRUE AND l.revoked_at IS NULL) AS has_admin_link
             FROM accounts a ORDER BY a.name, a.id")
        .all(self.read())
        .await?;
        let memberships: Vec<(i64, String)> =
            sql("SELECT m.account_id, c.slug FROM cohort_members m
             JOIN cohorts c ON c.id = m.cohort_id ORDER BY c.slug")
            .all(self.read())
            .await?;
        for account in &mut accounts {
            account.cohorts = of(account.id, &memberships);
        }
        Ok(accounts)
    }

    async fn create_cohort(&self, slug: &str, name: &str) -> DbResult<Cohort> {
        sql("INSERT INTO cohorts (slug, name, created_at) VALUES (:slug, :name, :now)")
            .set("slug", slug)
            .set("name", name)
            .set("now", self.now())
            .or_conflict(Conflict::Taken {
                what: Kind::Cohort,
                key: slug.to_string(),
            })
            .execute(self.write())
            .await?;
        let mut cohorts = self.list_cohorts().await?;
        cohorts.retain(|c| c.slug == slug);
        cohorts.pop().ok_or(DbError::NotFound)
    }

    async fn list_cohorts(&self) -> DbResult<Vec<Cohort>> {
        let mut cohorts: Vec<Cohort> =
            sql("SELECT id, slug, name, created_at FROM cohorts ORDER BY slug")
                .all(self.read())
                .await?;
        let members: Vec<(i64, String)> = sql("SELECT m.cohort_id, a.slug FROM cohort_members m
             JOIN accounts a ON a.id = m.account_id ORDER BY a.slug")
        .all(self.read())
        .await?;
        for cohort in &mut cohorts {
            cohort.members = of(cohort.id, &members);
        }
        Ok(cohorts)
    }

    async fn set_cohort_members(&self, cohort: &str, accounts: &[String]) -> DbResult<Cohort> {
        let mut tx = self.begin().await?;
        let cohort_id: i64 = sql("SELECT id FROM cohorts WHERE slug = :cohort")
            .set("cohort", cohort)
            .scalar(tx.conn())
            .await?
            .ok_or_else(|| super::missing(Kind::Cohort, cohort))?;
        sql("DELETE FROM cohort_members WHERE cohort_id = :cohort_id")
            .set("cohort_id", cohort_id)
            .execute(tx.conn())
            .await?;
        for slug in accounts {
            let account_id: i64 = sql("SELECT id FROM accounts WHERE slug = :slug")
                .set("slug", slug)
                .scalar(tx.conn())
                .await?
                .ok_or_else(|| super::missing(Kind::Account, slug))?;
            sql(
                "INSERT INTO cohort_members (cohort_id, account_id) VALUES (:cohort_id, :account_id)
                 ON CONFLICT DO NOTHING",
            )
            .set("cohort_id", cohort_id)
            .set("account_id", account_id)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await?;
        let mut cohorts = self.list_cohorts().await?;
        cohorts.retain(|c| c.id == cohort_id);
        cohorts.pop().ok_or(DbError::NotFound)
    }

    async fn replace_account_link(
        &self,
        account: &str,
        admin: bool,
        token_hash: &str,
    ) -> DbResult<()> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let account_id: i64 = sql("SELECT id FROM accounts WHERE slug = :account")
            .set("account", account)
            .value(tx.conn())
            .await?;
        sql("UPDATE account_links SET revoked_at = :now
             WHERE account_id = :account_id AND is_admin = :admin AND revoked_at IS NULL")
        .set("account_id", account_id)
        .set("admin", admin)
        .set("now", now)
        .execute(tx.conn())
        .await?;
        sql(
            "INSERT INTO account_links (account_id, token_hash, is_admin, created_at)
             VALUES (:account_id, :token_hash, :admin, :now)",
        )
        .set("account_id", account_id)
        .set("token_hash", token_hash)
        .set("admin", admin)
        .set("now", now)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    async fn revoke_account_link(&self, account: &str, admin: bool) -> DbResult<()> {
        sql("UPDATE account_links SET revoked_at = :now
             WHERE is_admin = :admin AND revoked_at IS NULL
               AND account_id = (SELECT id FROM accounts WHERE slug = :account)")
        .set("account", account)
        .set("admin", admin)
        .set("now", self.now())
        .change_one(self.write())
        .await
    }

    async fn reader_by_link(&self, token_hash: &str) -> DbResult<Option<Reader>> {
        let owner: Option<LinkOwner> = sql(
            "SELECT a.id, a.slug, a.name, l.is_admin FROM account_links l
             JOIN accounts a ON a.id = l.account_id
             WHERE l.token_hash = :token_hash AND l.revoked_at IS NULL",
        )
        .set("token_hash", token_hash)
        .optional(self.read())
        .await?;
        let Some(owner) = owner else { return Ok(None) };
        let cohorts: Vec<String> = sql(
            "SELECT c.slug FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id
             WHERE m.account_id = :id ORDER BY c.slug",
        )
        .set("id", owner.id)
        .column(self.read())
        .await?;
        Ok(Some(Reader::Account {
            slug: owner.slug,
            name: owner.name,
            cohorts,
            admin: owner.is_admin,
        }))
    }
}

/// The slugs paired with `id` in `(id, slug)` pairs, in their order.
fn of(id: i64, pairs: &[(i64, String)]) -> Vec<String> {
    pairs
        .iter()
        .filter(|(owner, _)| *owner == id)
        .map(|(_, slug)| slug.clone())
        .collect()
}
