//! The holes an outside probe found, each with the attack that opened it:
//! markup in page titles, Markdown that costs seconds to render, a page cache
//! without bounds, releases and cohorts shown to the wrong readers, secrets in
//! request logs, parallel password guessing, missing security headers and
//! small parsing faults.

use crate::common::*;
use crate::on_both_databases;
use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};
use shiplog::model::Role;

const SCRIPT_TITLE: &str = "</title><script>alert(1)</script>";
const SVG_VERSION: &str = "</title><svg/onload=alert(1)>";

/// A published release of the given entries (all from one succeeded production deploy).
async fn publish_release(
    app: &TestApp,
    pm: &str,
    title: &str,
    entries: &[i64],
    audience: Option<&str>,
) -> Value {
    let mut body = json!({"title": title, "narrative": format!("About {title}.")});
    if let Some(a) = audience {
        body["audience"] = json!(a);
    }
    let r = app
        .api(Method::POST, "/api/v1/releases", Some(pm), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let slug = r.json()["slug"].as_str().unwrap().to_string();
    let d = app
        .api(
            Method::POST,
            &format!("/api/v1/releases/{slug}/entries"),
            Some(pm),
            Some(json!({"entry_ids": entries})),
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text());
    let p = app
        .api(
            Method::POST,
            &format!("/api/v1/releases/{slug}/publish"),
            Some(pm),
            Some(json!({"revision": d.json()["revision"]})),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text());
    p.json()
}

fn ids(deploy: &Value) -> Vec<i64> {
    deploy["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

on_both_databases! {
    async fn page_titles_never_carry_markup(app) {
        app.setup_admin().await;
        let pm = app.token("pm").await;
        let eng = app.token("engineer").await;
        let d = app.record_deploy(&eng, json!({"environment": "production", "version": SVG_VERSION, "status": "succeeded",
            "entries": [{"title": SCRIPT_TITLE, "kind": "feature"}]})).await;
        let deploy_id = d["id"].as_i64().unwrap();
        let r = app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": SCRIPT_TITLE, "slug": "xss"}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let r2 = app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "</title><svg onload=alert(1)>", "slug": "xss-svg"}))).await;
        assert_eq!(r2.status, StatusCode::CREATED, "{}", r2.text());
        // The raw title reached the head only when the page's data was ready in
        // time (in about one load in ten, when pages streamed), so each page is
        // loaded several times; the formatter is unit-tested in `app` too.
        let mut titled = 0;
        for _ in 0..10 {
            for path in ["/app/releases/xss".to_string(), "/app/releases/xss-svg".to_string(), format!("/app/deploys/{deploy_id}")] {
                let page = app.get(&path).await;
                assert_eq!(page.status, StatusCode::OK, "{path}");
                let html = page.text();
                for raw in ["<script>alert(1)", "<svg/onload", "<svg onload"] {
                    assert!(!html.contains(raw), "{path} carries {raw}: {}", &html[..html.len().min(2000)]);
                }
                if html.contains("&lt;/title&gt;&lt;s") && html.contains("<title>") {
                    titled += 1;
                }
            }
        }
        // Team pages render once their data is ready, so the title is always there.
        assert_eq!(titled, 30, "the escaped title is in every page's head");
    }

    // A resource created inside a transition's children (the entry picker's,
    // the narrative preview's) read signals that a second run of those
    // children had already dropped: its task panicked on a worker thread,
    // and about one load in a few hundred never finished its body.
    async fn team_pages_always_finish_rendering(app) {
        app.setup_admin().await;
        let pm = app.token("pm").await;
        let eng = app.token("engineer").await;
        let d = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Linked", "kind": "feature"}, {"title": "Waiting", "kind": "fix", "body": "**bold**"}]})).await;
        let entries = ids(&d);
        let r = app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "Big", "narrative": "# The story\n\nIn *Markdown*."}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let slug = r.json()["slug"].as_str().unwrap().to_string();
        let linked = app.api(Method::POST, &format!("/api/v1/releases/{slug}/entries"), Some(&pm), Some(json!({"entry_ids": [entries[0]]}))).await;
        assert_eq!(linked.status, StatusCode::OK, "{}", linked.text());
        let deploy_id = d["id"].as_i64().unwrap();
        let app = std::sync::Arc::new(app);
        let loaders = (0..4).map(|_| {
            let (app, slug) = (app.clone(), slug.clone());
            tokio::spawn(async move {
                for _ in 0..25 {
                    for path in [format!("/app/releases/{slug}"), format!("/app/deploys/{deploy_id}"), "/app".to_string()] {
                        let page = tokio::time::timeout(std::time::Duration::from_secs(20), app.get(&path)).await
                            .unwrap_or_else(|_| panic!("{path} did not finish within 20 s"));
                        assert_eq!(page.status, StatusCode::OK, "{path}");
                        assert!(page.text().contains("</html>"), "{path} ended early");
                    }
                }
            })
        });
        // Building another app in this process while pages render (as the
        // other tests do) must not stall them: Leptos suppresses resource
        // loading process-wide while it lists an app's routes.
        let builder = {
            let state = app.app.state.clone();
            tokio::spawn(async move {
                for _ in 0..40 {
                    drop(shiplog::server::app::router(state.clone()));
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            })
        };
        for loader in loaders.collect::<Vec<_>>() {
            loader.await.unwrap();
        }
        builder.await.unwrap();
        let page = app.get(&format!("/app/releases/{slug}")).await.text();
        assert!(page.contains("Waiting"), "the picker found the unlinked entry");
        assert!(page.contains("<h1>The story</h1>"), "the narrative's preview rendered");
        let panics: Vec<String> = worker_panics().into_iter().filter(|p| p.contains("disposed")).collect();
        assert!(panics.is_empty(), "a page's task read a dropped signal: {panics:?}");
    }

    async fn deep_markdown_is_refused_before_rendering(app) {
        app.setup_admin().await;
        let eng = app.token("engineer").await;
        let res = app.api(Method::POST, "/api/v1/deploys", Some(&eng), Some(json!({
            "environment": "production", "version": "v1",
            "entries": [{"title": "ok", "kind": "fix"}, {"title": "deep", "kind": "fix", "body": ">".repeat(49_990)}]
        }))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text());
        assert_eq!(res.json()["error"]["field"], "entries[1].body");
        assert!(res.text().contains("levels deep"), "{}", res.text());
        let all = shiplog::server::db::DeployQuery { limit: 10, ..Default::default() };
        assert!(app.db().list_deploys(&all).await.unwrap().is_empty(), "nothing half-written");
        let lists: String = (0..100).map(|i| format!("{}- item\n", "  ".repeat(i))).collect();
        for body in [">".repeat(50_000), "<div>".repeat(10_000), lists, format!("{}x{}", "*".repeat(300), "*".repeat(300))] {
            let preview = app.call("preview_markdown", &[("body", &body)]).await;
            assert_eq!(preview.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", preview.text());
            assert!(preview.text().contains("flatten it"), "{}", preview.text());
        }
        let ok = app.call("preview_markdown", &[("body", "> a quote\n\n- a\n  - b")]).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
        assert!(ok.text().contains("blockquote"));
    }

    async fn the_page_cache_keys_on_what_pages_read_and_stays_bounded(app) {
        let eng = app.token("engineer").await;
        let pm = app.token("pm").await;
        let d = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Big change", "kind": "feature", "body": "word ".repeat(8_000)}]})).await;
        publish_release(&app, &pm, "Big release", &ids(&d), None).await;
        for i in 0..60 {
            assert_eq!(app.get(&format!("/releases/big-release?utm={i}")).await.status, StatusCode::OK);
            assert_eq!(app.get(&format!("/?utm_source={i}")).await.status, StatusCode::OK);
        }
        let (pages, _) = app.app.state.pages.usage();
        assert_eq!(pages, 2, "one copy per page, whatever the tracking parameters");
        // Pages the cache does key on stay within the byte bound.
        let small = app.another_instance(&[("SHIPLOG_PAGE_CACHE_MB", "1")]).await;
        for i in 0..200 {
            small.get(&format!("/changes?q=word{i}")).await;
            small.get(&format!("/?q=big{i}")).await;
        }
        let (pages, bytes) = small.app.state.pages.usage();
        assert!(bytes <= 1024 * 1024, "{bytes} bytes in {pages} pages");
        assert!(pages > 10, "the cache still works: {pages}");
    }

    async fn a_revoked_private_link_stops_on_every_instance_at_once(app) {
        let eng = app.token("engineer").await;
        let pm = app.token("pm").await;
        app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Seen by Acme", "kind": "feature"}]})).await;
        app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": "acme", "name": "Acme"}))).await;
        let url = app.api(Method::POST, "/api/v1/accounts/acme/links", Some(&pm), Some(json!({}))).await.json()["url"]
            .as_str().unwrap().replace("http://127.0.0.1:3000", "");
        let other = app.another_instance(&[("SHIPLOG_PAGE_CACHE_MS", "60000")]).await;
        for instance in [&app, &other] {
            let page = instance.get(&format!("{url}/changes")).await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(page.text().contains("Seen by Acme"));
            assert_eq!(page.headers[header::CACHE_CONTROL], "private, no-store");
        }
        let revoked = app.api(Method::DELETE, "/api/v1/accounts/acme/links", Some(&pm), Some(json!({}))).await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        for instance in [&app, &other] {
            let page = instance.get(&format!("{url}/changes")).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "revoked link still served");
            assert!(!page.text().contains("Seen by Acme"));
        }
    }

    async fn a_release_reaches_only_readers_of_its_entries_and_audience(app) {
        let eng = app.token("engineer").await;
        let pm = app.token("pm").await;
        let beta = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Beta only change", "kind": "feature", "audience": "cohort:beta"}]})).await;
        let open = app.record_deploy(&eng, json!({"environment": "production", "version": "v2", "status": "succeeded",
            "entries": [{"title": "Open change", "kind": "feature"}]})).await;
        publish_release(&app, &pm, "Secret beta release", &ids(&beta), None).await;
        publish_release(&app, &pm, "Admins first release", &ids(&open), Some("admins")).await;
        for path in ["/", "/feeds/releases.atom", "/feeds/releases.json", "/api/v1/releases", "/?q=secret"] {
            let text = app.get(path).await.text();
            assert!(!text.contains("Secret beta release") && !text.contains("About Secret beta"), "{path} leaks the cohort release");
            assert!(!text.contains("Admins first release"), "{path} leaks the admins release");
        }
        for path in ["/releases/secret-beta-release", "/api/v1/releases/secret-beta-release", "/releases/admins-first-release"] {
            assert_eq!(app.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        // The cohort's readers and the account's admins do see them.
        app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": "acme", "name": "Acme"}))).await;
        app.api(Method::POST, "/api/v1/cohorts", Some(&pm), Some(json!({"slug": "beta", "name": "Beta"}))).await;
        app.api(Method::PUT, "/api/v1/cohorts/beta/members", Some(&pm), Some(json!({"accounts": ["acme"]}))).await;
        let link = |admin: bool| {
            let app = &app;
            let pm = pm.clone();
            async move {
                app.api(Method::POST, "/api/v1/accounts/acme/links", Some(&pm), Some(json!({"admin": admin}))).await.json()["url"]
                    .as_str().unwrap().replace("http://127.0.0.1:3000", "")
            }
        };
        let member = link(false).await;
        let admin = link(true).await;
        let home = app.get(&format!("{member}/")).await.text();
        assert!(home.contains("Secret beta release") && !home.contains("Admins first release"));
        assert_eq!(app.get(&format!("{member}/releases/secret-beta-release")).await.status, StatusCode::OK);
        let home = app.get(&format!("{admin}/")).await.text();
        assert!(home.contains("Admins first release"));
        // The draft view warns when the audience is wider than the entries.
        let r = app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "Wide", "audience": "internal"}))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.json()["error"]["field"], "audience");
    }

    async fn only_pms_and_admins_learn_cohort_members_and_drafts(app) {
        app.setup_admin().await;
        let pm = app.token("pm").await;
        app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": "acme", "name": "Acme"}))).await;
        app.api(Method::POST, "/api/v1/cohorts", Some(&pm), Some(json!({"slug": "beta", "name": "Beta"}))).await;
        app.api(Method::PUT, "/api/v1/cohorts/beta/members", Some(&pm), Some(json!({"accounts": ["acme"]}))).await;
        for role in ["viewer", "engineer"] {
            let t = app.token(role).await;
            let list = app.api(Method::GET, "/api/v1/cohorts", Some(&t), None).await;
            assert_eq!(list.status, StatusCode::OK);
            assert_eq!(list.json()[0]["slug"], "beta", "the entry editor still offers cohorts");
            assert_eq!(list.json()[0]["members"], json!([]), "{role} sees which accounts are in a cohort");
        }
        assert_eq!(app.api(Method::GET, "/api/v1/cohorts", Some(&pm), None).await.json()[0]["members"], json!(["acme"]));

        app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "Draft", "narrative": "Secret plans"}))).await;
        for role in [Role::Viewer, Role::Engineer] {
            app.sign_in_as(role).await;
            for (f, form) in [("release", vec![("slug", "draft")]), ("releases", vec![("search", "")])] {
                let res = app.call(f, &form).await;
                assert_eq!(res.status, StatusCode::FORBIDDEN, "{f} for {role:?}: {}", res.text());
                assert!(!res.text().contains("Secret plans"));
            }
            let res = app.call("audiences", &[]).await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
        }
        app.sign_in_as(Role::Pm).await;
        let res = app.call("release", &[("slug", "draft")]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        assert!(res.text().contains("Secret plans"));
    }

    async fn linking_to_a_published_release_checks_revision_and_readiness(app) {
        app.add_environment("staging").await;
        let eng = app.token("engineer").await;
        let pm = app.token("pm").await;
        let shipped = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Shipped one", "kind": "feature"}, {"title": "Shipped two", "kind": "fix"}]})).await;
        let staging = app.record_deploy(&eng, json!({"environment": "staging", "version": "v2", "status": "succeeded",
            "entries": [{"title": "Staging only", "kind": "feature"}]})).await;
        let (one, two, unshipped) = (ids(&shipped)[0], ids(&shipped)[1], ids(&staging)[0]);
        let release = publish_release(&app, &pm, "Out now", &[one], None).await;
        let revision = release["revision"].as_i64().unwrap();
        let path = "/api/v1/releases/out-now/entries";
        let no_rev = app.api(Method::POST, path, Some(&pm), Some(json!({"entry_ids": [unshipped]}))).await;
        assert_eq!(no_rev.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", no_rev.text());
        assert_eq!(no_rev.json()["error"]["field"], "revision");
        let stale = app.api(Method::POST, path, Some(&pm), Some(json!({"entry_ids": [two], "revision": revision - 1}))).await;
        assert_eq!(stale.status, StatusCode::CONFLICT);
        assert!(stale.text().contains("Someone else changed"));
        let not_ready = app.api(Method::POST, path, Some(&pm), Some(json!({"entry_ids": [unshipped], "revision": revision}))).await;
        assert_eq!(not_ready.status, StatusCode::CONFLICT);
        assert!(not_ready.text().contains("Staging only") && not_ready.text().contains("only on staging"), "{}", not_ready.text());
        assert!(!app.get("/releases/out-now").await.text().contains("Staging only"));
        let ok = app.api(Method::POST, path, Some(&pm), Some(json!({"entry_ids": [two], "revision": revision}))).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
        let revision = ok.json()["revision"].as_i64().unwrap();
        let forced = app.api(Method::POST, path, Some(&pm), Some(json!({"entry_ids": [unshipped], "revision": revision, "override": true}))).await;
        assert_eq!(forced.status, StatusCode::OK, "{}", forced.text());
    }

    async fn search_matches_what_readers_see(app) {
        let eng = app.token("engineer").await;
        let pm = app.token("pm").await;
        let d = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Exports q7", "kind": "feature", "body": "Download **reports** <!-- hidden-token-q7 --> as CSV."}]})).await;
        let r = app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "Spring", "narrative": "Better *exports* <!-- narrative-secret-x9 -->"}))).await.json();
        let slug = r["slug"].as_str().unwrap();
        let d2 = app.api(Method::POST, &format!("/api/v1/releases/{slug}/entries"), Some(&pm), Some(json!({"entry_ids": ids(&d)}))).await.json();
        app.api(Method::POST, &format!("/api/v1/releases/{slug}/publish"), Some(&pm), Some(json!({"revision": d2["revision"]}))).await;
        for q in ["hidden", "hidden-token-q7", "token-q"] {
            let page = app.get(&format!("/changes?q={q}")).await.text();
            assert!(!page.contains("Exports q7") && page.contains("No changes match"), "{q} found through the comment");
        }
        assert!(app.get("/changes?q=reports").await.text().contains("Exports q7"));
        assert!(app.get("/changes?q=as%20csv").await.text().contains("Exports q7"));
        assert!(!app.get("/?q=narrative-secret").await.text().contains("Spring"));
        assert!(app.get("/?q=better%20exports").await.text().contains("Spring"));
        let api = app.api(Method::GET, "/api/v1/releases?q=narrative-secret", None, None).await.json();
        assert_eq!(api["releases"], json!([]));
    }

    async fn request_logs_hold_no_secrets(app) {
        app.setup_admin().await;
        let pm = app.token("pm").await;
        app.api(Method::POST, "/api/v1/accounts", Some(&pm), Some(json!({"slug": "acme", "name": "Acme"}))).await;
        let url = app.api(Method::POST, "/api/v1/accounts/acme/links", Some(&pm), Some(json!({}))).await.json()["url"]
            .as_str().unwrap().replace("http://127.0.0.1:3000", "");
        let secret = url.trim_start_matches("/a/").to_string();
        let invite = format!("inv1t3-{}", &secret[..12]);
        let logged = |line: &str| log_text().matches(line).count();
        let before = (logged("path=/a/[redacted]/feeds/changes.atom"), logged("path=/invite/[redacted]"));
        app.get(&format!("{url}/changes")).await;
        app.get(&format!("{url}/feeds/changes.atom")).await;
        app.get(&format!("/invite/{invite}")).await;
        app.get("/changes?q=x").await;
        let text = log_text();
        assert!(logged("path=/a/[redacted]/feeds/changes.atom") > before.0, "the request is logged");
        assert!(logged("path=/invite/[redacted]") > before.1, "the invitation is logged");
        assert!(!text.contains(&secret), "private link in the log");
        assert!(!text.contains(&invite), "invitation token in the log");
    }

    async fn parallel_guesses_are_counted_before_the_password_is_checked(app) {
        app.setup_admin().await;
        app.clear_cookies();
        let guesses = (0..30).map(|_| app.login("admin@example.com", "wrong-password-guess"));
        let answers = futures_join_all(guesses).await;
        let checked = answers.iter().filter(|r| r.text().contains("do not match")).count();
        let refused = answers.iter().filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!((checked, refused), (5, 25), "only five guesses may be checked");
        // The attacker's address is paused, but the admin signs in from elsewhere.
        let admin = app.login_from("admin@example.com", PASSWORD, [192, 0, 2, 44], None).await;
        assert_eq!(admin.status, StatusCode::OK, "a stranger locked the admin out: {}", admin.text());
        // The attacker's browser is another browser: no device cookie of the admin's.
        app.clear_cookies();
        let attacker = app.login_from("admin@example.com", PASSWORD, [10, 0, 0, 1], None).await;
        assert_eq!(attacker.status, StatusCode::TOO_MANY_REQUESTS);
    }

    async fn behind_a_trusted_proxy_each_client_is_throttled_alone(app) {
        app.setup_admin().await;
        // Strangers' browsers: none has signed in as the admin before.
        app.clear_cookies();
        let proxied = app.another_instance(&[("SHIPLOG_TRUSTED_PROXIES", "10.0.0.0/8")]).await;
        let proxy = [10, 0, 0, 1];
        for _ in 0..5 {
            proxied.login_from("admin@example.com", "wrong", proxy, Some("203.0.113.5")).await;
        }
        let guesser = proxied.login_from("admin@example.com", PASSWORD, proxy, Some("203.0.113.5")).await;
        assert_eq!(guesser.status, StatusCode::TOO_MANY_REQUESTS);
        let colleague = proxied.login_from("admin@example.com", PASSWORD, proxy, Some("198.51.100.8")).await;
        assert_eq!(colleague.status, StatusCode::OK, "everyone behind the proxy was locked out: {}", colleague.text());
        // Without trust, the header is anyone's to write and is ignored.
        for _ in 0..5 {
            app.login_from("admin@example.com", "wrong", [192, 0, 2, 9], Some("198.51.100.1")).await;
        }
        let spoofed = app.login_from("admin@example.com", PASSWORD, [192, 0, 2, 9], Some("198.51.100.2")).await;
        assert_eq!(spoofed.status, StatusCode::TOO_MANY_REQUESTS);
    }

    async fn every_answer_carries_security_headers(app) {
        app.setup_admin().await;
        let public = app.get("/").await;
        let csp = public.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
        assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(public.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(public.headers.contains_key(header::REFERRER_POLICY));
        assert!(!public.headers.contains_key(header::STRICT_TRANSPORT_SECURITY));

        let page = app.get("/app").await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
        let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
        let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("a nonce in the app's policy").to_string();
        assert!(nonce.len() >= 16);
        let html = page.text();
        let scripts: Vec<&str> = html.split("<script").skip(1).map(|s| s.split('>').next().unwrap_or_default()).collect();
        assert!(!scripts.is_empty());
        for tag in scripts {
            assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "a script without the nonce: <script{tag}>");
        }
        let again = app.get("/app").await.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
        assert!(!again.contains(&nonce), "a fresh nonce per response");
        let call = app.call("current_user", &[]).await;
        assert_eq!(call.headers[header::CACHE_CONTROL], "no-store");
        let api = app.api(Method::GET, "/api/v1/releases", None, None).await;
        assert_eq!(api.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

        let https = app.another_instance(&[("SHIPLOG_PUBLIC_URL", "https://notes.example.com")]).await;
        let res = https.get("/").await;
        assert!(res.headers[header::STRICT_TRANSPORT_SECURITY].to_str().unwrap().contains("max-age="));
    }

    async fn images_load_only_from_allowed_hosts(app) {
        let allowed = app.another_instance(&[("SHIPLOG_IMAGE_HOSTS", "img.example.com")]).await;
        let eng = allowed.token("engineer").await;
        let d = allowed.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Pictures", "kind": "feature",
                "body": "![pixel](https://tracker.example/p.gif?u=1) ![shot](https://img.example.com/a.png) ![local](/logo.png)"}]})).await;
        let html = d["entries"][0]["body_html"].as_str().unwrap();
        assert!(!html.contains("tracker.example"), "{html}");
        assert!(html.contains("https://img.example.com/a.png") && html.contains("/logo.png"), "{html}");
        let csp = allowed.get("/").await.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
        assert!(csp.contains("img-src 'self' https://img.example.com"), "{csp}");
    }

    async fn far_future_times_are_refused_and_never_publish_early(app) {
        let eng = app.token("engineer").await;
        let pm = app.token("pm").await;
        let d = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Later", "kind": "feature"}]})).await;
        let r = app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "Far"}))).await.json();
        let l = app.api(Method::POST, "/api/v1/releases/far/entries", Some(&pm), Some(json!({"entry_ids": ids(&d)}))).await.json();
        let far = app.api(Method::POST, "/api/v1/releases/far/publish", Some(&pm), Some(json!({"revision": l["revision"], "at": "+10000-01-01T00:00:00Z"}))).await;
        assert_eq!(far.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", far.text());
        assert_eq!(far.json()["error"]["field"], "publish_at");
        let bad = app.api(Method::POST, "/api/v1/deploys", Some(&eng), Some(json!({"environment": "production", "version": "v9", "started_at": "+10000-01-01T00:00:00Z"}))).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text());
        // Stored anyway (say, by an older version): the scheduler compares times, not text.
        let far_time = chrono::NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
        app.db().set_release_state(r["id"].as_i64().unwrap(), l["revision"].as_i64().unwrap(), shiplog::server::db::ReleaseState {
            status: shiplog::model::ReleaseStatus::Scheduled, publish_at: Some(far_time), published_at: None, archived: false, announce: None,
        }).await.unwrap();
        assert!(app.db().publish_due(chrono::Utc::now()).await.unwrap().is_empty(), "published 8,000 years early");
    }

    async fn pages_past_the_end_are_refused(app) {
        for path in ["/api/v1/releases?page=9223372036854775807", "/api/v1/releases?page=2"] {
            let res = app.api(Method::GET, path, None, None).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {}", res.text());
            assert_eq!(res.json()["error"]["field"], "page");
        }
        assert_eq!(app.api(Method::GET, "/api/v1/releases?page=1", None, None).await.status, StatusCode::OK);
        // Public pages number only their first few pages; a later number is
        // a cheap 404 that says how to get there.
        let deep = app.get("/changes?page=99999").await;
        assert_eq!(deep.status, StatusCode::NOT_FOUND);
        assert!(deep.text().contains("follow “Older”"), "{}", deep.text());
        assert_eq!(app.get("/changes?page=6").await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get("/changes?page=5").await.status, StatusCode::UNPROCESSABLE_ENTITY, "past the end");
        assert_eq!(app.get("/changes?older=x9").await.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.get("/?page=3").await.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.get("/changes?page=1").await.status, StatusCode::OK);
    }

    async fn sign_in_sends_people_only_to_this_site(app) {
        app.setup_admin().await;
        app.clear_cookies();
        for next in ["/app\r\nSet-Cookie: evil=1", "//evil.example/app", "/app\\..\\evil", "https://evil.example"] {
            let res = app.call("login", &[("email", "admin@example.com"), ("password", PASSWORD), ("next", next)]).await;
            assert!(res.status.is_success() || res.status.is_redirection(), "{next:?}: {} {}", res.status, res.text());
            assert!(!res.headers.contains_key("set-cookie") || !res.headers.get_all("set-cookie").iter().any(|v| v.to_str().unwrap().contains("evil")));
            for v in res.headers.values() {
                assert!(!v.to_str().unwrap_or_default().contains("evil"), "{next:?} reached a header");
            }
            app.clear_cookies();
        }
        let res = app.call("login", &[("email", "admin@example.com"), ("password", PASSWORD), ("next", "/app/releases?q=x")]).await;
        let target: Vec<String> = res.headers.values().filter_map(|v| v.to_str().ok()).map(String::from).collect();
        assert!(target.iter().any(|v| v == "/app/releases?q=x"), "{target:?}");
    }

    async fn cross_site_means_another_scheme_too(app) {
        let _ = app;
        let https = TestApp::start_with(Backend::Sqlite, &[("SHIPLOG_PUBLIC_URL", "https://notes.example.com")]).await.unwrap();
        let form = [("email", "a@example.com"), ("name", "A"), ("password", PASSWORD)];
        let plain = https.call_from("create_admin", &form, Some("http://notes.example.com")).await;
        assert_eq!(plain.status, StatusCode::FORBIDDEN, "an http page of the same host is another site");
        let ok = https.call_from("create_admin", &form, Some("https://notes.example.com")).await;
        assert!(ok.status.is_success(), "{}", ok.text());
    }
}

