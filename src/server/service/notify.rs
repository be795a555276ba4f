//! Failure notifications. A failed build, a failed or rolled-back deploy, a
//! block placed or lifted, and a closed gate an hour before a deploy night
//! are recorded once; the engine then emails the team members who chose the
//! event, and `webhooks` posts to every webhook that wants it (signed JSON
//! or Slack's `{"text"}`), retrying with backoff and logging each attempt.

use super::Actor;
use crate::model::*;
use crate::server::config::Config;
use crate::server::db::{Db, DbError, NewNotification, NewWebhook};
use crate::server::error::AppError;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Tries per delivery before it is marked failed (one, then five retries).
pub const MAX_ATTEMPTS: i64 = 6;

/// Records a notification; a failure to record it is logged, never allowed
/// to undo the change that raised it.
/// Only admins configure webhooks; checked before any input is read.
pub fn may_configure(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role.is_admin(), "configure webhooks")
}

pub async fn emit(
    db: &Db,
    event: NotifyEvent,
    summary: String,
    link: &str,
    data: serde_json::Value,
) {
    let now = Utc::now();
    let payload = serde_json::json!({
        "event": event.as_str(),
        "summary": summary,
        "link": link,
        "at": now,
        "data": data,
    });
    let new = NewNotification {
        event,
        payload,
        summary,
        link: Some(link.to_string()),
    };
    match db.record_notification(&new).await {
        Ok(id) => tracing::info!(notification = id, event = %event, "notification raised"),
        Err(e) => {
            tracing::error!(event = %event, error = %e, "a notification could not be recorded")
        }
    }
}

pub async fn build_failed(db: &Db, build: &Build) {
    emit(
        db,
        NotifyEvent::BuildFailed,
        format!("Build {} on {} failed", build.version, build.branch),
        "/app/blocks",
        serde_json::json!({ "build": build }),
    )
    .await
}

pub async fn deploy_finished_badly(db: &Db, detail: &DeployDetail) {
    let d = &detail.deploy;
    let event = match d.status {
        DeployStatus::Failed => NotifyEvent::DeployFailed,
        DeployStatus::RolledBack => NotifyEvent::DeployRolledBack,
        _ => return,
    };
    emit(
        db,
        event,
        format!(
            "Deploy {} to {} {}",
            d.version,
            d.environment,
            if event == NotifyEvent::DeployFailed {
                "failed"
            } else {
                "was rolled back"
            }
        ),
        &format!("/app/deploys/{}", d.id),
        serde_json::json!({ "deploy": d }),
    )
    .await
}

pub async fn block_changed(db: &Db, block: &Block, lifted: bool) {
    let summary = if lifted {
        format!(
            "{} lifted the block on {} ({}): {}",
            block.lifted_by.as_deref().unwrap_or("someone"),
            block.environment,
            block.scope(),
            block.lift_note.as_deref().unwrap_or("")
        )
    } else {
        format!(
            "{} blocked {} ({}): {}",
            block.placed_by,
            block.environment,
            block.scope(),
            block.reason
        )
    };
    emit(
        db,
        if lifted {
            NotifyEvent::BlockLifted
        } else {
            NotifyEvent::BlockPlaced
        },
        summary,
        "/app/blocks",
        serde_json::json!({ "block": block }),
    )
    .await
}

/// Raises `gate.closed` once per environment and night when, in the hour
/// before a deploy night starts, the gate is closed.
pub async fn check_gates(db: &Db, config: &Config, now: DateTime<Utc>) -> Result<(), AppError> {
    let tz = config.time_zone;
    for row in db.environment_rows().await? {
        let Some(schedule) = super::environments::Schedule::of(&row) else {
            continue;
        };
        let Some((night, starts)) = schedule.next(now, tz) else {
            continue;
        };
        if now < starts - TimeDelta::hours(1) || now >= starts {
            continue;
        }
        let gate = super::gates::gate(db, &row.slug, None).await?;
        if gate.open {
            continue;
        }
        if !db
            .claim_reminder(&format!("gate.closed:{}:{night}", row.slug), now)
            .await?
        {
            continue;
        }
        emit(
            db,
            NotifyEvent::GateClosed,
            format!(
                "The gate to {} is closed, {} minutes before tonight's deploy: {}",
                row.slug,
                (starts - now).num_minutes().max(0),
                gate.reasons.join(" ")
            ),
            "/app",
            serde_json::json!({ "night": night, "starts_at": starts, "gate": gate }),
        )
        .await;
    }
    Ok(())
}

/// Emails each notification of the last day to the people who chose its
/// event; a message is claimed before it is sent, so none goes twice.
pub async fn send_emails(
    db: &Db,
    mailer: &crate::server::mail::Mailer,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let mut sent = 0;
    let profile = config.link("/app/profile");
    for n in db.unmailed_notifications(now - TimeDelta::days(1)).await? {
        let link = config.link(n.link.as_deref().unwrap_or("/app"));
        let mut all = true;
        for (email, name) in db.notify_recipients(n.event).await? {
            let key = format!("notify:{}:{email}", n.id);
            if !db.claim_reminder(&key, now).await? {
                continue;
            }
            let message = crate::server::mail::notification(
                &email, &name, n.event, &n.summary, &link, &profile,
            );
            match mailer.deliver(message).await {
                Ok(_) => sent += 1,
                Err(e) => {
                    tracing::warn!(notification = n.id, error = %e, "a notification email could not be sent; retrying later");
                    db.release_reminder(&key).await?;
                    all = false;
                }
            }
        }
        if all {
            db.mark_emailed(n.id, now).await?;
        }
    }
    Ok(sent)
}

