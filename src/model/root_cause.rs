//! Blameless root-cause notes and the holes in testing and monitoring that
//! let a defect through. Internal to the team.

use super::action::ActionStatus;
use super::deploy::string_enum;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

string_enum! {
    /// What kind of cause it was.
    RootCauseCategory {
        Code => "code", "Code";
        Config => "config", "Configuration";
        Data => "data", "Data";
        Infrastructure => "infrastructure", "Infrastructure";
        ThirdParty => "third-party", "A third party";
        Process => "process", "Process";
    }
}

string_enum! {
    /// A note is a draft until a second engineer, not its author, reviews it.
    NoteStatus {
        Draft => "draft", "Draft";
        Final => "final", "Final";
    }
}

string_enum! {
    /// Where the hole was.
    HoleKind {
        Testing => "testing", "Testing";
        Monitoring => "monitoring", "Monitoring";
    }
}

string_enum! {
    /// Which test or which monitoring missed it.
    HoleArea {
        Unit => "unit", "Unit tests";
        Integration => "integration", "Integration tests";
        EndToEnd => "end-to-end", "End-to-end tests";
        ProductionLikePreview => "production-like preview", "Production-like preview";
        Manual => "manual", "Manual testing";
        User => "user", "User monitoring";
        Application => "application", "Application monitoring";
        Logs => "logs", "Log monitoring";
    }
}

impl HoleArea {
    /// Testing areas and monitoring areas.
    pub fn kind(self) -> HoleKind {
        match self {
            HoleArea::User | HoleArea::Application | HoleArea::Logs => HoleKind::Monitoring,
            _ => HoleKind::Testing,
        }
    }
}

/// One timestamped row of a note's timeline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TimelineRow {
    pub at: DateTime<Utc>,
    pub text: String,
}

/// A note's text: Markdown fields with their rendered HTML beside them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NoteDocument {
    pub summary: String,
    pub summary_html: String,
    pub timeline: Vec<TimelineRow>,
    pub trigger: String,
    /// The "five whys", in order.
    pub whys: Vec<String>,
    pub factors: String,
    pub factors_html: String,
    pub went_well: String,
    pub went_well_html: String,
    pub lessons: String,
    pub lessons_html: String,
}

/// An incident's root-cause note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct RootCause {
    pub incident_id: i64,
    #[serde(flatten)]
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub document: NoteDocument,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub category: RootCauseCategory,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: NoteStatus,
    /// Who wrote it: a person's email or a token's name.
    pub author: String,
    /// Who reviewed it (never its author).
    pub reviewer: Option<String>,
    /// Moves on with each edit: send it back with the next edit or review.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finalized_at: Option<DateTime<Utc>>,
}

impl RootCause {
    /// Whether `who` (an email or a token's name) wrote the note.
    pub fn is_author(&self, who: &str) -> bool {
        self.author.eq_ignore_ascii_case(who)
    }

    /// Whether `who` may review the note now: a draft, reviewed by a second
    /// engineer, never its author. The service checks it; the page shows it.
    pub fn reviewable_by(&self, who: &str) -> bool {
        self.status == NoteStatus::Draft && !self.is_author(who)
    }
}

/// An earlier version of a note edited after it became final.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct NoteVersion {
    pub version: i64,
    #[serde(flatten)]
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub document: NoteDocument,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub category: RootCauseCategory,
    pub edited_by: String,
    pub edited_at: DateTime<Utc>,
}

/// A hole in testing or monitoring, and the action that repairs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Hole {
    pub id: i64,
    pub incident_id: i64,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub kind: HoleKind,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub area: HoleArea,
    pub component: Option<String>,
    pub description: String,
    pub action_id: i64,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub action_status: ActionStatus,
    /// Closed once its action is done.
    pub closed: bool,
    /// When its action was done.
    pub repaired_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// An incident's note (if written yet), its earlier versions, its holes, and
/// what the blameless check noticed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RootCauseView {
    pub incident_id: i64,
    pub note: Option<RootCause>,
    /// Earlier versions, newest first.
    pub history: Vec<NoteVersion>,
    pub holes: Vec<Hole>,
    /// Team members the note names (a warning, never a refusal: blameless
    /// notes describe what happened, not who).
    pub warnings: Vec<String>,
}

/// The root-cause form's fields as typed: the timeline one row per line
/// (`2026-11-27 21:04 what happened`, UTC), the whys one per line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NoteFields {
    /// The version the edit starts from (none for a new note).
    pub revision: Option<i64>,
    pub summary: String,
    pub timeline: String,
    pub trigger: String,
    pub whys: String,
    pub factors: String,
    pub category: String,
    pub went_well: String,
    pub lessons: String,
}

/// The hole form's fields as typed, with its repairing action's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HoleFields {
    pub area: String,
    pub component: String,
    pub description: String,
    pub action_title: String,
    pub owner_email: String,
    /// `YYYY-MM-DD`.
    pub due: String,
    pub action_type: String,
}

/// A count of open holes under one label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HoleCount {
    pub label: String,
    pub count: i64,
}

/// Holes found and repaired in one month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HoleMonth {
    /// `YYYY-MM`.
    pub month: String,
    pub found: i64,
    pub repaired: i64,
}

/// Where the holes in testing and monitoring are, and the trend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HolesReport {
    /// Open holes, oldest first.
    pub open: Vec<Hole>,
    /// Open holes by kind and area (`testing · unit`).
    pub by_area: Vec<HoleCount>,
    /// Open holes by component (`(none)` for holes without one).
    pub by_component: Vec<HoleCount>,
    /// The last twelve months, oldest first.
    pub months: Vec<HoleMonth>,
}
