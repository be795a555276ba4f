//! Marketing releases: coarse announcements made of many shipped entries.

use super::deploy::{string_enum, ChangeEntry, DeployStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

string_enum! {
    /// A release's life: drafted, scheduled for a time, published.
    ReleaseStatus {
        Draft => "draft", "Draft";
        Scheduled => "scheduled", "Scheduled";
        Published => "published", "Published";
    }
}

/// The environment whose succeeded deploys count as shipped.
pub const PRODUCTION: &str = "production";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Release {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub version_name: Option<String>,
    /// Markdown as written.
    pub narrative: String,
    /// Rendered and sanitised on write.
    pub narrative_html: String,
    pub status: ReleaseStatus,
    pub publish_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub archived: bool,
    /// Increases with every change; edits name the revision they started from.
    pub revision: i64,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub entry_count: i64,
}

/// An entry linked to a release, with the deploy it shipped in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LinkedEntry {
    pub entry: ChangeEntry,
    pub version: String,
    pub environment: String,
    pub deploy_status: DeployStatus,
    pub deployed_at: DateTime<Utc>,
}

impl LinkedEntry {
    /// Shipped means: in a succeeded production deploy.
    pub fn shipped(&self) -> bool {
        self.environment == PRODUCTION && self.deploy_status == DeployStatus::Succeeded
    }

    /// Why it has not shipped yet, in words.
    pub fn not_shipped_reason(&self) -> Option<String> {
        if self.shipped() {
            return None;
        }
        Some(match (self.environment.as_str(), self.deploy_status) {
            (PRODUCTION, status) => format!(
                "its production deploy {} is {}",
                self.version,
                status.label().to_lowercase()
            ),
            (env, DeployStatus::Succeeded) => format!("only on {env} ({})", self.version),
            (env, status) => format!(
                "on {env} ({}), {}",
                self.version,
                status.label().to_lowercase()
            ),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReleaseDetail {
    #[serde(flatten)]
    pub release: Release,
    pub entries: Vec<LinkedEntry>,
}

impl ReleaseDetail {
    /// Entries that have not reached production in a succeeded deploy.
    pub fn unshipped(&self) -> Vec<&LinkedEntry> {
        self.entries.iter().filter(|e| !e.shipped()).collect()
    }
}