/// `sha256=<hex>` of `body` under `secret`: what `X-Shiplog-Signature` carries.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before try number `attempts + 1`.
pub(super) fn backoff(config: &Config, attempts: i64) -> TimeDelta {
    let base = TimeDelta::from_std(config.webhook_retry).unwrap_or(TimeDelta::seconds(30));
    base * 4i32.pow((attempts - 1).clamp(0, 6) as u32)
}

/// An HTTP error with its causes, in one line ("connection refused" is
/// only in the innermost one).
pub fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// A webhook as an admin configures it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    pub url: String,
    pub events: Vec<NotifyEvent>,
    /// Signs each body (HMAC-SHA256); at least 16 characters.
    pub secret: String,
    /// `json` (default) or `slack`.
    #[serde(default = "json_format")]
    pub format: WebhookFormat,
}

fn json_format() -> WebhookFormat {
    WebhookFormat::Json
}

pub async fn create_webhook(
    db: &Db,
    config: &Config,
    actor: &Actor,
    input: WebhookInput,
) -> Result<Webhook, AppError> {
    may_configure(actor)?;
    let url = url::Url::parse(input.url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            AppError::invalid("url", "give the webhook's full http:// or https:// address")
        })?;
    if input.url.len() > 2000 {
        return Err(AppError::invalid(
            "url",
            "keep the address under 2,000 characters",
        ));
    }
    super::webhooks::check_target(&url, config.webhook_allow_private).await?;
    let mut events = input.events;
    events.sort_by_key(|e| e.as_str());
    events.dedup();
    if events.is_empty() {
        return Err(AppError::invalid(
            "events",
            "choose at least one event to send",
        ));
    }
    let secret = input.secret.trim();
    if secret.chars().count() < 16 || secret.len() > 200 {
        return Err(AppError::invalid(
            "secret",
            "the secret signs each delivery: 16 to 200 characters",
        ));
    }
    let id = db
        .create_webhook(&NewWebhook {
            url: url.to_string(),
            events,
            secret: secret.to_string(),
            format: input.format,
            created_by: actor.label.clone(),
        })
        .await?;
    tracing::info!(webhook = id, by = %actor.label, "webhook added");
    webhook(db, actor, id).await
}

pub async fn webhooks(db: &Db, actor: &Actor) -> Result<Vec<Webhook>, AppError> {
    actor.require(actor.role.is_admin(), "see webhooks")?;
    Ok(db.webhooks().await?)
}

pub async fn webhook(db: &Db, actor: &Actor, id: i64) -> Result<Webhook, AppError> {
    webhooks(db, actor)
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or_else(|| AppError::not_found(format!("There is no webhook {id}.")))
}

pub async fn remove_webhook(db: &Db, actor: &Actor, id: i64) -> Result<(), AppError> {
    may_configure(actor)?;
    db.remove_webhook(id).await.map_err(|e| match e {
        DbError::NotFound => AppError::not_found(format!("There is no webhook {id}.")),
        other => other.into(),
    })?;
    tracing::info!(webhook = id, by = %actor.label, "webhook removed");
    Ok(())
}

pub async fn deliveries(
    db: &Db,
    actor: &Actor,
    webhook_id: i64,
) -> Result<Vec<WebhookDelivery>, AppError> {
    webhook(db, actor, webhook_id).await?;
    Ok(db.deliveries(webhook_id, 100).await?)
}

pub async fn redeliver(db: &Db, actor: &Actor, id: i64) -> Result<WebhookDelivery, AppError> {
    actor.require(actor.role.is_admin(), "redeliver webhooks")?;
    db.delivery(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("There is no delivery {id}.")))?;
    db.redeliver(id, Utc::now()).await?;
    tracing::info!(delivery = id, by = %actor.label, "webhook delivery queued again");
    db.delivery(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("There is no delivery {id}.")))
}

/// The events a person chose to be emailed about.
pub async fn preferences(db: &Db, actor: &Actor) -> Result<Vec<NotifyEvent>, AppError> {
    let user = actor
        .user_id
        .ok_or_else(|| AppError::forbidden("Email choices belong to people, not tokens."))?;
    Ok(db
        .notification_prefs(user)
        .await?
        .iter()
        .filter_map(|e| e.parse().ok())
        .collect())
}

pub async fn set_preferences(
    db: &Db,
    actor: &Actor,
    events: Vec<NotifyEvent>,
) -> Result<Vec<NotifyEvent>, AppError> {
    let user = actor
        .user_id
        .ok_or_else(|| AppError::forbidden("Email choices belong to people, not tokens."))?;
    let mut events = events;
    events.sort_by_key(|e| e.as_str());
    events.dedup();
    db.set_notification_prefs(user, &events).await?;
    Ok(events)
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
