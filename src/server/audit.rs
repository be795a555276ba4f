//! The audit middleware: every write that succeeds (a `POST`, `PUT`, `PATCH`
//! or `DELETE` answered 2xx or 3xx) is recorded with who made it, from where
//! and when. The API's token extractor names the token in an [`AuditSlot`];
//! otherwise the session's person, or `anonymous`. Server functions that only
//! read (Leptos calls every server function with `POST`) are not writes.

use crate::server::browser_session as session;
use crate::server::db::NewAudit;
use crate::server::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Server functions that only read.
pub const READ_FUNCTIONS: &[&str] = &[
    "actions",
    "audiences",
    "audit",
    "blocks",
    "calendar",
    "campaign",
    "campaigns",
    "candidates",
    "current_user",
    "deploy",
    "environments",
    "holes",
    "incident",
    "incidents",
    "incidents_of_entries",
    "invitation",
    "metrics",
    "my_notifications",
    "my_sessions",
    "open_incidents",
    "people",
    "preview_campaign",
    "preview_markdown",
    "release",
    "releases",
    "retro",
    "retro_board",
    "retro_revision",
    "retros",
    "risk",
    "subscribers",
    "timeline",
    "tokens",
    "unannounced",
    "webhook_deliveries",
    "webhooks",
];

/// Who made the request, when an extractor knows better than the session.
#[derive(Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Said>>);

#[derive(Clone, Default)]
struct Said {
    token: Option<String>,
    /// The write is anonymous by design (a retro item posted anonymously):
    /// recorded with no actor and no address, for admins too.
    anonymous: bool,
}

impl AuditSlot {
    pub fn set(&self, label: &str) {
        if let Ok(mut slot) = self.0.lock() {
            slot.token = Some(label.to_string());
        }
    }

    /// Records this write as anonymous: no person, token or address.
    pub fn anonymise(&self) {
        if let Ok(mut slot) = self.0.lock() {
            slot.anonymous = true;
        }
    }

    fn get(&self) -> Said {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

fn is_write(method: &Method, path: &str) -> bool {
    if !matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return false;
    }
    match path.strip_prefix("/fn/") {
        Some(name) => !READ_FUNCTIONS.contains(&name),
        None => true,
    }
}

pub async fn record(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    if !is_write(req.method(), &path) {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = crate::server::auth::client::client_address(
        peer,
        req.headers(),
        &state.config.trusted_proxies,
    );
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_success() || status.is_redirection()) {
        return res;
    }
    let said = slot.get();
    let (actor, actor_kind) = match said.token {
        _ if said.anonymous => ("anonymous".to_string(), "anonymous"),
        Some(token) => (token, "token"),
        None => match session::current_user(&state, &session).await {
            Ok(Some(user)) => (user.email, "person"),
            _ => ("anonymous".to_string(), "anonymous"),
        },
    };
    let entry = NewAudit {
        actor,
        actor_kind,
        method,
        path: crate::server::logging::loggable_path(&path),
        status: i64::from(status.as_u16()),
        ip: if said.anonymous { String::new() } else { ip },
    };
    if let Err(e) = state.db.record_audit(&entry).await {
        tracing::error!(error = %e, path = %entry.path, "a write could not be recorded in the audit log");
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_not_writes() {
        assert!(is_write(&Method::POST, "/api/v1/blocks"));
        assert!(is_write(&Method::DELETE, "/api/v1/blocks/3"));
        assert!(is_write(&Method::POST, "/fn/place_block"));
        assert!(!is_write(&Method::POST, "/fn/blocks"));
        assert!(!is_write(&Method::GET, "/api/v1/blocks"));
    }
}
