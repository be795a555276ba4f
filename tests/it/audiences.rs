//! Audiences: each entry reaches exactly the readers it is meant for, on every
//! customer surface (the public site, private links, and the API's answers).

use crate::common::*;
use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

/// One succeeded production deploy with an entry for each audience.
async fn publish_every_audience(app: &TestApp) -> Value {
    let t = app.token("engineer").await;
    let res = app.api(Method::POST, "/api/v1/deploys", Some(&t), Some(json!({
        "environment": "production", "version": "v1", "status": "succeeded",
        "entries": [
            {"title": "For everyone", "kind": "feature", "audience": "everyone"},
            {"title": "For customer admins", "kind": "feature", "audience": "admins"},
            {"title": "For the beta cohort", "kind": "feature", "audience": "cohort:beta"},
            {"title": "For the early cohort", "kind": "feature", "audience": "cohort:early"},
            {"title": "For the team", "kind": "internal", "audience": "internal"}
        ]
    }))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    res.json()
}

const TITLES: [&str; 5] = [
    "For everyone",
    "For customer admins",
    "For the beta cohort",
    "For the early cohort",
    "For the team",
];

fn shown(html: &str) -> Vec<&'static str> {
    TITLES
        .iter()
        .copied()
        .filter(|t| html.contains(t))
        .collect()
}

