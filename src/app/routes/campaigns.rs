use crate::api::email::{
    campaign_action, load_campaign, load_campaigns, preview_campaign, test_campaign,
};
use crate::api::error_text;
use crate::app::components::{layout::AppLayout, when, ErrorNote};
use crate::app::routes::release::local_to_rfc3339;
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// Every announcement campaign, newest first.
#[component]
pub fn CampaignsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_campaigns());
    view! {
        <Title text="Campaigns"/>
        <AppLayout>
            <h1>"Email campaigns"</h1>
            <p class="muted">"Publishing a release drafts its announcement. "<a href="/app/subscribers">"Subscribers"</a></p>
            <Transition fallback=|| view! { <p>"Loading campaigns…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No campaigns yet: publish a release to draft one."</p> }.into_any(),
                        Ok(list) => {
                            let rows = list.into_iter().map(|c| view! {
                                <tr>
                                    <td><a href=format!("/app/campaigns/{}", c.id)>{c.release_title.clone()}</a></td>
                                    <td>{c.status.label()}</td>
                                    <td>{c.recipients}</td>
                                    <td>{c.counts.sent}</td>
                                    <td>{c.counts.failed}</td>
                                    <td>{when(&c.created_at)}</td>
                                </tr>
                            }).collect_view();
                            view! {
                                <table class="table">
                                    <thead><tr><th scope="col">"Release"</th><th scope="col">"State"</th><th scope="col">"Recipients"</th><th scope="col">"Sent"</th><th scope="col">"Failed"</th><th scope="col">"Drafted"</th></tr></thead>
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

/// One campaign: preview as a subscriber, a test to yourself, then send or
/// schedule; while it sends, its progress (every two seconds), rate, time
/// left and failures, with pause, resume and cancel.
#[component]
pub fn CampaignPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0));
    let tick = RwSignal::new(0u32);
    let error = RwSignal::new(None::<String>);
    let note = RwSignal::new(None::<String>);
    let data = Resource::new(move || (id(), tick.get()), |(id, _)| load_campaign(id));
    // While it sends, look again every two seconds.
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                let sending = data
                    .get_untracked()
                    .and_then(|d| d.ok())
                    .is_some_and(|d| d.campaign.status == CampaignStatus::Sending);
                if sending {
                    tick.update(|n| *n += 1);
                }
            },
            std::time::Duration::from_secs(2),
        );
        if let Ok(h) = handle {
            on_cleanup(move || h.clear());
        }
    }
    let act = move |action: CampaignAction, at: Option<String>| {
        let id = id();
        leptos::task::spawn_local(async move {
            match campaign_action(id, action.as_str().to_string(), at).await {
                Ok(_) => error.set(None),
                Err(e) => error.set(Some(error_text(&e))),
            }
            tick.update(|n| *n += 1);
        });
    };
    let at = RwSignal::new(String::new());
    let as_email = RwSignal::new(String::new());
    let preview = RwSignal::new(None::<MessagePreview>);
    let show = move |_| {
        let id = id();
        leptos::task::spawn_local(async move {
            match preview_campaign(id, as_email.get_untracked()).await {
                Ok(p) => {
                    preview.set(Some(p));
                    error.set(None);
                }
                Err(e) => error.set(Some(error_text(&e))),
            }
        });
    };
    let test = move |_| {
        let id = id();
        leptos::task::spawn_local(async move {
            match test_campaign(id, as_email.get_untracked()).await {
                Ok(to) => {
                    note.set(Some(format!("A test was sent to {to}.")));
                    error.set(None);
                }
                Err(e) => error.set(Some(error_text(&e))),
            }
        });
    };
    view! {
        <Title text="Campaign"/>
        <AppLayout>
            <p class="crumbs"><a href="/app/campaigns">"← Campaigns"</a></p>
            {move || error.get().map(|e| view! { <ErrorNote message=e/> })}
            {move || note.get().map(|n| view! { <p class="alert alert-ok" role="status">{n}</p> })}
            <Transition fallback=|| view! { <p>"Loading the campaign…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(v) => {
                            let c = v.campaign;
                            let n = c.counts.clone();
                            let done = n.sent + n.failed + n.skipped;
                            let total = (done + n.queued).max(c.recipients);
                            let left = if c.rate > 0.0 && n.queued > 0 {
                                Some(format!("about {} left", human((n.queued as f64 / c.rate) as i64)))
                            } else { None };
                            let status = c.status;
                            let failures = v.failures.into_iter().map(|f| view! {
                                <tr><td>{f.email.clone().unwrap_or_else(|| "(removed)".into())}</td><td>{f.attempts}</td><td class="mono">{f.error.clone().unwrap_or_default()}</td></tr>
                            }).collect_view();
                            let schedule = c.send_at.map(|t| format!("Scheduled for {}.", when(&t)));
                            view! {
                                <h1>{format!("Announcement: {}", c.release_title)}</h1>
                                <p>"State: "<strong data-testid="campaign-status">{status.label()}</strong>" · "
                                    <a href=format!("/releases/{}", c.release) rel="external">"the release"</a></p>
                                {schedule.map(|s| view! { <p>{s}</p> })}
                                <section class="panel" aria-labelledby="progress-h">
                                    <h2 id="progress-h">"Progress"</h2>
                                    <progress max=total.max(1) value=done aria-label="Messages handled"></progress>
                                    <p data-testid="campaign-counts">{format!(
                                        "{} recipients · {} sent · {} failed · {} skipped · {} remaining",
                                        total, n.sent, n.failed, n.skipped, n.queued
                                    )}</p>
                                    {(status == CampaignStatus::Sending).then(|| view! {
                                        <p>{format!("{:.1} messages a second", c.rate)}{left.map(|l| format!(", {l}"))}</p>
                                    })}
                                    {c.finished_at.map(|t| view! { <p>{format!("Finished {}: {} delivered, {} failed, {} unsubscribed since.", when(&t), n.sent, n.failed, c.unsubscribed_since)}</p> })}
                                </section>
                                <div class="actions">
                                    {status.allows(CampaignAction::Send).then(|| view! {
                                        <button type="button" class="button primary" on:click=move |_| act(CampaignAction::Send, None)>"Send now"</button>
                                        <label>"Or send at (your time)"<input type="datetime-local" prop:value=move || at.get() on:input=move |ev| at.set(event_target_value(&ev))/></label>
                                        <button type="button" class="button" on:click=move |_| act(CampaignAction::Send, Some(local_to_rfc3339(&at.get_untracked())))>"Schedule"</button>
                                    })}
                                    {status.allows(CampaignAction::Pause).then(|| view! {
                                        <button type="button" class="button" on:click=move |_| act(CampaignAction::Pause, None)>"Pause"</button>
                                    })}
                                    {status.allows(CampaignAction::Resume).then(|| view! {
                                        <button type="button" class="button primary" on:click=move |_| act(CampaignAction::Resume, None)>"Resume"</button>
                                    })}
                                    {status.allows(CampaignAction::Cancel).then(|| view! {
                                        <button type="button" class="button danger" on:click=move |_| act(CampaignAction::Cancel, None)>"Cancel"</button>
                                    })}
                                </div>
                                {(n.failed > 0 || !matches!(status, CampaignStatus::Draft)).then(|| view! {
                                    <section class="panel" aria-labelledby="failures-h">
                                        <h2 id="failures-h">"Failures and retries"</h2>
                                        <table class="table">
                                            <thead><tr><th scope="col">"Address"</th><th scope="col">"Attempts"</th><th scope="col">"Server's answer"</th></tr></thead>
                                            <tbody>{failures}</tbody>
                                        </table>
                                    </section>
                                })}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
            <section class="panel" aria-labelledby="preview-h">
                <h2 id="preview-h">"Preview"</h2>
                <p class="muted">"See the email as one subscriber would get it (only what they may read, of the kinds they chose), or send it to yourself."</p>
                <div class="inline-form">
                    <label>"Subscriber's address"<input type="email" prop:value=move || as_email.get() on:input=move |ev| as_email.set(event_target_value(&ev))/></label>
                    <button type="button" class="button" on:click=show>"Preview"</button>
                    <button type="button" class="button" on:click=test>"Send me a test"</button>
                </div>
                {move || preview.get().map(|p| view! {
                    <p>"Subject: "<strong data-testid="preview-subject">{p.subject.clone()}</strong></p>
                    <iframe class="email-preview" title="The email as HTML" sandbox="" srcdoc=p.html.clone()></iframe>
                    <details><summary>"Plain text"</summary><pre class="email-text">{p.text.clone()}</pre></details>
                })}
            </section>
        </AppLayout>
    }
}

fn human(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}
