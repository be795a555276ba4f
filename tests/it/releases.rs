//! Releases: drafting, linking entries from several deploys, readiness,
//! publishing and scheduling, the public site and feeds.

use crate::common::*;
use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

/// Two production deploys and one staging deploy; returns entry ids by title.
async fn ship(app: &TestApp) -> std::collections::HashMap<String, i64> {
    app.add_environment("staging").await;
    let t = app.token("engineer").await;
    let mut ids = std::collections::HashMap::new();
    for (env, version, status, entries) in [
        (
            "production",
            "v1",
            "succeeded",
            vec![
                ("Faster search", "improvement", "everyone"),
                ("Beta dashboards", "feature", "cohort:beta"),
            ],
        ),
        (
            "production",
            "v2",
            "succeeded",
            vec![
                ("CSV export", "feature", "everyone"),
                ("Admin audit log", "feature", "admins"),
            ],
        ),
        (
            "staging",
            "v3-rc",
            "succeeded",
            vec![("Dark mode", "feature", "everyone")],
        ),
    ] {
        let res = app.api(Method::POST, "/api/v1/deploys", Some(&t), Some(json!({
            "environment": env, "version": version, "status": status,
            "entries": entries.iter().map(|(title, kind, audience)| json!({"title": title, "kind": kind, "audience": audience, "body": format!("All about {title}.")})).collect::<Vec<_>>()
        }))).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        for e in res.json()["entries"].as_array().unwrap() {
            ids.insert(
                e["title"].as_str().unwrap().to_string(),
                e["id"].as_i64().unwrap(),
            );
        }
    }
    ids
}

