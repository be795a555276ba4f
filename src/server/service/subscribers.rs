//! Subscribers: signing up from the public site (double opt-in), their
//! preferences and unsubscribing through the secret link in every email, and
//! the team's management of the list (import, accounts, removal,
//! suppression).

use super::{validate, Actor, Effects};
use crate::model::*;
use crate::server::auth::signing::Signer;
use crate::server::auth::token;
use crate::server::config::Config;
use crate::server::db::{Db, DbError, NewSubscriber, SubscriberLink, SubscriberQuery};
use crate::server::error::AppError;
use crate::server::mail::{self, Mailer};
use chrono::{DateTime, TimeDelta, Utc};

/// How long a confirmation link works.
pub const CONFIRM_HOURS: i64 = 48;
/// How long a subscribe form stays valid after the page was served.
const FORM_HOURS: i64 = 24;
/// Subscribe requests from one network address per hour, and messages to one
/// address per hour (confirmations and "already subscribed" notes).
const PER_ADDRESS_PER_HOUR: i64 = 10;
const PER_EMAIL_PER_HOUR: i64 = 3;
/// The most components a subscriber may name.
const MAX_COMPONENTS: usize = 50;

/// What sending needs: the mailer, the settings (links) and the signing key.
pub struct Outbox<'a> {
    pub mailer: &'a Mailer,
    pub config: &'a Config,
    pub signer: &'a Signer,
}

impl ChoicesForm {
    pub fn preferences(&self) -> Result<Preferences, AppError> {
        if self.choosing.is_none() {
            return Ok(Preferences::default());
        }
        let digest = match self.digest.as_deref().filter(|d| !d.is_empty()) {
            None => DigestFrequency::Off,
            Some(d) => validate::choice("digest", d)?,
        };
        let kinds = parse_kinds(&self.kinds).map_err(|e| AppError::invalid("kinds", e))?;
        let components: Vec<String> = self
            .components
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| validate::component("components", Some(c)).map(|c| c.unwrap_or_default()))
            .collect::<Result<_, _>>()?;
        preferences(self.releases.is_some(), digest, kinds, components)
    }
}

/// Checked preferences: something to receive, and sane lists.
pub fn preferences(
    releases: bool,
    digest: DigestFrequency,
    kinds: Vec<EntryKind>,
    mut components: Vec<String>,
) -> Result<Preferences, AppError> {
    if !releases && digest == DigestFrequency::Off {
        return Err(AppError::invalid(
            "releases",
            "choose release announcements, a digest, or both",
        ));
    }
    if kinds.is_empty() {
        return Err(AppError::invalid(
            "kinds",
            "choose at least one kind of change",
        ));
    }
    components.sort();
    components.dedup();
    if components.len() > MAX_COMPONENTS {
        return Err(AppError::invalid(
            "components",
            format!("name at most {MAX_COMPONENTS} components"),
        ));
    }
    Ok(Preferences {
        releases,
        digest,
        kinds,
        components,
    })
}

/// A fresh token for the subscribe form: when it was issued, signed.
pub fn form_token(signer: &Signer, now: DateTime<Utc>) -> String {
    let issued = now.timestamp().to_string();
    let sig = signer.sign("subscribe-form", &issued);
    format!("{issued}.{sig}")
}

fn form_token_valid(signer: &Signer, raw: &str, now: DateTime<Utc>) -> bool {
    let Some((issued, sig)) = raw.split_once('.') else {
        return false;
    };
    let Ok(at) = issued.parse::<i64>() else {
        return false;
    };
    let age = now.timestamp() - at;
    (-300..FORM_HOURS * 3600).contains(&age) && signer.verify("subscribe-form", issued, sig)
}

/// The confirmation link's token: subscriber, expiry, and a signature over
/// both and the subscriber's secret (so a removed subscriber's links die).
fn confirm_token(signer: &Signer, link: &SubscriberLink, now: DateTime<Utc>) -> String {
    let expires = (now + TimeDelta::hours(CONFIRM_HOURS)).timestamp();
    let payload = format!("{}.{expires}", link.subscriber.id);
    let sig = signer.sign("confirm", &format!("{payload}.{}", link.token));
    format!("{payload}.{sig}")
}

