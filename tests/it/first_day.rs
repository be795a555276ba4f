//! A new team's first day: production exists from the first start with the
//! README's deploy nights, so CI's gate step and anyone's block work before
//! the first deploy; a typo in an environment's name is refused instead of
//! becoming an environment, unless an admin lets deploys create them.

use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use serde_json::json;

on_both_databases! {
    async fn production_exists_before_the_first_deploy(app) {
        let viewer = app.token("viewer").await;
        let envs = app.api(Method::GET, "/api/v1/environments", Some(&viewer), None).await;
        assert_eq!(envs.status, StatusCode::OK, "{}", envs.text());
        let envs = envs.json();
        assert_eq!(envs.as_array().unwrap().len(), 1, "{envs}");
        assert_eq!(envs[0]["slug"], "production");
        assert_eq!(envs[0]["kind"], "production");
        assert_eq!(envs[0]["schedule_days"], json!([1, 2, 3, 4, 5]), "Monday to Friday");
        assert_eq!(envs[0]["schedule_time"], "21:00");

        // CI's first gate step answers.
        let gate = app.api(Method::GET, "/api/v1/gate?environment=production", Some(&viewer), None).await;
        assert_eq!(gate.status, StatusCode::OK, "{}", gate.text());
        assert_eq!(gate.json()["open"], true);
        // Nothing is promotable yet: a conflict saying so, not "no environment".
        let promotable = app.api(Method::GET, "/api/v1/builds/promotable?environment=production", Some(&viewer), None).await;
        assert_eq!(promotable.status, StatusCode::CONFLICT, "{}", promotable.text());
        // Anyone can block tonight's deploy.
        let block = app.api(Method::POST, "/api/v1/blocks", Some(&viewer),
            Some(json!({"environment": "production", "reason": "Payments are down at the provider"}))).await;
        assert_eq!(block.status, StatusCode::CREATED, "{}", block.text());
        let gate = app.api(Method::GET, "/api/v1/gate?environment=production", Some(&viewer), None).await.json();
        assert_eq!(gate["open"], false, "{gate}");
    }

    async fn a_deploy_to_an_unknown_environment_is_refused_unless_admins_allow_it(app) {
        let ci = app.token("engineer").await;
        let typo = app.api(Method::POST, "/api/v1/deploys", Some(&ci), Some(json!({
            "environment": "prod", "version": "1.0.0", "status": "succeeded",
            "entries": [{"title": "Faster exports", "kind": "improvement"}]}))).await;
        assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", typo.text());
        let error = typo.json()["error"].clone();
        assert_eq!(error["field"], "environment");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("`prod`") && message.contains("`production`"), "names the known ones: {message}");
        // Nothing was stored: no environment, no deploy.
        let viewer = app.token("viewer").await;
        let envs = app.api(Method::GET, "/api/v1/environments", Some(&viewer), None).await.json();
        assert_eq!(envs.as_array().unwrap().len(), 1, "{envs}");
        let deploys = app.api(Method::GET, "/api/v1/deploys", Some(&viewer), None).await.json();
        assert_eq!(deploys["deploys"], json!([]));

        // An admin lets CI create environments, in the app.
        app.setup_admin().await;
        let data = app.call("environments", &[]).await;
        assert!(data.text().contains("\"create_from_ci\":false"), "{}", data.text());
        let engineer_session = app.another_instance(&[]).await;
        engineer_session.sign_in_as(shiplog::model::Role::Engineer).await;
        let refused = engineer_session.call("set_create_environments", &[("on", "true")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
        let on = app.call("set_create_environments", &[("on", "true")]).await;
        assert!(on.status.is_success(), "{}", on.text());
        let created = app.api(Method::POST, "/api/v1/deploys", Some(&ci), Some(json!({
            "environment": "eu-west", "version": "1.0.0", "status": "succeeded"}))).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let envs = app.api(Method::GET, "/api/v1/environments", Some(&viewer), None).await.json();
        let slugs: Vec<&str> = envs.as_array().unwrap().iter().map(|e| e["slug"].as_str().unwrap()).collect();
        assert_eq!(slugs, ["production", "eu-west"]);
        // And turns it off again.
        app.call("set_create_environments", &[("on", "false")]).await;
        let again = app.api(Method::POST, "/api/v1/deploys", Some(&ci), Some(json!({
            "environment": "us-east", "version": "1.0.0"}))).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(again.json()["error"]["message"].as_str().unwrap().contains("`eu-west`"));
    }
}
