//! DORA metrics on data whose expected values are worked out by hand.

use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

/// `days` days before today, at `hour`:`minute` UTC.
fn at(days: i64, hour: u32, minute: u32) -> DateTime<Utc> {
    (Utc::now().date_naive() - TimeDelta::days(days))
        .and_hms_opt(hour, minute, 0)
        .unwrap()
        .and_utc()
}

fn sha(n: u32) -> String {
    format!("{n:040x}")
}

on_both_databases! {
    async fn dora_numbers_match_a_hand_count(app) {
        app.add_environment("staging").await;
        let eng = app.token("engineer").await;
        let viewer = app.token("viewer").await;
        let deploy = |version: &str, status: &str, finished: DateTime<Utc>, commits: serde_json::Value| {
            json!({"environment": "production", "version": version, "status": status,
                   "started_at": (finished - TimeDelta::minutes(10)).to_rfc3339(), "finished_at": finished.to_rfc3339(),
                   "commits": commits, "entries": [{"title": format!("Change in {version}"), "kind": "fix"}]})
        };
        // D1: succeeded; its commits were authored 12 h and 24 h before it finished.
        let f1 = at(8, 21, 30);
        app.record_deploy(&eng, deploy("d1", "succeeded", f1, json!([
            {"sha": sha(1), "message": "fix: one", "authored_at": (f1 - TimeDelta::hours(12)).to_rfc3339()},
            {"sha": sha(2), "message": "fix: two", "authored_at": (f1 - TimeDelta::hours(24)).to_rfc3339()}]))).await;
        // D2 failed, D4 rolled back.
        app.record_deploy(&eng, deploy("d2", "failed", at(7, 21, 0), json!([]))).await;
        // D3 succeeded (a commit 2 h old) and caused an incident detected an hour later.
        let f3 = at(6, 21, 0);
        let d3 = app.record_deploy(&eng, deploy("d3", "succeeded", f3, json!([
            {"sha": sha(3), "message": "feat: three", "authored_at": (f3 - TimeDelta::hours(2)).to_rfc3339()}]))).await;
        let inc = app.api(Method::POST, "/api/v1/incidents", Some(&eng), Some(json!({"title": "Broke", "severity": "sev2",
            "environment": "production", "detected_at": (f3 + TimeDelta::hours(1)).to_rfc3339(), "detected_by": "monitoring-app",
            "caused_by_entry_ids": [d3["entries"][0]["id"]]}))).await;
        assert_eq!(inc.status, StatusCode::CREATED, "{}", inc.text());
        let number = inc.json()["number"].as_str().unwrap().to_string();
        app.record_deploy(&eng, deploy("d4", "rolled_back", at(5, 21, 0), json!([]))).await;
        // D5 succeeded and fixed it (47 h after detection); its commit was 48 h old.
        let f5 = at(4, 21, 0);
        app.record_deploy(&eng, deploy("d5", "succeeded", f5, json!([
            {"sha": sha(5), "message": format!("fix: five\n\nFixes-Incident: {number}"), "authored_at": (f5 - TimeDelta::hours(48)).to_rfc3339()}]))).await;
        // Outside the window, or another environment: not counted.
        app.record_deploy(&eng, deploy("d0", "succeeded", at(20, 21, 0), json!([]))).await;
        app.record_deploy(&eng, json!({"environment": "staging", "version": "s1", "status": "failed",
            "started_at": at(3, 10, 0).to_rfc3339(), "finished_at": at(3, 10, 5).to_rfc3339()})).await;

        let from = (Utc::now().date_naive() - TimeDelta::days(9)).to_string();
        let to = Utc::now().date_naive().to_string();
        let r = app.api(Method::GET, &format!("/api/v1/metrics/dora?environment=production&from={from}&to={to}"), Some(&viewer), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let d = r.json();
        assert_eq!(d["days"], 10);
        assert_eq!(d["deploys"], 5, "{d}");
        assert_eq!(d["deployment_frequency_per_day"], 0.3, "3 succeeded over 10 days");
        // Lead times 2, 12, 24, 48 h: the median between 12 and 24, p90 at rank 2.7.
        assert_eq!(d["lead_time_hours"]["median"], 18.0);
        assert!((d["lead_time_hours"]["p90"].as_f64().unwrap() - 40.8).abs() < 1e-9, "{d}");
        // D2 failed, D4 rolled back, D3 caused an incident: 3 of 5.
        assert_eq!(d["change_failure_rate"], 0.6);
        assert_eq!(d["time_to_restore_hours"]["median"], 47.0);
        assert!((d["rework_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9, "D5 fixed an incident: {d}");
        assert_eq!(d["levels"], json!({"deployment_frequency": "high", "lead_time": "elite",
            "change_failure_rate": "low", "time_to_restore": "medium"}));

        // An empty window: zeros and nulls, never a division by zero.
        let r = app.api(Method::GET, "/api/v1/metrics/dora?environment=production&from=2020-01-01&to=2020-01-31", Some(&viewer), None).await.json();
        assert_eq!(r["deploys"], 0);
        assert!(r["change_failure_rate"].is_null() && r["rework_rate"].is_null());
        assert!(r["lead_time_hours"]["median"].is_null() && r["time_to_restore_hours"]["median"].is_null());
        let bad = app.api(Method::GET, "/api/v1/metrics/dora?from=2026-02-10&to=2026-02-01", Some(&viewer), None).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let bad = app.api(Method::GET, "/api/v1/metrics/dora?from=yesterday", Some(&viewer), None).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.api(Method::GET, "/api/v1/metrics/dora", None, None).await.status, StatusCode::UNAUTHORIZED);
    }
}

on_both_databases! {
    async fn the_metrics_page_charts_weeks_and_exports_them(app) {
        app.setup_admin().await;
        let eng = app.token("engineer").await;
        let finished = at(3, 21, 0);
        app.record_deploy(&eng, json!({"environment": "production", "version": "w1", "status": "succeeded",
            "started_at": (finished - TimeDelta::minutes(5)).to_rfc3339(), "finished_at": finished.to_rfc3339(),
            "commits": [{"sha": sha(9), "message": "fix: x", "authored_at": (finished - TimeDelta::hours(6)).to_rfc3339()}],
            "entries": [{"title": "x", "kind": "fix"}]})).await;
        let from = (Utc::now().date_naive() - TimeDelta::days(27)).to_string();
        let to = Utc::now().date_naive().to_string();
        let page = app.get(&format!("/app/metrics?environment=production&from={from}&to={to}")).await;
        assert_eq!(page.status, StatusCode::OK);
        let text = page.text();
        assert_eq!(text.matches("<svg data-chart=").count(), 4, "four weekly charts drawn on the server");
        assert!(text.contains("aria-label=\"Delivery metrics week by week\""), "with the table beneath");
        assert!(text.contains("6.0 h"), "the lead time is shown");
        let csv = app.get(&format!("/app/metrics/dora.csv?environment=production&from={from}&to={to}")).await;
        assert_eq!(csv.status, StatusCode::OK);
        assert_eq!(csv.headers.get("content-type").unwrap(), "text/csv; charset=utf-8");
        let body = csv.text();
        let lines: Vec<&str> = body.lines().collect();
        assert!(lines[0].starts_with("week_start,deploys,deployment_frequency_per_day,lead_time_median_hours"));
        assert!(lines.len() >= 5, "a row per week: {body}");
        assert_eq!(lines.iter().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<i64>().unwrap()).sum::<i64>(), 1);
        assert!(body.contains(",6.000,"), "{body}");
        let bad = app.get("/app/metrics?from=2026-13-01").await;
        assert!(bad.text().contains("use a date like"), "a bad date says so on the page");
    }
}
