use crate::api::error_text;
use crate::api::releases::{
    candidates, load_release, ChangePublication, LinkEntries, PublishRelease, ReleaseView,
    SaveRelease, UnlinkEntry,
};
use crate::app::components::badges::{KindBadge, StatusBadge};
use crate::app::components::{
    action_error, layout::AppLayout, markdown_editor::MarkdownEditor, when, ErrorNote,
};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// One release: its narrative (with a live preview and a guard for unsaved
/// changes), its entries and their readiness, publishing, and the entry picker.
#[component]
pub fn ReleasePage() -> impl IntoView {
    let slug = move || use_params_map().read().get("slug").unwrap_or_default();
    let save = ServerAction::<SaveRelease>::new();
    let link = ServerAction::<LinkEntries>::new();
    let unlink = ServerAction::<UnlinkEntry>::new();
    let publication = PublishActions {
        publish: ServerAction::<PublishRelease>::new(),
        change: ServerAction::<ChangePublication>::new(),
    };
    let data = Resource::new(
        move || {
            (
                slug(),
                link.version().get(),
                unlink.version().get(),
                publication.publish.version().get(),
                publication.change.version().get(),
            )
        },
        |(slug, ..)| load_release(slug),
    );
    // Every resource of the page is created here, outside the transition, and
    // reads only signals created here: server rendering may run the
    // transition's children more than once, and a resource created there
    // could read a signal that a later run had dropped (its task then died
    // on a worker thread, and the response waited for it forever).
    let editor = Editor::new();
    let filter = RwSignal::new(PickerFilter::default());
    let found = Resource::new(
        move || (filter.get(), link.version().get()),
        |(f, _)| candidates(f),
    );
    let picker = Picker { filter, found };
    Effect::new(move |_| {
        if let Some(Ok(r)) = save.value().get() {
            editor.saved(&r);
        }
    });
    // After a save that renamed the release, follow it to its new address.
    Effect::new(move |_| {
        if let Some(Ok(r)) = save.value().get() {
            if r.slug != slug() {
                let navigate = leptos_router::hooks::use_navigate();
                navigate(&format!("/app/releases/{}", r.slug), Default::default());
            }
        }
    });
    view! {
        <AppLayout>
            <Transition fallback=|| view! { <p>"Loading release…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <Title text="Release"/><ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(view) => release_view(view, editor, picker, save, link, unlink, publication).into_any(),
                    }
                })}
            </Transition>
        </AppLayout>
    }
}

/// The narrative editor's state, kept across reloads of the page's data.
#[derive(Clone, Copy)]
struct Editor {
    revision: RwSignal<i64>,
    title: RwSignal<String>,
    slug: RwSignal<String>,
    version_name: RwSignal<String>,
    body: RwSignal<String>,
    audience: RwSignal<String>,
    /// The text as last loaded or saved.
    baseline: RwSignal<EditorText>,
    dirty: Memo<bool>,
}

/// Title, slug, version name, narrative and audience.
type EditorText = (String, String, String, String, String);

impl Editor {
    fn new() -> Self {
        let title = RwSignal::new(String::new());
        let slug = RwSignal::new(String::new());
        let version_name = RwSignal::new(String::new());
        let body = RwSignal::new(String::new());
        let audience = RwSignal::new(String::new());
        let baseline = RwSignal::new(EditorText::default());
        let dirty = Memo::new(move |_| {
            let (t, s, v, n, a) = baseline.get();
            title.get() != t
                || slug.get() != s
                || version_name.get() != v
                || body.get() != n
                || audience.get() != a
        });
        Editor {
            revision: RwSignal::new(0),
            title,
            slug,
            version_name,
            body,
            audience,
            baseline,
            dirty,
        }
    }

    fn text_of(r: &Release) -> EditorText {
        (
            r.title.clone(),
            r.slug.clone(),
            r.version_name.clone().unwrap_or_default(),
            r.narrative.clone(),
            r.audience.as_string(),
        )
    }

    fn load(&self, r: &Release) {
        let server_text = Self::text_of(r);
        if !self.dirty.get_untracked() {
            self.saved(r);
        } else if server_text == self.baseline.get_untracked() {
            // Only links or status changed: keep the unsaved text, follow the revision.
            self.revision.set(r.revision);
        }
        // Otherwise someone else changed the text: keep the old revision, so saving says so.
    }

