use crate::api::email::{
    import_subscribers, lift_suppression, load_subscribers, remove_subscriber,
    set_subscriber_account,
};
use crate::api::error_text;
use crate::app::components::{layout::AppLayout, when, ErrorNote};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;

const PAGE: i64 = 50;

/// PMs and admins find subscribers by address, state and account, move them
/// between accounts, remove them (the address is erased), import CSV (a
/// preview first, all or nothing) and export the list.
#[component]
pub fn SubscribersPage() -> impl IntoView {
    let q = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let account = RwSignal::new(String::new());
    let offset = RwSignal::new(0i64);
    let changed = RwSignal::new(0u32);
    let error = RwSignal::new(None::<String>);
    let data = Resource::new(
        move || {
            (
                q.get(),
                status.get(),
                account.get(),
                offset.get(),
                changed.get(),
            )
        },
        |(q, s, a, o, _)| load_subscribers(q, s, a, o),
    );
    let filter = move |set: RwSignal<String>| {
        move |ev| {
            set.set(event_target_value(&ev));
            offset.set(0);
        }
    };
    let move_to = move |id: i64, to: String| {
        leptos::task::spawn_local(async move {
            match set_subscriber_account(id, to).await {
                Ok(_) => error.set(None),
                Err(e) => error.set(Some(error_text(&e))),
            }
            changed.update(|n| *n += 1);
        });
    };
    let remove = move |id: i64, email: String| {
        #[cfg(feature = "hydrate")]
        {
            let question =
                format!("Remove {email}? The address is erased and nothing more is sent to it.");
            if !window().confirm_with_message(&question).unwrap_or(false) {
                return;
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = email;
        leptos::task::spawn_local(async move {
            match remove_subscriber(id).await {
                Ok(()) => error.set(None),
                Err(e) => error.set(Some(error_text(&e))),
            }
            changed.update(|n| *n += 1);
        });
    };
    let lift = move |email: String| {
        leptos::task::spawn_local(async move {
            match lift_suppression(email).await {
                Ok(()) => error.set(None),
                Err(e) => error.set(Some(error_text(&e))),
            }
            changed.update(|n| *n += 1);
        });
    };
    view! {
        <Title text="Subscribers"/>
        <AppLayout>
            <h1>"Subscribers"</h1>
            <p class="muted">"People who receive release notes by email. "
                <a href="/app/campaigns">"Campaigns"</a>" · "
                <a href="/app/subscribers/export.csv" rel="external" download="subscribers.csv">"Export CSV"</a>
            </p>
            <form class="filters" on:submit=|ev| ev.prevent_default() role="search" aria-label="Find subscribers">
                <label>"Address"<input type="search" name="q" prop:value=move || q.get() on:input=filter(q)/></label>
                <label>"State"<select name="status" on:change=filter(status)>
                    <option value="">"Any"</option>
                    <option value="pending">"Waiting for confirmation"</option>
                    <option value="confirmed">"Confirmed"</option>
                    <option value="unsubscribed">"Unsubscribed"</option>
                    <option value="suppressed">"Suppressed"</option>
                </select></label>
                <label>"Account"<select name="account" on:change=filter(account)>
                    <option value="">"Any"</option>
                    <option value="none">"Public (no account)"</option>
                    // Inside a Transition, as everything read from `data`: the
                    // server renders the same options the browser hydrates.
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            data.await.ok().map(|d| d.accounts.into_iter().map(|a| {
                                let label = a.clone();
                                let this = a.clone();
                                view! { <option value=a selected=move || account.get() == this>{label}</option> }
                            }).collect_view())
                        })}
                    </Transition>
                </select></label>
            </form>
            {move || error.get().map(|e| view! { <ErrorNote message=e/> })}
            <Transition fallback=|| view! { <p>"Loading subscribers…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(v) if v.page.subscribers.is_empty() => view! { <p class="empty">"No subscriber matches."</p> }.into_any(),
                        Ok(v) => {
                            let total = v.page.total;
                            let accounts = v.accounts.clone();
                            let rows = v.page.subscribers.into_iter().map(|s| {
                                let id = s.id;
                                let email = s.email.clone().unwrap_or_default();
                                let current = s.account.clone().unwrap_or_default();
                                let options = accounts.iter().map(|a| {
                                    let selected = *a == current;
                                    let label = a.clone();
                                    view! { <option value=a.clone() selected=selected>{label}</option> }
                                }).collect_view();
                                let kinds = s.kinds.iter().map(|k| k.label()).collect::<Vec<_>>().join(", ");
                                let choices = format!(
                                    "{}{}; {}{}",
                                    if s.releases { "Announcements, " } else { "" },
                                    s.digest.label(),
                                    kinds,
                                    if s.components.is_empty() { String::new() } else { format!("; only {}", s.components.join(", ")) }
                                );
                                let state = if s.suppressed { format!("{} (suppressed)", s.status.label()) } else { s.status.label().to_string() };
                                let for_remove = email.clone();
                                let for_lift = email.clone();
                                let suppressed = s.suppressed;
                                view! {
                                    <tr>
                                        <td>{email.clone()}</td>
                                        <td>
                                            <select aria-label=format!("Account of {email}") on:change=move |ev| move_to(id, event_target_value(&ev))>
                                                <option value="" selected=current.is_empty()>"Public"</option>
                                                {options}
                                            </select>
                                        </td>
                                        <td>{state}</td>
                                        <td>{choices}</td>
                                        <td>{when(&s.created_at)}</td>
                                        <td>
                                            {suppressed.then(|| view! {
                                                <button type="button" class="button small" on:click=move |_| lift(for_lift.clone())>"Lift suppression"</button>
                                            })}
                                            <button type="button" class="button small danger" on:click=move |_| remove(id, for_remove.clone())>"Remove"</button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view();
                            view! {
                                <p class="muted">{format!("{total} subscriber{}", if total == 1 { "" } else { "s" })}</p>
                                <table class="table">
                                    <thead><tr><th scope="col">"Address"</th><th scope="col">"Account"</th><th scope="col">"State"</th><th scope="col">"Receives"</th><th scope="col">"Joined"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                                <nav class="pager" aria-label="Pages">
                                    {(offset.get_untracked() > 0).then(|| view! { <button type="button" class="button small" on:click=move |_| offset.update(|o| *o = (*o - PAGE).max(0))>"← Previous"</button> })}
                                    {(offset.get_untracked() + PAGE < total).then(|| view! { <button type="button" class="button small" on:click=move |_| offset.update(|o| *o += PAGE)>"Next →"</button> })}
                                </nav>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
            <ImportPanel on_import=move || changed.update(|n| *n += 1)/>
        </AppLayout>
    }
}

/// Pasted CSV: previewed, then imported all or nothing.
#[component]
fn ImportPanel(on_import: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let csv = RwSignal::new(String::new());
    let consented = RwSignal::new(false);
    let report = RwSignal::new(None::<Result<ImportReport, String>>);
    let busy = RwSignal::new(false);
    let run = move |preview: bool| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = import_subscribers(
                csv.get_untracked(),
                consented.get_untracked().then(|| "1".to_string()),
                preview.then(|| "1".to_string()),
            )
            .await
            .map_err(|e| error_text(&e));
            if matches!(&result, Ok(r) if r.imported) {
                csv.set(String::new());
                on_import();
            }
            report.set(Some(result));
            busy.set(false);
        });
    };
    view! {
        <section class="panel" aria-labelledby="import-h">
            <h2 id="import-h">"Import from CSV"</h2>
            <p class="muted">"A header row, then one subscriber per row. Columns: "<code>"email"</code>" (required), "
                <code>"account"</code>", "<code>"releases"</code>" (yes/no), "<code>"digest"</code>" (off, daily, weekly), "
                <code>"kinds"</code>" and "<code>"components"</code>" (separated by ;). Nothing is added while any row is rejected."</p>
            <label>"CSV"<textarea name="csv" rows="6" class="mono" prop:value=move || csv.get() on:input=move |ev| csv.set(event_target_value(&ev))></textarea></label>
            <label class="check"><input type="checkbox" name="consented" prop:checked=move || consented.get() on:change=move |ev| consented.set(event_target_checked(&ev))/>
                " These people consented to receive our release notes (they are added as confirmed; otherwise each is sent a confirmation request)"</label>
            <div class="actions">
                <button type="button" class="button" disabled=move || busy.get() on:click=move |_| run(true)>"Preview"</button>
                <button type="button" class="button primary" disabled=move || busy.get() on:click=move |_| run(false)>"Import"</button>
            </div>
            {move || report.get().map(|r| match r {
                Err(e) => view! { <ErrorNote message=e/> }.into_any(),
                Ok(r) => {
                    let summary = if r.imported {
                        format!("Imported {} subscribers.", r.accepted)
                    } else if r.rejected.is_empty() {
                        format!("{} subscribers can be imported. Nothing is added until you press Import.", r.accepted)
                    } else {
                        format!("{} rows are rejected, so nothing is added; {} rows are fine.", r.rejected.len(), r.accepted)
                    };
                    let rejected = (!r.rejected.is_empty()).then(|| {
                        let rows = r.rejected.iter().map(|x| view! {
                            <tr><td>{x.row}</td><td>{x.email.clone()}</td><td>{x.field.clone()}</td><td>{x.reason.clone()}</td></tr>
                        }).collect_view();
                        view! {
                            <table class="table" aria-label="Rejected rows">
                                <thead><tr><th scope="col">"Row"</th><th scope="col">"Address"</th><th scope="col">"Field"</th><th scope="col">"Why"</th></tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                        }
                    });
                    view! { <p class="alert alert-ok" role="status">{summary}</p>{rejected} }.into_any()
                }
            })}
        </section>
    }
}
