use crate::api::error_text;
use crate::api::safety::{load_environments, SaveEnvironment, SetCreateEnvironments};
use crate::app::components::{action_error, layout::AppLayout, when, ErrorNote};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;

const WEEKDAYS: [(u32, &str); 7] = [
    (1, "Mon"),
    (2, "Tue"),
    (3, "Wed"),
    (4, "Thu"),
    (5, "Fri"),
    (6, "Sat"),
    (7, "Sun"),
];

/// "Mon, Tue, Wed at 21:00", or that it has none.
pub fn nights_text(days: &[u32], time: Option<&str>) -> String {
    if days.is_empty() {
        return "No deploy nights".into();
    }
    let names: Vec<&str> = WEEKDAYS
        .iter()
        .filter(|(d, _)| days.contains(d))
        .map(|(_, n)| *n)
        .collect();
    format!("{} at {}", names.join(", "), time.unwrap_or("?"))
}

fn on_env(d: &OnEnvironment) -> impl IntoView {
    view! {
        <a href=format!("/app/deploys/{}", d.deploy_id)>{d.version.clone()}</a>
        <span class="muted small">" · "{d.status.label()}" · "{when(&d.finished_at.unwrap_or(d.started_at))}</span>
    }
}

/// The form that adds an environment or changes one.
#[component]
fn EnvironmentForm(
    save: ServerAction<SaveEnvironment>,
    existing: Option<Environment>,
) -> impl IntoView {
    let create = existing.is_none();
    let slug = RwSignal::new(
        existing
            .as_ref()
            .map(|e| e.slug.clone())
            .unwrap_or_default(),
    );
    let kind = RwSignal::new(
        existing
            .as_ref()
            .map(|e| e.kind.as_str().to_string())
            .unwrap_or_else(|| "staging".into()),
    );
    let days = RwSignal::new(
        existing
            .as_ref()
            .map(|e| e.schedule_days.clone())
            .unwrap_or_default(),
    );
    let time = RwSignal::new(
        existing
            .as_ref()
            .and_then(|e| e.schedule_time.clone())
            .unwrap_or_else(|| "21:00".into()),
    );
    let label = existing
        .as_ref()
        .map(|e| format!("Change {}", e.slug))
        .unwrap_or_else(|| "Add an environment".into());
    let aria = label.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let d = days.get_untracked();
        save.dispatch(SaveEnvironment {
            create,
            slug: slug.get_untracked(),
            kind: kind.get_untracked(),
            days: d.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
            time: time.get_untracked(),
        });
    };
    let kinds = EnvironmentKind::ALL
        .iter()
        .map(|k| {
            let value = k.as_str();
            view! { <option value=value selected=move || kind.get() == value>{k.label()}</option> }
        })
        .collect_view();
    let checks = WEEKDAYS
        .iter()
        .map(|&(d, name)| {
            view! {
                <label class="inline">
                    <input type="checkbox" prop:checked=move || days.get().contains(&d)
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            days.update(|v| {
                                v.retain(|x| *x != d);
                                if on {
                                    v.push(d);
                                    v.sort_unstable();
                                }
                            });
                        }/>
                    {name}
                </label>
            }
        })
        .collect_view();
    view! {
        <form class="stack panel" on:submit=submit aria-label=aria>
            <h3>{label}</h3>
            <div class="grid3">
                {create.then(|| view! {
                    <label>"Name"<input type="text" name="slug" required placeholder="internal"
                        prop:value=move || slug.get() on:input=move |ev| slug.set(event_target_value(&ev))/></label>
                })}
                <label>"Kind"<select name="kind" on:change=move |ev| kind.set(event_target_value(&ev))>{kinds}</select></label>
                <label>"Deploys start at"<input type="time" name="time" prop:value=move || time.get()
                    on:input=move |ev| time.set(event_target_value(&ev))/></label>
            </div>
            <fieldset><legend>"Deploy nights"</legend>{checks}</fieldset>
            <div class="row-actions">
                <button type="submit" class="button primary" disabled=move || save.pending().get()>"Save"</button>
            </div>
        </form>
    }
}

/// Every environment: its kind, what runs on it now, its deploy nights;
/// admins add and change them.
#[component]
pub fn EnvironmentsPage() -> impl IntoView {
    let save = ServerAction::<SaveEnvironment>::new();
    let creating = ServerAction::<SetCreateEnvironments>::new();
    let data = Resource::new(
        move || (save.version().get(), creating.version().get()),
        |_| load_environments(),
    );
    view! {
        <Title text="Environments"/>
        <AppLayout>
            <h1>"Environments"</h1>
            <p class="lede">"What runs where now, and when each environment deploys. "
                <a href="/app/calendar">"The deploy calendar"</a></p>
            {action_error(save.value())}
            {action_error(creating.value())}
            <Transition fallback=|| view! { <p>"Loading environments…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(EnvironmentsData { environments: list, admin, create_from_ci }) => {
                            let empty = list.is_empty();
                            let rows = list.iter().map(|e| {
                                let newer = e.latest.as_ref().filter(|l| Some(l.deploy_id) != e.current.as_ref().map(|c| c.deploy_id)).cloned();
                                view! {
                                    <tr data-environment=e.slug.clone()>
                                        <th scope="row">{e.slug.clone()}</th>
                                        <td>{e.kind.label()}</td>
                                        <td>{e.current.as_ref().map(on_env)}{e.current.is_none().then_some("Nothing deployed yet")}</td>
                                        <td>{newer.as_ref().map(on_env)}</td>
                                        <td>{nights_text(&e.schedule_days, e.schedule_time.as_deref())}</td>
                                        <td>{e.next_night.as_ref().map(when)}</td>
                                    </tr>
                                }
                            }).collect_view();
                            let ci_note = if create_from_ci {
                                "A deploy naming an environment that does not exist creates it."
                            } else {
                                "A deploy naming an environment that does not exist is refused, with the names of these ones, so a typo never becomes an environment."
                            };
                            let forms = admin.then(|| {
                                let edits = list.iter().cloned().map(|e| view! { <EnvironmentForm save existing=Some(e)/> }).collect_view();
                                view! {
                                    <h2>"Manage"</h2>
                                    <form class="panel stack" aria-label="Environments from CI"
                                        on:submit=move |ev: leptos::ev::SubmitEvent| {
                                            ev.prevent_default();
                                            creating.dispatch(SetCreateEnvironments { on: !create_from_ci });
                                        }>
                                        <h3>"Environments from CI"</h3>
                                        <p>{ci_note}</p>
                                        <div class="row-actions">
                                            <button type="submit" class="button" data-testid="create-from-ci"
                                                disabled=move || creating.pending().get()>
                                                {if create_from_ci { "Refuse unknown environments" } else { "Let deploys create environments" }}
                                            </button>
                                        </div>
                                    </form>
                                    <EnvironmentForm save existing=None/>
                                    {edits}
                                }
                            });
                            view! {
                                {empty.then(|| view! { <p class="empty">"No environment yet."</p> })}
                                {(!admin).then(|| view! { <p class="muted">{ci_note}</p> })}
                                <table class="table">
                                    <thead><tr><th scope="col">"Environment"</th><th scope="col">"Kind"</th><th scope="col">"Runs now"</th>
                                        <th scope="col">"Newer, not succeeded"</th><th scope="col">"Deploy nights"</th><th scope="col">"Next night"</th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                                {forms}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </AppLayout>
    }
}
