//! Email subscribers and suppressed addresses.

use super::sql::{sql, Arg, Params};
use super::{Conflict, DbError, DbResult, Kind, SqlStore};
use crate::model::{
    Preferences, Reader, Subscriber, SubscriberStatus, Suppression, SuppressionReason,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A subscriber about to be stored.
#[derive(Clone, Debug)]
pub struct NewSubscriber {
    /// Lowercased and checked by the service.
    pub email: String,
    pub account: Option<String>,
    pub account_admin: bool,
    pub status: SubscriberStatus,
    pub preferences: Preferences,
    pub source: String,
    /// The secret of their links.
    pub token: String,
}

/// Filters of the subscribers list.
#[derive(Clone, Debug, Default)]
pub struct SubscriberQuery {
    /// Part of an address.
    pub search: String,
    /// A status, or `suppressed`.
    pub status: Option<String>,
    /// An account slug, or `none` for members of the public.
    pub account: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// A subscriber as their own links see them: with the secret and the reader
/// they read as.
#[derive(Clone, Debug)]
pub struct SubscriberLink {
    pub subscriber: Subscriber,
    pub token: String,
    pub reader: Reader,
}

#[async_trait]
pub trait SubscriberStore: Send + Sync {
    /// The named secret; `fresh` is stored the first time it is asked for.
    async fn instance_secret(&self, name: &str, fresh: &str) -> DbResult<String>;
    /// Stores a new subscriber; an address already known is
    /// [`DbError::Conflict`] and changes nothing.
    async fn add_subscriber(&self, new: &NewSubscriber) -> DbResult<Subscriber>;
    /// Stores them all in one transaction, or none (the first clash is named).
    async fn add_subscribers(&self, new: &[NewSubscriber]) -> DbResult<Vec<i64>>;
    async fn subscriber(&self, id: i64) -> DbResult<Subscriber>;
    async fn subscriber_by_email(&self, email: &str) -> DbResult<Option<SubscriberLink>>;
    async fn subscriber_by_token(&self, token: &str) -> DbResult<Option<SubscriberLink>>;
    async fn subscriber_link(&self, id: i64) -> DbResult<SubscriberLink>;
    /// Many at once (one query for them, one for their accounts' cohorts).
    async fn subscriber_links(&self, ids: &[i64]) -> DbResult<Vec<SubscriberLink>>;
    /// Which of these addresses are already on the list (in any state).
    async fn existing_emails(&self, emails: &[String]) -> DbResult<Vec<String>>;
    async fn list_subscribers(&self, q: &SubscriberQuery) -> DbResult<(Vec<Subscriber>, i64)>;
    /// Moves to `status` (stamping when it was confirmed or left).
    async fn set_subscriber_status(
        &self,
        id: i64,
        status: SubscriberStatus,
        at: DateTime<Utc>,
    ) -> DbResult<Subscriber>;
    async fn set_preferences(&self, id: i64, p: &Preferences) -> DbResult<Subscriber>;
    async fn set_subscriber_account(
        &self,
        id: i64,
        account: Option<&str>,
        admin: bool,
    ) -> DbResult<Subscriber>;
    /// Records when a confirmation request went out.
    async fn confirmation_sent(&self, id: i64, at: DateTime<Utc>) -> DbResult<()>;
    /// Erases the address and the link secret; the row stays, `removed`.
    async fn remove_subscriber(&self, id: i64, new_token: &str) -> DbResult<()>;
    async fn subscriber_counts(&self) -> DbResult<Vec<(String, i64)>>;
    /// Suppresses an address (again: the newest reason wins).
    async fn suppress(
        &self,
        email: &str,
        reason: SuppressionReason,
        detail: Option<&str>,
        by: &str,
    ) -> DbResult<Suppression>;
    async fn lift_suppression(&self, email: &str) -> DbResult<()>;
    async fn list_suppressions(&self) -> DbResult<Vec<Suppression>>;
    async fn is_suppressed(&self, email: &str) -> DbResult<bool>;
}

pub(super) const SUBSCRIBER_COLUMNS: &str = "s.id, s.email, a.slug AS account, s.account_admin,
    s.status, EXISTS (SELECT 1 FROM suppressions p WHERE p.email = s.email) AS suppressed,
    s.releases, s.digest, s.kinds, s.components, s.source, s.created_at, s.confirmed_at,
    s.unsubscribed_at";

pub(super) const SUBSCRIBER_FROM: &str =
    "subscribers s LEFT JOIN accounts a ON a.id = s.account_id";

#[derive(sqlx::FromRow)]
struct LinkRow {
    #[sqlx(flatten)]
    subscriber: Subscriber,
    token: String,
    account_name: Option<String>,
}

fn kinds_json(p: &Preferences) -> Arg {
    Arg::Json(serde_json::to_value(&p.kinds).expect("kinds serialise"))
}

fn components_json(p: &Preferences) -> Arg {
    Arg::Json(serde_json::to_value(&p.components).expect("components serialise"))
}

impl SqlStore {
    /// The one subscriber `filter` finds, with `:key` in it bound to `key`.
    async fn link_where(&self, filter: &str, key: Arg) -> DbResult<Option<SubscriberLink>> {
        let rows: Vec<LinkRow> = sql(format!(
            "SELECT {SUBSCRIBER_COLUMNS}, s.token, a.name AS account_name
             FROM {SUBSCRIBER_FROM} WHERE {filter}"
        ))
        .set("key", key)
        .all(self.read())
        .await?;
        Ok(self.links(rows).await?.pop())
    }

    /// Rows with the reader each one reads as (one query for the cohorts of
    /// their accounts, when any has an account).
    async fn links(&self, rows: Vec<LinkRow>) -> DbResult<Vec<SubscriberLink>> {
        let memberships: Vec<(String, String)> = if rows.iter().any(|r| r.account_name.is_some()) {
            sql(
                "SELECT a.slug, c.slug FROM cohort_members m JOIN cohorts c ON c.id = m.cohort_id
                 JOIN accounts a ON a.id = m.account_id ORDER BY c.slug",
            )
            .all(self.read())
            .await?
        } else {
            vec![]
        };
        Ok(rows
            .into_iter()
            .map(|row| {
                let reader = match (&row.subscriber.account, row.account_name) {
                    (Some(slug), Some(name)) => Reader::Account {
                        slug: slug.clone(),
                        name,
                        cohorts: memberships
                            .iter()
                            .filter(|(a, _)| a == slug)
                            .map(|(_, c)| c.clone())
                            .collect(),
                        admin: row.subscriber.account_admin,
                    },
                    _ => Reader::Public,
                };
                SubscriberLink {
                    subscriber: row.subscriber,
                    token: row.token,
                    reader,
                }
            })
            .collect())
    }

    async fn account_id(&self, conn: super::sql::Conn<'_>, slug: &str) -> DbResult<i64> {
        sql("SELECT id FROM accounts WHERE slug = :slug")
            .set("slug", slug)
            .scalar(conn)
            .await?
            .ok_or_else(|| super::missing(Kind::Account, slug))
    }
}

const INSERT_SUBSCRIBER: &str = "INSERT INTO subscribers (email, account_id, account_admin,
    status, releases, digest, kinds, components, token, source, created_at, confirmed_at,
    digest_since)
    VALUES (:email, :account_id, :account_admin, :status, :releases, :digest, :kinds,
        :components, :token, :source, :now, :confirmed_at, :now) RETURNING id";

fn insert(new: &NewSubscriber, account_id: Option<i64>, now: DateTime<Utc>) -> super::sql::Sql {
    let confirmed = (new.status == SubscriberStatus::Confirmed).then_some(now);
    sql(INSERT_SUBSCRIBER)
        .set("email", &new.email)
        .set("account_id", account_id)
        .set("account_admin", new.account_admin)
        .set("status", new.status.as_str())
        .set("releases", new.preferences.releases)
        .set("digest", new.preferences.digest.as_str())
        .set("kinds", kinds_json(&new.preferences))
        .set("components", components_json(&new.preferences))
        .set("token", &new.token)
        .set("source", &new.source)
        .set("now", now)
        .set("confirmed_at", confirmed)
}

#[async_trait]
impl SubscriberStore for SqlStore {
    async fn instance_secret(&self, name: &str, fresh: &str) -> DbResult<String> {
        sql(
            "INSERT INTO instance_secrets (name, value, created_at) VALUES (:name, :fresh, :now)
             ON CONFLICT (name) DO NOTHING",
        )
        .set("name", name)
        .set("fresh", fresh)
        .set("now", self.now())
        .execute(self.write())
        .await?;
        sql("SELECT value FROM instance_secrets WHERE name = :name")
            .set("name", name)
            .value(self.write())
            .await
    }

    async fn add_subscriber(&self, new: &NewSubscriber) -> DbResult<Subscriber> {
        let ids = self.add_subscribers(std::slice::from_ref(new)).await?;
        self.subscriber(ids[0]).await
    }

    async fn add_subscribers(&self, new: &[NewSubscriber]) -> DbResult<Vec<i64>> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let mut ids = Vec::with_capacity(new.len());
        for s in new {
            let account_id = match &s.account {
                Some(slug) => Some(self.account_id(tx.conn(), slug).await?),
                None => None,
            };
            let id: i64 = insert(s, account_id, now)
                .or_conflict(Conflict::Taken {
                    what: Kind::Subscriber,
                    key: s.email.clone(),
                })
                .value(tx.conn())
                .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn subscriber(&self, id: i64) -> DbResult<Subscriber> {
        sql(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM {SUBSCRIBER_FROM} WHERE s.id = :id"
        ))
        .set("id", id)
        .one(self.write())
        .await
    }

    async fn subscriber_by_email(&self, email: &str) -> DbResult<Option<SubscriberLink>> {
        self.link_where("s.email = :key", email.into()).await
    }

    async fn subscriber_by_token(&self, token: &str) -> DbResult<Option<SubscriberLink>> {
        self.link_where("s.token = :key AND s.status <> 'removed'", token.into())
            .await
    }

    async fn subscriber_link(&self, id: i64) -> DbResult<SubscriberLink> {
        self.link_where("s.id = :key", id.into())
            .await?
            .ok_or(DbError::NotFound)
    }

    async fn subscriber_links(&self, ids: &[i64]) -> DbResult<Vec<SubscriberLink>> {
        let rows: Vec<LinkRow> = sql(format!(
            "SELECT {SUBSCRIBER_COLUMNS}, s.token, a.name AS account_name
             FROM {SUBSCRIBER_FROM} WHERE {} ORDER BY s.id",
            self.dialect().any("s.id", ":ids")
        ))
        .set("ids", ids)
        .all(self.bulk())
        .await?;
        self.links(rows).await
    }

    async fn existing_emails(&self, emails: &[String]) -> DbResult<Vec<String>> {
        let rows: Vec<(String,)> = sql(format!(
            "SELECT email FROM subscribers WHERE {}",
            self.dialect().any("email", ":emails")
        ))
        .set("emails", emails)
        .all(self.bulk())
        .await?;
        Ok(rows.into_iter().map(|(email,)| email).collect())
    }

    async fn list_subscribers(&self, q: &SubscriberQuery) -> DbResult<(Vec<Subscriber>, i64)> {
        let mut params = Params::default();
        let mut filter = vec!["s.status <> 'removed'".to_string()];
        if !q.search.trim().is_empty() {
            let pattern = format!(
                "%{}%",
                q.search
                    .trim()
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            filter.push(format!("s.email LIKE {} ESCAPE '\\'", params.add(pattern)));
        }
        match q.status.as_deref() {
            None => {}
            Some("suppressed") => {
                filter.push("EXISTS (SELECT 1 FROM suppressions p WHERE p.email = s.email)".into())
            }
            Some(status) => filter.push(format!("s.status = {}", params.add(status))),
        }
        match q.account.as_deref() {
            None => {}
            Some("none") => filter.push("s.account_id IS NULL".into()),
            Some(slug) => filter.push(format!("a.slug = {}", params.add(slug))),
        }
        let filter = filter.join(" AND ");
        let total: i64 = sql(format!(
            "SELECT COUNT(*) FROM {SUBSCRIBER_FROM} WHERE {filter}"
        ))
        .params(params.clone())
        .value(self.read())
        .await?;
        let limit = params.add(q.limit);
        let offset = params.add(q.offset);
        let rows = sql(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM {SUBSCRIBER_FROM} WHERE {filter}
             ORDER BY s.id DESC LIMIT {limit} OFFSET {offset}"
        ))
        .params(params)
        .all(self.read())
        .await?;
        Ok((rows, total))
    }

    async fn set_subscriber_status(
        &self,
        id: i64,
        status: SubscriberStatus,
        at: DateTime<Utc>,
    ) -> DbResult<Subscriber> {
        let stamp = match status {
            SubscriberStatus::Confirmed => {
                // Confirming again keeps the first time; a digest starts from now.
                "confirmed_at = COALESCE(confirmed_at, :at), unsubscribed_at = NULL,
                 digest_since = CASE WHEN status = 'confirmed' THEN digest_since ELSE :at END, "
            }
            SubscriberStatus::Unsubscribed => "unsubscribed_at = COALESCE(unsubscribed_at, :at), ",
            _ => "",
        };
        let update = sql(format!(
            "UPDATE subscribers SET {stamp}status = :status WHERE id = :id AND status <> 'removed'"
        ))
        .set("id", id)
        .set("status", status.as_str());
        let update = if stamp.is_empty() {
            update
        } else {
            update.set("at", at)
        };
        update.change_one(self.write()).await?;
        self.subscriber(id).await
    }

    async fn set_preferences(&self, id: i64, p: &Preferences) -> DbResult<Subscriber> {
        sql(
            "UPDATE subscribers SET releases = :releases, digest = :digest, kinds = :kinds, components = :components
             WHERE id = :id AND status <> 'removed'",
        )
        .set("id", id)
        .set("releases", p.releases)
        .set("digest", p.digest.as_str())
        .set("kinds", kinds_json(p))
        .set("components", components_json(p))
        .change_one(self.write())
        .await?;
        self.subscriber(id).await
    }

    async fn set_subscriber_account(
        &self,
        id: i64,
        account: Option<&str>,
        admin: bool,
    ) -> DbResult<Subscriber> {
        let mut tx = self.begin().await?;
        let account_id = match account {
            Some(slug) => Some(self.account_id(tx.conn(), slug).await?),
            None => None,
        };
        sql(
            "UPDATE subscribers SET account_id = :account_id, account_admin = :account_admin
             WHERE id = :id AND status <> 'removed'",
        )
        .set("id", id)
        .set("account_id", account_id)
        .set("account_admin", admin && account_id.is_some())
        .change_one(tx.conn())
        .await?;
        tx.commit().await?;
        self.subscriber(id).await
    }

    async fn confirmation_sent(&self, id: i64, at: DateTime<Utc>) -> DbResult<()> {
        sql("UPDATE subscribers SET confirm_sent_at = :at WHERE id = :id")
            .set("id", id)
            .set("at", at)
            .execute(self.write())
            .await?;
        Ok(())
    }

    async fn remove_subscriber(&self, id: i64, new_token: &str) -> DbResult<()> {
        let mut tx = self.begin().await?;
        sql(
            "UPDATE subscribers SET email = NULL, token = :new_token, status = 'removed',
             unsubscribed_at = COALESCE(unsubscribed_at, :now) WHERE id = :id AND status <> 'removed'",
        )
        .set("id", id)
        .set("new_token", new_token)
        .set("now", self.now())
        .change_one(tx.conn())
        .await?;
        // Nothing more goes to them.
        sql("UPDATE deliveries SET status = 'skipped', error = 'removed'
             WHERE subscriber_id = :id AND status = 'queued'")
        .set("id", id)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    async fn subscriber_counts(&self) -> DbResult<Vec<(String, i64)>> {
        sql("SELECT status, COUNT(*) FROM subscribers GROUP BY status ORDER BY status")
            .all(self.read())
            .await
    }

    async fn suppress(
        &self,
        email: &str,
        reason: SuppressionReason,
        detail: Option<&str>,
        by: &str,
    ) -> DbResult<Suppression> {
        sql(
            "INSERT INTO suppressions (email, reason, detail, created_by, created_at)
             VALUES (:email, :reason, :detail, :by, :now)
             ON CONFLICT (email) DO UPDATE SET reason = excluded.reason,
                 detail = excluded.detail, created_by = excluded.created_by,
                 created_at = excluded.created_at
             RETURNING email, reason, detail, created_by, created_at",
        )
        .set("email", email)
        .set("reason", reason.as_str())
        .set("detail", detail)
        .set("by", by)
        .set("now", self.now())
        .one(self.write())
        .await
    }

    async fn lift_suppression(&self, email: &str) -> DbResult<()> {
        sql("DELETE FROM suppressions WHERE email = :email")
            .set("email", email)
            .change_one(self.write())
            .await
    }

    async fn list_suppressions(&self) -> DbResult<Vec<Suppression>> {
        sql(
            "SELECT email, reason, detail, created_by, created_at FROM suppressions
             ORDER BY created_at DESC, email",
        )
        .all(self.read())
        .await
    }

    async fn is_suppressed(&self, email: &str) -> DbResult<bool> {
        Ok(sql("SELECT 1 FROM suppressions WHERE email = :email")
            .set("email", email)
            .scalar::<i64>(self.read())
            .await?
            .is_some())
    }
}
