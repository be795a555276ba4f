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
use serde::Deserialize;

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
    let now = db.now();
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
    db.redeliver(id, db.now()).await?;
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
