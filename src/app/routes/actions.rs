use crate::api::actions::{load_actions, ChangeActionStatus, CreateAction};
use crate::api::error_text;
use crate::app::components::{action_error, layout::AppLayout, ErrorNote};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;

/// An action's due day, marked when overdue.
fn due_cell(a: &ActionItem) -> impl IntoView {
    let text = a.due.format("%Y-%m-%d").to_string();
    if a.overdue {
        view! { <span class="badge incident-open" title="Overdue">{format!("Overdue · {text}")}</span> }.into_any()
    } else {
        view! { <span>{text}</span> }.into_any()
    }
}

/// A table of actions; open ones get done/drop controls when `change` is given.
pub fn action_table(
    list: Vec<ActionItem>,
    change: Option<ServerAction<ChangeActionStatus>>,
) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|a| {
            let id = a.id;
            let open = a.status == ActionStatus::Open;
            let reason = RwSignal::new(String::new());
            let controls = change.map(|change| {
                if open {
                    view! {
                        <button type="button" class="button small primary" on:click=move |_| {
                            change.dispatch(ChangeActionStatus { id, status: "done".into(), note: String::new() });
                        }>"Done"</button>
                        <input type="text" class="small" placeholder="Why drop it?" aria-label=format!("Why drop {}", a.number)
                            prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))/>
                        <button type="button" class="button small" on:click=move |_| {
                            change.dispatch(ChangeActionStatus { id, status: "dropped".into(), note: reason.get_untracked() });
                        }>"Drop"</button>
                    }
                    .into_any()
                } else {
                    view! {
                        <button type="button" class="button small" on:click=move |_| {
                            change.dispatch(ChangeActionStatus { id, status: "open".into(), note: String::new() });
                        }>"Reopen"</button>
                    }
                    .into_any()
                }
            });
            view! {
                <tr data-action=a.number.clone() class:overdue=a.overdue>
                    <td><span class="mono">{a.number.clone()}</span>" "{a.title.clone()}
                        {(!a.note.is_empty()).then(|| view! { <br/><span class="muted small">{a.note.clone()}</span> })}</td>
                    <td>{a.kind.label()}</td>
                    <td>{a.owner_name.clone()}</td>
                    <td>{due_cell(&a)}</td>
                    <td>{a.status.label()}
                        {a.evidence_deploy_id.map(|d| view! { " · "<a href=format!("/app/deploys/{d}")>"evidence"</a> })}
                        {a.incident_id.map(|i| view! { " · "<a href=format!("/app/incidents/{i}")>{incident_number(i)}</a> })}
                        {a.hole_id.map(|_| view! { " · from a hole" })}
                        {a.retro_id.map(|r| view! { " · "<a href=format!("/app/retros/{r}")>"from a retro"</a> })}</td>
                    <td class="row-actions">{controls}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="table actions">
            <thead><tr><th scope="col">"Action"</th><th scope="col">"Type"</th><th scope="col">"Owner"</th><th scope="col">"Due"</th><th scope="col">"Status"</th><th scope="col"><span class="sr-only">"Change"</span></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// A choice of owner among `people` (email, name), `me` first chosen.
pub fn owner_select(
    owner: RwSignal<String>,
    people: Vec<(String, String)>,
    me: &str,
) -> impl IntoView {
    let options = people
        .into_iter()
        .map(|(email, name)| {
            let selected = email == me;
            view! { <option value=email.clone() selected=selected>{format!("{name} ({email})")}</option> }
        })
        .collect_view();
    view! {
        <label>"Owner"<select name="owner" on:change=move |ev| owner.set(event_target_value(&ev))>{options}</select></label>
    }
}

/// The form to add an action, owned by one of `people` (email, name).
#[component]
pub fn NewAction(
    create: ServerAction<CreateAction>,
    people: Vec<(String, String)>,
    me: String,
    /// The incident it follows up (`INC-12`), fixed when given.
    #[prop(optional, into)]
    incident: String,
) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let owner = RwSignal::new(me.clone());
    let due = RwSignal::new(String::new());
    let kind = RwSignal::new(ActionKind::Testing.as_str().to_string());
    let incident_field = RwSignal::new(incident.clone());
    let fixed = !incident.is_empty();
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            title.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateAction {
            title: title.get_untracked(),
            owner_email: owner.get_untracked(),
            due: due.get_untracked(),
            kind: kind.get_untracked(),
            incident: incident_field.get_untracked(),
        });
    };
    view! {
        <form class="stack panel" on:submit=submit aria-label="New action">
            <h2>"New action"</h2>
            <label>"What to do"<input type="text" name="title" required prop:value=move || title.get()
                on:input=move |ev| title.set(event_target_value(&ev))/></label>
            <div class="grid4">
                {owner_select(owner, people, &me)}
                <label>"Due"<input type="date" name="due" required prop:value=move || due.get()
                    on:input=move |ev| due.set(event_target_value(&ev))/></label>
                <label>"Type"<select name="type" on:change=move |ev| kind.set(event_target_value(&ev))>
                    {ActionKind::ALL.iter().map(|k| view! { <option value=k.as_str()>{k.label()}</option> }).collect_view()}
                </select></label>
                {(!fixed).then(|| view! {
                    <label>"Incident (optional)"<input type="text" name="incident" placeholder="INC-12" prop:value=move || incident_field.get()
                        on:input=move |ev| incident_field.set(event_target_value(&ev))/></label>
                })}
            </div>
            {action_error(create.value())}
            <div class="row-actions">
                <button type="submit" class="button primary" disabled=move || create.pending().get()>"Add action"</button>
            </div>
        </form>
    }
}

/// My actions first, then everyone else's open ones, then what was closed
/// lately; overdue ones are marked.
#[component]
pub fn ActionsPage() -> impl IntoView {
    let create = ServerAction::<CreateAction>::new();
    let change = ServerAction::<ChangeActionStatus>::new();
    let data = Resource::new(
        move || (create.version().get(), change.version().get()),
        |_| load_actions(),
    );
    view! {
        <Title text="Actions"/>
        <AppLayout>
            <h1>"Actions"</h1>
            {action_error(change.value())}
            <Transition fallback=|| view! { <p>"Loading actions…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(v) => {
                            let edit = v.can_edit.then_some(change);
                            let overdue = v.mine.iter().filter(|a| a.overdue).count();
                            view! {
                                <section aria-labelledby="mine-h">
                                    <h2 id="mine-h">{format!("My actions ({})", v.mine.len())}
                                        {(overdue > 0).then(|| view! { " "<span class="badge incident-open">{format!("{overdue} overdue")}</span> })}</h2>
                                    {if v.mine.is_empty() {
                                        view! { <p class="empty">"Nothing on your plate."</p> }.into_any()
                                    } else {
                                        action_table(v.mine, edit).into_any()
                                    }}
                                </section>
                                {v.can_edit.then(|| view! { <NewAction create people=v.people.clone() me=v.me.clone()/> })}
                                <section aria-labelledby="others-h">
                                    <h2 id="others-h">"The team's open actions"</h2>
                                    {if v.others.is_empty() {
                                        view! { <p class="empty">"None."</p> }.into_any()
                                    } else {
                                        action_table(v.others, edit).into_any()
                                    }}
                                </section>
                                <section aria-labelledby="closed-h">
                                    <h2 id="closed-h">"Closed lately"</h2>
                                    {if v.closed.is_empty() {
                                        view! { <p class="empty">"None yet."</p> }.into_any()
                                    } else {
                                        action_table(v.closed, edit).into_any()
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
