//! Incidents through the API: filing, suspects, causes, Alertmanager,
//! `Fixes-Incident` from deploys, readiness, roles, and that nothing internal
//! reaches a customer surface.

use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

fn ids(deploy: &Value) -> Vec<i64> {
    deploy["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

fn ago(minutes: i64) -> String {
    (chrono::Utc::now() - chrono::TimeDelta::minutes(minutes)).to_rfc3339()
}

fn incident(title: &str, minutes_ago: i64) -> Value {
    json!({"title": title, "severity": "sev2", "environment": "production",
           "detected_at": ago(minutes_ago), "detected_by": "monitoring-app"})
}

fn alert(status: &str, key: &str) -> Value {
    json!({
        "version": "4", "groupKey": key, "truncatedAlerts": 0, "status": status, "receiver": "shiplog",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "severity": "critical", "environment": "production"},
        "commonAnnotations": {"summary": "5xx above 2% on checkout", "description": "Checkout answers **500**."},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{"status": status, "labels": {"alertname": "HighErrorRate"}, "annotations": {},
                    "startsAt": ago(30), "endsAt": if status == "resolved" { ago(1) } else { "0001-01-01T00:00:00Z".to_string() },
                    "generatorURL": "http://prometheus/graph", "fingerprint": "c0ffee01"}]
    })
}

