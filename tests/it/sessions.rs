//! Sessions: where a person is signed in, signing other browsers out, idle
//! and absolute lifetimes, and the cookie's attributes.

use crate::common::*;
use crate::on_both_databases;
use axum::http::{header, StatusCode};
use chrono::{TimeDelta, Utc};
use serde_json::Value;

async fn sessions_of(app: &TestApp) -> Vec<Value> {
    let res = app.call("my_sessions", &[]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json().as_array().unwrap().clone()
}

async fn signed_in(app: &TestApp) -> bool {
    app.call("current_user", &[]).await.json()["email"].is_string()
}

on_both_databases! {
    async fn a_person_sees_their_sessions_and_signs_the_others_out(app) {
        app.setup_admin().await;
        let first = app.cookie("shiplog_session").unwrap();
        app.clear_cookies();
        app.login("admin@example.com", PASSWORD).await;
        let second = app.cookie("shiplog_session").unwrap();
        assert_ne!(first, second);

        let list = sessions_of(&app).await;
        assert_eq!(list.len(), 2, "{list:?}");
        assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1, "{list:?}");
        assert!(list.iter().all(|s| s["ip"] == "10.0.0.1"), "{list:?}");
        let other = list.iter().find(|s| s["current"] == false).unwrap()["id"].as_i64().unwrap();
        let here = list.iter().find(|s| s["current"] == true).unwrap()["id"].as_i64().unwrap();

        // Someone else cannot end them.
        app.sign_in_as(shiplog::model::Role::Viewer).await;
        let theirs = app.call("end_session", &[("id", &other.to_string())]).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text());
        assert_eq!(sessions_of(&app).await.len(), 1, "a viewer sees only their own");
        app.set_cookie("shiplog_session", &first);
        assert!(signed_in(&app).await, "another person's call changed nothing");

        // From the second browser: this one cannot be "ended elsewhere".
        app.set_cookie("shiplog_session", &second);
        let own = app.call("end_session", &[("id", &here.to_string())]).await;
        assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", own.text());
        assert!(own.text().contains("sign out instead"), "{}", own.text());

        let ended = app.call("end_other_sessions", &[]).await;
        assert_eq!(ended.status, StatusCode::OK, "{}", ended.text());
        assert_eq!(ended.json(), 1);
        assert!(signed_in(&app).await, "this browser stays signed in");
        assert_eq!(sessions_of(&app).await.len(), 1);

        // The first browser is signed out at its next request, pages and calls alike.
        app.set_cookie("shiplog_session", &first);
        assert!(app.get("/app").await.status.is_redirection());
        app.set_cookie("shiplog_session", &first);
        assert!(!signed_in(&app).await);
        let refused = app.call("timeline", &[]).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

        // Ending one session by its id, then signing out, ends the rows too.
        app.set_cookie("shiplog_session", &second);
        assert!(app.call("logout", &[]).await.status.is_success());
        let admin = app.db().user_by_email("admin@example.com").await.unwrap().unwrap();
        assert!(app.db().list_sign_ins(admin.id).await.unwrap().is_empty());
    }

    async fn sessions_end_when_idle_and_at_their_absolute_lifetime(app) {
        app.setup_admin().await;
        let admin = app.db().user_by_email("admin@example.com").await.unwrap().unwrap();
        assert!(signed_in(&app).await);

        // Unused for longer than the idle lifetime (14 days by default).
        app.exec_at("UPDATE sign_ins SET last_seen_at = $1", Utc::now() - TimeDelta::days(15)).await;
        assert!(app.get("/app").await.status.is_redirection());
        assert!(app.db().list_sign_ins(admin.id).await.unwrap().is_empty(), "the expired session ended");

        // Used every day, but begun longer ago than the absolute lifetime (30 days).
        app.login("admin@example.com", PASSWORD).await;
        assert!(signed_in(&app).await);
        app.exec_at("UPDATE sign_ins SET created_at = $1 WHERE ended_at IS NULL", Utc::now() - TimeDelta::days(31)).await;
        assert!(!signed_in(&app).await);
        assert!(app.db().list_sign_ins(admin.id).await.unwrap().is_empty());

        // Seen again after a while: the last-seen time moves on, and so does the cookie.
        app.login("admin@example.com", PASSWORD).await;
        let old = Utc::now() - TimeDelta::minutes(10);
        app.exec_at("UPDATE sign_ins SET last_seen_at = $1 WHERE ended_at IS NULL", old).await;
        let res = app.get("/app").await;
        assert_eq!(res.status, StatusCode::OK);
        assert!(res.headers.get(header::SET_COOKIE).is_some(), "the cookie's expiry is renewed");
        let seen = app.db().list_sign_ins(admin.id).await.unwrap()[0].last_seen_at;
        assert!(seen > old + TimeDelta::minutes(9), "{seen}");
        // Within a minute, requests write nothing.
        let res = app.get("/app").await;
        assert!(res.headers.get(header::SET_COOKIE).is_none());

        // A deactivated person's sessions stop working at once.
        app.db().update_user(admin.id, shiplog::model::Role::Admin, true).await.unwrap();
        let viewer = app.sign_in_as(shiplog::model::Role::Viewer).await;
        let v = app.db().user_by_email(&viewer).await.unwrap().unwrap();
        app.db().update_user(v.id, shiplog::model::Role::Viewer, false).await.unwrap();
        assert!(!signed_in(&app).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_is_host_prefixed_and_secure_over_https() {
    let app = TestApp::start_with(
        Backend::Sqlite,
        &[("SHIPLOG_PUBLIC_URL", "https://127.0.0.1:3000")],
    )
    .await
    .unwrap();
    let res = app
        .call_from(
            "create_admin",
            &[
                ("email", "admin@example.com"),
                ("name", "Ada"),
                ("password", PASSWORD),
            ],
            Some("https://127.0.0.1:3000"),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text());
    let cookie = res
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.contains("shiplog_session="))
        .expect("a session cookie");
    assert!(cookie.starts_with("__Host-shiplog_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    assert!(app.cookie("shiplog_session").is_none());
    let me = app
        .send(
            axum::http::Request::post("/fn/current_user")
                .header(header::ORIGIN, "https://127.0.0.1:3000")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(me.text().contains("admin@example.com"), "{}", me.text());
}
