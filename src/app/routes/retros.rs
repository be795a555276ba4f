use crate::api::error_text;
use crate::api::retros::*;
use crate::app::components::{action_error, layout::AppLayout, when, ErrorNote};
use crate::app::routes::actions::owner_select;
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

fn period_text(r: &Retro) -> String {
    format!("{} – {}", r.period_start, r.period_end)
}

fn status_badge(status: RetroStatus) -> impl IntoView {
    let class = match status {
        RetroStatus::Open => "badge incident-mitigated",
        RetroStatus::Closed => "badge incident-resolved",
    };
    view! { <span class=class>{status.label()}</span> }
}

/// The retros, the cadence, and the form that opens the next one with its
/// period filled in.
#[component]
pub fn RetrosPage() -> impl IntoView {
    let create = ServerAction::<CreateRetro>::new();
    let settings = ServerAction::<SaveRetroSettings>::new();
    let data = Resource::new(
        move || (create.version().get(), settings.version().get()),
        |_| load_retros(),
    );
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            use_navigate()(&format!("/app/retros/{id}"), Default::default());
        }
    });
    view! {
        <Title text="Retrospectives"/>
        <AppLayout>
            <h1>"Retrospectives"</h1>
            <Transition fallback=|| view! { <p>"Loading retros…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(v) => retros_view(v, create, settings).into_any(),
                    }
                })}
            </Transition>
        </AppLayout>
    }
}

fn retros_view(
    v: RetrosView,
    create: ServerAction<CreateRetro>,
    settings: ServerAction<SaveRetroSettings>,
) -> impl IntoView {
    let cadence = RwSignal::new(v.settings.cadence_days.to_string());
    let votes = RwSignal::new(v.settings.votes_per_person.to_string());
    let title = RwSignal::new(String::new());
    let start = RwSignal::new(v.next_start.to_string());
    let end = RwSignal::new(v.next_end.to_string());
    let open_one = v
        .retros
        .iter()
        .find(|r| r.status == RetroStatus::Open)
        .cloned();
    let rows = v
        .retros
        .iter()
        .map(|r| {
            view! {
                <tr>
                    <td><a href=format!("/app/retros/{}", r.id)>{r.title.clone()}</a></td>
                    <td>{period_text(r)}</td>
                    <td>{r.facilitator.clone()}</td>
                    <td>{status_badge(r.status)}</td>
                </tr>
            }
        })
        .collect_view();
    let save_settings = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        settings.dispatch(SaveRetroSettings {
            cadence_days: cadence.get_untracked().trim().parse().unwrap_or(0),
            votes_per_person: votes.get_untracked().trim().parse().unwrap_or(0),
        });
    };
    let open = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(CreateRetro {
            title: title.get_untracked(),
            period_start: start.get_untracked(),
            period_end: end.get_untracked(),
        });
    };
    view! {
        <p>{format!("The team retrospects every {} days; the next retro is due on {}.", v.settings.cadence_days, v.next_due)}</p>
        {open_one.map(|r| view! {
            <p class="alert">"Open now: "<a href=format!("/app/retros/{}", r.id)>{r.title.clone()}</a></p>
        })}
        {v.can_organise.then(|| view! {
            <div class="grid2">
                <form class="stack panel" on:submit=open aria-label="Open a retro">
                    <h2>"Open the next retro"</h2>
                    <label>"Title (optional)"<input type="text" name="title" placeholder=format!("Retro {} – {}", v.next_start, v.next_end)
                        prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev))/></label>
                    <div class="grid2">
                        <label>"From"<input type="date" name="period_start" prop:value=move || start.get()
                            on:input=move |ev| start.set(event_target_value(&ev))/></label>
                        <label>"To"<input type="date" name="period_end" prop:value=move || end.get()
                            on:input=move |ev| end.set(event_target_value(&ev))/></label>
                    </div>
                    {action_error(create.value())}
                    <div class="row-actions"><button type="submit" class="button primary" disabled=move || create.pending().get()>"Open retro"</button></div>
                </form>
                <form class="stack panel" on:submit=save_settings aria-label="Cadence">
                    <h2>"Cadence"</h2>
                    <label>"Every (days)"<input type="number" min="1" max="90" name="cadence_days" prop:value=move || cadence.get()
                        on:input=move |ev| cadence.set(event_target_value(&ev))/></label>
                    <label>"Votes per person"<input type="number" min="1" max="20" name="votes_per_person" prop:value=move || votes.get()
                        on:input=move |ev| votes.set(event_target_value(&ev))/></label>
                    {action_error(settings.value())}
                    <div class="row-actions"><button type="submit" class="button">"Save cadence"</button></div>
                </form>
            </div>
        })}
        {if v.retros.is_empty() {
            view! { <p class="empty">"No retros yet."</p> }.into_any()
        } else {
            view! {
                <table class="table">
                    <thead><tr><th scope="col">"Retro"</th><th scope="col">"Period"</th><th scope="col">"Facilitator"</th><th scope="col">"Status"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            }.into_any()
        }}
    }
}

