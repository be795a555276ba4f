//! Domain rules. Handlers, server functions and the CLI call these; these call
//! the storage seam. Nothing here knows about HTTP.

pub mod actions;
pub mod audiences;
pub mod audit;
pub mod backup;
pub mod campaigns;
pub mod changes;
pub mod conventional;
pub mod delivery;
pub mod deploys;
pub mod entries;
pub mod environments;
pub mod gates;
pub mod incidents;
pub mod metrics;
pub mod notify;
pub mod releases;
pub mod rerender;
pub mod retros;
pub mod risk;
pub mod root_causes;
pub mod sessions;
pub mod subscribers;
pub mod tokens;
pub mod users;
pub mod validate;
pub mod webhooks;

use crate::model::Role;

/// Who is acting: a signed-in person or an API token.
#[derive(Clone, Debug)]
pub struct Actor {
    /// An email or a token's name, recorded on what they create.
    pub label: String,
    pub role: Role,
    /// The person's id, when a person.
    pub user_id: Option<i64>,
}

impl Actor {
    pub fn person(user: &crate::model::User) -> Self {
        Actor {
            label: user.email.clone(),
            role: user.role,
            user_id: Some(user.id),
        }
    }

    /// Shiplog's own command line, run by whoever operates the server (and so
    /// may do what an admin may).
    pub fn system() -> Self {
        Actor {
            label: "system (command line)".into(),
            role: Role::Admin,
            user_id: None,
        }
    }

    pub fn require(&self, allowed: bool, what: &str) -> Result<(), crate::server::error::AppError> {
        if allowed {
            Ok(())
        } else {
            Err(crate::server::error::AppError::forbidden(format!(
                "Your role ({}) may not {what}.",
                self.role.label()
            )))
        }
    }
}
