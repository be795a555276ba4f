//! `GET /api/v1/openapi.json`, generated from the handlers' annotations.
//!
//! The errors the shared extractors answer (`extract.rs`) are added to every
//! operation they can reach, so no handler has to repeat them and none can
//! forget one: a token (401), a JSON body (400, 413, 422), query parameters
//! (422), path parameters (404). `scripts/schemathesis.sh` holds the API to
//! this document.

use axum::Json;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
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
    modifiers(&BearerAuth, &ExtractorErrors)
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

/// The answers of `ApiCaller`, `ApiJson`, `ApiQuery` and `ApiPath`, each in
/// the API's error shape, on every operation that uses them.
struct ExtractorErrors;

impl Modify for ExtractorErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                add_extractor_errors(op);
            }
        }
    }
}

fn add_extractor_errors(op: &mut Operation) {
    let has = |place: ParameterIn| {
        op.parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == place)
    };
    let mut errors = Vec::new();
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        errors.push(("401", "No token, or one that is invalid or revoked"));
    }
    if op.request_body.is_some() {
        errors.push((
            "400",
            "The body is not JSON, or not sent as `application/json`",
        ));
        errors.push(("413", "The body is larger than 2 MiB"));
        errors.push(("422", "A field is invalid; `field` names it"));
    }
    if has(ParameterIn::Query) {
        errors.push(("422", "A query parameter is invalid; `field` names it"));
    }
    if has(ParameterIn::Path) {
        errors.push(("404", "Not found (a malformed path parameter too)"));
    }
    for (status, description) in errors {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(description).into());
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::ApiDoc;
    use crate::model::*;
    use serde_json::Value;
    use utoipa::OpenApi;

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    /// Every string enum documents the values the API really sends and reads
    /// (`monitoring-user`, `went-well`, `build.failed`), not its variants'
    /// names in snake case.
    #[test]
    fn enums_document_their_wire_values() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        macro_rules! check {
            ($($name:ident),+) => {$(
                let documented = &schemas[stringify!($name)]["enum"];
                if !documented.is_null() {
                    let sent: Vec<Value> = $name::ALL
                        .iter()
                        .map(|v| serde_json::to_value(v).unwrap())
                        .collect();
                    assert_eq!(documented, &Value::Array(sent), "{}", stringify!($name));
                }
            )+};
        }
        check!(
            ActionKind,
            ActionStatus,
            DeployStatus,
            EntryKind,
            Risk,
            SubscriberStatus,
            DigestFrequency,
            SuppressionReason,
            CampaignStatus,
            BuildStatus,
            BlockState,
            Severity,
            DetectedBy,
            IncidentStatus,
            ReleaseStatus,
            RetroColumn,
            RetroStatus,
            ReviewOutcome,
            RootCauseCategory,
            NoteStatus,
            HoleKind,
            HoleArea,
            EnvironmentKind,
            NightReason,
            NightState,
            NotifyEvent,
            WebhookFormat,
            DeliveryState,
            Role
        );
        assert_eq!(schemas["DetectedBy"]["enum"][0], "monitoring-user");
        assert_eq!(schemas["RetroColumn"]["enum"][0], "went-well");
        assert_eq!(schemas["NotifyEvent"]["enum"][0], "build.failed");
    }

    /// No schema is an `allOf` with a closed object in it: no value could
    /// satisfy it (`PATCH /api/v1/releases/{slug}` had one, through a flatten).
    #[test]
    fn no_schema_combines_a_closed_object() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for (name, schema) in schemas {
            for part in schema["allOf"].as_array().into_iter().flatten() {
                let resolved = match part["$ref"].as_str() {
                    Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
                    None => part,
                };
                assert_ne!(resolved["additionalProperties"], false, "{name}");
            }
        }
        let edit = &schemas["ReleaseEditInput"];
        assert_eq!(edit["required"], serde_json::json!(["revision", "title"]));
    }

    /// A path parameter is one the path names; everything else an
    /// `IntoParams` struct lists is read from the query string.
    #[test]
    fn parameters_are_where_the_handlers_read_them() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for param in op["parameters"].as_array().into_iter().flatten() {
                    let name = param["name"].as_str().unwrap();
                    let in_path = path.contains(&format!("{{{name}}}"));
                    let place = if in_path { "path" } else { "query" };
                    assert_eq!(param["in"], place, "{method} {path}: {name}");
                }
            }
        }
        let list = &doc["paths"]["/api/v1/deploys"]["get"];
        assert_eq!(list["parameters"][0]["in"], "query");
        assert!(list["responses"].get("422").is_some());
    }

    /// What the extractors answer is documented, in the error shape, on every
    /// operation that can reach them.
    #[test]
    fn extractor_errors_are_documented() {
        let doc = document();
        let error_body = serde_json::json!({"$ref": "#/components/schemas/ErrorBody"});
        let responses = &doc["paths"]["/api/v1/deploys/{id}"]["patch"]["responses"];
        for status in ["400", "401", "404", "413", "422"] {
            assert_eq!(
                responses[status]["content"]["application/json"]["schema"], error_body,
                "PATCH /api/v1/deploys/{{id}} answers {status}"
            );
        }
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let codes = op["responses"].as_object().unwrap();
                let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
                assert!(
                    !secured || codes.contains_key("401"),
                    "{method} {path}: 401"
                );
                if op.get("requestBody").is_some() {
                    for status in ["400", "413", "422"] {
                        assert!(codes.contains_key(status), "{method} {path}: {status}");
                    }
                }
            }
        }
        // Reading published releases needs no token: no 401 there.
        let public = &doc["paths"]["/api/v1/releases"]["get"]["responses"];
        assert!(public.get("401").is_none());
    }
}
