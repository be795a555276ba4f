//! Marketing releases: coarse announcements made of many shipped entries.

use super::deploy::{string_enum, Audience, ChangeEntry, DeployStatus};
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
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Release {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub version_name: Option<String>,
    /// Markdown as written.
    pub narrative: String,
    /// Rendered and sanitised on write.
    pub narrative_html: String,
    /// Who may read it (`everyone` by default); readers also need to see at
    /// least one of its entries.
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "everyone"))]
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub audience: Audience,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
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
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct LinkedEntry {
    #[cfg_attr(feature = "ssr", sqlx(flatten))]
    pub entry: ChangeEntry,
    pub version: String,
    pub environment: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
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

    /// A warning when the release's audience is wider than its entries': some
    /// readers of the audience would see none of them, so the release stays
    /// hidden from them.
    pub fn audience_warning(&self) -> Option<String> {
        if self.entries.is_empty() {
            return None;
        }
        let covered = |a: &Audience| {
            self.entries
                .iter()
                .any(|e| e.entry.audience == Audience::Everyone || &e.entry.audience == a)
        };
        if covered(&self.release.audience) {
            return None;
        }
        let mut audiences: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.entry.audience.is_customer_visible())
            .map(|e| e.entry.audience.label())
            .collect();
        audiences.sort();
        audiences.dedup();
        Some(if audiences.is_empty() {
            "None of this release's entries is for customers, so no reader will see it.".to_string()
        } else {
            format!(
                "This release is for {}, but its entries are only for: {}. Readers outside those will not see it; narrow the release's audience to match.",
                self.release.audience.label().to_lowercase(),
                audiences.join(", ")
            )
        })
    }
}

/// The entry picker's filters, as the release editor sends them; empty
/// strings mean "any".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PickerFilter {
    pub environment: String,
    pub kind: String,
    pub component: String,
    /// `YYYY-MM-DD`, inclusive.
    pub from: String,
    /// `YYYY-MM-DD`, inclusive.
    pub to: String,
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EntryKind, Risk};

    fn linked(audience: Audience) -> LinkedEntry {
        let now = Utc::now();
        LinkedEntry {
            entry: ChangeEntry {
                id: 1,
                deploy_id: 1,
                title: "x".into(),
                body: String::new(),
                body_html: String::new(),
                kind: EntryKind::Feature,
                audience,
                risk: Risk::Low,
                component: None,
                breaking: false,
                links: vec![],
                release_id: Some(1),
                created_at: now,
                updated_at: now,
            },
            version: "v1".into(),
            environment: PRODUCTION.into(),
            deploy_status: DeployStatus::Succeeded,
            deployed_at: now,
        }
    }

    fn detail(release: Audience, entries: &[Audience]) -> ReleaseDetail {
        let now = Utc::now();
        ReleaseDetail {
            release: Release {
                id: 1,
                slug: "r".into(),
                title: "R".into(),
                version_name: None,
                narrative: String::new(),
                narrative_html: String::new(),
                audience: release,
                status: ReleaseStatus::Draft,
                publish_at: None,
                published_at: None,
                archived: false,
                revision: 1,
                created_by: None,
                created_at: now,
                updated_at: now,
                entry_count: entries.len() as i64,
            },
            entries: entries.iter().cloned().map(linked).collect(),
        }
    }

    #[test]
    fn warns_when_the_audience_is_wider_than_the_entries() {
        let beta = Audience::Cohort("beta".into());
        let warning = detail(Audience::Everyone, std::slice::from_ref(&beta)).audience_warning();
        assert!(warning.unwrap().contains("Cohort beta"));
        assert!(
            detail(Audience::Everyone, &[beta.clone(), Audience::Everyone])
                .audience_warning()
                .is_none()
        );
        assert!(detail(beta.clone(), std::slice::from_ref(&beta))
            .audience_warning()
            .is_none());
        assert!(detail(beta.clone(), &[Audience::Everyone])
            .audience_warning()
            .is_none());
        assert!(detail(Audience::Admins, &[beta])
            .audience_warning()
            .is_some());
        assert!(detail(Audience::Everyone, &[Audience::Internal])
            .audience_warning()
            .unwrap()
            .contains("no reader"));
        assert!(detail(Audience::Everyone, &[]).audience_warning().is_none());
    }
}

// Publishing a release, now or at a time: the one input of publishing, from
// the API and the app alike. (A doc comment here would become the API
// schema's description, which has none.)
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublishInput {
    pub revision: i64,
    /// Publish at this time instead of now (the release is scheduled).
    pub at: Option<DateTime<Utc>>,
    /// Publish even though some entries have not shipped to production.
    #[serde(default, rename = "override")]
    pub override_readiness: bool,
    /// Draft its email announcement when it is published (the default);
    /// `false` publishes without one.
    #[serde(default)]
    pub announce: Option<bool>,
}

/// What else can happen to a release's publication, from the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Publication {
    Unpublish,
    Archive,
    Unarchive,
}
