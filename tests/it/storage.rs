//! Storage rules that hold on both databases: transactions, races, demo data.

use crate::common::*;
use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use serde_json::json;

on_both_databases! {
    async fn concurrent_deploys_of_one_version_write_once(app) {
        let token = app.token("engineer").await;
        let app = std::sync::Arc::new(app);
        let mut tasks = vec![];
        for _ in 0..8 {
            let app = app.clone();
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                app.api(Method::POST, "/api/v1/deploys", Some(&token), Some(json!({
                    "environment": "production", "version": "race",
                    "entries": (0..5).map(|i| json!({"title": format!("e{i}"), "kind": "fix"})).collect::<Vec<_>>()
                }))).await.status
            }));
        }
        let mut statuses = vec![];
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
        let page = app.api(Method::GET, "/api/v1/deploys", Some(&token), None).await.json();
        assert_eq!(page["deploys"].as_array().unwrap().len(), 1);
        assert_eq!(page["deploys"][0]["entry_count"], 5, "no entries from the losing writers");
    }

    async fn a_failed_multi_row_write_leaves_nothing_behind(app) {
        app.setup_admin().await;
        let link = app.call("invite", &[("email", "bob@example.com"), ("role", "engineer")]).await.json()["link"].as_str().unwrap().to_string();
        // Bob gets an account another way before accepting.
        shiplog::server::service::users::add_user(app.db(), "bob@example.com", "Bob", shiplog::model::Role::Viewer, PASSWORD).await.unwrap();
        app.clear_cookies();
        let secret = link.rsplit('/').next().unwrap();
        let res = app.call("accept_invitation", &[("token", secret), ("name", "Bob"), ("password", PASSWORD)]).await;
        assert!(res.text().contains("already exists"), "{}", res.text());
        // The invitation was claimed inside the transaction, and that was undone too.
        let hash = shiplog::server::auth::token::hash(secret);
        assert!(app.db().invitation_by_token(&hash).await.unwrap().unwrap().accepted_at.is_none());
        assert_eq!(app.db().count_users().await.unwrap(), 2);
    }

    async fn demo_fills_an_empty_database_once(app) {
        let summary = shiplog::server::demo::fill(app.db(), Default::default()).await.unwrap();
        assert!(summary.contains("30 deploys with 150 entries, 6 releases, 4 accounts, 2 cohorts"), "{summary}");
        let token = app.token("viewer").await;
        let mut total_entries = 0;
        let mut deploys = 0;
        let mut before: Option<i64> = None;
        let mut kinds = std::collections::HashSet::new();
        loop {
            let q = before.map(|b| format!("&before={b}")).unwrap_or_default();
            let page = app.api(Method::GET, &format!("/api/v1/deploys?limit=100{q}"), Some(&token), None).await.json();
            for d in page["deploys"].as_array().unwrap() {
                deploys += 1;
                total_entries += d["entry_count"].as_i64().unwrap();
                let detail = app.api(Method::GET, &format!("/api/v1/deploys/{}", d["id"]), Some(&token), None).await.json();
                for e in detail["entries"].as_array().unwrap() {
                    kinds.insert(e["kind"].as_str().unwrap().to_string());
                }
            }
            match page["next_before"].as_i64() { Some(b) => before = Some(b), None => break }
        }
        assert_eq!(deploys, 30);
        assert_eq!(total_entries, 150);
        assert_eq!(kinds.len(), 5, "every kind: {kinds:?}");
        assert_eq!(app.db().list_environments().await.unwrap(), ["internal", "production", "staging"]);
        // Deploy safety: nights without a deploy explained but the newest.
        let cal = shiplog::server::service::environments::calendar(app.db(), chrono_tz::UTC, "production", None, None)
            .await
            .unwrap();
        assert_eq!(cal.flagged, 1, "{cal:?}");
        assert!(cal.nights.iter().any(|n| n.reason == Some(shiplog::model::NightReason::Holiday)));
        assert!(summary.contains("Deploy safety"), "{summary}");
        assert!(app.db().count_users().await.unwrap() >= 4);
        assert!(shiplog::server::demo::fill(app.db(), Default::default()).await.is_err(), "a second run refuses");
        assert!(app.get("/changes").await.text().matches("class=\"change\"").count() > 20);
        // Releases: five published, the newest a draft; some entries left to announce.
        let home = app.get("/").await.text();
        assert_eq!(home.matches("class=\"release\"").count(), 5, "{home}");
        let cohorts = app.db().list_cohorts().await.unwrap();
        assert!(cohorts.iter().any(|c| c.slug == "beta" && !c.members.is_empty()));
        let unannounced = app.db().unannounced("production").await.unwrap();
        assert!(!unannounced.is_empty());

        // The defects loop, fitted to those deploys.
        assert!(summary.contains("Defects: 6 incidents"), "{summary}");
        let incidents = app.api(Method::GET, "/api/v1/incidents?limit=50", Some(&token), None).await.json();
        let incidents = incidents.as_array().unwrap_or_else(|| panic!("{incidents}")).clone();
        assert_eq!(incidents.len(), 6);
        assert_eq!(incidents.iter().filter(|i| i["status"] == "open").count(), 1, "the newest is still open: defects first");
        let mut finals = 0;
        for i in &incidents {
            let d = app.api(Method::GET, &format!("/api/v1/incidents/{}", i["number"].as_str().unwrap()), Some(&token), None).await.json();
            let cause = &d["caused_by"][0]["entry"];
            assert!(cause.is_object(), "every incident names the entry that caused it: {d}");
            assert!(d["caused_by"][0]["deployed_at"].as_str().unwrap() < i["detected_at"].as_str().unwrap(), "caused before detected");
            if i["status"] == "resolved" {
                assert!(d["fixed_by_deploy_id"].is_i64() && d["time_to_restore_seconds"].as_i64().unwrap() > 0, "{d}");
            }
            let note = app.api(Method::GET, &format!("/api/v1/incidents/{}/root-cause", i["number"].as_str().unwrap()), Some(&token), None).await.json();
            if note["note"]["status"] == "final" {
                finals += 1;
                assert_ne!(note["note"]["reviewer"], note["note"]["author"]);
            }
        }
        assert!(finals >= 3, "most notes are reviewed");
        let holes = app.api(Method::GET, "/api/v1/holes", Some(&token), None).await.json();
        assert!(!holes["open"].as_array().unwrap().is_empty());
        assert!(holes["months"].as_array().unwrap().iter().map(|m| m["repaired"].as_i64().unwrap()).sum::<i64>() > 0, "{holes}");
        let overdue = app.api(Method::GET, "/api/v1/actions?overdue=true", Some(&token), None).await.json();
        assert!(!overdue.as_array().unwrap().is_empty(), "an action is overdue");
        let retros = app.api(Method::GET, "/api/v1/retros", Some(&token), None).await.json();
        let statuses: Vec<&str> = retros["retros"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["open", "closed", "closed"]);
        let first = retros["retros"][2]["id"].as_i64().unwrap();
        let retro = app.api(Method::GET, &format!("/api/v1/retros/{first}"), Some(&token), None).await.json();
        assert!(retro["items"].as_array().unwrap().iter().any(|i| i["action_id"].is_i64()), "an item became an action");
        assert!(retro["period"]["deploys"].as_i64().unwrap() > 0, "its period holds deploys: {}", retro["period"]);
    }
}

