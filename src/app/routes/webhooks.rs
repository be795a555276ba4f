use crate::api::error_text;
use crate::api::safety::{load_deliveries, load_webhooks, AddWebhook, Redeliver, RemoveWebhook};
use crate::app::components::{action_error, layout::AppLayout, when, ErrorNote};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;

/// One webhook's delivery log, with a redeliver button on each.
#[component]
fn Deliveries(webhook_id: i64, redeliver: ServerAction<Redeliver>) -> impl IntoView {
    let log = Resource::new(
        move || redeliver.version().get(),
        move |_| load_deliveries(webhook_id),
    );
    view! {
        <Transition fallback=|| view! { <p>"Loading deliveries…"</p> }>
            {move || Suspend::new(async move {
                match log.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="empty">"Nothing sent yet."</p> }.into_any(),
                    Ok(list) => {
                        let rows = list.into_iter().map(|d| {
                            let id = d.id;
                            let answer = match (d.response_code, &d.error) {
                                (Some(c), _) => c.to_string(),
                                (None, Some(e)) => e.clone(),
                                (None, None) => "—".into(),
                            };
                            view! {
                                <tr data-delivery=id data-state=d.state.as_str()>
                                    <td>{d.event.clone()}<br/><span class="muted small">{d.summary.clone()}</span></td>
                                    <td>{d.state.label()}</td>
                                    <td>{d.attempts}</td>
                                    <td>{answer}</td>
                                    <td>{d.last_attempt_at.as_ref().map(when)}
                                        {d.next_attempt_at.filter(|_| d.state == DeliveryState::Pending).map(|t| view! { <br/><span class="muted small">"next "{when(&t)}</span> })}</td>
                                    <td>{(d.state != DeliveryState::Pending).then(|| view! {
                                        <button type="button" class="button small" on:click=move |_| { redeliver.dispatch(Redeliver { id }); }>"Redeliver"</button>
                                    })}</td>
                                </tr>
                            }
                        }).collect_view();
                        view! {
                            <table class="table">
                                <thead><tr><th scope="col">"Event"</th><th scope="col">"State"</th><th scope="col">"Tries"</th><th scope="col">"Last answer"</th><th scope="col">"When"</th><th scope="col"><span class="sr-only">"Redeliver"</span></th></tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// Outgoing webhooks (admins): add one, see each delivery with its answer,
/// redeliver.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let add = ServerAction::<AddWebhook>::new();
    let remove = ServerAction::<RemoveWebhook>::new();
    let redeliver = ServerAction::<Redeliver>::new();
    let data = Resource::new(
        move || {
            (
                add.version().get(),
                remove.version().get(),
                redeliver.version().get(),
            )
        },
        |_| load_webhooks(),
    );
    let url = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let format = RwSignal::new("json".to_string());
    let events = RwSignal::new(Vec::<NotifyEvent>::new());
    let open = RwSignal::new(None::<i64>);
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            url.set(String::new());
            secret.set(String::new());
            events.set(vec![]);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        add.dispatch(AddWebhook {
            url: url.get_untracked(),
            events: events
                .get_untracked()
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(","),
            secret: secret.get_untracked(),
            format: format.get_untracked(),
        });
    };
    let choices = move || {
        NotifyEvent::ALL
        .iter()
        .map(|&e| {
            view! {
                <label class="inline"><input type="checkbox" prop:checked=move || events.get().contains(&e)
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        events.update(|v| { v.retain(|x| *x != e); if on { v.push(e); } });
                    }/><code>{e.as_str()}</code></label>
            }
        })
        .collect_view()
    };
    let form = move || {
        view! {
            <form class="stack panel" on:submit=submit aria-label="Add a webhook">
                <h2>"Add a webhook"</h2>
                <div class="grid3">
                    <label class="span2">"Address"<input type="url" name="url" required placeholder="https://hooks.example.com/shiplog"
                        prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))/></label>
                    <label>"Format"<select name="format" on:change=move |ev| format.set(event_target_value(&ev))>
                        {WebhookFormat::ALL.iter().map(|f| view! { <option value=f.as_str()>{f.label()}</option> }).collect_view()}
                    </select></label>
                </div>
                <label>"Secret (16 characters or more; it signs each delivery and is not shown again)"
                    <input type="password" name="secret" required autocomplete="off"
                        prop:value=move || secret.get() on:input=move |ev| secret.set(event_target_value(&ev))/></label>
                <fieldset><legend>"Events"</legend>{choices}</fieldset>
                <div class="row-actions"><button type="submit" class="button primary" disabled=move || add.pending().get()>"Add the webhook"</button></div>
            </form>
        }
    };
    view! {
        <Title text="Webhooks"/>
        <AppLayout>
            <h1>"Webhooks"</h1>
            <p class="lede">"Shiplog posts failures to these addresses: signed JSON (" <code>"X-Shiplog-Signature: sha256=…"</code> ") or Slack's {\"text\"}. Failed deliveries are retried with backoff."</p>
            {action_error(add.value())}
            {action_error(remove.value())}
            {action_error(redeliver.value())}
            <Transition fallback=|| view! { <p>"Loading webhooks…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { {form()} <p class="empty">"No webhook yet."</p> }.into_any(),
                        Ok(list) => view! { {form()} {list.into_iter().map(|w| {
                            let id = w.id;
                            let events = w.events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ");
                            view! {
                                <section class="panel" data-webhook=id>
                                    <h2 class="small">{w.url.clone()}</h2>
                                    <p class="muted small">{format!("{} · {} · added by {} {} · {} delivered, {} failed, {} pending",
                                        w.format.label(), events, w.created_by, when(&w.created_at), w.delivered, w.failed, w.pending)}</p>
                                    <div class="row-actions">
                                        <button type="button" class="button small" on:click=move |_| open.update(|o| *o = if *o == Some(id) { None } else { Some(id) })>
                                            {move || if open.get() == Some(id) { "Hide deliveries" } else { "Deliveries" }}</button>
                                        <button type="button" class="button small" on:click=move |_| { remove.dispatch(RemoveWebhook { id }); }>"Remove"</button>
                                    </div>
                                    {move || (open.get() == Some(id)).then(|| view! { <Deliveries webhook_id=id redeliver/> })}
                                </section>
                            }
                        }).collect_view()} }.into_any(),
                    }
                })}
            </Transition>
        </AppLayout>
    }
}