/// One retro: the review of open actions first, then its period, then the
/// board, which follows everyone's items and votes without a reload.
#[component]
pub fn RetroPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0));
    let review = ServerAction::<ReviewRetroAction>::new();
    let close = ServerAction::<CloseRetro>::new();
    let make_action = ServerAction::<RetroItemAction>::new();
    let add = ServerAction::<AddRetroItem>::new();
    let vote = ServerAction::<RetroVote>::new();
    let group = ServerAction::<GroupRetroItem>::new();
    // The board's revision as last seen; polling moves it when others change
    // the board, and notices when someone else closed the retro.
    let seen = RwSignal::new(0i64);
    let closed_elsewhere = RwSignal::new(false);
    let head = Resource::new(
        move || {
            (
                id(),
                review.version().get(),
                close.version().get(),
                make_action.version().get(),
                closed_elsewhere.get(),
            )
        },
        |(id, ..)| load_retro(id),
    );
    let board = Resource::new(
        move || {
            (
                id(),
                seen.get(),
                add.version().get(),
                vote.version().get(),
                group.version().get(),
                make_action.version().get(),
                close.version().get(),
            )
        },
        |(id, ..)| load_board(id),
    );
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                let open = board
                    .get_untracked()
                    .and_then(|b| b.ok())
                    .is_some_and(|b| b.status == RetroStatus::Open);
                if open {
                    let id = id();
                    leptos::task::spawn_local(async move {
                        if let Ok((rev, still_open)) = retro_revision(id).await {
                            let known = board
                                .get_untracked()
                                .and_then(|b| b.ok())
                                .map(|b| b.revision)
                                .unwrap_or(0);
                            if rev != known {
                                seen.set(rev);
                            }
                            if !still_open {
                                closed_elsewhere.set(true);
                            }
                        }
                    });
                }
            },
            std::time::Duration::from_millis(1500),
        );
        if let Ok(h) = handle {
            on_cleanup(move || h.clear());
        }
    }
    let column = RwSignal::new(RetroColumn::WentWell.as_str().to_string());
    let body = RwSignal::new(String::new());
    let anonymous = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            body.set(String::new());
        }
    });
    let adding = AddForm {
        add,
        column,
        body,
        anonymous,
    };
    view! {
        <AppLayout>
            <Transition fallback=|| view! { <p>"Loading retro…"</p> }>
                {move || Suspend::new(async move {
                    match head.await {
                        Err(e) => view! { <Title text="Retro"/><ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(v) => retro_head(v, review, close, adding).into_any(),
                    }
                })}
            </Transition>
            {action_error(vote.value())}
            {action_error(group.value())}
            {action_error(make_action.value())}
            <Transition fallback=|| view! { <p>"Loading the board…"</p> }>
                {move || Suspend::new(async move {
                    match board.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(b) => board_view(id(), b, vote, group, make_action).into_any(),
                    }
                })}
            </Transition>
        </AppLayout>
    }
}

/// The form that adds an item: its fields live with the page, so a reload
/// of the retro keeps what is being typed.
#[derive(Clone, Copy)]
struct AddForm {
    add: ServerAction<AddRetroItem>,
    column: RwSignal<String>,
    body: RwSignal<String>,
    anonymous: RwSignal<bool>,
}

fn add_form(id: i64, f: AddForm) -> impl IntoView {
    let AddForm {
        add,
        column,
        body,
        anonymous,
    } = f;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        add.dispatch(AddRetroItem {
            id,
            column: column.get_untracked(),
            body: body.get_untracked(),
            anonymous: anonymous.get_untracked(),
        });
    };
    view! {
        {action_error(add.value())}
        <form class="stack panel retro-add no-print" on:submit=submit aria-label="Add an item">
            <div class="grid3">
                <label>"Column"<select name="column" on:change=move |ev| column.set(event_target_value(&ev))>
                    {RetroColumn::ALL.iter().map(|c| view! { <option value=c.as_str() selected=move || column.get() == c.as_str()>{c.label()}</option> }).collect_view()}
                </select></label>
                <label class="span2">"Item"<input type="text" name="body" required maxlength="1000" prop:value=move || body.get()
                    on:input=move |ev| body.set(event_target_value(&ev))/></label>
            </div>
            <label class="check"><input type="checkbox" name="anonymous" prop:checked=move || anonymous.get()
                on:change=move |ev| anonymous.set(event_target_checked(&ev))/>"Stay anonymous to the others"</label>
            <div class="row-actions"><button type="submit" class="button primary" disabled=move || add.pending().get()>"Add item"</button></div>
        </form>
    }
}

