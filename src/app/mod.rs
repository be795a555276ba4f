//! The hydrated Leptos app for the team (admins, PMs, engineers): sign-in,
//! the deploy log, people and tokens. Customer pages are not here: they are
//! server-rendered without JavaScript (`server::public`).

pub mod components;
pub mod routes;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" id="leptos" href="/pkg/shiplog.css"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|t: String| if t.is_empty() { "Shiplog".to_string() } else { format!("{t} · Shiplog") }/>
        <Router>
            <Routes fallback=routes::NotFound>
                <Route path=path!("/setup") view=routes::setup::SetupPage/>
                <Route path=path!("/login") view=routes::login::LoginPage/>
                <Route path=path!("/invite/:token") view=routes::invite::InvitePage/>
                <Route path=path!("/app") view=routes::deploys::TimelinePage/>
                <Route path=path!("/app/deploys/:id") view=routes::deploy::DeployPage/>
                <Route path=path!("/app/people") view=routes::people::PeoplePage/>
                <Route path=path!("/app/tokens") view=routes::tokens::TokensPage/>
                <Route path=path!("/app/releases") view=routes::releases::ReleasesPage/>
                <Route path=path!("/app/releases/:slug") view=routes::release::ReleasePage/>
                <Route path=path!("/app/unannounced") view=routes::unannounced::UnannouncedPage/>
                <Route path=path!("/app/customers") view=routes::audiences::AudiencesPage/>
            </Routes>
        </Router>
    }
}