on_both_databases! {
    async fn incidents_are_filed_with_ranked_suspects_and_causes(app) {
        let eng = app.token("engineer").await;
        let viewer = app.token("viewer").await;
        let older = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "started_at": ago(300), "entries": [{"title": "Docs tweak", "kind": "improvement", "component": "docs"}]})).await;
        let newer = app.record_deploy(&eng, json!({"environment": "production", "version": "v2", "status": "succeeded",
            "started_at": ago(120), "entries": [
                {"title": "Typo on the pricing page", "kind": "fix"},
                {"title": "Cache invoices", "kind": "improvement", "risk": "high", "component": "billing"}]})).await;
        let after = app.record_deploy(&eng, json!({"environment": "production", "version": "v3", "status": "succeeded",
            "entries": [{"title": "Later change", "kind": "fix"}]})).await;
        let (docs, typo, cache) = (ids(&older)[0], ids(&newer)[0], ids(&newer)[1]);

        let r = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(incident("Billing page shows old invoices", 60))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let inc = r.json();
        assert_eq!(inc["number"], format!("INC-{}", inc["id"]));
        assert_eq!(inc["status"], "open");
        assert_eq!(inc["detected_by"], "monitoring-app");
        let suspects: Vec<i64> = inc["suspects"].as_array().unwrap().iter().map(|s| s["entry"]["id"].as_i64().unwrap()).collect();
        assert_eq!(suspects, vec![cache, typo, docs], "newest deploy first, the named risky component first");
        assert!(!suspects.contains(&ids(&after)[0]), "deploys after detection are not suspects");
        assert!(inc["suspects"][0]["reasons"].to_string().contains("billing"));

        let number = inc["number"].as_str().unwrap().to_string();
        let r = app.api(Method::PATCH, &format!("/api/v1/incidents/{number}"), Some(&eng),
            Some(json!({"caused_by_entry_ids": [cache], "status": "mitigated", "customer_impact": "Invoices were **stale**."}))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let inc = r.json();
        assert_eq!(inc["caused_by"][0]["entry"]["id"], cache);
        assert_eq!(inc["caused_by_deploy_ids"], json!([newer["id"]]));
        assert!(inc["mitigated_at"].is_string());
        assert!(inc["customer_impact_html"].as_str().unwrap().contains("<strong>stale</strong>"));
        let detect = inc["time_to_detect_seconds"].as_i64().unwrap();
        assert!((3500..=3700).contains(&detect), "deployed 120 min ago, detected 60 min ago: {detect}");
        assert!(inc["time_to_restore_seconds"].as_i64().unwrap() >= 3500);

        // Readers: any token; writers: not viewers.
        assert_eq!(app.api(Method::GET, &format!("/api/v1/incidents/{number}"), Some(&viewer), None).await.status, StatusCode::OK);
        let listed = app.api(Method::GET, "/api/v1/incidents?status=open,mitigated", Some(&viewer), None).await;
        assert_eq!(listed.json().as_array().unwrap().len(), 1, "{}", listed.text());
        let refused = app.api(Method::POST, "/api/v1/incidents", Some(&viewer), Some(incident("x", 1))).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let refused = app.api(Method::PATCH, &format!("/api/v1/incidents/{number}"), Some(&viewer), Some(json!({"status": "resolved"}))).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(app.api(Method::GET, "/api/v1/incidents/INC-999", Some(&viewer), None).await.status, StatusCode::NOT_FOUND);

        // Bad input names its field and stores nothing.
        for (body, field) in [
            (json!({"title": "x", "severity": "sev2", "environment": "moon", "detected_at": ago(1), "detected_by": "team"}), "environment"),
            (json!({"title": "x", "severity": "sev2", "environment": "production", "detected_at": (chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339(), "detected_by": "team"}), "detected_at"),
            (json!({"title": "x", "severity": "sev2", "environment": "production", "detected_at": ago(1), "detected_by": "team", "caused_by_entry_ids": [987654]}), "caused_by_entry_ids[0]"),
            (json!({"title": "  ", "severity": "sev2", "environment": "production", "detected_at": ago(1), "detected_by": "team"}), "title"),
        ] {
            let r = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(body)).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
            assert_eq!(r.json()["error"]["field"], field, "{}", r.text());
        }
        let bad = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(json!({"title": "x", "severity": "sev9",
            "environment": "production", "detected_at": ago(1), "detected_by": "team"}))).await;
        assert!(bad.status.is_client_error(), "{}", bad.text());
        let all = app.api(Method::GET, "/api/v1/incidents", Some(&eng), None).await;
        assert_eq!(all.json().as_array().unwrap().len(), 1, "nothing half-written");
    }

    async fn alertmanager_opens_one_incident_per_group_and_resolves_it(app) {
        let eng = app.token("engineer").await;
        app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Checkout rewrite", "kind": "feature"}]})).await;
        let key = "{}:{alertname=\"HighErrorRate\"}";
        let r = app.api(Method::POST, "/api/v1/alerts", Some(&eng), Some(alert("firing", key))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let opened = r.json()["opened"][0].as_str().unwrap().to_string();
        let again = app.api(Method::POST, "/api/v1/alerts", Some(&eng), Some(alert("firing", key))).await;
        assert_eq!(again.json()["unchanged"], json!([opened]), "{}", again.text());
        let inc = app.api(Method::GET, &format!("/api/v1/incidents/{opened}"), Some(&eng), None).await.json();
        assert_eq!(inc["title"], "HighErrorRate: 5xx above 2% on checkout");
        assert_eq!(inc["severity"], "sev1");
        assert_eq!(inc["status"], "open");
        assert!(inc["customer_impact_html"].as_str().unwrap().contains("<strong>500</strong>"), "the description, rendered: {inc}");
        assert_eq!(inc["detected_by"], "monitoring-app");

        let r = app.api(Method::POST, "/api/v1/alerts", Some(&eng), Some(alert("resolved", key))).await;
        assert_eq!(r.json()["resolved"], json!([opened]), "{}", r.text());
        let inc = app.api(Method::GET, &format!("/api/v1/incidents/{opened}"), Some(&eng), None).await.json();
        assert_eq!(inc["status"], "resolved");
        assert!(inc["resolved_at"].is_string());
        let resolved_again = app.api(Method::POST, "/api/v1/alerts", Some(&eng), Some(alert("resolved", key))).await;
        assert_eq!(resolved_again.json()["resolved"], json!([]), "{}", resolved_again.text());

        // The same group firing later is a new incident.
        let r = app.api(Method::POST, "/api/v1/alerts", Some(&eng), Some(alert("firing", key))).await;
        let second = r.json()["opened"][0].as_str().unwrap().to_string();
        assert_ne!(second, opened);
        let bad = app.api(Method::POST, "/api/v1/alerts", Some(&eng), Some(json!({"status": "firing", "alerts": []}))).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text());
        let viewer = app.token("viewer").await;
        assert_eq!(app.api(Method::POST, "/api/v1/alerts", Some(&viewer), Some(alert("firing", "other"))).await.status, StatusCode::FORBIDDEN);
    }

    async fn a_deploy_that_says_fixes_incident_fixes_it(app) {
        app.add_environment("staging").await;
        let eng = app.token("engineer").await;
        app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "started_at": ago(90), "entries": [{"title": "Search", "kind": "feature"}]})).await;
        let inc = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(incident("Search is down", 60))).await.json();
        let number = inc["number"].as_str().unwrap().to_string();
        // Elsewhere, it fixes nothing.
        app.record_deploy(&eng, json!({"environment": "staging", "version": "v2", "status": "succeeded",
            "entries": [{"title": "Restore search", "kind": "fix", "body": format!("Fixes-Incident: {number}")}]})).await;
        let still = app.api(Method::GET, &format!("/api/v1/incidents/{number}"), Some(&eng), None).await.json();
        assert_eq!(still["status"], "open");
        assert!(still["fixed_by_deploy_id"].is_null());
        // A production deploy that starts does not fix it until it succeeds.
        let fix = app.record_deploy(&eng, json!({"environment": "production", "version": "v2", "status": "started",
            "commits": [{"sha": "a1b2c3d4e5f6", "message": format!("fix: restore the search index\n\nFixes-Incident: {number}")}],
            "entries": [{"title": "Restore search", "kind": "fix"}]})).await;
        let still = app.api(Method::GET, &format!("/api/v1/incidents/{number}"), Some(&eng), None).await.json();
        assert_eq!(still["status"], "open", "{still}");
        let done = app.api(Method::PATCH, &format!("/api/v1/deploys/{}", fix["id"]), Some(&eng), Some(json!({"status": "succeeded"}))).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text());
        let fixed = app.api(Method::GET, &format!("/api/v1/incidents/{number}"), Some(&eng), None).await.json();
        assert_eq!(fixed["status"], "resolved");
        assert_eq!(fixed["fixed_by_deploy_id"], fix["id"]);
        assert_eq!(fixed["fixed_by_version"], "v2");
        let restore = fixed["time_to_restore_seconds"].as_i64().unwrap();
        assert!((3500..=3800).contains(&restore), "detected an hour ago, fixed now: {restore}");
    }

    async fn a_release_with_an_incident_is_not_ready(app) {
        app.setup_admin().await;
        let eng = app.token("engineer").await;
        let pm = app.token("pm").await;
        let d = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "started_at": ago(60), "entries": [{"title": "New exports", "kind": "feature"}]})).await;
        let entry = ids(&d)[0];
        let inc = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(json!({"title": "Exports time out ROOTCAUSE-SECRET",
            "severity": "sev3", "environment": "production", "detected_at": ago(10), "detected_by": "customer",
            "customer_impact": "INTERNAL-IMPACT-TEXT", "caused_by_entry_ids": [entry]}))).await;
        assert_eq!(inc.status, StatusCode::CREATED, "{}", inc.text());
        let number = inc.json()["number"].as_str().unwrap().to_string();
        let r = app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "Exports", "slug": "exports"}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let linked = app.api(Method::POST, "/api/v1/releases/exports/entries", Some(&pm), Some(json!({"entry_ids": [entry]}))).await;
        let revision = linked.json()["revision"].clone();
        let refused = app.api(Method::POST, "/api/v1/releases/exports/publish", Some(&pm), Some(json!({"revision": revision}))).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
        assert!(refused.text().contains(&number), "names the incident: {}", refused.text());

        app.api(Method::PATCH, &format!("/api/v1/incidents/{number}"), Some(&eng), Some(json!({"status": "resolved"}))).await;
        let published = app.api(Method::POST, "/api/v1/releases/exports/publish", Some(&pm), Some(json!({"revision": revision}))).await;
        assert_eq!(published.status, StatusCode::OK, "{}", published.text());

        // Nothing internal reaches a customer surface.
        for path in ["/", "/changes", "/releases/exports", &format!("/changes/{entry}"), "/feeds/changes.atom", "/feeds/changes.json", "/feeds/releases.atom"] {
            let page = app.get(path).await;
            assert!(page.status.is_success() || page.status == StatusCode::NOT_FOUND, "{path}: {}", page.status);
            let text = page.text();
            assert!(!text.contains("ROOTCAUSE-SECRET") && !text.contains("INTERNAL-IMPACT-TEXT") && !text.contains(&number), "{path} leaks the incident");
        }
    }
}