on_both_databases! {
    async fn each_reader_sees_exactly_their_audiences(app) {
        let deploy = publish_every_audience(&app).await;
        let pm = app.token("pm").await;
        for (slug, name) in [("acme", "Acme"), ("globex", "Globex")] {
            let res = app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": slug, "name": name}))).await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        }
        for slug in ["beta", "early"] {
            assert_eq!(app.api(Method::POST, "/api/v1/cohorts", Some(&pm), Some(json!({"slug": slug, "name": slug}))).await.status, StatusCode::CREATED);
        }
        let res = app.api(Method::PUT, "/api/v1/cohorts/beta/members", Some(&pm), Some(json!({"accounts": ["acme"]}))).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        assert_eq!(res.json()["members"], json!(["acme"]));

        let link = |account: &'static str, admin: bool| {
            let pm = pm.clone();
            let app = &app;
            async move {
                let res = app.api(Method::POST, &format!("/api/v1/accounts/{account}/links"), Some(&pm), Some(json!({"admin": admin}))).await;
                assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
                let url = res.json()["url"].as_str().unwrap().to_string();
                url.trim_start_matches("http://127.0.0.1:3000").to_string()
            }
        };
        let acme = link("acme", false).await;
        let acme_admin = link("acme", true).await;
        let globex = link("globex", false).await;

        let public = app.get("/changes").await.text();
        assert_eq!(shown(&public), ["For everyone"]);
        let page = app.get(&format!("{acme}/changes")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.headers["referrer-policy"], "no-referrer");
        assert_eq!(shown(&page.text()), ["For everyone", "For the beta cohort"]);
        assert!(page.text().contains("Private release notes for Acme"));
        assert_eq!(shown(&app.get(&format!("{acme_admin}/changes")).await.text()), ["For everyone", "For customer admins", "For the beta cohort"]);
        assert_eq!(shown(&app.get(&format!("{globex}/changes")).await.text()), ["For everyone"]);
        // Links within a private page stay private.
        assert!(app.get(&format!("{acme}/changes")).await.text().contains(&format!("href=\"{acme}/changes/")));
        let home = app.get(&acme).await;
        assert_eq!(home.status, StatusCode::OK, "the private link opens the release notes home");
        assert!(home.text().contains(&format!("href=\"{acme}/changes\"")));

        // Permalinks obey the same rule, entry by entry.
        let ids: Vec<(String, i64)> = deploy["entries"].as_array().unwrap().iter()
            .map(|e| (e["title"].as_str().unwrap().to_string(), e["id"].as_i64().unwrap())).collect();
        for (title, id) in &ids {
            let public_ok = title == "For everyone";
            let acme_ok = public_ok || title == "For the beta cohort";
            let admin_ok = acme_ok || title == "For customer admins";
            for (base, ok) in [("", public_ok), (acme.as_str(), acme_ok), (acme_admin.as_str(), admin_ok), (globex.as_str(), public_ok)] {
                let res = app.get(&format!("{base}/changes/{id}")).await;
                let want = if ok { StatusCode::OK } else { StatusCode::NOT_FOUND };
                assert_eq!(res.status, want, "{title} at {base:?}");
            }
        }

        // Moving an account out of the cohort takes the entry away at once.
        app.api(Method::PUT, "/api/v1/cohorts/beta/members", Some(&pm), Some(json!({"accounts": []}))).await;
        assert_eq!(shown(&app.get(&format!("{acme}/changes")).await.text()), ["For everyone"]);

        // A replaced link stops working; so does a revoked one.
        let new_acme = link("acme", false).await;
        assert_eq!(app.get(&format!("{acme}/changes")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("{new_acme}/changes")).await.status, StatusCode::OK);
        let res = app.api(Method::DELETE, "/api/v1/accounts/acme/links", Some(&pm), Some(json!({"admin": false}))).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("{new_acme}/changes")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/a/not-a-link/changes").await.status, StatusCode::NOT_FOUND);
        // The admin link lives on.
        assert_eq!(app.get(&format!("{acme_admin}/changes")).await.status, StatusCode::OK);
    }

    async fn audiences_are_validated_and_managed_by_pms(app) {
        let engineer = app.token("engineer").await;
        let res = app.api(Method::POST, "/api/v1/deploys", Some(&engineer), Some(json!({
            "environment": "production", "version": "v1",
            "entries": [{"title": "x", "kind": "fix", "audience": "cohort:Not A Slug"}]}))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.json()["error"]["field"], "entries[0].audience");

        let res = app.api(Method::POST, "/api/v1/accounts", Some(&engineer), Some(json!({"slug": "acme", "name": "Acme"}))).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        let pm = app.token("pm").await;
        let res = app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": "Acme Corp", "name": "Acme"}))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(res.json()["error"]["field"], "slug");
        app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": "acme", "name": "Acme"}))).await;
        let dup = app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": "acme", "name": "Acme again"}))).await;
        assert_eq!(dup.status, StatusCode::CONFLICT);

        // An unknown account in a member list changes nothing at all.
        app.api(Method::POST, "/api/v1/cohorts", Some(&pm), Some(json!({"slug": "beta", "name": "Beta"}))).await;
        app.api(Method::PUT, "/api/v1/cohorts/beta/members", Some(&pm), Some(json!({"accounts": ["acme"]}))).await;
        let res = app.api(Method::PUT, "/api/v1/cohorts/beta/members", Some(&pm), Some(json!({"accounts": ["acme", "nobody"]}))).await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert!(res.json()["error"]["message"].as_str().unwrap().contains("nobody"));
        let cohorts = app.api(Method::GET, "/api/v1/cohorts", Some(&pm), None).await.json();
        assert_eq!(cohorts[0]["members"], json!(["acme"]));
        let accounts = app.api(Method::GET, "/api/v1/accounts", Some(&pm), None).await.json();
        assert_eq!(accounts[0]["cohorts"], json!(["beta"]));
        assert_eq!(accounts[0]["has_link"], false);
        let res = app.api(Method::POST, "/api/v1/accounts/nobody/links", Some(&pm), Some(json!({}))).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
    }
}

