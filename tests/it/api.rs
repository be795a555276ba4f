//! The JSON API: deploys, status changes, errors, OpenAPI.

use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

fn deploy(version: &str) -> Value {
    json!({
        "environment": "production",
        "version": version,
        "commit": "abc1234",
        "status": "succeeded",
        "entries": [
            {"title": "Export invoices as CSV", "body": "Find it under **Billing**.", "kind": "feature", "component": "billing"},
            {"title": "Faster search", "kind": "improvement", "audience": "everyone", "risk": "medium", "links": ["https://example.com/pr/1"]},
            {"title": "Refactor queue", "kind": "internal", "audience": "internal"}
        ],
        "commits": [{"sha": "abc1234", "message": "feat(billing): csv export", "author": "Emil"}]
    })
}

on_both_databases! {
    async fn create_answers_201_with_entries_and_page(app) {
        let token = app.token("engineer").await;
        let res = app.api(Method::POST, "/api/v1/deploys", Some(&token), Some(deploy("v1"))).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        let body = res.json();
        let id = body["id"].as_i64().unwrap();
        assert_eq!(body["url"], format!("http://127.0.0.1:3000/app/deploys/{id}"));
        assert_eq!(body["environment"], "production");
        assert_eq!(body["entries"].as_array().unwrap().len(), 3);
        assert_eq!(body["entries"][0]["body_html"], "<p>Find it under <strong>Billing</strong>.</p>\n");
        assert_eq!(body["entries"][1]["risk"], "medium");
        assert_eq!(body["entries"][0]["audience"], "everyone");
        assert_eq!(body["commits"][0]["sha"], "abc1234");
        assert_eq!(body["created_by"], "token:ci-engineer");
        assert!(body["finished_at"].is_string(), "a succeeded deploy gets a finish time");

        let got = app.api(Method::GET, &format!("/api/v1/deploys/{id}"), Some(&token), None).await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.json()["entries"], body["entries"]);
    }

    async fn entries_are_drafted_from_conventional_commits(app) {
        app.add_environment("staging").await;
        let token = app.token("engineer").await;
        let res = app.api(Method::POST, "/api/v1/deploys", Some(&token), Some(json!({
            "environment": "staging",
            "version": "2026.11.26",
            "commits": [
                {"sha": "a1b2c3d", "message": "feat(search): fuzzy matching"},
                {"sha": "b1b2c3d", "message": "fix: crash on empty cart"},
                {"sha": "c1b2c3d", "message": "perf(api)!: drop v0 pagination\n\nBREAKING CHANGE: use cursors"},
                {"sha": "d1b2c3d", "message": "chore: bump deps"}
            ]
        }))).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
        let entries = res.json()["entries"].as_array().unwrap().clone();
        let summary: Vec<(String, String, Value, bool)> = entries.iter().map(|e| (
            e["kind"].as_str().unwrap().to_string(),
            e["title"].as_str().unwrap().to_string(),
            e["component"].clone(),
            e["breaking"].as_bool().unwrap(),
        )).collect();
        assert_eq!(summary, vec![
            ("feature".into(), "Fuzzy matching".into(), json!("search"), false),
            ("fix".into(), "Crash on empty cart".into(), Value::Null, false),
            ("improvement".into(), "Drop v0 pagination".into(), json!("api"), true),
            ("internal".into(), "Bump deps".into(), Value::Null, false),
        ]);
        assert_eq!(entries[3]["audience"], "internal");
        assert_eq!(res.json()["status"], "started");
    }

    async fn duplicate_version_is_a_conflict(app) {
        app.add_environment("staging").await;
        let token = app.token("engineer").await;
        assert_eq!(app.api(Method::POST, "/api/v1/deploys", Some(&token), Some(deploy("v1"))).await.status, StatusCode::CREATED);
        let again = app.api(Method::POST, "/api/v1/deploys", Some(&token), Some(deploy("v1"))).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(again.error_code(), "conflict");
        assert!(again.json()["error"]["message"].as_str().unwrap().contains("v1"));
        // The same version on another environment is fine.
        let mut other = deploy("v1");
        other["environment"] = json!("staging");
        assert_eq!(app.api(Method::POST, "/api/v1/deploys", Some(&token), Some(other)).await.status, StatusCode::CREATED);
    }

    async fn tokens_are_required_and_roles_enforced(app) {
        let none = app.api(Method::POST, "/api/v1/deploys", None, Some(deploy("v1"))).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
        assert_eq!(none.error_code(), "unauthorized");
        let bad = app.api(Method::GET, "/api/v1/deploys", Some("shp_nope"), None).await;
        assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
        let viewer = app.token("viewer").await;
        let denied = app.api(Method::POST, "/api/v1/deploys", Some(&viewer), Some(deploy("v1"))).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        assert_eq!(denied.error_code(), "forbidden");
        let pm = app.token("pm").await;
        assert_eq!(app.api(Method::POST, "/api/v1/deploys", Some(&pm), Some(deploy("v1"))).await.status, StatusCode::FORBIDDEN);
        // Viewers may read.
        assert_eq!(app.api(Method::GET, "/api/v1/deploys", Some(&viewer), None).await.status, StatusCode::OK);
        // A session cookie is not an API credential.
        app.setup_admin().await;
        assert_eq!(app.api(Method::GET, "/api/v1/deploys", None, None).await.status, StatusCode::UNAUTHORIZED);
    }

    async fn revoked_tokens_stop_working_and_use_is_recorded(app) {
        let created = shiplog::server::service::tokens::create(app.db(), &shiplog::server::service::Actor::system(), "ci", "engineer").await.unwrap();
        assert!(created.token.last_used_at.is_none());
        assert_eq!(app.api(Method::GET, "/api/v1/deploys", Some(&created.secret), None).await.status, StatusCode::OK);
        let listed = app.db().list_tokens().await.unwrap();
        assert!(listed[0].last_used_at.is_some());
        app.db().revoke_token(created.token.id, chrono::Utc::now()).await.unwrap();
        assert_eq!(app.api(Method::GET, "/api/v1/deploys", Some(&created.secret), None).await.status, StatusCode::UNAUTHORIZED);
    }

    async fn bad_input_gets_the_right_status_and_names_the_field(app) {
        let token = app.token("engineer").await;
        let send_raw = |body: &'static str| {
            let req = axum::http::Request::post("/api/v1/deploys")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body)).unwrap();
            app.send(req)
        };
        let malformed = send_raw("{\"environment\": ").await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        assert_eq!(malformed.error_code(), "bad_request");

        let cases = [
            (json!({"environment": "production", "version": "v1", "entries": [{"title": "x", "kind": "bogus"}]}), "entries[0].kind"),
            (json!({"environment": "production", "version": "v1", "entries": [{"title": "  ", "kind": "fix"}]}), "entries[0].title"),
            (json!({"environment": "Prod Env", "version": "v1"}), "environment"),
            (json!({"environment": "production", "version": ""}), "version"),
            (json!({"environment": "production"}), "version"),
            (json!({"environment": "production", "version": "v1", "colour": "red"}), "colour"),
            (json!({"environment": "production", "version": "v1", "entries": [{"kind": "fix"}]}), "entries[0].title"),
            (json!([1, 2]), "body"),
            (json!({"environment": "production", "version": "v1", "status": "exploded"}), "status"),
            (json!({"environment": "production", "version": "v1", "entries": [{"title": "x", "kind": "fix", "links": ["javascript:alert(1)"]}]}), "entries[0].links[0]"),
            (json!({"environment": "production", "version": "v1", "started_at": "yesterday"}), "started_at"),
            (json!({"environment": "production", "version": "v1", "status": "succeeded",
                    "started_at": "2026-11-26T10:00:00Z", "finished_at": "2026-11-26T09:00:00Z"}), "finished_at"),
            (json!({"environment": "production", "version": "v1", "commits": [{"sha": "zzz", "message": "x"}]}), "commits[0].sha"),
        ];
        for (body, field) in cases {
            let res = app.api(Method::POST, "/api/v1/deploys", Some(&token), Some(body.clone())).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", res.text());
            assert_eq!(res.error_code(), "invalid");
            let got = res.json()["error"]["field"].as_str().unwrap_or_default().to_string();
            assert_eq!(got, field, "{body}: {}", res.text());
        }
        // Nothing was written by any of them.
        assert_eq!(app.db().list_environments().await.unwrap(), ["production"]);
        let listed = app.api(Method::GET, "/api/v1/deploys", Some(&token), None).await.json();
        assert_eq!(listed["deploys"], json!([]));
    }

    async fn oversized_bodies_are_refused(app) {
        let token = app.token("engineer").await;
        let huge = "x".repeat(3 * 1024 * 1024);
        let res = app.api(Method::POST, "/api/v1/deploys", Some(&token),
            Some(json!({"environment": "production", "version": "v1", "entries": [{"title": "t", "kind": "fix", "body": huge}]}))).await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(res.error_code(), "payload_too_large");
    }

    async fn status_moves_forward_only(app) {
        let token = app.token("engineer").await;
        let created = app.api(Method::POST, "/api/v1/deploys", Some(&token),
            Some(json!({"environment": "production", "version": "v9"}))).await.json();
        let id = created["id"].as_i64().unwrap();
        assert_eq!(created["status"], "started");
        assert!(created["finished_at"].is_null());
        let path = format!("/api/v1/deploys/{id}");

        let ok = app.api(Method::PATCH, &path, Some(&token), Some(json!({"status": "succeeded", "finished_at": "2099-01-01T00:00:00Z"}))).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
        assert_eq!(ok.json()["status"], "succeeded");
        assert_eq!(ok.json()["finished_at"], "2099-01-01T00:00:00Z");

        let back = app.api(Method::PATCH, &path, Some(&token), Some(json!({"status": "started"}))).await;
        assert_eq!(back.status, StatusCode::CONFLICT);
        let failed = app.api(Method::PATCH, &path, Some(&token), Some(json!({"status": "failed"}))).await;
        assert_eq!(failed.status, StatusCode::CONFLICT);
        assert_eq!(failed.error_code(), "conflict");
        let rolled = app.api(Method::PATCH, &path, Some(&token), Some(json!({"status": "rolled_back"}))).await;
        assert_eq!(rolled.status, StatusCode::OK);
        assert_eq!(rolled.json()["status"], "rolled_back");

        assert_eq!(app.api(Method::PATCH, "/api/v1/deploys/999999", Some(&token), Some(json!({"status": "failed"}))).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.api(Method::GET, "/api/v1/deploys/abc", Some(&token), None).await.status, StatusCode::NOT_FOUND);
        let viewer = app.token("viewer").await;
        assert_eq!(app.api(Method::PATCH, &path, Some(&viewer), Some(json!({"status": "failed"}))).await.status, StatusCode::FORBIDDEN);
    }

    async fn listing_pages_newest_first(app) {
        app.add_environment("staging").await;
        let token = app.token("engineer").await;
        for i in 0..5 {
            let env = if i % 2 == 0 { "production" } else { "staging" };
            let body = json!({"environment": env, "version": format!("v{i}"), "started_at": format!("2026-11-2{i}T21:00:00Z")});
            assert_eq!(app.api(Method::POST, "/api/v1/deploys", Some(&token), Some(body)).await.status, StatusCode::CREATED);
        }
        let page1 = app.api(Method::GET, "/api/v1/deploys?limit=2", Some(&token), None).await.json();
        let versions = |p: &Value| p["deploys"].as_array().unwrap().iter().map(|d| d["version"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(versions(&page1), ["v4", "v3"]);
        let before = page1["next_before"].as_i64().unwrap();
        let page2 = app.api(Method::GET, &format!("/api/v1/deploys?limit=2&before={before}"), Some(&token), None).await.json();
        assert_eq!(versions(&page2), ["v2", "v1"]);
        let before = page2["next_before"].as_i64().unwrap();
        let page3 = app.api(Method::GET, &format!("/api/v1/deploys?limit=2&before={before}"), Some(&token), None).await.json();
        assert_eq!(versions(&page3), ["v0"]);
        assert!(page3["next_before"].is_null());

        let prod = app.api(Method::GET, "/api/v1/deploys?environment=production", Some(&token), None).await.json();
        assert_eq!(versions(&prod), ["v4", "v2", "v0"]);
        let bad = app.api(Method::GET, "/api/v1/deploys?limit=1000", Some(&token), None).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.json()["error"]["field"], "limit");
        let bad = app.api(Method::GET, "/api/v1/deploys?limit=many", Some(&token), None).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    async fn unknown_endpoints_answer_json(app) {
        let token = app.token("engineer").await;
        let res = app.api(Method::GET, "/api/v1/nope", Some(&token), None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.error_code(), "not_found");
        let res = app.api(Method::DELETE, "/api/v1/deploys", Some(&token), None).await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.error_code(), "method_not_allowed");
    }

    async fn openapi_document_describes_the_api(app) {
        let res = app.api(Method::GET, "/api/v1/openapi.json", None, None).await;
        assert_eq!(res.status, StatusCode::OK);
        let doc = res.json();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for (path, method) in [
            ("/api/v1/deploys", "post"), ("/api/v1/deploys", "get"), ("/api/v1/deploys/{id}", "get"), ("/api/v1/deploys/{id}", "patch"),
            ("/api/v1/releases", "get"), ("/api/v1/releases", "post"), ("/api/v1/releases/{slug}", "get"),
            ("/api/v1/releases/{slug}", "patch"), ("/api/v1/releases/{slug}/draft", "get"),
            ("/api/v1/releases/{slug}/entries", "post"), ("/api/v1/releases/{slug}/entries/{id}", "delete"),
            ("/api/v1/releases/{slug}/publish", "post"),
            ("/api/v1/accounts", "get"), ("/api/v1/accounts", "post"), ("/api/v1/accounts/{slug}/links", "post"),
            ("/api/v1/accounts/{slug}/links", "delete"), ("/api/v1/cohorts", "get"), ("/api/v1/cohorts", "post"),
            ("/api/v1/cohorts/{slug}/members", "put"),
            ("/api/v1/subscribers", "get"), ("/api/v1/subscribers", "post"),
            ("/api/v1/suppressions", "get"), ("/api/v1/suppressions", "post"),
            ("/api/v1/campaigns", "get"), ("/api/v1/campaigns", "post"), ("/api/v1/campaigns/{id}", "get"),
            ("/api/v1/campaigns/{id}/send", "post"), ("/api/v1/campaigns/{id}/pause", "post"),
            ("/api/v1/campaigns/{id}/resume", "post"), ("/api/v1/campaigns/{id}/cancel", "post"),
        ] {
            assert!(doc["paths"][path][method].is_object(), "{method} {path} missing");
        }
        let schemas = &doc["components"]["schemas"];
        for name in ["DeployInput", "EntryInput", "DeployResponse", "ErrorBody", "EntryKind", "DeployStatus",
                     "ReleaseInput", "Release", "ReleaseDetail", "PublicRelease", "PublishInput", "Account", "Cohort", "NewAccountLink",
                     "SubscriberInput", "Subscriber", "SubscriberPage", "ImportReport", "Suppression", "Campaign", "DeliveryCounts"] {
            assert!(schemas[name].is_object(), "schema {name} missing");
        }
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        assert!(doc["paths"]["/api/v1/deploys"]["post"]["responses"]["422"].is_object());
    }

    async fn health_endpoints(app) {
        assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
        assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    }

    async fn a_large_deploy_keeps_every_entry_and_commit_in_order(app) {
        let t = app.token("engineer").await;
        let entries: Vec<serde_json::Value> = (0..250).map(|i| json!({"title": format!("Entry {i:03}"), "kind": "fix"})).collect();
        let commits: Vec<serde_json::Value> = (0..230).map(|i| json!({"sha": format!("{i:040x}"), "message": format!("chore: step {i}")})).collect();
        let created = app.record_deploy(&t, json!({"environment": "production", "version": "big", "status": "succeeded",
            "entries": entries, "commits": commits})).await;
        let id = created["id"].as_i64().unwrap();
        let answered: Vec<i64> = created["entries"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
        let detail = app.api(Method::GET, &format!("/api/v1/deploys/{id}"), Some(&t), None).await.json();
        let stored = detail["entries"].as_array().unwrap();
        assert_eq!(stored.len(), 250);
        for (i, e) in stored.iter().enumerate() {
            assert_eq!(e["title"], format!("Entry {i:03}"), "entries keep their order");
            assert_eq!(e["id"].as_i64().unwrap(), answered[i], "the answer names each stored entry");
        }
        assert_eq!(created["entries"][149]["title"], "Entry 149");
        let commits = detail["commits"].as_array().unwrap();
        assert_eq!(commits.len(), 230);
        assert_eq!(commits[229]["message"], "chore: step 229");
        assert_eq!(detail["entry_count"], 250);
    }
}
