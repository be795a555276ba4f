//! `AppState`: the one place the application's shared dependencies live.

use crate::server::auth::signing::Signer;
use crate::server::config::Config;
use crate::server::db::Db;
use crate::server::error::AppError;
use crate::server::mail::Mailer;
use crate::server::markdown::Markdown;
use crate::server::page_cache::PageCache;
use crate::server::service::delivery::Engine;
use crate::server::service::subscribers::Outbox;
use crate::server::service::webhooks::Webhooks;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// The application's dependencies, shared: every middleware and handler
/// holds one, and cloning it is one reference count (it was cloned several
/// times a request when it was a struct of its own: a fifth of the CPU of a
/// cached page).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Services {
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
    /// The key that signs subscribe forms and confirmation links, loaded
    /// from the database on first use.
    pub signer: Arc<tokio::sync::OnceCell<Signer>>,
    /// Sends subscribers' email from the delivery ledger.
    pub engine: Engine,
    /// Posts webhook deliveries, apart from email.
    pub webhooks: Webhooks,
}

impl Services {
    pub async fn signer(&self) -> Result<&Signer, AppError> {
        self.signer
            .get_or_try_init(|| async {
                // The instance's signing key, made the first time it is asked for.
                let fresh = crate::server::auth::token::generate("");
                let key = self.db.instance_secret("signing", &fresh).await?;
                Ok::<_, anyhow::Error>(Signer::new(key.as_bytes()))
            })
            .await
            .map_err(AppError::internal)
    }

    /// The side effects a use case has besides its writes.
    pub fn effects(&self) -> crate::server::service::Effects<'_> {
        crate::server::service::Effects::new(&self.engine, &self.pages)
    }

    /// What sending to subscribers needs.
    pub async fn outbox(&self) -> Result<Outbox<'_>, AppError> {
        Ok(Outbox {
            mailer: &self.mailer,
            config: &self.config,
            signer: self.signer().await?,
        })
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
