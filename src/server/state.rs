//! `AppState`: the one place the application's shared dependencies live.

use crate::server::config::Config;
use crate::server::db::Db;
use crate::server::mail::Mailer;
use crate::server::markdown::Markdown;
use crate::server::public::cache::PageCache;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    /// The storage seam (SQLite or PostgreSQL).
    pub db: Db,
    /// Settings read at start-up.
    pub config: Arc<Config>,
    /// Outgoing mail: SMTP, or files in a folder when no SMTP server is set.
    pub mailer: Mailer,
    /// Where the compiled site lives and what it is called, for the Leptos shell.
    pub leptos_options: LeptosOptions,
    /// Rendered customer pages.
    pub pages: PageCache,
    /// Markdown to sanitised HTML, with the image hosts admins allow.
    pub markdown: Markdown,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
