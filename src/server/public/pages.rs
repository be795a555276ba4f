//! The public pages' HTML. Leptos views rendered to a string: text is escaped
//! by the view macro; Markdown was sanitised when it was written.

use super::Viewer;
use crate::model::*;
use crate::server::service::changes::{
    ChangesFilter, ChangesPage, PageAt, ReaderRelease, ReleasesPage,
};
use axum::http::StatusCode;
use leptos::prelude::*;
use leptos::tachys::view::RenderHtml;

/// Which of the two views a page belongs to, for the switch in the header.
#[derive(Clone, Copy, PartialEq)]
enum Section {
    Releases,
    Changes,
    Neither,
}

fn document(
    viewer: Option<&Viewer>,
    section: Section,
    title: String,
    body: impl IntoView + 'static,
) -> String {
    let base = viewer.map(|v| v.base.clone()).unwrap_or_default();
    let private = match viewer.map(|v| &v.reader) {
        Some(Reader::Account { name, admin, .. }) => Some(format!(
            "Private release notes for {name}{}. Please do not share this address.",
            if *admin { " (administrators)" } else { "" }
        )),
        _ => None,
    };
    let noindex = private.is_some();
    let subscribe_box = viewer.map(|v| {
        let action = format!("{}/subscribe", v.base);
        let more = action.clone();
        let token = v.form_token.clone();
        view! {
            <form class="subscribe" method="post" action=action aria-label="Subscribe by email">
                <label>"Get release notes by email"
                    <input type="email" name="email" required autocomplete="email" placeholder="you@example.com"/>
                </label>
                <input type="hidden" name="form_token" value=token/>
                <div class="trap" aria-hidden="true">
                    <label>"Leave this empty"<input type="text" name="website" tabindex="-1" autocomplete="off"/></label>
                </div>
                <button type="submit" class="button">"Subscribe"</button>
                <a href=more>"More choices"</a>
            </form>
        }
    });
    let current = |s: Section| (s == section).then_some("page");
    let html = Owner::new().with(move || {
        view! {
            <html lang="en">
                <head>
                    <meta charset="utf-8"/>
                    <meta name="viewport" content="width=device-width, initial-scale=1"/>
                    <title>{title}</title>
                    <link rel="stylesheet" href="/pkg/shiplog.css"/>
                    <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                    <link rel="alternate" type="application/atom+xml" title="Releases" href=format!("{base}/feeds/releases.atom")/>
                    <link rel="alternate" type="application/atom+xml" title="Every change" href=format!("{base}/feeds/changes.atom")/>
                    {noindex.then(|| view! { <meta name="robots" content="noindex, nofollow"/> })}
                </head>
                <body class="public">
                    <a class="skip-link" href="#content">"Skip to content"</a>
                    <header class="public-header">
                        <a class="brand" href=format!("{base}/")>"Release notes"</a>
                        <nav aria-label="Views" class="switch">
                            <a href=format!("{base}/") aria-current=current(Section::Releases)>"Releases"</a>
                            <a href=format!("{base}/changes") aria-current=current(Section::Changes)>"Every change"</a>
                        </nav>
                    </header>
                    {private.map(|p| view! { <p class="private-banner" role="note">{p}</p> })}
                    <main id="content" class="public-main">{body}</main>
                    <footer class="public-footer">
                        {subscribe_box}
                        <p>
                            "Follow: "<a href=format!("{base}/feeds/releases.atom")>"releases (Atom)"</a>" · "
                            <a href=format!("{base}/feeds/releases.json")>"JSON Feed"</a>" · "
                            <a href=format!("{base}/feeds/changes.atom")>"every change (Atom)"</a>" · "
                            <a href=format!("{base}/feeds/changes.json")>"JSON Feed"</a>
                        </p>
                        <p>"Published with Shiplog."</p>
                    </footer>
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

/// The heading level of an entry's title where it is shown.
#[derive(Clone, Copy)]
enum Level {
    H1,
    H3,
    H4,
}

fn entry_card(
    base: &str,
    p: &PublicEntry,
    heading_link: bool,
    level: Level,
) -> impl IntoView + use<> {
    let e = &p.entry;
    let title = e.title.clone();
    let href = format!("{base}/changes/{}", e.id);
    let audience = (e.audience != Audience::Everyone).then(|| e.audience.label());
    let heading = if heading_link {
        view! { <a href=href>{title}</a> }.into_any()
    } else {
        view! { <span>{title}</span> }.into_any()
    };
    view! {
        <article class="change" id=format!("change-{}", e.id)>
            <div class="change-head">
                <span class=format!("badge kind-{}", e.kind.as_str())>{e.kind.label()}</span>
                {e.breaking.then(|| view! { <span class="badge breaking">"Breaking"</span> })}
                {e.component.clone().map(|c| view! { <span class="badge component">{c}</span> })}
                {audience.map(|a| view! { <span class="badge audience">{a}</span> })}
            </div>
            {match level {
                Level::H1 => view! { <h1 class="change-title">{heading}</h1> }.into_any(),
                Level::H3 => view! { <h3>{heading}</h3> }.into_any(),
                Level::H4 => view! { <h4>{heading}</h4> }.into_any(),
            }}
            <div class="prose" inner_html=e.body_html.clone()></div>
            {(!e.links.is_empty()).then(|| view! {
                <ul class="links">{e.links.iter().map(|l| view! { <li><a href=l.clone() rel="noopener noreferrer nofollow">{l.clone()}</a></li> }).collect_view()}</ul>
            })}
        </article>
    }
}

/// A query string from the non-empty pairs.
fn with_query(path: String, pairs: &[(&str, String)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| {
            format!(
                "{k}={}",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect();
    if q.is_empty() {
        path
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

fn pager(
    prev: Option<String>,
    next: Option<String>,
    newer: &'static str,
    older: &'static str,
) -> impl IntoView {
    view! {
        <nav class="pager" aria-label="Pages">
            {prev.map(|h| view! { <a class="button" rel="prev" href=h>{newer}</a> })}
            {next.map(|h| view! { <a class="button" rel="next" href=h>{older}</a> })}
        </nav>
    }
}

/// A release's entries, grouped by kind in a fixed order.
fn grouped_entries(base: &str, entries: &[PublicEntry]) -> impl IntoView + use<> {
    EntryKind::ALL
        .iter()
        .filter_map(|kind| {
            let of_kind: Vec<&PublicEntry> = entries.iter().filter(|e| e.entry.kind == *kind).collect();
            (!of_kind.is_empty()).then(|| {
                view! {
                    <section class="kind-group">
                        <h3>{kind_heading(*kind)}</h3>
                        {of_kind.into_iter().map(|e| entry_card(base, e, true, Level::H4)).collect_view()}
                    </section>
                }
            })
        })
        .collect_view()
}

fn kind_heading(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Feature => "New features",
        EntryKind::Fix => "Fixes",
        EntryKind::Improvement => "Improvements",
        EntryKind::Security => "Security",
        EntryKind::Internal => "Under the hood",
    }
}

fn release_head(base: &str, r: &Release, link: bool) -> impl IntoView + use<> {
    let title = r.title.clone();
    let href = format!("{base}/releases/{}", r.slug);
    let published = r.published_at.map(|t| (t.to_rfc3339(), day(&t)));
    view! {
        <header class="release-head">
            <h2>{if link { view! { <a href=href>{title}</a> }.into_any() } else { view! { <span>{title}</span> }.into_any() }}</h2>
            <p class="meta">
                {r.version_name.clone().map(|v| view! { <span class="badge component">{v}</span>" " })}
                {published.map(|(iso, text)| view! { "Published "<time datetime=iso>{text}</time> })}
            </p>
        </header>
    }
}

pub fn home(viewer: &Viewer, search: &str, list: &ReleasesPage) -> String {
    let base = viewer.base.clone();
    let releases = list
        .rows
        .iter()
        .map(|r| {
            view! {
                <article class="release">
                    {release_head(&base, &r.release, true)}
                    <div class="prose narrative" inner_html=r.release.narrative_html.clone()></div>
                    {grouped_entries(&base, &r.entries)}
                </article>
            }
        })
        .collect_view();
    let empty = list.rows.is_empty();
    let q = search.to_string();
    let home = format!("{base}/");
    let link = |at: PageAt| {
        let mut params = vec![("q", q.clone())];
        params.extend(super::position_value(at));
        with_query(home.clone(), &params)
    };
    let prev = list.prev.map(link);
    let next = list.next.map(link);
    let searching = !q.is_empty();
    document(
        Some(viewer),
        Section::Releases,
        "Release notes".into(),
        view! {
            <h1>"Release notes"</h1>
            <p class="lede">"What is new, announced release by release. For each change as it ships, see "<a href=format!("{base}/changes")>"every change"</a>"."</p>
            <form class="filters" method="get" action=home.clone() role="search" aria-label="Search releases">
                <label>"Search releases"<input type="search" name="q" value=q.clone()/></label>
                <button type="submit" class="button">"Search"</button>
                {searching.then(|| view! { <a href=home.clone()>"Clear"</a> })}
            </form>
            {if empty {
                view! { <p class="empty">{if searching { "No release matches this search." } else { "No releases have been published yet." }}</p> }.into_any()
            } else {
                releases.into_any()
            }}
            {pager(prev, next, "← Newer releases", "Older releases →")}
        },
    )
}

pub fn release(viewer: &Viewer, r: &ReaderRelease) -> String {
    let base = viewer.base.clone();
    document(
        Some(viewer),
        Section::Releases,
        format!("{} · Release notes", r.release.title),
        view! {
            <p class="crumbs"><a href=format!("{base}/")>"← All releases"</a></p>
            <article class="release">
                {release_head(&base, &r.release, false)}
                <div class="prose narrative" inner_html=r.release.narrative_html.clone()></div>
                {grouped_entries(&base, &r.entries)}
            </article>
        },
    )
}

pub fn changes(
    viewer: &Viewer,
    filter: &ChangesFilter,
    page: &ChangesPage,
    components: &[String],
) -> String {
    let base = viewer.base.clone();
    let mut days: Vec<(String, Vec<&PublicEntry>)> = vec![];
    for e in &page.rows {
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
    let components = components
        .iter()
        .map(|c| view! { <option value=c.clone() selected=Some(c) == component.as_ref()>{c.clone()}</option> })
        .collect_view();
    let empty = page.rows.is_empty();
    let groups = days
        .into_iter()
        .map(|(d, list)| {
            view! {
                <section class="day">
                    <h2>{d}</h2>
                    {list.into_iter().map(|e| entry_card(&base, e, true, Level::H3)).collect_view()}
                </section>
            }
        })
        .collect_view();
    let action = format!("{base}/changes");
    let params = |p: PageAt| {
        let mut params = vec![
            ("q", filter.search.clone()),
            (
                "kind",
                kind.map(|k| k.as_str().to_string()).unwrap_or_default(),
            ),
            ("component", component.clone().unwrap_or_default()),
        ];
        params.extend(super::position_value(p));
        params
    };
    let prev = page.prev.map(|p| with_query(action.clone(), &params(p)));
    let next = page.next.map(|p| with_query(action.clone(), &params(p)));
    let filtered = kind.is_some() || component.is_some() || !filter.search.is_empty();
    let clear = action.clone();
    document(
        Some(viewer),
        Section::Changes,
        "Every change · Release notes".into(),
        view! {
            <h1>"Every change"</h1>
            <p class="lede">"Each improvement, fix and new feature as it reaches production, newest first."</p>
            <form class="filters" method="get" action=action role="search" aria-label="Filter changes">
                <label>"Search"<input type="search" name="q" value=filter.search.clone()/></label>
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
            {pager(prev, next, "← Newer", "Older →")}
        },
    )
}

pub fn change(viewer: &Viewer, p: &PublicEntry) -> String {
    let base = viewer.base.clone();
    let shipped = day(&p.shipped_at);
    let version = p.version.clone();
    let release = p.release.clone().map(|(slug, title)| {
        view! { <p class="meta">"Announced in "<a href=format!("{base}/releases/{slug}")>{title}</a>"."</p> }
    });
    document(
        Some(viewer),
        Section::Changes,
        format!("{} · Release notes", p.entry.title),
        view! {
            <p class="crumbs"><a href=format!("{base}/changes")>"← Every change"</a></p>
            {entry_card(&base, p, false, Level::H1)}
            <p class="meta">"Shipped on "<time datetime=p.shipped_at.to_rfc3339()>{shipped}</time>" in version "<span class="mono">{version}</span>"."</p>
            {release}
        },
    )
}

pub fn error(status: StatusCode, message: &str) -> String {
    let title = status.canonical_reason().unwrap_or("Error").to_string();
    let message = message.to_string();
    document(
        None,
        Section::Neither,
        title.clone(),
        view! {
            <h1>{title}</h1>
            <p>{message}</p>
            <p><a href="/">"See the release notes"</a></p>
        },
    )
}

/// A short page with one message (and where to go next).
pub fn notice(
    viewer: Option<&Viewer>,
    title: &str,
    lines: &[String],
    next: Option<(&str, String)>,
) -> String {
    let title = title.to_string();
    let lines = lines
        .iter()
        .map(|l| view! { <p>{l.clone()}</p> })
        .collect_view();
    let next = next.map(|(label, href)| {
        let label = label.to_string();
        view! { <p><a href=href>{label}</a></p> }
    });
    document(
        viewer,
        Section::Neither,
        title.clone(),
        view! {
            <h1>{title}</h1>
            {lines}
            {next}
        },
    )
}

/// The choices of a subscription: announcements, digest, kinds, components.
fn choices(prefs: &Preferences) -> impl IntoView + use<> {
    let digest = prefs.digest;
    let kinds = prefs.kinds.clone();
    let components = prefs.components.join(", ");
    view! {
        <input type="hidden" name="choosing" value="1"/>
        <fieldset>
            <legend>"What to receive"</legend>
            <label class="check"><input type="checkbox" name="releases" value="1" checked=prefs.releases/>" An announcement when a release is published"</label>
            <label>"A digest of every change that reached production"
                <select name="digest">
                    {DigestFrequency::ALL.iter().map(|d| view! { <option value=d.as_str() selected=*d == digest>{d.label()}</option> }).collect_view()}
                </select>
            </label>
        </fieldset>
        <fieldset>
            <legend>"Kinds of change"</legend>
            {SUBSCRIBABLE_KINDS.iter().map(|k| view! {
                <label class="check"><input type="checkbox" name="kinds" value=k.as_str() checked=kinds.contains(k)/>" "{k.label()}</label>
            }).collect_view()}
        </fieldset>
        <label>"Only these components (comma-separated; empty for all)"
            <input type="text" name="components" value=components/>
        </label>
    }
}

/// The full subscribe form.
pub fn subscribe(viewer: &Viewer, error: Option<String>) -> String {
    let action = format!("{}/subscribe", viewer.base);
    let token = viewer.form_token.clone();
    let prefs = Preferences {
        kinds: SUBSCRIBABLE_KINDS.to_vec(),
        ..Preferences::default()
    };
    document(
        Some(viewer),
        Section::Neither,
        "Subscribe to release notes".into(),
        view! {
            <h1>"Subscribe to release notes"</h1>
            {error.map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <form class="stack" method="post" action=action>
                <label>"Email address"<input type="email" name="email" required autocomplete="email"/></label>
                <input type="hidden" name="form_token" value=token/>
                <div class="trap" aria-hidden="true">
                    <label>"Leave this empty"<input type="text" name="website" tabindex="-1" autocomplete="off"/></label>
                </div>
                {choices(&prefs)}
                <p class="muted">"We send a confirmation email first; nothing else is sent until you confirm."</p>
                <button type="submit" class="button primary">"Subscribe"</button>
            </form>
        },
    )
}

/// The preferences page behind the secret link in every email.
pub fn preferences(
    link: &crate::server::db::SubscriberLink,
    token: &str,
    saved: bool,
    error: Option<String>,
) -> String {
    let s = &link.subscriber;
    let email = s.email.clone().unwrap_or_default();
    let action = format!("/subscription/{token}");
    let unsubscribe = format!("/unsubscribe/{token}");
    let status = match s.status {
        SubscriberStatus::Confirmed => "You are subscribed.".to_string(),
        SubscriberStatus::Unsubscribed => {
            "You are unsubscribed: nothing is sent to you. Save your choices to subscribe again."
                .to_string()
        }
        other => format!("{}.", other.label()),
    };
    let subscribed = s.status == SubscriberStatus::Confirmed;
    let prefs = Preferences {
        releases: s.releases,
        digest: s.digest,
        kinds: s.kinds.clone(),
        components: s.components.clone(),
    };
    document(
        None,
        Section::Neither,
        "Your email subscription".into(),
        view! {
            <h1>"Your email subscription"</h1>
            <p>"Address: "<strong>{email}</strong></p>
            <p>{status}</p>
            {saved.then(|| view! { <p class="notice" role="status">"Your choices are saved."</p> })}
            {error.map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <form class="stack" method="post" action=action>
                {choices(&prefs)}
                <button type="submit" class="button primary">"Save my choices"</button>
            </form>
            {subscribed.then(|| view! {
                <form method="post" action=unsubscribe>
                    <button type="submit" class="button danger">"Unsubscribe from everything"</button>
                </form>
            })}
        },
    )
}

/// The page a `GET` of an unsubscribe link shows (mail scanners follow GETs,
/// so only the button's `POST` unsubscribes).
pub fn unsubscribe(token: &str, email: &str) -> String {
    let action = format!("/unsubscribe/{token}");
    let email = email.to_string();
    document(
        None,
        Section::Neither,
        "Unsubscribe".into(),
        view! {
            <h1>"Unsubscribe"</h1>
            <p>"Stop all release notes email to "<strong>{email}</strong>"?"</p>
            <form method="post" action=action>
                <button type="submit" class="button primary">"Unsubscribe"</button>
            </form>
            <p><a href=format!("/subscription/{token}")>"Change what I receive instead"</a></p>
        },
    )
}
