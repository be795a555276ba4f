//! Deploying safely: the builds CI records, the blocks anyone may place, and
//! the gate that says whether a build may go to an environment tonight.

use super::deploy::string_enum;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

string_enum! {
    /// Where a build is.
    BuildStatus {
        Running => "running", "Running";
        Passed => "passed", "Passed";
        Failed => "failed", "Failed";
    }
}

/// A build's test counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TestCounts {
    pub passed: i64,
    pub failed: i64,
    pub skipped: i64,
}

/// One commit of a build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BuildCommit {
    pub sha: String,
    pub message: String,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub authored_at: Option<DateTime<Utc>>,
}

/// A build CI recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Build {
    pub id: i64,
    pub version: String,
    pub commit: String,
    pub branch: String,
    pub status: BuildStatus,
    pub url: Option<String>,
    pub commits: Vec<BuildCommit>,
    pub tests: Option<TestCounts>,
    /// The token or person that recorded it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it passed or failed.
    pub finished_at: Option<DateTime<Utc>>,
}

string_enum! {
    /// Whether a block still holds.
    BlockState {
        Active => "active", "Active";
        Expired => "expired", "Expired";
        Lifted => "lifted", "Lifted";
    }
}

/// A block on an environment: on all of it, on one entry's change, or on a
/// component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Block {
    pub id: i64,
    /// The environment's slug.
    pub environment: String,
    pub reason: String,
    /// The entry whose change must not go further.
    pub entry_id: Option<i64>,
    pub entry_title: Option<String>,
    /// The component nothing may touch.
    pub component: Option<String>,
    /// Who placed it: a person's email or a token's name.
    pub placed_by: String,
    pub placed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<DateTime<Utc>>,
    /// Why it was lifted.
    pub lift_note: Option<String>,
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub state: Option<BlockState>,
}

impl Block {
    /// Whether the block holds at `t`: placed by then, not run out, and not
    /// lifted by then. The one statement of the rule: the gate, the calendar
    /// and the pages all ask it.
    pub fn holds_at(&self, t: DateTime<Utc>) -> bool {
        self.placed_at <= t && self.expires_at > t && self.lifted_at.is_none_or(|l| l > t)
    }

    /// Fills in its state as of `now`.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.state = Some(if self.lifted_at.is_some() {
            BlockState::Lifted
        } else if self.holds_at(now) {
            BlockState::Active
        } else {
            BlockState::Expired
        });
        self
    }

    /// What it blocks, for people.
    pub fn scope(&self) -> String {
        match (&self.entry_title, &self.component) {
            (Some(title), _) => format!("the change “{title}”"),
            (None, Some(c)) => format!("component {c}"),
            (None, None) => format!("every deploy to {}", self.environment),
        }
    }
}

// The one input of placing a block, from the API and the home page's form
// alike. (Its doc comment is the API schema's description.)
/// A block as it is placed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BlockInput {
    pub environment: String,
    /// Why: required.
    pub reason: String,
    /// Block one entry's change from going further.
    pub entry_id: Option<i64>,
    /// Block every change to a component.
    pub component: Option<String>,
    /// Default: the morning after the environment's next deploy night.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Whether a build (or any) may go to an environment now, and why not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Gate {
    pub environment: String,
    pub build: Option<i64>,
    pub open: bool,
    /// Every reason it is closed, for people.
    pub reasons: Vec<String>,
    /// The blocks that hold now.
    pub blocks: Vec<Block>,
}