fn in_days(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(days)).to_string()
}

on_both_databases! {
    async fn actions_have_owners_and_due_dates_and_close_on_evidence(app) {
        app.add_environment("staging").await;
        app.setup_admin().await;
        let eng = app.token("engineer").await;
        let viewer = app.token("viewer").await;
        app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Search", "kind": "feature"}]})).await;
        let inc = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(incident("Search timed out", 5))).await.json();
        let number = inc["number"].as_str().unwrap().to_string();

        let r = app.api(Method::POST, "/api/v1/actions", Some(&eng), Some(json!({"title": "Alert on search latency",
            "owner_email": "Admin@Example.com", "due": in_days(7), "type": "monitoring", "incident_id": number}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let action = r.json();
        let act = action["number"].as_str().unwrap().to_string();
        assert_eq!(act, format!("ACT-{}", action["id"]));
        assert_eq!(action["type"], "monitoring");
        assert_eq!(action["status"], "open");
        assert_eq!(action["owner_email"], "admin@example.com");
        assert_eq!(action["incident_id"], inc["id"]);
        assert_eq!(action["overdue"], false);
        let detail = app.api(Method::GET, &format!("/api/v1/incidents/{number}"), Some(&viewer), None).await.json();
        assert_eq!(detail["actions"][0]["number"], act.as_str(), "the incident lists its actions");

        for (body, field) in [
            (json!({"title": "x", "owner_email": "nobody@example.com", "due": in_days(1), "type": "code"}), "owner_email"),
            (json!({"title": "x", "owner_email": "admin@example.com", "due": in_days(-1), "type": "code"}), "due"),
            (json!({"title": "x", "owner_email": "admin@example.com", "due": in_days(1), "type": "code", "incident_id": "INC-999"}), "incident_id"),
            (json!({"title": "", "owner_email": "admin@example.com", "due": in_days(1), "type": "code"}), "title"),
        ] {
            let r = app.api(Method::POST, "/api/v1/actions", Some(&eng), Some(body)).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
            assert_eq!(r.json()["error"]["field"], field, "{}", r.text());
        }
        assert_eq!(app.api(Method::POST, "/api/v1/actions", Some(&viewer), Some(json!({"title": "x",
            "owner_email": "admin@example.com", "due": in_days(1), "type": "code"}))).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.api(Method::PATCH, &format!("/api/v1/actions/{act}"), Some(&viewer), Some(json!({"status": "done"}))).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.api(Method::GET, "/api/v1/actions", Some(&viewer), None).await.json().as_array().unwrap().len(), 1, "nothing half-written");

        // Dropping says why; reopening clears it.
        let r = app.api(Method::PATCH, &format!("/api/v1/actions/{act}"), Some(&eng), Some(json!({"status": "dropped"}))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(r.json()["error"]["field"], "note");
        let r = app.api(Method::PATCH, &format!("/api/v1/actions/{act}"), Some(&eng), Some(json!({"status": "dropped", "note": "The dashboard covers it"}))).await;
        assert_eq!(r.json()["status"], "dropped", "{}", r.text());
        let r = app.api(Method::PATCH, &format!("/api/v1/actions/{act}"), Some(&eng), Some(json!({"status": "open", "note": ""}))).await;
        assert_eq!(r.json()["status"], "open", "{}", r.text());

        // Evidence: only a succeeded production deploy that names it closes it.
        app.record_deploy(&eng, json!({"environment": "staging", "version": "v2", "status": "succeeded",
            "entries": [{"title": "Latency alert", "kind": "internal", "body": format!("Closes-Action: {act}")}]})).await;
        assert_eq!(app.api(Method::GET, &format!("/api/v1/actions/{act}"), Some(&eng), None).await.json()["status"], "open");
        let evidence = app.record_deploy(&eng, json!({"environment": "production", "version": "v2", "status": "succeeded",
            "commits": [{"sha": "0123456789ab", "message": format!("chore: alert on search latency\n\nCloses-Action: {act}")}],
            "entries": [{"title": "Latency alert", "kind": "internal"}]})).await;
        let done = app.api(Method::GET, &format!("/api/v1/actions/{act}"), Some(&eng), None).await.json();
        assert_eq!(done["status"], "done", "{done}");
        assert_eq!(done["evidence_deploy_id"], evidence["id"]);
        assert!(done["done_at"].is_string());

        // Overdue: open and past its day.
        let second = app.api(Method::POST, "/api/v1/actions", Some(&eng), Some(json!({"title": "Load test search",
            "owner_email": "admin@example.com", "due": in_days(0), "type": "testing"}))).await.json();
        let id = second["id"].as_i64().unwrap();
        let stored = app.db().action(id).await.unwrap().unwrap();
        let edit = shiplog::server::db::ActionEdit { title: stored.title.clone(), owner_id: stored.owner_id,
            due: stored.due - chrono::TimeDelta::days(3), kind: stored.kind, status: stored.status, note: String::new(),
            evidence_deploy_id: None, done_at: None };
        app.db().update_action(id, stored.updated_at, &edit).await.unwrap();
        let overdue = app.api(Method::GET, "/api/v1/actions?overdue=true", Some(&viewer), None).await.json();
        assert_eq!(overdue.as_array().unwrap().len(), 1, "{overdue}");
        assert_eq!(overdue[0]["id"], id);
        assert_eq!(overdue[0]["overdue"], true);
        let mine = app.api(Method::GET, "/api/v1/actions?owner=admin@example.com&status=open", Some(&viewer), None).await.json();
        assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    }
}

on_both_databases! {
    async fn root_cause_notes_are_reviewed_by_another_and_versioned(app) {
        app.setup_admin().await;
        let eng = app.token("engineer").await;
        let pm = app.token("pm").await;
        let viewer = app.token("viewer").await;
        app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Search", "kind": "feature"}]})).await;
        let inc = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(incident("Search is down", 30))).await.json();
        let path = format!("/api/v1/incidents/{}/root-cause", inc["number"].as_str().unwrap());

        let empty = app.api(Method::GET, &path, Some(&viewer), None).await;
        assert_eq!(empty.status, StatusCode::OK, "{}", empty.text());
        assert!(empty.json()["note"].is_null());

        let note = json!({"summary": "The index was rebuilt **during** peak hours.", "category": "process",
            "timeline": [{"at": ago(20), "text": "Alert fired"}, {"at": ago(29), "text": "Rebuild started"}],
            "trigger": "A scheduled rebuild", "whys": ["Search timed out", "The index was rebuilding", "", "Nobody moved the job"],
            "factors": "No load test", "went_well": "Fast rollback", "lessons": "Schedule rebuilds at night"});
        let r = app.api(Method::PUT, &path, Some(&eng), Some(note.clone())).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = r.json();
        assert_eq!(v["note"]["status"], "draft");
        assert_eq!(v["note"]["version"], 1);
        assert_eq!(v["note"]["author"], "token:ci-engineer");
        assert!(v["note"]["summary_html"].as_str().unwrap().contains("<strong>during</strong>"));
        assert_eq!(v["note"]["timeline"][0]["text"], "Rebuild started", "the timeline is in time order");
        assert_eq!(v["note"]["whys"].as_array().unwrap().len(), 3, "empty whys are dropped");
        assert_eq!(v["warnings"], json!([]));

        // A second note for the same incident is an edit, not a new one.
        assert_eq!(app.api(Method::PUT, &path, Some(&eng), Some(note.clone())).await.status, StatusCode::CONFLICT);
        // Its author cannot review it; a viewer cannot either; a stale version is refused.
        let review = format!("{path}/review");
        assert_eq!(app.api(Method::POST, &review, Some(&eng), Some(json!({"revision": 1}))).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.api(Method::POST, &review, Some(&viewer), Some(json!({"revision": 1}))).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.api(Method::POST, &review, Some(&pm), Some(json!({"revision": 7}))).await.status, StatusCode::CONFLICT);
        let r = app.api(Method::POST, &review, Some(&pm), Some(json!({"revision": 1}))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["note"]["status"], "final");
        assert_eq!(r.json()["note"]["reviewer"], "token:ci-pm");

        // Edits after that keep their history; naming a person warns, never refuses.
        let mut edit = note.clone();
        edit["revision"] = json!(1);
        edit["factors"] = json!("Ada ran the rebuild by hand");
        let r = app.api(Method::PUT, &path, Some(&eng), Some(edit.clone())).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = r.json();
        assert_eq!(v["note"]["version"], 2);
        assert_eq!(v["note"]["status"], "final");
        assert_eq!(v["history"][0]["version"], 1);
        assert_eq!(v["history"][0]["factors"], "No load test");
        assert!(v["warnings"][0].as_str().unwrap().contains("blameless"), "{v}");
        assert_eq!(app.api(Method::PUT, &path, Some(&eng), Some(edit)).await.status, StatusCode::CONFLICT, "version 1 is gone");
        let bad = app.api(Method::PUT, &path, Some(&eng), Some(json!({"revision": 2, "category": "code", "summary": ">".repeat(50_000)}))).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text());
        assert_eq!(app.api(Method::GET, &path, Some(&viewer), None).await.json()["note"]["version"], 2, "nothing half-written");
    }

    async fn a_hole_is_closed_only_when_its_action_is_done(app) {
        app.setup_admin().await;
        let eng = app.token("engineer").await;
        app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Search", "kind": "feature"}]})).await;
        let inc = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(incident("Search is down", 30))).await.json();
        let number = inc["number"].as_str().unwrap().to_string();
        let holes = format!("/api/v1/incidents/{number}/holes");
        let bad = app.api(Method::POST, &holes, Some(&eng), Some(json!({"area": "logs", "description": "No alert on 5xx",
            "action": {"title": "Alert on 5xx", "owner_email": "nobody@example.com", "due": in_days(3), "type": "monitoring"}}))).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text());
        assert_eq!(bad.json()["error"]["field"], "action.owner_email");
        assert_eq!(app.api(Method::GET, "/api/v1/actions", Some(&eng), None).await.json(), json!([]), "nothing half-written");

        let r = app.api(Method::POST, &holes, Some(&eng), Some(json!({"area": "application", "component": "search",
            "description": "No alert on search latency",
            "action": {"title": "Alert on search latency", "owner_email": "admin@example.com", "due": in_days(3), "type": "monitoring"}}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let hole = r.json();
        assert_eq!(hole["kind"], "monitoring");
        assert_eq!(hole["closed"], false);
        let action = app.api(Method::GET, &format!("/api/v1/actions/{}", hole["action_id"]), Some(&eng), None).await.json();
        assert_eq!(action["incident_id"], inc["id"]);
        app.api(Method::PATCH, &format!("/api/v1/actions/{}", hole["action_id"]), Some(&eng), Some(json!({"status": "done"}))).await;
        let view = app.api(Method::GET, &format!("/api/v1/incidents/{number}/root-cause"), Some(&eng), None).await.json();
        assert_eq!(view["holes"][0]["closed"], true, "{view}");
        assert_eq!(view["holes"][0]["area"], "application");
    }
}

on_both_databases! {
    async fn the_holes_page_charts_open_holes_and_each_month(app) {
        app.setup_admin().await;
        let eng = app.token("engineer").await;
        app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Queue", "kind": "feature"}]})).await;
        let inc = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(incident("Queue stalled", 30))).await.json();
        let holes = format!("/api/v1/incidents/{}/holes", inc["number"].as_str().unwrap());
        let due = (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(3)).to_string();
        let mut actions = vec![];
        for (area, component, what) in [("logs", Some("queue"), "No alert on a stalled queue"),
                                         ("unit", Some("queue"), "Retry path untested"),
                                         ("end-to-end", None, "No checkout journey test")] {
            let r = app.api(Method::POST, &holes, Some(&eng), Some(json!({"area": area, "component": component, "description": what,
                "action": {"title": format!("Repair: {what}"), "owner_email": "admin@example.com", "due": due, "type": "testing"}}))).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
            actions.push(r.json()["action_id"].as_i64().unwrap());
        }
        let done = app.api(Method::PATCH, &format!("/api/v1/actions/{}", actions[1]), Some(&eng), Some(json!({"status": "done"}))).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text());

        let report = app.api(Method::GET, "/api/v1/holes", Some(&eng), None).await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.text());
        let report = report.json();
        assert_eq!(report["open"].as_array().unwrap().len(), 2, "the repaired hole is closed");
        assert_eq!(report["by_component"], json!([{"label": "(none)", "count": 1}, {"label": "queue", "count": 1}]));
        let this_month = report["months"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(this_month["month"], chrono::Utc::now().format("%Y-%m").to_string());
        assert_eq!((this_month["found"].as_i64(), this_month["repaired"].as_i64()), (Some(3), Some(1)));
        assert_eq!(app.api(Method::GET, "/api/v1/holes", None, None).await.status, StatusCode::UNAUTHORIZED);

        let page = app.get("/app/holes").await;
        assert_eq!(page.status, StatusCode::OK);
        let page = page.text();
        assert_eq!(page.matches("<svg data-chart=").count(), 3, "three charts, drawn on the server");
        assert!(page.contains("No alert on a stalled queue"));
        assert!(!page.contains("Retry path untested"), "a repaired hole leaves the open list");
        assert!(page.contains("Monitoring · Log monitoring"), "the table beneath names each bar");
        assert!(page.contains("aria-label=\"Holes found and repaired per month\""));
    }
}

