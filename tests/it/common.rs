//! `TestApp`: the real router over a fresh database per test, on SQLite always
//! and on PostgreSQL when `SHIPLOG_TEST_PG_URL` names a server (CI always sets
//! it, with `SHIPLOG_REQUIRE_PG=1` so a missing server fails instead of skipping).

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use shiplog::server::app::Application;
use shiplog::server::config::Config;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use tower::ServiceExt;

pub const HOST: &str = "127.0.0.1:3000";
pub const ORIGIN: &str = "http://127.0.0.1:3000";
pub const PASSWORD: &str = "correct-horse-battery";

pub struct TestApp {
    pub app: Application,
    pub router: Router,
    /// The browser's cookie jar: name -> value.
    cookies: Mutex<HashMap<String, String>>,
    pub mail_dir: std::path::PathBuf,
    /// The database this app was built on, for a second instance on it.
    database_url: String,
    _dir: std::sync::Arc<tempfile::TempDir>,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn location(&self) -> Option<String> {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
    }
    /// The API's error code, asserting the error shape on the way.
    pub fn error_code(&self) -> String {
        let v = self.json();
        assert!(
            v["error"]["message"].is_string(),
            "error without message: {v}"
        );
        v["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

fn settings(dir: &std::path::Path, database_url: &str, extra: &[(&str, &str)]) -> Config {
    let mut map: HashMap<String, String> = HashMap::new();
    map.insert("DATABASE_URL".into(), database_url.into());
    map.insert(
        "SHIPLOG_MAIL_DIR".into(),
        dir.join("mail").to_string_lossy().into_owned(),
    );
    for (k, v) in extra {
        map.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|k| map.get(k).cloned()).expect("test config")
}

/// Everything the app has logged in this test process: the one global
/// subscriber writes each line to the test's output and here. (A scoped
/// subscriber per test once left a page render hanging while another test
/// registered its own; one global subscriber avoids registering any.)
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// The log so far, as text.
pub fn log_text() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
}

struct TeeWriter;

impl std::io::Write for TeeWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // print! is captured per test and shown when it fails.
        print!("{}", String::from_utf8_lossy(buf));
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Panics on the runtime's worker threads (a page's resource task, a
/// spawned job): the test runner never sees them, yet one can leave a
/// response waiting forever for the task that died.
static WORKER_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Every worker-thread panic so far in this test process, with its place.
pub fn worker_panics() -> Vec<String> {
    WORKER_PANICS.lock().unwrap().clone()
}

fn record_worker_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some("tokio-rt-worker") {
                let place = info.location().map(|l| l.to_string()).unwrap_or_default();
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                if let Ok(mut panics) = WORKER_PANICS.lock() {
                    panics.push(format!("{message} at {place}"));
                }
            }
            default(info)
        }));
    });
}

