//! First run, signing in and out, sessions, throttling, cross-site requests.

use crate::common::*;
use crate::on_both_databases;
use axum::http::{header, StatusCode};

on_both_databases! {
    async fn first_run_shows_only_setup(app) {
        for path in ["/app", "/app/people", "/login", "/invite/whatever"] {
            let res = app.get(path).await;
            assert!(res.status.is_redirection(), "{path}: {}", res.status);
            assert_eq!(res.location().as_deref(), Some("/setup"), "{path}");
        }
        let setup = app.get("/setup").await;
        assert_eq!(setup.status, StatusCode::OK);
        assert!(setup.text().contains("Create the first admin account"));
        // Nothing else behind login answers either.
        let res = app.call("timeline", &[]).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(res.text().contains("Please sign in"), "{}", res.text());
    }

    async fn setup_creates_an_admin_once_and_signs_in(app) {
        let weak = app.call("create_admin", &[("email", "ada@example.com"), ("name", "Ada"), ("password", "short")]).await;
        assert!(weak.text().contains("at least 10 characters"), "{}", weak.text());
        assert_eq!(app.db().count_users().await.unwrap(), 0, "a refused setup writes nothing");

        app.setup_admin().await;
        assert!(app.cookie("shiplog_session").is_some());
        let me = app.call("current_user", &[]).await.json();
        assert_eq!(me["email"], "admin@example.com");
        assert_eq!(me["role"], "admin");
        assert_eq!(app.get("/app").await.status, StatusCode::OK);
        // Setup is closed now, for everyone.
        assert_eq!(app.get("/setup").await.location().as_deref(), Some("/login"));
        app.clear_cookies();
        let again = app.call("create_admin", &[("email", "eve@example.com"), ("name", "Eve"), ("password", PASSWORD)]).await;
        assert!(!again.status.is_success());
        assert!(again.text().contains("already has an admin"), "{}", again.text());
        assert_eq!(app.db().count_users().await.unwrap(), 1);
    }

    async fn signed_out_people_are_sent_to_login(app) {
        app.setup_admin().await;
        app.clear_cookies();
        let res = app.get("/app/deploys/3?x=1").await;
        assert_eq!(res.location().as_deref(), Some("/login?next=%2Fapp%2Fdeploys%2F3%3Fx%3D1"));
        assert_eq!(app.get("/login").await.status, StatusCode::OK);
    }

    async fn login_renews_the_session_and_logout_ends_it(app) {
        app.setup_admin().await;
        app.clear_cookies();
        // A visitor's session id before signing in...
        app.set_cookie("shiplog_session", "planted-session-id");
        let res = app.login("admin@example.com", PASSWORD).await;
        assert!(res.status.is_success(), "{}", res.text());
        let cookie = res.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain http public URL: {cookie}");
        let session = app.cookie("shiplog_session").unwrap();
        assert_ne!(session, "planted-session-id");
        assert_eq!(app.get("/app").await.status, StatusCode::OK);

        let out = app.call("logout", &[]).await;
        assert!(out.status.is_success(), "{}", out.text());
        // Replaying the old cookie does not work: the session ended on the server.
        app.set_cookie("shiplog_session", &session);
        assert!(app.get("/app").await.status.is_redirection());
        assert!(app.call("current_user", &[]).await.text().contains("null"));
    }

    async fn wrong_passwords_are_refused_then_throttled(app) {
        app.setup_admin().await;
        app.clear_cookies();
        let wrong = app.login("admin@example.com", "not-the-password").await;
        assert!(wrong.text().contains("do not match"), "{}", wrong.text());
        let unknown = app.login("nobody@example.com", "not-the-password").await;
        assert!(unknown.text().contains("do not match"), "same answer for unknown accounts: {}", unknown.text());
        for _ in 0..4 {
            app.login("admin@example.com", "not-the-password").await;
        }
        // Five failures: even the right password is refused for a while.
        let locked = app.login("admin@example.com", PASSWORD).await;
        assert!(locked.text().contains("Too many failed sign-in attempts"), "{}", locked.text());
        assert!(app.cookie("shiplog_session").is_none() || app.get("/app").await.status.is_redirection());
    }

    async fn cross_site_requests_change_nothing(app) {
        app.setup_admin().await;
        // Signed in, but the request comes from another site's page.
        let res = app.call_from("create_token", &[("name", "evil"), ("role", "admin")], Some("https://evil.example")).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert!(res.text().contains("another site"));
        let res = app.call_from("create_token", &[("name", "evil"), ("role", "admin")], None).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "no Origin or Referer at all");
        let res = app.call_from("logout", &[], Some("null")).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert!(app.db().list_tokens().await.unwrap().is_empty());
        // A Referer from this site is accepted when Origin is missing.
        let req = axum::http::Request::post("/fn/create_token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::REFERER, "http://127.0.0.1:3000/app/tokens")
            .body(axum::body::Body::from("name=ci&role=engineer")).unwrap();
        assert_eq!(app.send(req).await.status, StatusCode::OK);
        // The same page with its own Origin works.
        let ok = app.call("create_token", &[("name", "ci2"), ("role", "engineer")]).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
        assert_eq!(app.db().list_tokens().await.unwrap().len(), 2);
    }

    async fn https_public_url_makes_the_cookie_secure(app) {
        let _ = app;
        let secure = TestApp::start_with(Backend::Sqlite, &[("SHIPLOG_PUBLIC_URL", "https://notes.example.com")]).await.unwrap();
        let res = secure.call_from("create_admin", &[("email", "a@example.com"), ("name", "A"), ("password", PASSWORD)], Some("https://notes.example.com")).await;
        assert!(res.status.is_success(), "{}", res.text());
        let cookie = res.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        assert!(cookie.contains("Secure"), "{cookie}");
    }
}