on_both_databases! {
    async fn customers_hear_of_a_fixed_incident_in_words_written_for_them(app) {
        app.setup_admin().await;
        let eng = app.token("engineer").await;
        let pm = app.token("pm").await;
        let d = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "started_at": ago(120), "entries": [{"title": "Faster invoices", "kind": "improvement", "component": "billing"},
                                                {"title": "Admin exports", "kind": "feature", "audience": "admins"}]})).await;
        let (cause, admin_cause) = (ids(&d)[0], ids(&d)[1]);
        let added = app.api(Method::POST, "/api/v1/subscribers", Some(&pm), Some(json!(
            {"email": "reader@example.com", "releases": true, "digest": "off", "confirmed": true}))).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
        let inc = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(json!({"title": "Invoices wrong ROOTCAUSE-SECRET",
            "severity": "sev2", "environment": "production", "detected_at": ago(60), "detected_by": "customer",
            "customer_impact": "INTERNAL-IMPACT-TEXT", "caused_by_entry_ids": [cause]}))).await.json();
        let number = inc["number"].as_str().unwrap().to_string();
        let path = format!("/api/v1/incidents/{number}/customer-note");
        let note = json!({"title": "Invoice totals are right again", "body": "Some invoices showed **old** totals for an hour."});

        let early = app.api(Method::POST, &path, Some(&pm), Some(note.clone())).await;
        assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text());
        assert!(early.text().contains("not resolved"), "{}", early.text());
        app.api(Method::PATCH, &format!("/api/v1/incidents/{number}"), Some(&eng), Some(json!({"status": "resolved"}))).await;
        let no_fix = app.api(Method::POST, &path, Some(&pm), Some(note.clone())).await;
        assert_eq!(no_fix.status, StatusCode::CONFLICT);
        assert!(no_fix.text().contains("deploy that fixed it"), "{}", no_fix.text());
        let fix = app.record_deploy(&eng, json!({"environment": "production", "version": "v2", "status": "succeeded",
            "entries": [{"title": "Recompute totals", "kind": "fix", "audience": "internal"}]})).await;
        app.api(Method::PATCH, &format!("/api/v1/incidents/{number}"), Some(&eng), Some(json!({"fixed_by_deploy_id": fix["id"]}))).await;
        let by_engineer = app.api(Method::POST, &path, Some(&eng), Some(note.clone())).await;
        assert_eq!(by_engineer.status, StatusCode::FORBIDDEN);
        let bad = app.api(Method::POST, &path, Some(&pm), Some(json!({"title": " "}))).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text());

        let told = app.api(Method::POST, &path, Some(&pm), Some(note.clone())).await;
        assert_eq!(told.status, StatusCode::CREATED, "{}", told.text());
        let told = told.json();
        assert_eq!(told["entry"]["kind"], "fix");
        assert_eq!(told["entry"]["audience"], "everyone", "the audience of the entry that caused it");
        assert_eq!(told["entry"]["deploy_id"], fix["id"]);
        assert_eq!(told["release"], format!("fix-{}", number.to_lowercase()));
        let again = app.api(Method::POST, &path, Some(&pm), Some(note)).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "told once");
        let after = app.api(Method::GET, &format!("/api/v1/incidents/{number}"), Some(&eng), None).await.json();
        assert_eq!(after["customer_entry_id"], told["entry"]["id"]);

        let changes = app.get("/changes").await.text();
        assert!(changes.contains("Invoice totals are right again"));
        assert!(changes.contains("<strong>old</strong>"));
        let mut check = None;
        while app.app.state.engine.run_once(&mut check).await.unwrap() {}
        let mails: Vec<String> = std::fs::read_dir(&app.mail_dir).unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap().replace("=\r\n", ""))
            .filter(|m| m.contains("To: reader@example.com")).collect();
        assert_eq!(mails.len(), 1, "the subscriber is told by email");
        assert!(mails[0].contains("Invoice totals are right again"));
        for text in [changes, mails[0].clone(), app.get("/feeds/changes.atom").await.text()] {
            assert!(!text.contains("ROOTCAUSE-SECRET") && !text.contains("INTERNAL-IMPACT-TEXT") && !text.contains(&number),
                "only the note's words reach customers");
        }

        // A change only admins of customer accounts saw: so is its note.
        let inc = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(json!({"title": "Exports broke", "severity": "sev3",
            "environment": "production", "detected_at": ago(30), "detected_by": "customer", "customer_impact": "Exports failed.",
            "caused_by_entry_ids": [admin_cause]}))).await.json();
        let n2 = inc["number"].as_str().unwrap().to_string();
        app.api(Method::PATCH, &format!("/api/v1/incidents/{n2}"), Some(&eng), Some(json!({"status": "resolved", "fixed_by_deploy_id": fix["id"]}))).await;
        let told = app.api(Method::POST, &format!("/api/v1/incidents/{n2}/customer-note"), Some(&pm),
            Some(json!({"title": "Exports work again", "announce": false}))).await;
        assert_eq!(told.status, StatusCode::CREATED, "{}", told.text());
        assert_eq!(told.json()["entry"]["audience"], "admins");
        assert!(told.json()["release"].is_null());
        assert!(!app.get("/changes").await.text().contains("Exports work again"), "the public never sees it");
    }
}
