//! Retrospectives: held on the team's cadence, opened with their period's
//! deploys, incidents and open actions, filled with items in three columns
//! that people vote on and group, and closed by the facilitator. Internal to
//! the team.

use super::action::ActionItem;
use super::deploy::{string_enum, Deploy};
use super::gate::Block;
use super::incident::Incident;
use super::root_cause::{NoteStatus, RootCauseCategory};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

string_enum! {
    /// The board's columns.
    RetroColumn {
        WentWell => "went-well", "Went well";
        ToImprove => "to-improve", "To improve";
        Ideas => "ideas", "Ideas";
    }
}

string_enum! {
    /// Whether items and votes may still change.
    RetroStatus {
        Open => "open", "Open";
        Closed => "closed", "Closed";
    }
}

string_enum! {
    /// What a retro decided about an open action.
    ReviewOutcome {
        Done => "done", "Done";
        StillOpen => "still-open", "Still open, new due date";
        Dropped => "dropped", "Dropped";
    }
}

/// How often the team retrospects, and how many votes each person has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RetroSettings {
    /// Days from one retro to the next (1 to 90).
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 90))]
    pub cadence_days: i64,
    /// Votes each person may cast in one retro (1 to 20).
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 20))]
    pub votes_per_person: i64,
}

/// One retrospective.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Retro {
    pub id: i64,
    pub title: String,
    /// The first day of the period it looks back on.
    pub period_start: NaiveDate,
    /// The last day of that period (inclusive).
    pub period_end: NaiveDate,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: RetroStatus,
    /// Who runs it: turns items into actions and closes it.
    pub facilitator: String,
    pub votes_per_person: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Moves on with every item, vote and group: the board polls it.
    pub revision: i64,
}

/// An item on the board, as one reader sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetroItem {
    pub id: i64,
    pub column: RetroColumn,
    pub body: String,
    /// Who wrote it; `null` when its author chose to stay anonymous (only
    /// the author sees their own name).
    pub author: Option<String>,
    pub anonymous: bool,
    /// Written by the reader.
    pub mine: bool,
    /// The item whose group it joined.
    pub group_id: Option<i64>,
    /// Votes on it (a group's head shows only its own).
    pub votes: i64,
    /// The reader voted for it.
    pub voted: bool,
    /// The action the facilitator made of it.
    pub action_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// An incident in a retro's period, with its root cause when written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetroIncident {
    pub incident: Incident,
    pub root_cause_category: Option<RootCauseCategory>,
    pub root_cause_summary: Option<String>,
    pub root_cause_status: Option<NoteStatus>,
}

/// What a retro decided about one open action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ActionReview {
    pub action_id: i64,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub outcome: ReviewOutcome,
    /// The new due date, for an action still open.
    pub due: Option<NaiveDate>,
    /// Why it was dropped, or anything said about it.
    pub note: String,
    pub reviewed_by: String,
    pub reviewed_at: DateTime<Utc>,
}

/// What happened in a retro's period, computed from the deploy log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetroPeriodSummary {
    /// Deploys started in the period, to every environment.
    pub deploys: i64,
    /// Of those, to production.
    pub production_deploys: i64,
    /// Failed and rolled-back deploys, newest first.
    pub failed_deploys: Vec<Deploy>,
    /// Incidents detected in the period, with their root causes.
    pub incidents: Vec<RetroIncident>,
    /// Deploys blocked in the period: every block placed, lifted or not.
    pub blocks: Vec<Block>,
    /// The period's DORA numbers for production.
    pub dora: PeriodDora,
}

/// The DORA numbers of a retro's period, for production (see
/// `GET /api/v1/metrics/dora`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PeriodDora {
    pub deployment_frequency_per_day: f64,
    pub lead_time_median_hours: Option<f64>,
    pub change_failure_rate: Option<f64>,
    pub time_to_restore_median_hours: Option<f64>,
    pub rework_rate: Option<f64>,
}

/// A retro with everything its page shows, as one reader sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetroDetail {
    #[serde(flatten)]
    pub retro: Retro,
    pub period: RetroPeriodSummary,
    /// First: every action open when the retro opened, or reviewed in it.
    pub actions_to_review: Vec<ActionItem>,
    pub reviews: Vec<ActionReview>,
    pub items: Vec<RetroItem>,
    /// Votes the reader has left.
    pub votes_left: i64,
}
