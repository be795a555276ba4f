//! Announcement campaigns and the delivery ledger: one row per message to one
//! subscriber, claimed before it is sent and marked after.

use super::sql::{sql, Params};
use super::{DbError, DbResult, SqlStore};
use crate::model::{CampaignStatus, DeliveryCounts, DeliveryFailure};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A campaign as stored, with its release.
#[derive(Clone, Debug, sqlx::FromRow)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct CampaignRow {
    pub id: i64,
    pub release_id: i64,
    pub release_slug: String,
    pub release_title: String,
    #[sqlx(try_from = "String")]
    pub status: CampaignStatus,
    pub send_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A message claimed for sending.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub campaign_id: Option<i64>,
    pub digest_period: Option<String>,
    pub subscriber_id: i64,
    pub attempts: i64,
    pub message_id: String,
    pub window_from: Option<DateTime<Utc>>,
    pub window_to: Option<DateTime<Utc>>,
}

/// What became of a claimed message.
#[derive(Clone, Debug)]
pub enum Outcome {
    Sent,
    /// Not sent, for good, and not a failure (left, suppressed, nothing new).
    Skipped(String),
    /// Try again at this time.
    Retry(DateTime<Utc>, String),
    /// Refused for good.
    Failed(String),
}

/// A subscriber who might receive mail, with what decides whether they may.
#[derive(Clone, Debug, sqlx::FromRow)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Candidate {
    pub id: i64,
    pub account: Option<String>,
    pub account_admin: bool,
    pub digest_since: Option<DateTime<Utc>>,
}

/// One digest message to queue: the subscriber and the window it covers.
#[derive(Clone, Debug)]
pub struct DigestJob {
    pub subscriber_id: i64,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// The release's campaign: `(id, true)` when made now, `(id, false)` when
    /// it existed.
    async fn create_campaign(&self, release_id: i64, by: &str) -> DbResult<(i64, bool)>;
    async fn campaign(&self, id: i64) -> DbResult<CampaignRow>;
    async fn campaign_of_release(&self, release_id: i64) -> DbResult<Option<i64>>;
    async fn list_campaigns(&self, limit: i64) -> DbResult<Vec<CampaignRow>>;
    /// Moves a campaign that is in one of `from` to `to`; in no state of
    /// `from` it is [`DbError::Stale`]. Cancelling skips what is queued.
    async fn move_campaign(
        &self,
        id: i64,
        from: &[CampaignStatus],
        to: CampaignStatus,
        send_at: Option<DateTime<Utc>>,
    ) -> DbResult<()>;
    /// Scheduled campaigns whose time has come.
    async fn due_campaigns(&self, now: DateTime<Utc>) -> DbResult<Vec<i64>>;
    /// Queues one message per recipient and starts sending, in one
    /// transaction, if the campaign is still in one of `from`.
    async fn start_campaign(
        &self,
        id: i64,
        from: &[CampaignStatus],
        recipients: &[i64],
        host: &str,
        now: DateTime<Utc>,
    ) -> DbResult<()>;
    /// Confirmed subscribers who want announcements and are not suppressed.
    async fn announcement_candidates(&self) -> DbResult<Vec<Candidate>>;
    /// Confirmed subscribers on this digest frequency, not suppressed.
    async fn digest_candidates(&self, frequency: &str) -> DbResult<Vec<Candidate>>;
    /// Queues a period's digests (a subscriber already queued for the period
    /// is left alone) and moves each subscriber's `digest_since` on; answers
    /// how many were queued.
    async fn queue_digests(
        &self,
        period: &str,
        jobs: &[DigestJob],
        host: &str,
        now: DateTime<Utc>,
    ) -> DbResult<u64>;
    /// Claims up to `limit` messages that are due, until `lease_until`.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> DbResult<Vec<Claimed>>;
    async fn finish_deliveries(
        &self,
        outcomes: &[(i64, Outcome)],
        now: DateTime<Utc>,
    ) -> DbResult<()>;
    async fn delivery_counts(&self, campaign_id: i64) -> DbResult<DeliveryCounts>;
    async fn sent_since(&self, campaign_id: i64, since: DateTime<Utc>) -> DbResult<i64>;
    async fn delivery_failures(
        &self,
        campaign_id: i64,
        limit: i64,
    ) -> DbResult<Vec<DeliveryFailure>>;
    /// Recipients of the campaign who unsubscribed (or were removed) after it started.
    async fn unsubscribed_since(&self, campaign_id: i64) -> DbResult<i64>;
    /// Campaigns sending with nothing left to send become `sent`.
    async fn finish_campaigns(&self, now: DateTime<Utc>) -> DbResult<Vec<i64>>;
}

