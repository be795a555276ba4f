//! The delivery engine: sends what the ledger holds. Each message is one
//! `deliveries` row, claimed (with a lease) and committed before it is sent
//! and marked after the SMTP server took it, so a restart after a crash
//! finishes the send and repeats at most the messages that were in flight.
//! On PostgreSQL several instances share the work (`SKIP LOCKED`).
//!
//! It also queues the daily and weekly digests when their hour comes, once
//! per subscriber per period whatever restarts happen (the period is part of
//! the row's key).

use crate::model::*;
use crate::server::config::Config;
use crate::server::db::{Claimed, Db, DigestJob, Outcome, SubscriberLink};
use crate::server::error::AppError;
use crate::server::mail::{self, Letter, LetterEntry, Mailer};
use crate::server::service::campaigns;
use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Timelike, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

/// Most changes one digest lists.
const DIGEST_MAX: i64 = 200;
/// Results are written after this many messages, or this long, whichever first.
const FLUSH_EVERY: usize = 32;
const FLUSH_AFTER: std::time::Duration = std::time::Duration::from_millis(50);

/// Results not yet written.
struct Results {
    outcomes: Vec<(i64, Outcome)>,
    bounced: Vec<(String, String)>,
    since: std::time::Instant,
}

impl Default for Results {
    fn default() -> Self {
        Results {
            outcomes: vec![],
            bounced: vec![],
            since: std::time::Instant::now(),
        }
    }
}

/// Whose links a message carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Links {
    /// The subscriber's own: their preferences, unsubscribe and, for an
    /// account's subscriber, that account's pages under their secret.
    Subscriber,
    /// [`PREVIEW_TOKEN`] in their place (previews and test sends).
    Inert,
}

/// What previews and test sends carry where a subscriber's secret would be;
/// the pages it reaches say so instead of acting on anyone's subscription.
pub const PREVIEW_TOKEN: &str = "preview";

/// The engine's handles: wake it when there is new work.
#[derive(Clone)]
pub struct Engine {
    db: Db,
    mailer: Mailer,
    config: Arc<Config>,
    wake: Arc<Notify>,
}

/// A campaign's release, loaded once per batch for every recipient.
struct Announcement {
    release: Release,
    entries: Vec<PublicEntry>,
}

