use crate::api::auth::Login;
use crate::app::components::{action_error, layout::CardPage};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let next = move || use_query_map().read().get("next").unwrap_or_default();
    view! {
        <Title text="Sign in"/>
        <CardPage title="Sign in">
            <ActionForm action=login attr:class="stack">
                <input type="hidden" name="next" value=next/>
                <label>"Email"<input type="email" name="email" autocomplete="username" required/></label>
                <label>"Password"<input type="password" name="password" autocomplete="current-password" required/></label>
                {action_error(login.value())}
                <button type="submit" class="button primary" disabled=move || login.pending().get()>"Sign in"</button>
            </ActionForm>
            <p class="muted small">"No account? Ask an admin of your team to invite you."</p>
        </CardPage>
    }
}
