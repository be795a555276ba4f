//! Deploying safely, around the gate: environments and their deploy nights,
//! the risk-based process, and the notifications sent when something fails.

use super::deploy::{string_enum, DeployStatus, Risk};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

string_enum! {
    /// What an environment is for.
    EnvironmentKind {
        Production => "production", "Production";
        Internal => "internal", "Internal (production-like data, for QA and product)";
        Staging => "staging", "Staging";
    }
}

/// The newest deploy of an environment: what is on it now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OnEnvironment {
    pub deploy_id: i64,
    pub version: String,
    pub status: DeployStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub build_id: Option<i64>,
}

/// An environment, its deploy nights and what is on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Environment {
    pub slug: String,
    pub kind: EnvironmentKind,
    /// ISO weekdays of its deploy nights: 1 is Monday, 7 is Sunday.
    pub schedule_days: Vec<u32>,
    /// The local time deploys start on those nights, `HH:MM`.
    pub schedule_time: Option<String>,
    /// The newest deploy (the last succeeded one is `current`).
    pub latest: Option<OnEnvironment>,
    /// The newest succeeded deploy: what runs there now.
    pub current: Option<OnEnvironment>,
    /// When the next deploy night starts.
    pub next_night: Option<DateTime<Utc>>,
}

/// The environments page: every environment, whether the reader may manage
/// them, and whether deploys create the environments they name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentsData {
    pub environments: Vec<Environment>,
    pub admin: bool,
    pub create_from_ci: bool,
}

string_enum! {
    /// Why a scheduled night had no deploy.
    NightReason {
        Blocked => "blocked", "Blocked";
        NoBuild => "no_build", "No passing build";
        Failed => "failed", "Deploy failed";
        Holiday => "holiday", "Holiday";
        Chosen => "chosen", "Chosen not to deploy";
    }
}

string_enum! {
    /// What happened on a scheduled night.
    NightState {
        Deployed => "deployed", "Deployed";
        Skipped => "skipped", "Skipped";
        Flagged => "flagged", "No deploy and no reason";
        Tonight => "tonight", "Tonight";
        Upcoming => "upcoming", "Upcoming";
    }
}

/// One scheduled deploy night.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Night {
    pub night: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub state: NightState,
    /// The deploy that succeeded that night (the last one, when several).
    pub deploy_id: Option<i64>,
    pub version: Option<String>,
    pub reason: Option<NightReason>,
    pub note: Option<String>,
    /// Who gave the reason; `shiplog` when it was found (a failed deploy, a block).
    pub given_by: Option<String>,
}

/// An environment's deploy nights over a window, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Calendar {
    pub environment: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub nights: Vec<Night>,
    /// Nights in a row deployed, up to the last night that is over.
    pub streak: i64,
    /// Past nights in the window.
    pub scheduled: i64,
    pub deployed: i64,
    /// `deployed / scheduled`, `null` when no night is over.
    pub share_deployed: Option<f64>,
    /// Past nights with no deploy and no reason.
    pub flagged: i64,
}

/// A component admins marked risky: its entries are at least `medium`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RiskyComponent {
    pub component: String,
    pub note: Option<String>,
    pub marked_by: String,
    pub marked_at: DateTime<Utc>,
}

/// The process a risk level asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RiskRule {
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub risk: Risk,
    /// Approvals needed from team members other than the author: 0, 1 or 2.
    pub approvals: i64,
    /// Items that must be ticked, like "Rollback plan".
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub checklist: Vec<String>,
    /// The change must reach `admins` or a cohort before `everyone`.
    pub staged: bool,
    pub updated_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// An approval of an entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Approval {
    pub entry_id: i64,
    pub approver: String,
    pub approved_at: DateTime<Utc>,
}

/// A ticked checklist item of an entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Check {
    pub entry_id: i64,
    pub item: String,
    pub checked_by: String,
    pub checked_at: DateTime<Utc>,
}

/// Where an entry stands in the process its risk asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EntryProcess {
    pub entry_id: i64,
    pub title: String,
    pub deploy_id: i64,
    pub version: String,
    pub environment: String,
    pub component: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub audience: String,
    /// The risk as written.
    pub risk: Risk,
    /// At least `medium` when its component is risky.
    pub effective_risk: Risk,
    /// Who may not approve it: who recorded it and its commits' authors.
    pub authors: Vec<String>,
    pub rule: RiskRule,
    pub approvals: Vec<Approval>,
    pub checked: Vec<Check>,
    /// Every part of the rule not met yet, for people.
    pub unmet: Vec<String>,
}

/// One component on the risk map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RiskMapRow {
    pub component: String,
    /// Marked risky by an admin.
    pub risky: bool,
    /// Finished production deploys with an entry of this component.
    pub deploys: i64,
    /// Of those: failed or rolled back.
    pub failed: i64,
    /// Incidents caused by an entry of this component.
    pub incidents: i64,
    /// Of the deploys: failed, rolled back or named as an incident's cause.
    pub failing: i64,
    /// `failing / deploys`; `null` with no deploys.
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub change_failure_rate: Option<f64>,
}

string_enum! {
    /// What a team member or a webhook can be told about.
    NotifyEvent {
        BuildFailed => "build.failed", "A build failed";
        DeployFailed => "deploy.failed", "A deploy failed";
        DeployRolledBack => "deploy.rolled_back", "A deploy was rolled back";
        BlockPlaced => "block.placed", "A block was placed";
        BlockLifted => "block.lifted", "A block was lifted";
        GateClosed => "gate.closed", "The gate is closed an hour before a deploy night";
    }
}

string_enum! {
    /// How a webhook's body is shaped.
    WebhookFormat {
        Json => "json", "JSON, signed";
        Slack => "slack", "Slack-compatible {\"text\"}";
    }
}

/// An outgoing webhook. Its secret is never shown again after it is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<NotifyEvent>,
    pub format: WebhookFormat,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Deliveries by state over its life.
    pub delivered: i64,
    pub failed: i64,
    pub pending: i64,
}

string_enum! {
    /// Where a webhook delivery is.
    DeliveryState {
        Pending => "pending", "Pending";
        Delivered => "delivered", "Delivered";
        Failed => "failed", "Failed";
    }
}

/// One notification sent (or being sent) to one webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct WebhookDelivery {
    pub id: i64,
    pub webhook_id: i64,
    pub notification_id: i64,
    pub event: String,
    pub summary: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last attempt.
    pub response_code: Option<i64>,
    /// What went wrong on the last attempt, when no answer came.
    pub error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Rows per page of the audit log.
pub const AUDIT_PAGE: i64 = 50;

/// One write, as the audit log keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// A person's email, a token's name (`token:<name>`), or `anonymous`.
    pub actor: String,
    /// `person`, `token` or `anonymous`.
    pub actor_kind: String,
    pub method: String,
    /// The path written to, which names the object (`/api/v1/blocks/12`).
    pub path: String,
    pub status: i64,
    /// Where it came from (the client's address).
    pub ip: String,
}
