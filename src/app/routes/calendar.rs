use crate::api::error_text;
use crate::api::safety::{load_calendar, ExplainNight};
use crate::app::components::{action_error, layout::AppLayout, ErrorNote};
use crate::model::*;
use chrono::Datelike;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

fn state_badge(n: &Night) -> impl IntoView {
    let class = match n.state {
        NightState::Deployed => "badge incident-resolved",
        NightState::Skipped => "badge incident-mitigated",
        NightState::Flagged => "badge incident-open",
        NightState::Tonight | NightState::Upcoming => "badge",
    };
    view! { <span class=class>{n.state.label()}</span> }
}

/// The reason form of one night.
fn explain_form(
    environment: String,
    n: &Night,
    explain: ServerAction<ExplainNight>,
) -> impl IntoView {
    let night = n.night.to_string();
    let reason = RwSignal::new(n.reason.map(|r| r.as_str().to_string()).unwrap_or_default());
    let note = RwSignal::new(if n.given_by.as_deref() == Some("shiplog") {
        String::new()
    } else {
        n.note.clone().unwrap_or_default()
    });
    let options = NightReason::ALL
        .iter()
        .map(|r| {
            let value = r.as_str();
            view! { <option value=value selected=move || reason.get() == value>{r.label()}</option> }
        })
        .collect_view();
    let label = format!("Why no deploy on {night}");
    view! {
        <form class="inline-form" aria-label=label.clone() on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            explain.dispatch(ExplainNight {
                environment: environment.clone(),
                night: night.clone(),
                reason: reason.get_untracked(),
                note: note.get_untracked(),
            });
        }>
            <select aria-label=format!("{label}: reason") on:change=move |ev| reason.set(event_target_value(&ev))>
                <option value="" selected=move || reason.get().is_empty()>"No reason given"</option>
                {options}
            </select>
            <input type="text" class="small" placeholder="Note" aria-label=format!("{label}: note")
                prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))/>
            <button type="submit" class="button small" disabled=move || explain.pending().get()>"Save"</button>
        </form>
    }
}

/// Each scheduled deploy night of an environment: deployed (with a link),
/// skipped with its reason, or flagged until someone says why; the streak
/// and the share of nights deployed.
#[component]
pub fn CalendarPage() -> impl IntoView {
    let query = use_query_map();
    let explain = ServerAction::<ExplainNight>::new();
    let data = Resource::new(
        move || (query.read().get("environment"), explain.version().get()),
        |(environment, _)| load_calendar(environment),
    );
    view! {
        <Title text="Deploy calendar"/>
        <AppLayout>
            <h1>"Deploy calendar"</h1>
            {action_error(explain.value())}
            <Transition fallback=|| view! { <p>"Loading the calendar…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok((cal, scheduled)) => {
                            let env = cal.environment.clone();
                            let options = scheduled.iter().map(|s| view! {
                                <option value=s.clone() selected=*s == env>{s.clone()}</option>
                            }).collect_view();
                            let share = cal.share_deployed.map(|s| format!("{:.0} %", s * 100.0)).unwrap_or_else(|| "—".into());
                            let rows = cal.nights.iter().map(|n| {
                                let what = match (n.deploy_id, &n.reason) {
                                    (Some(id), _) => view! { <a href=format!("/app/deploys/{id}")>{n.version.clone()}</a> }.into_any(),
                                    (None, Some(r)) => view! {
                                        <span>{r.label()}{n.note.clone().map(|t| format!(": {t}"))}</span>
                                        <span class="muted small">{n.given_by.clone().map(|b| format!(" · {b}"))}</span>
                                    }.into_any(),
                                    (None, None) => view! { <span class="muted">"—"</span> }.into_any(),
                                };
                                let form = (n.state != NightState::Deployed).then(|| explain_form(cal.environment.clone(), n, explain));
                                view! {
                                    <tr data-night=n.night.to_string() data-state=n.state.as_str()>
                                        <th scope="row">{format!("{} {}", n.night.weekday(), n.night)}</th>
                                        <td>{state_badge(n)}</td>
                                        <td>{what}</td>
                                        <td>{form}</td>
                                    </tr>
                                }
                            }).collect_view();
                            view! {
                                <form method="get" action="/app/calendar" class="inline-form" aria-label="Environment">
                                    <label>"Environment "<select name="environment">{options}</select></label>
                                    <button type="submit" class="button small">"Show"</button>
                                </form>
                                <dl class="stats">
                                    <div><dt>"Streak"</dt><dd data-testid="streak">{cal.streak}" nights"</dd></div>
                                    <div><dt>"Nights deployed"</dt><dd>{format!("{} of {} ({share})", cal.deployed, cal.scheduled)}</dd></div>
                                    <div><dt>"Flagged"</dt><dd data-testid="flagged">{cal.flagged}</dd></div>
                                </dl>
                                <p class="muted small">{format!("{} to {}. A night counts deploys started from noon until 06:00 the next morning. A flagged night passed with no deploy and no reason: say why.", cal.from, cal.to)}</p>
                                {cal.nights.is_empty().then(|| view! { <p class="empty">"This environment has no deploy nights: an admin sets them on the environments page."</p> })}
                                <table class="table">
                                    <thead><tr><th scope="col">"Night"</th><th scope="col">"State"</th><th scope="col">"Deploy or reason"</th><th scope="col"><span class="sr-only">"Give a reason"</span></th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </AppLayout>
    }
}