pub(super) const CAMPAIGN_COLUMNS: &str = "c.id, c.release_id, r.slug AS release_slug,
    r.title AS release_title, c.status, c.send_at, c.created_by, c.created_at,
    c.started_at, c.finished_at";

pub(super) const CAMPAIGN_FROM: &str = "campaigns c JOIN releases r ON r.id = c.release_id";

pub(super) const CANDIDATE: &str = "SELECT s.id, a.slug AS account, s.account_admin, s.digest_since
    FROM subscribers s LEFT JOIN accounts a ON a.id = s.account_id
    WHERE s.status = 'confirmed'
      AND NOT EXISTS (SELECT 1 FROM suppressions p WHERE p.email = s.email)";

fn statuses(from: &[CampaignStatus]) -> Vec<String> {
    from.iter().map(|s| s.as_str().to_string()).collect()
}

#[async_trait]
impl CampaignStore for SqlStore {
    async fn create_campaign(&self, release_id: i64, by: &str) -> DbResult<(i64, bool)> {
        let made: Option<i64> = sql(
            "INSERT INTO campaigns (release_id, status, created_by, created_at)
             VALUES (:release_id, 'draft', :by, :now) ON CONFLICT (release_id) DO NOTHING RETURNING id",
        )
        .set("release_id", release_id)
        .set("by", by)
        .set("now", self.now())
        .scalar(self.write())
        .await?;
        match made {
            Some(id) => Ok((id, true)),
            None => Ok((
                self.campaign_of_release(release_id)
                    .await?
                    .ok_or(DbError::NotFound)?,
                false,
            )),
        }
    }

