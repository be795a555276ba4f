//! Deploying safely through the API: builds, blocks of each scope placed
//! and lifted by anyone (a viewer too), their expiry, the gate's answer and
//! the promotable build.

use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

fn sha(n: u32) -> String {
    format!("{n:040x}")
}

async fn build(
    app: &crate::common::TestApp,
    token: &str,
    version: &str,
    status: &str,
    commits: Value,
) -> Value {
    let r = app
        .api(
            Method::POST,
            "/api/v1/builds",
            Some(token),
            Some(json!({"version": version,
        "commit": sha(version.len() as u32 * 1000 + version.bytes().map(u32::from).sum::<u32>()),
        "branch": "main", "status": status, "url": "https://ci.example.com/b/1", "commits": commits,
        "tests": {"passed": 120, "failed": 0, "skipped": 2}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()
}

async fn gate(app: &crate::common::TestApp, token: &str, query: &str) -> Value {
    let r = app
        .api(
            Method::GET,
            &format!("/api/v1/gate?{query}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

on_both_databases! {
    async fn builds_are_recorded_and_moved_on(app) {
        let eng = app.token("engineer").await;
        let viewer = app.token("viewer").await;
        let b = build(&app, &eng, "2026.11.28-1", "running", json!([{"sha": sha(1), "message": "fix(billing): round totals"}])).await;
        assert_eq!(b["status"], "running");
        assert!(b["finished_at"].is_null());
        assert_eq!(b["tests"], json!({"passed": 120, "failed": 0, "skipped": 2}));
        let refused = app.api(Method::POST, "/api/v1/builds", Some(&viewer), Some(json!({"version": "x", "commit": sha(2), "branch": "main", "status": "passed"}))).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let bad = app.api(Method::POST, "/api/v1/builds", Some(&eng), Some(json!({"version": "x", "commit": "not-hex", "branch": "main", "status": "passed"}))).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.json()["error"]["field"], "commit");
        let status = app.api(Method::POST, "/api/v1/builds", Some(&eng), Some(json!({"version": "x", "commit": sha(2), "branch": "main", "status": "green"}))).await;
        assert_eq!(status.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", status.text());

        let id = b["id"].as_i64().unwrap();
        let passed = app.api(Method::PATCH, &format!("/api/v1/builds/{id}"), Some(&eng), Some(json!({"status": "passed", "tests": {"passed": 121, "failed": 0, "skipped": 1}}))).await;
        assert_eq!(passed.status, StatusCode::OK, "{}", passed.text());
        assert_eq!(passed.json()["status"], "passed");
        assert!(passed.json()["finished_at"].is_string());
        assert_eq!(app.api(Method::GET, "/api/v1/builds/999999", Some(&viewer), None).await.status, StatusCode::NOT_FOUND);
        let list = app.api(Method::GET, "/api/v1/builds?status=passed", Some(&viewer), None).await.json();
        assert_eq!(list.as_array().unwrap().len(), 1);
    }

    async fn anyone_blocks_and_the_gate_says_why(app) {
        app.add_environment("staging").await;
        let eng = app.token("engineer").await;
        let viewer = app.token("viewer").await;
        let d = app.record_deploy(&eng, json!({"environment": "staging", "version": "s1", "status": "succeeded",
            "commit": sha(10), "commits": [{"sha": sha(10), "message": "feat(search): fuzzy"}],
            "entries": [{"title": "Fuzzy search", "kind": "feature", "component": "search"}]})).await;
        let entry = d["entries"][0]["id"].as_i64().unwrap();
        app.record_deploy(&eng, json!({"environment": "production", "version": "p0", "status": "succeeded",
            "entries": [{"title": "Older", "kind": "fix"}]})).await;
        assert_eq!(gate(&app, &viewer, "environment=production").await["open"], true);
        let unknown = app.api(Method::GET, "/api/v1/gate?environment=moon", Some(&viewer), None).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);

        let with_search = build(&app, &eng, "b-search", "passed", json!([{"sha": sha(10), "message": "feat(search): fuzzy"}])).await;
        let with_billing = build(&app, &eng, "b-billing", "passed", json!([{"sha": sha(11), "message": "fix(billing): totals"}])).await;
        let q = |b: &Value| format!("environment=production&build={}", b["id"]);

        // A viewer blocks one entry's change: only builds carrying it stop.
        let no_reason = app.api(Method::POST, "/api/v1/blocks", Some(&viewer), Some(json!({"environment": "production", "reason": " "}))).await;
        assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(no_reason.json()["error"]["field"], "reason");
        let placed = app.api(Method::POST, "/api/v1/blocks", Some(&viewer), Some(json!({"environment": "production",
            "reason": "Fuzzy search returns private docs", "entry_id": entry}))).await;
        assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
        let block = placed.json();
        assert_eq!(block["placed_by"], "token:ci-viewer");
        assert_eq!(block["state"], "active");
        assert!(block["expires_at"].as_str().unwrap() > chrono::Utc::now().to_rfc3339().as_str(), "expires after the next deploy night");
        let g = gate(&app, &viewer, &q(&with_search)).await;
        assert_eq!(g["open"], false);
        assert!(g["reasons"][0].as_str().unwrap().contains("Fuzzy search returns private docs"), "{g}");
        assert!(g["reasons"][0].as_str().unwrap().contains("token:ci-viewer"));
        assert_eq!(g["blocks"][0]["id"], block["id"]);
        assert_eq!(gate(&app, &viewer, &q(&with_billing)).await["open"], true, "another build goes through");

        // A component block.
        let comp = app.api(Method::POST, "/api/v1/blocks", Some(&eng), Some(json!({"environment": "production",
            "reason": "Billing freeze for month end", "component": "billing"}))).await;
        assert_eq!(comp.status, StatusCode::CREATED, "{}", comp.text());
        assert_eq!(gate(&app, &viewer, &q(&with_billing)).await["open"], false);
        // Without a build, every block holds.
        assert_eq!(gate(&app, &viewer, "environment=production").await["reasons"].as_array().unwrap().len(), 2);

        // Lifting takes a note; a lifted block no longer holds, and stays in the history.
        let id = block["id"].as_i64().unwrap();
        let no_note = app.api(Method::DELETE, &format!("/api/v1/blocks/{id}"), Some(&viewer), Some(json!({"note": ""}))).await;
        assert_eq!(no_note.status, StatusCode::UNPROCESSABLE_ENTITY);
        let lifted = app.api(Method::DELETE, &format!("/api/v1/blocks/{id}"), Some(&viewer), Some(json!({"note": "Access check added"}))).await;
        assert_eq!(lifted.status, StatusCode::OK, "{}", lifted.text());
        assert_eq!(lifted.json()["state"], "lifted");
        assert_eq!(lifted.json()["lifted_by"], "token:ci-viewer");
        let twice = app.api(Method::DELETE, &format!("/api/v1/blocks/{id}"), Some(&viewer), Some(json!({"note": "again"}))).await;
        assert_eq!(twice.status, StatusCode::CONFLICT);
        assert_eq!(gate(&app, &viewer, &q(&with_search)).await["open"], true);

        // An environment block, expiring: once its time passes it no longer holds.
        let soon = (chrono::Utc::now() + chrono::TimeDelta::seconds(2)).to_rfc3339();
        let env = app.api(Method::POST, "/api/v1/blocks", Some(&viewer), Some(json!({"environment": "production",
            "reason": "Release party", "expires_at": soon}))).await;
        assert_eq!(env.status, StatusCode::CREATED, "{}", env.text());
        assert_eq!(gate(&app, &viewer, &q(&with_search)).await["open"], false);
        let past = app.api(Method::POST, "/api/v1/blocks", Some(&viewer), Some(json!({"environment": "production",
            "reason": "x", "expires_at": "2020-01-01T00:00:00Z"}))).await;
        assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
        // Time passes by the app's clock, not by waiting.
        app.db().clock().advance(chrono::TimeDelta::seconds(3));
        assert_eq!(gate(&app, &viewer, &q(&with_search)).await["open"], true, "the block expired");
        let history = app.api(Method::GET, "/api/v1/blocks?environment=production", Some(&viewer), None).await.json();
        let states: Vec<&str> = history.as_array().unwrap().iter().map(|b| b["state"].as_str().unwrap()).collect();
        assert_eq!(states, ["expired", "active", "lifted"]);
        let holding = app.api(Method::GET, "/api/v1/blocks?holding=true", Some(&viewer), None).await.json();
        assert_eq!(holding.as_array().unwrap().len(), 1);
    }

    async fn the_promotable_build_is_the_newest_that_may_go(app) {
        let eng = app.token("engineer").await;
        let viewer = app.token("viewer").await;
        app.record_deploy(&eng, json!({"environment": "production", "version": "p0", "status": "succeeded",
            "entries": [{"title": "Older", "kind": "fix"}]})).await;
        let none = app.api(Method::GET, "/api/v1/builds/promotable?environment=production", Some(&viewer), None).await;
        assert_eq!(none.status, StatusCode::CONFLICT, "{}", none.text());
        assert_eq!(none.json()["error"]["code"], "conflict");

        let old = build(&app, &eng, "b1", "passed", json!([{"sha": sha(21), "message": "fix(search): one"}])).await;
        let good = build(&app, &eng, "b2", "passed", json!([{"sha": sha(22), "message": "fix(billing): two"}])).await;
        build(&app, &eng, "b3", "failed", json!([])).await;
        let r = app.api(Method::GET, "/api/v1/builds/promotable?environment=production", Some(&viewer), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["id"], good["id"], "the newest passed build");

        app.api(Method::POST, "/api/v1/blocks", Some(&viewer), Some(json!({"environment": "production",
            "reason": "Billing freeze", "component": "billing"}))).await;
        let r = app.api(Method::GET, "/api/v1/builds/promotable?environment=production", Some(&viewer), None).await;
        assert_eq!(r.json()["id"], old["id"], "the blocked build is skipped");

        // Deployed already: nothing newer qualifies, and every reason is given.
        let deployed = app.api(Method::POST, "/api/v1/deploys", Some(&eng), Some(json!({"environment": "production",
            "version": "b1", "status": "succeeded", "build_id": old["id"]}))).await;
        assert_eq!(deployed.status, StatusCode::CREATED, "{}", deployed.text());
        assert_eq!(deployed.json()["entries"][0]["title"], "One", "entries drafted from the build's commits");
        let r = app.api(Method::GET, "/api/v1/builds/promotable?environment=production", Some(&viewer), None).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
        let reasons: Vec<String> = r.json()["reasons"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
        assert!(reasons.iter().any(|x| x.contains("b3") && x.contains("failed")), "{reasons:?}");
        assert!(reasons.iter().any(|x| x.contains("b2") && x.contains("Billing freeze")), "{reasons:?}");
        assert!(reasons.iter().any(|x| x.contains("b1") && x.contains("already deployed")), "{reasons:?}");
        let unknown = app.api(Method::POST, "/api/v1/deploys", Some(&eng), Some(json!({"environment": "production",
            "version": "b9", "build_id": 999999}))).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(unknown.json()["error"]["field"], "build_id");
    }
}

on_both_databases! {
    async fn the_team_blocks_from_the_home_page_and_sees_the_history(app) {
        app.setup_admin().await;
        let eng = app.token("engineer").await;
        app.record_deploy(&eng, json!({"environment": "production", "version": "p1", "status": "succeeded",
            "entries": [{"title": "Something", "kind": "fix"}]})).await;
        let home = app.get("/app").await.text();
        assert!(home.contains("Tonight&#x27;s deploy") || home.contains("Tonight's deploy"), "the gate panel is on the home page");
        assert!(home.contains("Gate open"));
        let empty = app.call("place_block", &[("input[environment]", "production"), ("input[reason]", ""), ("input[component]", "")]).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", empty.text());
        let placed = app.call("place_block", &[("input[environment]", "production"), ("input[reason]", "Database migration running"), ("input[component]", "")]).await;
        assert_eq!(placed.status, StatusCode::OK, "{}", placed.text());
        let home = app.get("/app").await.text();
        assert!(home.contains("Gate closed") && home.contains("Database migration running"), "closed, with the reason");
        let blocks = app.api(Method::GET, "/api/v1/blocks", Some(&eng), None).await.json();
        let id = blocks[0]["id"].as_i64().unwrap().to_string();
        assert_eq!(blocks[0]["placed_by"], "admin@example.com");
        let page = app.get("/app/blocks").await.text();
        assert!(page.contains("Database migration running") && page.contains("Holding"));
        let lifted = app.call("lift_block", &[("id", &id), ("note", "Migration done")]).await;
        assert_eq!(lifted.status, StatusCode::OK, "{}", lifted.text());
        let page = app.get("/app/blocks").await.text();
        assert!(page.contains("Lifted") && page.contains("Migration done"), "the lift is in the history");
        assert!(app.get("/app").await.text().contains("Gate open"));
    }
}
