//! The JSON API under `/api/v1`, for CI and scripts. Bearer tokens only;
//! every error answers `{"error": {"code", "message", "field"?}}`.

pub mod actions;
pub mod audiences;
pub mod deploys;
pub mod email;
pub mod extract;
pub mod gates;
pub mod incidents;
pub mod metrics;
pub mod openapi;
pub mod releases;
pub mod retros;
pub mod safety;

use crate::server::error::AppError;
use crate::server::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put, MethodRouter};
use axum::Router;

/// Largest request body the API reads (a deploy with hundreds of entries fits).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Every API route and its handlers. The router is built from this list, and
/// the tests' authorisation matrix walks it, so no route escapes either.
pub fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/deploys", get(deploys::list).post(deploys::create)),
        ("/deploys/{id}", get(deploys::get).patch(deploys::update)),
        (
            "/accounts",
            get(audiences::list_accounts).post(audiences::create_account),
        ),
        (
            "/accounts/{slug}/links",
            post(audiences::create_link).delete(audiences::revoke_link),
        ),
        (
            "/cohorts",
            get(audiences::list_cohorts).post(audiences::create_cohort),
        ),
        ("/cohorts/{slug}/members", put(audiences::set_members)),
        ("/releases", get(releases::list).post(releases::create)),
        ("/releases/{slug}", get(releases::get).patch(releases::edit)),
        ("/releases/{slug}/draft", get(releases::draft)),
        ("/releases/{slug}/entries", post(releases::link)),
        (
            "/releases/{slug}/entries/{id}",
            axum::routing::delete(releases::unlink),
        ),
        ("/releases/{slug}/publish", post(releases::publish)),
        ("/subscribers", get(email::list).post(email::add)),
        (
            "/suppressions",
            get(email::suppressions).post(email::suppress),
        ),
        ("/suppressions/{email}", axum::routing::delete(email::lift)),
        (
            "/campaigns",
            get(email::list_campaigns).post(email::create_campaign),
        ),
        ("/campaigns/{id}", get(email::get_campaign)),
        ("/campaigns/{id}/send", post(email::send)),
        ("/campaigns/{id}/pause", post(email::pause)),
        ("/campaigns/{id}/resume", post(email::resume)),
        ("/campaigns/{id}/cancel", post(email::cancel)),
        ("/incidents", get(incidents::list).post(incidents::create)),
        (
            "/incidents/{id}",
            get(incidents::get).patch(incidents::update),
        ),
        (
            "/incidents/{id}/root-cause",
            get(incidents::root_cause).put(incidents::save_root_cause),
        ),
        (
            "/incidents/{id}/root-cause/review",
            post(incidents::review_root_cause),
        ),
        ("/incidents/{id}/holes", post(incidents::add_hole)),
        ("/holes", get(incidents::holes)),
        (
            "/incidents/{id}/customer-note",
            post(incidents::customer_note),
        ),
        ("/alerts", post(incidents::alerts)),
        ("/actions", get(actions::list).post(actions::create)),
        ("/actions/{id}", get(actions::get).patch(actions::update)),
        ("/builds", get(gates::list_builds).post(gates::create_build)),
        ("/builds/promotable", get(gates::promotable)),
        (
            "/builds/{id}",
            get(gates::get_build).patch(gates::update_build),
        ),
        ("/gate", get(gates::gate)),
        ("/metrics/dora", get(metrics::dora)),
        ("/blocks", get(gates::list_blocks).post(gates::place_block)),
        ("/blocks/{id}", axum::routing::delete(gates::lift_block)),
        (
            "/environments",
            get(safety::list_environments).post(safety::create_environment),
        ),
        (
            "/environments/{slug}",
            axum::routing::put(safety::update_environment),
        ),
        ("/calendar", get(safety::calendar)),
        (
            "/calendar/{environment}/{night}",
            axum::routing::put(safety::explain_night),
        ),
        ("/risk", get(safety::risk_settings)),
        ("/risk/map", get(safety::risk_map)),
        ("/risk/rules/{risk}", axum::routing::put(safety::set_rule)),
        (
            "/risk/components/{component}",
            axum::routing::put(safety::mark_risky).delete(safety::unmark_risky),
        ),
        ("/entries/{id}/process", get(safety::entry_process)),
        ("/entries/{id}/checklist", axum::routing::put(safety::check)),
        (
            "/webhooks",
            get(safety::list_webhooks).post(safety::create_webhook),
        ),
        (
            "/webhooks/{id}",
            axum::routing::delete(safety::remove_webhook),
        ),
        ("/webhooks/{id}/deliveries", get(safety::deliveries)),
        (
            "/webhooks/deliveries/{id}/redeliver",
            post(safety::redeliver),
        ),
        ("/audit", get(safety::audit)),
        ("/retros", get(retros::list).post(retros::create)),
        (
            "/retros/settings",
            get(retros::settings).put(retros::save_settings),
        ),
        ("/retros/{id}", get(retros::get)),
        ("/retros/{id}/items", post(retros::add_item)),
        (
            "/retros/{id}/items/{item}",
            axum::routing::patch(retros::change_item),
        ),
        (
            "/retros/{id}/items/{item}/vote",
            post(retros::vote).delete(retros::unvote),
        ),
        (
            "/retros/{id}/items/{item}/action",
            post(retros::item_action),
        ),
        ("/retros/{id}/reviews", post(retros::review)),
        ("/retros/{id}/close", post(retros::close)),
        ("/openapi.json", get(openapi::document)),
    ]
}

pub fn router() -> Router<AppState> {
    routes()
        .into_iter()
        .fold(Router::new(), |router, (path, handlers)| {
            router.route(path, handlers)
        })
        .fallback(|| async { AppError::not_found("There is no such API endpoint.") })
        .method_not_allowed_fallback(|| async {
            AppError::MethodNotAllowed("This endpoint does not accept that method.".into())
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}
