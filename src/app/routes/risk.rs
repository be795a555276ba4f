use crate::api::error_text;
use crate::api::safety::{
    load_risk, ApproveChange, MarkRisky, RiskPageData, SaveRiskRule, TickCheck,
};
use crate::app::components::{action_error, layout::AppLayout, ErrorNote};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;

#[derive(Clone, Copy)]
struct Actions {
    approve: ServerAction<ApproveChange>,
    tick: ServerAction<TickCheck>,
    rule: ServerAction<SaveRiskRule>,
    mark: ServerAction<MarkRisky>,
}

fn percent(v: Option<f64>) -> String {
    v.map(|x| format!("{:.0} %", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn waiting_row(p: EntryProcess, a: Actions, may_approve: bool) -> impl IntoView {
    let id = p.entry_id;
    let approvals = p
        .approvals
        .iter()
        .map(|x| x.approver.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let checks = p
        .rule
        .checklist
        .iter()
        .map(|item| {
            let done = p.checked.iter().any(|c| &c.item == item);
            let item = item.clone();
            let label = item.clone();
            view! {
                <label class="inline">
                    <input type="checkbox" checked=done disabled=!may_approve
                        on:change=move |ev| {
                            a.tick.dispatch(TickCheck { entry_id: id, item: item.clone(), done: event_target_checked(&ev) });
                        }/>
                    {label}
                </label>
            }
        })
        .collect_view();
    let unmet = if p.unmet.is_empty() {
        view! { <span class="badge incident-resolved">"Ready"</span> }.into_any()
    } else {
        let items = p
            .unmet
            .iter()
            .map(|u| view! { <li>{u.clone()}</li> })
            .collect_view();
        view! { <ul class="small">{items}</ul> }.into_any()
    };
    view! {
        <tr data-entry=id>
            <td><a href=format!("/app/deploys/{}", p.deploy_id)>{p.title.clone()}</a>
                <br/><span class="muted small">{format!("{} {} · {}", p.environment, p.version, p.component.clone().unwrap_or_default())}</span></td>
            <td>{p.effective_risk.label()}{(p.effective_risk != p.risk).then(|| view! { <br/><span class="muted small">"risky component"</span> })}</td>
            <td>{format!("{} of {}", p.approvals.len(), p.rule.approvals)}
                {(!approvals.is_empty()).then(|| view! { <br/><span class="muted small">{approvals.clone()}</span> })}
                {(may_approve && p.rule.approvals > 0).then(|| view! {
                    <br/><button type="button" class="button small" on:click=move |_| { a.approve.dispatch(ApproveChange { entry_id: id }); }>"Approve"</button>
                })}</td>
            <td>{checks}</td>
            <td>{unmet}</td>
        </tr>
    }
}

fn rule_form(r: RiskRule, a: Actions) -> impl IntoView {
    let level = r.risk.as_str().to_string();
    let approvals = RwSignal::new(r.approvals);
    let checklist = RwSignal::new(r.checklist.join("\n"));
    let staged = RwSignal::new(r.staged);
    let label = format!("Rule for {}", r.risk.label().to_lowercase());
    view! {
        <form class="stack panel" aria-label=label on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            a.rule.dispatch(SaveRiskRule { risk: level.clone(), approvals: approvals.get_untracked(),
                checklist: checklist.get_untracked(), staged: staged.get_untracked() });
        }>
            <h3>{r.risk.label()}</h3>
            <label>"Approvals from someone other than the author"
                <select on:change=move |ev| approvals.set(event_target_value(&ev).parse().unwrap_or(0))>
                    {(0..=2).map(|n| view! { <option value=n selected=move || approvals.get() == n>{n}</option> }).collect_view()}
                </select></label>
            <label>"Checklist (one item per line)"
                <textarea rows="3" prop:value=move || checklist.get() on:input=move |ev| checklist.set(event_target_value(&ev))></textarea></label>
            <label class="inline"><input type="checkbox" prop:checked=move || staged.get()
                on:change=move |ev| staged.set(event_target_checked(&ev))/>
                "Too big for everyone at once: admins or a cohort first"</label>
            <div class="row-actions"><button type="submit" class="button" disabled=move || a.rule.pending().get()>"Save the rule"</button></div>
        </form>
    }
}

fn risk_view(d: RiskPageData, a: Actions) -> impl IntoView {
    let waiting = if d.waiting.is_empty() {
        view! { <p class="empty">"No change deployed outside production in the last 30 days needs approvals or a checklist."</p> }.into_any()
    } else {
        let rows = d
            .waiting
            .into_iter()
            .map(|p| waiting_row(p, a, d.may_approve))
            .collect_view();
        view! {
            <table class="table">
                <thead><tr><th scope="col">"Change"</th><th scope="col">"Risk"</th><th scope="col">"Approvals"</th><th scope="col">"Checklist"</th><th scope="col">"Before production"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    let map_rows = d
        .map
        .iter()
        .map(|r| {
            view! {
                <tr data-component=r.component.clone()>
                    <th scope="row">{r.component.clone()}{r.risky.then(|| view! { " " <span class="badge incident-open">"Risky"</span> })}</th>
                    <td>{r.deploys}</td><td>{r.failed}</td><td>{r.incidents}</td>
                    <td>{percent(r.change_failure_rate)}</td>
                </tr>
            }
        })
        .collect_view();
    let rules = d
        .rules
        .iter()
        .map(|r| {
            let mut parts = vec![format!("{} approval(s)", r.approvals)];
            if !r.checklist.is_empty() {
                parts.push(format!("checklist: {}", r.checklist.join(", ")));
            }
            if r.staged {
                parts.push("admins or a cohort first".into());
            }
            view! { <li><strong>{r.risk.label()}</strong>": "{parts.join("; ")}</li> }
        })
        .collect_view();
    let admin = d.admin;
    let risky = d
        .risky
        .iter()
        .map(|c| {
            let component = c.component.clone();
            view! {
                <li>{c.component.clone()}{c.note.clone().map(|n| format!(" — {n}"))}
                    <span class="muted small">{format!(" · {}", c.marked_by)}</span>
                    {admin.then(|| view! {
                        " "<button type="button" class="button small" on:click=move |_| {
                            a.mark.dispatch(MarkRisky { component: component.clone(), note: String::new(), risky: false });
                        }>"Not risky"</button>
                    })}
                </li>
            }
        })
        .collect_view();
    let new_component = RwSignal::new(String::new());
    let new_note = RwSignal::new(String::new());
    let admin_forms = admin.then(|| {
        let forms = d.rules.iter().cloned().map(|r| rule_form(r, a)).collect_view();
        view! {
            <form class="inline-form" aria-label="Mark a component risky" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                a.mark.dispatch(MarkRisky { component: new_component.get_untracked(), note: new_note.get_untracked(), risky: true });
            }>
                <input type="text" placeholder="Component" aria-label="Component" required
                    prop:value=move || new_component.get() on:input=move |ev| new_component.set(event_target_value(&ev))/>
                <input type="text" placeholder="Why (optional)" aria-label="Why it is risky"
                    prop:value=move || new_note.get() on:input=move |ev| new_note.set(event_target_value(&ev))/>
                <button type="submit" class="button small">"Mark risky"</button>
            </form>
            <h2>"Rules"</h2>
            <div class="grid3">{forms}</div>
        }
    });
    view! {
        <section aria-labelledby="waiting-h">
            <h2 id="waiting-h">"Changes waiting for their process"</h2>
            {waiting}
        </section>
        <section aria-labelledby="map-h">
            <h2 id="map-h">"Risk map"</h2>
            <p class="muted small">"Per component: finished production deploys with one of its changes, failed or rolled back ones, incidents its changes caused, and the change failure rate (failed, rolled back or causing an incident, over deploys)."</p>
            {d.map.is_empty().then(|| view! { <p class="empty">"No production deploy names a component yet."</p> })}
            <table class="table">
                <thead><tr><th scope="col">"Component"</th><th scope="col">"Deploys"</th><th scope="col">"Failed"</th><th scope="col">"Incidents caused"</th><th scope="col">"Change failure rate"</th></tr></thead>
                <tbody>{map_rows}</tbody>
            </table>
        </section>
        <section aria-labelledby="rules-h">
            <h2 id="rules-h">"The process by risk"</h2>
            <ul>{rules}</ul>
            <h3>"Risky components"</h3>
            <p class="muted small">"Changes to a risky component are at least medium risk."</p>
            <ul>{risky}</ul>
            {admin_forms}
        </section>
    }
}

/// Where the risky areas are, and the changes that still need approvals or
/// ticks before the gate lets them through.
#[component]
pub fn RiskPage() -> impl IntoView {
    let a = Actions {
        approve: ServerAction::new(),
        tick: ServerAction::new(),
        rule: ServerAction::new(),
        mark: ServerAction::new(),
    };
    let data = Resource::new(
        move || {
            (
                a.approve.version().get(),
                a.tick.version().get(),
                a.rule.version().get(),
                a.mark.version().get(),
            )
        },
        |_| load_risk(),
    );
    view! {
        <Title text="Risk"/>
        <AppLayout>
            <h1>"Risk"</h1>
            {action_error(a.approve.value())}
            {action_error(a.tick.value())}
            {action_error(a.rule.value())}
            {action_error(a.mark.value())}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(d) => risk_view(d, a).into_any(),
                    }
                })}
            </Transition>
        </AppLayout>
    }
}