/// Runs the futures concurrently and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.extend(
        results
            .into_iter()
            .map(|r| r.expect("every future finished")),
    );
    outputs
}

on_both_databases! {
    async fn metrics_are_for_admin_tokens_in_prometheus_text(app) {
        use axum::http::{Method, StatusCode};
        let viewer = app.token("viewer").await;
        let admin = app.token("admin").await;
        app.api(Method::POST, "/api/v1/blocks", Some(&viewer), Some(serde_json::json!({"environment": "nowhere", "reason": "x"}))).await;
        app.api(Method::GET, "/api/v1/nothing-here/12345", Some(&viewer), None).await;
        assert_eq!(app.get("/metrics").await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.api(Method::GET, "/metrics", Some(&viewer), None).await.status, StatusCode::FORBIDDEN);
        let r = app.api(Method::GET, "/metrics", Some(&admin), None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        let text = r.text();
        assert!(text.contains("shiplog_http_requests_total{route=\"/api/v1/blocks\",method=\"POST\",status=\"422\"}"), "{text}");
        assert!(text.contains("shiplog_http_request_duration_seconds_bucket{route=\"/api/v1/blocks\",le=\"+Inf\"}"), "{text}");
        assert!(text.contains("route=\"unmatched\""), "a 404 is one series: {text}");
        assert!(!text.contains("12345"), "{text}");
        assert!(text.contains("shiplog_db_connections{pool="), "{text}");
        assert!(text.contains("shiplog_queue_depth{queue=\"mail\"} 0"), "{text}");
        assert!(text.contains("# TYPE shiplog_engine_runs_total counter"), "{text}");
        // Every sample line parses as `name{labels} value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}

/// A server function given fields it cannot read answers 400 naming the
/// problem (it answered 500, as if the server had failed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_server_function_fields_are_the_callers_mistake() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    app.setup_admin().await;
    for (name, form) in [
        (
            "update_person",
            vec![("id", "1"), ("role", "viewer"), ("active", "maybe")],
        ),
        ("add_hole", vec![("id", "1"), ("hole", "1")]),
        ("revoke_token", vec![("id", "one")]),
    ] {
        let res = app.call(name, &form).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            res.text()
        );
        let body = res.json();
        assert_eq!(body["code"], "bad_request", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with("The request's fields could not be read"),
            "{body}"
        );
    }
}

on_both_databases! {
    async fn nul_and_control_characters_are_refused_before_they_reach_storage(app) {
        app.setup_admin().await;
        let admin = app.token("admin").await;
        let eng = app.token("engineer").await;
        let viewer = app.token("viewer").await;
        // Anonymous: paths that name nothing, fields that say what is wrong.
        let login = app.call("login", &[("email", "a\u{0}b@x.org"), ("password", "whatever-it-is")]).await;
        assert_eq!(login.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", login.text());
        assert!(login.text().contains("email may not contain a NUL character"), "{}", login.text());
        for path in ["/releases/%00", "/a/%00/", "/subscription/%00", "/unsubscribe/%00", "/api/v1/releases/%00", "/a/%ff/", "/a/%ff/changes", "/changes/%01"] {
            let res = app.get(path).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}: {}", res.text());
        }
        let res = app.get("/changes?component=%00").await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.text().contains("component may not contain a NUL character"), "{}", res.text());
        for (path, field) in [("/api/v1/deploys?environment=%00", "environment"), ("/api/v1/subscribers?q=%00", "q"), ("/api/v1/audit?actor=%00", "actor"), ("/api/v1/actions?owner=a%00", "owner")] {
            let res = app.api(Method::GET, path, Some(&admin), None).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {}", res.text());
            assert_eq!(res.json()["error"]["field"], field, "{path}");
        }
        // In bodies, by their path; tabs and line breaks are text.
        let cases = [
            ("/api/v1/deploys", json!({"environment": "production", "version": "v1", "entries": [{"title": "x", "kind": "fix", "body": "a\u{0}b"}]}), "entries[0].body", &eng),
            ("/api/v1/deploys", json!({"environment": "production", "version": "v1", "commits": [{"sha": "abcd1234", "message": "fix: a\u{0}b"}]}), "commits[0].message", &eng),
            ("/api/v1/deploys", json!({"environment": "production", "version": "v\u{0}1"}), "version", &eng),
            ("/api/v1/blocks", json!({"environment": "production", "reason": "esc \u{1b}[31m"}), "reason", &viewer),
            ("/api/v1/alerts", json!({"groupKey": "a\u{0}", "status": "firing", "alerts": []}), "groupKey", &eng),
        ];
        for (path, body, field, token) in cases {
            let res = app.api(Method::POST, path, Some(token), Some(body)).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{path} {field}: {}", res.text());
            assert_eq!(res.json()["error"]["field"], field, "{path}: {}", res.text());
        }
        let ok = app.api(Method::POST, "/api/v1/deploys", Some(&eng), Some(json!({"environment": "production", "version": "v9",
            "entries": [{"title": "Tabs", "kind": "fix", "body": "line one\r\n\tindented"}]}))).await;
        assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text());
        // Nothing half-written: no deploy v1 exists.
        let listed = app.api(Method::GET, "/api/v1/deploys", Some(&viewer), None).await.json();
        assert_eq!(listed["deploys"].as_array().unwrap().len(), 1);
    }

    async fn an_anonymous_retro_item_names_nobody_in_the_audit_log(app) {
        let eng = app.token("engineer").await;
        let admin = app.token("admin").await;
        let retro = app.api(Method::POST, "/api/v1/retros", Some(&eng), Some(json!({}))).await.json();
        let id = retro["id"].as_i64().unwrap();
        let item = app.api(Method::POST, &format!("/api/v1/retros/{id}/items"), Some(&eng),
            Some(json!({"column": "to-improve", "body": "Nobody reviewed the migration", "anonymous": true}))).await;
        assert_eq!(item.status, StatusCode::CREATED, "{}", item.text());
        let signed = app.api(Method::POST, &format!("/api/v1/retros/{id}/items"), Some(&eng),
            Some(json!({"column": "went-well", "body": "Fast rollback", "anonymous": false}))).await;
        assert_eq!(signed.status, StatusCode::CREATED);
        // Through the app too.
        app.setup_admin().await;
        let via_app = app.call("add_retro_item", &[("id", &id.to_string()), ("column", "to-improve"), ("body", "Alerts were noisy"), ("anonymous", "true")]).await;
        assert!(via_app.status.is_success(), "{}", via_app.text());
        let log = app.api(Method::GET, "/api/v1/audit", Some(&admin), None).await.json();
        let rows: Vec<&Value> = log.as_array().unwrap().iter()
            .filter(|e| e["path"].as_str().unwrap_or_default().ends_with("/items") || e["path"] == "/fn/add_retro_item").collect();
        assert_eq!(rows.len(), 3, "{log}");
        let anonymous: Vec<&&Value> = rows.iter().filter(|e| e["actor"] == "anonymous").collect();
        assert_eq!(anonymous.len(), 2, "the two anonymous items name nobody: {rows:?}");
        for e in &anonymous {
            assert_eq!(e["ip"], "", "nor where they came from: {e}");
        }
        assert!(rows.iter().any(|e| e["actor"] == "token:ci-engineer"), "a signed item is attributed");
    }

    async fn webhooks_may_not_reach_this_machine_or_private_networks(app) {
        let admin = app.token("admin").await;
        for url in ["http://127.0.0.1:8080/hook", "http://[::1]/hook", "http://169.254.169.254/latest/meta-data",
                    "http://0x7f000001/", "http://2130706433/", "http://[::ffff:127.0.0.1]/", "http://localhost:5432/",
                    "http://10.1.2.3/", "http://192.168.0.10/"] {
            let res = app.api(Method::POST, "/api/v1/webhooks", Some(&admin),
                Some(json!({"url": url, "events": ["block.placed"], "secret": "a-long-enough-secret"}))).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", res.text());
            assert_eq!(res.json()["error"]["field"], "url");
            assert!(res.json()["error"]["message"].as_str().unwrap().contains("SHIPLOG_WEBHOOK_ALLOW_PRIVATE"));
        }
        // A name that resolves to this machine at delivery time is refused
        // then too, and the log says so without telling open ports from closed.
        let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open_port = open.local_addr().unwrap().port();
        for port in [open_port, 9] {
            app.db().create_webhook(&shiplog::server::db::NewWebhook {
                url: format!("http://localhost:{port}/hook"),
                events: vec![shiplog::model::NotifyEvent::BlockPlaced],
                secret: "a-long-enough-secret".into(),
                format: shiplog::model::WebhookFormat::Json,
                created_by: "test".into(),
            }).await.unwrap();
        }
        let viewer = app.token("viewer").await;
        app.api(Method::POST, "/api/v1/blocks", Some(&viewer), Some(json!({"environment": "production", "reason": "Check"}))).await;
        app.app.state.webhooks.run_once().await.unwrap();
        let hooks = app.api(Method::GET, "/api/v1/webhooks", Some(&admin), None).await.json();
        let mut errors = vec![];
        for h in hooks.as_array().unwrap() {
            let d = app.api(Method::GET, &format!("/api/v1/webhooks/{}/deliveries", h["id"]), Some(&admin), None).await.json();
            errors.push(d[0]["error"].as_str().unwrap_or_default().to_string());
        }
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0], errors[1], "the log tells an open port from a closed one: {errors:?}");
        assert!(errors[0].contains("not on the public internet"), "{errors:?}");
        drop(open);
    }

    async fn guesses_from_a_shared_address_never_lock_out_a_known_browser(app) {
        app.setup_admin().await;
        // The admin has signed in from this browser before: it carries a device cookie.
        let device = app.cookie("shiplog_device").expect("signing in remembers the browser");
        assert!(app.get("/app").await.status.is_success());
        // Strangers behind the same address guess many passwords, at many accounts and at the admin's.
        app.clear_cookies();
        for i in 0..25 {
            let who = if i % 2 == 0 { "admin@example.com".to_string() } else { format!("user{i}@example.com") };
            app.login(&who, "wrong-password-guess").await;
        }
        let slowed = app.login("admin@example.com", "another-wrong-guess").await;
        assert_eq!(slowed.status, StatusCode::TOO_MANY_REQUESTS, "{}", slowed.text());
        let text = slowed.text();
        assert!(text.contains("Try again in"), "a wait, not a lock: {text}");
        // The admin's own browser signs in at once.
        app.clear_cookies();
        app.set_cookie("shiplog_device", &device);
        let admin = app.login("admin@example.com", PASSWORD).await;
        assert_eq!(admin.status, StatusCode::OK, "strangers locked the admin out: {}", admin.text());
        // A forged device cookie is no device.
        app.clear_cookies();
        app.set_cookie("shiplog_device", &device.replace("v1.", "v1.00"));
        let forged = app.login("admin@example.com", PASSWORD).await;
        assert_eq!(forged.status, StatusCode::TOO_MANY_REQUESTS, "{}", forged.text());
    }

    async fn an_origin_equal_to_the_host_header_is_not_this_site(app) {
        app.setup_admin().await;
        // The attacker's page at evil.example posts with Host: evil.example
        // (a DNS-rebinding setup): the Origin equals the Host, not the public URL.
        let body = "name=evil&role=admin";
        let req = axum::http::Request::post("/fn/create_token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "evil.example")
            .header(header::ORIGIN, "http://evil.example")
            .body(axum::body::Body::from(body)).unwrap();
        let res = app.send(req).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.text());
        assert!(app.db().list_tokens().await.unwrap().is_empty());
    }

    async fn titles_and_subjects_carry_no_bidirectional_controls(app) {
        let eng = app.token("engineer").await;
        let pm = app.token("pm").await;
        let d = app.record_deploy(&eng, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Invoice\u{202E}fdp.exe\u{200B}", "kind": "fix"}]})).await;
        assert_eq!(d["entries"][0]["title"], "Invoicefdp.exe");
        let r = app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": "Winter\u{2066} update\u{2069}", "slug": "winter"}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert_eq!(r.json()["title"], "Winter update");
    }
}
