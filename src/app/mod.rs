//! The hydrated Leptos app for the team (admins, PMs, engineers): sign-in,
//! the deploy log, people and tokens. Customer pages are not here: they are
//! server-rendered without JavaScript (`server::public`).

pub mod components;
pub mod routes;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
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

/// `Release title · Shiplog`. On the server the text is escaped here, because
/// leptos_meta writes the formatted title into the `<head>` as raw HTML (a
/// release titled `</title><script>` would otherwise run); in the browser it
/// goes to `document.title`, which takes plain text.
fn page_title(text: String) -> String {
    let title = if text.is_empty() {
        "Shiplog".to_string()
    } else {
        format!("{text} · Shiplog")
    };
    #[cfg(feature = "ssr")]
    let title = crate::server::html::escape(&title);
    title
}

/// Allows this response's hydration scripts (they carry its nonce) and nothing
/// else inline.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    use crate::server::state::AppState;
    let (Some(nonce), Some(state), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<AppState>(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = crate::server::headers::app_policy(&state.config, &nonce);
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Every team page renders once its data is ready (`SsrMode::Async`), in one
/// piece: its title is in the head from the start, and no page depends on
/// out-of-order streaming, whose chunks once never finished on a busy server.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=page_title/>
        <Router>
            <Routes fallback=routes::NotFound>
                <Route path=path!("/setup") view=routes::setup::SetupPage ssr=SsrMode::Async/>
                <Route path=path!("/login") view=routes::login::LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/invite/:token") view=routes::invite::InvitePage ssr=SsrMode::Async/>
                <Route path=path!("/app") view=routes::deploys::TimelinePage ssr=SsrMode::Async/>
                <Route path=path!("/app/deploys/:id") view=routes::deploy::DeployPage ssr=SsrMode::Async/>
                <Route path=path!("/app/incidents") view=routes::incidents::IncidentsPage ssr=SsrMode::Async/>
                <Route path=path!("/app/incidents/:id") view=routes::incidents::IncidentPage ssr=SsrMode::Async/>
                <Route path=path!("/app/actions") view=routes::actions::ActionsPage ssr=SsrMode::Async/>
                <Route path=path!("/app/holes") view=routes::holes::HolesPage ssr=SsrMode::Async/>
                <Route path=path!("/app/blocks") view=routes::blocks::BlocksPage ssr=SsrMode::Async/>
                <Route path=path!("/app/metrics") view=routes::metrics::MetricsPage ssr=SsrMode::Async/>
                <Route path=path!("/app/environments") view=routes::environments::EnvironmentsPage ssr=SsrMode::Async/>
                <Route path=path!("/app/calendar") view=routes::calendar::CalendarPage ssr=SsrMode::Async/>
                <Route path=path!("/app/risk") view=routes::risk::RiskPage ssr=SsrMode::Async/>
                <Route path=path!("/app/webhooks") view=routes::webhooks::WebhooksPage ssr=SsrMode::Async/>
                <Route path=path!("/app/audit") view=routes::audit::AuditPage ssr=SsrMode::Async/>
                <Route path=path!("/app/profile") view=routes::profile::ProfilePage ssr=SsrMode::Async/>
                <Route path=path!("/app/retros") view=routes::retros::RetrosPage ssr=SsrMode::Async/>
                <Route path=path!("/app/retros/:id") view=routes::retros::RetroPage ssr=SsrMode::Async/>
                <Route path=path!("/app/people") view=routes::people::PeoplePage ssr=SsrMode::Async/>
                <Route path=path!("/app/tokens") view=routes::tokens::TokensPage ssr=SsrMode::Async/>
                <Route path=path!("/app/releases") view=routes::releases::ReleasesPage ssr=SsrMode::Async/>
                <Route path=path!("/app/releases/:slug") view=routes::release::ReleasePage ssr=SsrMode::Async/>
                <Route path=path!("/app/unannounced") view=routes::unannounced::UnannouncedPage ssr=SsrMode::Async/>
                <Route path=path!("/app/customers") view=routes::audiences::AudiencesPage ssr=SsrMode::Async/>
                <Route path=path!("/app/subscribers") view=routes::subscribers::SubscribersPage ssr=SsrMode::Async/>
                <Route path=path!("/app/campaigns") view=routes::campaigns::CampaignsPage ssr=SsrMode::Async/>
                <Route path=path!("/app/campaigns/:id") view=routes::campaigns::CampaignPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn titles_reach_the_server_rendered_head_escaped() {
        assert_eq!(
            super::page_title("</title><script>alert(1)</script>".into()),
            "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; · Shiplog"
        );
        assert_eq!(super::page_title(String::new()), "Shiplog");
    }
}
