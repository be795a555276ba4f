//! The root-cause note and the holes, on an incident's page.

use crate::api::incidents::{AddHole, ReviewRootCause, SaveRootCause};
use crate::app::components::{action_error, markdown_editor::MarkdownEditor, when};
use crate::app::routes::actions::owner_select;
use crate::model::*;
use leptos::prelude::*;

/// The page's actions on its note and holes.
#[derive(Clone, Copy)]
pub struct NoteActions {
    pub save: ServerAction<SaveRootCause>,
    pub review: ServerAction<ReviewRootCause>,
    pub hole: ServerAction<AddHole>,
}

impl Default for NoteActions {
    fn default() -> Self {
        NoteActions {
            save: ServerAction::new(),
            review: ServerAction::new(),
            hole: ServerAction::new(),
        }
    }
}

/// The note (read, edit, review), its history and warnings, and the holes.
pub fn root_cause_section(
    incident_id: i64,
    view: RootCauseView,
    timeline: String,
    can_edit: bool,
    me: String,
    people: Vec<(String, String)>,
    actions: NoteActions,
) -> impl IntoView {
    let note = view.note.clone();
    let doc = note
        .as_ref()
        .map(|n| n.document.clone())
        .unwrap_or_default();
    let revision = note.as_ref().map(|n| n.version);
    let can_review = note
        .as_ref()
        .is_some_and(|n| can_edit && n.reviewable_by(&me));
    let summary = RwSignal::new(doc.summary.clone());
    let factors = RwSignal::new(doc.factors.clone());
    let went_well = RwSignal::new(doc.went_well.clone());
    let lessons = RwSignal::new(doc.lessons.clone());
    let trigger = RwSignal::new(doc.trigger.clone());
    let whys = RwSignal::new(doc.whys.join("\n"));
    let timeline_text = RwSignal::new(timeline);
    let category = RwSignal::new(
        note.as_ref()
            .map(|n| n.category)
            .unwrap_or(RootCauseCategory::Code)
            .as_str()
            .to_string(),
    );
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        actions.save.dispatch(SaveRootCause {
            id: incident_id,
            note: NoteFields {
                revision,
                summary: summary.get_untracked(),
                timeline: timeline_text.get_untracked(),
                trigger: trigger.get_untracked(),
                whys: whys.get_untracked(),
                factors: factors.get_untracked(),
                category: category.get_untracked(),
                went_well: went_well.get_untracked(),
                lessons: lessons.get_untracked(),
            },
        });
    };
    let status_line = note.as_ref().map(|n| {
        format!(
            "{} · version {} · written by {}{}",
            n.status.label(),
            n.version,
            n.author,
            n.reviewer
                .as_ref()
                .map(|r| format!(" · reviewed by {r}"))
                .unwrap_or_default()
        )
    });
    let history = view
        .history
        .iter()
        .map(|v| view! { <li>{format!("Version {} (replaced by {} on {})", v.version, v.edited_by, when(&v.edited_at))}</li> })
        .collect_view();
    let has_history = !view.history.is_empty();
    view! {
        <section aria-labelledby="rca-h" class="stack">
            <h2 id="rca-h">"Root cause (blameless)"</h2>
            <p class="muted" data-testid="note-status">{status_line.unwrap_or_else(|| "No note yet.".into())}</p>
            {view.warnings.iter().map(|w| view! { <p class="alert alert-warn" role="status">{w.clone()}</p> }).collect_view()}
            {can_review.then(|| view! {
                <div class="row-actions">
                    <button type="button" class="button primary" on:click=move |_| {
                        if let Some(revision) = revision {
                            actions.review.dispatch(ReviewRootCause { id: incident_id, revision });
                        }
                    }>"Approve as reviewer"</button>
                </div>
            })}
            {action_error(actions.review.value())}
            {(!can_edit).then(|| note.as_ref().map(|n| view! {
                <div class="prose panel" inner_html=n.document.summary_html.clone()></div>
            }))}
            {can_edit.then(|| view! {
                <form class="stack panel" on:submit=submit aria-label="Root-cause note">
                    <MarkdownEditor body=summary source=doc.summary.clone() rendered=doc.summary_html.clone() id="rca-summary" label="Summary (Markdown)"/>
                    <label>"Timeline (one row per line: 2026-11-27 21:04 what happened, UTC)"<textarea rows="4" name="timeline"
                        prop:value=move || timeline_text.get() on:input=move |ev| timeline_text.set(event_target_value(&ev))></textarea></label>
                    <label>"Trigger"<input type="text" name="trigger" prop:value=move || trigger.get()
                        on:input=move |ev| trigger.set(event_target_value(&ev))/></label>
                    <label>"Five whys (one per line, in order)"<textarea rows="5" name="whys"
                        prop:value=move || whys.get() on:input=move |ev| whys.set(event_target_value(&ev))></textarea></label>
                    <label>"Category"<select name="category" on:change=move |ev| category.set(event_target_value(&ev))>
                        {RootCauseCategory::ALL.iter().map(|c| {
                            let selected = c.as_str() == category.get_untracked();
                            view! { <option value=c.as_str() selected=selected>{c.label()}</option> }
                        }).collect_view()}
                    </select></label>
                    <MarkdownEditor body=factors source=doc.factors.clone() rendered=doc.factors_html.clone() id="rca-factors" label="Contributing factors (Markdown)"/>
                    <MarkdownEditor body=went_well source=doc.went_well.clone() rendered=doc.went_well_html.clone() id="rca-went-well" label="What went well (Markdown)"/>
                    <MarkdownEditor body=lessons source=doc.lessons.clone() rendered=doc.lessons_html.clone() id="rca-lessons" label="Lessons (Markdown)"/>
                    {action_error(actions.save.value())}
                    <div class="row-actions">
                        <button type="submit" class="button primary" disabled=move || actions.save.pending().get()>"Save note"</button>
                    </div>
                </form>
            })}
            {has_history.then(|| view! { <details><summary>"Earlier versions"</summary><ul>{history}</ul></details> })}
        </section>
        <section aria-labelledby="holes-h" class="stack">
            <h2 id="holes-h">"Holes in testing and monitoring"</h2>
            {if view.holes.is_empty() {
                view! { <p class="empty">"None recorded."</p> }.into_any()
            } else {
                view! {
                    <table class="table" data-testid="holes">
                        <thead><tr><th scope="col">"Hole"</th><th scope="col">"Where"</th><th scope="col">"Repaired by"</th><th scope="col">"State"</th></tr></thead>
                        <tbody>{view.holes.iter().map(|h| view! {
                            <tr>
                                <td>{h.description.clone()}{h.component.clone().map(|c| view! { " "<span class="badge">{c}</span> })}</td>
                                <td>{format!("{} · {}", h.kind.label(), h.area.label())}</td>
                                <td><span class="mono">{action_number(h.action_id)}</span></td>
                                <td>{if h.closed { "Closed" } else { "Open" }}</td>
                            </tr>
                        }).collect_view()}</tbody>
                    </table>
                }.into_any()
            }}
            {can_edit.then(|| hole_form(incident_id, me, people, actions.hole))}
        </section>
    }
}

