//! Feeds for both granularities, public and per private link: Atom (RFC 4287)
//! and JSON Feed 1.1. Entries are filtered exactly like the pages.

use super::{error_page, Viewer};
use crate::model::*;
use crate::server::error::AppError;
use crate::server::service::changes::{self, ChangesFilter};
use crate::server::state::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::HashMap;

/// One item of either feed, before it is written as Atom or JSON.
struct Item {
    id: String,
    url: String,
    title: String,
    html: String,
    published: DateTime<Utc>,
    tags: Vec<String>,
}

struct Feed {
    title: String,
    /// The HTML page the feed mirrors.
    home: String,
    /// The feed's own address, without extension.
    self_base: String,
    items: Vec<Item>,
}

/// Escaped for XML, without the control characters XML 1.0 forbids.
fn xml_escape(s: &str) -> String {
    let allowed: String = s
        .chars()
        .filter(|c| (*c as u32) >= 0x20 || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    crate::server::html::escape(&allowed)
}

fn atom(feed: &Feed) -> String {
    let updated = feed
        .items
        .iter()
        .map(|i| i.published)
        .max()
        .unwrap_or_else(|| DateTime::<Utc>::from_timestamp(0, 0).expect("epoch"));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    out.push_str(&format!(
        "  <title>{}</title>\n  <id>{}.atom</id>\n  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}.atom\"/>\n  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n  <updated>{}</updated>\n  <author><name>Shiplog</name></author>\n",
        xml_escape(&feed.title),
        xml_escape(&feed.self_base),
        xml_escape(&feed.self_base),
        xml_escape(&feed.home),
        updated.to_rfc3339()
    ));
    for i in &feed.items {
        out.push_str(&format!(
            "  <entry>\n    <title>{}</title>\n    <id>{}</id>\n    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n    <published>{}</published>\n    <updated>{}</updated>\n",
            xml_escape(&i.title),
            xml_escape(&i.id),
            xml_escape(&i.url),
            i.published.to_rfc3339(),
            i.published.to_rfc3339()
        ));
        for t in &i.tags {
            out.push_str(&format!("    <category term=\"{}\"/>\n", xml_escape(t)));
        }
        out.push_str(&format!(
            "    <content type=\"html\">{}</content>\n  </entry>\n",
            xml_escape(&i.html)
        ));
    }
    out.push_str("</feed>\n");
    out
}

fn json_feed(feed: &Feed) -> serde_json::Value {
    json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": feed.home,
        "feed_url": format!("{}.json", feed.self_base),
        "authors": [{"name": "Shiplog"}],
        "items": feed.items.iter().map(|i| json!({
            "id": i.id,
            "url": i.url,
            "title": i.title,
            "content_html": i.html,
            "date_published": i.published.to_rfc3339(),
            "tags": i.tags,
        })).collect::<Vec<_>>(),
    })
}

fn entry_html(e: &PublicEntry) -> String {
    e.entry.body_html.clone()
}

async fn releases_feed(state: &AppState, viewer: &Viewer) -> Result<Feed, AppError> {
    let page = changes::releases(&state.db, &viewer.reader, "", Default::default()).await?;
    let link = |p: &str| state.config.link(&format!("{}{p}", viewer.base));
    let items = page
        .rows
        .iter()
        .map(|r| {
            let mut html = r.release.narrative_html.clone();
            if !r.entries.is_empty() {
                html.push_str("<ul>");
                for e in &r.entries {
                    html.push_str(&format!(
                        "<li><strong>{}:</strong> <a href=\"{}\">{}</a></li>",
                        e.entry.kind.label(),
                        xml_escape(&link(&format!("/changes/{}", e.entry.id))),
                        xml_escape(&e.entry.title)
                    ));
                }
                html.push_str("</ul>");
            }
            Item {
                id: state.config.link(&format!("/releases/{}", r.release.slug)),
                url: link(&format!("/releases/{}", r.release.slug)),
                title: r.release.title.clone(),
                html,
                published: r.release.published_at.unwrap_or(r.release.updated_at),
                tags: r.release.version_name.iter().cloned().collect(),
            }
        })
        .collect();
    Ok(Feed {
        title: "Release notes".into(),
        home: link("/"),
        self_base: link("/feeds/releases"),
        items,
    })
}

async fn changes_feed(state: &AppState, viewer: &Viewer) -> Result<Feed, AppError> {
    let page = changes::list(&state.db, &viewer.reader, &ChangesFilter::default()).await?;
    let link = |p: &str| state.config.link(&format!("{}{p}", viewer.base));
    let items = page
        .rows
        .iter()
        .map(|e| Item {
            id: state.config.link(&format!("/changes/{}", e.entry.id)),
            url: link(&format!("/changes/{}", e.entry.id)),
            title: format!("{}: {}", e.entry.kind.label(), e.entry.title),
            html: entry_html(e),
            published: e.shipped_at,
            tags: std::iter::once(e.entry.kind.as_str().to_string())
                .chain(e.entry.component.clone())
                .collect(),
        })
        .collect();
    Ok(Feed {
        title: "Every change".into(),
        home: link("/changes"),
        self_base: link("/feeds/changes"),
        items,
    })
}

/// `/feeds/{name}` and `/a/{link}/feeds/{name}`: `releases` or `changes`, `.atom` or `.json`.
pub async fn feed(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let name = params.get("feed").map(String::as_str).unwrap_or_default();
    let result = async {
        let (which, format) = name
            .rsplit_once('.')
            .ok_or_else(|| AppError::not_found("There is no such feed."))?;
        let feed = match which {
            "releases" => releases_feed(&state, &viewer).await?,
            "changes" => changes_feed(&state, &viewer).await?,
            _ => return Err(AppError::not_found("There is no such feed.")),
        };
        match format {
            "atom" => Ok((
                [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
                atom(&feed),
            )
                .into_response()),
            "json" => Ok((
                [(header::CONTENT_TYPE, "application/feed+json; charset=utf-8")],
                json_feed(&feed).to_string(),
            )
                .into_response()),
            _ => Err(AppError::not_found("There is no such feed.")),
        }
    }
    .await;
    viewer.respond(match result {
        Ok(r) => r,
        Err(e) => error_page(e),
    })
}
