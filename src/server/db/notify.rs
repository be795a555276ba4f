//! Failure notifications: what each person chose to be emailed about, the
//! notifications raised, the outgoing webhooks and their delivery log.

use super::sql::{sql, Params};
use super::{Conflict, DbError, DbResult, SqlStore};
use crate::model::{NotifyEvent, Webhook, WebhookDelivery, WebhookFormat};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub struct NewNotification {
    pub event: NotifyEvent,
    pub payload: serde_json::Value,
    pub summary: String,
    pub link: Option<String>,
}

/// A notification not emailed yet.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Unmailed {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub event: NotifyEvent,
    pub summary: String,
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<NotifyEvent>,
    pub secret: String,
    pub format: WebhookFormat,
    pub created_by: String,
}

/// A delivery whose time has come, with what sending it needs.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DueDelivery {
    pub id: i64,
    pub webhook_id: i64,
    pub url: String,
    pub secret: String,
    #[sqlx(try_from = "String")]
    pub format: WebhookFormat,
    pub event: String,
    #[sqlx(json)]
    pub payload: serde_json::Value,
    pub summary: String,
    pub link: Option<String>,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
}

/// How an attempt went.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub state: crate::model::DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub response_code: Option<i64>,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: i64,
    url: String,
    #[sqlx(json)]
    events: Vec<String>,
    #[sqlx(try_from = "String")]
    format: WebhookFormat,
    created_by: String,
    created_at: DateTime<Utc>,
    delivered: i64,
    failed: i64,
    pending: i64,
}

impl From<WebhookRow> for Webhook {
    fn from(r: WebhookRow) -> Webhook {
        Webhook {
            id: r.id,
            url: r.url,
            events: r.events.iter().filter_map(|e| e.parse().ok()).collect(),
            format: r.format,
            created_by: r.created_by,
            created_at: r.created_at,
            delivered: r.delivered,
            failed: r.failed,
            pending: r.pending,
        }
    }
}

#[async_trait]
pub trait NotifyStore: Send + Sync {
    async fn notification_prefs(&self, user: i64) -> DbResult<Vec<String>>;
    async fn set_notification_prefs(&self, user: i64, events: &[NotifyEvent]) -> DbResult<()>;
    /// Active team members who chose `event`: (email, name).
    async fn notify_recipients(&self, event: NotifyEvent) -> DbResult<Vec<(String, String)>>;
    /// Records a notification and queues it for every webhook that wants it,
    /// in one transaction.
    async fn record_notification(&self, new: &NewNotification) -> DbResult<i64>;
    async fn unmailed_notifications(&self, since: DateTime<Utc>) -> DbResult<Vec<Unmailed>>;
    async fn mark_emailed(&self, id: i64, at: DateTime<Utc>) -> DbResult<()>;
    async fn create_webhook(&self, new: &NewWebhook) -> DbResult<i64>;
    /// Webhooks not removed, oldest first.
    async fn webhooks(&self) -> DbResult<Vec<Webhook>>;
    async fn remove_webhook(&self, id: i64) -> DbResult<()>;
    async fn due_deliveries(&self, now: DateTime<Utc>, limit: i64) -> DbResult<Vec<DueDelivery>>;
    /// Takes a due delivery for `until` unless another worker took it first.
    async fn claim_delivery(
        &self,
        id: i64,
        due: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<bool>;
    async fn record_attempt(&self, id: i64, attempt: &Attempt) -> DbResult<()>;
    /// A webhook's deliveries, newest first.
    async fn deliveries(&self, webhook: i64, limit: i64) -> DbResult<Vec<WebhookDelivery>>;
    async fn delivery(&self, id: i64) -> DbResult<Option<WebhookDelivery>>;
    /// Sends a delivery again now; one still pending is a conflict.
    async fn redeliver(&self, id: i64, now: DateTime<Utc>) -> DbResult<()>;
}

pub(super) const WEBHOOK: &str =
    "SELECT w.id, w.url, w.events, w.format, w.created_by, w.created_at,
    (SELECT COUNT(*) FROM webhook_deliveries x WHERE x.webhook_id = w.id AND x.state = 'delivered')
        AS delivered,
    (SELECT COUNT(*) FROM webhook_deliveries x WHERE x.webhook_id = w.id AND x.state = 'failed')
        AS failed,
    (SELECT COUNT(*) FROM webhook_deliveries x WHERE x.webhook_id = w.id AND x.state = 'pending')
        AS pending
    FROM webhooks w";

pub(super) const DELIVERY: &str =
    "SELECT x.id, x.webhook_id, x.notification_id, n.event, n.summary, x.state,
    x.attempts, x.next_attempt_at, x.response_code, x.error, x.last_attempt_at, x.created_at
    FROM webhook_deliveries x JOIN notifications n ON n.id = x.notification_id";

#[async_trait]
impl NotifyStore for SqlStore {
    async fn notification_prefs(&self, user: i64) -> DbResult<Vec<String>> {
        sql("SELECT event FROM notification_prefs WHERE user_id = :user ORDER BY event")
            .set("user", user)
            .column(self.read())
            .await
    }