    fn saved(&self, r: &Release) {
        let text = Self::text_of(r);
        let (t, s, v, n, a) = text.clone();
        self.revision.set(r.revision);
        self.title.set(t);
        self.slug.set(s);
        self.version_name.set(v);
        self.body.set(n);
        self.audience.set(a);
        self.baseline.set(text);
    }
}

/// The entry picker's filter and the entries it finds.
#[derive(Clone, Copy)]
struct Picker {
    filter: RwSignal<PickerFilter>,
    found: Resource<Result<Vec<LinkedEntry>, FnError>>,
}

fn release_view(
    view: ReleaseView,
    editor: Editor,
    picker: Picker,
    save: ServerAction<SaveRelease>,
    link: ServerAction<LinkEntries>,
    unlink: ServerAction<UnlinkEntry>,
    publication: PublishActions,
) -> impl IntoView {
    let ReleaseView {
        detail,
        can_edit,
        environments,
        cohorts,
    } = view;
    let audience_warning = detail.audience_warning();
    let announced = detail.release.status != ReleaseStatus::Draft;
    // Each (re)load refreshes the editor unless it holds unsaved text; the
    // revision moves on only when nobody else changed the text.
    editor.load(&detail.release);
    let r = detail.release.clone();
    let slug = r.slug.clone();
    let unshipped = detail.unshipped().len();
    let status_line = match r.status {
        ReleaseStatus::Published => format!(
            "Published {}",
            r.published_at.as_ref().map(when).unwrap_or_default()
        ),
        ReleaseStatus::Scheduled => format!(
            "Scheduled for {}",
            r.publish_at.as_ref().map(when).unwrap_or_default()
        ),
        ReleaseStatus::Draft => "Draft".into(),
    };
    let entries = detail.entries.clone();
    let entry_count = entries.len();
    let entry_rows = entries
        .into_iter()
        .map(|e| {
            let entry_id = e.entry.id;
            let slug = slug.clone();
            let readiness = match e.not_shipped_reason() {
                None => view! { <span class="ready ok">"✓ Shipped to production"</span> }.into_any(),
                Some(why) => view! { <span class="ready not">{format!("Not shipped: {why}")}</span> }.into_any(),
            };
            view! {
                <tr data-entry-id=entry_id>
                    <td>{e.entry.title.clone()}</td>
                    <td><KindBadge kind=e.entry.kind/></td>
                    <td>{e.entry.audience.label()}</td>
                    <td><a href=format!("/app/deploys/{}", e.entry.deploy_id)><span class="mono">{e.version.clone()}</span></a>" · "{e.environment.clone()}" · "{when(&e.deployed_at)}" "<StatusBadge status=e.deploy_status/></td>
                    <td>{readiness}</td>
                    <td>{can_edit.then(|| view! {
                        <button type="button" class="button small" on:click=move |_| { unlink.dispatch(UnlinkEntry { slug: slug.clone(), entry_id }); }>"Remove"</button>
                    })}</td>
                </tr>
            }
        })
        .collect_view();

    view! {
        <Title text=r.title.clone()/>
        <p class="crumbs"><a href="/app/releases">"Releases"</a>" / "{r.title.clone()}</p>
        <div class="deploy-head">
            <h1>{r.title.clone()}" "<span class=format!("badge release-{}", r.status.as_str())>{r.status.label()}</span>
                {r.archived.then(|| view! { " "<span class="badge">"Archived"</span> })}</h1>
            <p class="muted" data-testid="release-status">{status_line}{(r.status == ReleaseStatus::Published).then(|| view! {
                " · "<a href=format!("/releases/{}", r.slug) rel="external">"View on the public site"</a>
            })}</p>
            {can_edit.then(|| publish_controls(&r, editor, unshipped, entry_count, publication))}
        </div>
        {audience_warning.map(|w| view! { <p class="alert alert-warn" role="status" data-testid="audience-warning">{w}</p> })}
        {can_edit.then(|| narrative_editor(&r, editor, save, cohorts))}
        {(!can_edit).then(|| view! { <div class="prose panel" inner_html=r.narrative_html.clone()></div> })}
        <section aria-labelledby="linked-h">
            <h2 id="linked-h">{format!("Entries ({entry_count})")}</h2>
            {action_error(unlink.value())}
            {if entry_count == 0 {
                view! { <p class="empty">"No entries yet. Pick shipped changes below."</p> }.into_any()
            } else {
                view! {
                    <p data-testid="readiness" class=if unshipped == 0 { "alert alert-ok" } else { "alert alert-error" }>
                        {if unshipped == 0 { "Ready: every entry has shipped to production.".to_string() }
                         else { format!("Not ready: {unshipped} of {entry_count} entries have not shipped to production.") }}
                    </p>
                    <table class="table">
                        <thead><tr><th scope="col">"Entry"</th><th scope="col">"Kind"</th><th scope="col">"Audience"</th><th scope="col">"Deploy"</th><th scope="col">"Readiness"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>{entry_rows}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
        {can_edit.then(|| view! { <EntryPicker slug=r.slug.clone() announced editor picker environments link/> })}
    }
}

fn publish_controls(
    r: &Release,
    editor: Editor,
    unshipped: usize,
    entries: usize,
    publication: PublishActions,
) -> impl IntoView {
    let slug = r.slug.clone();
    let status = r.status;
    let archived = r.archived;
    let at = RwSignal::new(String::new());
    let override_readiness = RwSignal::new(false);
    let announce = RwSignal::new(true);
    let publish_slug = slug.clone();
    let publish = move |schedule: bool| {
        let at = local_to_rfc3339(&at.get_untracked());
        publication.publish.dispatch(PublishRelease {
            slug: publish_slug.clone(),
            input: PublishInput {
                revision: editor.revision.get_untracked(),
                at: if schedule {
                    chrono::DateTime::parse_from_rfc3339(&at)
                        .ok()
                        .map(|at| at.with_timezone(&chrono::Utc))
                } else {
                    None
                },
                override_readiness: override_readiness.get_untracked(),
                announce: Some(announce.get_untracked()),
            },
            schedule,
        });
    };
    let act = move |action: Publication| {
        publication.change.dispatch(ChangePublication {
            slug: slug.clone(),
            revision: editor.revision.get_untracked(),
            action,
        });
    };
    let act2 = publish.clone();
    let act3 = act.clone();
    let act4 = act.clone();
    view! {
        <div class="publish stack">
            {(status != ReleaseStatus::Published).then(|| view! {
                <div class="inline-form">
                    <button type="button" class="button primary" on:click=move |_| publish(false)>"Publish now"</button>
                    <label>"Or publish at (your time)"<input type="datetime-local" prop:value=move || at.get() on:input=move |ev| at.set(event_target_value(&ev))/></label>
                    <button type="button" class="button" on:click=move |_| act2(true)>"Schedule"</button>
                </div>
                <label class="check"><input type="checkbox" prop:checked=move || announce.get()
                    on:change=move |ev| announce.set(event_target_checked(&ev))/>
                    " Announce it by email (a draft campaign to review before sending)"</label>
                {(unshipped > 0 && entries > 0).then(|| view! {
                    <label class="check"><input type="checkbox" prop:checked=move || override_readiness.get()
                        on:change=move |ev| override_readiness.set(event_target_checked(&ev))/>
                        " Publish even though some entries have not shipped"</label>
                })}
            })}
            <div class="row-actions">
                {(status != ReleaseStatus::Draft).then(|| view! {
                    <button type="button" class="button small" on:click=move |_| act3(Publication::Unpublish)>"Back to draft"</button>
                })}
                <button type="button" class="button small" on:click=move |_| act4(if archived { Publication::Unarchive } else { Publication::Archive })>
                    {if archived { "Unarchive" } else { "Archive" }}
                </button>
            </div>
            {action_error(publication.publish.value())}
            {action_error(publication.change.value())}
        </div>
    }
}

/// The release page's two publication actions: publishing (now or at a
/// time) and the rest (back to draft, archive).
#[derive(Clone, Copy)]
pub struct PublishActions {
    pub publish: ServerAction<PublishRelease>,
    pub change: ServerAction<ChangePublication>,
}

/// A `datetime-local` value (`2026-12-01T09:30`, the person's own time zone)
/// as an RFC 3339 instant; empty when it is not a date and time.
pub(crate) fn local_to_rfc3339(local: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        if local.trim().is_empty() {
            return String::new();
        }
        // A date-time without an offset is local time to JavaScript's Date.
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(local.trim()));
        if date.get_time().is_nan() {
            return String::new();
        }
        String::from(date.to_iso_string())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = local;
        String::new()
    }
}

fn narrative_editor(
    r: &Release,
    editor: Editor,
    save: ServerAction<SaveRelease>,
    cohorts: Vec<String>,
) -> impl IntoView {
    let slug = r.slug.clone();
    let Editor {
        revision,
        title,
        slug: new_slug,
        version_name,
        body,
        audience,
        dirty,
        ..
    } = editor;
    let choices: Vec<Audience> = [Audience::Everyone, Audience::Admins]
        .into_iter()
        .chain(cohorts.into_iter().map(Audience::Cohort))
        .collect();
    warn_before_leaving(dirty);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(SaveRelease {
            slug: slug.clone(),
            revision: revision.get_untracked(),
            title: title.get_untracked(),
            new_slug: new_slug.get_untracked(),
            version_name: version_name.get_untracked(),
            narrative: body.get_untracked(),
            audience: audience.get_untracked(),
        });
    };
    view! {
        <form class="panel stack" on:submit=submit aria-labelledby="story-h">
            <h2 id="story-h">"The story"</h2>
            <div class="grid4">
                <label>"Title"<input type="text" required prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev))/></label>
                <label>"Slug (address)"<input type="text" required prop:value=move || new_slug.get() on:input=move |ev| new_slug.set(event_target_value(&ev))/></label>
                <label>"Version name"<input type="text" prop:value=move || version_name.get() on:input=move |ev| version_name.set(event_target_value(&ev))/></label>
                <label>"Audience"<select name="audience" prop:value=move || audience.get() on:change=move |ev| audience.set(event_target_value(&ev))>
                    {choices.into_iter().map(|a| {
                        let value = a.as_string();
                        let selected = value.clone();
                        view! { <option value=value.clone() selected=move || audience.get() == selected>{a.label()}</option> }
                    }).collect_view()}
                </select></label>
            </div>
            <MarkdownEditor body source=r.narrative.clone() rendered=r.narrative_html.clone() id="narrative" label="Narrative (Markdown)"/>
            {action_error(save.value())}
            <div class="row-actions">
                <button type="submit" class="button primary" disabled=move || save.pending().get()>"Save"</button>
                <span class="muted" data-testid="save-state">{move || if dirty.get() { "Unsaved changes" } else { "All changes saved" }}</span>
            </div>
        </form>
    }
}