fn dora_text(d: &PeriodDora) -> String {
    let hours = |v: Option<f64>| v.map(|h| format!("{h:.1} h")).unwrap_or_else(|| "—".into());
    let share = |v: Option<f64>| {
        v.map(|x| format!("{:.0} %", x * 100.0))
            .unwrap_or_else(|| "—".into())
    };
    format!(
        "{:.2} deploys a day; lead time {}; change failure rate {}; time to restore {}; rework rate {}.",
        d.deployment_frequency_per_day,
        hours(d.lead_time_median_hours),
        share(d.change_failure_rate),
        hours(d.time_to_restore_median_hours),
        share(d.rework_rate)
    )
}

fn retro_head(
    v: RetroView,
    review: ServerAction<ReviewRetroAction>,
    close: ServerAction<CloseRetro>,
    adding: AddForm,
) -> impl IntoView {
    let d = v.detail;
    let r = d.retro.clone();
    let id = r.id;
    let open = r.status == RetroStatus::Open;
    let can_review = v.can_review && open;
    let reviews = d.reviews.clone();
    let review_rows = d
        .actions_to_review
        .iter()
        .map(|a| {
            let decided = reviews.iter().find(|x| x.action_id == a.id).cloned();
            let action = a.id;
            let new_due = RwSignal::new(String::new());
            let reason = RwSignal::new(String::new());
            let decision = decided.map(|x| {
                let due = x.due.map(|d| format!(" until {d}")).unwrap_or_default();
                let note = if x.note.is_empty() { String::new() } else { format!(": {}", x.note) };
                format!("{}{due}{note} ({})", x.outcome.label(), x.reviewed_by)
            });
            let controls = can_review.then(|| view! {
                <button type="button" class="button small primary" on:click=move |_| {
                    review.dispatch(ReviewRetroAction { id, action, outcome: "done".into(), due: String::new(), note: String::new() });
                }>"Done"</button>
                <input type="date" class="small" aria-label=format!("New due date for {}", a.number) prop:value=move || new_due.get()
                    on:input=move |ev| new_due.set(event_target_value(&ev))/>
                <button type="button" class="button small" on:click=move |_| {
                    review.dispatch(ReviewRetroAction { id, action, outcome: "still-open".into(), due: new_due.get_untracked(), note: String::new() });
                }>"Keep open"</button>
                <input type="text" class="small" placeholder="Why drop it?" aria-label=format!("Why drop {}", a.number) prop:value=move || reason.get()
                    on:input=move |ev| reason.set(event_target_value(&ev))/>
                <button type="button" class="button small" on:click=move |_| {
                    review.dispatch(ReviewRetroAction { id, action, outcome: "dropped".into(), due: String::new(), note: reason.get_untracked() });
                }>"Drop"</button>
            });
            view! {
                <tr data-action=a.number.clone() class:overdue=a.overdue>
                    <td><span class="mono">{a.number.clone()}</span>" "{a.title.clone()}</td>
                    <td>{a.owner_name.clone()}</td>
                    <td>{if a.overdue { format!("Overdue · {}", a.due) } else { a.due.to_string() }}</td>
                    <td>{decision.unwrap_or_else(|| "Not reviewed yet".into())}</td>
                    <td class="row-actions no-print">{controls}</td>
                </tr>
            }
        })
        .collect_view();
    let failed = d
        .period
        .failed_deploys
        .iter()
        .map(|f| view! {
            <li><a href=format!("/app/deploys/{}", f.id)>{format!("{} to {}", f.version, f.environment)}</a>
                {format!(" · {} · {}", f.status.label(), when(&f.started_at))}</li>
        })
        .collect_view();
    let incidents = d
        .period
        .incidents
        .iter()
        .map(|i| {
            let cause = match (&i.root_cause_category, &i.root_cause_summary) {
                (Some(c), Some(s)) => format!("Root cause ({}, {}): {}", c.label(), i.root_cause_status.map(|s| s.label()).unwrap_or(""), s),
                _ => "No root-cause note yet.".into(),
            };
            view! {
                <li><a href=format!("/app/incidents/{}", i.incident.id)>{format!("{} {}", i.incident.number, i.incident.title)}</a>
                    {format!(" · {} · {}", i.incident.severity.label(), i.incident.status.label())}
                    <br/><span class="muted small">{cause}</span></li>
            }
        })
        .collect_view();
    let blocks = d
        .period
        .blocks
        .iter()
        .map(|b| {
            let lifted = b.lifted_at.map(|t| format!(" · lifted {} by {}: {}", when(&t), b.lifted_by.clone().unwrap_or_default(), b.lift_note.clone().unwrap_or_default()));
            view! {
                <li>{format!("{} blocked {} on {}: {}", b.placed_by, b.scope(), when(&b.placed_at), b.reason)}{lifted}</li>
            }
        })
        .collect_view();
    let print = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let _ = window().print();
        }
    };
    view! {
        <Title text=r.title.clone()/>
        <h1>{r.title.clone()}" "{status_badge(r.status)}</h1>
        <p>{format!("Period {} · facilitated by {} · {} votes each", period_text(&r), r.facilitator, r.votes_per_person)}
            {r.closed_at.map(|t| format!(" · closed {}", when(&t)))}</p>
        <div class="row-actions no-print">
            {(open && v.facilitates).then(|| view! {
                <button type="button" class="button" on:click=move |_| { close.dispatch(CloseRetro { id }); }>"Close retro"</button>
            })}
            {(!open).then(|| view! { <button type="button" class="button" on:click=print>"Print"</button> })}
        </div>
        {action_error(close.value())}
        <section aria-labelledby="review-h">
            <h2 id="review-h">"Open actions to review"</h2>
            {action_error(review.value())}
            {if d.actions_to_review.is_empty() {
                view! { <p class="empty">"No open actions from earlier retros or incidents."</p> }.into_any()
            } else {
                view! {
                    <table class="table actions">
                        <thead><tr><th scope="col">"Action"</th><th scope="col">"Owner"</th><th scope="col">"Due"</th><th scope="col">"Decision"</th><th scope="col"><span class="sr-only">"Review"</span></th></tr></thead>
                        <tbody>{review_rows}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
        <section aria-labelledby="period-h">
            <h2 id="period-h">"The period"</h2>
            <p>{format!("{} deploys, {} of them to production; {} failed or rolled back; {} incidents; {} blocks.",
                d.period.deploys, d.period.production_deploys, d.period.failed_deploys.len(), d.period.incidents.len(), d.period.blocks.len())}</p>
            {(!d.period.failed_deploys.is_empty()).then(|| view! { <h3>"Failed and rolled back"</h3><ul>{failed}</ul> })}
            {(!d.period.incidents.is_empty()).then(|| view! { <h3>"Incidents"</h3><ul>{incidents}</ul> })}
            {(!d.period.blocks.is_empty()).then(|| view! { <h3>"Blocks"</h3><ul>{blocks}</ul> })}
            <h3>"Delivery (production)"</h3>
            <p data-testid="retro-dora">{dora_text(&d.period.dora)}" "<a href=format!("/app/metrics?from={}&to={}", r.period_start, r.period_end)>"Metrics"</a></p>
        </section>
        <h2 id="board-h">"Board"</h2>
        {open.then(|| add_form(id, adding))}
    }
}

fn board_view(
    id: i64,
    b: BoardView,
    vote: ServerAction<RetroVote>,
    group: ServerAction<GroupRetroItem>,
    make_action: ServerAction<RetroItemAction>,
) -> impl IntoView {
    let open = b.status == RetroStatus::Open;
    let (facilitates, people, me) = (b.facilitates, b.people.clone(), b.me.clone());
    let heads: Vec<RetroItem> = b
        .items
        .iter()
        .filter(|i| i.group_id.is_none())
        .cloned()
        .collect();
    let all = b.items.clone();
    let columns = RetroColumn::ALL
        .iter()
        .map(|col| {
            let col = *col;
            let cards = heads
                .iter()
                .filter(|h| h.column == col)
                .map(|h| {
                    let members: Vec<RetroItem> = all.iter().filter(|i| i.group_id == Some(h.id)).cloned().collect();
                    let total = h.votes + members.iter().map(|m| m.votes).sum::<i64>();
                    let others: Vec<(i64, String)> = heads
                        .iter()
                        .filter(|o| o.id != h.id)
                        .map(|o| (o.id, o.body.chars().take(40).collect()))
                        .collect();
                    let member_views = members
                        .iter()
                        .map(|m| item_line(id, m, open, vote, group, vec![]))
                        .collect_view();
                    let action_form = (open && facilitates && h.action_id.is_none())
                        .then(|| item_action_form(id, h, people.clone(), &me, make_action));
                    view! {
                        <li class="retro-card" data-item=h.id>
                            {item_line(id, h, open, vote, group, others)}
                            {(!members.is_empty()).then(|| view! {
                                <ul class="retro-group" aria-label="Grouped with it">{member_views}</ul>
                                <p class="muted small">{format!("{total} votes in this group")}</p>
                            })}
                            {h.action_id.map(|a| view! { <p class="small">"Action: "<a href="/app/actions">{action_number(a)}</a></p> })}
                            {action_form}
                        </li>
                    }
                })
                .collect_view();
            view! {
                <section class="retro-column" aria-label=col.label()>
                    <h3>{col.label()}</h3>
                    <ul class="retro-cards">{cards}</ul>
                </section>
            }
        })
        .collect_view();
    view! {
        <p class="muted" data-votes-left=b.votes_left>{format!("{} of your {} votes left.", b.votes_left, b.votes_per_person)}</p>
        <div class="retro-board" data-revision=b.revision>{columns}</div>
    }
}

/// One item: its text, author, votes, and (while open) vote and group controls.
fn item_line(
    id: i64,
    item: &RetroItem,
    open: bool,
    vote: ServerAction<RetroVote>,
    group: ServerAction<GroupRetroItem>,
    others: Vec<(i64, String)>,
) -> impl IntoView {
    let item_id = item.id;
    let voted = item.voted;
    let grouped = item.group_id.is_some();
    let author = match (&item.author, item.anonymous) {
        (Some(a), true) => format!("{a} (anonymous to others)"),
        (Some(a), false) => a.clone(),
        (None, _) => "Anonymous".into(),
    };
    let controls = open.then(|| {
        let picker = (!others.is_empty()).then(|| view! {
            <select class="small" aria-label="Group with" on:change=move |ev| {
                if let Ok(with) = event_target_value(&ev).parse::<i64>() {
                    group.dispatch(GroupRetroItem { id, item: item_id, with });
                }
            }>
                <option value="">"Group with…"</option>
                {others.into_iter().map(|(o, text)| view! { <option value=o.to_string()>{text}</option> }).collect_view()}
            </select>
        });
        view! {
            <button type="button" class="button small" class:primary=!voted aria-pressed=voted.to_string() on:click=move |_| {
                vote.dispatch(RetroVote { id, item: item_id, on: !voted });
            }>{if voted { "Take vote back" } else { "Vote" }}</button>
            {picker}
            {grouped.then(|| view! {
                <button type="button" class="button small" on:click=move |_| { group.dispatch(GroupRetroItem { id, item: item_id, with: 0 }); }>"Ungroup"</button>
            })}
        }
    });
    view! {
        <div class="retro-item" data-item-id=item_id>
            <p class="retro-body">{item.body.clone()}</p>
            <p class="muted small"><span class="retro-author">{author}</span>" · "
                <span class="retro-votes">{format!("{} vote{}", item.votes, if item.votes == 1 { "" } else { "s" })}</span></p>
            <div class="row-actions no-print">{controls}</div>
        </div>
    }
}

/// The facilitator's form that makes an action of an item.
fn item_action_form(
    id: i64,
    item: &RetroItem,
    people: Vec<(String, String)>,
    me: &str,
    make_action: ServerAction<RetroItemAction>,
) -> impl IntoView {
    let item_id = item.id;
    let title = RwSignal::new(item.body.chars().take(200).collect::<String>());
    let owner = RwSignal::new(me.to_string());
    let due = RwSignal::new(String::new());
    let kind = RwSignal::new(ActionKind::Process.as_str().to_string());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        make_action.dispatch(RetroItemAction {
            id,
            item: item_id,
            form: ItemActionForm {
                title: title.get_untracked(),
                owner_email: owner.get_untracked(),
                due: due.get_untracked(),
                kind: kind.get_untracked(),
            },
        });
    };
    view! {
        <details class="no-print">
            <summary>"Make an action"</summary>
            <form class="stack" on:submit=submit aria-label="Make an action of this item">
                <label>"What to do"<input type="text" name="title" required prop:value=move || title.get()
                    on:input=move |ev| title.set(event_target_value(&ev))/></label>
                {owner_select(owner, people, me)}
                <label>"Due"<input type="date" name="due" required prop:value=move || due.get()
                    on:input=move |ev| due.set(event_target_value(&ev))/></label>
                <label>"Type"<select name="type" on:change=move |ev| kind.set(event_target_value(&ev))>
                    {ActionKind::ALL.iter().map(|k| view! { <option value=k.as_str() selected=*k == ActionKind::Process>{k.label()}</option> }).collect_view()}
                </select></label>
                <button type="submit" class="button small primary">"Make action"</button>
            </form>
        </details>
    }
}
