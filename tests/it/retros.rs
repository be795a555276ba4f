//! Retrospectives through the API and the team's pages: the cadence and
//! period, the board (anonymous items, limited votes, groups), items made
//! into actions by the facilitator, the review of open actions, and a closed
//! retro that no longer changes.

use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

fn ago(minutes: i64) -> String {
    (chrono::Utc::now() - chrono::TimeDelta::minutes(minutes)).to_rfc3339()
}

fn in_days(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(days)).to_string()
}

fn item<'a>(retro: &'a Value, body: &str) -> &'a Value {
    retro["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["body"] == body)
        .unwrap_or_else(|| panic!("no item {body} in {retro}"))
}

on_both_databases! {
    async fn retros_open_on_the_cadence_with_their_period(app) {
        app.add_environment("staging").await;
        app.setup_admin().await;
        let eng = app.token("engineer").await;
        let viewer = app.token("viewer").await;

        let s = app.api(Method::GET, "/api/v1/retros/settings", Some(&viewer), None).await;
        assert_eq!(s.json(), json!({"cadence_days": 14, "votes_per_person": 3}));
        let refused = app.api(Method::PUT, "/api/v1/retros/settings", Some(&viewer), Some(json!({"cadence_days": 7, "votes_per_person": 2}))).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
        let bad = app.api(Method::PUT, "/api/v1/retros/settings", Some(&eng), Some(json!({"cadence_days": 0, "votes_per_person": 2}))).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.json()["error"]["field"], "cadence_days");
        let set = app.api(Method::PUT, "/api/v1/retros/settings", Some(&eng), Some(json!({"cadence_days": 7, "votes_per_person": 2}))).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text());

        // What happened in the period: deploys, failures, incidents with their root cause.
        app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "started_at": ago(60 * 24 * 2), "entries": [{"title": "Fine", "kind": "fix"}]})).await;
        app.record_deploy(&eng, json!({"environment": "staging", "version": "v2", "status": "failed",
            "started_at": ago(60 * 24), "entries": [{"title": "Broke", "kind": "fix"}]})).await;
        app.record_deploy(&eng, json!({"environment": "production", "version": "v0", "status": "rolled_back",
            "started_at": ago(60 * 24 * 30), "entries": [{"title": "Long ago", "kind": "fix"}]})).await;
        let inc = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(json!({"title": "Checkout 500s", "severity": "sev2",
            "environment": "production", "detected_at": ago(60 * 20), "detected_by": "monitoring-app"}))).await.json();
        let number = inc["number"].as_str().unwrap().to_string();
        let note = app.api(Method::PUT, &format!("/api/v1/incidents/{number}/root-cause"), Some(&eng), Some(json!({
            "summary": "A config flag flipped the pool size.", "category": "config"}))).await;
        assert_eq!(note.status, StatusCode::OK, "{}", note.text());

        let block = app.api(Method::POST, "/api/v1/blocks", Some(&viewer), Some(json!({"environment": "production",
            "reason": "Payments provider maintenance"}))).await;
        assert_eq!(block.status, StatusCode::CREATED, "{}", block.text());
        let refused = app.api(Method::POST, "/api/v1/retros", Some(&viewer), Some(json!({}))).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let r = app.api(Method::POST, "/api/v1/retros", Some(&eng), Some(json!({}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let retro = r.json();
        assert_eq!(retro["period_start"], in_days(-6), "the first retro covers one cadence");
        assert_eq!(retro["period_end"], in_days(0));
        assert_eq!(retro["status"], "open");
        assert_eq!(retro["votes_per_person"], 2);
        assert_eq!(retro["facilitator"], "token:ci-engineer");
        assert_eq!(retro["period"]["deploys"], 2, "{}", retro["period"]);
        assert_eq!(retro["period"]["production_deploys"], 1);
        let failed: Vec<&str> = retro["period"]["failed_deploys"].as_array().unwrap().iter().map(|d| d["version"].as_str().unwrap()).collect();
        assert_eq!(failed, ["v2"], "only the period's failures");
        let incidents = retro["period"]["incidents"].as_array().unwrap();
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0]["incident"]["number"], number.as_str());
        assert_eq!(incidents[0]["root_cause_category"], "config");
        assert_eq!(incidents[0]["root_cause_summary"], "A config flag flipped the pool size.");
        assert_eq!(retro["period"]["blocks"][0]["reason"], "Payments provider maintenance", "blocks of the period");
        assert_eq!(retro["period"]["dora"]["deployment_frequency_per_day"], 1.0 / 7.0, "one succeeded production deploy in 7 days");
        assert_eq!(retro["period"]["dora"]["change_failure_rate"], 0.5, "of two finished, one was rolled back... {}", retro["period"]["dora"]);

        let again = app.api(Method::POST, "/api/v1/retros", Some(&eng), Some(json!({}))).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
        assert!(again.text().contains("still open"), "{}", again.text());
        let bad = app.api(Method::POST, "/api/v1/retros", Some(&eng), Some(json!({"period_start": in_days(1), "period_end": in_days(0)}))).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

        let id = retro["id"].as_i64().unwrap();
        let closed = app.api(Method::POST, &format!("/api/v1/retros/{id}/close"), Some(&eng), None).await;
        assert_eq!(closed.status, StatusCode::OK, "{}", closed.text());
        // The next one starts the day after (here: today, as the last ended today).
        let next = app.api(Method::POST, "/api/v1/retros", Some(&eng), Some(json!({"title": "Sprint 2"}))).await;
        assert_eq!(next.status, StatusCode::CREATED, "{}", next.text());
        assert_eq!(next.json()["period_start"], in_days(0));
        let list = app.api(Method::GET, "/api/v1/retros", Some(&viewer), None).await.json();
        assert_eq!(list["retros"][0]["title"], "Sprint 2");
        assert_eq!(list["next_due"], in_days(7));
    }

    async fn everyone_adds_votes_and_groups_items(app) {
        let eng = app.token("engineer").await;
        let viewer = app.token("viewer").await;
        let pm = app.token("pm").await;
        let retro = app.api(Method::POST, "/api/v1/retros", Some(&eng), Some(json!({}))).await.json();
        let id = retro["id"].as_i64().unwrap();
        let add = |token: String, column: &'static str, body: &'static str, anonymous: bool| {
            let app = &app;
            async move {
                let r = app.api(Method::POST, &format!("/api/v1/retros/{id}/items"), Some(&token),
                    Some(json!({"column": column, "body": body, "anonymous": anonymous}))).await;
                assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
                r.json()["id"].as_i64().unwrap()
            }
        };
        let a = add(viewer.clone(), "went-well", "Deploys were calm", false).await;
        let b = add(viewer.clone(), "to-improve", "Flaky checkout test", true).await;
        let c = add(pm.clone(), "to-improve", "Checkout tests flake", false).await;
        let d = add(eng.clone(), "ideas", "Quarantine flaky tests", false).await;
        let empty = app.api(Method::POST, &format!("/api/v1/retros/{id}/items"), Some(&viewer), Some(json!({"column": "ideas", "body": "  "}))).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        let column = app.api(Method::POST, &format!("/api/v1/retros/{id}/items"), Some(&viewer), Some(json!({"column": "rants", "body": "x"}))).await;
        assert_eq!(column.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", column.text());

        // Anonymous to everyone but its author.
        let seen_by_pm = app.api(Method::GET, &format!("/api/v1/retros/{id}"), Some(&pm), None).await.json();
        assert_eq!(item(&seen_by_pm, "Flaky checkout test")["author"], Value::Null);
        assert_eq!(item(&seen_by_pm, "Deploys were calm")["author"], "token:ci-viewer");
        assert!(!seen_by_pm.to_string().contains("token:ci-viewer\",\"anonymous\":true"));
        let seen_by_author = app.api(Method::GET, &format!("/api/v1/retros/{id}"), Some(&viewer), None).await.json();
        assert_eq!(item(&seen_by_author, "Flaky checkout test")["author"], "token:ci-viewer");
        assert_eq!(item(&seen_by_author, "Flaky checkout test")["mine"], true);

        // Three votes each: the fourth is refused until one is taken back.
        let vote = |token: String, item: i64, method: Method| {
            let app = &app;
            async move { app.api(method, &format!("/api/v1/retros/{id}/items/{item}/vote"), Some(&token), None).await }
        };
        for i in [a, b, c] {
            assert_eq!(vote(viewer.clone(), i, Method::POST).await.status, StatusCode::NO_CONTENT);
        }
        let twice = vote(viewer.clone(), a, Method::POST).await;
        assert_eq!(twice.status, StatusCode::CONFLICT);
        let fourth = vote(viewer.clone(), d, Method::POST).await;
        assert_eq!(fourth.status, StatusCode::CONFLICT, "{}", fourth.text());
        assert!(fourth.text().contains("all 3 of your votes"), "{}", fourth.text());
        assert_eq!(vote(viewer.clone(), a, Method::DELETE).await.status, StatusCode::NO_CONTENT);
        assert_eq!(vote(viewer.clone(), d, Method::POST).await.status, StatusCode::NO_CONTENT);
        assert_eq!(vote(pm.clone(), b, Method::POST).await.status, StatusCode::NO_CONTENT);
        let board = app.api(Method::GET, &format!("/api/v1/retros/{id}"), Some(&viewer), None).await.json();
        assert_eq!(item(&board, "Flaky checkout test")["votes"], 2);
        assert_eq!(item(&board, "Flaky checkout test")["voted"], true);
        assert_eq!(item(&board, "Deploys were calm")["votes"], 0);
        assert_eq!(board["votes_left"], 0);
        let missing = vote(pm.clone(), 999_999, Method::POST).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        // Grouping: c joins b; then b's group joins d, and c follows.
        let group = |item: i64, with: Value| {
            let app = &app;
            let viewer = viewer.clone();
            async move { app.api(Method::PATCH, &format!("/api/v1/retros/{id}/items/{item}"), Some(&viewer), Some(json!({"group_with": with}))).await }
        };
        assert_eq!(group(c, json!(b)).await.status, StatusCode::NO_CONTENT);
        assert_eq!(group(b, json!(d)).await.status, StatusCode::NO_CONTENT);
        let board = app.api(Method::GET, &format!("/api/v1/retros/{id}"), Some(&viewer), None).await.json();
        assert_eq!(item(&board, "Flaky checkout test")["group_id"], d);
        assert_eq!(item(&board, "Checkout tests flake")["group_id"], d, "a group follows its head");
        assert_eq!(group(c, Value::Null).await.status, StatusCode::NO_CONTENT);
        let board = app.api(Method::GET, &format!("/api/v1/retros/{id}"), Some(&viewer), None).await.json();
        assert_eq!(item(&board, "Checkout tests flake")["group_id"], Value::Null);
        let elsewhere = group(c, json!(999_999)).await;
        assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    }

    async fn votes_stay_within_the_allowance_when_cast_at_once(app) {
        let eng = app.token("engineer").await;
        let viewer = app.token("viewer").await;
        let retro = app.api(Method::POST, "/api/v1/retros", Some(&eng), Some(json!({}))).await.json();
        let id = retro["id"].as_i64().unwrap();
        let mut items = vec![];
        for n in 0..8 {
            let r = app.api(Method::POST, &format!("/api/v1/retros/{id}/items"), Some(&eng), Some(json!({"column": "ideas", "body": format!("Idea {n}")}))).await;
            items.push(r.json()["id"].as_i64().unwrap());
        }
        let app = std::sync::Arc::new(app);
        let votes = items.into_iter().map(|item| {
            let (app, viewer) = (app.clone(), viewer.clone());
            tokio::spawn(async move {
                app.api(Method::POST, &format!("/api/v1/retros/{id}/items/{item}/vote"), Some(&viewer), None).await.status
            })
        }).collect::<Vec<_>>();
        let mut accepted = 0;
        for v in votes {
            match v.await.unwrap() {
                StatusCode::NO_CONTENT => accepted += 1,
                StatusCode::CONFLICT => {}
                other => panic!("a vote answered {other}"),
            }
        }
        assert_eq!(accepted, 3, "three votes each, however fast they come");
        let board = app.api(Method::GET, &format!("/api/v1/retros/{id}"), Some(&viewer), None).await.json();
        let cast: i64 = board["items"].as_array().unwrap().iter().map(|i| i["votes"].as_i64().unwrap()).sum();
        assert_eq!(cast, 3);
    }

    async fn the_facilitator_makes_actions_reviews_and_closes(app) {
        app.setup_admin().await;
        let eng = app.token("engineer").await;
        let pm = app.token("pm").await;
        let viewer = app.token("viewer").await;
        // An action from before the retro: the retro reviews it first.
        let older = app.api(Method::POST, "/api/v1/actions", Some(&eng), Some(json!({"title": "Alert on queue depth",
            "owner_email": "admin@example.com", "due": in_days(3), "type": "monitoring"}))).await;
        assert_eq!(older.status, StatusCode::CREATED, "{}", older.text());
        let older_id = older.json()["id"].as_i64().unwrap();
        let dropped = app.api(Method::POST, "/api/v1/actions", Some(&eng), Some(json!({"title": "Rewrite the runbook",
            "owner_email": "admin@example.com", "due": in_days(3), "type": "process"}))).await.json();

        let retro = app.api(Method::POST, "/api/v1/retros", Some(&pm), Some(json!({"facilitator_email": "admin@example.com"}))).await;
        assert_eq!(retro.status, StatusCode::CREATED, "{}", retro.text());
        let retro = retro.json();
        let id = retro["id"].as_i64().unwrap();
        assert_eq!(retro["facilitator"], "admin@example.com");
        let to_review: Vec<i64> = retro["actions_to_review"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect();
        assert!(to_review.contains(&older_id), "{to_review:?}");

        let review = |body: Value, token: String| {
            let app = &app;
            async move { app.api(Method::POST, &format!("/api/v1/retros/{id}/reviews"), Some(&token), Some(body)).await }
        };
        let by_viewer = review(json!({"action_id": older_id, "outcome": "done"}), viewer.clone()).await;
        assert_eq!(by_viewer.status, StatusCode::FORBIDDEN);
        let no_due = review(json!({"action_id": older_id, "outcome": "still-open"}), eng.clone()).await;
        assert_eq!(no_due.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(no_due.json()["error"]["field"], "due");
        let kept = review(json!({"action_id": format!("ACT-{older_id}"), "outcome": "still-open", "due": in_days(10)}), eng.clone()).await;
        assert_eq!(kept.status, StatusCode::OK, "{}", kept.text());
        assert_eq!(kept.json()["due"], in_days(10));
        let action = app.api(Method::GET, &format!("/api/v1/actions/{older_id}"), Some(&eng), None).await.json();
        assert_eq!(action["due"], in_days(10), "the review moved the action's due date");
        let no_reason = review(json!({"action_id": dropped["id"], "outcome": "dropped"}), eng.clone()).await;
        assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
        let gone = review(json!({"action_id": dropped["id"], "outcome": "dropped", "note": "Nobody reads it"}), eng.clone()).await;
        assert_eq!(gone.status, StatusCode::OK, "{}", gone.text());
        let action = app.api(Method::GET, &format!("/api/v1/actions/{}", dropped["id"]), Some(&eng), None).await.json();
        assert_eq!(action["status"], "dropped");
        assert_eq!(action["note"], "Nobody reads it");

        let item = app.api(Method::POST, &format!("/api/v1/retros/{id}/items"), Some(&viewer),
            Some(json!({"column": "to-improve", "body": "Nobody watched the dashboard"}))).await.json();
        let item_id = item["id"].as_i64().unwrap();
        let make = json!({"owner_email": "admin@example.com", "due": in_days(5), "type": "monitoring"});
        let not_facilitator = app.api(Method::POST, &format!("/api/v1/retros/{id}/items/{item_id}/action"), Some(&eng), Some(make.clone())).await;
        assert_eq!(not_facilitator.status, StatusCode::FORBIDDEN, "{}", not_facilitator.text());
        let admin = app.token("admin").await;
        let made = app.api(Method::POST, &format!("/api/v1/retros/{id}/items/{item_id}/action"), Some(&admin), Some(make.clone())).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
        let made = made.json();
        assert_eq!(made["title"], "Nobody watched the dashboard");
        assert_eq!(made["retro_id"], id, "the action says where it came from");
        let twice = app.api(Method::POST, &format!("/api/v1/retros/{id}/items/{item_id}/action"), Some(&admin), Some(make)).await;
        assert_eq!(twice.status, StatusCode::CONFLICT);

        // The page, as the signed-in facilitator sees it.
        let page = app.get(&format!("/app/retros/{id}")).await;
        assert_eq!(page.status, StatusCode::OK);
        let text = page.text();
        assert!(text.contains("Nobody watched the dashboard"), "the board is on the page");
        assert!(text.contains("Alert on queue depth"), "the review comes first");
        assert!(text.find("Open actions to review").unwrap() < text.find("Board").unwrap());
        assert!(text.contains("Close retro"));

        let by_eng = app.api(Method::POST, &format!("/api/v1/retros/{id}/close"), Some(&eng), None).await;
        assert_eq!(by_eng.status, StatusCode::FORBIDDEN);
        let closed = app.call("close_retro", &[("id", &id.to_string())]).await;
        assert_eq!(closed.status, StatusCode::OK, "{}", closed.text());
        for (method, path, body) in [
            (Method::POST, format!("/api/v1/retros/{id}/items"), Some(json!({"column": "ideas", "body": "late"}))),
            (Method::POST, format!("/api/v1/retros/{id}/items/{item_id}/vote"), None),
            (Method::PATCH, format!("/api/v1/retros/{id}/items/{item_id}"), Some(json!({"group_with": null}))),
            (Method::POST, format!("/api/v1/retros/{id}/reviews"), Some(json!({"action_id": older_id, "outcome": "done"}))),
            (Method::POST, format!("/api/v1/retros/{id}/close"), None),
        ] {
            let r = app.api(method, &path, Some(&admin), body).await;
            assert_eq!(r.status, StatusCode::CONFLICT, "{path}: {}", r.text());
        }
        let action = app.api(Method::GET, &format!("/api/v1/actions/{older_id}"), Some(&eng), None).await.json();
        assert_eq!(action["status"], "open", "a refused review changes nothing");
        let after = app.api(Method::GET, &format!("/api/v1/retros/{id}"), Some(&viewer), None).await.json();
        assert_eq!(after["status"], "closed");
        let reviewed: Vec<i64> = after["actions_to_review"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect();
        assert_eq!(reviewed.len(), 2, "a closed retro shows what it decided: {reviewed:?}");
        let page = app.get(&format!("/app/retros/{id}")).await.text();
        assert!(page.contains("Print"), "a closed retro is printable");
        assert!(!page.contains("Close retro"));
        assert!(!page.contains(">Vote<"), "and read-only");
    }

    async fn anonymous_authors_stay_hidden_on_the_page(app) {
        app.setup_admin().await;
        let eng = app.token("engineer").await;
        let pm = app.token("pm").await;
        let retro = app.api(Method::POST, "/api/v1/retros", Some(&pm), Some(json!({}))).await.json();
        let id = retro["id"].as_i64().unwrap();
        app.api(Method::POST, &format!("/api/v1/retros/{id}/items"), Some(&eng),
            Some(json!({"column": "to-improve", "body": "Reviews take too long", "anonymous": true}))).await;
        let page = app.get(&format!("/app/retros/{id}")).await.text();
        assert!(page.contains("Reviews take too long"));
        assert!(!page.contains("token:ci-engineer"), "the author stays anonymous to the admin");
        assert!(page.contains("Anonymous"));
        let list = app.get("/app/retros").await.text();
        assert!(list.contains(&format!("/app/retros/{id}")));
    }
}
