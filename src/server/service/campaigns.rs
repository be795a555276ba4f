//! Release announcements by email: a campaign per release, made as a draft
//! when the release is published, previewed and tested by a PM, then sent to
//! every confirmed subscriber who may read the release.

use super::{Actor, Effects};
use crate::model::*;
use crate::server::db::{CampaignRow, Candidate, Db, DbError};
use crate::server::error::AppError;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;

/// Whether `actor` may manage email campaigns; checked before any input is read.
pub fn may_manage(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role.can_manage_releases(), "manage email campaigns")
}

fn missing() -> AppError {
    AppError::not_found("There is no such campaign.")
}

/// The stored audiences a subscriber reads, given their account's cohorts.
pub fn audiences_of(c: &Candidate, cohorts: &HashMap<String, Vec<String>>) -> Vec<String> {
    match &c.account {
        Some(slug) => Reader::Account {
            slug: slug.clone(),
            name: String::new(),
            cohorts: cohorts.get(slug).cloned().unwrap_or_default(),
            admin: c.account_admin,
        }
        .audiences(),
        None => Reader::Public.audiences(),
    }
}

/// Each account's cohorts.
pub async fn cohorts_by_account(db: &Db) -> Result<HashMap<String, Vec<String>>, AppError> {
    Ok(db
        .list_accounts()
        .await?
        .into_iter()
        .map(|a| (a.slug, a.cohorts))
        .collect())
}

/// Subscribers who would receive this release's announcement: confirmed,
/// wanting announcements, not suppressed, and allowed to read the release.
async fn recipients(db: &Db, release: &Release) -> Result<Vec<i64>, AppError> {
    let cohorts = cohorts_by_account(db).await?;
    let audience = release.audience.to_string();
    Ok(db
        .announcement_candidates()
        .await?
        .into_iter()
        .filter(|c| audiences_of(c, &cohorts).contains(&audience))
        .map(|c| c.id)
        .collect())
}

async fn release_of(db: &Db, row: &CampaignRow) -> Result<Release, AppError> {
    Ok(db
        .release(row.release_id)
        .await?
        .ok_or_else(missing)?
        .release)
}

/// A campaign with its counts and current rate.
pub async fn describe(db: &Db, row: CampaignRow) -> Result<Campaign, AppError> {
    let counts = db.delivery_counts(row.id).await?;
    let rate = if row.status == CampaignStatus::Sending {
        db.sent_since(row.id, db.now() - TimeDelta::seconds(60))
            .await? as f64
            / 60.0
    } else {
        0.0
    };
    let recipients = match row.status {
        CampaignStatus::Draft | CampaignStatus::Scheduled => {
            recipients(db, &release_of(db, &row).await?).await?.len() as i64
        }
        _ => counts.queued + counts.sent + counts.failed + counts.skipped,
    };
    Ok(Campaign {
        id: row.id,
        release: row.release_slug,
        release_title: row.release_title,
        status: row.status,
        send_at: row.send_at,
        created_by: row.created_by,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        unsubscribed_since: match row.status {
            CampaignStatus::Sent | CampaignStatus::Cancelled => {
                db.unsubscribed_since(row.id).await?
            }
            _ => 0,
        },
        counts,
        rate,
        recipients,
    })
}

/// The release's campaign as a draft; `true` when it was made now.
pub async fn create(db: &Db, actor: &Actor, release: &str) -> Result<(Campaign, bool), AppError> {
    may_manage(actor)?;
    let id = db
        .release_id(release)
        .await?
        .ok_or_else(|| AppError::invalid("release", format!("there is no release `{release}`")))?;
    let (campaign, made) = db.create_campaign(id, &actor.label).await?;
    if made {
        tracing::info!(campaign, release, by = %actor.label, "campaign drafted");
    }
    Ok((describe(db, db.campaign(campaign).await?).await?, made))
}

/// Drafts the announcement of a release that was just published, unless
/// the PM chose not to announce it.
pub async fn on_published(db: &Db, release_id: i64, by: &str) -> Result<(), AppError> {
    if !db.release_announces(release_id).await? {
        tracing::info!(
            release = release_id,
            "published without an announcement, as chosen"
        );
        return Ok(());
    }
    let (id, made) = db.create_campaign(release_id, by).await?;
    if made {
        tracing::info!(campaign = id, release = release_id, "announcement drafted");
    }
    Ok(())
}

pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<Campaign, AppError> {
    may_manage(actor)?;
    let row = db.campaign(id).await.map_err(not_found)?;
    describe(db, row).await
}

pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<Campaign>, AppError> {
    may_manage(actor)?;
    let mut out = vec![];
    for row in db.list_campaigns(100).await? {
        out.push(describe(db, row).await?);
    }
    Ok(out)
}

pub async fn failures(db: &Db, actor: &Actor, id: i64) -> Result<Vec<DeliveryFailure>, AppError> {
    may_manage(actor)?;
    Ok(db.delivery_failures(id, 200).await?)
}

fn not_found(e: DbError) -> AppError {
    match e {
        DbError::NotFound => missing(),
        other => other.into(),
    }
}

/// What the team does to a campaign (send now or at `at`, pause, resume,
/// cancel): the one entry point of the API's endpoints and the app's
/// buttons. Mail it queues wakes the delivery engine.
pub async fn act(
    db: &Db,
    fx: &Effects<'_>,
    host: &str,
    actor: &Actor,
    id: i64,
    action: CampaignAction,
    at: Option<DateTime<Utc>>,
) -> Result<Campaign, AppError> {
    let campaign = match action {
        CampaignAction::Send => send(db, host, actor, id, at).await?,
        CampaignAction::Pause => transition(db, actor, id, action, CampaignStatus::Paused).await?,
        CampaignAction::Resume => {
            transition(db, actor, id, action, CampaignStatus::Sending).await?
        }
        CampaignAction::Cancel => {
            transition(db, actor, id, action, CampaignStatus::Cancelled).await?
        }
    };
    fx.mail_queued();
    Ok(campaign)
}