fn hole_form(
    incident_id: i64,
    me: String,
    people: Vec<(String, String)>,
    add: ServerAction<AddHole>,
) -> impl IntoView {
    let area = RwSignal::new(HoleArea::Unit.as_str().to_string());
    let component = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let title = RwSignal::new(String::new());
    let owner = RwSignal::new(me.clone());
    let due = RwSignal::new(String::new());
    let kind = RwSignal::new(ActionKind::Testing.as_str().to_string());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        add.dispatch(AddHole {
            id: incident_id,
            hole: HoleFields {
                area: area.get_untracked(),
                component: component.get_untracked(),
                description: description.get_untracked(),
                action_title: title.get_untracked(),
                owner_email: owner.get_untracked(),
                due: due.get_untracked(),
                action_type: kind.get_untracked(),
            },
        });
    };
    view! {
        <form class="stack panel" on:submit=submit aria-label="New hole">
            <h3>"Record a hole, with the action that repairs it"</h3>
            <div class="grid4">
                <label>"Where it was"<select name="area" on:change=move |ev| area.set(event_target_value(&ev))>
                    {HoleArea::ALL.iter().map(|a| view! { <option value=a.as_str()>{format!("{}: {}", a.kind().label(), a.label())}</option> }).collect_view()}
                </select></label>
                <label>"Component"<input type="text" name="component" prop:value=move || component.get()
                    on:input=move |ev| component.set(event_target_value(&ev))/></label>
            </div>
            <label>"What it let through"<input type="text" name="description" required prop:value=move || description.get()
                on:input=move |ev| description.set(event_target_value(&ev))/></label>
            <div class="grid4">
                <label>"Repairing action"<input type="text" name="action_title" required prop:value=move || title.get()
                    on:input=move |ev| title.set(event_target_value(&ev))/></label>
                {owner_select(owner, people, &me)}
                <label>"Action due"<input type="date" name="due" required prop:value=move || due.get()
                    on:input=move |ev| due.set(event_target_value(&ev))/></label>
                <label>"Action type"<select name="action_type" on:change=move |ev| kind.set(event_target_value(&ev))>
                    {ActionKind::ALL.iter().map(|k| view! { <option value=k.as_str()>{k.label()}</option> }).collect_view()}
                </select></label>
            </div>
            {action_error(add.value())}
            <div class="row-actions"><button type="submit" class="button primary" disabled=move || add.pending().get()>"Record hole"</button></div>
        </form>
    }
}