/// Asks before the page is left while `dirty`: the browser's own prompt for
/// closing, reloading or another address, and a confirmation for the app's own
/// links (which the router would otherwise follow without unloading the page).
fn warn_before_leaving(dirty: Memo<bool>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::{closure::Closure, JsCast};
        // Set once the person chose to leave, so the browser does not ask again.
        let leaving = StoredValue::new(false);
        let unload = window_event_listener(leptos::ev::beforeunload, move |ev| {
            if dirty.get_untracked() && !leaving.get_value() {
                ev.prevent_default();
                ev.set_return_value("You have unsaved changes.");
            }
        });
        let on_click =
            Closure::<dyn Fn(web_sys::MouseEvent)>::new(move |ev: web_sys::MouseEvent| {
                if !dirty.get_untracked() || ev.default_prevented() {
                    return;
                }
                let on_link = ev
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .and_then(|el| el.closest("a[href]").ok().flatten())
                    .is_some();
                if !on_link {
                    return;
                }
                let leave = web_sys::window()
                    .and_then(|w| {
                        w.confirm_with_message(
                            "This release has unsaved changes. Leave without saving them?",
                        )
                        .ok()
                    })
                    .unwrap_or(true);
                if leave {
                    leaving.set_value(true);
                } else {
                    // The router skips clicks whose default was prevented.
                    ev.prevent_default();
                }
            });
        // On the document, so it runs before the router's listener on the window.
        let doc = document();
        let _ = doc.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
        let listener = send_wrapper::SendWrapper::new((doc, on_click));
        on_cleanup(move || {
            unload.remove();
            let (doc, on_click) = listener.take();
            let _ =
                doc.remove_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = dirty;
}

/// Lists customer-visible entries in no release, filterable, to link several at once.
#[component]
fn EntryPicker(
    slug: String,
    /// Published or scheduled: customers read it, so readiness is checked again.
    announced: bool,
    editor: Editor,
    picker: Picker,
    environments: Vec<String>,
    link: ServerAction<LinkEntries>,
) -> impl IntoView {
    let override_readiness = RwSignal::new(false);
    let Picker { filter, found } = picker;
    let chosen = RwSignal::new(Vec::<i64>::new());
    let field = move |label: &'static str,
                      kind: &'static str,
                      get: fn(&PickerFilter) -> String,
                      set: fn(&mut PickerFilter, String)| {
        view! {
            <label>{label}<input type=kind prop:value=move || get(&filter.get())
                on:change=move |ev| filter.update(|f| set(f, event_target_value(&ev)))/></label>
        }
    };
    let add = move |_| {
        let ids = chosen.get_untracked();
        link.dispatch(LinkEntries {
            slug: slug.clone(),
            entry_ids: ids,
            revision: editor.revision.get_untracked(),
            override_readiness: override_readiness.get_untracked(),
        });
        chosen.set(vec![]);
    };
    view! {
        <section class="panel" aria-labelledby="picker-h">
            <h2 id="picker-h">"Add entries"</h2>
            <div class="grid4 picker-filters">
                <label>"Environment"<select on:change=move |ev| filter.update(|f| f.environment = event_target_value(&ev))>
                    <option value="">"Any"</option>
                    {environments.into_iter().map(|e| view! { <option value=e.clone()>{e.clone()}</option> }).collect_view()}
                </select></label>
                <label>"Kind"<select on:change=move |ev| filter.update(|f| f.kind = event_target_value(&ev))>
                    <option value="">"Any"</option>
                    {EntryKind::ALL.iter().map(|k| view! { <option value=k.as_str()>{k.label()}</option> }).collect_view()}
                </select></label>
                {field("Component", "text", |f| f.component.clone(), |f, v| f.component = v)}
                {field("Shipped from", "date", |f| f.from.clone(), |f, v| f.from = v)}
                {field("Shipped to", "date", |f| f.to.clone(), |f, v| f.to = v)}
                {field("Text", "search", |f| f.text.clone(), |f, v| f.text = v)}
            </div>
            <Transition fallback=|| view! { <p>"Finding entries…"</p> }>
                {move || Suspend::new(async move {
                    match found.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No unannounced entries match."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="picker">
                                {list.into_iter().map(|e| {
                                    let id = e.entry.id;
                                    view! {
                                        <li>
                                            <label class="check">
                                                <input type="checkbox" prop:checked=move || chosen.get().contains(&id)
                                                    on:change=move |ev| {
                                                        let on = event_target_checked(&ev);
                                                        chosen.update(|c| if on { if !c.contains(&id) { c.push(id) } } else { c.retain(|x| *x != id) });
                                                    }/>
                                                " "{e.entry.title.clone()}
                                            </label>
                                            <span class="muted small">" "<KindBadge kind=e.entry.kind/>{e.entry.audience.label()}" · "<span class="mono">{e.version.clone()}</span>" · "{e.environment.clone()}" · "{when(&e.deployed_at)}</span>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Transition>
            {action_error(link.value())}
            {announced.then(|| view! {
                <p class="muted small">"This release is published or scheduled: only entries that have shipped to production can join it."</p>
                <label class="check"><input type="checkbox" prop:checked=move || override_readiness.get()
                    on:change=move |ev| override_readiness.set(event_target_checked(&ev))/>
                    " Add them even if they have not shipped"</label>
            })}
            <button type="button" class="button primary" disabled=move || chosen.get().is_empty() on:click=add>
                {move || format!("Add {} selected", chosen.get().len())}
            </button>
        </section>
    }
}
