use crate::api::auth::{load_invitation, AcceptInvitation};
use crate::api::error_text;
use crate::app::components::{action_error, layout::CardPage, ErrorNote};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn InvitePage() -> impl IntoView {
    let token = move || use_params_map().read().get("token").unwrap_or_default();
    let info = Resource::new(token, load_invitation);
    let accept = ServerAction::<AcceptInvitation>::new();
    view! {
        <Title text="Join Shiplog"/>
        <CardPage title="Join Shiplog">
            <Suspense fallback=|| view! { <p>"Checking your invitation…"</p> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> <p><a href="/login">"Go to sign-in"</a></p> }.into_any(),
                        Ok(inv) => view! {
                            <p>"You were invited as "<strong>{inv.role.label()}</strong>" with "<strong>{inv.email.clone()}</strong>"."</p>
                            <ActionForm action=accept attr:class="stack">
                                <input type="hidden" name="token" value=token()/>
                                <label>"Your name"<input type="text" name="name" autocomplete="name" required/></label>
                                <label>"Choose a password (at least 10 characters)"
                                    <input type="password" name="password" autocomplete="new-password" minlength="10" required/>
                                </label>
                                {action_error(accept.value())}
                                <button type="submit" class="button primary">"Join"</button>
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </CardPage>
    }
}