/// Sign-up from a public page: the same answer whatever the address was.
/// `reader` is who the page was read as (an account's private link makes the
/// subscriber that account's). Nothing is sent to an address before it is
/// confirmed, except the confirmation request itself.
pub async fn subscribe(
    db: &Db,
    out: &Outbox<'_>,
    reader: &Reader,
    form: &SubscribeForm,
    client: &str,
) -> Result<(), AppError> {
    if !form_token_valid(out.signer, &form.form_token, db.now()) {
        return Err(AppError::invalid(
            "form_token",
            "this form has expired; reload the page and subscribe again",
        ));
    }
    let email = validate::email("email", &form.email)?;
    let prefs = form.choices.preferences()?;
    if !form.website.trim().is_empty() {
        // A bot filled in the hidden field: answer as usual, send nothing.
        tracing::info!(client, "subscribe form honeypot filled; ignored");
        return Ok(());
    }
    let now = db.now();
    let keys = [
        format!("subscribe-address:{client}"),
        format!("subscribe-email:{email}"),
    ];
    let (_, counts) = db
        .record_login_attempt(&keys, now, now - TimeDelta::hours(1))
        .await?;
    if counts[0] > PER_ADDRESS_PER_HOUR {
        return Err(AppError::TooManyRequests(
            "Too many subscriptions from your network in the last hour. Please try again later."
                .into(),
        ));
    }
    if counts[1] > PER_EMAIL_PER_HOUR {
        tracing::info!("subscribe: this address was mailed enough this hour; nothing sent");
        return Ok(());
    }
    if db.is_suppressed(&email).await? {
        tracing::info!("subscribe: the address is suppressed; nothing sent");
        return Ok(());
    }
    let (account, admin) = match reader {
        Reader::Account { slug, admin, .. } => (Some(slug.clone()), *admin),
        Reader::Public => (None, false),
    };
    let link = match db.subscriber_by_email(&email).await? {
        Some(known) if known.subscriber.status == SubscriberStatus::Confirmed => {
            let message = mail::already_subscribed(
                &email,
                &out.config.link(&format!("/subscription/{}", known.token)),
            );
            send_quietly(out.mailer, message).await;
            return Ok(());
        }
        Some(known) => {
            // Pending or unsubscribed: their new choices, and a new request.
            db.set_preferences(known.subscriber.id, &prefs).await?;
            if account.is_some() {
                db.set_subscriber_account(known.subscriber.id, account.as_deref(), admin)
                    .await?;
            }
            db.set_subscriber_status(known.subscriber.id, SubscriberStatus::Pending, now)
                .await?;
            db.subscriber_link(known.subscriber.id).await?
        }
        None => {
            let new = NewSubscriber {
                email: email.clone(),
                account,
                account_admin: admin,
                status: SubscriberStatus::Pending,
                preferences: prefs,
                source: if matches!(reader, Reader::Public) {
                    "form".into()
                } else {
                    "link".into()
                },
                token: token::generate(""),
            };
            match db.add_subscriber(&new).await {
                Ok(s) => db.subscriber_link(s.id).await?,
                // Two sign-ups at once: the other one sends the request.
                Err(DbError::Conflict(_)) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    };
    request_confirmation(db, out, &link).await
}

/// Sends the confirmation request (its link expires) and records when.
async fn request_confirmation(
    db: &Db,
    out: &Outbox<'_>,
    link: &SubscriberLink,
) -> Result<(), AppError> {
    let email = link.subscriber.email.as_deref().unwrap_or_default();
    let confirm = out.config.link(&format!(
        "/subscribe/confirm?t={}",
        confirm_token(out.signer, link, db.now())
    ));
    send_quietly(out.mailer, mail::confirm_subscription(email, &confirm)).await;
    db.confirmation_sent(link.subscriber.id, db.now()).await?;
    Ok(())
}

/// Sends a message whose failure the person cannot act on: it is logged.
async fn send_quietly(mailer: &Mailer, message: mail::Outgoing) {
    if let Err(e) = mailer.send(message).await {
        tracing::error!(
            error = format!("{e:#}"),
            "a subscription email was not sent"
        );
    }
}

/// Confirms from the emailed link; confirming again is fine.
pub async fn confirm(db: &Db, signer: &Signer, raw: &str) -> Result<SubscriberLink, AppError> {
    let invalid = || {
        AppError::not_found(
            "This confirmation link is not valid. Subscribe again to get a new one.",
        )
    };
    let mut parts = raw.splitn(3, '.');
    let (Some(id), Some(expires), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let (Ok(id), Ok(expires)) = (id.parse::<i64>(), expires.parse::<i64>()) else {
        return Err(invalid());
    };
    let link = match db.subscriber_link(id).await {
        Ok(link) if link.subscriber.status != SubscriberStatus::Removed => link,
        Ok(_) | Err(DbError::NotFound) => return Err(invalid()),
        Err(e) => return Err(e.into()),
    };
    if !signer.verify("confirm", &format!("{id}.{expires}.{}", link.token), sig) {
        return Err(invalid());
    }
    if link.subscriber.status == SubscriberStatus::Confirmed {
        return Ok(link);
    }
    if db.now().timestamp() > expires {
        return Err(AppError::Gone(
            "This confirmation link has expired (links work for 48 hours). Subscribe again to get a new one."
                .into(),
        ));
    }
    if db
        .is_suppressed(link.subscriber.email.as_deref().unwrap_or_default())
        .await?
    {
        return Err(AppError::conflict(
            "This address cannot receive email from us (it bounced or was reported). Contact us to lift that.",
        ));
    }
    db.set_subscriber_status(id, SubscriberStatus::Confirmed, db.now())
        .await?;
    Ok(db.subscriber_link(id).await?)
}

/// The subscriber behind a link's secret.
pub async fn by_token(db: &Db, secret: &str) -> Result<SubscriberLink, AppError> {
    db.subscriber_by_token(secret).await?.ok_or_else(|| {
        AppError::not_found(
            "This subscription link is not valid (the subscription may have been removed).",
        )
    })
}

/// New choices from the preferences page; a subscriber who had left and
/// saves choices is subscribed again (the link proves the address is theirs).
pub async fn save_preferences(
    db: &Db,
    secret: &str,
    choices: &ChoicesForm,
) -> Result<SubscriberLink, AppError> {
    let link = by_token(db, secret).await?;
    let prefs = choices.preferences()?;
    db.set_preferences(link.subscriber.id, &prefs).await?;
    if link.subscriber.status != SubscriberStatus::Confirmed {
        db.set_subscriber_status(link.subscriber.id, SubscriberStatus::Confirmed, db.now())
            .await?;
    }
    Ok(db.subscriber_link(link.subscriber.id).await?)
}

/// Unsubscribes at once (one click, from any email or the preferences page).
pub async fn unsubscribe(db: &Db, secret: &str) -> Result<SubscriberLink, AppError> {
    let link = by_token(db, secret).await?;
    if link.subscriber.status != SubscriberStatus::Unsubscribed {
        db.set_subscriber_status(link.subscriber.id, SubscriberStatus::Unsubscribed, db.now())
            .await?;
        tracing::info!(subscriber = link.subscriber.id, "unsubscribed");
    }
    Ok(db.subscriber_link(link.subscriber.id).await?)
}

/// Whether `actor` may manage subscribers; checked before any input is read.
pub fn may_manage(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role.can_manage_releases(), "manage subscribers")
}

fn checked(
    input: &SubscriberInput,
    accounts: &[String],
) -> Result<(String, Preferences), (String, String)> {
    let fail = |e: AppError| match e {
        AppError::Invalid { field, message } => (field, message),
        other => ("body".to_string(), other.to_string()),
    };
    let email = validate::email("email", &input.email).map_err(fail)?;
    if let Some(a) = &input.account {
        if !accounts.contains(a) {
            return Err(("account".into(), format!("there is no account `{a}`")));
        }
    }
    let digest = validate::choice("digest", &input.digest).map_err(fail)?;
    let kinds = match &input.kinds {
        None => SUBSCRIBABLE_KINDS.to_vec(),
        Some(k) => parse_kinds(k).map_err(|e| ("kinds".to_string(), e))?,
    };
    let components = input
        .components
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|c| validate::component("components", Some(c)).map(|c| c.unwrap_or_default()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)?;
    let prefs = preferences(input.releases, digest, kinds, components).map_err(fail)?;
    Ok((email, prefs))
}

/// Adds subscribers, all or none: every row is checked first (address,
/// account, choices, duplicates within the list and with the stored list),
/// and nothing is stored while any row is rejected or when `preview` is set.
/// Rows not marked `confirmed` are stored pending and sent a confirmation
/// request. New subscribers can be mailed at once (the engine is woken) and
/// change the counts customers' pages show (they are rendered again).
pub async fn import(
    db: &Db,
    out: &Outbox<'_>,
    fx: &Effects<'_>,
    actor: &Actor,
    rows: &[SubscriberInput],
    preview: bool,
    source: &str,
) -> Result<ImportReport, AppError> {
    may_manage(actor)?;
    if rows.is_empty() {
        return Err(AppError::invalid("body", "there is nobody to add"));
    }
    if rows.len() > 100_000 {
        return Err(AppError::invalid(
            "body",
            "add at most 100,000 subscribers at once",
        ));
    }
    let accounts: Vec<String> = db
        .list_accounts()
        .await?
        .into_iter()
        .map(|a| a.slug)
        .collect();
    let checks: Vec<_> = rows.iter().map(|r| checked(r, &accounts)).collect();
    let addresses: Vec<String> = checks
        .iter()
        .filter_map(|c| c.as_ref().ok().map(|(email, _)| email.clone()))
        .collect();
    let known: std::collections::HashSet<String> =
        db.existing_emails(&addresses).await?.into_iter().collect();
    drop(addresses);
    let mut seen = std::collections::HashSet::new();
    let mut rejected = vec![];
    let mut new = vec![];
    for (i, (input, check)) in rows.iter().zip(checks).enumerate() {
        let reject = |field: String, reason: String| Rejected {
            row: i + 1,
            email: input.email.clone(),
            field,
            reason,
        };
        match check {
            Err((field, reason)) => rejected.push(reject(field, reason)),
            Ok((email, _)) if !seen.insert(email.clone()) => rejected.push(reject(
                "email".into(),
                "this address appears earlier in the list".into(),
            )),
            Ok((email, _)) if known.contains(&email) => rejected.push(reject(
                "email".into(),
                "this address is already subscribed".into(),
            )),
            Ok((email, preferences)) => new.push(NewSubscriber {
                email,
                account: input.account.clone(),
                account_admin: false,
                status: if input.confirmed {
                    SubscriberStatus::Confirmed
                } else {
                    SubscriberStatus::Pending
                },
                preferences,
                source: source.into(),
                token: token::generate(""),
            }),
        }
    }
    let accepted = new.len();
    if preview || !rejected.is_empty() {
        return Ok(ImportReport {
            accepted,
            rejected,
            imported: false,
            subscribers: vec![],
        });
    }
    let ids = db.add_subscribers(&new).await?;
    tracing::info!(count = ids.len(), by = %actor.label, "subscribers added");
    drop(new);
    let mut subscribers = Vec::with_capacity(ids.len());
    for link in db.subscriber_links(&ids).await? {
        if link.subscriber.status == SubscriberStatus::Pending && !link.subscriber.suppressed {
            request_confirmation(db, out, &link).await?;
        }
        subscribers.push(link.subscriber);
    }
    fx.mail_queued();
    fx.pages_changed();
    Ok(ImportReport {
        accepted,
        rejected,
        imported: true,
        subscribers,
    })
}

pub async fn list(db: &Db, actor: &Actor, q: &SubscriberQuery) -> Result<SubscriberPage, AppError> {
    may_manage(actor)?;
    if let Some(status) = q.status.as_deref() {
        if status != "suppressed" && status.parse::<SubscriberStatus>().is_err() {
            return Err(AppError::invalid(
                "status",
                "choose pending, confirmed, unsubscribed or suppressed",
            ));
        }
    }
    let (subscribers, total) = db.list_subscribers(q).await?;
    Ok(SubscriberPage { subscribers, total })
}

/// Moves a subscriber to an account (or to the public with `None`).
pub async fn set_account(
    db: &Db,
    actor: &Actor,
    id: i64,
    account: Option<&str>,
    admin: bool,
) -> Result<Subscriber, AppError> {
    may_manage(actor)?;
    db.set_subscriber_account(id, account, admin)
        .await
        .map_err(|e| match e {
            DbError::NotFound => AppError::not_found("There is no such subscriber."),
            other => other.into(),
        })
}

/// Erases the address; counts keep the row.
pub async fn remove(db: &Db, actor: &Actor, id: i64) -> Result<(), AppError> {
    may_manage(actor)?;
    db.remove_subscriber(id, &token::generate(""))
        .await
        .map_err(|e| match e {
            DbError::NotFound => AppError::not_found("There is no such subscriber."),
            other => other.into(),
        })?;
    tracing::info!(subscriber = id, by = %actor.label, "subscriber removed");
    Ok(())
}

/// Only admins suppress addresses; checked before any input is read.
pub fn may_suppress(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role.is_admin(), "suppress addresses")
}

/// Never mail this address again (until an admin lifts it).
pub async fn suppress(
    db: &Db,
    actor: &Actor,
    email: &str,
    reason: SuppressionReason,
    detail: Option<&str>,
) -> Result<Suppression, AppError> {
    may_suppress(actor)?;
    let email = validate::email("email", email)?;
    let detail = detail.map(|d| d.chars().take(500).collect::<String>());
    Ok(db
        .suppress(&email, reason, detail.as_deref(), &actor.label)
        .await?)
}

pub async fn lift_suppression(db: &Db, actor: &Actor, email: &str) -> Result<(), AppError> {
    actor.require(actor.role.is_admin(), "lift suppressions")?;
    let email = validate::email("email", email)?;
    db.lift_suppression(&email).await.map_err(|e| match e {
        DbError::NotFound => AppError::not_found("This address is not suppressed."),
        other => other.into(),
    })
}

pub async fn suppressions(db: &Db, actor: &Actor) -> Result<Vec<Suppression>, AppError> {
    may_manage(actor)?;
    Ok(db.list_suppressions().await?)
}

/// Reads subscribers from CSV with a header row naming its columns: `email`
/// (required), and any of `account`, `releases` (yes/no), `digest`
/// (off/daily/weekly), `kinds` and `components` (separated by `;` or `|`).
/// `confirmed` is the importer's word that these people consented.
pub fn parse_csv(text: &str, confirmed: bool) -> Result<Vec<SubscriberInput>, AppError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::invalid("csv", format!("the header row could not be read: {e}")))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let email = col("email").ok_or_else(|| {
        AppError::invalid(
            "csv",
            "the first row must name the columns, including `email`",
        )
    })?;
    let known = [
        "email",
        "account",
        "releases",
        "digest",
        "kinds",
        "components",
    ];
    if let Some(other) = headers.iter().find(|h| !known.contains(&h.as_str())) {
        return Err(AppError::invalid(
            "csv",
            format!(
                "unknown column `{other}`; the columns are {}",
                known.join(", ")
            ),
        ));
    }
    let list = |v: &str| -> Option<Vec<String>> {
        let items: Vec<String> = v
            .split([';', '|'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        (!items.is_empty()).then_some(items)
    };
    let mut rows = vec![];
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            AppError::invalid("csv", format!("row {} could not be read: {e}", i + 2))
        })?;
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_string();
        let releases = match get(col("releases")).to_lowercase().as_str() {
            "" | "yes" | "true" | "1" | "y" => true,
            "no" | "false" | "0" | "n" => false,
            other => {
                return Err(AppError::invalid(
                    "csv",
                    format!("row {}: `releases` must be yes or no, not `{other}`", i + 2),
                ))
            }
        };
        let digest = get(col("digest"));
        rows.push(SubscriberInput {
            email: get(Some(email)),
            account: Some(get(col("account"))).filter(|a| !a.is_empty()),
            releases,
            digest: if digest.is_empty() {
                "off".into()
            } else {
                digest.to_lowercase()
            },
            kinds: list(&get(col("kinds"))),
            components: list(&get(col("components"))),
            confirmed,
        });
    }
    if rows.is_empty() {
        return Err(AppError::invalid(
            "csv",
            "there are no rows under the header",
        ));
    }
    Ok(rows)
}

