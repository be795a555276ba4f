use crate::api::error_text;
use crate::api::gates::{load_blocks, LiftBlock, PlaceBlock};
use crate::app::components::{action_error, layout::AppLayout, when, ErrorNote};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;

fn state_badge(state: Option<BlockState>) -> impl IntoView {
    let (class, label) = match state {
        Some(BlockState::Active) => ("badge incident-open", "Holding"),
        Some(BlockState::Lifted) => ("badge incident-resolved", "Lifted"),
        _ => ("badge", "Expired"),
    };
    view! { <span class=class>{label}</span> }
}

/// The home page's block form: what is being typed is a [`BlockInput`] that
/// lives with the page, so reloading the timeline keeps it, and the server
/// function gets it whole.
#[derive(Clone, Copy)]
pub struct BlockForm {
    pub place: ServerAction<PlaceBlock>,
    pub input: RwSignal<BlockInput>,
}

impl BlockForm {
    pub fn new() -> Self {
        let form = BlockForm {
            place: ServerAction::<PlaceBlock>::new(),
            input: RwSignal::new(BlockInput::default()),
        };
        Effect::new(move |_| {
            if let Some(Ok(_)) = form.place.value().get() {
                // Placed: the next block starts empty, on the same environment.
                form.input.update(|i| {
                    *i = BlockInput {
                        environment: std::mem::take(&mut i.environment),
                        ..BlockInput::default()
                    }
                });
            }
        });
        form
    }
}

impl Default for BlockForm {
    fn default() -> Self {
        Self::new()
    }
}

/// Tonight's gates on the home page, and the form anyone signed in uses to
/// block a deploy.
pub fn gate_panel(gates: Vec<Gate>, f: BlockForm) -> Option<AnyView> {
    let first = gates.first()?.environment.clone();
    let BlockForm { place, input } = f;
    let chosen = move || {
        let e = input.with(|i| i.environment.clone());
        if e.is_empty() {
            first.clone()
        } else {
            e
        }
    };
    let rows = gates
        .iter()
        .map(|g| {
            let reasons = g.reasons.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view();
            view! {
                <li data-gate=g.environment.clone()>
                    <strong>{g.environment.clone()}</strong>": "
                    {if g.open {
                        view! { <span class="badge incident-resolved">"Gate open"</span> }.into_any()
                    } else {
                        view! { <span class="badge incident-open">"Gate closed"</span><ul class="small">{reasons}</ul> }.into_any()
                    }}
                </li>
            }
        })
        .collect_view();
    let chosen_for_options = chosen.clone();
    let options = gates
        .iter()
        .map(|g| {
            let env = g.environment.clone();
            let chosen = chosen_for_options.clone();
            view! { <option value=env.clone() selected=move || chosen() == env>{g.environment.clone()}</option> }
        })
        .collect_view();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut input = input.get_untracked();
        input.environment = chosen();
        place.dispatch(PlaceBlock { input });
    };
    Some(
        view! {
            <section class="panel gate-panel" aria-labelledby="gate-h">
                <h2 id="gate-h">"Tonight's deploy"</h2>
                <ul class="gates">{rows}</ul>
                <form class="stack" on:submit=submit aria-label="Block a deploy">
                    <p class="muted small">"Anyone on the team may block the deploy. The block lasts until the morning after the next deploy night unless lifted earlier."</p>
                    <div class="grid3">
                        <label>"Environment"<select name="input[environment]" on:change=move |ev| input.update(|i| i.environment = event_target_value(&ev))>{options}</select></label>
                        <label class="span2">"Why"<input type="text" name="input[reason]" required prop:value=move || input.with(|i| i.reason.clone())
                            on:input=move |ev| input.update(|i| i.reason = event_target_value(&ev))/></label>
                    </div>
                    <label>"Only this component (optional)"<input type="text" name="input[component]" prop:value=move || input.with(|i| i.component.clone().unwrap_or_default())
                        on:input=move |ev| input.update(|i| i.component = Some(event_target_value(&ev)))/></label>
                    {action_error(place.value())}
                    <div class="row-actions">
                        <button type="submit" class="button primary" disabled=move || place.pending().get()>"Block the deploy"</button>
                        <a href="/app/blocks">"Every block"</a>
                    </div>
                </form>
            </section>
        }
        .into_any(),
    )
}

/// Every block: holding, expired and lifted, with who and when; holding
/// ones can be lifted with a note.
#[component]
pub fn BlocksPage() -> impl IntoView {
    let lift = ServerAction::<LiftBlock>::new();
    let data = Resource::new(move || lift.version().get(), |_| load_blocks());
    view! {
        <Title text="Blocks"/>
        <AppLayout>
            <h1>"Blocks"</h1>
            <p class="lede">"Every block placed on a deploy, and every lift, with who and when."</p>
            {action_error(lift.value())}
            <Transition fallback=|| view! { <p>"Loading blocks…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No deploy was ever blocked."</p> }.into_any(),
                        Ok(list) => {
                            let rows = list.into_iter().map(|b| {
                                let id = b.id;
                                let note = RwSignal::new(String::new());
                                let holding = b.state == Some(BlockState::Active);
                                let lifted = b.lifted_at.map(|t| format!("Lifted {} by {}: {}", when(&t), b.lifted_by.clone().unwrap_or_default(), b.lift_note.clone().unwrap_or_default()));
                                view! {
                                    <tr data-block=id>
                                        <td>{b.environment.clone()}</td>
                                        <td>{b.scope()}</td>
                                        <td>{b.reason.clone()}{lifted.map(|l| view! { <br/><span class="muted small">{l}</span> })}</td>
                                        <td>{format!("{} · {}", b.placed_by, when(&b.placed_at))}</td>
                                        <td>{when(&b.expires_at)}</td>
                                        <td>{state_badge(b.state)}</td>
                                        <td class="row-actions">{holding.then(|| view! {
                                            <input type="text" class="small" placeholder="Why lift it?" aria-label=format!("Why lift block {id}")
                                                prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))/>
                                            <button type="button" class="button small" on:click=move |_| {
                                                lift.dispatch(LiftBlock { id, note: note.get_untracked() });
                                            }>"Lift"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view();
                            view! {
                                <table class="table">
                                    <thead><tr><th scope="col">"Environment"</th><th scope="col">"Blocks"</th><th scope="col">"Why"</th><th scope="col">"Placed"</th><th scope="col">"Until"</th><th scope="col">"State"</th><th scope="col"><span class="sr-only">"Lift"</span></th></tr></thead>
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
