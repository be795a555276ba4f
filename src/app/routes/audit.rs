use crate::api::error_text;
use crate::api::safety::load_audit;
use crate::app::components::{layout::AppLayout, when, ErrorNote};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Every write, newest first, with who, from where and when (admins): a
/// plain GET form filters, "Older" pages.
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |k: &str| query.read().get(k).filter(|v| !v.is_empty());
    let data = Resource::new(
        move || {
            (
                param("actor"),
                param("path"),
                param("from"),
                param("to"),
                param("before").and_then(|b| b.parse::<i64>().ok()),
            )
        },
        |(actor, path, from, to, before)| load_audit(actor, path, from, to, before),
    );
    view! {
        <Title text="Audit log"/>
        <AppLayout>
            <h1>"Audit log"</h1>
            <p class="lede">"Every write: who (a person, a token or anonymous), what and which object, when and from where."</p>
            <form method="get" action="/app/audit" class="inline-form" aria-label="Filter the audit log">
                <label>"Who "<input type="text" name="actor" placeholder="ana@example.com or token:ci" value=move || param("actor").unwrap_or_default()/></label>
                <label>"Path contains "<input type="text" name="path" placeholder="/blocks" value=move || param("path").unwrap_or_default()/></label>
                <label>"From "<input type="date" name="from" value=move || param("from").unwrap_or_default()/></label>
                <label>"To "<input type="date" name="to" value=move || param("to").unwrap_or_default()/></label>
                <button type="submit" class="button small">"Filter"</button>
            </form>
            <Transition fallback=|| view! { <p>"Loading the log…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(rows) if rows.is_empty() => view! { <p class="empty">"No write matches."</p> }.into_any(),
                        Ok(rows) => {
                            let older = rows.last().map(|r| {
                                let mut q: Vec<String> = ["actor", "path", "from", "to"].iter()
                                    .filter_map(|k| param(k).map(|v| format!("{k}={}", urlencode(&v))))
                                    .collect();
                                q.push(format!("before={}", r.id));
                                format!("/app/audit?{}", q.join("&"))
                            });
                            let full = rows.len() as i64 == crate::model::AUDIT_PAGE;
                            let body = rows.into_iter().map(|r| view! {
                                <tr data-audit=r.id>
                                    <td>{when(&r.at)}</td>
                                    <td>{r.actor.clone()}<br/><span class="muted small">{r.actor_kind.clone()}</span></td>
                                    <td><code>{format!("{} {}", r.method, r.path)}</code></td>
                                    <td>{r.status}</td>
                                    <td>{r.ip.clone()}</td>
                                </tr>
                            }).collect_view();
                            view! {
                                <table class="table">
                                    <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"What"</th><th scope="col">"Answer"</th><th scope="col">"From"</th></tr></thead>
                                    <tbody>{body}</tbody>
                                </table>
                                {full.then(|| older.map(|href| view! { <p><a href=href rel="external">"Older writes"</a></p> }))}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </AppLayout>
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
