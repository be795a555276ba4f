//! People, invitations and API tokens, without any secret.

use super::deploy::string_enum;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

string_enum! {
    /// What a person or token may do.
    Role {
        Admin => "admin", "Admin";
        Pm => "pm", "Product manager";
        Engineer => "engineer", "Engineer";
        Viewer => "viewer", "Viewer";
    }
}

impl Role {
    /// Recording deploys and editing their entries.
    pub fn can_write_deploys(self) -> bool {
        matches!(self, Role::Admin | Role::Engineer)
    }

    /// Releases, customer accounts and cohorts: the product managers' work.
    /// Engineers, PMs and admins file and edit incidents; viewers read them.
    pub fn can_file_incidents(self) -> bool {
        self != Role::Viewer
    }

    pub fn can_manage_releases(self) -> bool {
        matches!(self, Role::Admin | Role::Pm)
    }

    /// Inviting people, changing roles, managing tokens.
    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

/// A person, as any page may show them (no password hash).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub role: Role,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// A pending or used invitation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Invitation {
    pub id: i64,
    pub email: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub role: Role,
    pub invited_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// What the admin sees right after inviting someone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvitationSent {
    pub email: String,
    /// Set when no SMTP server is configured: the admin passes the link on.
    pub link: Option<String>,
    /// Where the message was written instead of sent, when not sent.
    pub note: String,
}

/// An API token's public face: the secret itself is shown once, at creation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub role: Role,
    /// The first characters of the token, to recognise it by.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token just created: the only time its secret is visible.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewApiToken {
    pub token: ApiToken,
    pub secret: String,
}

/// One place a person is signed in (a browser session), for "your sessions".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct SignIn {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub ip: String,
    pub user_agent: String,
    /// The session this list was asked from.
    #[cfg_attr(feature = "ssr", sqlx(default))]
    pub current: bool,
}

impl SignIn {
    /// "Firefox on Linux", from the browser's User-Agent, or "Unknown browser".
    pub fn device(&self) -> String {
        let ua = self.user_agent.as_str();
        let browser = [
            ("Edg/", "Edge"),
            ("OPR/", "Opera"),
            ("Firefox/", "Firefox"),
            ("Chromium/", "Chromium"),
            ("Chrome/", "Chrome"),
            ("Safari/", "Safari"),
            ("curl/", "curl"),
        ]
        .iter()
        .find(|(needle, _)| ua.contains(needle))
        .map(|(_, name)| *name);
        let system = [
            ("Android", "Android"),
            ("iPhone", "iOS"),
            ("iPad", "iPadOS"),
            ("Windows", "Windows"),
            ("Mac OS X", "macOS"),
            ("CrOS", "ChromeOS"),
            ("Linux", "Linux"),
        ]
        .iter()
        .find(|(needle, _)| ua.contains(needle))
        .map(|(_, name)| *name);
        match (browser, system) {
            (Some(b), Some(s)) => format!("{b} on {s}"),
            (Some(b), None) => b.to_string(),
            (None, Some(s)) => format!("A browser on {s}"),
            (None, None) => "Unknown browser".to_string(),
        }
    }
}

#[cfg(test)]
mod sign_in_tests {
    use super::*;

    fn with_agent(ua: &str) -> SignIn {
        SignIn {
            id: 1,
            created_at: Utc::now(),
            last_seen_at: Utc::now(),
            ip: "10.0.0.1".into(),
            user_agent: ua.into(),
            current: false,
        }
    }

    #[test]
    fn devices_are_named_from_the_user_agent() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(with_agent(chrome).device(), "Chrome on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(with_agent(edge).device(), "Edge on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(with_agent(safari).device(), "Safari on iOS");
        let firefox =
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.0; rv:120.0) Gecko/20100101 Firefox/120.0";
        assert_eq!(with_agent(firefox).device(), "Firefox on macOS");
        assert_eq!(with_agent("").device(), "Unknown browser");
    }
}