/// Every subscriber (removed ones have no address and are left out) as CSV,
/// in the columns `parse_csv` reads, plus status and dates.
pub async fn export_csv(db: &Db, actor: &Actor) -> Result<String, AppError> {
    may_manage(actor)?;
    let mut out = csv::Writer::from_writer(vec![]);
    let fail = |e: csv::Error| AppError::internal(e);
    out.write_record([
        "email",
        "account",
        "releases",
        "digest",
        "kinds",
        "components",
        "status",
        "suppressed",
        "created_at",
        "confirmed_at",
    ])
    .map_err(fail)?;
    let mut offset = 0;
    loop {
        let (page, _) = db
            .list_subscribers(&SubscriberQuery {
                limit: 1000,
                offset,
                ..Default::default()
            })
            .await?;
        if page.is_empty() {
            break;
        }
        offset += page.len() as i64;
        for s in page {
            let kinds: Vec<&str> = s.kinds.iter().map(|k| k.as_str()).collect();
            out.write_record([
                s.email.unwrap_or_default(),
                s.account.unwrap_or_default(),
                if s.releases { "yes" } else { "no" }.to_string(),
                s.digest.as_str().to_string(),
                kinds.join(";"),
                s.components.join(";"),
                s.status.as_str().to_string(),
                if s.suppressed { "yes" } else { "no" }.to_string(),
                s.created_at.to_rfc3339(),
                s.confirmed_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            ])
            .map_err(fail)?;
        }
    }
    String::from_utf8(
        out.into_inner()
            .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?,
    )
    .map_err(AppError::internal)
}