/// `shiplog backup`: a consistent copy while writes go on, checked, never
/// over an existing file; PostgreSQL says to use pg_dump.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_a_serving_sqlite_database() {
    use serde_json::json;
    let app = crate::common::TestApp::start(crate::common::Backend::Sqlite)
        .await
        .unwrap();
    let ci = app.token("engineer").await;
    for i in 0..20 {
        app.record_deploy(
            &ci,
            json!({"environment": "production", "version": format!("1.0.{i}"),
            "status": "succeeded", "entries": [{"title": "x", "kind": "fix"}]}),
        )
        .await;
    }
    // Writes keep coming while the copy is made.
    let writer = {
        let db = app.db().clone();
        tokio::spawn(async move {
            let actor = shiplog::server::service::Actor::system();
            for i in 0..50 {
                let input: shiplog::server::service::deploys::DeployInput = serde_json::from_value(json!({
                    "environment": "production", "version": format!("2.0.{i}"), "status": "succeeded",
                    "entries": [{"title": "y", "kind": "fix"}]})).unwrap();
                shiplog::server::service::deploys::create(
                    &db,
                    &shiplog::server::markdown::Markdown::default(),
                    &actor,
                    input,
                )
                .await
                .unwrap();
            }
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("copy.db");
    let made = shiplog::server::service::backup::backup(app.db(), &target)
        .await
        .unwrap();
    writer.await.unwrap();
    assert_eq!(made.integrity, "ok");
    assert!((20..=70).contains(&made.deploys), "{made:?}");
    assert!(made.bytes > 0);
    let copy = shiplog::server::db::connect(&format!("sqlite://{}", target.display()))
        .await
        .unwrap();
    assert_eq!(copy.count_deploys().await.unwrap(), made.deploys);
    let again = shiplog::server::service::backup::backup(app.db(), &target)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("exists already"), "{again}");

    if let Some(pg) = crate::common::TestApp::start(crate::common::Backend::Postgres).await {
        let err = shiplog::server::service::backup::backup(pg.db(), &dir.path().join("pg.db"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("pg_dump"), "{err}");
    }
}

// `shiplog rerender`: stored HTML made by an older renderer (here: written
// straight into the database, script and all) is rendered and sanitised
// again; what is already current is left alone.
on_both_databases! {
    async fn rerender_sanitises_every_stored_markdown_field_again(app) {
        use serde_json::json;
        let ci = app.token("engineer").await;
        let d = app.record_deploy(&ci, json!({"environment": "production", "version": "1.0.0", "status": "succeeded",
            "entries": [{"title": "a", "kind": "fix", "body": "Now **bold**"}, {"title": "b", "kind": "fix", "body": "plain"}]})).await;
        let stale = d["entries"][0]["id"].as_i64().unwrap();
        let md = shiplog::server::markdown::Markdown::default();
        let field = shiplog::server::db::MARKDOWN_FIELDS[0];
        app.db().set_rendered(field, stale, "<p>Now <b>bold</b><script>alert(1)</script></p>", "old").await.unwrap();
        let reports = shiplog::server::service::rerender::rerender(app.db(), &md).await.unwrap();
        let entries = reports.iter().find(|r| r.field == "entries.body").unwrap();
        assert_eq!((entries.seen, entries.changed), (2, 1), "{reports:?}");
        assert!(entries.refused.is_empty());
        let detail = app.api(axum::http::Method::GET, &format!("/api/v1/deploys/{}", d["id"]), Some(&ci), None).await.json();
        assert_eq!(detail["entries"][0]["body_html"], "<p>Now <strong>bold</strong></p>\n");
        let again = shiplog::server::service::rerender::rerender(app.db(), &md).await.unwrap();
        assert!(again.iter().all(|r| r.changed == 0), "{again:?}");
    }
}
