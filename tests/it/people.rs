//! Invitations, roles, deactivation and API tokens managed in the app.

use crate::common::*;
use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use shiplog::model::Role;

fn invite_secret(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_string()
}

on_both_databases! {
    async fn invitation_without_smtp_shows_the_link_and_can_be_accepted(app) {
        app.setup_admin().await;
        let res = app.call("invite", &[("email", "Bob@Example.com"), ("role", "engineer")]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let sent = res.json();
        assert_eq!(sent["email"], "bob@example.com");
        let link = sent["link"].as_str().expect("no SMTP: the link is shown").to_string();
        assert!(link.starts_with("http://127.0.0.1:3000/invite/"), "{link}");
        assert!(sent["note"].as_str().unwrap().contains("No SMTP server"));
        // The message was written to the mail folder instead.
        let files: Vec<_> = std::fs::read_dir(&app.mail_dir).unwrap().collect();
        assert_eq!(files.len(), 1);
        let eml = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
        assert!(eml.contains("bob@example.com") && eml.contains("invited you"));

        app.clear_cookies();
        let secret = invite_secret(&link);
        let page = app.get(&format!("/invite/{secret}")).await;
        assert_eq!(page.status, StatusCode::OK);
        let info = app.call("invitation", &[("token", &secret)]).await.json();
        assert_eq!(info["role"], "engineer");
        let joined = app.call("accept_invitation", &[("token", &secret), ("name", "Bob"), ("password", PASSWORD)]).await;
        assert!(joined.status.is_success(), "{}", joined.text());
        let me = app.call("current_user", &[]).await.json();
        assert_eq!(me["email"], "bob@example.com");
        assert_eq!(me["role"], "engineer");

        // A link works once.
        app.clear_cookies();
        let again = app.call("accept_invitation", &[("token", &secret), ("name", "Mallory"), ("password", PASSWORD)]).await;
        assert!(again.text().contains("already been used"), "{}", again.text());
        let bogus = app.call("invitation", &[("token", "not-a-token")]).await;
        assert!(bogus.text().contains("not valid"), "{}", bogus.text());
    }

    async fn expired_invitations_are_refused(app) {
        app.setup_admin().await;
        let link = app.call("invite", &[("email", "late@example.com"), ("role", "viewer")]).await.json()["link"].as_str().unwrap().to_string();
        let secret = invite_secret(&link);
        let hash = shiplog::server::auth::token::hash(&secret);
        let inv = app.db().invitation_by_token(&hash).await.unwrap().unwrap();
        // Accepting as of eight days later fails inside the store's own check.
        let later = chrono::Utc::now() + chrono::TimeDelta::days(8);
        let err = app.db().accept_invitation(inv.id, "Late", "hash", later).await.unwrap_err();
        // Storage refuses with a typed conflict; the services put it in words.
        let err = shiplog::server::error::AppError::from(err).to_string();
        assert!(err.contains("expired"), "{err}");
        assert_eq!(app.db().count_users().await.unwrap(), 1);
    }

    async fn an_address_the_mailer_cannot_send_to_is_refused_up_front(app) {
        app.setup_admin().await;
        // Accepted, then a 500 when the invitation was written.
        let res = app.call("invite", &[("email", "a\"b@example.com"), ("role", "viewer")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
        assert!(res.text().contains("is not an email address"), "{}", res.text());
        assert!(app.db().list_invitations().await.unwrap().is_empty());
    }

    async fn only_admins_manage_people(app) {
        app.setup_admin().await;
        app.sign_in_as(Role::Engineer).await;
        let res = app.call("invite", &[("email", "x@example.com"), ("role", "admin")]).await;
        assert!(res.text().contains("may not invite people"), "{}", res.text());
        let res = app.call("people", &[]).await;
        assert!(res.text().contains("may not manage people"), "{}", res.text());
        let res = app.call("create_token", &[("name", "x"), ("role", "admin")]).await;
        assert!(res.text().contains("may not create API tokens"), "{}", res.text());
        assert!(app.db().list_invitations().await.unwrap().is_empty());
    }

    async fn roles_change_and_deactivation_signs_out(app) {
        app.setup_admin().await;
        let admin_cookie = app.cookie("shiplog_session").unwrap();
        let email = app.sign_in_as(Role::Viewer).await;
        let viewer_cookie = app.cookie("shiplog_session").unwrap();
        let viewer = app.db().user_credentials(&email).await.unwrap().unwrap().0;

        app.set_cookie("shiplog_session", &admin_cookie);
        let id = viewer.id.to_string();
        let res = app.call("update_person", &[("id", &id), ("role", "pm"), ("active", "true")]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        assert_eq!(res.json()["role"], "pm");
        let res = app.call("update_person", &[("id", &id), ("role", "pm"), ("active", "false")]).await;
        assert_eq!(res.json()["active"], false);

        // The deactivated person's session no longer opens anything.
        app.set_cookie("shiplog_session", &viewer_cookie);
        assert!(app.get("/app").await.status.is_redirection());
        app.clear_cookies();
        let res = app.login(&email, PASSWORD).await;
        assert!(res.text().contains("deactivated"), "{}", res.text());
    }

    async fn the_last_admin_cannot_be_removed(app) {
        app.setup_admin().await;
        let me = app.call("current_user", &[]).await.json();
        let id = me["id"].as_i64().unwrap().to_string();
        let res = app.call("update_person", &[("id", &id), ("role", "viewer"), ("active", "true")]).await;
        assert!(res.text().contains("at least one active admin"), "{}", res.text());
        let res = app.call("update_person", &[("id", &id), ("role", "admin"), ("active", "false")]).await;
        assert!(res.text().contains("at least one active admin"), "{}", res.text());
        let me = app.call("current_user", &[]).await.json();
        assert_eq!(me["role"], "admin");
    }

    async fn tokens_are_shown_once_listed_and_revoked(app) {
        app.setup_admin().await;
        let created = app.call("create_token", &[("name", "GitHub Actions"), ("role", "engineer")]).await.json();
        let secret = created["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("shp_"));
        let id = created["token"]["id"].as_i64().unwrap();

        let list = app.call("tokens", &[]).await;
        assert!(!list.text().contains(&secret), "the secret is never listed");
        let list = list.json();
        assert_eq!(list[0]["name"], "GitHub Actions");
        assert!(secret.starts_with(list[0]["prefix"].as_str().unwrap()));
        assert!(list[0]["last_used_at"].is_null());

        assert_eq!(app.api(Method::GET, "/api/v1/deploys", Some(&secret), None).await.status, StatusCode::OK);
        assert!(app.call("tokens", &[]).await.json()[0]["last_used_at"].is_string());

        let revoked = app.call("revoke_token", &[("id", &id.to_string())]).await;
        assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text());
        assert_eq!(app.api(Method::GET, "/api/v1/deploys", Some(&secret), None).await.status, StatusCode::UNAUTHORIZED);
        assert!(app.call("tokens", &[]).await.json()[0]["revoked_at"].is_string());
        // Stored hashed: the secret itself appears nowhere in the store.
        let stored = app.db().token_by_hash(&secret).await.unwrap();
        assert!(stored.is_none());
    }
}
