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
