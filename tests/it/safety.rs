//! Deploying safely, around the gate: environments and what is on each, the
//! risk-based process closing the gate, webhooks delivered to a real local
//! HTTP server (signature checked, a retry after a 500, redelivery), a
//! failure email through the real SMTP server, `gate.closed` before a deploy
//! night, and the calendar's deployed, skipped and flagged nights.

use crate::common::{Backend, TestApp};
use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use chrono::{Datelike, NaiveDate, TimeDelta, Utc};
use serde_json::{json, Value};
use shiplog::model::{NotifyEvent, Role};
use shiplog::server::service::{self, Actor};
use std::sync::{Arc, Mutex};

fn sha(n: u32) -> String {
    format!("{n:040x}")
}

async fn api(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let r = app.api(method, path, Some(token), body).await;
    let v = if r.body.is_empty() {
        Value::Null
    } else {
        r.json()
    };
    (r.status, v)
}

async fn gate_of(app: &TestApp, token: &str, build: i64) -> Value {
    let (s, g) = api(
        app,
        Method::GET,
        &format!("/api/v1/gate?environment=production&build={build}"),
        token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{g}");
    g
}

on_both_databases! {
    async fn environments_have_a_kind_nights_and_what_is_on_them(app) {
        app.add_environment("staging").await;
        let admin = app.token("admin").await;
        let viewer = app.token("viewer").await;
        let ci = app.token("engineer").await;
        for (env, version, status) in [
            ("production", "1.0.0", "succeeded"),
            ("production", "1.0.1", "failed"),
            ("staging", "1.1.0", "succeeded"),
        ] {
            app.record_deploy(&ci, json!({"environment": env, "version": version, "status": status,
                "entries": [{"title": "A change", "kind": "fix"}]})).await;
        }
        let (s, list) = api(&app, Method::GET, "/api/v1/environments", &viewer, None).await;
        assert_eq!(s, StatusCode::OK, "{list}");
        assert_eq!(list[0]["slug"], "production");
        assert_eq!(list[0]["kind"], "production");
        assert_eq!(list[0]["schedule_days"], json!([1, 2, 3, 4, 5]));
        assert_eq!(list[0]["schedule_time"], "21:00");
        assert_eq!(list[0]["current"]["version"], "1.0.0", "the last succeeded deploy runs there");
        assert_eq!(list[0]["latest"]["version"], "1.0.1");
        assert!(list[0]["next_night"].is_string());
        assert_eq!(list[1]["slug"], "staging");
        assert_eq!(list[1]["kind"], "staging");
        assert!(list[1]["next_night"].is_null());

        let body = json!({"slug": "internal", "kind": "internal", "schedule_days": [1, 3], "schedule_time": "18:30"});
        let (s, v) = api(&app, Method::POST, "/api/v1/environments", &viewer, Some(body.clone())).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        let (s, v) = api(&app, Method::POST, "/api/v1/environments", &admin, Some(body.clone())).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["kind"], "internal");
        assert!(v["current"].is_null());
        let (s, v) = api(&app, Method::POST, "/api/v1/environments", &admin, Some(body)).await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        let (s, v) = api(&app, Method::PUT, "/api/v1/environments/internal", &admin,
            Some(json!({"kind": "internal", "schedule_days": [1, 9], "schedule_time": "18:30"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"]["field"], "schedule_days");
        let (s, v) = api(&app, Method::PUT, "/api/v1/environments/internal", &admin,
            Some(json!({"kind": "internal", "schedule_days": [2], "schedule_time": "25:00"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"]["field"], "schedule_time");
        let (s, v) = api(&app, Method::PUT, "/api/v1/environments/production", &admin,
            Some(json!({"kind": "staging"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let (s, v) = api(&app, Method::PUT, "/api/v1/environments/staging", &admin,
            Some(json!({"kind": "staging", "schedule_days": [1, 2, 3, 4, 5, 6, 7], "schedule_time": "07:00"}))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["schedule_days"], json!([1, 2, 3, 4, 5, 6, 7]));
        // A block's default end follows the environment's nights: staging
        // deploys every morning at 07:00, so a block lasts until the next
        // morning's deploy is over (06:00 the day after).
        let (s, b) = api(&app, Method::POST, "/api/v1/blocks", &viewer,
            Some(json!({"environment": "staging", "reason": "Flaky login"}))).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let ends: chrono::DateTime<Utc> = b["expires_at"].as_str().unwrap().parse().unwrap();
        assert!(ends > Utc::now() && ends <= Utc::now() + TimeDelta::hours(48), "{b}");
    }

    async fn risk_rules_close_the_gate_until_they_are_met(app) {
        app.add_environment("staging").await;
        let admin = app.token("admin").await;
        let ci = app.token("engineer").await;
        let viewer = app.token("viewer").await;
        app.record_deploy(&ci, json!({"environment": "production", "version": "1.9.0", "status": "succeeded",
            "entries": [{"title": "Older", "kind": "fix"}]})).await;
        // A build, deployed to staging with two changes: one high risk, one
        // low risk in a component an admin marks risky.
        let (s, build) = api(&app, Method::POST, "/api/v1/builds", &ci, Some(json!({
            "version": "2.0.0", "commit": sha(20), "branch": "main", "status": "passed",
            "url": "https://ci.example.com/2", "commits": [{"sha": sha(21), "message": "feat(billing): invoices"}]}))).await;
        assert_eq!(s, StatusCode::CREATED, "{build}");
        let id = build["id"].as_i64().unwrap();
        let deploy = app.record_deploy(&ci, json!({"environment": "staging", "version": "2.0.0",
            "status": "succeeded", "build_id": id,
            "commits": [{"sha": sha(21), "message": "feat(billing): invoices", "author": "Ana <ana@example.com>"}],
            "entries": [
                {"title": "New invoices", "kind": "feature", "risk": "high", "audience": "everyone"},
                {"title": "Tax rounding", "kind": "fix", "risk": "low", "component": "billing"}
            ]})).await;
        let high = deploy["entries"][0]["id"].as_i64().unwrap();
        let low = deploy["entries"][1]["id"].as_i64().unwrap();
        assert_eq!(gate_of(&app, &viewer, id).await["open"], true, "no rule asks for anything yet");

        let (s, v) = api(&app, Method::PUT, "/api/v1/risk/rules/high", &ci,
            Some(json!({"approvals": 1, "checklist": ["Rollback plan"], "staged": true}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        let (s, v) = api(&app, Method::PUT, "/api/v1/risk/rules/high", &admin,
            Some(json!({"approvals": 3, "checklist": []}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        for (level, rule) in [
            ("high", json!({"approvals": 1, "checklist": ["Rollback plan", "Dashboard to watch"], "staged": true})),
            ("medium", json!({"approvals": 0, "checklist": ["Feature flag"]})),
        ] {
            let (s, v) = api(&app, Method::PUT, &format!("/api/v1/risk/rules/{level}"), &admin, Some(rule)).await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        let g = gate_of(&app, &viewer, id).await;
        assert_eq!(g["open"], false, "{g}");
        let reasons = g["reasons"].to_string();
        assert!(reasons.contains("New invoices") && reasons.contains("approval"), "{reasons}");
        assert!(reasons.contains("Rollback plan") && reasons.contains("Dashboard to watch"), "{reasons}");
        assert!(reasons.contains("admins or a cohort"), "{reasons}");
        assert!(!reasons.contains("Tax rounding"), "billing is not risky yet: {reasons}");

        let (s, _) = api(&app, Method::PUT, "/api/v1/risk/components/billing", &admin,
            Some(json!({"note": "Money moves"}))).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, p) = api(&app, Method::GET, &format!("/api/v1/entries/{low}/process"), &viewer, None).await;
        assert_eq!(p["risk"], "low");
        assert_eq!(p["effective_risk"], "medium", "{p}");
        let g = gate_of(&app, &viewer, id).await;
        assert!(g["reasons"].to_string().contains("Feature flag"), "{g}");

        // Meet every rule.
        let (s, v) = api(&app, Method::PUT, &format!("/api/v1/entries/{low}/checklist"), &ci,
            Some(json!({"item": "Rollback plan"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "not on a medium checklist: {v}");
        let (s, v) = api(&app, Method::PUT, &format!("/api/v1/entries/{low}/checklist"), &viewer,
            Some(json!({"item": "Feature flag"}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        for (entry, item) in [(low, "Feature flag"), (high, "Rollback plan"), (high, "Dashboard to watch")] {
            let (s, v) = api(&app, Method::PUT, &format!("/api/v1/entries/{entry}/checklist"), &ci,
                Some(json!({"item": item}))).await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        let db = app.db();
        let ana = Actor { label: "ana@example.com".into(), role: Role::Engineer, user_id: Some(1) };
        let err = service::risk::approve(db, &ana, high).await.unwrap_err();
        assert!(err.to_string().contains("someone else"), "the author cannot approve: {err}");
        let token_actor = Actor { label: "token:ci".into(), role: Role::Engineer, user_id: None };
        assert!(service::risk::approve(db, &token_actor, high).await.is_err(), "tokens do not approve");
        let bo = Actor { label: "bo@example.com".into(), role: Role::Engineer, user_id: Some(2) };
        let p = service::risk::approve(db, &bo, high).await.unwrap();
        assert_eq!(p.approvals.len(), 1);
        assert!(service::risk::approve(db, &bo, high).await.is_err(), "once per person");
        let g = gate_of(&app, &viewer, id).await;
        assert_eq!(g["open"], false);
        assert_eq!(g["reasons"].as_array().unwrap().len(), 1, "only the audience is left: {g}");
        // Admins first: the change goes to admins, then widens later.
        app.setup_admin().await;
        let r = app.call("save_entry", &[("deploy_id", &deploy["id"].to_string()), ("entry_id", &high.to_string()),
            ("form[title]", "New invoices"), ("form[body]", ""), ("form[kind]", "feature"),
            ("form[audience]", "admins"), ("form[risk]", "high"), ("form[component]", ""),
            ("form[breaking]", "false"), ("form[links]", "")]).await;
        assert!(r.status.is_success(), "{}", r.text());
        let g = gate_of(&app, &viewer, id).await;
        assert_eq!(g["open"], true, "{g}");
        // The promotable build is this one.
        let (s, p) = api(&app, Method::GET, "/api/v1/builds/promotable?environment=production", &viewer, None).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(p["id"], id);
    }

    async fn the_risk_map_counts_deploys_incidents_and_failures_per_component(app) {
        let ci = app.token("engineer").await;
        let admin = app.token("admin").await;
        let mut entries = vec![];
        for (version, status, component) in [
            ("3.0.0", "succeeded", "billing"),
            ("3.0.1", "failed", "billing"),
            ("3.0.2", "succeeded", "billing"),
            ("3.0.3", "succeeded", "search"),
        ] {
            let d = app.record_deploy(&ci, json!({"environment": "production", "version": version, "status": status,
                "entries": [{"title": format!("Change {version}"), "kind": "fix", "component": component}]})).await;
            entries.push(d["entries"][0]["id"].as_i64().unwrap());
        }
        // 3.0.2 caused an incident.
        let (s, i) = api(&app, Method::POST, "/api/v1/incidents", &ci, Some(json!({
            "title": "Invoices doubled", "severity": "sev2", "environment": "production",
            "detected_at": Utc::now().to_rfc3339(), "detected_by": "customer",
            "customer_impact": "Some invoices twice", "caused_by_entry_ids": [entries[2]]}))).await;
        assert_eq!(s, StatusCode::CREATED, "{i}");
        api(&app, Method::PUT, "/api/v1/risk/components/auth", &admin, Some(json!({}))).await;
        let (s, map) = api(&app, Method::GET, "/api/v1/risk/map", &ci, None).await;
        assert_eq!(s, StatusCode::OK, "{map}");
        let row = |c: &str| map.as_array().unwrap().iter().find(|r| r["component"] == c).cloned().unwrap();
        let billing = row("billing");
        assert_eq!(billing["deploys"], 3);
        assert_eq!(billing["failed"], 1);
        assert_eq!(billing["incidents"], 1);
        assert_eq!(billing["failing"], 2);
        assert!((billing["change_failure_rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(billing["risky"], false);
        let search = row("search");
        assert_eq!(search["change_failure_rate"], 0.0);
        let auth = row("auth");
        assert_eq!(auth["risky"], true);
        assert_eq!(auth["deploys"], 0);
        assert!(auth["change_failure_rate"].is_null());
        assert_eq!(map[0]["component"], "billing", "the riskiest first");
    }

    async fn the_calendar_shows_deployed_skipped_and_flagged_nights(app) {
        let ci = app.token("engineer").await;
        let viewer = app.token("viewer").await;
        // The last six weeknights that are surely over (tests run in UTC).
        let mut nights: Vec<NaiveDate> = vec![];
        let mut day = Utc::now().date_naive() - TimeDelta::days(2);
        while nights.len() < 6 {
            if day.weekday().number_from_monday() <= 5 {
                nights.push(day);
            }
            day -= TimeDelta::days(1);
        }
        nights.reverse(); // oldest first: n0 .. n5
        let at = |d: NaiveDate, h: u32| d.and_hms_opt(h, 30, 0).unwrap().and_utc().to_rfc3339();
        let deploy = |version: &str, night: NaiveDate, status: &str| json!({"environment": "production",
            "version": version, "status": status, "started_at": at(night, 21), "finished_at": at(night, 22),
            "entries": [{"title": "x", "kind": "fix"}]});
        // n0 deployed; n1 nothing (flagged); n2 failed; n3 nothing, then a
        // holiday; n4 and n5 deployed (the second after a failed try).
        let d0 = app.record_deploy(&ci, deploy("4.0.0", nights[0], "succeeded")).await;
        app.record_deploy(&ci, deploy("4.0.1", nights[2], "failed")).await;
        app.record_deploy(&ci, deploy("4.0.2", nights[4], "succeeded")).await;
        app.record_deploy(&ci, deploy("4.0.3", nights[5], "failed")).await;
        let mut late = deploy("4.0.4", nights[5], "succeeded");
        late["started_at"] = json!(at(nights[5] + TimeDelta::days(1), 1));
        late["finished_at"] = json!(at(nights[5] + TimeDelta::days(1), 2));
        app.record_deploy(&ci, late).await;

        let url = format!("/api/v1/calendar?environment=production&from={}&to={}", nights[0], nights[5]);
        let (s, cal) = api(&app, Method::GET, &url, &viewer, None).await;
        assert_eq!(s, StatusCode::OK, "{cal}");
        let state = |cal: &Value, d: NaiveDate| {
            cal["nights"].as_array().unwrap().iter().find(|n| n["night"] == d.to_string()).cloned().unwrap()
        };
        assert_eq!(state(&cal, nights[0])["state"], "deployed");
        assert_eq!(state(&cal, nights[0])["deploy_id"], d0["id"]);
        assert_eq!(state(&cal, nights[1])["state"], "flagged");
        assert_eq!(state(&cal, nights[2])["state"], "skipped");
        assert_eq!(state(&cal, nights[2])["reason"], "failed");
        assert_eq!(state(&cal, nights[3])["state"], "flagged");
        assert_eq!(state(&cal, nights[5])["state"], "deployed", "01:30 the next morning is still that night");
        assert_eq!(state(&cal, nights[5])["version"], "4.0.4");
        assert_eq!(cal["scheduled"], 6);
        assert_eq!(cal["deployed"], 3);
        assert_eq!(cal["flagged"], 2);
        assert_eq!(cal["streak"], 2);
        assert!((cal["share_deployed"].as_f64().unwrap() - 0.5).abs() < 1e-9);

        // Someone says why: n3 was a holiday (which does not break the
        // streak), n1 was chosen.
        let (s, v) = api(&app, Method::PUT, &format!("/api/v1/calendar/production/{}", nights[3]), &viewer,
            Some(json!({"reason": "holiday", "note": "Team offsite"}))).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
        let (s, v) = api(&app, Method::PUT, &format!("/api/v1/calendar/production/{}", nights[1]), &viewer,
            Some(json!({"reason": "sometimes"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let saturday = (0..7).map(|i| nights[0] + TimeDelta::days(i)).find(|d| d.weekday().number_from_monday() == 6).unwrap();
        let (s, v) = api(&app, Method::PUT, &format!("/api/v1/calendar/production/{saturday}"), &viewer,
            Some(json!({"reason": "chosen"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "not a deploy night: {v}");
        api(&app, Method::PUT, &format!("/api/v1/calendar/production/{}", nights[1]), &viewer,
            Some(json!({"reason": "chosen", "note": "Release freeze"}))).await;
        let (_, cal) = api(&app, Method::GET, &url, &viewer, None).await;
        assert_eq!(state(&cal, nights[3])["state"], "skipped");
        assert_eq!(state(&cal, nights[3])["reason"], "holiday");
        assert_eq!(state(&cal, nights[3])["given_by"], "token:ci-viewer");
        assert_eq!(state(&cal, nights[1])["note"], "Release freeze");
        assert_eq!(cal["flagged"], 0);
        assert_eq!(cal["streak"], 2, "n4, n5; then n2 failed");
        // Taking a reason back flags the night again.
        api(&app, Method::PUT, &format!("/api/v1/calendar/production/{}", nights[1]), &viewer,
            Some(json!({"reason": null}))).await;
        let (_, cal) = api(&app, Method::GET, &url, &viewer, None).await;
        assert_eq!(state(&cal, nights[1])["state"], "flagged");
    }
}

/// Each request a receiver got: its headers and body.
type Seen = Arc<Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>;

/// A webhook receiver: records each request and answers with the next
/// status of `script` (then 200).
struct Receiver {
    url: String,
    seen: Seen,
}

async fn receiver(script: Vec<u16>) -> Receiver {
    let seen: Seen = Arc::default();
    let script = Arc::new(Mutex::new(script));
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let seen = seen.clone();
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let seen = seen.clone();
                let script = script.clone();
                async move {
                    seen.lock().unwrap().push((headers, body.to_vec()));
                    let mut s = script.lock().unwrap();
                    let code = if s.is_empty() { 200 } else { s.remove(0) };
                    StatusCode::from_u16(code).unwrap()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Receiver { url, seen }
}

/// One pass of the mail engine (team emails) and of webhook deliveries,
/// waiting for their posts.
async fn engine_run(app: &TestApp) {
    app.app.state.engine.run_once(&mut None).await.unwrap();
    app.app.state.webhooks.run_once().await.unwrap();
}

async fn webhooks_are_signed_retried_and_redelivered(backend: Backend) {
    let Some(app) = TestApp::start_with(
        backend,
        &[
            ("SHIPLOG_WEBHOOK_RETRY_SECONDS", "0"),
            ("SHIPLOG_WEBHOOK_ALLOW_PRIVATE", "true"),
        ],
    )
    .await
    else {
        return;
    };
    let admin = app.token("admin").await;
    let viewer = app.token("viewer").await;
    let ci = app.token("engineer").await;
    app.record_deploy(
        &ci,
        json!({"environment": "production", "version": "5.0.0", "status": "succeeded",
        "entries": [{"title": "x", "kind": "fix"}]}),
    )
    .await;
    let hook = receiver(vec![500]).await;
    let slack = receiver(vec![]).await;
    let secret = "a-long-enough-secret";
    let (s, v) = api(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        &viewer,
        Some(json!({"url": hook.url,
        "events": ["block.placed"], "secret": secret})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    for (body, field) in [
        (
            json!({"url": "ftp://x", "events": ["block.placed"], "secret": secret}),
            "url",
        ),
        (
            json!({"url": hook.url, "events": [], "secret": secret}),
            "events",
        ),
        (
            json!({"url": hook.url, "events": ["block.placed"], "secret": "short"}),
            "secret",
        ),
    ] {
        let (s, v) = api(&app, Method::POST, "/api/v1/webhooks", &admin, Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"]["field"], field, "{v}");
    }
    let (s, v) = api(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        &admin,
        Some(json!({"url": hook.url,
        "events": ["block.placed", "block.lifted"], "secret": secret, "format": "json"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(v.get("secret").is_none(), "the secret is never shown: {v}");
    let hook_id = v["id"].as_i64().unwrap();
    let (s, v) = api(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        &admin,
        Some(json!({"url": slack.url,
        "events": ["block.placed"], "secret": secret, "format": "slack"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    let (s, block) = api(
        &app,
        Method::POST,
        "/api/v1/blocks",
        &viewer,
        Some(json!({"environment": "production", "reason": "Payments look odd"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{block}");
    engine_run(&app).await;
    {
        let seen = hook.seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "one try so far");
        let (headers, body) = &seen[0];
        assert_eq!(headers["x-shiplog-event"], "block.placed");
        let signature = headers["x-shiplog-signature"].to_str().unwrap();
        assert_eq!(
            signature,
            service::webhooks::signature(secret, body),
            "HMAC-SHA256 of the body"
        );
        // Checked independently of Shiplog's own function too.
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        assert_eq!(
            signature,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
        let payload: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(payload["event"], "block.placed");
        assert_eq!(payload["data"]["block"]["id"], block["id"]);
        assert!(payload["summary"]
            .as_str()
            .unwrap()
            .contains("Payments look odd"));
        let slack_seen = slack.seen.lock().unwrap();
        let text: Value = serde_json::from_slice(&slack_seen[0].1).unwrap();
        assert!(
            text["text"].as_str().unwrap().contains("Payments look odd"),
            "{text}"
        );
        assert_eq!(text.as_object().unwrap().len(), 1, "Slack's shape: {text}");
    }
    let (_, log) = api(
        &app,
        Method::GET,
        &format!("/api/v1/webhooks/{hook_id}/deliveries"),
        &admin,
        None,
    )
    .await;
    assert_eq!(log[0]["state"], "pending", "{log}");
    assert_eq!(log[0]["response_code"], 500);
    assert_eq!(log[0]["attempts"], 1);
    // The retry (no wait in this test) succeeds.
    engine_run(&app).await;
    assert_eq!(hook.seen.lock().unwrap().len(), 2);
    let (_, log) = api(
        &app,
        Method::GET,
        &format!("/api/v1/webhooks/{hook_id}/deliveries"),
        &admin,
        None,
    )
    .await;
    assert_eq!(log[0]["state"], "delivered", "{log}");
    assert_eq!(log[0]["response_code"], 200);
    assert_eq!(log[0]["attempts"], 2);
    engine_run(&app).await;
    assert_eq!(hook.seen.lock().unwrap().len(), 2, "delivered once");
    // Redeliver by hand.
    let delivery = log[0]["id"].as_i64().unwrap();
    let (s, v) = api(
        &app,
        Method::POST,
        &format!("/api/v1/webhooks/deliveries/{delivery}/redeliver"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (s, v) = api(
        &app,
        Method::POST,
        &format!("/api/v1/webhooks/deliveries/{delivery}/redeliver"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "already queued: {v}");
    engine_run(&app).await;
    assert_eq!(hook.seen.lock().unwrap().len(), 3);
    // Lifting notifies too; an event the webhook did not choose does not.
    let (s, _) = api(
        &app,
        Method::DELETE,
        &format!("/api/v1/blocks/{}", block["id"]),
        &viewer,
        Some(json!({"note": "False alarm"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    api(
        &app,
        Method::POST,
        "/api/v1/builds",
        &ci,
        Some(json!({"version": "5.0.1", "commit": sha(51),
        "branch": "main", "status": "failed"})),
    )
    .await;
    engine_run(&app).await;
    let seen = hook.seen.lock().unwrap();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[3].0["x-shiplog-event"], "block.lifted");
    assert_eq!(slack.seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_and_redelivered_sqlite() {
    webhooks_are_signed_retried_and_redelivered(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_retried_and_redelivered_postgres() {
    webhooks_are_signed_retried_and_redelivered(Backend::Postgres).await
}

/// A webhook that never answers well is marked failed after its tries.
async fn a_webhook_gives_up_after_its_tries(backend: Backend) {
    let Some(app) = TestApp::start_with(
        backend,
        &[
            ("SHIPLOG_WEBHOOK_RETRY_SECONDS", "0"),
            ("SHIPLOG_WEBHOOK_ALLOW_PRIVATE", "true"),
        ],
    )
    .await
    else {
        return;
    };
    let admin = app.token("admin").await;
    let ci = app.token("engineer").await;
    let hook = receiver(vec![503; 10]).await;
    api(
        &app,
        Method::POST,
        "/api/v1/webhooks",
        &admin,
        Some(json!({"url": hook.url,
        "events": ["build.failed"], "secret": "another-long-secret"})),
    )
    .await;
    api(
        &app,
        Method::POST,
        "/api/v1/builds",
        &ci,
        Some(json!({"version": "6.0.0", "commit": sha(60),
        "branch": "main", "status": "failed"})),
    )
    .await;
    for _ in 0..8 {
        engine_run(&app).await;
    }
    assert_eq!(
        hook.seen.lock().unwrap().len() as i64,
        service::webhooks::MAX_ATTEMPTS
    );
    let (_, hooks) = api(&app, Method::GET, "/api/v1/webhooks", &admin, None).await;
    assert_eq!(hooks[0]["failed"], 1, "{hooks}");
    assert_eq!(hooks[0]["pending"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_gives_up_after_its_tries_sqlite() {
    a_webhook_gives_up_after_its_tries(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_gives_up_after_its_tries_postgres() {
    a_webhook_gives_up_after_its_tries(Backend::Postgres).await
}

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

/// The messages in the Maildir addressed to `to`: their whole text.
fn mails_to(maildir: &std::path::Path, to: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(maildir.join("new")) else {
        return vec![];
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .filter(|t| t.lines().any(|l| l.trim() == format!("To: {to}")))
        .collect()
}

/// A failed build is emailed through the real SMTP server to who chose it,
/// once; `gate.closed` goes out in the hour before a deploy night.
async fn failures_are_emailed_to_who_chose_them(backend: Backend) {
    let Some((url, maildir)) = smtp() else { return };
    let Some(app) = TestApp::start_with(
        backend,
        &[
            ("SMTP_URL", &url),
            ("SHIPLOG_MAIL_FROM", "Shiplog <shiplog@example.com>"),
        ],
    )
    .await
    else {
        return;
    };
    let run = &shiplog::server::auth::token::generate("")[..8];
    let db = app.db();
    let chooser = format!("oncall-{run}@example.com");
    let other = format!("quiet-{run}@example.com");
    let mut people = vec![];
    for email in [&chooser, &other] {
        people.push(
            service::users::add_user(db, email, "On call", Role::Engineer, "a-long-password-1")
                .await
                .unwrap(),
        );
    }
    let me = Actor::person(&people[0]);
    service::notify::set_preferences(
        db,
        &me,
        vec![NotifyEvent::BuildFailed, NotifyEvent::GateClosed],
    )
    .await
    .unwrap();
    assert_eq!(
        service::notify::preferences(db, &me).await.unwrap(),
        vec![NotifyEvent::BuildFailed, NotifyEvent::GateClosed]
    );

    let ci = app.token("engineer").await;
    let (s, b) = api(
        &app,
        Method::POST,
        "/api/v1/builds",
        &ci,
        Some(json!({"version": format!("7.0.0-{run}"),
        "commit": sha(70), "branch": "main", "status": "running"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, _) = api(
        &app,
        Method::PATCH,
        &format!("/api/v1/builds/{}", b["id"]),
        &ci,
        Some(json!({"status": "failed"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    engine_run(&app).await;
    engine_run(&app).await;
    let mails = mails_to(&maildir, &chooser);
    assert_eq!(mails.len(), 1, "once, to who chose it");
    assert!(
        mails[0].contains(&format!("Build 7.0.0-{run} on main failed")),
        "{}",
        mails[0]
    );
    assert!(
        mails_to(&maildir, &other).is_empty(),
        "not to who did not choose it"
    );

    // gate.closed: a block on production, checked 30 minutes before tonight.
    app.record_deploy(
        &ci,
        json!({"environment": "production", "version": format!("7.1.0-{run}"),
        "status": "succeeded", "entries": [{"title": "x", "kind": "fix"}]}),
    )
    .await;
    api(
        &app,
        Method::POST,
        "/api/v1/blocks",
        &ci,
        Some(json!({"environment": "production",
        "reason": "Database migration pending"})),
    )
    .await;
    let config = &app.app.state.config;
    let rows = db.environment_rows().await.unwrap();
    let schedule =
        service::environments::Schedule::of(rows.iter().find(|r| r.slug == "production").unwrap())
            .unwrap();
    let (_, starts) = schedule.next(Utc::now(), config.time_zone).unwrap();
    let before = starts - TimeDelta::minutes(30);
    service::gates::check_gates(db, config.time_zone, before)
        .await
        .unwrap();
    service::gates::check_gates(db, config.time_zone, before + TimeDelta::minutes(5))
        .await
        .unwrap();
    service::gates::check_gates(db, config.time_zone, starts - TimeDelta::minutes(90))
        .await
        .unwrap();
    service::notify::send_emails(db, &app.app.state.mailer, config, Utc::now())
        .await
        .unwrap();
    let mails = mails_to(&maildir, &chooser);
    let closed: Vec<_> = mails
        .iter()
        .filter(|m| m.contains("The gate to production is closed"))
        .collect();
    assert_eq!(closed.len(), 1, "once per night");
    assert!(closed[0].contains("Database migration pending"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_emailed_to_who_chose_them_sqlite() {
    failures_are_emailed_to_who_chose_them(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_emailed_to_who_chose_them_postgres() {
    failures_are_emailed_to_who_chose_them(Backend::Postgres).await
}

on_both_databases! {
    async fn the_team_pages_show_environments_calendar_risk_webhooks_and_profile(app) {
        app.add_environment("staging").await;
        let ci = app.token("engineer").await;
        let admin = app.token("admin").await;
        let d = app.record_deploy(&ci, json!({"environment": "production", "version": "8.0.0", "status": "succeeded",
            "entries": [{"title": "Faster exports", "kind": "improvement", "component": "exports"}]})).await;
        app.record_deploy(&ci, json!({"environment": "staging", "version": "8.1.0", "status": "succeeded",
            "entries": [{"title": "Risky <b>thing</b>", "kind": "feature", "risk": "high"}]})).await;
        api(&app, Method::PUT, "/api/v1/risk/rules/high", &admin,
            Some(json!({"approvals": 2, "checklist": ["Rollback plan"]}))).await;
        api(&app, Method::PUT, "/api/v1/risk/components/exports", &admin, Some(json!({"note": "Big files"}))).await;
        api(&app, Method::POST, "/api/v1/webhooks", &admin, Some(json!({"url": "https://hooks.example.com/x",
            "events": ["deploy.failed"], "secret": "sixteen-chars-long"}))).await;
        app.setup_admin().await;
        let page = app.get("/app/environments").await;
        assert_eq!(page.status, StatusCode::OK);
        let html = page.text();
        assert!(html.contains("data-environment=\"production\"") && html.contains("8.0.0"), "{html}");
        assert!(html.contains("Mon, Tue, Wed, Thu, Fri at 21:00"), "{html}");
        assert!(html.contains("Add an environment"), "admins manage them");
        let html = app.get("/app/calendar").await.text();
        assert!(html.contains("Streak") && html.contains("data-testid=\"streak\""), "{html}");
        let html = app.get("/app/risk").await.text();
        assert!(html.contains("data-component=\"exports\""), "{html}");
        assert!(html.contains("Risky &lt;b&gt;thing&lt;/b&gt;"), "escaped and waiting: {html}");
        assert!(html.contains("needs 2 more approvals"), "{html}");
        assert!(html.contains("Rule for high risk"), "{html}");
        let html = app.get("/app/webhooks").await.text();
        assert!(html.contains("https://hooks.example.com/x"), "{html}");
        assert!(!html.contains("sixteen-chars-long"), "the secret is never shown");
        let html = app.get("/app/profile").await.text();
        assert!(html.contains("Email me when") && html.contains("build.failed"), "{html}");
        let _ = d;

        // A viewer sees the pages but not the admin forms, nor the webhooks.
        app.sign_in_as(Role::Viewer).await;
        let html = app.get("/app/environments").await.text();
        assert!(html.contains("8.0.0") && !html.contains("Add an environment"), "{html}");
        let html = app.get("/app/risk").await.text();
        assert!(!html.contains("Rule for high risk") && !html.contains(">Approve<"), "{html}");
        let html = app.get("/app/webhooks").await.text();
        assert!(!html.contains("https://hooks.example.com/x"), "{html}");
        assert!(html.contains("may not see webhooks") && !html.contains("Add the webhook"), "says why: {html}");
    }
}

/// A receiver that takes connections and never answers them.
async fn silent_receiver() -> (String, Arc<Mutex<Vec<tokio::net::TcpStream>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let held: Arc<Mutex<Vec<tokio::net::TcpStream>>> = Arc::default();
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            keep.lock().unwrap().push(stream);
        }
    });
    (url, held)
}

/// Waits (at most 30 s) until `done` holds, checking every 50 ms.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{what} never happened");
}

/// One receiver that never answers holds up only its own deliveries: the
/// other webhook's arrive, and customer email goes out, while its posts hang.
async fn a_hanging_receiver_delays_only_its_own_deliveries(backend: Backend) {
    let Some(app) =
        TestApp::start_with(backend, &[("SHIPLOG_WEBHOOK_ALLOW_PRIVATE", "true")]).await
    else {
        return;
    };
    let admin = app.token("admin").await;
    let pm = app.token("pm").await;
    let eng = app.token("engineer").await;
    let viewer = app.token("viewer").await;
    let (silent, held) = silent_receiver().await;
    let healthy = receiver(vec![]).await;
    for url in [&silent, &healthy.url] {
        let (s, v) = api(
            &app,
            Method::POST,
            "/api/v1/webhooks",
            &admin,
            Some(json!({"url": url, "events": ["block.placed"], "secret": "a-long-enough-secret"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    // A release announcement waiting to go out to a subscriber.
    let (s, v) = api(&app, Method::POST, "/api/v1/subscribers", &pm,
        Some(json!([{"email": "reader@example.com", "releases": true, "digest": "off", "confirmed": true}]))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let deploy = app
        .record_deploy(
            &eng,
            json!({"environment": "production", "version": "v1", "status": "succeeded",
        "entries": [{"title": "Exports as CSV", "kind": "feature"}]}),
        )
        .await;
    let id = deploy["entries"][0]["id"].as_i64().unwrap();
    api(
        &app,
        Method::POST,
        "/api/v1/releases",
        &pm,
        Some(json!({"title": "Spring", "slug": "spring"})),
    )
    .await;
    let (_, linked) = api(
        &app,
        Method::POST,
        "/api/v1/releases/spring/entries",
        &pm,
        Some(json!({"entry_ids": [id]})),
    )
    .await;
    api(
        &app,
        Method::POST,
        "/api/v1/releases/spring/publish",
        &pm,
        Some(json!({"revision": linked["revision"]})),
    )
    .await;
    let (_, campaign) = api(
        &app,
        Method::POST,
        "/api/v1/campaigns",
        &pm,
        Some(json!({"release": "spring"})),
    )
    .await;
    let (s, v) = api(
        &app,
        Method::POST,
        &format!("/api/v1/campaigns/{}/send", campaign["id"]),
        &pm,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Six blocks: six deliveries to each webhook.
    for i in 0..6 {
        let (s, v) = api(
            &app,
            Method::POST,
            "/api/v1/blocks",
            &viewer,
            Some(json!({"environment": "production", "reason": format!("Check {i}")})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    app.app.state.webhooks.clone().spawn();
    until("the healthy receiver got all six", || {
        healthy.seen.lock().unwrap().len() == 6
    })
    .await;
    until("the silent receiver holds its posts", || {
        !held.lock().unwrap().is_empty()
    })
    .await;
    assert!(
        held.lock().unwrap().len() <= 4,
        "a hanging receiver holds at most four posts at once"
    );

    // Customer email goes out while those posts still hang.
    let mut check = None;
    while app.app.state.engine.run_once(&mut check).await.unwrap() {}
    let sent = std::fs::read_dir(&app.mail_dir)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(sent, 1, "the announcement went out");
    let (_, hooks) = api(&app, Method::GET, "/api/v1/webhooks", &admin, None).await;
    let silent_hook = hooks
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["url"].as_str().unwrap().starts_with(&silent))
        .unwrap();
    assert_eq!(
        silent_hook["pending"], 6,
        "the silent receiver's deliveries are still pending: {hooks}"
    );
    assert_eq!(silent_hook["delivered"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_delays_only_its_own_deliveries_sqlite() {
    a_hanging_receiver_delays_only_its_own_deliveries(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_delays_only_its_own_deliveries_postgres() {
    a_hanging_receiver_delays_only_its_own_deliveries(Backend::Postgres).await
}
