use crate::api::error_text;
use crate::api::safety::{load_notifications, SaveNotifications};
use crate::app::components::{action_error, layout::AppLayout, ErrorNote};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;

/// What the signed-in person is emailed about.
#[component]
pub fn ProfilePage() -> impl IntoView {
    let save = ServerAction::<SaveNotifications>::new();
    let data = Resource::new(|| (), |_| load_notifications());
    let chosen = RwSignal::new(None::<Vec<NotifyEvent>>);
    let saved = move || matches!(save.value().get(), Some(Ok(_)));
    view! {
        <Title text="Your profile"/>
        <AppLayout>
            <h1>"Your profile"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(mine) => {
                            chosen.set(Some(mine));
                            let boxes = NotifyEvent::ALL.iter().map(|&e| view! {
                                <label class="inline-block">
                                    <input type="checkbox" name=e.as_str()
                                        prop:checked=move || chosen.get().unwrap_or_default().contains(&e)
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            chosen.update(|c| {
                                                let v = c.get_or_insert_with(Vec::new);
                                                v.retain(|x| *x != e);
                                                if on { v.push(e); }
                                            });
                                        }/>
                                    " "{e.label()}" "<code class="small">{e.as_str()}</code>
                                </label>
                            }).collect_view();
                            view! {
                                <form class="stack panel" aria-label="Email notifications" on:submit=move |ev: leptos::ev::SubmitEvent| {
                                    ev.prevent_default();
                                    let events = chosen.get_untracked().unwrap_or_default().iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",");
                                    save.dispatch(SaveNotifications { events });
                                }>
                                    <h2>"Email me when…"</h2>
                                    {boxes}
                                    {action_error(save.value())}
                                    <div class="row-actions">
                                        <button type="submit" class="button primary" disabled=move || save.pending().get()>"Save"</button>
                                        {move || saved().then(|| view! { <span role="status">"Saved."</span> })}
                                    </div>
                                </form>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </AppLayout>
    }
}