    async fn campaign(&self, id: i64) -> DbResult<CampaignRow> {
        sql(format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM {CAMPAIGN_FROM} WHERE c.id = :id"
        ))
        .set("id", id)
        .one(self.write())
        .await
    }

    async fn campaign_of_release(&self, release_id: i64) -> DbResult<Option<i64>> {
        sql("SELECT id FROM campaigns WHERE release_id = :release_id")
            .set("release_id", release_id)
            .scalar(self.write())
            .await
    }

    async fn list_campaigns(&self, limit: i64) -> DbResult<Vec<CampaignRow>> {
        sql(format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM {CAMPAIGN_FROM} ORDER BY c.id DESC LIMIT :limit"
        ))
        .set("limit", limit)
        .all(self.read())
        .await
    }

    async fn move_campaign(
        &self,
        id: i64,
        from: &[CampaignStatus],
        to: CampaignStatus,
        send_at: Option<DateTime<Utc>>,
    ) -> DbResult<()> {
        let mut params = Params::default();
        let id_p = params.add(id);
        let to_p = params.add(to.as_str());
        let send_p = params.add(send_at);
        let now_p = params.add(self.now());
        let from_p = params.add(&statuses(from));
        let finished = if matches!(to, CampaignStatus::Cancelled | CampaignStatus::Sent) {
            format!("finished_at = {now_p}")
        } else {
            "finished_at = NULL".into()
        };
        let mut tx = self.begin().await?;
        let moved = sql(format!(
            "UPDATE campaigns SET status = {to_p}, send_at = {send_p}, {finished},
                 started_at = CASE WHEN {to_p} = 'sending' THEN COALESCE(started_at, {now_p})
                                   ELSE started_at END
             WHERE id = {id_p} AND {}",
            self.dialect().any("status", &from_p)
        ))
        .params(params)
        .execute(tx.conn())
        .await?;
        if moved == 0 {
            return Err(match self.campaign(id).await {
                Ok(_) => DbError::Stale,
                Err(e) => e,
            });
        }
        if to == CampaignStatus::Cancelled {
            sql(
                "UPDATE deliveries SET status = 'skipped', error = 'cancelled'
                 WHERE campaign_id = :id AND status = 'queued'",
            )
            .set("id", id)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await
    }

    async fn due_campaigns(&self, now: DateTime<Utc>) -> DbResult<Vec<i64>> {
        sql(format!(
            "SELECT id FROM campaigns WHERE status = 'scheduled' AND {} ORDER BY id",
            self.dialect().time_at_or_before("send_at", ":now")
        ))
        .set("now", now)
        .column(self.write())
        .await
    }

    async fn start_campaign(
        &self,
        id: i64,
        from: &[CampaignStatus],
        recipients: &[i64],
        host: &str,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let mut tx = self.begin().await?;
        let moved = sql(format!(
            "UPDATE campaigns SET status = 'sending', send_at = NULL,
                 started_at = COALESCE(started_at, :now)
             WHERE id = :id AND {}",
            self.dialect().any("status", ":from")
        ))
        .set("id", id)
        .set("now", now)
        .set("from", &statuses(from))
        .execute(tx.conn())
        .await?;
        if moved == 0 {
            return Err(DbError::Stale);
        }
        for chunk in recipients.chunks(200) {
            let mut params = Params::default();
            let campaign = params.add(id);
            let at = params.add(now);
            let rows: Vec<String> = chunk
                .iter()
                .map(|s| {
                    let message_id = format!("<campaign-{id}-{s}@{host}>");
                    format!(
                        "({campaign}, {}, 'queued', {at}, {})",
                        params.add(*s),
                        params.add(message_id)
                    )
                })
                .collect();
            sql(format!(
                "INSERT INTO deliveries (campaign_id, subscriber_id, status, next_attempt_at,
                     message_id) VALUES {}
                 ON CONFLICT (campaign_id, subscriber_id) DO NOTHING",
                rows.join(", ")
            ))
            .params(params)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await
    }

    async fn announcement_candidates(&self) -> DbResult<Vec<Candidate>> {
        sql(format!("{CANDIDATE} AND s.releases = TRUE ORDER BY s.id"))
            .all(self.bulk())
            .await
    }

    async fn digest_candidates(&self, frequency: &str) -> DbResult<Vec<Candidate>> {
        sql(format!(
            "{CANDIDATE} AND s.digest = :frequency ORDER BY s.id"
        ))
        .set("frequency", frequency)
        .all(self.bulk())
        .await
    }

    async fn queue_digests(
        &self,
        period: &str,
        jobs: &[DigestJob],
        host: &str,
        now: DateTime<Utc>,
    ) -> DbResult<u64> {
        let mut tx = self.begin().await?;
        let mut queued = 0;
        for job in jobs {
            let message_id = format!("<digest-{period}-{}@{host}>", job.subscriber_id);
            let added = sql(
                "INSERT INTO deliveries (digest_period, subscriber_id, status, next_attempt_at,
                     window_from, window_to, message_id)
                 VALUES (:period, :subscriber_id, 'queued', :now, :from, :to, :message_id)
                 ON CONFLICT (digest_period, subscriber_id) DO NOTHING",
            )
            .set("period", period)
            .set("subscriber_id", job.subscriber_id)
            .set("now", now)
            .set("from", job.from)
            .set("to", job.to)
            .set("message_id", message_id)
            .execute(tx.conn())
            .await?;
            if added > 0 {
                sql("UPDATE subscribers SET digest_since = :to WHERE id = :subscriber_id")
                    .set("subscriber_id", job.subscriber_id)
                    .set("to", job.to)
                    .execute(tx.conn())
                    .await?;
            }
            queued += added;
        }
        tx.commit().await?;
        Ok(queued)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> DbResult<Vec<Claimed>> {
        let dialect = self.dialect();
        sql(format!(
            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, lease_until = :lease_until
             WHERE id IN (
                 SELECT d.id FROM deliveries d LEFT JOIN campaigns c ON c.id = d.campaign_id
                 WHERE ((d.status = 'queued' AND {}) OR (d.status = 'sending' AND {}))
                   AND (d.campaign_id IS NULL OR c.status = 'sending')
                 ORDER BY d.id LIMIT :limit{})
             RETURNING id, campaign_id, digest_period, subscriber_id, attempts, message_id,
                 window_from, window_to",
            dialect.time_at_or_before("d.next_attempt_at", ":now"),
            dialect.time_at_or_before("d.lease_until", ":now"),
            dialect.skip_locked("d")
        ))
        .set("now", now)
        .set("lease_until", lease_until)
        .set("limit", limit)
        .all(self.write())
        .await
    }

    async fn finish_deliveries(
        &self,
        outcomes: &[(i64, Outcome)],
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let mut tx = self.begin().await?;
        for (id, outcome) in outcomes {
            let (status, at, error) = match outcome {
                Outcome::Sent => ("sent", now, None),
                Outcome::Skipped(why) => ("skipped", now, Some(why.as_str())),
                Outcome::Retry(at, why) => ("queued", *at, Some(why.as_str())),
                Outcome::Failed(why) => ("failed", now, Some(why.as_str())),
            };
            sql(
                "UPDATE deliveries SET status = :status, error = :error, lease_until = NULL,
                     next_attempt_at = CASE WHEN :status = 'queued' THEN :at ELSE next_attempt_at END,
                     sent_at = CASE WHEN :status = 'sent' THEN :at ELSE sent_at END
                 WHERE id = :id AND status = 'sending'",
            )
            .set("id", *id)
            .set("status", status)
            .set("error", error)
            .set("at", at)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await
    }

    async fn delivery_counts(&self, campaign_id: i64) -> DbResult<DeliveryCounts> {
        let rows: Vec<(String, i64)> =
            sql("SELECT status, COUNT(*) FROM deliveries WHERE campaign_id = :campaign_id GROUP BY status")
                .set("campaign_id", campaign_id)
                .all(self.read())
                .await?;
        let mut counts = DeliveryCounts::default();
        for (status, n) in rows {
            match status.as_str() {
                "queued" | "sending" => counts.queued += n,
                "sent" => counts.sent += n,
                "failed" => counts.failed += n,
                _ => counts.skipped += n,
            }
        }
        Ok(counts)
    }

    async fn sent_since(&self, campaign_id: i64, since: DateTime<Utc>) -> DbResult<i64> {
        sql(format!(
            "SELECT COUNT(*) FROM deliveries WHERE campaign_id = :campaign_id AND status = 'sent'
             AND NOT ({})",
            self.dialect().time_at_or_before("sent_at", ":since")
        ))
        .set("campaign_id", campaign_id)
        .set("since", since)
        .value(self.read())
        .await
    }

    async fn delivery_failures(
        &self,
        campaign_id: i64,
        limit: i64,
    ) -> DbResult<Vec<DeliveryFailure>> {
        sql("SELECT s.email, d.error, d.attempts FROM deliveries d
             JOIN subscribers s ON s.id = d.subscriber_id
             WHERE d.campaign_id = :campaign_id AND (d.status = 'failed'
                   OR (d.status = 'queued' AND d.error IS NOT NULL))
             ORDER BY d.id LIMIT :limit")
        .set("campaign_id", campaign_id)
        .set("limit", limit)
        .all(self.read())
        .await
    }

    async fn unsubscribed_since(&self, campaign_id: i64) -> DbResult<i64> {
        // From the few who left (an index), each checked against the ledger.
        sql(format!(
            "SELECT COUNT(*) FROM subscribers s JOIN campaigns c ON c.id = :campaign_id
             WHERE s.unsubscribed_at IS NOT NULL AND c.started_at IS NOT NULL
               AND NOT ({})
               AND EXISTS (SELECT 1 FROM deliveries d
                           WHERE d.campaign_id = :campaign_id AND d.subscriber_id = s.id)",
            self.dialect()
                .time_at_or_before("s.unsubscribed_at", "c.started_at")
        ))
        .set("campaign_id", campaign_id)
        .value(self.read())
        .await
    }

    async fn finish_campaigns(&self, now: DateTime<Utc>) -> DbResult<Vec<i64>> {
        sql("UPDATE campaigns SET status = 'sent', finished_at = :now
             WHERE status = 'sending' AND NOT EXISTS (
                 SELECT 1 FROM deliveries d WHERE d.campaign_id = campaigns.id
                 AND d.status IN ('queued', 'sending'))
             RETURNING id")
        .set("now", now)
        .column(self.write())
        .await
    }
}
