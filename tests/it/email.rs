//! Customer email: subscribing with double opt-in, preferences and one-click
//! unsubscribe, the subscribers API, and announcements sent once to exactly
//! the subscribers who may read them.

use crate::common::{TestApp, ORIGIN};
use crate::on_both_databases;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

/// Every message written to the test outbox, decoded enough to read.
fn outbox(app: &TestApp) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(&app.mail_dir) else {
        return vec![];
    };
    let mut files: Vec<_> = dir.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .replace("=\r\n", "")
                .replace("=3D", "=")
        })
        .collect()
}

fn to(app: &TestApp, address: &str) -> Vec<String> {
    outbox(app)
        .into_iter()
        .filter(|m| m.contains(&format!("To: {address}")))
        .collect()
}

/// The first absolute link in `message` that starts with `prefix`.
fn link(message: &str, prefix: &str) -> String {
    let start = message
        .find(&format!("http://127.0.0.1:3000{prefix}"))
        .unwrap_or_else(|| panic!("no {prefix} link in {message}"));
    message[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .next()
        .unwrap()
        .trim_start_matches("http://127.0.0.1:3000")
        .to_string()
}

fn form_token(html: &str) -> String {
    let at = html
        .find("name=\"form_token\" value=\"")
        .expect("the page has a subscribe form");
    html[at + 25..].split('"').next().unwrap().to_string()
}

async fn post_form(
    app: &TestApp,
    path: &str,
    pairs: &[(&str, &str)],
    origin: Option<&str>,
) -> crate::common::TestResponse {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let mut req =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    app.send(req.body(Body::from(body)).unwrap()).await
}

/// Runs the delivery engine until it has nothing left to send.
async fn deliver(app: &TestApp) {
    let mut check = None;
    for _ in 0..100 {
        if !app.app.state.engine.run_once(&mut check).await.unwrap() {
            return;
        }
    }
    panic!("the engine never ran out of work");
}

async fn subscribers(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app
        .api(Method::GET, "/api/v1/subscribers", Some(token), None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    res.json()["subscribers"].as_array().unwrap().clone()
}

on_both_databases! {
    async fn subscribing_needs_confirmation_and_answers_alike(app) {
        app.setup_admin().await;
        let home = app.get("/").await.text();
        let token = form_token(&home);
        let subscribe = |email: &'static str, extra: &'static [(&'static str, &'static str)], token: String| {
            let app = &app;
            async move {
                let mut pairs = vec![("email", email), ("form_token", token.as_str())];
                pairs.extend_from_slice(extra);
                post_form(app, "/subscribe", &pairs, Some(ORIGIN)).await
            }
        };
        let first = subscribe("Ana@Example.com", &[], token.clone()).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text());
        assert!(first.text().contains("Check your inbox"));
        let mails = to(&app, "ana@example.com");
        assert_eq!(mails.len(), 1, "one confirmation request");
        assert!(mails[0].contains("Subject: Confirm your subscription"));
        let confirm = link(&mails[0], "/subscribe/confirm");

        // Nothing is confirmed before the link is opened.
        let pm = app.token("pm").await;
        let listed = subscribers(&app, &pm).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["status"], "pending");
        assert_eq!(listed[0]["email"], "ana@example.com");

        let ok = app.get(&confirm).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
        assert!(ok.text().contains("You are subscribed"));
        assert_eq!(app.get(&confirm).await.status, StatusCode::OK, "confirming twice is fine");
        assert_eq!(subscribers(&app, &pm).await[0]["status"], "confirmed");

        // A tampered link confirms nothing.
        let tampered = format!("{}0", confirm);
        assert_eq!(app.get(&tampered).await.status, StatusCode::NOT_FOUND);

        // Known address: the same page, and a note to the address itself.
        let again = subscribe("ana@example.com", &[], token.clone()).await;
        assert_eq!(again.status, StatusCode::OK);
        // Each page carries a fresh form token (it names the second it was
        // made in); apart from it, the pages are the same.
        let without_token = |html: String| html.replace(&form_token(&html), "");
        assert_eq!(without_token(again.text()), without_token(first.text()));
        let mails = to(&app, "ana@example.com");
        assert_eq!(mails.len(), 2, "{mails:#?}\n{}", crate::common::log_text());
        assert!(mails[1].contains("already subscribed"));

        // A bot filling the hidden field gets the same page and sends nothing.
        let bot = subscribe("victim@example.com", &[("website", "http://spam")], token.clone()).await;
        assert_eq!(bot.status, StatusCode::OK);
        assert!(bot.text().contains("Check your inbox"));
        assert!(to(&app, "victim@example.com").is_empty());

        // A forged or missing form token is refused, saying why.
        let forged = subscribe("eve@example.com", &[], "1700000000.abcdef".into()).await;
        assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(forged.text().contains("This form has expired"), "{}", forged.text());
        let bad = subscribe("not an address", &[], token.clone()).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.text().contains("is not an email address"));
        // From another site: refused before anything happens.
        let cross = post_form(&app, "/subscribe", &[("email", "x@example.com"), ("form_token", &token)], Some("https://evil.example")).await;
        assert_eq!(cross.status, StatusCode::FORBIDDEN);
        assert!(to(&app, "x@example.com").is_empty());
        assert_eq!(subscribers(&app, &pm).await.len(), 1);
    }

    async fn preferences_and_one_click_unsubscribe(app) {
        let token = form_token(&app.get("/changes").await.text());
        post_form(&app, "/subscribe", &[("email", "li@example.com"), ("form_token", &token)], Some(ORIGIN)).await;
        let confirm = link(&to(&app, "li@example.com")[0], "/subscribe/confirm");
        let done = app.get(&confirm).await.text();
        let prefs = link(&done.replace("href=\"/subscription", "href=\"http://127.0.0.1:3000/subscription"), "/subscription/");
        let secret = prefs.trim_start_matches("/subscription/").to_string();

        let page = app.get(&prefs).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("li@example.com"));
        assert!(page.text().contains("You are subscribed"));

        // Choices are saved; choosing nothing is refused, clearly.
        // The preferences page sends no Referer, so browsers post its form
        // with `Origin: null`; the secret in the address is the proof.
        let saved = post_form(&app, &prefs, &[("choosing", "1"), ("digest", "weekly"), ("kinds", "security"), ("kinds", "fix"), ("components", "billing, api")], Some("null")).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
        assert!(saved.text().contains("Your choices are saved"));
        let pm = app.token("pm").await;
        let s = &subscribers(&app, &pm).await[0];
        assert_eq!(s["releases"], false);
        assert_eq!(s["digest"], "weekly");
        assert_eq!(s["kinds"], json!(["security", "fix"]));
        assert_eq!(s["components"], json!(["api", "billing"]));
        let nothing = post_form(&app, &prefs, &[("choosing", "1"), ("kinds", "fix")], Some(ORIGIN)).await;
        assert_eq!(nothing.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(nothing.text().contains("Choose release announcements, a digest, or both"));

        // A GET of the unsubscribe link only asks (mail scanners follow links).
        let ask = app.get(&format!("/unsubscribe/{secret}")).await;
        assert_eq!(ask.status, StatusCode::OK);
        assert_eq!(subscribers(&app, &pm).await[0]["status"], "confirmed");
        // One click: a POST from a mail client, with no session and no Origin.
        let click = app.send(Request::post(format!("/unsubscribe/{secret}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("List-Unsubscribe=One-Click")).unwrap()).await;
        assert_eq!(click.status, StatusCode::OK, "{}", click.text());
        assert!(click.text().contains("You are unsubscribed"));
        assert_eq!(subscribers(&app, &pm).await[0]["status"], "unsubscribed");
        assert_eq!(app.get("/unsubscribe/not-a-secret").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/subscription/not-a-secret").await.status, StatusCode::NOT_FOUND);
    }

    async fn subscribing_from_a_private_link_joins_its_account(app) {
        let pm = app.token("pm").await;
        app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": "acme", "name": "Acme"}))).await;
        let link = app.api(Method::POST, "/api/v1/accounts/acme/links", Some(&pm), Some(json!({"admin": true}))).await.json();
        let path = link["url"].as_str().unwrap().trim_start_matches("http://127.0.0.1:3000").trim_end_matches('/').to_string();
        let page = app.get(&format!("{path}/")).await.text();
        assert!(page.contains(&format!("action=\"{path}/subscribe\"")), "the private page's form posts under its link");
        // Private pages send no Referer: the browser posts with `Origin: null`.
        let res = post_form(&app, &format!("{path}/subscribe"), &[("email", "boss@acme.example"), ("form_token", &form_token(&page))], Some("null")).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        assert_eq!(res.headers["referrer-policy"], "no-referrer");
        let s = &subscribers(&app, &pm).await[0];
        assert_eq!(s["account"], "acme");
        assert_eq!(s["account_admin"], true);
        assert_eq!(s["source"], "link");
        // Naming another site is still refused.
        let evil = post_form(&app, &format!("{path}/subscribe"), &[("email", "x@acme.example"), ("form_token", &form_token(&page))], Some("https://evil.example")).await;
        assert_eq!(evil.status, StatusCode::FORBIDDEN);
    }

    async fn the_app_imports_csv_after_a_preview_and_exports_it(app) {
        use shiplog::model::Role;
        app.setup_admin().await;
        app.sign_in_as(Role::Pm).await;
        let csv = "email,account,releases,digest,kinds,components\nana@example.com,,yes,weekly,fix;security,api\nbad,,yes,off,,\nana@example.com,,yes,off,,\n";
        let preview = app.call("import_subscribers", &[("csv", csv), ("consented", "1"), ("preview", "1")]).await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.text());
        let report = preview.json();
        assert_eq!(report["imported"], false);
        assert_eq!(report["accepted"], 1);
        assert_eq!(report["rejected"].as_array().unwrap().len(), 2, "{report}");
        let good = "email,account,releases,digest,kinds,components\nana@example.com,,yes,weekly,fix;security,api\nbo@example.com,,no,daily,,\n";
        let preview = app.call("import_subscribers", &[("csv", good), ("preview", "1")]).await.json();
        assert_eq!(preview["accepted"], 2);
        assert_eq!(preview["imported"], false, "a preview stores nothing");
        let done = app.call("import_subscribers", &[("csv", good), ("consented", "1")]).await.json();
        assert_eq!(done["imported"], true, "{done}");
        assert!(to(&app, "ana@example.com").is_empty(), "consented people are not asked to confirm");
        let unknown = app.call("import_subscribers", &[("csv", "mail,name\nx@example.com,X\n")]).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(unknown.text().contains("including `email`"), "{}", unknown.text());

        let export = app.get("/app/subscribers/export.csv").await;
        assert_eq!(export.status, StatusCode::OK);
        assert!(export.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
        let text = export.text();
        assert!(text.starts_with("email,account,releases,digest,kinds,components,status"), "{text}");
        assert!(text.contains("ana@example.com,,yes,weekly,fix;security,api,confirmed,no"), "{text}");
        assert!(text.contains("bo@example.com,,no,daily,feature;fix;improvement;security,,confirmed"), "{text}");

        app.sign_in_as(Role::Viewer).await;
        assert_eq!(app.get("/app/subscribers/export.csv").await.status, StatusCode::FORBIDDEN);
        app.clear_cookies();
        assert_ne!(app.get("/app/subscribers/export.csv").await.status, StatusCode::OK);
    }

    async fn publishing_can_skip_the_announcement(app) {
        let pm = app.token("pm").await;
        let eng = app.token("engineer").await;
        let deploy = app.record_deploy(&eng, json!({"environment": "production", "version": "q1", "status": "succeeded",
            "entries": [{"title": "Quiet fix", "kind": "fix"}, {"title": "Loud feature", "kind": "feature"}]})).await;
        for (slug, entry, announce) in [("quiet", 0, Some(false)), ("loud", 1, None)] {
            app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": slug, "slug": slug}))).await;
            let linked = app.api(Method::POST, &format!("/api/v1/releases/{slug}/entries"), Some(&pm),
                Some(json!({"entry_ids": [deploy["entries"][entry]["id"]]}))).await;
            let mut body = json!({"revision": linked.json()["revision"]});
            if let Some(a) = announce {
                body["announce"] = json!(a);
            }
            let p = app.api(Method::POST, &format!("/api/v1/releases/{slug}/publish"), Some(&pm), Some(body)).await;
            assert_eq!(p.status, StatusCode::OK, "{}", p.text());
        }
        let list = app.api(Method::GET, "/api/v1/campaigns", Some(&pm), None).await.json();
        let releases: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["release"].as_str().unwrap()).collect();
        assert_eq!(releases, ["loud"], "only the announced release has a draft");
        // A PM may still make one later, by hand.
        let later = app.api(Method::POST, "/api/v1/campaigns", Some(&pm), Some(json!({"release": "quiet"}))).await;
        assert_eq!(later.status, StatusCode::CREATED);
    }

    async fn a_refused_publish_leaves_the_announcement_choice_as_it_was(app) {
        let pm = app.token("pm").await;
        let eng = app.token("engineer").await;
        let deploy = app.record_deploy(&eng, json!({"environment": "production", "version": "r1", "status": "succeeded",
            "entries": [{"title": "Faster search", "kind": "feature"}]})).await;
        app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "Search", "slug": "search"}))).await;
        let linked = app.api(Method::POST, "/api/v1/releases/search/entries", Some(&pm),
            Some(json!({"entry_ids": [deploy["entries"][0]["id"]]}))).await.json();
        let revision = linked["revision"].as_i64().unwrap();
        // "Don't announce", from a page opened before someone else's edit: refused as stale.
        let stale = app.api(Method::POST, "/api/v1/releases/search/publish", Some(&pm),
            Some(json!({"revision": revision - 1, "announce": false}))).await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text());
        // Published again from the current revision without choosing: the refused choice was not kept.
        let p = app.api(Method::POST, "/api/v1/releases/search/publish", Some(&pm),
            Some(json!({"revision": revision}))).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.text());
        let list = app.api(Method::GET, "/api/v1/campaigns", Some(&pm), None).await.json();
        let releases: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["release"].as_str().unwrap()).collect();
        assert_eq!(releases, ["search"], "the release is announced as it would have been");
    }

    async fn the_subscribers_api_adds_all_or_nothing(app) {
        let pm = app.token("pm").await;
        app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": "acme", "name": "Acme"}))).await;
        let bad = app.api(Method::POST, "/api/v1/subscribers", Some(&pm), Some(json!([
            {"email": "one@example.com", "releases": true, "digest": "off", "confirmed": true},
            {"email": "not-an-address", "releases": true, "digest": "off"},
            {"email": "ONE@example.com", "releases": true, "digest": "off"},
            {"email": "two@example.com", "account": "nope", "releases": true, "digest": "daily"},
        ]))).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text());
        let body = bad.json();
        assert_eq!(body["error"]["code"], "invalid");
        let rejected = body["rejected"].as_array().unwrap();
        assert_eq!(rejected.len(), 3, "{body}");
        assert_eq!(rejected[0]["row"], 2);
        assert!(rejected[1]["reason"].as_str().unwrap().contains("appears earlier"));
        assert!(rejected[2]["reason"].as_str().unwrap().contains("no account `nope`"));
        assert!(subscribers(&app, &pm).await.is_empty(), "nothing was added");

        let ok = app.api(Method::POST, "/api/v1/subscribers", Some(&pm), Some(json!([
            {"email": "one@example.com", "releases": true, "digest": "off", "confirmed": true},
            {"email": "two@example.com", "account": "acme", "releases": false, "digest": "daily", "kinds": ["fix"]},
        ]))).await;
        assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text());
        assert_eq!(ok.json()["imported"], true);
        // Confirmed people get nothing now; the others get the request.
        assert!(to(&app, "one@example.com").is_empty());
        assert_eq!(to(&app, "two@example.com").len(), 1);
        let single = app.api(Method::POST, "/api/v1/subscribers", Some(&pm), Some(json!(
            {"email": "three@example.com", "releases": true, "digest": "weekly", "confirmed": true}))).await;
        assert_eq!(single.status, StatusCode::CREATED);
        let dup = app.api(Method::POST, "/api/v1/subscribers", Some(&pm), Some(json!(
            {"email": "three@example.com", "releases": true, "digest": "weekly"}))).await;
        assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);

        let acme = app.api(Method::GET, "/api/v1/subscribers?account=acme", Some(&pm), None).await.json();
        assert_eq!(acme["total"], 1);
        assert_eq!(acme["subscribers"][0]["email"], "two@example.com");
        let pending = app.api(Method::GET, "/api/v1/subscribers?status=pending", Some(&pm), None).await.json();
        assert_eq!(pending["total"], 1);
        let bad_status = app.api(Method::GET, "/api/v1/subscribers?status=bogus", Some(&pm), None).await;
        assert_eq!(bad_status.status, StatusCode::UNPROCESSABLE_ENTITY);
        let viewer = app.token("viewer").await;
        assert_eq!(app.api(Method::GET, "/api/v1/subscribers", Some(&viewer), None).await.status, StatusCode::FORBIDDEN);
        let eng = app.token("engineer").await;
        assert_eq!(app.api(Method::POST, "/api/v1/subscribers", Some(&eng), Some(json!({"email": "x@example.com"}))).await.status, StatusCode::FORBIDDEN);

        // Suppression: admin only, and a suppressed address shows as such.
        let admin = app.token("admin").await;
        let refused = app.api(Method::POST, "/api/v1/suppressions", Some(&pm), Some(json!({"email": "one@example.com", "reason": "bounce"}))).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let wrong = app.api(Method::POST, "/api/v1/suppressions", Some(&admin), Some(json!({"email": "one@example.com", "reason": "angry"}))).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        let s = app.api(Method::POST, "/api/v1/suppressions", Some(&admin), Some(json!({"email": "One@example.com", "reason": "complaint"}))).await;
        assert_eq!(s.status, StatusCode::CREATED, "{}", s.text());
        let suppressed = app.api(Method::GET, "/api/v1/subscribers?status=suppressed", Some(&pm), None).await.json();
        assert_eq!(suppressed["total"], 1);
        assert_eq!(suppressed["subscribers"][0]["suppressed"], true);
        // Until an admin lifts it.
        assert_eq!(app.api(Method::DELETE, "/api/v1/suppressions/one@example.com", Some(&pm), None).await.status, StatusCode::FORBIDDEN);
        assert_eq!(app.api(Method::DELETE, "/api/v1/suppressions/one@example.com", Some(&admin), None).await.status, StatusCode::NO_CONTENT);
        assert_eq!(app.api(Method::DELETE, "/api/v1/suppressions/one@example.com", Some(&admin), None).await.status, StatusCode::NOT_FOUND);
        let none = app.api(Method::GET, "/api/v1/subscribers?status=suppressed", Some(&pm), None).await.json();
        assert_eq!(none["total"], 0);
    }

    async fn announcements_reach_exactly_who_may_read_them_once(app) {
        let pm = app.token("pm").await;
        let admin = app.token("admin").await;
        let eng = app.token("engineer").await;
        for (slug, name) in [("acme", "Acme"), ("globex", "Globex")] {
            app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": slug, "name": name}))).await;
        }
        app.api(Method::POST, "/api/v1/cohorts", Some(&pm), Some(json!({"slug": "beta", "name": "Beta"}))).await;
        app.api(Method::PUT, "/api/v1/cohorts/beta/members", Some(&pm), Some(json!({"accounts": ["acme"]}))).await;
        let added = app.api(Method::POST, "/api/v1/subscribers", Some(&pm), Some(json!([
            {"email": "public@example.com", "releases": true, "digest": "off", "confirmed": true},
            {"email": "acme@example.com", "account": "acme", "releases": true, "digest": "off", "confirmed": true},
            {"email": "globex@example.com", "account": "globex", "releases": true, "digest": "off", "confirmed": true},
            {"email": "security-only@example.com", "releases": true, "digest": "off", "kinds": ["security"], "confirmed": true},
            {"email": "digest-only@example.com", "releases": false, "digest": "weekly", "confirmed": true},
            {"email": "pending@example.com", "releases": true, "digest": "off"},
            {"email": "bounced@example.com", "releases": true, "digest": "off", "confirmed": true},
        ]))).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
        app.api(Method::POST, "/api/v1/suppressions", Some(&admin), Some(json!({"email": "bounced@example.com", "reason": "bounce"}))).await;

        let deploy = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [
                {"title": "Exports for <everyone>", "kind": "feature", "audience": "everyone", "body": "Export **all** the things."},
                {"title": "Beta dashboards", "kind": "feature", "audience": "cohort:beta"},
            ]})).await;
        let ids: Vec<i64> = deploy["entries"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
        let r = app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "November", "slug": "november", "narrative": "Hello **readers**."}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let linked = app.api(Method::POST, "/api/v1/releases/november/entries", Some(&pm), Some(json!({"entry_ids": ids}))).await;
        let published = app.api(Method::POST, "/api/v1/releases/november/publish", Some(&pm), Some(json!({"revision": linked.json()["revision"]}))).await;
        assert_eq!(published.status, StatusCode::OK, "{}", published.text());

        // Publishing drafted the announcement; asking for it again answers that draft.
        let c = app.api(Method::POST, "/api/v1/campaigns", Some(&pm), Some(json!({"release": "november"}))).await;
        assert_eq!(c.status, StatusCode::OK, "{}", c.text());
        let campaign = c.json();
        assert_eq!(campaign["status"], "draft");
        assert_eq!(campaign["recipients"], 4, "{campaign}");
        let id = campaign["id"].as_i64().unwrap();
        assert!(outbox(&app).iter().all(|m| !m.contains("Subject: November")), "nothing is sent before Send");

        let eng_send = app.api(Method::POST, &format!("/api/v1/campaigns/{id}/send"), Some(&eng), None).await;
        assert_eq!(eng_send.status, StatusCode::FORBIDDEN);
        let sent = app.api(Method::POST, &format!("/api/v1/campaigns/{id}/send"), Some(&pm), None).await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
        assert_eq!(sent.json()["status"], "sending");
        deliver(&app).await;

        let done = app.api(Method::GET, &format!("/api/v1/campaigns/{id}"), Some(&pm), None).await.json();
        assert_eq!(done["status"], "sent", "{done}");
        assert_eq!(done["counts"]["sent"], 3, "{done}");
        assert_eq!(done["counts"]["skipped"], 1, "security-only has nothing in this release: {done}");
        assert_eq!(done["counts"]["queued"], 0);

        let public = to(&app, "public@example.com");
        assert_eq!(public.len(), 1);
        let m = &public[0];
        assert!(m.contains("Subject: November"));
        assert!(m.contains("Exports for &lt;everyone&gt;"));
        assert!(!m.contains("Beta dashboards"), "a cohort entry reaches only its cohort");
        assert!(m.contains("List-Unsubscribe: <http://127.0.0.1:3000/unsubscribe/"));
        assert!(m.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(m.contains("List-Id: Release notes <notes.127.0.0.1>"));
        assert!(m.contains(&format!("Message-ID: <campaign-{id}-")));
        assert!(m.contains("Content-Type: text/plain") && m.contains("Content-Type: text/html"));
        let acme = to(&app, "acme@example.com");
        assert_eq!(acme.len(), 1);
        assert!(acme[0].contains("Beta dashboards"));
        assert!(!to(&app, "globex@example.com")[0].contains("Beta dashboards"));
        // An account's subscriber follows links to the pages they may read
        // (under their own secret); the public's lead to the public site.
        let at = acme[0].find("Beta dashboards").unwrap();
        let beta = link(&acme[0][at..], "/a/");
        assert!(beta.contains("/changes/"), "{beta}");
        let page = app.get(&beta).await;
        assert_eq!(page.status, StatusCode::OK, "{beta}");
        assert!(page.text().contains("Beta dashboards"));
        assert!(page.text().contains("Private release notes for Acme"));
        assert!(link(m, "/changes/").starts_with("/changes/"));
        for nobody in ["security-only@example.com", "digest-only@example.com", "bounced@example.com"] {
            assert!(to(&app, nobody).is_empty(), "{nobody} got mail");
        }
        assert_eq!(to(&app, "pending@example.com").len(), 1, "only the confirmation request");

        // Sent once: running the engine again, or sending again, sends nothing.
        deliver(&app).await;
        assert_eq!(to(&app, "public@example.com").len(), 1);
        let again = app.api(Method::POST, &format!("/api/v1/campaigns/{id}/send"), Some(&pm), None).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(app.api(Method::GET, "/api/v1/campaigns/9999", Some(&pm), None).await.status, StatusCode::NOT_FOUND);

        // The unsubscribe link in the email works in one click.
        let unsubscribe = link(m, "/unsubscribe/");
        let click = app.send(Request::post(&unsubscribe).body(Body::empty()).unwrap()).await;
        assert_eq!(click.status, StatusCode::OK);
        let status = app.api(Method::GET, "/api/v1/subscribers?q=public", Some(&pm), None).await.json();
        assert_eq!(status["subscribers"][0]["status"], "unsubscribed");
        let after = app.api(Method::GET, &format!("/api/v1/campaigns/{id}"), Some(&pm), None).await.json();
        assert_eq!(after["unsubscribed_since"], 1, "{after}");
        // Unsubscribed, an account's subscriber's secret no longer opens its pages.
        let acme_secret = link(&acme[0], "/unsubscribe/").trim_start_matches("/unsubscribe/").to_string();
        app.send(Request::post(format!("/unsubscribe/{acme_secret}")).body(Body::empty()).unwrap()).await;
        assert_eq!(app.get(&beta).await.status, StatusCode::NOT_FOUND);
    }

    async fn campaigns_pause_resume_cancel_and_schedule(app) {
        let pm = app.token("pm").await;
        let eng = app.token("engineer").await;
        let people: Vec<Value> = (0..5).map(|i| json!({"email": format!("p{i}@example.com"), "releases": true, "digest": "off", "confirmed": true})).collect();
        app.api(Method::POST, "/api/v1/subscribers", Some(&pm), Some(Value::Array(people))).await;
        let deploy = app.record_deploy(&eng, json!({"environment": "production", "version": "v2", "status": "succeeded",
            "entries": [{"title": "A fix", "kind": "fix"}]})).await;
        let id = deploy["entries"][0]["id"].as_i64().unwrap();
        app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "Draft one", "slug": "draft-one"}))).await;
        let linked = app.api(Method::POST, "/api/v1/releases/draft-one/entries", Some(&pm), Some(json!({"entry_ids": [id]}))).await;
        // A release that is not published cannot be announced.
        let c = app.api(Method::POST, "/api/v1/campaigns", Some(&pm), Some(json!({"release": "draft-one"}))).await;
        assert_eq!(c.status, StatusCode::CREATED, "{}", c.text());
        let cid = c.json()["id"].as_i64().unwrap();
        let early = app.api(Method::POST, &format!("/api/v1/campaigns/{cid}/send"), Some(&pm), None).await;
        assert_eq!(early.status, StatusCode::CONFLICT);
        assert!(early.json()["error"]["message"].as_str().unwrap().contains("Publish the release"));
        app.api(Method::POST, "/api/v1/releases/draft-one/publish", Some(&pm), Some(json!({"revision": linked.json()["revision"]}))).await;
        let unknown = app.api(Method::POST, "/api/v1/campaigns", Some(&pm), Some(json!({"release": "nope"}))).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Scheduled for later: nothing goes out yet.
        let later = app.api(Method::POST, &format!("/api/v1/campaigns/{cid}/send"), Some(&pm), Some(json!({"at": "2099-01-01T09:00:00Z"}))).await;
        assert_eq!(later.status, StatusCode::OK, "{}", later.text());
        assert_eq!(later.json()["status"], "scheduled");
        deliver(&app).await;
        assert!(to(&app, "p0@example.com").is_empty());

        // Sent now, paused before the engine runs: nothing goes out until resumed.
        let now = app.api(Method::POST, &format!("/api/v1/campaigns/{cid}/send"), Some(&pm), None).await;
        assert_eq!(now.json()["status"], "sending");
        let paused = app.api(Method::POST, &format!("/api/v1/campaigns/{cid}/pause"), Some(&pm), None).await;
        assert_eq!(paused.json()["status"], "paused");
        deliver(&app).await;
        assert!(to(&app, "p0@example.com").is_empty());
        assert_eq!(app.api(Method::POST, &format!("/api/v1/campaigns/{cid}/pause"), Some(&pm), None).await.status, StatusCode::CONFLICT);
        let resumed = app.api(Method::POST, &format!("/api/v1/campaigns/{cid}/resume"), Some(&pm), None).await;
        assert_eq!(resumed.json()["status"], "sending");
        deliver(&app).await;
        let done = app.api(Method::GET, &format!("/api/v1/campaigns/{cid}"), Some(&pm), None).await.json();
        assert_eq!(done["status"], "sent");
        assert_eq!(done["counts"]["sent"], 5);
        assert_eq!(app.api(Method::POST, &format!("/api/v1/campaigns/{cid}/cancel"), Some(&pm), None).await.status, StatusCode::CONFLICT);
    }
}

