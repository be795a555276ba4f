//! Incidents: defects that reached an environment, what caused them and what
//! fixed them. Internal to the team: nothing here reaches a customer surface.

use super::action::ActionItem;
use super::deploy::{string_enum, ChangeEntry, Risk};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

string_enum! {
    /// How bad it is, `sev1` the worst.
    Severity {
        Sev1 => "sev1", "SEV1 · critical";
        Sev2 => "sev2", "SEV2 · major";
        Sev3 => "sev3", "SEV3 · minor";
        Sev4 => "sev4", "SEV4 · low";
    }
}

string_enum! {
    /// How the defect was found: by one of the three kinds of monitoring, or
    /// by the ways monitoring missed it.
    DetectedBy {
        MonitoringUser => "monitoring-user", "User monitoring";
        MonitoringApp => "monitoring-app", "Application monitoring";
        MonitoringLogs => "monitoring-logs", "Log monitoring";
        Test => "test", "A test";
        Customer => "customer", "A customer";
        Team => "team", "The team";
    }
}

string_enum! {
    /// Where an incident is.
    IncidentStatus {
        Open => "open", "Open";
        Mitigated => "mitigated", "Mitigated";
        Resolved => "resolved", "Resolved";
    }
}

/// `INC-12` for incident 12.
pub fn incident_number(id: i64) -> String {
    format!("INC-{id}")
}

/// An incident's id from `INC-12`, `inc-12` or `12`.
pub fn parse_incident_number(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let digits = match raw.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("inc-") => &raw[4..],
        _ => raw,
    };
    digits.parse().ok().filter(|n: &i64| *n > 0)
}

/// One incident, as listed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Incident {
    pub id: i64,
    /// `INC-<id>`: the `{id}` in its API paths.
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub number: String,
    pub title: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub severity: Severity,
    /// The environment's slug.
    pub environment: String,
    pub detected_at: DateTime<Utc>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub detected_by: DetectedBy,
    /// Markdown as written.
    pub customer_impact: String,
    /// Rendered and sanitised on write.
    pub customer_impact_html: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: IncidentStatus,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The deploy that fixed it, set by hand or by a deploy whose entry or
    /// commit says `Fixes-Incident: INC-<n>`.
    pub fixed_by_deploy_id: Option<i64>,
    /// The customer-facing `fix` entry a PM wrote once it was resolved.
    pub customer_entry_id: Option<i64>,
    /// Who filed it: a person's email, a token's name, or `alertmanager`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Incident {
    /// Whether there is something settled to tell customers: the incident
    /// is resolved and records its customer impact. `Err` says why not.
    /// (The cause and the fixing deploy are checked with the linked records.)
    pub fn ready_for_customer_note(&self) -> Result<(), String> {
        if self.status != IncidentStatus::Resolved {
            return Err(format!(
                "{} is not resolved yet: tell customers once it is fixed.",
                self.number
            ));
        }
        if self.customer_impact.trim().is_empty() {
            return Err(format!(
                "{} records no customer impact: there is nothing to tell customers.",
                self.number
            ));
        }
        Ok(())
    }
}

/// An entry that caused an incident, or may have: with its deploy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SuspectEntry {
    pub entry: ChangeEntry,
    pub version: String,
    pub deployed_at: DateTime<Utc>,
    /// Higher is likelier: the entry's risk, and whether the incident names
    /// its component.
    pub score: i64,
    /// Why it ranks where it does, for people.
    pub reasons: Vec<String>,
}

/// An incident with what caused it, what fixed it, how long it took, and the
/// suspects to narrow the cause down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: Incident,
    /// The entries that introduced it.
    pub caused_by: Vec<SuspectEntry>,
    /// The deploys those entries shipped in.
    pub caused_by_deploy_ids: Vec<i64>,
    /// The version of the deploy that fixed it.
    pub fixed_by_version: Option<String>,
    /// From the first deploy that introduced it to its detection.
    pub time_to_detect_seconds: Option<i64>,
    /// From detection to the fixing deploy (or, without one, to when it was
    /// mitigated or resolved).
    pub time_to_restore_seconds: Option<i64>,
    /// Entries of the deploys to its environment before detection, newest
    /// deploy first, likeliest first within a deploy.
    pub suspects: Vec<SuspectEntry>,
    /// The actions that follow it up, open ones first.
    pub actions: Vec<ActionItem>,
}

impl Risk {
    /// How much a change's risk weighs when ranking suspects.
    pub fn weight(self) -> i64 {
        match self {
            Risk::Low => 1,
            Risk::Medium => 2,
            Risk::High => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_numbers_read_back() {
        assert_eq!(incident_number(12), "INC-12");
        assert_eq!(parse_incident_number("INC-12"), Some(12));
        assert_eq!(parse_incident_number("inc-7"), Some(7));
        assert_eq!(parse_incident_number("7"), Some(7));
        assert_eq!(parse_incident_number("INC-0"), None);
        assert_eq!(parse_incident_number("INC-x"), None);
        assert_eq!(parse_incident_number("ACT-3"), None);
    }

    #[test]
    fn detection_kinds_travel_as_written() {
        let json = serde_json::to_string(&DetectedBy::MonitoringUser).unwrap();
        assert_eq!(json, "\"monitoring-user\"");
        assert_eq!(
            serde_json::from_str::<DetectedBy>("\"monitoring-logs\"").unwrap(),
            DetectedBy::MonitoringLogs
        );
    }
}
