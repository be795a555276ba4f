//! What customers see on `/changes`, and editing entries by hand.

use crate::on_both_databases;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

fn entry(title: &str, kind: &str, audience: &str) -> Value {
    json!({"title": title, "kind": kind, "audience": audience, "component": "billing", "body": format!("About {title}.")})
}

on_both_databases! {
    async fn only_customer_visible_entries_reach_changes(app) {
        app.add_environment("staging").await;
        let t = app.token("engineer").await;
        app.record_deploy(&t, json!({"environment": "production", "version": "ok", "status": "succeeded",
            "started_at": "2026-11-20T21:00:00Z", "finished_at": "2026-11-20T21:05:00Z",
            "entries": [entry("Public feature", "feature", "everyone"), entry("Secret refactor", "internal", "internal"),
                        entry("Internal-only fix", "fix", "internal")]})).await;
        app.record_deploy(&t, json!({"environment": "production", "version": "bad", "status": "failed",
            "entries": [entry("From a failed deploy", "feature", "everyone")]})).await;
        let rolled = app.record_deploy(&t, json!({"environment": "production", "version": "undone", "status": "succeeded",
            "entries": [entry("From a rolled back deploy", "fix", "everyone")]})).await;
        app.api(Method::PATCH, &format!("/api/v1/deploys/{}", rolled["id"]), Some(&t), Some(json!({"status": "rolled_back"}))).await;
        app.record_deploy(&t, json!({"environment": "staging", "version": "rc", "status": "succeeded",
            "entries": [entry("Only on staging", "feature", "everyone")]})).await;
        app.record_deploy(&t, json!({"environment": "production", "version": "running", "status": "started",
            "entries": [entry("Still deploying", "feature", "everyone")]})).await;

        let page = app.get("/changes").await;
        assert_eq!(page.status, StatusCode::OK);
        let html = page.text();
        assert!(html.contains("Public feature"));
        for hidden in ["Secret refactor", "Internal-only fix", "From a failed deploy", "From a rolled back deploy", "Only on staging", "Still deploying"] {
            assert!(!html.contains(hidden), "{hidden} leaked onto /changes");
        }
        assert!(!html.contains("<script"), "the public page ships no JavaScript");
        assert!(html.contains("Friday, 20 November 2026"), "grouped by day");

        // Permalinks follow the same rule.
        let listed = app.db().public_entries(&shiplog::server::db::PublicQuery {
            environment: "production".into(), audiences: vec!["everyone".into()], limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(listed.rows.len(), 1);
        let id = listed.rows[0].entry.id;
        let permalink = app.get(&format!("/changes/{id}")).await;
        assert_eq!(permalink.status, StatusCode::OK);
        assert!(permalink.text().contains("Public feature"));
        assert!(permalink.text().contains("version <span class=\"mono\">ok</span>"), "{}", permalink.text());
        let all = app.api(Method::GET, "/api/v1/deploys?limit=100", Some(&t), None).await.json();
        for d in all["deploys"].as_array().unwrap() {
            let detail = app.api(Method::GET, &format!("/api/v1/deploys/{}", d["id"]), Some(&t), None).await.json();
            for e in detail["entries"].as_array().unwrap() {
                if e["id"].as_i64() != Some(id) {
                    let res = app.get(&format!("/changes/{}", e["id"])).await;
                    assert_eq!(res.status, StatusCode::NOT_FOUND, "{} is not public", e["title"]);
                }
            }
        }
        assert_eq!(app.get("/changes/not-a-number").await.status, StatusCode::NOT_FOUND);
    }

    async fn changes_filter_by_kind_and_component_and_page(app) {
        let t = app.token("engineer").await;
        let mut entries = vec![];
        for i in 0..55 {
            entries.push(json!({"title": format!("Fix number {i}"), "kind": "fix", "component": "search"}));
        }
        entries.push(json!({"title": "Shiny feature", "kind": "feature", "component": "billing"}));
        app.record_deploy(&t, json!({"environment": "production", "version": "big", "status": "succeeded", "entries": entries})).await;

        let features = app.get("/changes?kind=feature").await.text();
        assert!(features.contains("Shiny feature") && !features.contains("Fix number"));
        let search = app.get("/changes?component=search").await.text();
        assert!(!search.contains("Shiny feature") && search.contains("Fix number 3"));
        assert!(search.contains("rel=\"next\""), "56 changes make two pages");
        let page2 = app.get("/changes?component=search&page=2").await.text();
        assert!(page2.contains("rel=\"prev\""));
        assert!(!page2.contains("rel=\"next\""));
        let bad = app.get("/changes?kind=bogus").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.text().contains("unknown value"));
        let none = app.get("/changes?kind=security").await.text();
        assert!(none.contains("No changes match these filters"));
    }

    async fn component_filter_lists_what_the_reader_may_see_and_follows_writes(app) {
        let t = app.token("engineer").await;
        app.record_deploy(&t, json!({"environment": "production", "version": "one", "status": "succeeded",
            "entries": [{"title": "Seen", "kind": "fix", "component": "search"},
                        {"title": "Hidden", "kind": "fix", "component": "secret-area", "audience": "internal"}]})).await;
        let option = |c: &str| format!("<option value=\"{c}\"");
        let html = app.get("/changes").await.text();
        assert!(html.contains(&option("search")), "{html}");
        assert!(!html.contains("secret-area"), "an internal entry's component leaked into the filter");
        // The list is remembered between pages; a write through the app
        // shows its new component on the very next page, searches too.
        app.record_deploy(&t, json!({"environment": "production", "version": "two", "status": "succeeded",
            "entries": [{"title": "New area", "kind": "feature", "component": "exports"}]})).await;
        let html = app.get("/changes?q=area").await.text();
        assert!(html.contains(&option("exports")) && html.contains(&option("search")), "{html}");
        assert!(!html.contains("secret-area"));
    }

    async fn markdown_is_sanitised_everywhere(app) {
        let t = app.token("engineer").await;
        let body = "Hello <script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3)) <a href=\"javascript:alert(4)\" onclick=\"alert(5)\">y</a>";
        let created = app.record_deploy(&t, json!({"environment": "production", "version": "xss", "status": "succeeded",
            "entries": [{"title": "<script>alert('title')</script>", "kind": "feature", "body": body}]})).await;
        let stored = created["entries"][0]["body_html"].as_str().unwrap().to_lowercase();
        for bad in ["<script", "onerror", "onclick", "javascript:"] {
            assert!(!stored.contains(bad), "{bad} survived in {stored}");
        }
        let html = app.get("/changes").await.text().to_lowercase();
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;alert('title')&lt;/script&gt;") || html.contains("&lt;script&gt;alert(&#x27;title&#x27;)"), "titles are escaped");
        assert!(!html.contains("javascript:") && !html.contains("onerror"));
    }

    async fn engineers_edit_entries_by_hand(app) {
        let t = app.token("engineer").await;
        let created = app.record_deploy(&t, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [{"title": "Typo in titel", "kind": "fix"}]})).await;
        let deploy_id = created["id"].as_i64().unwrap().to_string();
        let entry_id = created["entries"][0]["id"].as_i64().unwrap().to_string();
        app.setup_admin().await;
        app.sign_in_as(shiplog::model::Role::Engineer).await;

        let form = |title: &'static str, kind: &'static str| vec![
            ("form[title]", title), ("form[body]", "Now with **bold**"), ("form[kind]", kind),
            ("form[audience]", "everyone"), ("form[risk]", "low"), ("form[component]", "Billing"),
            ("form[breaking]", "false"), ("form[links]", "https://example.com/a\n\nhttps://example.com/b"),
        ];
        let mut edit = form("Typo in title", "fix");
        edit.push(("deploy_id", &deploy_id));
        edit.push(("entry_id", &entry_id));
        let res = app.call("save_entry", &edit).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let saved = res.json();
        assert_eq!(saved["title"], "Typo in title");
        assert_eq!(saved["body_html"], "<p>Now with <strong>bold</strong></p>\n");
        assert_eq!(saved["component"], "billing");
        assert_eq!(saved["links"], json!(["https://example.com/a", "https://example.com/b"]));
        assert!(app.get("/changes").await.text().contains("Typo in title"));

        let mut add = form("A second entry", "feature");
        add.push(("deploy_id", &deploy_id));
        let res = app.call("save_entry", &add).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let new_id = res.json()["id"].as_i64().unwrap().to_string();

        let mut bad = form("", "feature");
        bad.push(("deploy_id", &deploy_id));
        assert!(app.call("save_entry", &bad).await.text().contains("the title is required"));
        let mut bad = form("x", "nonsense");
        bad.push(("deploy_id", &deploy_id));
        assert!(app.call("save_entry", &bad).await.text().contains("unknown value"));

        let preview = app.call("preview_markdown", &[("body", "<script>x</script>\n\n*hi*")]).await.json();
        assert_eq!(preview.as_str().unwrap().trim(), "<p><em>hi</em></p>");

        assert_eq!(app.call("delete_entry", &[("id", &new_id)]).await.status, StatusCode::OK);
        let view = app.call("deploy", &[("id", &deploy_id)]).await.json();
        assert_eq!(view["detail"]["entries"].as_array().unwrap().len(), 1);
        assert_eq!(view["can_edit"], true);

        let res = app.call("set_deploy_status", &[("id", &deploy_id), ("status", "rolled_back")]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        assert!(!app.get("/changes").await.text().contains("Typo in title"), "rolled back: gone from /changes");
        let res = app.call("set_deploy_status", &[("id", &deploy_id), ("status", "succeeded")]).await;
        assert!(res.text().contains("cannot become succeeded"), "{}", res.text());

        // Viewers read but do not edit.
        app.sign_in_as(shiplog::model::Role::Viewer).await;
        let view = app.call("deploy", &[("id", &deploy_id)]).await.json();
        assert_eq!(view["can_edit"], false);
        let mut edit = form("Vandalised", "fix");
        edit.push(("deploy_id", &deploy_id));
        edit.push(("entry_id", &entry_id));
        assert!(app.call("save_entry", &edit).await.text().contains("may not record deploys or edit their entries"));
    }

    async fn the_timeline_pages_render_on_the_server(app) {
        let t = app.token("engineer").await;
        app.record_deploy(&t, json!({"environment": "production", "version": "2026.11.26", "status": "succeeded",
            "started_at": "2026-11-26T21:00:00Z", "finished_at": "2026-11-26T21:03:12Z",
            "entries": [entry("Visible in the log", "feature", "internal")]})).await;
        app.setup_admin().await;
        let page = app.get("/app").await;
        assert_eq!(page.status, StatusCode::OK);
        let html = page.text();
        assert!(html.contains("2026.11.26"), "{html}");
        assert!(html.contains("3m 12s"));
        let page = app.get("/app?environment=staging").await.text();
        assert!(!page.contains("2026.11.26"));
    }
}

on_both_databases! {
    async fn public_pages_are_cached_and_refreshed_by_writes(app) {
        use axum::body::Body;
        use axum::http::{header, Request};
        use std::io::Read;
        let t = app.token("engineer").await;
        app.record_deploy(&t, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "entries": [entry("First change", "feature", "everyone")]})).await;
        let gz_request = || Request::get("/changes").header(header::ACCEPT_ENCODING, "gzip, br").body(Body::empty()).unwrap();
        let first = app.send(gz_request()).await;
        assert_eq!(first.headers[header::CONTENT_ENCODING], "gzip");
        let mut html = String::new();
        flate2::read::GzDecoder::new(&first.body[..]).read_to_string(&mut html).unwrap();
        assert!(html.contains("First change"));
        assert_eq!(html, app.get("/changes").await.text(), "the same page, plain or gzipped");
        assert!(app.app.state.pages.usage().0 >= 1, "the page is in the cache");
        // A write that does not pass through this instance's HTTP layer (as
        // another instance's would) is not seen until the page expires: the
        // page really comes from the cache.
        let input: shiplog::server::service::deploys::DeployInput = serde_json::from_value(json!({
            "environment": "production", "version": "v1b", "status": "succeeded",
            "entries": [entry("Unseen change", "feature", "everyone")]})).unwrap();
        shiplog::server::service::deploys::create(app.db(), &shiplog::server::markdown::Markdown::default(),
            &shiplog::server::service::Actor::system(), input).await.unwrap();
        assert!(!app.get("/changes").await.text().contains("Unseen change"), "served from the cache");
        // A write through the API shows at once.
        app.record_deploy(&t, json!({"environment": "production", "version": "v2", "status": "succeeded",
            "entries": [entry("Second change", "feature", "everyone")]})).await;
        let page = app.get("/changes").await.text();
        assert!(page.contains("Second change") && page.contains("Unseen change"));
    }

    async fn older_and_newer_pages_walk_every_change_once(app) {
        let t = app.token("engineer").await;
        // Two deploys finish at the same moment: ties are broken by id.
        for (version, at) in [("a", "2026-11-01T21:00:00Z"), ("b", "2026-11-02T21:00:00Z"), ("c", "2026-11-02T21:00:00Z")] {
            let entries: Vec<Value> = (0..45).map(|i| json!({"title": format!("Change {version}{i:02}"), "kind": "fix", "component": "api"})).collect();
            app.record_deploy(&t, json!({"environment": "production", "version": version, "status": "succeeded",
                "started_at": at, "finished_at": at, "entries": entries})).await;
        }
        let hidden = app.record_deploy(&t, json!({"environment": "production", "version": "d", "status": "succeeded",
            "entries": [{"title": "Cohort only", "kind": "feature", "audience": "cohort:beta", "component": "secret-part"}]})).await;
        let hidden_id = hidden["entries"][0]["id"].as_i64().unwrap();

        let titles = |html: &str| -> Vec<String> {
            let mut found: Vec<String> = vec![];
            for (i, _) in html.match_indices("Change ") {
                let t = html[i..i + 10].to_string();
                if found.last() != Some(&t) { found.push(t); }
            }
            found
        };
        let link = |html: &str, rel: &str| -> Option<String> {
            let at = html.find(&format!("rel=\"{rel}\" href=\""))? + rel.len() + 13;
            Some(html[at..at + html[at..].find('"').unwrap()].replace("&amp;", "&"))
        };
        let expected: Vec<String> = ["c", "b", "a"].iter()
            .flat_map(|v| (0..45).rev().map(move |i| format!("Change {v}{i:02}"))).collect();

        let mut url = "/changes".to_string();
        let mut pages = vec![];
        loop {
            let html = app.get(&url).await.text();
            assert!(!html.contains("Cohort only") && !html.contains("secret-part"), "{url}");
            pages.push((url.clone(), titles(&html)));
            match link(&html, "next") {
                Some(next) => {
                    assert!(next.contains("older="), "lists page by entry, not by number: {next}");
                    url = next;
                }
                None => break,
            }
        }
        let seen: Vec<String> = pages.iter().flat_map(|(_, t)| t.clone()).collect();
        assert_eq!(seen, expected, "every change once, newest first");
        assert_eq!(pages.iter().map(|(_, t)| t.len()).collect::<Vec<_>>(), [50, 50, 35]);

        // Back up again with the newer links: the same pages.
        let mut html = app.get(&pages[2].0).await.text();
        for want in [&pages[1].1, &pages[0].1] {
            let prev = link(&html, "prev").expect("a page below the first links to newer changes");
            assert!(prev.contains("newer="), "{prev}");
            html = app.get(&prev).await.text();
            assert_eq!(&titles(&html), want);
        }
        assert!(link(&html, "prev").is_none(), "the newest page has nothing newer");

        // A change the reader cannot see is no place to start from.
        let leak = app.get(&format!("/changes?older={hidden_id}")).await;
        assert_eq!(leak.status, StatusCode::OK);
        assert!(titles(&leak.text()).is_empty(), "a hidden entry's time must not page the list");
        assert_eq!(app.get("/changes?older=abc").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    async fn search_finds_word_forms_and_ranks_titles_first(app) {
        let t = app.token("engineer").await;
        app.record_deploy(&t, json!({"environment": "production", "version": "v1", "status": "succeeded",
            "started_at": "2026-11-01T21:00:00Z",
            "entries": [{"title": "Exports to spreadsheets", "kind": "feature", "body": "Download a file."}]})).await;
        app.record_deploy(&t, json!({"environment": "production", "version": "v2", "status": "succeeded",
            "started_at": "2026-11-02T21:00:00Z",
            "entries": [{"title": "Faster dashboards", "kind": "improvement", "body": "Charts load before the export finishes."},
                        {"title": "Billing fix", "kind": "fix", "body": "Invoices show the right total."}]})).await;
        let html = app.get("/changes?q=export").await.text();
        let (title_hit, body_hit) = (html.find("Exports to spreadsheets"), html.find("Faster dashboards"));
        assert!(title_hit.is_some() && body_hit.is_some(), "one stem finds both: {html}");
        assert!(title_hit < body_hit, "the title match ranks first although it is older");
        assert!(!html.contains("Billing fix"));
        let both = app.get("/changes?q=charts%20EXPORT").await.text();
        assert!(both.contains("Faster dashboards") && !both.contains("Exports to spreadsheets"), "every word must match");
        assert!(app.get("/changes?q=exported").await.text().contains("Exports to spreadsheets"), "word forms match");
        assert!(app.get("/changes?q=dashboard").await.text().contains("Faster dashboards"));
        for odd in ["%25", "%22", "*", "a%27%20OR%201%3D1", "NEAR(", "-", "%5C"] {
            let res = app.get(&format!("/changes?q={odd}")).await;
            assert_eq!(res.status, StatusCode::OK, "{odd}");
        }
    }

    async fn search_pages_run_through_title_matches_then_the_rest(app) {
        let t = app.token("engineer").await;
        let titled: Vec<Value> = (0..50).map(|i| json!({"title": format!("Invoice layout {i:02}"), "kind": "fix"})).collect();
        let bodied: Vec<Value> = (0..60).map(|i| json!({"title": format!("Mail tweak {i:02}"), "kind": "fix", "body": "Sent with each invoice."})).collect();
        app.record_deploy(&t, json!({"environment": "production", "version": "v1", "status": "succeeded", "entries": bodied})).await;
        app.record_deploy(&t, json!({"environment": "production", "version": "v2", "status": "succeeded", "entries": titled})).await;
        let mut url = "/changes?q=invoices".to_string();
        let mut seen: Vec<String> = vec![];
        let mut pages = 0;
        loop {
            let html = app.get(&url).await.text();
            pages += 1;
            for (i, _) in html.match_indices("Invoice layout ").chain(html.match_indices("Mail tweak ")) {
                let end = i + html[i..].find('<').unwrap();
                let title = html[i..end].to_string();
                if !seen.contains(&title) { seen.push(title); }
            }
            let Some(at) = html.find("rel=\"next\" href=\"") else { break };
            let rest = &html[at + 17..];
            url = rest[..rest.find('"').unwrap()].replace("&amp;", "&");
            assert!(url.contains("older="), "later results start from the last hit shown: {url}");
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 110, "every match once: {seen:?}");
        // And back: "Newer" from the last page walks the same pages in reverse.
        let mut back: Vec<String> = vec![];
        let mut backwards = 0;
        loop {
            let html = app.get(&url).await.text();
            backwards += 1;
            let mut titles: Vec<String> = html.match_indices("Invoice layout ").chain(html.match_indices("Mail tweak "))
                .map(|(i, _)| html[i..i + html[i..].find('<').unwrap()].to_string()).collect();
            titles.dedup();
            back.extend(titles);
            let Some(at) = html.find("rel=\"prev\" href=\"") else { break };
            let rest = &html[at + 17..];
            url = rest[..rest.find('"').unwrap()].replace("&amp;", "&");
            assert!(url.contains("newer="), "{url}");
        }
        assert_eq!(backwards, 3, "three pages back to the first");
        back.sort();
        back.dedup();
        assert_eq!(back.len(), 110, "every match once, walking back");
        let first_page = app.get("/changes?q=invoices").await.text();
        assert!(!first_page.contains("Mail tweak"), "the 50 title matches fill the first page");
        let second = app.get("/changes?q=invoices&page=2").await.text();
        assert!(second.contains("Mail tweak") && !second.contains("Invoice layout"));
    }
}

on_both_databases! {
    async fn the_releases_page_pages_by_the_last_release_shown(app) {
        let t = app.token("engineer").await;
        let pm = app.token("pm").await;
        let entries: Vec<Value> = (0..23).map(|i| json!({"title": format!("Change {i:02}"), "kind": "fix"})).collect();
        let d = app.record_deploy(&t, json!({"environment": "production", "version": "v1", "status": "succeeded", "entries": entries})).await;
        for (i, e) in d["entries"].as_array().unwrap().iter().enumerate() {
            let slug = format!("release-{i:02}");
            app.api(Method::POST, "/api/v1/releases", Some(&pm), Some(json!({"title": format!("Release {i:02}"), "slug": slug}))).await;
            let linked = app.api(Method::POST, &format!("/api/v1/releases/{slug}/entries"), Some(&pm), Some(json!({"entry_ids": [e["id"]]}))).await;
            assert_eq!(linked.status, StatusCode::OK, "{}", linked.text());
            let published = app.api(Method::POST, &format!("/api/v1/releases/{slug}/publish"), Some(&pm), Some(json!({"revision": linked.json()["revision"]}))).await;
            assert_eq!(published.status, StatusCode::OK, "{} {}", published.status, published.text());
        }
        let titles = |html: &str| -> Vec<String> {
            html.match_indices(">Release ").map(|(i, _)| html[i + 1..i + 11].to_string())
                .filter(|t| t[8..].chars().all(|c| c.is_ascii_digit())).collect()
        };
        let next_of = |html: &str, rel: &str| -> Option<String> {
            let at = html.find(&format!("rel=\"{rel}\" href=\""))?;
            let rest = &html[at + rel.len() + 13..];
            Some(rest[..rest.find('"').unwrap()].replace("&amp;", "&"))
        };
        let mut url = "/".to_string();
        let mut forward = vec![];
        let mut pages = 0;
        loop {
            let html = app.get(&url).await.text();
            pages += 1;
            forward.extend(titles(&html));
            assert!(pages < 10, "{url} {:?}", titles(&html));
            // Cached or not, a page's position is its own.
            match next_of(&html, "next") {
                Some(next) => {
                    assert!(next.contains("older="), "{next}");
                    url = next;
                }
                None => break,
            }
        }
        assert_eq!(pages, 3);
        let want: Vec<String> = (0..23).rev().map(|i| format!("Release {i:02}")).collect();
        assert_eq!(forward, want, "newest first, each once");
        // Back from the last page, through "Newer".
        let last = app.get(&url).await.text();
        let back = next_of(&last, "prev").expect("a way back");
        assert!(back.contains("newer="), "{back}");
        let middle = app.get(&back).await.text();
        assert_eq!(titles(&middle), want[10..20].to_vec());
        // An old numbered link still works for the first pages.
        assert_eq!(titles(&app.get("/?page=2").await.text()), want[10..20].to_vec());
    }
}
