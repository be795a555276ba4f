//! The deploy log: deploys, their change entries and commits.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Defines a closed set of lowercase string values with parsing and display.
///
/// `$text` is a `tt`, not a `literal`: a `literal` fragment reaches derive
/// macros wrapped in an invisible group, and utoipa then ignores the
/// `#[serde(rename)]`, documenting `monitoring_user` for `monitoring-user`.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:tt, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as stored and sent over the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// A human label for pages.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown value `{other}`; expected one of: {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// Where a deploy is in its life.
    DeployStatus {
        Started => "started", "In progress";
        Succeeded => "succeeded", "Succeeded";
        Failed => "failed", "Failed";
        RolledBack => "rolled_back", "Rolled back";
    }
}

impl DeployStatus {
    /// The statuses a deploy may move on to from this one. A finished deploy
    /// only ever moves to `rolled_back` (when it succeeded and was undone).
    pub fn next_statuses(self) -> &'static [DeployStatus] {
        match self {
            DeployStatus::Started => &[
                DeployStatus::Succeeded,
                DeployStatus::Failed,
                DeployStatus::RolledBack,
            ],
            DeployStatus::Succeeded => &[DeployStatus::RolledBack],
            DeployStatus::Failed | DeployStatus::RolledBack => &[],
        }
    }

    pub fn can_move_to(self, next: DeployStatus) -> bool {
        self.next_statuses().contains(&next)
    }

    pub fn is_finished(self) -> bool {
        self != DeployStatus::Started
    }
}

string_enum! {
    /// What kind of change an entry describes.
    EntryKind {
        Feature => "feature", "New";
        Fix => "fix", "Fixed";
        Improvement => "improvement", "Improved";
        Security => "security", "Security";
        Internal => "internal", "Internal";
    }
}

/// Who may read an entry: stored and sent as `everyone`, `admins`,
/// `cohort:<slug>` or `internal`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Audience {
    /// Every reader, on the public site.
    Everyone,
    /// Each customer account's administrators (through the account's admin link).
    Admins,
    /// The accounts of one cohort (through their private links).
    Cohort(String),
    /// The team only; never on any customer page.
    Internal,
}

impl Audience {
    /// The fixed choices; cohorts come from the database.
    pub const FIXED: &'static [Audience] =
        &[Audience::Everyone, Audience::Admins, Audience::Internal];

    pub fn as_string(&self) -> String {
        match self {
            Audience::Everyone => "everyone".into(),
            Audience::Admins => "admins".into(),
            Audience::Cohort(slug) => format!("cohort:{slug}"),
            Audience::Internal => "internal".into(),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Audience::Everyone => "Everyone".into(),
            Audience::Admins => "Customer admins".into(),
            Audience::Cohort(slug) => format!("Cohort {slug}"),
            Audience::Internal => "Internal only".into(),
        }
    }

    /// Whether any customer can ever see it.
    pub fn is_customer_visible(&self) -> bool {
        *self != Audience::Internal
    }
}

/// A cohort or account slug: lowercase letters, digits and dashes.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 60
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl FromStr for Audience {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "everyone" => Ok(Audience::Everyone),
            "admins" => Ok(Audience::Admins),
            "internal" => Ok(Audience::Internal),
            other => match other.strip_prefix("cohort:") {
                Some(slug) if is_slug(slug) => Ok(Audience::Cohort(slug.to_string())),
                Some(_) => Err("a cohort audience is `cohort:<slug>` with a lowercase slug".into()),
                None => Err(format!(
                    "unknown value `{other}`; expected one of: everyone, admins, cohort:<slug>, internal"
                )),
            },
        }
    }
}

