use crate::api::deploys::{load_deploy, DeleteEntry, SaveEntry, SetDeployStatus};
use crate::api::error_text;
use crate::app::components::badges::{EntryBadges, StatusBadge};
use crate::app::components::{
    action_error, layout::AppLayout, markdown_editor::MarkdownEditor, when, ErrorNote,
};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// One deploy: its entries (editable by engineers), status and commits.
#[component]
pub fn DeployPage() -> impl IntoView {
    let id = move || {
        use_params_map()
            .read()
            .get("id")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let set_status = ServerAction::<SetDeployStatus>::new();
    let save = ServerAction::<SaveEntry>::new();
    let delete = ServerAction::<DeleteEntry>::new();
    let data = Resource::new(
        move || {
            (
                id(),
                set_status.version().get(),
                save.version().get(),
                delete.version().get(),
            )
        },
        |(id, ..)| load_deploy(id),
    );
    // Which entry is open in the editor: none, a new one, or an existing id.
    let editing = RwSignal::new(None::<Option<i64>>);
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            editing.set(None);
        }
    });

    view! {
        <AppLayout>
            <Transition fallback=|| view! { <p>"Loading deploy…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <Title text="Deploy"/><ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(view) => deploy_view(view, set_status, save, delete, editing).into_any(),
                    }
                })}
            </Transition>
        </AppLayout>
    }
}

use crate::api::deploys::DeployView;

