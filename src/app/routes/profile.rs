use crate::api::auth::{my_sessions, EndOtherSessions, EndSession};
use crate::api::error_text;
use crate::api::safety::{load_notifications, SaveNotifications};
use crate::app::components::{action_error, layout::AppLayout, when, ErrorNote};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;

/// What the signed-in person is emailed about, and where they are signed in.
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
            <YourSessions/>
        </AppLayout>
    }
}

/// Every browser signed in as this person, with sign-out for the others.
#[component]
fn YourSessions() -> impl IntoView {
    let end = ServerAction::<EndSession>::new();
    let end_others = ServerAction::<EndOtherSessions>::new();
    let sessions = Resource::new(
        move || (end.version().get(), end_others.version().get()),
        |_| my_sessions(),
    );
    view! {
        <section class="panel stack" aria-labelledby="sessions-title">
            <h2 id="sessions-title">"Your sessions"</h2>
            <p class="muted">"Where you are signed in now. Signing a session out takes effect at its next request."</p>
            {action_error(end.value())}
            {action_error(end_others.value())}
            {move || match end_others.value().get() {
                Some(Ok(n)) => Some(view! { <p role="status">{format!("Signed out of {n} other session{}.", if n == 1 { "" } else { "s" })}</p> }),
                _ => None,
            }}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(list) => {
                            let others = list.iter().filter(|s| !s.current).count();
                            let rows = list.into_iter().map(|s| {
                                let id = s.id;
                                let device = s.device();
                                view! {
                                    <tr>
                                        <td title=s.user_agent.clone()>{device}
                                            {s.current.then(|| view! { " " <span class="badge">"This browser"</span> })}
                                        </td>
                                        <td><code>{s.ip.clone()}</code></td>
                                        <td>{when(&s.created_at)}</td>
                                        <td>{when(&s.last_seen_at)}</td>
                                        <td>{(!s.current).then(|| view! {
                                            <button type="button" class="button small"
                                                on:click=move |_| { end.dispatch(EndSession { id }); }>"Sign out"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view();
                            view! {
                                <table class="table" aria-label="Your sessions">
                                    <thead><tr><th>"Browser"</th><th>"Address"</th><th>"Signed in"</th><th>"Last seen"</th><th></th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                                {(others > 0).then(|| view! {
                                    <div class="row-actions">
                                        <button type="button" class="button"
                                            disabled=move || end_others.pending().get()
                                            on:click=move |_| { end_others.dispatch(EndOtherSessions {}); }>
                                            "Sign out everywhere else"
                                        </button>
                                    </div>
                                })}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}