impl TryFrom<String> for Audience {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Audience> for String {
    fn from(a: Audience) -> String {
        a.as_string()
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

string_enum! {
    /// How risky a change is; high-risk changes get the stricter process.
    Risk {
        Low => "low", "Low risk";
        Medium => "medium", "Medium risk";
        High => "high", "High risk";
    }
}

/// One deploy of one version to one environment, as listed in the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Deploy {
    pub id: i64,
    /// The environment's slug, e.g. `production`.
    pub environment: String,
    pub version: String,
    #[cfg_attr(feature = "ssr", sqlx(rename = "commit_sha"))]
    pub commit: Option<String>,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub status: DeployStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub entry_count: i64,
    /// Who recorded it: a person's email or a token's name.
    pub created_by: Option<String>,
    /// The build it shipped, when CI named one.
    pub build_id: Option<i64>,
}

impl Deploy {
    /// Whole seconds between start and finish, when finished.
    pub fn duration_seconds(&self) -> Option<i64> {
        self.finished_at
            .map(|f| (f - self.started_at).num_seconds().max(0))
    }
}

/// A deploy with everything shipped in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeployDetail {
    #[serde(flatten)]
    pub deploy: Deploy,
    pub entries: Vec<ChangeEntry>,
    pub commits: Vec<Commit>,
}

/// One fine-grained change shipped in a deploy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ChangeEntry {
    pub id: i64,
    pub deploy_id: i64,
    pub title: String,
    /// The Markdown as written.
    pub body: String,
    /// The Markdown rendered and sanitised on write.
    pub body_html: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub kind: EntryKind,
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "everyone"))]
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub audience: Audience,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub risk: Risk,
    pub component: Option<String>,
    pub breaking: bool,
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub links: Vec<String>,
    /// The release that groups it, if any.
    pub release_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A commit that went out in a deploy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Commit {
    pub sha: String,
    pub message: String,
    pub author: Option<String>,
    pub authored_at: Option<DateTime<Utc>>,
}

/// An entry as customers see it on `/changes`: with the deploy it shipped in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublicEntry {
    pub entry: ChangeEntry,
    pub version: String,
    pub shipped_at: DateTime<Utc>,
    /// The published release that announced it, if any: (slug, title).
    pub release: Option<(String, String)>,
}

/// The editable fields of an entry, as the web form sends them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryForm {
    pub title: String,
    pub body: String,
    pub kind: String,
    pub audience: String,
    pub risk: String,
    pub component: String,
    pub breaking: bool,
    /// One link per line.
    pub links: String,
}

impl EntryForm {
    pub fn from_entry(e: &ChangeEntry) -> Self {
        EntryForm {
            title: e.title.clone(),
            body: e.body.clone(),
            kind: e.kind.as_str().into(),
            audience: e.audience.as_string(),
            risk: e.risk.as_str().into(),
            component: e.component.clone().unwrap_or_default(),
            breaking: e.breaking,
            links: e.links.join("\n"),
        }
    }
}

/// Formats a duration in seconds the way people read it: `45s`, `3m 12s`, `1h 05m`.
pub fn format_duration(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_transitions_only_move_forward() {
        use DeployStatus::*;
        assert!(Started.can_move_to(Succeeded));
        assert!(Started.can_move_to(Failed));
        assert!(Succeeded.can_move_to(RolledBack));
        assert!(!Succeeded.can_move_to(Failed));
        assert!(!Failed.can_move_to(Succeeded));
        assert!(!RolledBack.can_move_to(Started));
        assert!(!Started.can_move_to(Started));
    }

    #[test]
    fn enums_round_trip_their_text() {
        for k in EntryKind::ALL {
            assert_eq!(k.as_str().parse::<EntryKind>().unwrap(), *k);
        }
        let err = "bogus".parse::<Risk>().unwrap_err();
        assert!(err.contains("low, medium, high"), "{err}");
        for a in ["everyone", "admins", "internal", "cohort:beta"] {
            assert_eq!(a.parse::<Audience>().unwrap().as_string(), a);
        }
        assert!("cohort:Beta Testers".parse::<Audience>().is_err());
        assert!("cohort:".parse::<Audience>().is_err());
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(45), "45s");
        assert_eq!(format_duration(192), "3m 12s");
        assert_eq!(format_duration(3900), "1h 05m");
    }
}
