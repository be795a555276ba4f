use crate::api::error_text;
use crate::api::releases::load_unannounced;
use crate::app::components::{badges::KindBadge, layout::AppLayout, when, ErrorNote};
use leptos::prelude::*;
use leptos_meta::Title;

/// Shipped but not announced: customer-visible changes in production that no
/// published or scheduled release mentions yet, oldest first.
#[component]
pub fn UnannouncedPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_unannounced());
    view! {
        <Title text="Shipped but not announced"/>
        <AppLayout>
            <h1>"Shipped but not announced"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(u) => {
                            let share = if u.total_30d == 0 { "—".to_string() } else { format!("{}%", u.announced_30d * 100 / u.total_30d) };
                            let count = u.entries.len();
                            view! {
                                <p class="panel" data-testid="announced-share">
                                    <strong>{share}</strong>" of the customer-visible changes shipped in the last 30 days are announced ("
                                    {u.announced_30d}" of "{u.total_30d}"). "{count}" shipped changes wait for a release."
                                </p>
                                {if count == 0 {
                                    view! { <p class="empty">"Every shipped change has been announced."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table">
                                            <thead><tr><th scope="col">"Change"</th><th scope="col">"Kind"</th><th scope="col">"Audience"</th><th scope="col">"Shipped"</th><th scope="col">"In draft"</th></tr></thead>
                                            <tbody>
                                                {u.entries.into_iter().map(|e| view! {
                                                    <tr>
                                                        <td><a href=format!("/app/deploys/{}", e.entry.deploy_id)>{e.entry.title.clone()}</a></td>
                                                        <td><KindBadge kind=e.entry.kind/></td>
                                                        <td>{e.entry.audience.label()}</td>
                                                        <td>{when(&e.deployed_at)}" · "<span class="mono">{e.version.clone()}</span></td>
                                                        <td>{e.entry.release_id.map(|_| "yes").unwrap_or("no")}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </AppLayout>
    }
}
