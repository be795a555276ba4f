//! Domain rules. Handlers, server functions and the CLI call these; these call
//! the storage seam. Nothing here knows about HTTP.

pub mod actions;
pub mod audiences;
pub mod audit;
pub mod backup;
pub mod campaigns;
pub mod changes;
pub mod conflicts;
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
use crate::server::page_cache::PageCache;

/// What a use case does besides writing, through one handle: it wakes the
/// delivery engine when it queued mail, and drops the cached customer pages
/// when what they show changed. The application state makes one
/// (`Services::effects`).
#[derive(Clone, Copy)]
pub struct Effects<'a> {
    engine: &'a dyn Wake,
    pages: &'a PageCache,
}

/// What sends queued mail, woken when there is some: the delivery engine
/// (`delivery::Engine`), named here so that use cases need not know it.
pub trait Wake: Send + Sync {
    fn wake(&self);
}

impl<'a> Effects<'a> {
    pub fn new(engine: &'a dyn Wake, pages: &'a PageCache) -> Self {
        Effects { engine, pages }
    }

    /// Mail was queued: send it now rather than at the engine's next round.
    pub fn mail_queued(&self) {
        self.engine.wake();
    }

    /// What customers read changed: cached pages are rendered again.
    pub fn pages_changed(&self) {
        self.pages.invalidate();
    }
}

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
