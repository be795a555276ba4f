use crate::api::error_text;
use crate::api::tokens::{load_tokens, CreateToken, RevokeToken};
use crate::app::components::{action_error, layout::AppLayout, when, ErrorNote};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;

/// Admins create API tokens for CI (shown once), see when each was last used, revoke them.
#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let data = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| load_tokens(),
    );
    let created = move || match create.value().get() {
        Some(Ok(t)) => Some(view! {
            <div class="alert alert-ok" role="status">
                <p>{format!("Token “{}” created. Copy it now: it will not be shown again.", t.token.name)}</p>
                <input type="text" readonly class="mono secret" data-testid="token-secret" aria-label="New token" value=t.secret.clone()/>
            </div>
        }),
        _ => None,
    };
    view! {
        <Title text="API tokens"/>
        <AppLayout>
            <h1>"API tokens"</h1>
            <section class="panel" aria-labelledby="new-token-h">
                <h2 id="new-token-h">"New token"</h2>
                <ActionForm action=create attr:class="inline-form">
                    <label>"Name"<input type="text" name="name" placeholder="e.g. GitHub Actions" required/></label>
                    <label>"Role"<select name="role">
                        {Role::ALL.iter().map(|r| view! { <option value=r.as_str() selected=*r == Role::Engineer>{r.label()}</option> }).collect_view()}
                    </select></label>
                    <button type="submit" class="button primary" disabled=move || create.pending().get()>"Create token"</button>
                </ActionForm>
                {action_error(create.value())}
                {created}
            </section>
            {action_error(revoke.value())}
            <Transition fallback=|| view! { <p>"Loading tokens…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No tokens yet."</p> }.into_any(),
                        Ok(list) => {
                            let rows = list.into_iter().map(|t| {
                                let id = t.id;
                                let revoked = t.revoked_at.is_some();
                                view! {
                                    <tr class:inactive=revoked>
                                        <td>{t.name.clone()}</td>
                                        <td class="mono">{format!("{}…", t.prefix)}</td>
                                        <td>{t.role.label()}</td>
                                        <td>{when(&t.created_at)}</td>
                                        <td>{t.last_used_at.as_ref().map(when).unwrap_or_else(|| "Never".into())}</td>
                                        <td>{match &t.revoked_at {
                                            Some(at) => view! { <span>{format!("Revoked {}", when(at))}</span> }.into_any(),
                                            None => view! {
                                                <button type="button" class="button small danger"
                                                    on:click=move |_| { revoke.dispatch(RevokeToken { id }); }>"Revoke"</button>
                                            }.into_any(),
                                        }}</td>
                                    </tr>
                                }
                            }).collect_view();
                            view! {
                                <table class="table">
                                    <thead><tr><th scope="col">"Name"</th><th scope="col">"Token"</th><th scope="col">"Role"</th><th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col"><span class="sr-only">"Status"</span></th></tr></thead>
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
