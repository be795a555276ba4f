//! The audit log: every successful write, by a token or a person, with who,
//! what, when and from where; reads and refused writes are not writes; the
//! history outlives a revoked token; admins read it, filtered and paged.

use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use shiplog::server::service::{self, Actor};

on_both_databases! {
    async fn every_write_is_in_the_audit_log(app) {
        let admin = app.token("admin").await;
        let viewer = app.token("viewer").await;
        let ci = app.token("engineer").await;
        app.record_deploy(&ci, json!({"environment": "production", "version": "1.0.0", "status": "succeeded",
            "entries": [{"title": "x", "kind": "fix"}]})).await;
        let placed = app.api(Method::POST, "/api/v1/blocks", Some(&viewer),
            Some(json!({"environment": "production", "reason": "Audit me"}))).await;
        assert_eq!(placed.status, StatusCode::CREATED);
        let block = placed.json()["id"].as_i64().unwrap();
        // Not writes: reads, and writes that were refused.
        app.api(Method::GET, "/api/v1/blocks", Some(&viewer), None).await;
        let refused = app.api(Method::POST, "/api/v1/blocks", Some(&viewer),
            Some(json!({"environment": "production", "reason": ""}))).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        // A person, through a server function.
        app.setup_admin().await;
        let r = app.call("lift_block", &[("id", &block.to_string()), ("note", "Fine now")]).await;
        assert!(r.status.is_success(), "{}", r.text());
        let r = app.call("blocks", &[]).await;
        assert!(r.status.is_success());

        let log = |query: &str| {
            let query = query.to_string();
            let admin = admin.clone();
            let app = &app;
            async move {
                let r = app.api(Method::GET, &format!("/api/v1/audit{query}"), Some(&admin), None).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text());
                r.json().as_array().unwrap().clone()
            }
        };
        let all: Vec<Value> = log("").await;
        let paths: Vec<String> = all.iter().map(|e| format!("{} {}", e["method"].as_str().unwrap(), e["path"].as_str().unwrap())).collect();
        assert!(paths.contains(&"POST /api/v1/blocks".to_string()), "{paths:?}");
        assert!(paths.contains(&"POST /fn/lift_block".to_string()), "{paths:?}");
        assert!(!paths.iter().any(|p| p.starts_with("GET ") || p == "POST /fn/blocks"), "reads are not writes: {paths:?}");
        assert_eq!(paths.iter().filter(|p| *p == "POST /api/v1/blocks").count(), 1, "the refused one is not: {paths:?}");
        let placed = all.iter().find(|e| e["path"] == "/api/v1/blocks").unwrap();
        assert_eq!(placed["actor"], "token:ci-viewer");
        assert_eq!(placed["actor_kind"], "token");
        assert_eq!(placed["status"], 201);
        assert!(placed["ip"].is_string() && placed["at"].is_string());
        let lifted = all.iter().find(|e| e["path"] == "/fn/lift_block").unwrap();
        assert_eq!(lifted["actor"], "admin@example.com");
        assert_eq!(lifted["actor_kind"], "person");
        assert!(all[0]["id"].as_i64() > all[all.len() - 1]["id"].as_i64(), "newest first");

        // Filters and paging.
        let mine = log("?actor=token:ci-viewer").await;
        assert_eq!(mine.len(), 1);
        let deploys = log("?path=/deploys").await;
        assert!(deploys.iter().all(|e| e["path"].as_str().unwrap().contains("/deploys")) && !deploys.is_empty());
        let first = log("?limit=1").await;
        assert_eq!(first.len(), 1);
        let next = log(&format!("?limit=1&before={}", first[0]["id"])).await;
        assert!(next[0]["id"].as_i64() < first[0]["id"].as_i64());
        let r = app.api(Method::GET, "/api/v1/audit?limit=0", Some(&admin), None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = app.api(Method::GET, "/api/v1/audit?from=yesterday", Some(&admin), None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = app.api(Method::GET, "/api/v1/audit", Some(&viewer), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        // A revoked token's history stays readable.
        let tokens = service::tokens::list(app.db(), &Actor::system()).await.unwrap();
        let id = tokens.iter().find(|t| t.name == "ci-viewer").unwrap().id;
        service::tokens::revoke(app.db(), &Actor::system(), id).await.unwrap();
        assert_eq!(log("?actor=token:ci-viewer").await.len(), 1);

        // The admin page.
        let page = app.get("/app/audit?actor=token:ci-viewer").await;
        assert_eq!(page.status, StatusCode::OK);
        let html = page.text();
        assert!(html.contains("POST /api/v1/blocks") && !html.contains("/fn/lift_block"), "{html}");
    }
}

/// The server functions the log treats as reads exist: a renamed one would
/// otherwise fill the log with reads.
#[test]
fn read_functions_name_real_server_functions() {
    let paths: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_string())
        .collect();
    assert!(paths.len() > 50, "{paths:?}");
    for name in shiplog::server::audit::READ_FUNCTIONS {
        assert!(
            paths.contains(&format!("/fn/{name}")),
            "/fn/{name} is not a server function"
        );
    }
}
