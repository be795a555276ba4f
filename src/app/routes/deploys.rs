use crate::api::deploys::load_timeline;
use crate::api::error_text;
use crate::app::components::{badges::StatusBadge, layout::AppLayout, when, ErrorNote};
use crate::model::{format_duration, Incident};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Defects first: the incidents not yet resolved, above everything else.
#[component]
pub fn OpenIncidents(incidents: Vec<Incident>) -> impl IntoView {
    (!incidents.is_empty()).then(|| {
        view! {
            <section class="alert alert-error open-incidents" aria-labelledby="open-incidents-h" data-testid="open-incidents">
                <h2 id="open-incidents-h">{format!("Defects first: {} incident{} not resolved", incidents.len(), if incidents.len() == 1 { "" } else { "s" })}</h2>
                <ul>{incidents.into_iter().map(|i| view! {
                    <li><a href=format!("/app/incidents/{}", i.id)><span class="mono">{i.number.clone()}</span>" "{i.title.clone()}</a>
                        {format!(" · {} · {} · {}", i.severity.label(), i.environment, i.status.label())}</li>
                }).collect_view()}</ul>
            </section>
        }
    })
}

/// The deploy log: every deploy, newest first, per environment.
#[component]
pub fn TimelinePage() -> impl IntoView {
    let query = use_query_map();
    let environment = move || query.read().get("environment").filter(|e| !e.is_empty());
    let before = move || {
        query
            .read()
            .get("before")
            .and_then(|b| b.parse::<i64>().ok())
    };
    let block = crate::app::routes::blocks::BlockForm::new();
    let data = Resource::new(
        move || (environment(), before(), block.place.version().get()),
        |(env, before, _)| load_timeline(env, before),
    );

    view! {
        <Title text="Deploy log"/>
        <AppLayout>
            <h1>"Deploy log"</h1>
            <Transition fallback=|| view! { <p>"Loading deploys…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(t) => {
                            let current = environment();
                            let tabs = std::iter::once((None, "All environments".to_string()))
                                .chain(t.environments.iter().map(|e| (Some(e.clone()), e.clone())))
                                .map(|(env, label)| {
                                    let href = match &env { Some(e) => format!("/app?environment={e}"), None => "/app".into() };
                                    let selected = env == current;
                                    view! { <a href=href class="tab" aria-current=selected.then_some("page")>{label}</a> }
                                })
                                .collect_view();
                            let env_param = current.clone().map(|e| format!("environment={e}&")).unwrap_or_default();
                            let older = t.next_before.map(|b| view! {
                                <a class="button" href=format!("/app?{env_param}before={b}")>"Older deploys →"</a>
                            });
                            let newest = before().map(|_| {
                                let href = current.clone().map(|e| format!("/app?environment={e}")).unwrap_or_else(|| "/app".into());
                                view! { <a class="button" href=href>"← Newest"</a> }
                            });
                            let rows = t.deploys.iter().map(|d| {
                                let duration = d.duration_seconds().map(format_duration).unwrap_or_else(|| "—".into());
                                view! {
                                    <tr>
                                        <td><StatusBadge status=d.status/></td>
                                        <td><a href=format!("/app/deploys/{}", d.id) class="mono">{d.version.clone()}</a></td>
                                        <td>{d.environment.clone()}</td>
                                        <td><time datetime=d.started_at.to_rfc3339()>{when(&d.started_at)}</time></td>
                                        <td>{duration}</td>
                                        <td class="num">{d.entry_count}</td>
                                    </tr>
                                }
                            }).collect_view();
                            let empty = t.deploys.is_empty();
                            view! {
                                <OpenIncidents incidents=t.open_incidents.clone()/>
                                {crate::app::routes::blocks::gate_panel(t.gates.clone(), block)}
                                <nav class="tabs" aria-label="Environments">{tabs}</nav>
                                {if empty {
                                    view! { <p class="empty">"No deploys yet. Record one from CI with "<code>"POST /api/v1/deploys"</code>" (see the README) or run "<code>"shiplog demo"</code>"."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table timeline">
                                            <thead><tr>
                                                <th scope="col">"Status"</th><th scope="col">"Version"</th><th scope="col">"Environment"</th>
                                                <th scope="col">"Started"</th><th scope="col">"Duration"</th><th scope="col" class="num">"Entries"</th>
                                            </tr></thead>
                                            <tbody>{rows}</tbody>
                                        </table>
                                    }.into_any()
                                }}
                                <div class="pager">{newest}{older}</div>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </AppLayout>
    }
}