fn deploy_view(
    view: DeployView,
    set_status: ServerAction<SetDeployStatus>,
    save: ServerAction<SaveEntry>,
    delete: ServerAction<DeleteEntry>,
    editing: RwSignal<Option<Option<i64>>>,
) -> impl IntoView {
    let DeployView {
        detail,
        can_edit,
        cohorts,
        incidents,
        can_file_incidents,
    } = view;
    let d = detail.deploy.clone();
    let deploy_id = d.id;
    let environment = d.environment.clone();
    let duration = d
        .duration_seconds()
        .map(format_duration)
        .unwrap_or_else(|| "—".into());
    let status_buttons = can_edit.then(|| {
        d.status.next_statuses().iter().map(|next| {
            let next = *next;
            view! {
                <button type="button" class=format!("button status-action to-{}", next.as_str())
                    on:click=move |_| { set_status.dispatch(SetDeployStatus { id: deploy_id, status: next.as_str().to_string() }); }>
                    {format!("Mark {}", next.label().to_lowercase())}
                </button>
            }
        }).collect_view()
    });
    let entries = detail.entries.clone();
    let entry_count = entries.len();
    let entry_cohorts = cohorts.clone();
    let entry_views = entries.into_iter().map(|e| {
        let cohorts = entry_cohorts.clone();
        let entry_id = e.id;
        let form = EntryForm::from_entry(&e);
        let caused: Vec<Incident> = incidents
            .iter()
            .filter(|(entry, _)| *entry == entry_id)
            .map(|(_, i)| i.clone())
            .collect();
        let file_href = format!("/app/incidents?environment={}&entry={entry_id}", environment);
        view! {
            <li class="entry" id=format!("entry-{entry_id}") data-entry-id=entry_id>
                {move || if editing.get() == Some(Some(entry_id)) {
                    view! { <EntryEditor deploy_id entry_id=Some(entry_id) initial=form.clone() save editing cohorts=cohorts.clone()/> }.into_any()
                } else {
                    let e = e.clone();
                    view! {
                        <div class="entry-head">
                            <h3>{e.title.clone()}</h3>
                            <div class="badges"><EntryBadges entry=e.clone()/></div>
                        </div>
                        {(!caused.is_empty()).then(|| view! {
                            <p class="alert alert-error" data-testid="entry-incidents">"Caused "{caused.iter().map(|i| view! {
                                <a href=format!("/app/incidents/{}", i.id)><span class="mono">{i.number.clone()}</span>" "{i.title.clone()}</a>" "
                            }).collect_view()}{format!("({})", caused.iter().map(|i| i.status.label()).collect::<Vec<_>>().join(", "))}</p>
                        })}
                        <div class="prose" inner_html=e.body_html.clone()></div>
                        {(!e.links.is_empty()).then(|| view! {
                            <ul class="links">{e.links.iter().map(|l| view! { <li><a href=l.clone() rel="noopener noreferrer">{l.clone()}</a></li> }).collect_view()}</ul>
                        })}
                        {can_file_incidents.then(|| view! {
                            <a class="button small" href=file_href.clone() data-testid="file-incident">"File an incident"</a>
                        })}
                        {can_edit.then(|| view! {
                            <div class="row-actions">
                                <button type="button" class="button small" on:click=move |_| editing.set(Some(Some(entry_id)))>"Edit"</button>
                                <button type="button" class="button small danger" on:click=move |_| {
                                    let ok = web_confirm("Delete this entry? This cannot be undone.");
                                    if ok { delete.dispatch(DeleteEntry { id: entry_id }); }
                                }>"Delete"</button>
                            </div>
                        })}
                    }.into_any()
                }}
            </li>
        }
    }).collect_view();
    let commits = detail
        .commits
        .iter()
        .map(|c| {
            view! {
                <li>
                    <code class="sha">{c.sha.chars().take(10).collect::<String>()}</code>" "
                    <span>{c.message.lines().next().unwrap_or_default().to_string()}</span>
                    {c.author.clone().map(|a| view! { <span class="muted">" — "{a}</span> })}
                </li>
            }
        })
        .collect_view();
    let has_commits = !detail.commits.is_empty();

    view! {
        <Title text=format!("{} on {}", d.version, d.environment)/>
        <p class="crumbs"><a href="/app">"Deploy log"</a>" / "<a href=format!("/app?environment={}", d.environment)>{d.environment.clone()}</a></p>
        <div class="deploy-head">
            <h1><span class="mono">{d.version.clone()}</span>" "<StatusBadge status=d.status/></h1>
            <dl class="facts">
                <div><dt>"Environment"</dt><dd>{d.environment.clone()}</dd></div>
                <div><dt>"Started"</dt><dd>{when(&d.started_at)}</dd></div>
                <div><dt>"Finished"</dt><dd>{d.finished_at.as_ref().map(when).unwrap_or_else(|| "—".into())}</dd></div>
                <div><dt>"Duration"</dt><dd>{duration}</dd></div>
                <div><dt>"Commit"</dt><dd class="mono" title=d.commit.clone().unwrap_or_default()>{d.commit.as_deref().map(|c| c.chars().take(12).collect::<String>()).unwrap_or_else(|| "—".into())}</dd></div>
                <div><dt>"Recorded by"</dt><dd>{d.created_by.clone().unwrap_or_else(|| "—".into())}</dd></div>
            </dl>
            <div class="actions">{status_buttons}
                {can_file_incidents.then(|| view! {
                    <a class="button" href=format!("/app/incidents?environment={}", d.environment)>"File an incident"</a>
                })}
            </div>
            {action_error(set_status.value())}
            {action_error(delete.value())}
        </div>
        <section aria-labelledby="entries-h">
            <div class="section-head">
                <h2 id="entries-h">{format!("Changelog ({entry_count})")}</h2>
                {can_edit.then(|| view! {
                    <button type="button" class="button primary" data-testid="add-entry"
                        on:click=move |_| editing.set(Some(None))>"Add entry"</button>
                })}
            </div>
            {move || (editing.get() == Some(None)).then(|| view! {
                <div class="entry new-entry">
                    <EntryEditor deploy_id entry_id=None initial=EntryForm {
                        kind: "feature".into(), audience: "everyone".into(), risk: "low".into(), ..Default::default()
                    } save editing cohorts=cohorts.clone()/>
                </div>
            })}
            {if entry_count == 0 {
                view! { <p class="empty">"No entries in this deploy."</p> }.into_any()
            } else {
                view! { <ul class="entries">{entry_views}</ul> }.into_any()
            }}
        </section>
        {has_commits.then(|| view! {
            <section aria-labelledby="commits-h">
                <h2 id="commits-h">"Commits"</h2>
                <ul class="commits">{commits}</ul>
            </section>
        })}
    }
}

fn web_confirm(message: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.confirm_with_message(message).ok())
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = message;
        false
    }
}

