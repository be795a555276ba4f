use crate::api::actions::{ChangeActionStatus, CreateAction};
use crate::api::error_text;
use crate::api::incidents::{
    load_incident, load_incidents, ChangeIncidentStatus, FileIncident, IncidentView,
    SetIncidentCause, SetIncidentFix, TellCustomers,
};
use crate::app::components::{action_error, layout::AppLayout, when, ErrorNote};
use crate::app::routes::actions::{action_table, NewAction};
use crate::app::routes::release::local_to_rfc3339;
use crate::app::routes::root_cause::{root_cause_section, NoteActions};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

/// A status as a badge.
fn status_badge(status: IncidentStatus) -> impl IntoView {
    view! { <span class=format!("badge incident-{}", status.as_str())>{status.label()}</span> }
}

/// How long, in words: `2 h 5 min`.
fn span(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    match (minutes / 1440, minutes / 60 % 24, minutes % 60) {
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// One row of an incident list.
fn incident_row(i: Incident) -> impl IntoView {
    view! {
        <tr data-incident=i.number.clone()>
            <td><a href=format!("/app/incidents/{}", i.id)><span class="mono">{i.number.clone()}</span>" "{i.title.clone()}</a></td>
            <td>{i.severity.label()}</td>
            <td>{i.environment.clone()}</td>
            <td>{when(&i.detected_at)}</td>
            <td>{status_badge(i.status)}</td>
        </tr>
    }
}

fn incident_table(list: Vec<Incident>) -> impl IntoView {
    view! {
        <table class="table">
            <thead><tr><th scope="col">"Incident"</th><th scope="col">"Severity"</th><th scope="col">"Environment"</th><th scope="col">"Detected"</th><th scope="col">"Status"</th></tr></thead>
            <tbody>{list.into_iter().map(incident_row).collect_view()}</tbody>
        </table>
    }
}

/// Defects first: every incident not yet resolved, the recent resolved ones,
/// and the form to file one (pre-filled from a deploy or an entry).
#[component]
pub fn IncidentsPage() -> impl IntoView {
    let file = ServerAction::<FileIncident>::new();
    let data = Resource::new(move || file.version().get(), |_| load_incidents());
    Effect::new(move |_| {
        if let Some(Ok(id)) = file.value().get() {
            use_navigate()(&format!("/app/incidents/{id}"), Default::default());
        }
    });
    view! {
        <Title text="Incidents"/>
        <AppLayout>
            <h1>"Incidents"</h1>
            <Transition fallback=|| view! { <p>"Loading incidents…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(v) => {
                            let can_file = v.can_file;
                            let environments = v.environments.clone();
                            view! {
                                <section aria-labelledby="open-h">
                                    <h2 id="open-h">{format!("Not resolved ({})", v.unresolved.len())}</h2>
                                    {if v.unresolved.is_empty() {
                                        view! { <p class="empty">"No open incidents."</p> }.into_any()
                                    } else {
                                        incident_table(v.unresolved).into_any()
                                    }}
                                </section>
                                {can_file.then(|| view! { <NewIncident file environments/> })}
                                <section aria-labelledby="resolved-h">
                                    <h2 id="resolved-h">"Resolved"</h2>
                                    {if v.resolved.is_empty() {
                                        view! { <p class="empty">"None yet."</p> }.into_any()
                                    } else {
                                        incident_table(v.resolved).into_any()
                                    }}
                                </section>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </AppLayout>
    }
}

/// The form to file an incident. `?environment=` and `?entry=` (from a deploy
/// or an entry page) pre-fill it.
#[component]
fn NewIncident(file: ServerAction<FileIncident>, environments: Vec<String>) -> impl IntoView {
    let query = use_query_map();
    let chosen_env = query
        .read_untracked()
        .get("environment")
        .unwrap_or_else(|| PRODUCTION.to_string());
    let entry = query
        .read_untracked()
        .get("entry")
        .and_then(|e| e.parse::<i64>().ok());
    let title = RwSignal::new(String::new());
    let severity = RwSignal::new(Severity::Sev2.as_str().to_string());
    let environment = RwSignal::new(chosen_env.clone());
    let detected_at = RwSignal::new(String::new());
    let detected_by = RwSignal::new(DetectedBy::Team.as_str().to_string());
    let impact = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        file.dispatch(FileIncident {
            title: title.get_untracked(),
            severity: severity.get_untracked(),
            environment: environment.get_untracked(),
            detected_at: local_to_rfc3339(&detected_at.get_untracked()),
            detected_by: detected_by.get_untracked(),
            customer_impact: impact.get_untracked(),
            caused_by: entry,
        });
    };
    view! {
        <section class="panel" aria-labelledby="new-incident-h">
            <h2 id="new-incident-h">"File an incident"</h2>
            {entry.map(|e| view! { <p class="muted">{format!("Caused by entry {e}.")}</p> })}
            <form class="stack" on:submit=submit>
                <label>"What broke"<input type="text" name="title" required prop:value=move || title.get()
                    on:input=move |ev| title.set(event_target_value(&ev))/></label>
                <div class="grid4">
                    <label>"Severity"<select name="severity" on:change=move |ev| severity.set(event_target_value(&ev))>
                        {Severity::ALL.iter().map(|s| view! { <option value=s.as_str() selected=*s == Severity::Sev2>{s.label()}</option> }).collect_view()}
                    </select></label>
                    <label>"Environment"<select name="environment" on:change=move |ev| environment.set(event_target_value(&ev))>
                        {environments.into_iter().map(|e| {
                            let selected = e == chosen_env;
                            view! { <option value=e.clone() selected=selected>{e.clone()}</option> }
                        }).collect_view()}
                    </select></label>
                    <label>"Detected at (your time; empty: now)"<input type="datetime-local" name="detected_at"
                        prop:value=move || detected_at.get() on:input=move |ev| detected_at.set(event_target_value(&ev))/></label>
                    <label>"Detected by"<select name="detected_by" on:change=move |ev| detected_by.set(event_target_value(&ev))>
                        {DetectedBy::ALL.iter().map(|d| view! { <option value=d.as_str() selected=*d == DetectedBy::Team>{d.label()}</option> }).collect_view()}
                    </select></label>
                </div>
                <label>"Customer impact (Markdown, internal)"<textarea rows="3" name="customer_impact"
                    prop:value=move || impact.get() on:input=move |ev| impact.set(event_target_value(&ev))></textarea></label>
                {action_error(file.value())}
                <div class="row-actions">
                    <button type="submit" class="button primary" disabled=move || file.pending().get()>"File incident"</button>
                </div>
            </form>
        </section>
    }
}

/// One incident: status, what it did to customers, what caused it (with
/// the suspects to narrow that down in one click), what fixed it, and how long.
#[component]
pub fn IncidentPage() -> impl IntoView {
    let id = move || {
        use_params_map()
            .read()
            .get("id")
            .and_then(|v| parse_incident_number(&v))
            .unwrap_or_default()
    };
    let status = ServerAction::<ChangeIncidentStatus>::new();
    let cause = ServerAction::<SetIncidentCause>::new();
    let fix = ServerAction::<SetIncidentFix>::new();
    let tell = ServerAction::<TellCustomers>::new();
    let actions = Actions {
        create: ServerAction::<CreateAction>::new(),
        change: ServerAction::<ChangeActionStatus>::new(),
    };
    let note = NoteActions::default();
    let data = Resource::new(
        move || {
            (
                id(),
                status.version().get(),
                cause.version().get(),
                fix.version().get(),
                actions.create.version().get(),
                actions.change.version().get(),
                note.save.version().get(),
                note.review.version().get(),
                note.hole.version().get(),
                tell.version().get(),
            )
        },
        |(id, ..)| load_incident(id),
    );
    view! {
        <AppLayout>
            <Transition fallback=|| view! { <p>"Loading incident…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <Title text="Incident"/><ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(v) => incident_view(v, status, cause, fix, actions, note, tell).into_any(),
                    }
                })}
            </Transition>
        </AppLayout>
    }
}

