//! One module per page of the app.

pub mod actions;
pub mod audiences;
pub mod audit;
pub mod blocks;
pub mod calendar;
pub mod campaigns;
pub mod deploy;
pub mod deploys;
pub mod environments;
pub mod holes;
pub mod incidents;
pub mod invite;
pub mod login;
pub mod metrics;
pub mod people;
pub mod profile;
pub mod release;
pub mod releases;
pub mod retros;
pub mod risk;
pub mod root_cause;
pub mod setup;
pub mod subscribers;
pub mod tokens;
pub mod unannounced;
pub mod webhooks;

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found"/>
        <main class="card-page">
            <div class="card">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address."</p>
                <p><a href="/app">"Go to the deploy log"</a>" · "<a href="/changes" rel="external">"Public notes"</a></p>
            </div>
        </main>
    }
}
