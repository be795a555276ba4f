use crate::api::auth::CreateAdmin;
use crate::app::components::{action_error, layout::CardPage};
use leptos::prelude::*;
use leptos_meta::Title;

/// First run: the only page until an admin exists.
#[component]
pub fn SetupPage() -> impl IntoView {
    let create = ServerAction::<CreateAdmin>::new();
    view! {
        <Title text="Create the first admin account"/>
        <CardPage title="Create the first admin account">
            <p class="muted">"Shiplog has no accounts yet. The account you create now is an admin: it can invite everyone else."</p>
            <ActionForm action=create attr:class="stack">
                <label>"Your name"<input type="text" name="name" autocomplete="name" required/></label>
                <label>"Email"<input type="email" name="email" autocomplete="email" required/></label>
                <label>"Password (at least 10 characters)"
                    <input type="password" name="password" autocomplete="new-password" minlength="10" required/>
                </label>
                {action_error(create.value())}
                <button type="submit" class="button primary" disabled=move || create.pending().get()>"Create admin account"</button>
            </ActionForm>
        </CardPage>
    }
}
