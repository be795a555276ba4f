//! `GET /api/v1/openapi.json`, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Shiplog API", description = "Record deploys and their changelogs from CI."),
    paths(
        super::deploys::create, super::deploys::list, super::deploys::get, super::deploys::update,
        super::audiences::create_account, super::audiences::list_accounts,
        super::audiences::create_link, super::audiences::revoke_link,
        super::audiences::create_cohort, super::audiences::list_cohorts, super::audiences::set_members,
        super::releases::list, super::releases::get, super::releases::create, super::releases::draft,
        super::releases::edit, super::releases::link, super::releases::unlink, super::releases::publish,
        super::email::add, super::email::list, super::email::suppress, super::email::suppressions, super::email::lift,
        super::email::create_campaign, super::email::list_campaigns, super::email::get_campaign,
        super::email::send, super::email::pause, super::email::resume, super::email::cancel,
        super::incidents::create, super::incidents::list, super::incidents::get,
        super::incidents::update, super::incidents::alerts,
        super::incidents::root_cause, super::incidents::save_root_cause,
        super::incidents::review_root_cause, super::incidents::add_hole, super::incidents::holes, super::incidents::customer_note,
        super::actions::create, super::actions::list, super::actions::get, super::actions::update,
        super::gates::create_build, super::gates::list_builds, super::gates::get_build,
        super::gates::update_build, super::gates::promotable, super::gates::gate,
        super::metrics::dora,
        super::gates::place_block, super::gates::list_blocks, super::gates::lift_block,
        super::safety::list_environments, super::safety::create_environment, super::safety::update_environment,
        super::safety::calendar, super::safety::explain_night, super::safety::risk_settings,
        super::safety::set_rule, super::safety::mark_risky, super::safety::unmark_risky,
        super::safety::risk_map, super::safety::entry_process, super::safety::check,
        super::safety::create_webhook, super::safety::list_webhooks, super::safety::remove_webhook,
        super::safety::deliveries, super::safety::redeliver, super::safety::audit,
        super::retros::list, super::retros::create, super::retros::settings, super::retros::save_settings,
        super::retros::get, super::retros::add_item, super::retros::change_item, super::retros::vote,
        super::retros::unvote, super::retros::item_action, super::retros::review, super::retros::close,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