on_both_databases! {
    async fn team_only_text_never_reaches_customers(app) {
        let t = app.token("engineer").await;
        // Drafted from commits: the trailer block stays on the commit.
        let drafted = app.record_deploy(&t, json!({
            "environment": "production", "version": "v1", "status": "succeeded",
            "commits": [
                {"sha": "a1b2c3d4", "message": "fix(billing): round invoice totals\n\nCloses-Action: ACT-99"},
                {"sha": "b2c3d4e5", "message": "feat(export): export as CSV\n\nFind it under Billing.\n\nFixes-Incident: INC-7\nCo-authored-by: Ana <ana@example.com>\nSigned-off-by: Bo <bo@example.com>\nReviewed-by: Cy <cy@example.com>\nChange-Id: I8f3e2a91"}
            ]
        })).await;
        // Written by hand: the body's trailer block is the team's too.
        let written = app.record_deploy(&t, json!({
            "environment": "production", "version": "v2", "status": "succeeded",
            "entries": [
                {"title": "Quicker search", "kind": "improvement", "body": "Search answers in half the time.\n\nRefs: PERF-12\nSigned-off-by: Dee <dee@example.com>"},
                {"title": "Rotate the signing key", "kind": "internal", "body": "Ops only."}
            ]
        })).await;
        let team = ["ACT-99", "INC-7", "Co-authored-by", "Signed-off-by", "Reviewed-by", "Change-Id", "ana@example.com", "PERF-12", "Rotate the signing key", "Ops only"];
        let leaks = |surface: &str, text: &str| {
            for word in team {
                assert!(!text.contains(word), "{surface} shows team-only {word:?}:\n{text}");
            }
        };
        let changes = app.get("/changes").await.text();
        assert!(changes.contains("Round invoice totals") && changes.contains("Find it under Billing"), "{changes}");
        assert!(changes.contains("Search answers in half the time"));
        leaks("/changes", &changes);
        for e in drafted["entries"].as_array().unwrap().iter().chain(written["entries"].as_array().unwrap()) {
            let id = e["id"].as_i64().unwrap();
            let page = app.get(&format!("/changes/{id}")).await;
            if e["kind"] == "internal" {
                assert_eq!(page.status, StatusCode::NOT_FOUND, "an internal change has a public page");
                assert_eq!(e["audience"], "internal", "internal kind means the internal audience: {e}");
            } else {
                assert_eq!(page.status, StatusCode::OK);
                leaks("a permalink", &page.text());
            }
        }
        for feed in ["/feeds/changes.atom", "/feeds/changes.json"] {
            let res = app.get(feed).await;
            assert_eq!(res.status, StatusCode::OK, "{feed}");
            assert!(res.text().contains("Quicker search"), "{feed}");
            leaks(feed, &res.text());
        }
        // The team still has every word: the commits keep their trailers.
        let viewer = app.token("viewer").await;
        let id = drafted["id"].as_i64().unwrap();
        let full = app.api(Method::GET, &format!("/api/v1/deploys/{id}"), Some(&viewer), None).await.text();
        assert!(full.contains("Closes-Action: ACT-99"), "{full}");

        // The unannounced list counts only what customers can read.
        app.setup_admin().await;
        let unannounced = app.call("unannounced", &[]).await.text();
        assert!(!unannounced.contains("Rotate the signing key"), "{unannounced}");

        // Internal, yet for customers: refused, naming the field.
        let res = app.api(Method::POST, "/api/v1/deploys", Some(&t), Some(json!({
            "environment": "production", "version": "v3",
            "entries": [{"title": "Tweak", "kind": "internal", "audience": "everyone"}]}))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
        assert_eq!(res.json()["error"]["field"], "entries[0].audience");
        let res = app.api(Method::POST, "/api/v1/deploys", Some(&t), Some(json!({
            "environment": "production", "version": "v3",
            "entries": [{"title": "Tweak", "kind": "internal", "audience": "internal"}]}))).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    }

    async fn refused_images_leave_no_empty_image_behind(app) {
        let t = app.token("engineer").await;
        app.record_deploy(&t, json!({
            "environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "New chart", "kind": "feature",
                "body": "See ![the revenue chart](https://tracker.example/pixel.gif) below."}]
        })).await;
        let page = app.get("/changes").await.text();
        assert!(!page.contains("<img"), "{page}");
        assert!(page.contains("See the revenue chart below."), "{page}");
        let feed = app.get("/feeds/changes.atom").await.text();
        assert!(!feed.contains("&lt;img"), "{feed}");
    }
}