    async fn set_notification_prefs(&self, user: i64, events: &[NotifyEvent]) -> DbResult<()> {
        let mut tx = self.begin().await?;
        sql("DELETE FROM notification_prefs WHERE user_id = :user")
            .set("user", user)
            .execute(tx.conn())
            .await?;
        for event in events {
            sql("INSERT INTO notification_prefs (user_id, event) VALUES (:user, :event)")
                .set("user", user)
                .set("event", event.as_str())
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await
    }

    async fn notify_recipients(&self, event: NotifyEvent) -> DbResult<Vec<(String, String)>> {
        sql(
            "SELECT u.email, u.name FROM notification_prefs p JOIN users u ON u.id = p.user_id
             WHERE p.event = :event AND u.active ORDER BY u.email",
        )
        .set("event", event.as_str())
        .all(self.read())
        .await
    }

    async fn record_notification(&self, new: &NewNotification) -> DbResult<i64> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let mut params = Params::default();
        let [event, payload, summary, link, at] = [
            params.add(new.event.as_str()),
            params.add_json(&new.payload),
            params.add(&new.summary),
            params.add(&new.link),
            params.add(now),
        ];
        let id: i64 = sql(format!(
            "INSERT INTO notifications (event, payload, summary, link, created_at)
             VALUES ({event}, {payload}, {summary}, {link}, {at}) RETURNING id"
        ))
        .params(params)
        .value(tx.conn())
        .await?;
        let hooks: Vec<(i64, sqlx::types::Json<Vec<String>>)> =
            sql("SELECT id, events FROM webhooks WHERE removed_at IS NULL")
                .all(tx.conn())
                .await?;
        for (hook, events) in hooks {
            if !events.0.iter().any(|e| e == new.event.as_str()) {
                continue;
            }
            sql(
                "INSERT INTO webhook_deliveries (webhook_id, notification_id, state,
                     next_attempt_at, created_at)
                 VALUES (:hook, :id, 'pending', :now, :now)",
            )
            .set("hook", hook)
            .set("id", id)
            .set("now", now)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn unmailed_notifications(&self, since: DateTime<Utc>) -> DbResult<Vec<Unmailed>> {
        sql(
            "SELECT id, event, summary, link, created_at FROM notifications
             WHERE emailed_at IS NULL AND created_at >= :since ORDER BY id LIMIT 200",
        )
        .set("since", since)
        .all(self.read())
        .await
    }

    async fn mark_emailed(&self, id: i64, at: DateTime<Utc>) -> DbResult<()> {
        sql("UPDATE notifications SET emailed_at = :at WHERE id = :id")
            .set("id", id)
            .set("at", at)
            .execute(self.write())
            .await?;
        Ok(())
    }

    async fn create_webhook(&self, new: &NewWebhook) -> DbResult<i64> {
        let mut params = Params::default();
        let events: Vec<&str> = new.events.iter().map(|e| e.as_str()).collect();
        let [url, events, secret, format, by, at] = [
            params.add(&new.url),
            params.add_json(&events),
            params.add(&new.secret),
            params.add(new.format.as_str()),
            params.add(&new.created_by),
            params.add(self.now()),
        ];
        sql(format!(
            "INSERT INTO webhooks (url, events, secret, format, created_by, created_at)
             VALUES ({url}, {events}, {secret}, {format}, {by}, {at}) RETURNING id"
        ))
        .params(params)
        .value(self.write())
        .await
    }

    async fn webhooks(&self) -> DbResult<Vec<Webhook>> {
        Ok(sql(format!(
            "{WEBHOOK} WHERE w.removed_at IS NULL ORDER BY w.id"
        ))
        .all::<WebhookRow>(self.read())
        .await?
        .into_iter()
        .map(Webhook::from)
        .collect())
    }

    async fn remove_webhook(&self, id: i64) -> DbResult<()> {
        sql("UPDATE webhooks SET removed_at = :now WHERE id = :id AND removed_at IS NULL")
            .set("id", id)
            .set("now", self.now())
            .change_one(self.write())
            .await
    }

    async fn due_deliveries(&self, now: DateTime<Utc>, limit: i64) -> DbResult<Vec<DueDelivery>> {
        sql(
            "SELECT x.id, x.webhook_id, w.url, w.secret, w.format, n.event, n.payload, n.summary,
                 n.link, x.attempts, x.next_attempt_at
             FROM webhook_deliveries x JOIN webhooks w ON w.id = x.webhook_id
             JOIN notifications n ON n.id = x.notification_id
             WHERE x.state = 'pending' AND x.next_attempt_at <= :now AND w.removed_at IS NULL
             ORDER BY x.next_attempt_at, x.id LIMIT :limit",
        )
        .set("now", now)
        .set("limit", limit)
        .all(self.read())
        .await
    }

    async fn claim_delivery(
        &self,
        id: i64,
        due: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DbResult<bool> {
        let taken = sql("UPDATE webhook_deliveries SET next_attempt_at = :until
             WHERE id = :id AND state = 'pending' AND next_attempt_at = :due")
        .set("id", id)
        .set("due", due)
        .set("until", until)
        .execute(self.write())
        .await?;
        Ok(taken == 1)
    }

    async fn record_attempt(&self, id: i64, a: &Attempt) -> DbResult<()> {
        sql(
            "UPDATE webhook_deliveries SET state = :state, attempts = :attempts, next_attempt_at = :next_attempt_at,
                 response_code = :response_code, error = :error, last_attempt_at = :at
             WHERE id = :id",
        )
        .set("id", id)
        .set("state", a.state.as_str())
        .set("attempts", a.attempts)
        .set("next_attempt_at", a.next_attempt_at)
        .set("response_code", a.response_code)
        .set("error", a.error.clone())
        .set("at", a.at)
        .change_one(self.write())
        .await
    }

    async fn deliveries(&self, webhook: i64, limit: i64) -> DbResult<Vec<WebhookDelivery>> {
        sql(format!(
            "{DELIVERY} WHERE x.webhook_id = :webhook ORDER BY x.id DESC LIMIT :limit"
        ))
        .set("webhook", webhook)
        .set("limit", limit)
        .all(self.read())
        .await
    }

    async fn delivery(&self, id: i64) -> DbResult<Option<WebhookDelivery>> {
        sql(format!("{DELIVERY} WHERE x.id = :id"))
            .set("id", id)
            .optional(self.read())
            .await
    }

    async fn redeliver(&self, id: i64, now: DateTime<Utc>) -> DbResult<()> {
        let queued = sql(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0,
                 next_attempt_at = :now
             WHERE id = :id AND state <> 'pending'",
        )
        .set("id", id)
        .set("now", now)
        .execute(self.write())
        .await?;
        if queued == 0 {
            return Err(DbError::Conflict(Conflict::DeliveryPending));
        }
        Ok(())
    }
}