/// Everyone, customer admins, each cohort, internal; plus the entry's own
/// audience should its cohort no longer exist.
fn audience_options(cohorts: &[String], current: &str) -> Vec<(String, String)> {
    let mut options: Vec<Audience> = Audience::FIXED.to_vec();
    options.extend(cohorts.iter().map(|c| Audience::Cohort(c.clone())));
    if let Ok(a) = current.parse::<Audience>() {
        if !options.contains(&a) {
            options.push(a);
        }
    }
    options
        .into_iter()
        .map(|a| (a.as_string(), a.label()))
        .collect()
}

/// The form to add or edit an entry, with a live Markdown preview.
#[component]
fn EntryEditor(
    deploy_id: i64,
    entry_id: Option<i64>,
    initial: EntryForm,
    save: ServerAction<SaveEntry>,
    editing: RwSignal<Option<Option<i64>>>,
    cohorts: Vec<String>,
) -> impl IntoView {
    let title = RwSignal::new(initial.title.clone());
    let body = RwSignal::new(initial.body.clone());
    let kind = RwSignal::new(initial.kind.clone());
    let audience = RwSignal::new(initial.audience.clone());
    let risk = RwSignal::new(initial.risk.clone());
    let component = RwSignal::new(initial.component.clone());
    let breaking = RwSignal::new(initial.breaking);
    let links = RwSignal::new(initial.links.clone());
    // An internal change is for the team: choosing that kind chooses its audience.
    Effect::new(move |before: Option<String>| {
        let now = kind.get();
        if before.is_some_and(|b| b != now) && now == EntryKind::Internal.as_str() {
            audience.set(Audience::Internal.as_string());
        }
        now
    });
    let key = entry_id
        .map(|i| i.to_string())
        .unwrap_or_else(|| "new".into());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(SaveEntry {
            deploy_id,
            entry_id,
            form: EntryForm {
                title: title.get_untracked(),
                body: body.get_untracked(),
                kind: kind.get_untracked(),
                audience: audience.get_untracked(),
                risk: risk.get_untracked(),
                component: component.get_untracked(),
                breaking: breaking.get_untracked(),
                links: links.get_untracked(),
            },
        });
    };
    let select = |label: &'static str,
                  id: String,
                  signal: RwSignal<String>,
                  options: Vec<(String, String)>| {
        let for_id = id.clone();
        view! {
            <label for=for_id>{label}
                <select id=id on:change=move |ev| signal.set(event_target_value(&ev)) prop:value=move || signal.get()>
                    {options.into_iter().map(|(v, l)| {
                        let value = v.clone();
                        view! { <option value=v selected=move || signal.get() == value>{l}</option> }
                    }).collect_view()}
                </select>
            </label>
        }
    };
    view! {
        <form class="entry-editor stack" on:submit=submit>
            <label>"Title"<input type="text" name="title" required prop:value=move || title.get()
                on:input=move |ev| title.set(event_target_value(&ev))/></label>
            <div class="grid4">
                {select("Kind", format!("kind-{key}"), kind, EntryKind::ALL.iter().map(|k| (k.as_str().to_string(), k.label().to_string())).collect())}
                {select("Audience", format!("audience-{key}"), audience, audience_options(&cohorts, &initial.audience))}
                {select("Risk", format!("risk-{key}"), risk, Risk::ALL.iter().map(|k| (k.as_str().to_string(), k.label().to_string())).collect())}
                <label>"Component"<input type="text" name="component" prop:value=move || component.get()
                    on:input=move |ev| component.set(event_target_value(&ev))/></label>
            </div>
            <MarkdownEditor body id=format!("body-{key}")/>
            <label>"Links (one per line)"<textarea rows="2" name="links" prop:value=move || links.get()
                on:input=move |ev| links.set(event_target_value(&ev))></textarea></label>
            <label class="check"><input type="checkbox" prop:checked=move || breaking.get()
                on:change=move |ev| breaking.set(event_target_checked(&ev))/>" Breaking change"</label>
            {action_error(save.value())}
            <div class="row-actions">
                <button type="submit" class="button primary" disabled=move || save.pending().get()>"Save entry"</button>
                <button type="button" class="button" on:click=move |_| editing.set(None)>"Cancel"</button>
            </div>
        </form>
    }
}