/// Server-side errors show in a failing test's output; request lines are
/// logged too, so tests can read what an operator's log would hold.
fn init_logging() {
    record_worker_panics();
    let filter = format!(
        "{},shiplog::server::app=info",
        std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into())
    );
    let _ = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(|| TeeWriter)
        .with_env_filter(filter)
        .try_init();
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl TestApp {
    /// A fresh app, or `None` when PostgreSQL is not configured for tests.
    pub async fn start(backend: Backend) -> Option<TestApp> {
        Self::start_with(backend, &[]).await
    }

    pub async fn start_with(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
        init_logging();
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}/shiplog.db", dir.path().display()),
            Backend::Postgres => fresh_pg_database().await?,
        };
        let config = settings(dir.path(), &url, extra);
        let app = Application::build(config).await.expect("app builds");
        Some(TestApp {
            router: app.router.clone(),
            app,
            cookies: Mutex::new(HashMap::new()),
            mail_dir: dir.path().join("mail"),
            database_url: url,
            _dir: std::sync::Arc::new(dir),
        })
    }

    /// A second instance of Shiplog on the same database (as when a team runs
    /// several), with its own memory and these settings.
    pub async fn another_instance(&self, extra: &[(&str, &str)]) -> TestApp {
        let config = settings(self._dir.path(), &self.database_url, extra);
        let app = Application::build(config).await.expect("app builds");
        TestApp {
            router: app.router.clone(),
            app,
            cookies: Mutex::new(HashMap::new()),
            mail_dir: self.mail_dir.clone(),
            database_url: self.database_url.clone(),
            _dir: self._dir.clone(),
        }
    }

    /// The database this app runs on, for a server process on the same one.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// Runs one statement straight on the database with a time as `$1`
    /// (to make something look older than it is).
    pub async fn exec_at(&self, text: &str, at: chrono::DateTime<chrono::Utc>) -> u64 {
        if self.database_url.starts_with("sqlite") {
            let pool = sqlx::SqlitePool::connect(&self.database_url).await.unwrap();
            let n = sqlx::query(text).bind(at).execute(&pool).await.unwrap();
            pool.close().await;
            n.rows_affected()
        } else {
            let pool = sqlx::PgPool::connect(&self.database_url).await.unwrap();
            let n = sqlx::query(text).bind(at).execute(&pool).await.unwrap();
            pool.close().await;
            n.rows_affected()
        }
    }

    pub fn db(&self) -> &shiplog::server::db::Db {
        &self.app.state.db
    }

    /// Forgets every cookie (a new browser).
    pub fn clear_cookies(&self) {
        self.cookies.lock().unwrap().clear();
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_string(), value.to_string());
    }

    pub async fn send(&self, mut req: Request<Body>) -> TestResponse {
        let jar = {
            let cookies = self.cookies.lock().unwrap();
            cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if !jar.is_empty() {
            req.headers_mut()
                .insert(header::COOKIE, jar.parse().unwrap());
        }
        req.headers_mut()
            .entry(header::HOST)
            .or_insert(HOST.parse().unwrap());
        if req.extensions().get::<ConnectInfo<SocketAddr>>().is_none() {
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 5555))));
        }
        // A request that never answers fails its test, naming itself, rather
        // than hanging the whole suite.
        let what = format!("{} {}", req.method(), req.uri().path());
        let limit = std::time::Duration::from_secs(60);
        let res = tokio::time::timeout(limit, self.router.clone().oneshot(req))
            .await
            .unwrap_or_else(|_| panic!("{what} did not answer within {limit:?}"))
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        for sc in headers.get_all(header::SET_COOKIE) {
            let sc = sc.to_str().unwrap();
            let pair = sc.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let mut cookies = self.cookies.lock().unwrap();
            if value.is_empty() || sc.contains("Max-Age=0") {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_string(), value.to_string());
            }
        }
        let body = tokio::time::timeout(limit, res.into_body().collect())
            .await
            .unwrap_or_else(|_| panic!("{what}: the body did not end within {limit:?}"))
            .unwrap()
            .to_bytes()
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// A page load, as a browser makes it.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(
            Request::get(path)
                .header(header::ACCEPT, "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// A server function call from a page of this site (form-encoded, with Origin).
    pub async fn call(&self, name: &str, form: &[(&str, &str)]) -> TestResponse {
        self.call_from(name, form, Some(ORIGIN)).await
    }

    pub async fn call_from(
        &self,
        name: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> TestResponse {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = Request::post(format!("/fn/{name}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(origin) = origin {
            req = req.header(header::ORIGIN, origin);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    /// An API call with a bearer token.
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> TestResponse {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    /// Adds an environment (as an admin would on the Environments page):
    /// deploys to an environment nobody created are refused.
    pub async fn add_environment(&self, slug: &str) {
        use shiplog::server::service::{environments, Actor};
        let input = environments::EnvironmentInput {
            slug: slug.into(),
            kind: environments::kind_for(slug),
            schedule_days: vec![],
            schedule_time: None,
        };
        environments::create(self.db(), &Actor::system(), input)
            .await
            .expect("the environment is added");
    }

    /// Records a deploy through the API, asserting it was created; its JSON.
    pub async fn record_deploy(&self, token: &str, body: Value) -> Value {
        let res = self
            .api(Method::POST, "/api/v1/deploys", Some(token), Some(body))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        res.json()
    }

    /// Creates the first admin through the setup page's server function; signed in after.
    pub async fn setup_admin(&self) {
        let res = self
            .call(
                "create_admin",
                &[
                    ("email", "admin@example.com"),
                    ("name", "Ada Admin"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert!(
            res.status.is_success(),
            "setup failed: {} {}",
            res.status,
            res.text()
        );
    }

    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.call("login", &[("email", email), ("password", password)])
            .await
    }

    /// Signs in from the connection `peer`, optionally through a proxy that
    /// says the client was `forwarded_for`.
    pub async fn login_from(
        &self,
        email: &str,
        password: &str,
        peer: [u8; 4],
        forwarded_for: Option<&str>,
    ) -> TestResponse {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("email", email), ("password", password)])
            .finish();
        let mut req = Request::post("/fn/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::ORIGIN, ORIGIN);
        if let Some(xff) = forwarded_for {
            req = req.header("x-forwarded-for", xff);
        }
        let mut req = req.body(Body::from(body)).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((peer, 40000))));
        self.send(req).await
    }

    /// Creates a person directly in the database and signs in as them.
    pub async fn sign_in_as(&self, role: shiplog::model::Role) -> String {
        let email = format!("{}@example.com", role.as_str());
        shiplog::server::service::users::add_user(self.db(), &email, role.label(), role, PASSWORD)
            .await
            .unwrap();
        self.clear_cookies();
        let res = self.login(&email, PASSWORD).await;
        assert!(res.status.is_success(), "{}", res.text());
        email
    }

    /// A fresh API token with this role.
    pub async fn token(&self, role: &str) -> String {
        shiplog::server::service::tokens::create(
            self.db(),
            &shiplog::server::service::Actor::system(),
            &format!("ci-{role}"),
            role,
        )
        .await
        .unwrap()
        .secret
    }
}

/// Creates an empty PostgreSQL database for one test.
async fn fresh_pg_database() -> Option<String> {
    let Ok(admin_url) = std::env::var("SHIPLOG_TEST_PG_URL") else {
        if std::env::var("SHIPLOG_REQUIRE_PG").is_ok_and(|v| v == "1") {
            panic!("SHIPLOG_REQUIRE_PG=1 but SHIPLOG_TEST_PG_URL is not set");
        }
        eprintln!("skipping the PostgreSQL run: SHIPLOG_TEST_PG_URL is not set");
        return None;
    };
    use sqlx::Connection;
    let name = format!(
        "shiplog_test_{}",
        &shiplog::server::auth::token::generate("")[..16]
    );
    let mut conn = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("SHIPLOG_TEST_PG_URL is reachable");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

/// Runs one async test body on SQLite and on PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($app:ident) $body:block)+) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($app: $crate::common::TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run($crate::common::TestApp::start($crate::common::Backend::Sqlite).await.unwrap()).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::common::TestApp::start($crate::common::Backend::Postgres).await {
                        run(app).await
                    }
                }
            }
        )+
    };
}
