//! The public pages' HTML. Leptos views rendered to a string: text is escaped
//! by the view macro; entry bodies were sanitised when they were written.

use super::Viewer;
use crate::model::*;
use crate::server::service::changes::{ChangesFilter, ChangesPage};
use axum::http::StatusCode;
use leptos::prelude::*;
use leptos::tachys::view::RenderHtml;

fn document(viewer: Option<&Viewer>, title: String, body: impl IntoView + 'static) -> String {
    let base = viewer.map(|v| v.base.clone()).unwrap_or_default();
    let private = match viewer.map(|v| &v.reader) {
        Some(Reader::Account { name, admin, .. }) => Some(format!(
            "Private release notes for {name}{}. Please do not share this address.",
            if *admin { " (administrators)" } else { "" }
        )),
        _ => None,
    };
    let noindex = private.is_some();
    let html = Owner::new().with(move || {
        view! {
            <html lang="en">
                <head>
                    <meta charset="utf-8"/>
                    <meta name="viewport" content="width=device-width, initial-scale=1"/>
                    <title>{title}</title>
                    <link rel="stylesheet" href="/pkg/shiplog.css"/>
                    <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                    {noindex.then(|| view! { <meta name="robots" content="noindex, nofollow"/> })}
                </head>
                <body class="public">
                    <a class="skip-link" href="#content">"Skip to content"</a>
                    <header class="public-header">
                        <a class="brand" href=format!("{base}/changes")>"Shiplog"</a>
                        <nav aria-label="Release notes">
                            <a href=format!("{base}/changes")>"Every change"</a>
                        </nav>
                    </header>
                    {private.map(|p| view! { <p class="private-banner" role="note">{p}</p> })}
                    <main id="content" class="public-main">{body}</main>
                    <footer class="public-footer"><p>"Release notes published with Shiplog."</p></footer>
                </body>
            </html>
        }
        .to_html()
    });
    format!("<!DOCTYPE html>{html}")
}

fn day(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%A, %-d %B %Y").to_string()
}

fn entry_card(base: &str, p: &PublicEntry, heading_link: bool) -> impl IntoView + use<> {
    let e = &p.entry;
    let title = e.title.clone();
    let href = format!("{base}/changes/{}", e.id);
    let audience = (e.audience != Audience::Everyone).then(|| e.audience.label());
    view! {
        <article class="change" id=format!("change-{}", e.id)>
            <div class="change-head">
                <span class=format!("badge kind-{}", e.kind.as_str())>{e.kind.label()}</span>
                {e.breaking.then(|| view! { <span class="badge breaking">"Breaking"</span> })}
                {e.component.clone().map(|c| view! { <span class="badge component">{c}</span> })}
                {audience.map(|a| view! { <span class="badge audience">{a}</span> })}
            </div>
            <h3>{if heading_link {
                view! { <a href=href>{title}</a> }.into_any()
            } else {
                view! { <span>{title}</span> }.into_any()
            }}</h3>
            <div class="prose" inner_html=e.body_html.clone()></div>
            {(!e.links.is_empty()).then(|| view! {
                <ul class="links">{e.links.iter().map(|l| view! { <li><a href=l.clone() rel="noopener noreferrer nofollow">{l.clone()}</a></li> }).collect_view()}</ul>
            })}
        </article>
    }
}

fn query(base: &str, kind: Option<EntryKind>, component: &Option<String>, page: i64) -> String {
    let mut parts = vec![];
    if let Some(k) = kind {
        parts.push(format!("kind={}", k.as_str()));
    }
    if let Some(c) = component {
        parts.push(format!(
            "component={}",
            url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
        ));
    }
    if page > 1 {
        parts.push(format!("page={page}"));
    }
    if parts.is_empty() {
        format!("{base}/changes")
    } else {
        format!("{base}/changes?{}", parts.join("&"))
    }
}

pub fn changes(viewer: &Viewer, filter: &ChangesFilter, page: &ChangesPage) -> String {
    let base = viewer.base.clone();
    let mut days: Vec<(String, Vec<&PublicEntry>)> = vec![];
    for e in &page.entries {
        let d = day(&e.shipped_at);
        match days.last_mut() {
            Some((last, list)) if *last == d => list.push(e),
            _ => days.push((d, vec![e])),
        }
    }
    let kind = filter.kind;
    let component = filter.component.clone();
    let kinds = EntryKind::ALL
        .iter()
        .filter(|k| **k != EntryKind::Internal)
        .map(|k| view! { <option value=k.as_str() selected=Some(*k) == kind>{k.label()}</option> })
        .collect_view();
    let components = page
        .components
        .iter()
        .map(|c| view! { <option value=c.clone() selected=Some(c) == component.as_ref()>{c.clone()}</option> })
        .collect_view();
    let empty = page.entries.is_empty();
    let groups = days
        .into_iter()
        .map(|(d, list)| {
            view! {
                <section class="day">
                    <h2>{d}</h2>
                    {list.into_iter().map(|e| entry_card(&base, e, true)).collect_view()}
                </section>
            }
        })
        .collect_view();
    let base = viewer.base.clone();
    let prev = (filter.page > 1).then(|| view! { <a class="button" rel="prev" href=query(&base, kind, &component, filter.page - 1)>"← Newer"</a> });
    let next = page.has_more.then(|| view! { <a class="button" rel="next" href=query(&base, kind, &component, filter.page + 1)>"Older →"</a> });
    let action = format!("{base}/changes");
    let clear = action.clone();
    let filtered = kind.is_some() || component.is_some();
    document(
        Some(viewer),
        "Every change · Release notes".into(),
        view! {
            <h1>"Every change"</h1>
            <p class="lede">"Each improvement, fix and new feature as it reaches production, newest first."</p>
            <form class="filters" method="get" action=action role="search" aria-label="Filter changes">
                <label>"Kind"<select name="kind"><option value="">"All kinds"</option>{kinds}</select></label>
                <label>"Component"<select name="component"><option value="">"All components"</option>{components}</select></label>
                <button type="submit" class="button">"Filter"</button>
                {filtered.then(|| view! { <a href=clear>"Clear filters"</a> })}
            </form>
            {if empty {
                view! { <p class="empty">{if filtered { "No changes match these filters." } else { "Nothing has shipped yet." }}</p> }.into_any()
            } else {
                groups.into_any()
            }}
            <nav class="pager" aria-label="Pages">{prev}{next}</nav>
        },
    )
}

pub fn change(viewer: &Viewer, p: &PublicEntry) -> String {
    let shipped = day(&p.shipped_at);
    let version = p.version.clone();
    let back = format!("{}/changes", viewer.base);
    document(
        Some(viewer),
        format!("{} · Release notes", p.entry.title),
        view! {
            <p class="crumbs"><a href=back>"← Every change"</a></p>
            {entry_card(&viewer.base, p, false)}
            <p class="meta">"Shipped on "<time datetime=p.shipped_at.to_rfc3339()>{shipped}</time>" in version "<span class="mono">{version}</span>"."</p>
        },
    )
}

pub fn error(status: StatusCode, message: &str) -> String {
    let title = status.canonical_reason().unwrap_or("Error").to_string();
    let message = message.to_string();
    document(
        None,
        title.clone(),
        view! {
            <h1>{title}</h1>
            <p>{message}</p>
            <p><a href="/changes">"See every change"</a></p>
        },
    )
}
