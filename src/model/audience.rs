//! Customer accounts, cohorts and what a reader may see.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A customer organisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Account {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// Slugs of the cohorts it belongs to.
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub cohorts: Vec<String>,
    /// Whether a live private notes link exists (members / admins).
    pub has_link: bool,
    pub has_admin_link: bool,
    pub created_at: DateTime<Utc>,
}

/// A named group of accounts (`beta`, `early-access`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Cohort {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// Slugs of its accounts.
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub members: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A private notes link just created: the only time its URL is visible.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewAccountLink {
    pub account: String,
    pub admin: bool,
    pub url: String,
}

/// Who is reading customer pages, and so which audiences they may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reader {
    /// Anyone on the public site.
    Public,
    /// Someone holding an account's private link.
    Account {
        slug: String,
        name: String,
        cohorts: Vec<String>,
        admin: bool,
    },
}

impl Reader {
    /// The stored audience values this reader may see.
    pub fn audiences(&self) -> Vec<String> {
        let mut visible = vec!["everyone".to_string()];
        if let Reader::Account { cohorts, admin, .. } = self {
            visible.extend(cohorts.iter().map(|c| format!("cohort:{c}")));
            if *admin {
                visible.push("admins".into());
            }
        }
        visible
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_their_audiences_only() {
        assert_eq!(Reader::Public.audiences(), ["everyone"]);
        let member = Reader::Account {
            slug: "acme".into(),
            name: "Acme".into(),
            cohorts: vec!["beta".into()],
            admin: false,
        };
        assert_eq!(member.audiences(), ["everyone", "cohort:beta"]);
        let admin = Reader::Account {
            slug: "acme".into(),
            name: "Acme".into(),
            cohorts: vec![],
            admin: true,
        };
        assert_eq!(admin.audiences(), ["everyone", "admins"]);
    }
}
