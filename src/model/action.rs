//! Action items: what the team does to close a hole, follow an incident up
//! or act on a retro. Internal to the team.

use super::deploy::string_enum;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

string_enum! {
    /// What kind of work an action is.
    ActionKind {
        Testing => "testing", "Testing";
        Monitoring => "monitoring", "Monitoring";
        Process => "process", "Process";
        Code => "code", "Code";
    }
}

string_enum! {
    /// Where an action is.
    ActionStatus {
        Open => "open", "Open";
        Done => "done", "Done";
        Dropped => "dropped", "Dropped";
    }
}

/// `ACT-7` for action 7.
pub fn action_number(id: i64) -> String {
    format!("ACT-{id}")
}

/// An action's id from `ACT-7`, `act-7` or `7`.
pub fn parse_action_number(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let digits = match raw.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("act-") => &raw[4..],
        _ => raw,
    };
    digits.parse().ok().filter(|n: &i64| *n > 0)
}

/// One action item (`ActionItem`: Leptos has its own `Action`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ActionItem {
    pub id: i64,
    /// `ACT-<id>`: the `{id}` in its API paths.
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub number: String,
    pub title: String,
    pub owner_id: i64,
    pub owner_email: String,
    pub owner_name: String,
    /// The day it is due.
    pub due: NaiveDate,
    /// `testing`, `monitoring`, `process` or `code`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub kind: ActionKind,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: ActionStatus,
    /// Why it was dropped, or how it was done.
    pub note: String,
    /// The incident it follows up, if any.
    pub incident_id: Option<i64>,
    /// The deploy that did it (`Closes-Action: ACT-<n>`).
    pub evidence_deploy_id: Option<i64>,
    /// The hole it repairs, when it came from one.
    pub hole_id: Option<i64>,
    /// The retro whose item it came from, when one did.
    pub retro_id: Option<i64>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    /// Open, and due before today (UTC).
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub overdue: bool,
}

impl ActionItem {
    /// Fills in what rows do not carry: the number and whether it is overdue on `today`.
    pub fn completed(mut self, today: NaiveDate) -> Self {
        self.number = action_number(self.id);
        self.overdue = self.status == ActionStatus::Open && self.due < today;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_numbers_read_back() {
        assert_eq!(action_number(7), "ACT-7");
        assert_eq!(parse_action_number("ACT-7"), Some(7));
        assert_eq!(parse_action_number("act-7"), Some(7));
        assert_eq!(parse_action_number("INC-7"), None);
        assert_eq!(parse_action_number("ACT-0"), None);
    }
}