/// Digests: once per subscriber per period, only what is new since their
/// last one, nothing when nothing new matches.
async fn digests_go_out_once_per_period(backend: crate::common::Backend) {
    use chrono::{Datelike, TimeDelta, Utc};
    let tomorrow = Utc::now() + TimeDelta::days(1) + TimeDelta::hours(1);
    let weekday = format!("{:?}", tomorrow.weekday()).to_lowercase();
    let Some(app) = TestApp::start_with(
        backend,
        &[
            ("SHIPLOG_DIGEST_HOUR", "0"),
            ("SHIPLOG_DIGEST_WEEKDAY", weekday.as_str()),
        ],
    )
    .await
    else {
        return;
    };
    app.add_environment("staging").await;
    let pm = app.token("pm").await;
    let eng = app.token("engineer").await;
    let added = app.api(Method::POST, "/api/v1/subscribers", Some(&pm), Some(json!([
        {"email": "daily@example.com", "releases": false, "digest": "daily", "confirmed": true},
        {"email": "weekly@example.com", "releases": false, "digest": "weekly", "confirmed": true},
        {"email": "security@example.com", "releases": false, "digest": "daily", "kinds": ["security"], "confirmed": true},
        {"email": "none@example.com", "releases": true, "digest": "off", "confirmed": true},
    ]))).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    app.record_deploy(&eng, json!({"environment": "production", "version": "d1", "status": "succeeded",
        "entries": [{"title": "Faster search", "kind": "improvement"}, {"title": "Hidden refactor", "kind": "internal", "audience": "internal"}]})).await;
    app.record_deploy(
        &eng,
        json!({"environment": "staging", "version": "d2", "status": "succeeded",
        "entries": [{"title": "Not in production yet", "kind": "feature"}]}),
    )
    .await;

    let engine = &app.app.state.engine;
    engine.queue_digests(tomorrow).await.unwrap();
    deliver(&app).await;
    let daily = to(&app, "daily@example.com");
    assert_eq!(daily.len(), 1, "one daily digest");
    assert!(daily[0].contains("Faster search"));
    assert!(!daily[0].contains("Hidden refactor") && !daily[0].contains("Not in production yet"));
    assert!(daily[0].contains("Message-ID: <digest-daily:"));
    assert!(daily[0].contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert_eq!(
        to(&app, "weekly@example.com").len(),
        1,
        "tomorrow is the weekly digest's day"
    );
    assert!(
        to(&app, "security@example.com").is_empty(),
        "nothing new of the kinds they chose"
    );
    assert!(to(&app, "none@example.com").is_empty());

    // The same period again (a restart, another instance): nothing more.
    engine
        .queue_digests(tomorrow + TimeDelta::minutes(30))
        .await
        .unwrap();
    deliver(&app).await;
    assert_eq!(to(&app, "daily@example.com").len(), 1);
    assert_eq!(to(&app, "weekly@example.com").len(), 1);

    // The next day: only what shipped since; nothing new means no email.
    engine
        .queue_digests(tomorrow + TimeDelta::days(1))
        .await
        .unwrap();
    deliver(&app).await;
    assert_eq!(
        to(&app, "daily@example.com").len(),
        1,
        "no email when nothing is new"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_sqlite() {
    digests_go_out_once_per_period(crate::common::Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_postgres() {
    digests_go_out_once_per_period(crate::common::Backend::Postgres).await
}

/// Action owners hear on the day an action falls due, and once a week about
/// their overdue ones; never twice for the same day or week.
async fn action_reminders_go_out_once(backend: crate::common::Backend) {
    use chrono::{Datelike, TimeDelta, Utc};
    let tomorrow = Utc::now() + TimeDelta::days(1) + TimeDelta::hours(1);
    let weekday = format!("{:?}", tomorrow.weekday()).to_lowercase();
    let Some(app) = TestApp::start_with(
        backend,
        &[
            ("SHIPLOG_DIGEST_HOUR", "0"),
            ("SHIPLOG_DIGEST_WEEKDAY", weekday.as_str()),
        ],
    )
    .await
    else {
        return;
    };
    app.setup_admin().await;
    let eng = app.token("engineer").await;
    let day = |d: i64| (Utc::now().date_naive() + TimeDelta::days(d)).to_string();
    let mut ids = vec![];
    for (title, due) in [
        ("Alert on <queue> depth", day(1)),
        ("Test the retry path", day(0)),
        ("Already done", day(0)),
    ] {
        let r = app
            .api(
                Method::POST,
                "/api/v1/actions",
                Some(&eng),
                Some(json!({"title": title,
            "owner_email": "admin@example.com", "due": due, "type": "monitoring"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        ids.push(r.json()["number"].as_str().unwrap().to_string());
    }
    app.api(
        Method::PATCH,
        &format!("/api/v1/actions/{}", ids[2]),
        Some(&eng),
        Some(json!({"status": "done"})),
    )
    .await;

    let engine = &app.app.state.engine;
    assert_eq!(
        engine.remind_actions(tomorrow).await.unwrap(),
        2,
        "one due today, one weekly summary"
    );
    let mails = to(&app, "admin@example.com");
    let due: Vec<&String> = mails
        .iter()
        .filter(|m| m.contains("is due today"))
        .collect();
    assert_eq!(due.len(), 1, "{mails:?}");
    assert!(
        due[0].contains(&format!(
            "Subject: {} is due today: Alert on <queue> depth",
            ids[0]
        )),
        "{}",
        due[0]
    );
    assert!(
        due[0].contains("Alert on &lt;queue&gt; depth"),
        "escaped in HTML: {}",
        due[0]
    );
    assert!(due[0].contains("http://127.0.0.1:3000/app/actions"));
    let summary: Vec<&String> = mails.iter().filter(|m| m.contains("are overdue")).collect();
    assert_eq!(summary.len(), 1, "{mails:?}");
    assert!(summary[0].contains("Test the retry path"));
    assert!(
        !summary[0].contains("Already done"),
        "done actions are not overdue"
    );
    assert!(!summary[0].contains("Alert on"), "not overdue yet");

    // Later the same day, another instance or a restart: nothing again.
    assert_eq!(
        engine
            .remind_actions(tomorrow + TimeDelta::hours(2))
            .await
            .unwrap(),
        0
    );
    // The next day: nothing falls due, and it is not the summary's weekday.
    assert_eq!(
        engine
            .remind_actions(tomorrow + TimeDelta::days(1))
            .await
            .unwrap(),
        0
    );
    // A week on, both are overdue: one summary lists them.
    assert_eq!(
        engine
            .remind_actions(tomorrow + TimeDelta::days(7))
            .await
            .unwrap(),
        1
    );
    let mails = to(&app, "admin@example.com");
    let last = mails
        .iter()
        .filter(|m| m.contains("are overdue"))
        .nth(1)
        .expect("a second summary");
    assert!(
        last.contains("Subject: 2 of your actions are overdue"),
        "{last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_reminders_go_out_once_sqlite() {
    action_reminders_go_out_once(crate::common::Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_reminders_go_out_once_postgres() {
    action_reminders_go_out_once(crate::common::Backend::Postgres).await
}

on_both_databases! {
    async fn the_footer_form_subscribes_to_every_kind(app) {
        // The form at the foot of every page sends only an address, its
        // token and the honeypot: what was left out gets the documented
        // default, every kind of change.
        let home = app.get("/changes").await.text();
        let token = form_token(&home);
        let res = post_form(&app, "/subscribe", &[("email", "footer@example.com"), ("form_token", &token), ("website", "")], Some(ORIGIN)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let pm = app.token("pm").await;
        let listed = subscribers(&app, &pm).await;
        assert_eq!(listed[0]["kinds"], json!(["feature", "fix", "improvement", "security"]), "{listed:?}");
        assert_eq!(listed[0]["releases"], true);
        let confirm = link(&to(&app, "footer@example.com")[0], "/subscribe/confirm");
        let done = app.get(&confirm).await.text();
        // The preferences page shows what was chosen: all four ticked.
        let at = done.find("/subscription/").unwrap();
        let prefs_path = done[at..].split('"').next().unwrap().to_string();
        let prefs = app.get(&prefs_path).await.text();
        for kind in ["feature", "fix", "improvement", "security"] {
            let input = format!("name=\"kinds\" value=\"{kind}\" checked");
            assert!(prefs.contains(&input), "{kind} is not ticked:\n{prefs}");
        }

        // The footer subscriber hears about a feature.
        let eng = app.token("engineer").await;
        let deploy = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Exports as CSV", "kind": "feature"}]})).await;
        let ids: Vec<i64> = deploy["entries"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
        app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "December", "slug": "december"}))).await;
        let linked = app.api(Method::POST, "/api/v1/releases/december/entries", Some(&pm), Some(json!({"entry_ids": ids}))).await;
        app.api(Method::POST, "/api/v1/releases/december/publish", Some(&pm), Some(json!({"revision": linked.json()["revision"]}))).await;
        let id = app.api(Method::POST, "/api/v1/campaigns", Some(&pm), Some(json!({"release": "december"}))).await.json()["id"].as_i64().unwrap();
        app.api(Method::POST, &format!("/api/v1/campaigns/{id}/send"), Some(&pm), None).await;
        deliver(&app).await;
        let mails = to(&app, "footer@example.com");
        assert!(mails.iter().any(|m| m.contains("Subject: December") && m.contains("Exports as CSV")), "{mails:#?}");
    }

    async fn a_test_send_never_carries_a_subscribers_secret_links(app) {
        app.setup_admin().await;
        let pm = app.token("pm").await;
        let eng = app.token("engineer").await;
        app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": "acme", "name": "Acme"}))).await;
        let added = app.api(Method::POST, "/api/v1/subscribers", Some(&pm), Some(json!([
            {"email": "customer@example.com", "account": "acme", "releases": true, "digest": "off", "confirmed": true},
        ]))).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
        let deploy = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Faster invoices", "kind": "improvement"}]})).await;
        let ids: Vec<i64> = deploy["entries"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
        app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "Winter", "slug": "winter"}))).await;
        let linked = app.api(Method::POST, "/api/v1/releases/winter/entries", Some(&pm), Some(json!({"entry_ids": ids}))).await;
        app.api(Method::POST, "/api/v1/releases/winter/publish", Some(&pm), Some(json!({"revision": linked.json()["revision"]}))).await;
        let id = app.api(Method::POST, "/api/v1/campaigns", Some(&pm), Some(json!({"release": "winter"}))).await.json()["id"].as_i64().unwrap();

        // The subscriber's own secret, as their real email will carry it.
        let secret = app.db().subscriber_by_email("customer@example.com").await.unwrap().unwrap().token;

        let preview = app.call("preview_campaign", &[("id", &id.to_string()), ("email", "customer@example.com")]).await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.text());
        assert!(preview.text().contains("Faster invoices"));
        assert!(!preview.text().contains(&secret), "the preview shows the subscriber's secret");
        let sent = app.call("test_campaign", &[("id", &id.to_string()), ("email", "customer@example.com")]).await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
        let tests = to(&app, "admin@example.com");
        let test = tests.iter().find(|m| m.contains("[Test] Winter")).expect("the test message");
        assert!(test.contains("Faster invoices"), "the test shows what the subscriber would read");
        assert!(!test.contains(&secret), "the test carries the subscriber's secret:\n{test}");
        // Its links are inert: they explain themselves and change nothing.
        let unsubscribe = link(test, "/unsubscribe/");
        let click = app.send(Request::post(&unsubscribe).body(Body::empty()).unwrap()).await;
        assert_eq!(click.status, StatusCode::OK);
        assert!(click.text().contains("A link from a preview"), "{}", click.text());
        let listed = subscribers(&app, &pm).await;
        assert_eq!(listed[0]["status"], "confirmed", "the test unsubscribed a real customer");
        let prefs = app.get(&link(test, "/subscription/")).await;
        assert!(prefs.text().contains("A link from a preview"));
        let page = app.get(&link(test, "/a/")).await;
        assert!(page.text().contains("A link from a preview"));
        assert!(!page.text().contains("Faster invoices"));
    }
}