/// Sends now, or at `at` (the scheduler starts it then).
pub(super) async fn send(
    db: &Db,
    host: &str,
    actor: &Actor,
    id: i64,
    at: Option<DateTime<Utc>>,
) -> Result<Campaign, AppError> {
    may_manage(actor)?;
    let row = db.campaign(id).await.map_err(not_found)?;
    let release = release_of(db, &row).await?;
    let from = CampaignAction::Send.from_statuses();
    if !row.status.allows(CampaignAction::Send) {
        return Err(AppError::conflict(format!(
            "This campaign is {}; only a draft or a scheduled campaign can be sent.",
            row.status.label().to_lowercase()
        )));
    }
    if release.status != ReleaseStatus::Published {
        return Err(AppError::conflict(
            "Publish the release before announcing it: subscribers' links would lead nowhere.",
        ));
    }
    match at.filter(|t| *t > db.now() + TimeDelta::seconds(5)) {
        Some(at) => {
            super::validate::timestamp("at", at)?;
            db.move_campaign(id, from, CampaignStatus::Scheduled, Some(at))
                .await
                .map_err(stale)?;
            tracing::info!(campaign = id, %at, by = %actor.label, "campaign scheduled");
        }
        None => start(db, host, id, &release, from).await?,
    }
    describe(db, db.campaign(id).await?).await
}

async fn start(
    db: &Db,
    host: &str,
    id: i64,
    release: &Release,
    from: &[CampaignStatus],
) -> Result<(), AppError> {
    let people = recipients(db, release).await?;
    db.start_campaign(id, from, &people, host, db.now())
        .await
        .map_err(stale)?;
    tracing::info!(campaign = id, recipients = people.len(), "campaign sending");
    Ok(())
}

fn stale(e: DbError) -> AppError {
    match e {
        DbError::Stale => AppError::conflict(
            "This campaign changed in the meantime (someone else sent, paused or cancelled it). Reload it.",
        ),
        other => not_found(other),
    }
}

/// Starts the scheduled campaigns whose time has come.
pub async fn start_due(db: &Db, host: &str) -> Result<usize, AppError> {
    let due = db.due_campaigns(db.now()).await?;
    for id in &due {
        let row = db.campaign(*id).await?;
        let release = release_of(db, &row).await?;
        match start(db, host, *id, &release, &[CampaignStatus::Scheduled]).await {
            Ok(()) | Err(AppError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(due.len())
}

async fn transition(
    db: &Db,
    actor: &Actor,
    id: i64,
    action: CampaignAction,
    to: CampaignStatus,
) -> Result<Campaign, AppError> {
    may_manage(actor)?;
    let row = db.campaign(id).await.map_err(not_found)?;
    let from = action.from_statuses();
    if !row.status.allows(action) {
        return Err(AppError::conflict(format!(
            "This campaign is {}; it cannot become {}.",
            row.status.label().to_lowercase(),
            to.label().to_lowercase()
        )));
    }
    db.move_campaign(id, from, to, None).await.map_err(stale)?;
    tracing::info!(campaign = id, status = to.as_str(), by = %actor.label, "campaign changed");
    describe(db, db.campaign(id).await?).await
}

/// Makes a campaign's message as one subscriber would get it, sending
/// nothing: the delivery engine does, which composes every message.
#[async_trait::async_trait]
pub trait Previews: Send + Sync {
    /// The message (with inert links), or why this subscriber gets none.
    async fn preview(
        &self,
        campaign: i64,
        subscriber: i64,
    ) -> Result<Result<crate::server::mail::Outgoing, String>, AppError>;
}

/// The campaign's email as the subscriber with this address would get it.
pub async fn preview(
    db: &Db,
    engine: &dyn Previews,
    actor: &Actor,
    id: i64,
    email: &str,
) -> Result<MessagePreview, AppError> {
    may_manage(actor)?;
    db.campaign(id).await.map_err(not_found)?;
    let email = super::validate::email("email", email)?;
    let subscriber = db
        .subscriber_by_email(&email)
        .await?
        .ok_or_else(|| AppError::invalid("email", format!("`{email}` is not a subscriber")))?;
    match engine.preview(id, subscriber.subscriber.id).await? {
        Ok(m) => Ok(MessagePreview {
            to: m.to,
            subject: m.subject,
            html: m.html,
            text: m.text,
        }),
        Err(why) => Err(AppError::invalid(
            "email",
            format!("{email} would receive nothing: {why}"),
        )),
    }
}

/// Sends the campaign's email, as the subscriber `as_email` would get it, to
/// the person asking (marked as a test).
pub async fn test_send(
    db: &Db,
    engine: &dyn Previews,
    mailer: &crate::server::mail::Mailer,
    actor: &Actor,
    id: i64,
    as_email: &str,
) -> Result<String, AppError> {
    let preview = preview(db, engine, actor, id, as_email).await?;
    let to = actor
        .user_id
        .map(|_| actor.label.clone())
        .ok_or_else(|| AppError::forbidden("A test is sent to a signed-in person."))?;
    let message = crate::server::mail::Outgoing {
        to: to.clone(),
        subject: format!("[Test] {}", preview.subject),
        text: preview.text,
        html: preview.html,
        message_id: None,
        list: None,
    };
    mailer.send(message).await.map_err(AppError::internal)?;
    tracing::info!(campaign = id, to, "test message sent");
    Ok(to)
}
