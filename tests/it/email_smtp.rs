//! Customer email through a real SMTP server over TCP (`scripts/smtp_test_server.py`,
//! started by `scripts/test.sh`): refusals as real servers answer them, and a
//! send that survives `kill -9` with every recipient served once.

use crate::common::{Backend, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The test SMTP server and its Maildir; without them (outside CI) the test
/// says it skipped, and CI (`SHIPLOG_REQUIRE_SMTP=1`) fails instead.
fn smtp() -> Option<(String, std::path::PathBuf)> {
    match (
        std::env::var("SHIPLOG_TEST_SMTP_URL"),
        std::env::var("SHIPLOG_TEST_MAILDIR"),
    ) {
        (Ok(url), Ok(dir)) => Some((url, std::path::PathBuf::from(dir))),
        _ => {
            if std::env::var("SHIPLOG_REQUIRE_SMTP").is_ok_and(|v| v == "1") {
                panic!("SHIPLOG_REQUIRE_SMTP=1 but SHIPLOG_TEST_SMTP_URL / SHIPLOG_TEST_MAILDIR are not set");
            }
            eprintln!("skipping: no test SMTP server (SHIPLOG_TEST_SMTP_URL)");
            None
        }
    }
}

async fn app_on(backend: Backend, smtp_url: &str) -> Option<TestApp> {
    TestApp::start_with(
        backend,
        &[
            ("SMTP_URL", smtp_url),
            ("SHIPLOG_MAIL_FROM", "Release notes <notes@example.com>"),
            ("SHIPLOG_MAIL_RATE", "off"),
        ],
    )
    .await
}

/// How many messages each address of this run received (`To:` starting
/// with `prefix`), and the Message-IDs each one saw.
fn received(maildir: &std::path::Path, prefix: &str) -> HashMap<String, Vec<String>> {
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    let Ok(dir) = std::fs::read_dir(maildir.join("new")) else {
        return seen;
    };
    for entry in dir {
        let Ok(text) = std::fs::read_to_string(entry.unwrap().path()) else {
            continue; // being written
        };
        let header = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        if let Some(to) = header("To: ").filter(|t| t.starts_with(prefix)) {
            seen.entry(to)
                .or_default()
                .push(header("Message-ID: ").unwrap_or_default());
        }
    }
    seen
}

/// A published release with one entry everyone may read.
async fn published_release(app: &TestApp, slug: &str) -> i64 {
    let pm = app.token("pm").await;
    let eng = app.token("engineer").await;
    let deploy = app
        .record_deploy(
            &eng,
            json!({"environment": "production", "version": slug, "status": "succeeded",
                   "entries": [{"title": format!("News in {slug}"), "kind": "feature"}]}),
        )
        .await;
    let r = app
        .api(
            Method::POST,
            "/api/v1/releases",
            Some(&pm),
            Some(json!({"title": slug, "slug": slug})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let linked = app
        .api(
            Method::POST,
            &format!("/api/v1/releases/{slug}/entries"),
            Some(&pm),
            Some(json!({"entry_ids": [deploy["entries"][0]["id"]]})),
        )
        .await;
    let p = app
        .api(
            Method::POST,
            &format!("/api/v1/releases/{slug}/publish"),
            Some(&pm),
            Some(json!({"revision": linked.json()["revision"]})),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text());
    let c = app
        .api(
            Method::POST,
            "/api/v1/campaigns",
            Some(&pm),
            Some(json!({"release": slug})),
        )
        .await;
    c.json()["id"].as_i64().unwrap()
}

async fn add_subscribers(app: &TestApp, emails: &[String]) {
    let pm = app.token("pm").await;
    let people: Vec<Value> = emails
        .iter()
        .map(|e| json!({"email": e, "releases": true, "digest": "off", "confirmed": true}))
        .collect();
    let res = app
        .api(
            Method::POST,
            "/api/v1/subscribers",
            Some(&pm),
            Some(Value::Array(people)),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
}

async fn campaign(app: &TestApp, id: i64) -> Value {
    let pm = app.token("pm").await;
    app.api(
        Method::GET,
        &format!("/api/v1/campaigns/{id}"),
        Some(&pm),
        None,
    )
    .await
    .json()
}

async fn refusals_are_failed_retried_and_suppressed(backend: Backend) {
    let Some((url, maildir)) = smtp() else { return };
    let Some(app) = app_on(backend, &url).await else {
        return;
    };
    let run = &shiplog::server::auth::token::generate("")[..8];
    let good = format!("ok-{run}@example.com");
    let bounce = format!("bounce-{run}@example.com");
    let busy = format!("tempfail-{run}@example.com");
    add_subscribers(&app, &[good.clone(), bounce.clone(), busy.clone()]).await;
    let id = published_release(&app, &format!("refusals-{run}")).await;
    let pm = app.token("pm").await;
    let sent = app
        .api(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/send"),
            Some(&pm),
            None,
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    let mut check = None;
    while app.app.state.engine.run_once(&mut check).await.unwrap() {}

    assert_eq!(received(&maildir, &good).get(&good).map(Vec::len), Some(1));
    let c = campaign(&app, id).await;
    assert_eq!(c["counts"]["sent"], 1, "{c}");
    assert_eq!(c["counts"]["failed"], 1, "the 5xx is failed for good: {c}");
    assert_eq!(c["counts"]["queued"], 1, "the 4xx waits for a retry: {c}");
    assert_eq!(c["status"], "sending", "{c}");

    // The bounced address is suppressed, with the server's words.
    let admin = app.token("admin").await;
    let list = app
        .api(Method::GET, "/api/v1/suppressions", Some(&admin), None)
        .await
        .json();
    let s = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["email"] == bounce.as_str())
        .expect("suppressed");
    assert_eq!(s["reason"], "bounce");
    assert!(s["detail"].as_str().unwrap().contains("550"), "{s}");
    assert!(
        !list
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["email"] == busy.as_str()),
        "a 4xx suppresses nothing"
    );
    // The failure and the pending retry are listed with their reasons.
    let failures = app.db().delivery_failures(id, 10).await.unwrap();
    assert_eq!(failures.len(), 2);
    assert!(failures
        .iter()
        .any(|f| f.error.as_deref().unwrap_or_default().contains("451")));

    // A later campaign does not mail the suppressed address at all.
    let second = published_release(&app, &format!("later-{run}")).await;
    app.api(
        Method::POST,
        &format!("/api/v1/campaigns/{second}/send"),
        Some(&pm),
        None,
    )
    .await;
    while app.app.state.engine.run_once(&mut check).await.unwrap() {}
    let c = campaign(&app, second).await;
    assert_eq!(c["recipients"], 2, "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_refusals_sqlite() {
    refusals_are_failed_retried_and_suppressed(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_refusals_postgres() {
    refusals_are_failed_retried_and_suppressed(Backend::Postgres).await
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process, killed when dropped: a failing assertion must not leave
/// it running (and holding the test's database) after the test.
struct Server(std::process::Child);

impl Server {
    fn kill(&mut self) {
        let _ = self.0.kill(); // SIGKILL
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `shiplog` serving on the test's database, sending with the engine.
fn server(app: &TestApp, smtp_url: &str) -> Server {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_shiplog"))
        .env("DATABASE_URL", app.database_url())
        .env("SMTP_URL", smtp_url)
        .env("SHIPLOG_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("SHIPLOG_PUBLIC_URL", "http://127.0.0.1:3000")
        .env("SHIPLOG_MAIL_FROM", "Release notes <notes@example.com>")
        .env("SHIPLOG_MAIL_RATE", "off")
        .env("SHIPLOG_MAIL_LEASE_SECONDS", "1")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the shiplog binary starts");
    Server(child)
}

async fn wait_for(maildir: &std::path::Path, prefix: &str, at_least: usize, what: &str) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let n: usize = received(maildir, prefix).values().map(Vec::len).sum();
        if n >= at_least {
            return n;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: only {n} of {at_least} messages arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn a_send_killed_twice_reaches_everyone_once(backend: Backend) {
    const PEOPLE: usize = 3000;
    let Some((url, maildir)) = smtp() else { return };
    let Some(app) = app_on(backend, &url).await else {
        return;
    };
    let run = format!("kill-{}-", &shiplog::server::auth::token::generate("")[..8]);
    let emails: Vec<String> = (0..PEOPLE)
        .map(|i| format!("{run}{i}@example.com"))
        .collect();
    add_subscribers(&app, &emails).await;
    let id = published_release(&app, &format!("{run}release")).await;
    let pm = app.token("pm").await;
    let sent = app
        .api(
            Method::POST,
            &format!("/api/v1/campaigns/{id}/send"),
            Some(&pm),
            None,
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());

    // The server sends; it is killed (SIGKILL) twice mid-send and restarted.
    let mut kills = 0;
    for at_least in [PEOPLE / 6, PEOPLE / 2] {
        let mut child = server(&app, &url);
        let n = wait_for(&maildir, &run, at_least, "before the kill").await;
        child.kill();
        kills += 1;
        eprintln!("killed the server with {n} messages delivered");
    }
    let mut child = server(&app, &url);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let c = campaign(&app, id).await;
        if c["status"] == "sent" {
            assert_eq!(c["counts"]["sent"], PEOPLE as i64, "{c}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the send did not finish: {c}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    child.kill();

    let seen = received(&maildir, &run);
    let missing: Vec<&String> = emails.iter().filter(|e| !seen.contains_key(*e)).collect();
    assert!(
        missing.is_empty(),
        "{} never got the message, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(3)]
    );
    let repeats: usize = seen.values().map(|v| v.len() - 1).sum();
    eprintln!("{PEOPLE} recipients, {kills} kills, {repeats} messages repeated");
    // Only what was in flight at a kill may repeat: the SMTP connections'
    // messages and results not yet written (at most 32 at a time).
    assert!(
        repeats <= kills * (32 + 4),
        "{repeats} repeats after {kills} kills"
    );
    for (to, ids) in &seen {
        assert!(
            ids.iter().all(|i| i == &ids[0] && !i.is_empty()),
            "{to}: a repeat must keep its Message-ID: {ids:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_send_sqlite() {
    a_send_killed_twice_reaches_everyone_once(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_during_send_postgres() {
    a_send_killed_twice_reaches_everyone_once(Backend::Postgres).await
}
