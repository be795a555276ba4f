//! Customer email: subscribers, suppressed addresses and announcement campaigns.

use super::deploy::{string_enum, EntryKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

string_enum! {
    /// Where a subscriber is in their life.
    SubscriberStatus {
        Pending => "pending", "Waiting for confirmation";
        Confirmed => "confirmed", "Confirmed";
        Unsubscribed => "unsubscribed", "Unsubscribed";
        Removed => "removed", "Removed";
    }
}

string_enum! {
    /// How often a subscriber hears about every change.
    DigestFrequency {
        Off => "off", "No digest";
        Daily => "daily", "Daily digest";
        Weekly => "weekly", "Weekly digest";
    }
}

string_enum! {
    /// Why an address is never mailed.
    SuppressionReason {
        Bounce => "bounce", "Bounced";
        Complaint => "complaint", "Marked as spam";
        Manual => "manual", "Suppressed by hand";
    }
}

string_enum! {
    /// Where an announcement campaign is.
    CampaignStatus {
        Draft => "draft", "Draft";
        Scheduled => "scheduled", "Scheduled";
        Sending => "sending", "Sending";
        Paused => "paused", "Paused";
        Sent => "sent", "Sent";
        Cancelled => "cancelled", "Cancelled";
    }
}

string_enum! {
    /// What the team can do to a campaign.
    CampaignAction {
        Send => "send", "Send";
        Pause => "pause", "Pause";
        Resume => "resume", "Resume";
        Cancel => "cancel", "Cancel";
    }
}

impl CampaignAction {
    /// The statuses a campaign may be in for this action: the campaign's
    /// state machine, which the service enforces and the page shows.
    pub fn from_statuses(self) -> &'static [CampaignStatus] {
        use CampaignStatus::*;
        match self {
            CampaignAction::Send => &[Draft, Scheduled],
            CampaignAction::Pause => &[Sending],
            CampaignAction::Resume => &[Paused],
            CampaignAction::Cancel => &[Draft, Scheduled, Sending, Paused],
        }
    }
}

impl CampaignStatus {
    /// Whether a campaign in this status allows `action` now.
    pub fn allows(self, action: CampaignAction) -> bool {
        action.from_statuses().contains(&self)
    }
}

/// The kinds a new subscriber hears about unless they choose: all four
/// (the README's promise, and what `/subscribe` offers ticked).
pub fn default_kinds() -> Vec<EntryKind> {
    SUBSCRIBABLE_KINDS.to_vec()
}

/// The kinds a customer may choose (internal changes never reach email).
pub const SUBSCRIBABLE_KINDS: [EntryKind; 4] = [
    EntryKind::Feature,
    EntryKind::Fix,
    EntryKind::Improvement,
    EntryKind::Security,
];

/// Someone who asked for release notes by email.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Subscriber {
    pub id: i64,
    /// `None` once removed: the address is erased.
    pub email: Option<String>,
    /// The customer account they read as, if any.
    pub account: Option<String>,
    /// Joined from the account's administrators' link.
    pub account_admin: bool,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: SubscriberStatus,
    /// Whether the address is suppressed (bounced, complained, or by hand).
    pub suppressed: bool,
    /// An announcement when a release is published.
    pub releases: bool,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub digest: DigestFrequency,
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub kinds: Vec<EntryKind>,
    /// Empty: every component.
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub components: Vec<String>,
    /// How they joined: `form`, `link`, `app`, `import` or `api`.
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub unsubscribed_at: Option<DateTime<Utc>>,
}

/// What a subscriber chose to hear about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preferences {
    pub releases: bool,
    pub digest: DigestFrequency,
    pub kinds: Vec<EntryKind>,
    pub components: Vec<String>,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            releases: true,
            digest: DigestFrequency::Off,
            kinds: default_kinds(),
            components: vec![],
        }
    }
}

/// An address that is never mailed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Suppression {
    pub email: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub reason: SuppressionReason,
    /// The SMTP server's reply, or a note.
    pub detail: Option<String>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Messages of a campaign by where they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeliveryCounts {
    /// Waiting to be sent (including those being sent now and retries).
    pub queued: i64,
    pub sent: i64,
    /// Refused for good by the SMTP server.
    pub failed: i64,
    /// Not sent: the subscriber left, or the address is suppressed.
    pub skipped: i64,
}

/// A release's announcement by email.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Campaign {
    pub id: i64,
    /// The release's slug and title.
    pub release: String,
    pub release_title: String,
    pub status: CampaignStatus,
    pub send_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub counts: DeliveryCounts,
    /// Messages sent in the last minute, per second.
    pub rate: f64,
    /// Confirmed subscribers who would receive it (before it is sent).
    pub recipients: i64,
    /// Its recipients who unsubscribed after it started.
    pub unsubscribed_since: i64,
}

/// A message the SMTP server refused, for the campaign page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct DeliveryFailure {
    pub email: Option<String>,
    pub error: Option<String>,
    pub attempts: i64,
}

/// A kind list from a form or the API: known subscribable kinds, no repeats.
pub fn parse_kinds<S: AsRef<str>>(raw: &[S]) -> Result<Vec<EntryKind>, String> {
    let mut kinds = Vec::new();
    for k in raw {
        let kind = EntryKind::from_str(k.as_ref().trim())?;
        if !SUBSCRIBABLE_KINDS.contains(&kind) {
            return Err(format!(
                "`{}` cannot be subscribed to; choose from feature, fix, improvement, security",
                k.as_ref()
            ));
        }
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// One subscriber as a script or an import gives it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SubscriberInput {
    #[cfg_attr(feature = "ssr", schema(example = "ana@example.com"))]
    pub email: String,
    /// An account slug: the subscriber reads as that account.
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default = "yes")]
    pub releases: bool,
    #[serde(default = "digest_off")]
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "weekly"))]
    pub digest: String,
    /// Entry kinds; all four when left out.
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
    #[serde(default)]
    pub components: Option<Vec<String>>,
    /// These people consented: stored as confirmed, with no confirmation email.
    #[serde(default)]
    pub confirmed: bool,
}

fn yes() -> bool {
    true
}

fn digest_off() -> String {
    "off".into()
}

/// A row an import refused, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Rejected {
    /// The row's position, from 1.
    pub row: usize,
    pub email: String,
    pub field: String,
    pub reason: String,
}

/// What an import found (and, unless it was a preview, stored).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportReport {
    /// Rows that would be (or were) added.
    pub accepted: usize,
    pub rejected: Vec<Rejected>,
    /// Whether anything was stored: only when no row was rejected.
    pub imported: bool,
    pub subscribers: Vec<Subscriber>,
}

/// A page of the subscriber list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SubscriberPage {
    pub subscribers: Vec<Subscriber>,
    /// Matching subscribers in all pages.
    pub total: i64,
}

/// An email as one subscriber would get it, for the campaign page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessagePreview {
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// What the public subscribe form sends: the one input of signing up.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SubscribeForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub form_token: String,
    /// The honeypot: hidden from people, filled in by bots.
    #[serde(default)]
    pub website: String,
    /// The same body read as preferences (read apart: a list field does
    /// not survive `serde(flatten)`).
    #[serde(skip)]
    pub choices: ChoicesForm,
}

/// Preferences as an HTML form sends them (checkboxes are absent when off).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ChoicesForm {
    #[serde(default)]
    pub releases: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Comma-separated.
    #[serde(default)]
    pub components: String,
    /// Set by the full form, so that an empty kind list means "none" there.
    #[serde(default)]
    pub choosing: Option<String>,
}