/// The incident page's actions on its follow-up actions.
#[derive(Clone, Copy)]
struct Actions {
    create: ServerAction<CreateAction>,
    change: ServerAction<ChangeActionStatus>,
}

fn incident_view(
    v: IncidentView,
    status: ServerAction<ChangeIncidentStatus>,
    cause: ServerAction<SetIncidentCause>,
    fix: ServerAction<SetIncidentFix>,
    actions: Actions,
    note: NoteActions,
    tell: ServerAction<TellCustomers>,
) -> impl IntoView {
    let IncidentView {
        detail,
        can_edit,
        people,
        me,
        root_cause,
        timeline_text,
        can_tell_customers,
    } = v;
    let customers = customer_note_section(&detail, can_tell_customers, tell);
    let note_section = root_cause_section(
        detail.incident.id,
        root_cause,
        timeline_text,
        can_edit,
        me.clone(),
        people.clone(),
        note,
    );
    let i = detail.incident.clone();
    let id = i.id;
    let caused: Vec<i64> = detail.caused_by.iter().map(|c| c.entry.id).collect();
    let moves = IncidentStatus::ALL
        .iter()
        .copied()
        .filter(|s| *s != i.status)
        .map(|s| {
            let label = match s {
                IncidentStatus::Open => "Reopen",
                IncidentStatus::Mitigated => "Mark mitigated",
                IncidentStatus::Resolved => "Mark resolved",
            };
            view! {
                <button type="button" class="button small" on:click=move |_| {
                    status.dispatch(ChangeIncidentStatus { id, status: s.as_str().to_string() });
                }>{label}</button>
            }
        })
        .collect_view();
    let fix_input = RwSignal::new(
        i.fixed_by_deploy_id
            .map(|d| d.to_string())
            .unwrap_or_default(),
    );
    let suspect_rows = detail
        .suspects
        .iter()
        .map(|s| {
            let entry_id = s.entry.id;
            let is_cause = caused.contains(&entry_id);
            view! {
                <tr data-entry-id=entry_id class:cause=is_cause>
                    <td><a href=format!("/app/deploys/{}", s.entry.deploy_id)><span class="mono">{s.version.clone()}</span></a>" · "{when(&s.deployed_at)}</td>
                    <td>{s.entry.title.clone()}{s.entry.component.clone().map(|c| view! { " "<span class="badge">{c}</span> })}</td>
                    <td>{s.reasons.join("; ")}</td>
                    <td>{can_edit.then(|| view! {
                        <button type="button" class=if is_cause { "button small" } else { "button small primary" } on:click=move |_| {
                            cause.dispatch(SetIncidentCause { id, entry_id, caused: !is_cause });
                        }>{if is_cause { "Not the cause" } else { "Caused by this entry" }}</button>
                    })}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <Title text=format!("{} {}", i.number, i.title)/>
        <p class="crumbs"><a href="/app/incidents">"Incidents"</a>" / "{i.number.clone()}</p>
        <div class="deploy-head">
            <h1><span class="mono">{i.number.clone()}</span>" "{i.title.clone()}" "{status_badge(i.status)}</h1>
            <p class="muted" data-testid="incident-facts">
                {format!("{} · {} · detected {} by {} · filed by {}", i.severity.label(), i.environment, when(&i.detected_at), i.detected_by.label(), i.created_by)}
            </p>
            <p class="muted">
                {i.mitigated_at.as_ref().map(|t| format!("Mitigated {}. ", when(t)))}
                {i.resolved_at.as_ref().map(|t| format!("Resolved {}. ", when(t)))}
                {detail.time_to_detect_seconds.map(|s| format!("Time to detect: {}. ", span(s)))}
                {detail.time_to_restore_seconds.map(|s| format!("Time to restore: {}.", span(s)))}
            </p>
            {can_edit.then(|| view! { <div class="row-actions">{moves}</div> })}
            {action_error(status.value())}
        </div>
        {(!i.customer_impact_html.is_empty()).then(|| view! {
            <section aria-labelledby="impact-h"><h2 id="impact-h">"Customer impact"</h2>
                <div class="prose panel" inner_html=i.customer_impact_html.clone()></div></section>
        })}
        {customers}
        <section aria-labelledby="cause-h">
            <h2 id="cause-h">"Caused by"</h2>
            {if detail.caused_by.is_empty() {
                view! { <p class="empty">"Not known yet: pick the cause among the suspects below."</p> }.into_any()
            } else {
                view! { <ul data-testid="causes">{detail.caused_by.iter().map(|c| view! {
                    <li><a href=format!("/app/deploys/{}", c.entry.deploy_id)>{c.entry.title.clone()}</a>" · "<span class="mono">{c.version.clone()}</span></li>
                }).collect_view()}</ul> }.into_any()
            }}
            {action_error(cause.value())}
        </section>
        <section aria-labelledby="fix-h">
            <h2 id="fix-h">"Fixed by"</h2>
            <p data-testid="fixed-by">{match (detail.incident.fixed_by_deploy_id, detail.fixed_by_version.clone()) {
                (Some(d), Some(v)) => view! { <a href=format!("/app/deploys/{d}")>"Deploy "<span class="mono">{v}</span></a> }.into_any(),
                _ => view! { <span class="muted">"No fixing deploy yet. A deploy whose entry or commit says “Fixes-Incident: "{i.number.clone()}"” sets it."</span> }.into_any(),
            }}</p>
            {can_edit.then(|| view! {
                <form class="inline-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    fix.dispatch(SetIncidentFix { id, deploy: fix_input.get_untracked() });
                }>
                    <label>"Fixing deploy (number)"<input type="text" inputmode="numeric" prop:value=move || fix_input.get()
                        on:input=move |ev| fix_input.set(event_target_value(&ev))/></label>
                    <button type="submit" class="button small">"Set"</button>
                </form>
            })}
            {action_error(fix.value())}
        </section>
        {note_section}
        <section aria-labelledby="actions-h">
            <h2 id="actions-h">"Follow-up actions"</h2>
            {action_error(actions.change.value())}
            {if detail.actions.is_empty() {
                view! { <p class="empty">"No actions yet."</p> }.into_any()
            } else {
                action_table(detail.actions.clone(), can_edit.then_some(actions.change)).into_any()
            }}
            {can_edit.then(|| view! { <NewAction create=actions.create people me incident=i.number.clone()/> })}
        </section>
        <section aria-labelledby="suspects-h">
            <h2 id="suspects-h">"Suspects"</h2>
            <p class="muted">{format!("Entries of the deploys to {} before it was detected, newest deploy first, likeliest first.", i.environment)}</p>
            {if detail.suspects.is_empty() {
                view! { <p class="empty">"No deploys to this environment before detection."</p> }.into_any()
            } else {
                view! {
                    <table class="table" data-testid="suspects">
                        <thead><tr><th scope="col">"Deploy"</th><th scope="col">"Entry"</th><th scope="col">"Why"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>{suspect_rows}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

/// Once a resolved incident affected customers: the note that tells them,
/// or that they were told.
fn customer_note_section(
    detail: &IncidentDetail,
    can_tell: bool,
    tell: ServerAction<TellCustomers>,
) -> Option<AnyView> {
    let i = &detail.incident;
    i.ready_for_customer_note().ok()?;
    if let Some(entry) = i.customer_entry_id {
        return Some(
            view! {
                <section aria-labelledby="told-h" class="panel">
                    <h2 id="told-h">"Customers were told"</h2>
                    <p>"The note is a fix entry on the public site, for the customers who could see the change that caused it. "
                        <a href=format!("/app/deploys/{}#entry-{entry}", i.fixed_by_deploy_id.unwrap_or_default())>"See the entry"</a></p>
                </section>
            }
            .into_any(),
        );
    }
    if !can_tell {
        return None;
    }
    let id = i.id;
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let announce = RwSignal::new(true);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        tell.dispatch(TellCustomers {
            id,
            title: title.get_untracked(),
            body: body.get_untracked(),
            announce: announce.get_untracked(),
        });
    };
    Some(
        view! {
            <form class="stack panel" on:submit=submit aria-label="Tell customers">
                <h2>"Tell customers"</h2>
                <p class="muted">"Only this note reaches customers, as a fix entry of the deploy that fixed it, for the audience of the change that caused it. The root cause and the timeline stay internal."</p>
                <label>"Title"<input type="text" name="title" required placeholder="Invoices show the right totals again"
                    prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev))/></label>
                <label>"What customers saw, and that it is fixed (Markdown)"<textarea rows="4" name="body"
                    prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea></label>
                <label class="check"><input type="checkbox" name="announce" prop:checked=move || announce.get()
                    on:change=move |ev| announce.set(event_target_checked(&ev))/>"Also email it to the subscribers who may read it"</label>
                {action_error(tell.value())}
                <div class="row-actions"><button type="submit" class="button primary" disabled=move || tell.pending().get()>"Tell customers"</button></div>
            </form>
        }
        .into_any(),
    )
}