impl Engine {
    pub fn new(db: Db, mailer: Mailer, config: Arc<Config>) -> Self {
        Engine {
            db,
            mailer,
            config,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Makes the running loop look for work now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn host(&self) -> &str {
        self.config.host()
    }

    /// Runs until the process ends.
    pub fn spawn(self) {
        tokio::spawn(async move {
            let mut last_digest_check = None;
            loop {
                let t = crate::server::telemetry::global();
                t.engine_runs
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                match self.run_once(&mut last_digest_check).await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => {
                        t.engine_failures
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::error!(error = %e, "the delivery engine failed; retrying")
                    }
                }
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
        });
    }

    /// One pass: starts due campaigns, queues due digests, sends one batch.
    /// `true` when it sent something (there may be more).
    pub async fn run_once(
        &self,
        last_digest_check: &mut Option<DateTime<Utc>>,
    ) -> Result<bool, AppError> {
        let now = self.db.now();
        campaigns::start_due(&self.db, self.host()).await?;
        if last_digest_check.is_none_or(|t| now - t >= TimeDelta::seconds(30)) {
            self.queue_digests(now).await?;
            self.remind_actions(now).await?;
            super::gates::check_gates(&self.db, self.config.time_zone, now).await?;
            super::notify::send_emails(&self.db, &self.mailer, &self.config, now).await?;
            *last_digest_check = Some(now);
        }
        let lease = TimeDelta::from_std(self.config.mail_lease).unwrap_or(TimeDelta::minutes(2));
        // A batch is sent well within its lease, whatever the rate limit.
        let batch = match self.config.mail_rate {
            None => 512,
            Some(rate) => ((rate * lease.num_seconds() as f64 / 4.0) as i64).clamp(1, 512),
        };
        let claimed = self.db.claim_deliveries(now, now + lease, batch).await?;
        if claimed.is_empty() {
            self.db.finish_campaigns(now).await?;
            return Ok(false);
        }
        self.send_batch(claimed).await?;
        self.db.finish_campaigns(self.db.now()).await?;
        Ok(true)
    }

    /// Sends a claimed batch. Each message is composed only when a
    /// connection is free for it, so at most `SHIPLOG_MAIL_CONNECTIONS`
    /// messages are in memory at once; results are recorded as they come.
    async fn send_batch(&self, claimed: Vec<Claimed>) -> Result<(), AppError> {
        let mut announcements: HashMap<i64, Arc<Announcement>> = HashMap::new();
        let ids: Vec<i64> = claimed.iter().map(|c| c.subscriber_id).collect();
        let links: HashMap<i64, SubscriberLink> = self
            .db
            .subscriber_links(&ids)
            .await?
            .into_iter()
            .map(|l| (l.subscriber.id, l))
            .collect();
        let limit = Arc::new(tokio::sync::Semaphore::new(
            self.config.mail_connections as usize,
        ));
        let mut pace = self.config.mail_rate.map(|rate| {
            let mut i = tokio::time::interval(std::time::Duration::from_secs_f64(1.0 / rate));
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        let (done_tx, mut done) = tokio::sync::mpsc::unbounded_channel();
        let mut results = Results::default();
        for c in &claimed {
            let permit = limit.clone().acquire_owned().await.expect("never closed");
            while let Ok(result) = done.try_recv() {
                self.collect(&mut results, result).await?;
            }
            let (to, message) = match self
                .compose(c, links.get(&c.subscriber_id), &mut announcements)
                .await?
            {
                Ok(composed) => composed,
                Err(skip) => {
                    results.outcomes.push((c.id, Outcome::Skipped(skip)));
                    continue;
                }
            };
            if let Some(pace) = pace.as_mut() {
                pace.tick().await;
            }
            let (id, attempts, done_tx) = (c.id, c.attempts, done_tx.clone());
            let mailer = self.mailer.clone();
            tokio::spawn(async move {
                let result = mailer.deliver(message).await;
                drop(permit);
                let _ = done_tx.send((id, to, attempts, result));
            });
        }
        drop(done_tx);
        while let Some(result) = done.recv().await {
            self.collect(&mut results, result).await?;
        }
        self.record(&mut results).await
    }

    /// Adds one send's result, recording them every few.
    async fn collect(
        &self,
        results: &mut Results,
        (id, to, attempts, result): (i64, String, i64, Result<mail::Delivery, mail::SendError>),
    ) -> Result<(), AppError> {
        let outcome = match result {
            Ok(_) => Outcome::Sent,
            Err(e) if e.permanent => {
                results.bounced.push((to, e.reply.clone()));
                Outcome::Failed(e.reply)
            }
            Err(e) if attempts >= 8 => {
                Outcome::Failed(format!("gave up after {attempts} attempts: {}", e.reply))
            }
            Err(e) => {
                // 1, 2, 4 … minutes, at most an hour.
                let wait = TimeDelta::minutes((1i64 << (attempts - 1).clamp(0, 6)).min(60));
                Outcome::Retry(self.db.now() + wait, e.reply)
            }
        };
        results.outcomes.push((id, outcome));
        if results.outcomes.len() >= FLUSH_EVERY || results.since.elapsed() >= FLUSH_AFTER {
            self.record(results).await?;
        }
        Ok(())
    }

    /// Marks what happened, and suppresses addresses that bounced.
    async fn record(&self, results: &mut Results) -> Result<(), AppError> {
        if !results.outcomes.is_empty() {
            self.db
                .finish_deliveries(&results.outcomes, self.db.now())
                .await?;
            results.outcomes.clear();
        }
        for (email, reply) in results.bounced.drain(..) {
            tracing::warn!(reply, "an address bounced and is now suppressed");
            self.db
                .suppress(
                    &email,
                    SuppressionReason::Bounce,
                    Some(&reply),
                    "delivery engine",
                )
                .await?;
        }
        results.since = std::time::Instant::now();
        Ok(())
    }

    async fn compose(
        &self,
        c: &Claimed,
        link: Option<&SubscriberLink>,
        announcements: &mut HashMap<i64, Arc<Announcement>>,
    ) -> Result<Result<(String, mail::Outgoing), String>, AppError> {
        self.compose_with(c, link, announcements, Links::Subscriber)
            .await
    }

    /// The message for one claimed row, or why it is skipped.
    async fn compose_with(
        &self,
        c: &Claimed,
        link: Option<&SubscriberLink>,
        announcements: &mut HashMap<i64, Arc<Announcement>>,
        links: Links,
    ) -> Result<Result<(String, mail::Outgoing), String>, AppError> {
        let Some(link) = link else {
            return Ok(Err("no such subscriber".into()));
        };
        let Some(email) = link.subscriber.email.clone() else {
            return Ok(Err("removed".into()));
        };
        if link.subscriber.status != SubscriberStatus::Confirmed {
            return Ok(Err(format!("subscriber is {}", link.subscriber.status)));
        }
        if link.subscriber.suppressed {
            return Ok(Err("address suppressed".into()));
        }
        let audiences = link.reader.audiences();
        // A preview or test shows the subscriber's message without their
        // secret: whoever reads it must not reach their preferences, their
        // unsubscribe button or their account's pages.
        let secret = match links {
            Links::Subscriber => link.token.as_str(),
            Links::Inert => PREVIEW_TOKEN,
        };
        let base = match link.reader {
            Reader::Account { .. } => self.config.link(&format!("/a/{secret}")),
            Reader::Public => self.config.link(""),
        };
        let preferences = self.config.link(&format!("/subscription/{secret}"));
        let unsubscribe = self.config.link(&format!("/unsubscribe/{secret}"));
        let list_id = format!("Release notes <notes.{}>", self.host());
        let letter = Letter {
            to: &email,
            message_id: &c.message_id,
            preferences: &preferences,
            unsubscribe: &unsubscribe,
            list_id: &list_id,
        };
        let wanted = |e: &PublicEntry| {
            let s = &link.subscriber;
            s.kinds.contains(&e.entry.kind)
                && (s.components.is_empty()
                    || e.entry
                        .component
                        .as_ref()
                        .is_some_and(|c| s.components.contains(c)))
        };
        let letter_entry = |e: &PublicEntry| LetterEntry {
            kind: e.entry.kind,
            title: e.entry.title.clone(),
            body_html: e.entry.body_html.clone(),
            url: format!("{base}/changes/{}", e.entry.id),
        };
        if let Some(campaign) = c.campaign_id {
            if !link.subscriber.releases {
                return Ok(Err("no longer wants announcements".into()));
            }
            let a = match announcements.get(&campaign) {
                Some(a) => a.clone(),
                None => {
                    let a = Arc::new(self.announcement(campaign).await?);
                    announcements.insert(campaign, a.clone());
                    a
                }
            };
            if !audiences.contains(&a.release.audience.to_string()) {
                return Ok(Err("cannot read this release".into()));
            }
            let entries: Vec<LetterEntry> = a
                .entries
                .iter()
                .filter(|e| audiences.contains(&e.entry.audience.to_string()) && wanted(e))
                .map(letter_entry)
                .collect();
            if entries.is_empty() {
                return Ok(Err("nothing in this release for their choices".into()));
            }
            let published = a
                .release
                .published_at
                .map(|t| t.format("%-d %B %Y").to_string())
                .unwrap_or_default();
            let narrative_text = crate::server::markdown::visible_text(&a.release.narrative_html);
            let message = mail::announcement(
                &letter,
                &a.release.title,
                &published,
                &a.release.narrative_html,
                &narrative_text,
                &format!("{base}/releases/{}", a.release.slug),
                &entries,
            );
            return Ok(Ok((email, message)));
        }
        // A digest.
        let (Some(from), Some(to)) = (c.window_from, c.window_to) else {
            return Ok(Err("digest without a window".into()));
        };
        let found = self
            .db
            .shipped_between(PRODUCTION, &audiences, from, to, DIGEST_MAX)
            .await?;
        let entries: Vec<LetterEntry> = found
            .iter()
            .filter(|e| wanted(e))
            .map(letter_entry)
            .collect();
        if entries.is_empty() {
            return Ok(Err("nothing new".into()));
        }
        let frequency = link.subscriber.digest.as_str();
        let period = self.period_label(from, to);
        let message = mail::digest(
            &letter,
            &period,
            frequency,
            &format!("{base}/changes"),
            &entries,
        );
        Ok(Ok((email, message)))
    }

    fn period_label(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        let tz = self.config.time_zone;
        let from = from.with_timezone(&tz);
        let to = to.with_timezone(&tz);
        format!(
            "{} – {}",
            from.format("%-d %b %H:%M"),
            to.format("%-d %b %Y %H:%M %Z")
        )
    }

    async fn announcement(&self, campaign: i64) -> Result<Announcement, AppError> {
        let row = self.db.campaign(campaign).await?;
        let release = self
            .db
            .release(row.release_id)
            .await?
            .ok_or_else(|| AppError::not_found("the campaign's release is gone"))?
            .release;
        // Every customer audience: each recipient then sees their part.
        let mut all = vec!["everyone".to_string(), "admins".to_string()];
        all.extend(
            self.db
                .list_cohorts()
                .await?
                .into_iter()
                .map(|c| format!("cohort:{}", c.slug)),
        );
        let entries = self
            .db
            .public_release_entries(PRODUCTION, &all, &[release.id])
            .await?;
        Ok(Announcement { release, entries })
    }

    /// Sends the action reminders whose time has come; how many.
    pub async fn remind_actions(&self, now: DateTime<Utc>) -> Result<usize, AppError> {
        super::actions::send_reminders(&self.db, &self.mailer, &self.config, now).await
    }

    /// Queues the digests whose hour has come (in the instance's time zone).
    pub async fn queue_digests(&self, now: DateTime<Utc>) -> Result<(), AppError> {
        let tz = self.config.time_zone;
        let local = now.with_timezone(&tz);
        if local.hour() < self.config.digest_hour {
            return Ok(());
        }
        let day_start = tz
            .with_ymd_and_hms(
                local.year(),
                local.month(),
                local.day(),
                self.config.digest_hour,
                0,
                0,
            )
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        let mut periods = vec![(
            DigestFrequency::Daily,
            format!("daily:{}", local.format("%Y-%m-%d")),
            TimeDelta::days(1),
        )];
        if local.weekday() == self.config.digest_weekday {
            let week = local.iso_week();
            periods.push((
                DigestFrequency::Weekly,
                format!("weekly:{}-W{:02}", week.year(), week.week()),
                TimeDelta::days(7),
            ));
        }
        let host = self.host();
        for (frequency, period, length) in periods {
            let jobs: Vec<DigestJob> = self
                .db
                .digest_candidates(frequency.as_str())
                .await?
                .into_iter()
                .map(|c| DigestJob {
                    subscriber_id: c.id,
                    from: c.digest_since.unwrap_or(day_start - length),
                    to: day_start,
                })
                .filter(|j| j.from < j.to)
                .collect();
            if jobs.is_empty() {
                continue;
            }
            let queued = self
                .db
                .queue_digests(&period, &jobs, host, self.db.now())
                .await?;
            if queued > 0 {
                tracing::info!(period, queued, "digests queued");
            }
        }
        Ok(())
    }
}
#[async_trait::async_trait]
impl campaigns::Previews for Engine {
    /// A campaign's message as this subscriber would get it (or why they
    /// would get none), without sending anything.
    async fn preview(
        &self,
        campaign: i64,
        subscriber: i64,
    ) -> Result<Result<mail::Outgoing, String>, AppError> {
        let row = Claimed {
            id: 0,
            campaign_id: Some(campaign),
            digest_period: None,
            subscriber_id: subscriber,
            attempts: 0,
            message_id: format!("<preview-{campaign}-{subscriber}@{}>", self.host()),
            window_from: None,
            window_to: None,
        };
        let link = self.db.subscriber_link(subscriber).await?;
        Ok(self
            .compose_with(&row, Some(&link), &mut HashMap::new(), Links::Inert)
            .await?
            .map(|(_, message)| message))
    }
}

impl super::Wake for Engine {
    fn wake(&self) {
        Engine::wake(self)
    }
}
