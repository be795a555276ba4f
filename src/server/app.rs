//! `Application::build(config)`: the one way to assemble Shiplog, used by
//! `main` and by the tests. `router` assembles every route: the app's pages
//! and server functions here, the JSON API from `rest::router` and the
//! customer pages from `public::router`, each of which lists its own.

use crate::app::{shell, App};
use crate::server::auth::{csrf, session};
use crate::server::config::Config;
use crate::server::db::{self, Db};
use crate::server::mail::Mailer;
use crate::server::markdown::Markdown;
use crate::server::service::delivery::Engine;
use crate::server::service::users;
use crate::server::state::AppState;
use crate::server::{public, rest};
use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tower_http::CompressionLevel;
use tower_sessions::{cookie::SameSite, Expiry, SessionManagerLayer};
use tracing::Level;

pub struct Application {
    pub state: AppState,
    pub router: Router,
}

impl Application {
    /// Opens the database (applying migrations), prepares mail and builds the router.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = db::connect(config.database_url.expose())
            .await
            .context("the database could not be opened")?;
        let filled = crate::server::service::changes::fill_reader_text(&db)
            .await
            .context("could not index older entries for search")?;
        if filled > 0 {
            tracing::info!(
                rows = filled,
                "search text filled in for older entries and releases"
            );
        }
        Self::with_db(config, db)
    }

    pub fn with_db(config: Config, db: Db) -> anyhow::Result<Self> {
        let mailer = Mailer::new(&config)?;
        let leptos_options = LeptosOptions::builder()
            .output_name("shiplog")
            .site_root(config.site_root.to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .site_addr(config.listen)
            .build();
        let state = AppState::new(crate::server::state::Services {
            pages: crate::server::page_cache::PageCache::new(
                config.page_cache_ttl,
                config.page_cache_bytes,
            ),
            markdown: Markdown::new(Some(&config.public_url), &config.image_hosts),
            signer: Arc::new(tokio::sync::OnceCell::new()),
            engine: Engine::new(db.clone(), mailer.clone(), Arc::new(config.clone())),
            webhooks: crate::server::service::webhooks::Webhooks::new(
                db.clone(),
                Arc::new(config.clone()),
            ),
            config: Arc::new(config),
            mailer,
            leptos_options,
            db,
        });
        let router = router(state.clone());
        Ok(Application { state, router })
    }

    /// Removes expired sessions in the background, every hour.
    pub fn spawn_session_cleanup(&self) {
        use tower_sessions::session_store::ExpiredDeletion;
        let store = self.state.db.session_store();
        tokio::spawn(async move {
            if let Err(e) = store
                .continuously_delete_expired(Duration::from_secs(3600))
                .await
            {
                tracing::error!(error = %e, "expired session cleanup stopped");
            }
        });
    }
}

/// The app's routes, listed once per process. Leptos stops every resource
/// in the process from loading while it lists routes (a global flag), so
/// listing them again while pages render would leave those pages waiting
/// forever.
fn routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Routes outside the API, the customer pages and the app's pages: probes,
/// metrics and the team's downloads.
fn service_routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/healthz", get(|| async { "ok" })),
        ("/readyz", get(readyz)),
        ("/metrics", get(crate::server::scrape::for_admins)),
        (
            "/app/subscribers/export.csv",
            get(crate::server::downloads::subscribers_csv),
        ),
        (
            "/app/metrics/dora.csv",
            get(crate::server::downloads::dora_csv),
        ),
    ]
}

/// Every path `router` declares, with Axum's `{param}` placeholders: the
/// routes above, the API's, the customer pages' and the app's pages. Server
/// functions are listed by `server_fn::axum::server_fn_paths`.
pub fn route_paths() -> Vec<String> {
    let mut paths: Vec<String> = service_routes()
        .into_iter()
        .map(|(p, _)| p.to_string())
        .chain(
            rest::routes()
                .into_iter()
                .map(|(p, _)| format!("/api/v1{p}")),
        )
        .chain(public::routes().into_iter().map(|(p, _)| p.to_string()))
        .chain(routes().into_iter().map(|r| r.path().to_string()))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

pub fn router(state: AppState) -> Router {
    let routes = routes();
    let secure = state.config.secure_cookies();
    // The cookie outlives nothing on the server: browser_session::current_user ends a
    // session past its idle or absolute lifetime whatever the browser keeps.
    let idle = time::Duration::seconds(state.config.sessions.idle.num_seconds());
    let sessions = SessionManagerLayer::new(state.db.session_store())
        .with_name(session::cookie_name(secure))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle));
    let site_root = state.config.site_root.clone();

    let app: Router = service_routes()
        .into_iter()
        .fold(Router::new(), |router, (path, handlers)| {
            router.route(path, handlers)
        })
        .nest("/api/v1", rest::router())
        .merge(public::router())
        .leptos_routes(&state, routes, {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .nest_service("/pkg", ServeDir::new(site_root.join("pkg")))
        .fallback_service(ServeDir::new(&site_root).not_found_service(get(public::not_found)))
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .layer(middleware::from_fn_with_state(
            state.pages.clone(),
            crate::server::page_cache::invalidate_on_write,
        ))
        .layer(middleware::from_fn_with_state(
            csrf::PublicUrl(state.config.public_url.clone()),
            csrf::guard,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::server::audit::record,
        ))
        .layer(sessions)
        // Pages rendered per request are compressed at the fastest level: a
        // third of their cost went to gzip at the default one, for a few
        // hundred bytes. Cached pages keep their best compression (page_cache.rs).
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        .with_state(state.clone());
    // The layers below run before routing: Axum's `Router::layer` wraps each
    // route, so a cached page would otherwise be routed and have every inner
    // layer cloned for nothing. The inner router is this one's only service.
    Router::new()
        .fallback_service(app)
        .layer(middleware::from_fn_with_state(
            state.pages.clone(),
            crate::server::page_cache::serve,
        ))
        // Before the cache and every handler: no control characters in.
        .layer(middleware::from_fn(crate::server::input::guard))
        .layer(middleware::from_fn_with_state(
            crate::server::headers::SecurityHeaders::new(&state.config),
            crate::server::headers::security_headers,
        ))
        .layer(middleware::from_fn(crate::server::telemetry::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %crate::server::logging::loggable_path(req.uri().path())
                    )
                })
                .on_request(())
                .on_response(|res: &Response, latency: Duration, _span: &tracing::Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "served"
                    );
                })
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

/// Sends people where they belong before any app page renders: to first-run
/// setup while nobody exists, to sign-in when signed out, away from setup and
/// sign-in once those are done.
async fn gate(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let app_page = path == "/app" || path.starts_with("/app/");
    let is_setup = path == "/setup";
    let is_login = path == "/login" || path.starts_with("/invite/");
    if !(app_page || is_setup || is_login) || req.method() != axum::http::Method::GET {
        return next.run(req).await;
    }
    let needs_setup = match users::needs_setup(&state.db).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    if needs_setup {
        return if is_setup {
            next.run(req).await
        } else {
            Redirect::to("/setup").into_response()
        };
    }
    if is_setup {
        return Redirect::to("/login").into_response();
    }
    let user = match crate::server::browser_session::current_user(&state, &session).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    match (app_page, user.is_some()) {
        (true, false) => {
            let next_url = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/app");
            let encoded: String =
                url::form_urlencoded::byte_serialize(next_url.as_bytes()).collect();
            Redirect::to(&format!("/login?next={encoded}")).into_response()
        }
        (false, true) if path == "/login" => Redirect::to("/app").into_response(),
        _ => next.run(req).await,
    }
}
