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
use axum::routing::{get, post, put};
use axum::Router;

/// Largest request body the API reads (a deploy with hundreds of entries fits).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/deploys", get(deploys::list).post(deploys::create))
        .route("/deploys/{id}", get(deploys::get).patch(deploys::update))
        .route(
            "/accounts",
            get(audiences::list_accounts).post(audiences::create_account),
        )
        .route(
            "/accounts/{slug}/links",
            post(audiences::create_link).delete(audiences::revoke_link),
        )
        .route(
            "/cohorts",
            get(audiences::list_cohorts).post(audiences::create_cohort),
        )
        .route("/cohorts/{slug}/members", put(audiences::set_members))
        .route("/releases", get(releases::list).post(releases::create))
        .route("/releases/{slug}", get(releases::get).patch(releases::edit))
        .route("/releases/{slug}/draft", get(releases::draft))
        .route("/releases/{slug}/entries", post(releases::link))
        .route(
            "/releases/{slug}/entries/{id}",
            axum::routing::delete(releases::unlink),
        )
        .route("/releases/{slug}/publish", post(releases::publish))
        .route("/subscribers", get(email::list).post(email::add))
        .route(
            "/suppressions",
            get(email::suppressions).post(email::suppress),
        )
        .route("/suppressions/{email}", axum::routing::delete(email::lift))
        .route(
            "/campaigns",
            get(email::list_campaigns).post(email::create_campaign),
        )
        .route("/campaigns/{id}", get(email::get_campaign))
        .route("/campaigns/{id}/send", post(email::send))
        .route("/campaigns/{id}/pause", post(email::pause))
        .route("/campaigns/{id}/resume", post(email::resume))
        .route("/campaigns/{id}/cancel", post(email::cancel))
        .route("/incidents", get(incidents::list).post(incidents::create))
        .route(
            "/incidents/{id}",
            get(incidents::get).patch(incidents::update),
        )
        .route(
            "/incidents/{id}/root-cause",
            get(incidents::root_cause).put(incidents::save_root_cause),
        )
        .route(
            "/incidents/{id}/root-cause/review",
            post(incidents::review_root_cause),
        )
        .route("/incidents/{id}/holes", post(incidents::add_hole))
        .route("/holes", get(incidents::holes))
        .route(
            "/incidents/{id}/customer-note",
            post(incidents::customer_note),
        )
        .route("/alerts", post(incidents::alerts))
        .route("/actions", get(actions::list).post(actions::create))
        .route("/actions/{id}", get(actions::get).patch(actions::update))
        .route("/builds", get(gates::list_builds).post(gates::create_build))
        .route("/builds/promotable", get(gates::promotable))
        .route(
            "/builds/{id}",
            get(gates::get_build).patch(gates::update_build),
        )
        .route("/gate", get(gates::gate))
        .route("/metrics/dora", get(metrics::dora))
        .route("/blocks", get(gates::list_blocks).post(gates::place_block))
        .route("/blocks/{id}", axum::routing::delete(gates::lift_block))
        .route(
            "/environments",
            get(safety::list_environments).post(safety::create_environment),
        )
        .route(
            "/environments/{slug}",
            axum::routing::put(safety::update_environment),
        )
        .route("/calendar", get(safety::calendar))
        .route(
            "/calendar/{environment}/{night}",
            axum::routing::put(safety::explain_night),
        )
        .route("/risk", get(safety::risk_settings))
        .route("/risk/map", get(safety::risk_map))
        .route("/risk/rules/{risk}", axum::routing::put(safety::set_rule))
        .route(
            "/risk/components/{component}",
            axum::routing::put(safety::mark_risky).delete(safety::unmark_risky),
        )
        .route("/entries/{id}/process", get(safety::entry_process))
        .route("/entries/{id}/checklist", axum::routing::put(safety::check))
        .route(
            "/webhooks",
            get(safety::list_webhooks).post(safety::create_webhook),
        )
        .route(
            "/webhooks/{id}",
            axum::routing::delete(safety::remove_webhook),
        )
        .route("/webhooks/{id}/deliveries", get(safety::deliveries))
        .route(
            "/webhooks/deliveries/{id}/redeliver",
            post(safety::redeliver),
        )
        .route("/audit", get(safety::audit))
        .route("/retros", get(retros::list).post(retros::create))
        .route(
            "/retros/settings",
            get(retros::settings).put(retros::save_settings),
        )
        .route("/retros/{id}", get(retros::get))
        .route("/retros/{id}/items", post(retros::add_item))
        .route(
            "/retros/{id}/items/{item}",
            axum::routing::patch(retros::change_item),
        )
        .route(
            "/retros/{id}/items/{item}/vote",
            post(retros::vote).delete(retros::unvote),
        )
        .route(
            "/retros/{id}/items/{item}/action",
            post(retros::item_action),
        )
        .route("/retros/{id}/reviews", post(retros::review))
        .route("/retros/{id}/close", post(retros::close))
        .route("/openapi.json", get(openapi::document))
        .fallback(|| async { AppError::not_found("There is no such API endpoint.") })
        .method_not_allowed_fallback(|| async {
            AppError::MethodNotAllowed("This endpoint does not accept that method.".into())
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}