async fn draft(app: &TestApp, pm: &str) -> Value {
    let res = app
        .api(
            Method::POST,
            "/api/v1/releases",
            Some(pm),
            Some(json!({
                "title": "Winter update: faster everything", "version_name": "2026.12",
                "narrative": "This winter we made **search** faster.\n\n<script>alert(1)</script>"
            })),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()
}

on_both_databases! {
    async fn a_release_is_drafted_linked_checked_and_published(app) {
        let ids = ship(&app).await;
        let pm = app.token("pm").await;
        let engineer = app.token("engineer").await;
        assert_eq!(app.api(Method::POST, "/api/v1/releases", Some(&engineer), Some(json!({"title": "x"}))).await.status, StatusCode::FORBIDDEN);

        let release = draft(&app, &pm).await;
        assert_eq!(release["slug"], "winter-update-faster-everything");
        assert_eq!(release["status"], "draft");
        assert!(!release["narrative_html"].as_str().unwrap().contains("<script"));
        let slug = "winter-update-faster-everything";

        // Entries from several deploys, including one only on staging.
        let link = app.api(Method::POST, &format!("/api/v1/releases/{slug}/entries"), Some(&pm),
            Some(json!({"entry_ids": [ids["Faster search"], ids["CSV export"], ids["Dark mode"], ids["Beta dashboards"]]}))).await;
        assert_eq!(link.status, StatusCode::OK, "{}", link.text());
        let detail = link.json();
        assert_eq!(detail["entries"].as_array().unwrap().len(), 4);
        let versions: Vec<&str> = detail["entries"].as_array().unwrap().iter().map(|e| e["version"].as_str().unwrap()).collect();
        assert!(versions.contains(&"v1") && versions.contains(&"v2") && versions.contains(&"v3-rc"));

        // An entry belongs to one release at most.
        let other = app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "Other"}))).await.json();
        let clash = app.api(Method::POST, &format!("/api/v1/releases/{}/entries", other["slug"].as_str().unwrap()), Some(&pm),
            Some(json!({"entry_ids": [ids["Admin audit log"], ids["CSV export"]]}))).await;
        assert_eq!(clash.status, StatusCode::CONFLICT);
        assert!(clash.text().contains("another release"));
        let other_detail = app.api(Method::GET, &format!("/api/v1/releases/{}/draft", other["slug"].as_str().unwrap()), Some(&pm), None).await.json();
        assert_eq!(other_detail["entries"].as_array().unwrap().len(), 0, "all or nothing");

        // Not ready: Dark mode is only on staging.
        let revision = detail["revision"].as_i64().unwrap();
        let refused = app.api(Method::POST, &format!("/api/v1/releases/{slug}/publish"), Some(&pm), Some(json!({"revision": revision}))).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        let msg = refused.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains("Dark mode") && msg.contains("only on staging"), "{msg}");
        assert_eq!(app.api(Method::GET, &format!("/api/v1/releases/{slug}"), None, None).await.status, StatusCode::NOT_FOUND, "drafts are not public");

        // Remove it, then publish.
        let detail = app.api(Method::DELETE, &format!("/api/v1/releases/{slug}/entries/{}", ids["Dark mode"]), Some(&pm), None).await.json();
        let revision = detail["revision"].as_i64().unwrap();
        let stale = app.api(Method::POST, &format!("/api/v1/releases/{slug}/publish"), Some(&pm), Some(json!({"revision": revision - 1}))).await;
        assert_eq!(stale.status, StatusCode::CONFLICT);
        assert!(stale.text().contains("Someone else changed this release"));
        let published = app.api(Method::POST, &format!("/api/v1/releases/{slug}/publish"), Some(&pm), Some(json!({"revision": revision}))).await;
        assert_eq!(published.status, StatusCode::OK, "{}", published.text());
        assert_eq!(published.json()["status"], "published");

        // The public site: home, release page, permalinks, API; the cohort entry stays hidden.
        let home = app.get("/").await.text();
        assert!(home.contains("Winter update: faster everything") && home.contains("This winter we made <strong>search</strong> faster."));
        assert!(home.contains("Faster search") && home.contains("CSV export"));
        assert!(!home.contains("Beta dashboards"), "cohort entry on the public home");
        assert!(home.contains("Improvements") && home.contains("New features"), "grouped by kind");
        assert!(!home.contains("<script"));
        let page = app.get(&format!("/releases/{slug}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.text().contains("Beta dashboards"));
        let permalink = app.get(&format!("/changes/{}", ids["CSV export"])).await.text();
        assert!(permalink.contains(&format!("href=\"/releases/{slug}\"")), "permalink names its release");
        let api = app.api(Method::GET, "/api/v1/releases", None, None).await.json();
        assert_eq!(api["releases"][0]["slug"], slug);
        let titles: Vec<&str> = api["releases"][0]["entries"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap()).collect();
        assert_eq!(titles.len(), 2, "{titles:?}");
        assert!(!titles.contains(&"Beta dashboards"));

        // Search.
        assert!(app.get("/?q=winter").await.text().contains("Winter update"));
        assert!(app.get("/?q=nothing-like-this").await.text().contains("No release matches"));
        assert!(app.get("/changes?q=csv").await.text().contains("CSV export"));
        assert!(!app.get("/changes?q=csv").await.text().contains("Faster search"));

        // Private links see their cohort's entry in the release.
        app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": "acme", "name": "Acme"}))).await;
        app.api(Method::POST, "/api/v1/cohorts", Some(&pm), Some(json!({"slug": "beta", "name": "Beta"}))).await;
        app.api(Method::PUT, "/api/v1/cohorts/beta/members", Some(&pm), Some(json!({"accounts": ["acme"]}))).await;
        let url = app.api(Method::POST, "/api/v1/accounts/acme/links", Some(&pm), Some(json!({}))).await.json()["url"].as_str().unwrap().replace("http://127.0.0.1:3000", "");
        let private = app.get(&format!("{url}/releases/{slug}")).await.text();
        assert!(private.contains("Beta dashboards"));
        assert!(app.get(&format!("{url}/")).await.text().contains("Beta dashboards"));
    }

    async fn publishing_anyway_needs_an_explicit_override(app) {
        let ids = ship(&app).await;
        let pm = app.token("pm").await;
        draft(&app, &pm).await;
        let slug = "winter-update-faster-everything";
        let empty = app.api(Method::POST, &format!("/api/v1/releases/{slug}/publish"), Some(&pm), Some(json!({"revision": 1}))).await;
        assert_eq!(empty.status, StatusCode::CONFLICT);
        assert!(empty.text().contains("no entries"));
        let d = app.api(Method::POST, &format!("/api/v1/releases/{slug}/entries"), Some(&pm), Some(json!({"entry_ids": [ids["Dark mode"]]}))).await.json();
        let r = d["revision"].as_i64().unwrap();
        let ok = app.api(Method::POST, &format!("/api/v1/releases/{slug}/publish"), Some(&pm), Some(json!({"revision": r, "override": true}))).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
        // Published, but a staging-only entry still never reaches customers.
        assert!(!app.get(&format!("/releases/{slug}")).await.text().contains("Dark mode"));
    }

    async fn scheduled_releases_publish_once_at_their_time(app) {
        let ids = ship(&app).await;
        let pm = app.token("pm").await;
        draft(&app, &pm).await;
        let slug = "winter-update-faster-everything";
        let d = app.api(Method::POST, &format!("/api/v1/releases/{slug}/entries"), Some(&pm), Some(json!({"entry_ids": [ids["CSV export"]]}))).await.json();
        let past = app.api(Method::POST, &format!("/api/v1/releases/{slug}/publish"), Some(&pm),
            Some(json!({"revision": d["revision"], "at": "2020-01-01T00:00:00Z"}))).await;
        assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
        let at = chrono::Utc::now() + chrono::TimeDelta::hours(1);
        let scheduled = app.api(Method::POST, &format!("/api/v1/releases/{slug}/publish"), Some(&pm),
            Some(json!({"revision": d["revision"], "at": at.to_rfc3339()}))).await;
        assert_eq!(scheduled.status, StatusCode::OK, "{}", scheduled.text());
        assert_eq!(scheduled.json()["status"], "scheduled");
        assert!(!app.get("/").await.text().contains("Winter update"));

        // Nothing is due yet.
        assert!(app.db().publish_due(chrono::Utc::now()).await.unwrap().is_empty());
        // The home page is cached now.
        assert!(!app.get("/").await.text().contains("Winter update"));
        assert!(app.app.state.pages.usage().0 >= 1, "the page is in the cache");
        // An hour later, two instances' schedulers race: it is published
        // exactly once, and the scheduler drops the cached pages.
        let later = at + chrono::TimeDelta::seconds(1);
        let pages = app.app.state.pages.clone();
        let invalidate = move || pages.invalidate();
        let (a, b) = tokio::join!(
            shiplog::server::service::releases::scheduler_tick(app.db(), later, &invalidate),
            shiplog::server::service::releases::scheduler_tick(app.db(), later, &invalidate)
        );
        assert_eq!(a.unwrap() + b.unwrap(), 1);
        assert!(app.db().publish_due(later).await.unwrap().is_empty());
        let home = app.get("/").await.text();
        assert!(home.contains("Winter update"));
        let public = app.api(Method::GET, &format!("/api/v1/releases/{slug}"), None, None).await.json();
        assert_eq!(public["published_at"].as_str().unwrap()[..16], at.to_rfc3339()[..16]);
    }

    async fn two_editors_do_not_overwrite_each_other(app) {
        let pm = app.token("pm").await;
        let r = draft(&app, &pm).await;
        let slug = r["slug"].as_str().unwrap();
        let rev = r["revision"].as_i64().unwrap();
        let first = app.api(Method::PATCH, &format!("/api/v1/releases/{slug}"), Some(&pm),
            Some(json!({"revision": rev, "title": "Winter update", "slug": slug, "narrative": "Alice's words"}))).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text());
        let second = app.api(Method::PATCH, &format!("/api/v1/releases/{slug}"), Some(&pm),
            Some(json!({"revision": rev, "title": "Winter update", "slug": slug, "narrative": "Bob's words"}))).await;
        assert_eq!(second.status, StatusCode::CONFLICT);
        let now = app.api(Method::GET, &format!("/api/v1/releases/{slug}/draft"), Some(&pm), None).await.json();
        assert_eq!(now["narrative"], "Alice's words");
        let bad = app.api(Method::PATCH, &format!("/api/v1/releases/{slug}"), Some(&pm),
            Some(json!({"revision": now["revision"], "title": "", "slug": slug}))).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.json()["error"]["field"], "title");
    }

    async fn feeds_follow_the_same_rules_and_parse(app) {
        let ids = ship(&app).await;
        let pm = app.token("pm").await;
        draft(&app, &pm).await;
        let slug = "winter-update-faster-everything";
        let d = app.api(Method::POST, &format!("/api/v1/releases/{slug}/entries"), Some(&pm),
            Some(json!({"entry_ids": [ids["CSV export"], ids["Beta dashboards"]]}))).await.json();
        app.api(Method::POST, &format!("/api/v1/releases/{slug}/publish"), Some(&pm), Some(json!({"revision": d["revision"]}))).await;

        let atom = app.get("/feeds/releases.atom").await;
        assert_eq!(atom.status, StatusCode::OK);
        assert!(atom.headers["content-type"].to_str().unwrap().starts_with("application/atom+xml"));
        let xml = atom.text();
        assert!(xml.starts_with("<?xml") && xml.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
        assert!(xml.contains("<title>Winter update: faster everything</title>"));
        assert!(xml.contains("CSV export") && !xml.contains("Beta dashboards"));
        assert!(!xml.contains("<script"), "HTML content is escaped inside the XML");
        let changes = app.get("/feeds/changes.atom").await.text();
        assert!(changes.contains("Faster search") && !changes.contains("Admin audit log") && !changes.contains("Dark mode"));

        let json_feed = app.get("/feeds/releases.json").await;
        assert!(json_feed.headers["content-type"].to_str().unwrap().starts_with("application/feed+json"));
        let feed = json_feed.json();
        assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(feed["items"][0]["url"], format!("http://127.0.0.1:3000/releases/{slug}"));
        assert!(feed["items"][0]["content_html"].as_str().unwrap().contains("CSV export"));
        let changes = app.get("/feeds/changes.json").await.json();
        let titles: Vec<String> = changes["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_string()).collect();
        assert_eq!(titles.len(), 2, "{titles:?}");

        // The private variant carries the cohort's entries.
        app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": "acme", "name": "Acme"}))).await;
        app.api(Method::POST, "/api/v1/cohorts", Some(&pm), Some(json!({"slug": "beta", "name": "Beta"}))).await;
        app.api(Method::PUT, "/api/v1/cohorts/beta/members", Some(&pm), Some(json!({"accounts": ["acme"]}))).await;
        let url = app.api(Method::POST, "/api/v1/accounts/acme/links", Some(&pm), Some(json!({"admin": true}))).await.json()["url"].as_str().unwrap().replace("http://127.0.0.1:3000", "");
        let private = app.get(&format!("{url}/feeds/changes.json")).await.json();
        let titles: Vec<String> = private["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_string()).collect();
        assert_eq!(titles.len(), 4, "{titles:?}");
        let private_atom = app.get(&format!("{url}/feeds/releases.atom")).await;
        assert!(private_atom.text().contains("Beta dashboards"));
        assert_eq!(private_atom.headers["referrer-policy"], "no-referrer");
        assert_eq!(app.get("/feeds/nope.atom").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/feeds/releases.rss").await.status, StatusCode::NOT_FOUND);
    }
}
