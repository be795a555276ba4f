//! `shiplog ci ...` run as CI runs it: the real binary, against a Shiplog
//! serving on a TCP port, in a real git repository made here.

use crate::common::{Backend, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn shiplog(dir: &Path, url: &str, token: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_shiplog"));
    cmd.current_dir(dir)
        .args(["ci"])
        .args(args)
        .env("SHIPLOG_URL", url)
        .env_remove("SHIPLOG_TOKEN")
        .env_remove("DATABASE_URL");
    if let Some(t) = token {
        cmd.env("SHIPLOG_TOKEN", t);
    }
    let out = cmd.output().await.expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Ana Lee")
        .env("GIT_AUTHOR_EMAIL", "ana@example.com")
        .env("GIT_COMMITTER_NAME", "Ana Lee")
        .env("GIT_COMMITTER_EMAIL", "ana@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn commit(dir: &Path, file: &str, message: &str) {
    std::fs::write(dir.join(file), message).unwrap();
    git(dir, &["add", file]);
    git(dir, &["commit", "-q", "-m", message]);
}

async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });
    url
}

async fn the_ci_client_records_builds_and_deploys_and_asks_the_gate(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let url = serve(&app).await;
    let token = app.token("engineer").await;
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);
    commit(dir, "README", "chore: start");
    commit(dir, "billing.rs", "feat(billing): export invoices as CSV");
    commit(
        dir,
        "login.rs",
        "fix: keep the page after signing in\n\nCloses a redirect loop.",
    );

    // Settings missing or wrong: one line, exit 2 (or 1 when the server refuses).
    let r = shiplog(dir, &url, None, &["gate", "--environment", "production"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("shiplog: set SHIPLOG_TOKEN"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1);
    let r = shiplog(
        dir,
        &url,
        Some("sl_wrong"),
        &["gate", "--environment", "production"],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("401"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1);
    let r = shiplog(
        dir,
        &url,
        Some(&token),
        &[
            "deploy",
            "--environment",
            "production",
            "--from",
            "nope..HEAD",
        ],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.starts_with("shiplog: git log"), "{}", r.stderr);

    // A build of the last two commits: running, then passed.
    let r = shiplog(
        dir,
        &url,
        Some(&token),
        &[
            "build",
            "--version",
            "1.0.0",
            "--status",
            "running",
            "--url",
            "https://ci.example.com/runs/1",
            "--from",
            "HEAD~2..HEAD",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first: i64 = r.stdout.trim().parse().unwrap();
    let r = shiplog(
        dir,
        &url,
        Some(&token),
        &[
            "build",
            "--id",
            &first.to_string(),
            "--status",
            "passed",
            "--tests-passed",
            "40",
            "--tests-skipped",
            "1",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = app
        .api(
            Method::GET,
            &format!("/api/v1/builds/{first}"),
            Some(&token),
            None,
        )
        .await
        .json();
    assert_eq!(b["status"], "passed");
    assert_eq!(b["branch"], "main");
    assert_eq!(b["commit"], git(dir, &["rev-parse", "HEAD"]));
    assert_eq!(b["commits"].as_array().unwrap().len(), 2);
    assert_eq!(b["tests"], json!({"passed": 40, "failed": 0, "skipped": 1}));

    // The deploy drafts its entries from the conventional commits.
    let r = shiplog(
        dir,
        &url,
        Some(&token),
        &[
            "deploy",
            "--environment",
            "production",
            "--from",
            "HEAD~2..HEAD",
            "--version",
            "1.0.0",
            "--build",
            &first.to_string(),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id: i64 = r.stdout.trim().parse().unwrap();
    let d: Value = app
        .api(
            Method::GET,
            &format!("/api/v1/deploys/{id}"),
            Some(&token),
            None,
        )
        .await
        .json();
    assert_eq!(d["environment"], "production");
    assert_eq!(d["status"], "succeeded");
    let entries = d["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{d}");
    assert_eq!(entries[0]["kind"], "feature");
    assert_eq!(entries[0]["component"], "billing");
    assert_eq!(entries[1]["kind"], "fix");
    assert_eq!(d["commits"][0]["author"], "Ana Lee <ana@example.com>");
    assert_eq!(d["build_id"], first);

    // Nothing newer passed: promotable exits 3 with the reason.
    let r = shiplog(
        dir,
        &url,
        Some(&token),
        &["promotable", "--environment", "production"],
    )
    .await;
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("already deployed"), "{}", r.stdout);

    commit(dir, "search.rs", "feat(search): find by customer");
    let r = shiplog(
        dir,
        &url,
        Some(&token),
        &[
            "build",
            "--version",
            "1.1.0",
            "--status",
            "passed",
            "--from",
            "HEAD~1..HEAD",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second: i64 = r.stdout.trim().parse().unwrap();
    let r = shiplog(
        dir,
        &url,
        Some(&token),
        &["promotable", "--environment", "production"],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(&format!("{second} 1.1.0 ")),
        "{}",
        r.stdout
    );
    let r = shiplog(
        dir,
        &url,
        Some(&token),
        &[
            "gate",
            "--environment",
            "production",
            "--build",
            &second.to_string(),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("open"));

    // Someone blocks search: the gate for that build is closed (exit 3).
    let viewer = app.token("viewer").await;
    let placed = app.api(Method::POST, "/api/v1/blocks", Some(&viewer),
        Some(json!({"environment": "production", "reason": "Search index rebuilding", "component": "search"}))).await;
    assert_eq!(placed.status, StatusCode::CREATED);
    let r = shiplog(
        dir,
        &url,
        Some(&token),
        &[
            "gate",
            "--environment",
            "production",
            "--build",
            &second.to_string(),
        ],
    )
    .await;
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("closed") && r.stdout.contains("Search index rebuilding"),
        "{}",
        r.stdout
    );
    let r = shiplog(
        dir,
        &url,
        Some(&token),
        &["gate", "--environment", "production"],
    )
    .await;
    assert_eq!(
        r.code, 3,
        "the component block holds for any deploy: {}",
        r.stdout
    );
    let r = shiplog(
        dir,
        &url,
        Some(&token),
        &["promotable", "--environment", "production", "--json"],
    )
    .await;
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(r.stdout.contains("Search index rebuilding"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ci_client_records_builds_and_deploys_and_asks_the_gate_sqlite() {
    the_ci_client_records_builds_and_deploys_and_asks_the_gate(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ci_client_records_builds_and_deploys_and_asks_the_gate_postgres() {
    the_ci_client_records_builds_and_deploys_and_asks_the_gate(Backend::Postgres).await
}
