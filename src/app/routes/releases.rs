use crate::api::error_text;
use crate::api::releases::{load_releases, CreateRelease};
use crate::app::components::{action_error, layout::AppLayout, when, ErrorNote};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Every release, drafts first; PMs start new ones here.
#[component]
pub fn ReleasesPage() -> impl IntoView {
    let create = ServerAction::<CreateRelease>::new();
    let query = use_query_map();
    let search = move || query.read().get("q").unwrap_or_default();
    let data = Resource::new(search, load_releases);
    view! {
        <Title text="Releases"/>
        <AppLayout>
            <h1>"Releases"</h1>
            <section class="panel" aria-labelledby="new-release-h">
                <h2 id="new-release-h">"New release"</h2>
                <ActionForm action=create attr:class="inline-form">
                    <label>"Title"<input type="text" name="title" placeholder="e.g. Winter update" required/></label>
                    <button type="submit" class="button primary" disabled=move || create.pending().get()>"Draft release"</button>
                </ActionForm>
                {action_error(create.value())}
            </section>
            <form class="inline-form" method="get" action="/app/releases" role="search">
                <label>"Search releases"<input type="search" name="q" value=search/></label>
                <button type="submit" class="button">"Search"</button>
            </form>
            <Transition fallback=|| view! { <p>"Loading releases…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No releases yet. Draft one above, then link the entries it announces."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="table">
                                <thead><tr><th scope="col">"Release"</th><th scope="col">"Status"</th><th scope="col">"When"</th><th scope="col" class="num">"Entries"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|r| {
                                        let when_text = match r.status {
                                            ReleaseStatus::Published => r.published_at.as_ref().map(when),
                                            ReleaseStatus::Scheduled => r.publish_at.as_ref().map(|t| format!("at {}", when(t))),
                                            ReleaseStatus::Draft => Some(format!("edited {}", when(&r.updated_at))),
                                        }.unwrap_or_default();
                                        view! {
                                            <tr>
                                                <td>
                                                    <a href=format!("/app/releases/{}", r.slug)>{r.title.clone()}</a>
                                                    {r.version_name.clone().map(|v| view! { " "<span class="badge component">{v}</span> })}
                                                </td>
                                                <td>
                                                    <span class=format!("badge release-{}", r.status.as_str())>{r.status.label()}</span>
                                                    {r.archived.then(|| view! { " "<span class="badge">"Archived"</span> })}
                                                </td>
                                                <td>{when_text}</td>
                                                <td class="num">{r.entry_count}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Transition>
        </AppLayout>
    }
}
