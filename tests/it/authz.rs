//! The authorisation matrix: every route the router declares and every server
//! function, against every kind of caller, with the answer each one should get.
//!
//! The rows come from the code (`app::route_paths`, which the router itself is
//! built from, and the server-function registry), so a new route or server
//! function fails this test until it is given its row in `EXPECTED`. Each row
//! names who may use it: `*` anyone; otherwise the roles (`v`iewer,
//! `e`ngineer, `p`m, `a`dmin) whose API token (for `/api/v1` and `/metrics`)
//! or whose browser session (for server functions and the app's pages) it
//! serves. Everyone else must be refused (401 or 403, or sent to sign in), and
//! everyone listed must not be: an unauthorised success fails the test, and
//! so does a refused expected success. A 5xx fails it too, and so does a role
//! the row does not name that gets a 404, 409 or 422 instead of a 403: roles
//! are checked before the input is read or the object looked up, so that the
//! answer says nothing about either. A private link's routes answer 404 to
//! everyone without the link (it is the credential).
//!
//! Callers: anonymous, each role by session, each role by token, a customer's
//! private link, a deactivated admin's old session and a revoked admin token.

use crate::common::*;
use crate::on_both_databases;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use shiplog::model::Role;
use std::collections::{BTreeMap, BTreeSet};

/// Who may use each route (`METHOD /path`) and server function (`fn name`).
const EXPECTED: &[(&str, &str)] = &[
    ("GET /", "*"),
    ("GET /a/{link}", "l"),
    ("GET /a/{link}/", "l"),
    ("GET /a/{link}/changes", "l"),
    ("GET /a/{link}/changes/{id}", "l"),
    ("GET /a/{link}/feeds/{feed}", "l"),
    ("GET /a/{link}/releases/{slug}", "l"),
    ("GET /a/{link}/subscribe", "l"),
    ("POST /a/{link}/subscribe", "l"),
    ("GET /app", "vepa"),
    ("GET /app/actions", "vepa"),
    ("GET /app/audit", "a"),
    ("GET /app/blocks", "vepa"),
    ("GET /app/calendar", "vepa"),
    ("GET /app/campaigns", "pa"),
    ("GET /app/campaigns/{id}", "pa"),
    ("GET /app/customers", "pa"),
    ("GET /app/deploys/{id}", "vepa"),
    ("GET /app/environments", "vepa"),
    ("GET /app/holes", "vepa"),
    ("GET /app/incidents", "vepa"),
    ("GET /app/incidents/{id}", "vepa"),
    ("GET /app/metrics", "vepa"),
    ("GET /app/metrics/dora.csv", "vepa"),
    ("GET /app/people", "a"),
    ("GET /app/profile", "vepa"),
    ("GET /app/releases", "pa"),
    ("GET /app/releases/{slug}", "pa"),
    ("GET /app/retros", "vepa"),
    ("GET /app/retros/{id}", "vepa"),
    ("GET /app/risk", "vepa"),
    ("GET /app/subscribers", "pa"),
    ("GET /app/subscribers/export.csv", "pa"),
    ("GET /app/tokens", "a"),
    ("GET /app/unannounced", "vepa"),
    ("GET /app/webhooks", "a"),
    ("GET /changes", "*"),
    ("GET /changes/{id}", "*"),
    ("GET /feeds/{feed}", "*"),
    ("GET /healthz", "*"),
    ("GET /invite/{token}", "*"),
    ("GET /login", "*"),
    ("GET /readyz", "*"),
    ("GET /releases/{slug}", "*"),
    ("GET /setup", "*"),
    ("GET /subscribe", "*"),
    ("POST /subscribe", "*"),
    ("GET /subscribe/confirm", "*"),
    ("GET /subscription/{token}", "*"),
    ("GET /unsubscribe/{token}", "*"),
    ("GET /api/v1/accounts", "pa"),
    ("POST /api/v1/accounts", "pa"),
    ("POST /api/v1/accounts/{slug}/links", "pa"),
    ("DELETE /api/v1/accounts/{slug}/links", "pa"),
    ("GET /api/v1/actions", "vepa"),
    ("POST /api/v1/actions", "epa"),
    ("GET /api/v1/actions/{id}", "vepa"),
    ("PATCH /api/v1/actions/{id}", "epa"),
    ("POST /api/v1/alerts", "epa"),
    ("GET /api/v1/audit", "a"),
    ("GET /api/v1/blocks", "vepa"),
    ("POST /api/v1/blocks", "vepa"),
    ("DELETE /api/v1/blocks/{id}", "vepa"),
    ("GET /api/v1/builds", "vepa"),
    ("POST /api/v1/builds", "ea"),
    ("GET /api/v1/builds/promotable", "vepa"),
    ("GET /api/v1/builds/{id}", "vepa"),
    ("PATCH /api/v1/builds/{id}", "ea"),
    ("GET /api/v1/calendar", "vepa"),
    ("PUT /api/v1/calendar/{environment}/{night}", "vepa"),
    ("GET /api/v1/campaigns", "pa"),
    ("POST /api/v1/campaigns", "pa"),
    ("GET /api/v1/campaigns/{id}", "pa"),
    ("POST /api/v1/campaigns/{id}/cancel", "pa"),
    ("POST /api/v1/campaigns/{id}/pause", "pa"),
    ("POST /api/v1/campaigns/{id}/resume", "pa"),
    ("POST /api/v1/campaigns/{id}/send", "pa"),
    ("GET /api/v1/cohorts", "vepa"),
    ("POST /api/v1/cohorts", "pa"),
    ("PUT /api/v1/cohorts/{slug}/members", "pa"),
    ("GET /api/v1/deploys", "vepa"),
    ("POST /api/v1/deploys", "ea"),
    ("GET /api/v1/deploys/{id}", "vepa"),
    ("PATCH /api/v1/deploys/{id}", "ea"),
    ("PUT /api/v1/entries/{id}/checklist", "ea"),
    ("GET /api/v1/entries/{id}/process", "vepa"),
    ("GET /api/v1/environments", "vepa"),
    ("POST /api/v1/environments", "a"),
    ("PUT /api/v1/environments/{slug}", "a"),
    ("GET /api/v1/gate", "vepa"),
    ("GET /api/v1/holes", "vepa"),
    ("GET /api/v1/incidents", "vepa"),
    ("POST /api/v1/incidents", "epa"),
    ("GET /api/v1/incidents/{id}", "vepa"),
    ("PATCH /api/v1/incidents/{id}", "epa"),
    ("POST /api/v1/incidents/{id}/customer-note", "pa"),
    ("POST /api/v1/incidents/{id}/holes", "epa"),
    ("GET /api/v1/incidents/{id}/root-cause", "vepa"),
    ("PUT /api/v1/incidents/{id}/root-cause", "epa"),
    ("POST /api/v1/incidents/{id}/root-cause/review", "epa"),
    ("GET /api/v1/metrics/dora", "vepa"),
    ("GET /api/v1/openapi.json", "*"),
    ("GET /api/v1/releases", "*"),
    ("POST /api/v1/releases", "pa"),
    ("GET /api/v1/releases/{slug}", "*"),
    ("PATCH /api/v1/releases/{slug}", "pa"),
    ("GET /api/v1/releases/{slug}/draft", "pa"),
    ("POST /api/v1/releases/{slug}/entries", "pa"),
    ("DELETE /api/v1/releases/{slug}/entries/{id}", "pa"),
    ("POST /api/v1/releases/{slug}/publish", "pa"),
    ("GET /api/v1/retros", "vepa"),
    ("POST /api/v1/retros", "epa"),
    ("GET /api/v1/retros/settings", "vepa"),
    ("PUT /api/v1/retros/settings", "epa"),
    ("GET /api/v1/retros/{id}", "vepa"),
    ("POST /api/v1/retros/{id}/close", "a"),
    ("POST /api/v1/retros/{id}/items", "vepa"),
    ("PATCH /api/v1/retros/{id}/items/{item}", "vepa"),
    ("POST /api/v1/retros/{id}/items/{item}/action", "a"),
    ("POST /api/v1/retros/{id}/items/{item}/vote", "vepa"),
    ("DELETE /api/v1/retros/{id}/items/{item}/vote", "vepa"),
    ("POST /api/v1/retros/{id}/reviews", "epa"),
    ("GET /api/v1/risk", "vepa"),
    ("PUT /api/v1/risk/components/{component}", "a"),
    ("DELETE /api/v1/risk/components/{component}", "a"),
    ("GET /api/v1/risk/map", "vepa"),
    ("PUT /api/v1/risk/rules/{risk}", "a"),
    ("GET /api/v1/subscribers", "pa"),
    ("POST /api/v1/subscribers", "pa"),
    ("GET /api/v1/suppressions", "pa"),
    ("POST /api/v1/suppressions", "a"),
    ("DELETE /api/v1/suppressions/{email}", "a"),
    ("GET /api/v1/webhooks", "a"),
    ("POST /api/v1/webhooks", "a"),
    ("POST /api/v1/webhooks/deliveries/{id}/redeliver", "a"),
    ("DELETE /api/v1/webhooks/{id}", "a"),
    ("GET /api/v1/webhooks/{id}/deliveries", "a"),
    ("GET /metrics", "a"),
    ("fn accept_invitation", "*"),
    ("fn action_status", "epa"),
    ("fn actions", "vepa"),
    ("fn add_hole", "epa"),
    ("fn add_retro_item", "vepa"),
    ("fn add_webhook", "a"),
    ("fn approve_change", "ea"),
    ("fn audiences", "pa"),
    ("fn audit", "a"),
    ("fn blocks", "vepa"),
    ("fn calendar", "vepa"),
    ("fn campaign", "pa"),
    ("fn campaign_action", "pa"),
    ("fn campaigns", "pa"),
    ("fn cancel_invitation", "a"),
    ("fn candidates", "pa"),
    ("fn close_retro", "pa"),
    ("fn create_account", "pa"),
    ("fn create_account_link", "pa"),
    ("fn create_action", "epa"),
    ("fn create_admin", "*"),
    ("fn create_cohort", "pa"),
    ("fn create_release", "pa"),
    ("fn create_retro", "epa"),
    ("fn create_token", "a"),
    ("fn current_user", "*"),
    ("fn customer_note", "pa"),
    ("fn delete_entry", "ea"),
    ("fn deploy", "vepa"),
    ("fn end_other_sessions", "vepa"),
    ("fn end_session", "vepa"),
    ("fn environments", "vepa"),
    ("fn explain_night", "vepa"),
    ("fn file_incident", "epa"),
    ("fn group_retro_item", "vepa"),
    ("fn holes", "vepa"),
    ("fn import_subscribers", "pa"),
    ("fn incident", "vepa"),
    ("fn incident_cause", "epa"),
    ("fn incident_fix", "epa"),
    ("fn incident_status", "epa"),
    ("fn incidents", "vepa"),
    ("fn incidents_of_entries", "vepa"),
    ("fn invitation", "*"),
    ("fn invite", "a"),
    ("fn lift_block", "vepa"),
    ("fn lift_suppression", "a"),
    ("fn link_entries", "pa"),
    ("fn login", "*"),
    ("fn mark_risky", "a"),
    ("fn metrics", "vepa"),
    ("fn my_notifications", "vepa"),
    ("fn my_sessions", "vepa"),
    ("fn open_incidents", "vepa"),
    ("fn people", "a"),
    ("fn place_block", "vepa"),
    ("fn preview_campaign", "pa"),
    ("fn preview_markdown", "vepa"),
    ("fn publication", "pa"),
    ("fn publish_release", "pa"),
    ("fn redeliver", "a"),
    ("fn release", "pa"),
    ("fn releases", "pa"),
    ("fn remove_subscriber", "pa"),
    ("fn remove_webhook", "a"),
    ("fn retro", "vepa"),
    ("fn retro_board", "vepa"),
    ("fn retro_item_action", "pa"),
    ("fn retro_revision", "vepa"),
    ("fn retro_settings", "epa"),
    ("fn retro_vote", "vepa"),
    ("fn retros", "vepa"),
    ("fn review_retro_action", "epa"),
    ("fn review_root_cause", "epa"),
    ("fn revoke_account_link", "pa"),
    ("fn revoke_token", "a"),
    ("fn risk", "vepa"),
    ("fn save_entry", "ea"),
    ("fn save_environment", "a"),
    ("fn set_create_environments", "a"),
    ("fn save_notifications", "vepa"),
    ("fn save_release", "pa"),
    ("fn save_risk_rule", "a"),
    ("fn save_root_cause", "epa"),
    ("fn set_cohort_members", "pa"),
    ("fn set_deploy_status", "ea"),
    ("fn set_subscriber_account", "pa"),
    ("fn subscribers", "pa"),
    ("fn test_campaign", "pa"),
    ("fn tick_check", "ea"),
    ("fn timeline", "vepa"),
    ("fn tokens", "a"),
    ("fn unannounced", "vepa"),
    ("fn unlink_entry", "pa"),
    ("fn update_person", "a"),
    ("fn webhook_deliveries", "a"),
    ("fn webhooks", "a"),
    ("fn logout", "*"),
];

/// Arguments for server functions that must not be found by trying: they
/// would sign the matrix's callers out or take away their rights.
fn given_args(name: &str, world: &World) -> Option<Vec<(String, String)>> {
    let args: Vec<(&str, String)> = match name {
        "login" => vec![
            ("email", "spare@example.com".into()),
            ("password", PASSWORD.into()),
        ],
        "update_person" => vec![
            ("id", world.spare_user.to_string()),
            ("role", "viewer".into()),
            ("active", "false".into()),
        ],
        "revoke_token" => vec![("id", world.spare_token.to_string())],
        _ => return None,
    };
    Some(args.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// At least this many rows are served to someone they name, so that their
/// refusals are refusals and not bad input. The rest are printed: the matrix
/// cannot yet make input they accept (a campaign to pause, an invitation to
/// accept), and for them it proves only that nobody unnamed is served.
const PROVEN_AT_LEAST: usize = 135;

/// Query strings for routes that need one.
const QUERIES: &[(&str, &str)] = &[
    ("GET /api/v1/gate", "environment=production"),
    ("GET /api/v1/calendar", "environment=production"),
    ("GET /api/v1/builds/promotable", "environment=production"),
];

const ROLES: [Role; 4] = [Role::Viewer, Role::Engineer, Role::Pm, Role::Admin];

fn letter(role: Role) -> char {
    match role {
        Role::Viewer => 'v',
        Role::Engineer => 'e',
        Role::Pm => 'p',
        Role::Admin => 'a',
    }
}

#[derive(Clone, Debug)]
enum Caller {
    Anonymous,
    Session(Role, String),
    Token(Role, String),
    /// A customer holding an account's private link (and no session).
    PrivateLink,
    /// The session cookie of an admin who has since been deactivated.
    Deactivated(String),
    /// An admin token that has since been revoked.
    RevokedToken(String),
}

impl Caller {
    fn name(&self) -> String {
        match self {
            Caller::Anonymous => "anonymous".into(),
            Caller::Session(r, _) => format!("{} session", r.as_str()),
            Caller::Token(r, _) => format!("{} token", r.as_str()),
            Caller::PrivateLink => "private link".into(),
            Caller::Deactivated(_) => "deactivated admin's session".into(),
            Caller::RevokedToken(_) => "revoked admin token".into(),
        }
    }

    /// A signed-in person on a page or a server function, or a token on
    /// the API: someone the row's roles speak of.
    fn is_role_for(&self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Caller::Token(..), Kind::Api) | (Caller::Session(..), Kind::Fn | Kind::Page)
        )
    }

    /// Whether a row's `who` grants this caller, for a route of this kind.
    fn allowed(&self, who: &str, kind: Kind) -> bool {
        if who == "*" {
            return true;
        }
        match (self, kind) {
            (Caller::Token(r, _), Kind::Api) => who.contains(letter(*r)),
            (Caller::Session(r, _), Kind::Fn | Kind::Page) => who.contains(letter(*r)),
            (Caller::PrivateLink, _) => who.contains('l'),
            _ => false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Bearer tokens only: `/api/v1/…` and `/metrics`.
    Api,
    /// A server function: browser sessions only.
    Fn,
    /// A page or download: browser sessions, or public.
    Page,
}

fn kind_of(key: &str) -> Kind {
    if key.starts_with("fn ") {
        Kind::Fn
    } else if key.contains(" /api/v1/") || key.ends_with(" /metrics") {
        Kind::Api
    } else {
        Kind::Page
    }
}

/// Values for the placeholders of a path, from the demo data.
struct World {
    link: String,
    /// A link of another account, revoked: what everyone but the link's
    /// holder finds in `{link}`.
    revoked_link: String,
    /// A person and a token the matrix may deactivate and revoke.
    spare_user: i64,
    spare_token: i64,
    release: String,
    night: String,
}

fn concrete(path: &str, world: &World, caller: &Caller) -> String {
    path.split('/')
        .map(|seg| {
            let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                return seg.to_string();
            };
            let value = match (name, path) {
                ("link", _) if matches!(caller, Caller::PrivateLink) => world.link.as_str(),
                ("link", _) => world.revoked_link.as_str(),
                ("slug", p) if p.contains("/releases/") => world.release.as_str(),
                ("slug", p) if p.contains("/accounts/") => "acme",
                ("slug", p) if p.contains("/cohorts/") => "beta",
                ("slug", p) if p.contains("/environments/") => "production",
                ("env" | "environment", _) => "production",
                ("night", _) => world.night.as_str(),
                ("risk", _) => "high",
                ("component", _) => "billing",
                ("email", _) => "gone@example.com",
                ("feed", _) => "changes.atom",
                ("token", _) => "not-a-real-token",
                ("id" | "item", _) => "1",
                _ => panic!("no value for `{{{name}}}` in {path}: add one in tests/it/authz.rs"),
            };
            value.to_string()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every route the router declares, with its methods (found by asking: a
/// method the route lacks answers 405 before anything else runs).
async fn declared_routes(app: &TestApp, world: &World) -> Vec<(Method, String)> {
    let mut rows = Vec::new();
    for path in shiplog::server::app::route_paths() {
        let url = concrete(&path, world, &Caller::PrivateLink);
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            app.clear_cookies();
            let res = app
                .send(
                    Request::builder()
                        .method(method.clone())
                        .uri(&url)
                        .header(header::ORIGIN, ORIGIN)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            if res.status != StatusCode::METHOD_NOT_ALLOWED {
                // Pages only answer GET; the fallback serves files for the rest.
                let is_page_fallback = method != Method::GET
                    && !path.starts_with("/api/")
                    && res.status == StatusCode::NOT_FOUND;
                if !is_page_fallback {
                    rows.push((method, path.clone()));
                }
            }
        }
    }
    rows
}

/// A value that names something the demo data has, for a field so named.
fn guess(name: &str) -> Option<String> {
    let today = chrono::Utc::now().date_naive();
    Some(match name {
        "email" | "owner_email" => "eng@example.com".into(),
        "environment" => "production".into(),
        "component" => "billing".into(),
        "account" | "accounts" => "acme".into(),
        "slug" => "matrix".into(),
        "version" => "9.9.9".into(),
        "url" => "https://hooks.example.com/matrix".into(),
        "title" | "name" | "body" | "note" | "reason" | "summary" | "description"
        | "action_title" => "Matrix".into(),
        "due" | "period_end" | "to" => (today + chrono::Days::new(7)).to_string(),
        "period_start" | "from" => (today - chrono::Days::new(7)).to_string(),
        "detected_at" => format!("{today}T09:00"),
        "entry_id" | "entry_ids" => "1".into(),
        _ => return None,
    })
}

/// How one argument is written in the form.
#[derive(Clone, Debug, PartialEq)]
enum Shape {
    Flat(String),
    /// `name[0]=1`
    Seq,
    /// `name[field]=value` for each field found so far.
    Nested(Vec<(String, String)>),
}

/// A form body as browsers' server-function calls send it, brackets kept
/// (serde_qs reads `a[b]` only when the brackets are not escaped).
fn form_body(form: &[(String, String)]) -> String {
    let esc = |s: &str| -> String {
        s.split_inclusive(['[', ']'])
            .map(|part| {
                let (text, bracket) = match part.chars().last() {
                    Some(c @ ('[' | ']')) => (&part[..part.len() - 1], c.to_string()),
                    _ => (part, String::new()),
                };
                url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>() + &bracket
            })
            .collect()
    };
    form.iter()
        .map(|(k, v)| format!("{}={}", esc(k), esc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn call_fn(app: &TestApp, name: &str, form: &[(String, String)]) -> TestResponse {
    app.send(
        Request::post(format!("/fn/{name}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::ORIGIN, ORIGIN)
            .body(Body::from(form_body(form)))
            .unwrap(),
    )
    .await
}

fn encode(fields: &[(String, Shape)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, shape) in fields {
        match shape {
            Shape::Flat(v) => out.push((name.clone(), v.clone())),
            Shape::Seq => out.push((format!("{name}[0]"), "1".into())),
            Shape::Nested(subs) if subs.is_empty() => {
                out.push((format!("{name}[matrix]"), "1".into()))
            }
            Shape::Nested(subs) => out.extend(
                subs.iter()
                    .map(|(f, v)| (format!("{name}[{f}]"), v.clone())),
            ),
        }
    }
    out
}

/// One value that can still be changed: a top-level field, or a field of a
/// nested form.
#[derive(Clone, Copy)]
struct Slot(usize, Option<usize>);

fn slots(fields: &[(String, Shape)]) -> Vec<Slot> {
    let mut out = Vec::new();
    // Values not yet changed: the first guess.
    let first = |name: &str, v: &str| v == "1" || guess(name).as_deref() == Some(v);
    for (i, (name, shape)) in fields.iter().enumerate().rev() {
        match shape {
            Shape::Flat(v) if first(name, v) => out.push(Slot(i, None)),
            Shape::Nested(subs) => {
                for (j, (sub, v)) in subs.iter().enumerate().rev() {
                    if first(sub, v) {
                        out.push(Slot(i, Some(j)));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// `fields` with the value in `slot` replaced by `shape` (a nested field
/// takes flat values only).
fn with(fields: &[(String, Shape)], slot: Slot, shape: &Shape) -> Option<Vec<(String, Shape)>> {
    let mut out = fields.to_vec();
    match (slot, shape) {
        (Slot(i, None), s) => out[i].1 = s.clone(),
        (Slot(i, Some(j)), Shape::Flat(v)) => match &mut out[i].1 {
            Shape::Nested(subs) => subs[j].1 = v.clone(),
            _ => return None,
        },
        _ => return None,
    }
    Some(out)
}

/// The arguments a server function needs to be called at all, found from its
/// answers as nobody: each "missing field" is added, and a field of the wrong
/// shape is tried as `true`, the variant asked for, a list or a nested form.
async fn arguments(app: &TestApp, name: &str) -> Vec<(String, String)> {
    async fn answer(app: &TestApp, name: &str, fields: &[(String, Shape)]) -> Option<String> {
        app.clear_cookies();
        let res = call_fn(app, name, &encode(fields)).await;
        (res.status == StatusCode::BAD_REQUEST).then(|| res.text())
    }
    // A change is kept when it gets further: past this error to a missing
    // field, or to an answer that is no 400 at all.
    fn score(answer: &Option<String>) -> u8 {
        match answer {
            None => 0,
            Some(t) if t.contains("missing field `") || t.contains(STRICT_FORM) => 1,
            Some(_) => 2,
        }
    }
    // A nested form that refuses unknown fields answers the empty form's
    // placeholder with the fields it has: the first one starts it.
    const STRICT_FORM: &str = "unknown field `matrix`";
    let mut fields: Vec<(String, Shape)> = Vec::new();
    for _ in 0..40 {
        let Some(text) = answer(app, name, &fields).await else {
            return encode(&fields);
        };
        if let Some(missing) = text
            .split("missing field `")
            .nth(1)
            .and_then(|r| r.split('`').next())
        {
            if !fields_named(&fields, missing) {
                fields.push((
                    missing.to_string(),
                    Shape::Flat(guess(missing).unwrap_or_else(|| "1".into())),
                ));
            } else {
                // Given at the top: so it is a field of a nested form.
                let nested = fields.iter_mut().rev().find_map(|(_, s)| match s {
                    Shape::Nested(subs) if !subs.iter().any(|(f, _)| f == missing) => Some(subs),
                    _ => None,
                });
                match nested {
                    Some(subs) => subs.push((
                        missing.to_string(),
                        guess(missing).unwrap_or_else(|| "1".into()),
                    )),
                    None => panic!(
                        "{name}: `{missing}` is missing but given: {text} {}",
                        form_body(&encode(&fields))
                    ),
                }
            }
            continue;
        }
        if text.contains(STRICT_FORM) {
            let first = text
                .split("expected one of `")
                .nth(1)
                .and_then(|r| r.split('`').next())
                .map(String::from);
            let empty = fields.iter_mut().find_map(|(_, s)| match s {
                Shape::Nested(subs) if subs.is_empty() => Some(subs),
                _ => None,
            });
            if let (Some(first), Some(subs)) = (first, empty) {
                let value = guess(&first).unwrap_or_else(|| "1".into());
                subs.push((first, value));
                continue;
            }
        }
        let variant = text
            .split("expected one of `")
            .nth(1)
            .and_then(|r| r.split('`').next())
            .map(String::from);
        let mut candidates = vec![
            Shape::Flat("true".into()),
            Shape::Nested(vec![]),
            Shape::Seq,
        ];
        if let Some(v) = variant {
            candidates.insert(0, Shape::Flat(v));
        }
        let open = slots(&fields);
        let mut changed = false;
        'single: for &slot in &open {
            for c in &candidates {
                let Some(tried) = with(&fields, slot, c) else {
                    continue;
                };
                if score(&answer(app, name, &tried).await) < 2 {
                    fields = tried;
                    changed = true;
                    break 'single;
                }
            }
        }
        if !changed {
            'pairs: for (n, &a_slot) in open.iter().enumerate() {
                for &b_slot in &open[n + 1..] {
                    for a in &candidates {
                        for b in &candidates {
                            let Some(tried) =
                                with(&fields, a_slot, a).and_then(|f| with(&f, b_slot, b))
                            else {
                                continue;
                            };
                            if score(&answer(app, name, &tried).await) < 2 {
                                fields = tried;
                                changed = true;
                                break 'pairs;
                            }
                        }
                    }
                }
            }
        }
        assert!(
            changed,
            "{name}: could not find its arguments ({fields:?}): {text}"
        );
    }
    panic!("{name}: could not find its arguments: {fields:?}")
}

fn fields_named(fields: &[(String, Shape)], name: &str) -> bool {
    fields.iter().any(|(n, _)| n == name)
}

#[derive(Debug, PartialEq)]
enum Outcome {
    /// 401, 403, or an app page sending the caller to sign in.
    Refused,
    /// 2xx or 3xx.
    Served,
    /// Any other 4xx: the caller got past the door but the request went
    /// nowhere (not found, invalid, conflict).
    Failed,
    /// 5xx.
    Broken,
}

fn judge(kind: Kind, url: &str, res: &TestResponse) -> Outcome {
    let s = res.status;
    if s.is_server_error() {
        return Outcome::Broken;
    }
    // An app page sends the signed-out to sign in (set-up and sign-in pages
    // send the signed-in onwards, which is no refusal).
    let to_sign_in = url.starts_with("/app")
        && s.is_redirection()
        && res.location().is_some_and(|l| l.starts_with("/login"));
    if s == StatusCode::UNAUTHORIZED
        || s == StatusCode::FORBIDDEN
        || (kind == Kind::Page && to_sign_in)
    {
        Outcome::Refused
    } else if s.is_success() || s.is_redirection() {
        Outcome::Served
    } else {
        Outcome::Failed
    }
}

/// A body of the shape an operation's schema asks for (its required fields,
/// each given a plain value), so that a caller's answer turns on who they
/// are rather than on a missing field.
fn example(schema: &Value, doc: &Value, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return example(&doc["components"]["schemas"][name], doc, depth + 1);
    }
    for combo in ["oneOf", "anyOf"] {
        if let Some(first) = schema[combo]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["type"] != "null"))
        {
            return example(first, doc, depth + 1);
        }
    }
    if let Some(all) = schema["allOf"].as_array() {
        let mut merged = serde_json::Map::new();
        for part in all {
            if let Value::Object(o) = example(part, doc, depth + 1) {
                merged.extend(o);
            }
        }
        return Value::Object(merged);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|a| a.first()) {
        return first.clone();
    }
    let ty = match &schema["type"] {
        Value::Array(types) => types
            .iter()
            .find(|t| *t != "null")
            .cloned()
            .unwrap_or(Value::Null),
        t => t.clone(),
    };
    match ty.as_str() {
        Some("object") | None if schema["properties"].is_object() => {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            let mut out = serde_json::Map::new();
            for name in required {
                out.insert(
                    name.to_string(),
                    example(&schema["properties"][name], doc, depth + 1),
                );
            }
            Value::Object(out)
        }
        Some("string") => match schema["format"].as_str() {
            Some("date-time") => json!(chrono::Utc::now().to_rfc3339()),
            Some("date") => json!(chrono::Utc::now().date_naive().to_string()),
            Some("email") => json!("matrix@example.com"),
            Some("uri") => json!("https://example.com/matrix"),
            _ => json!("matrix"),
        },
        Some("integer") | Some("number") => json!(1),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        Some("object") => json!({}),
        _ => Value::Null,
    }
}

/// [`example`], then each field named like something the demo has given a
/// value that names it.
fn example_named(schema: &Value, doc: &Value) -> Value {
    let mut body = example(schema, doc, 0);
    if let Value::Object(fields) = &mut body {
        for (name, value) in fields.iter_mut() {
            let Some(v) = guess(name) else { continue };
            let number = v.parse::<i64>().ok();
            // Only the plain placeholders: an enum's or a date's example stays.
            *value = match (&*value, number) {
                (Value::Array(_), Some(n)) => json!([n]),
                (Value::Array(_), None) => json!([v]),
                (Value::Number(_), Some(n)) => json!(n),
                (Value::String(s), _) if s == "matrix" => json!(v),
                _ => continue,
            };
        }
    }
    body
}

fn bodies(doc: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            if !schema.is_null() {
                out.insert(
                    format!("{} {path}", method.to_uppercase()),
                    example_named(schema, doc),
                );
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
async fn request(
    app: &TestApp,
    caller: &Caller,
    method: &Method,
    url: &str,
    kind: Kind,
    form: &[(String, String)],
    body: Option<&Value>,
) -> TestResponse {
    app.clear_cookies();
    let mut req = Request::builder().method(method.clone()).uri(url);
    match caller {
        Caller::Session(_, cookie) | Caller::Deactivated(cookie) => {
            app.set_cookie("shiplog_session", cookie)
        }
        Caller::Token(_, secret) | Caller::RevokedToken(secret) => {
            req = req.header(header::AUTHORIZATION, format!("Bearer {secret}"));
        }
        Caller::Anonymous | Caller::PrivateLink => {}
    }
    let body = match kind {
        Kind::Fn => {
            req = req
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ACCEPT, "application/json")
                .header(header::ORIGIN, ORIGIN);
            Body::from(form_body(form))
        }
        Kind::Api if *method != Method::GET => {
            req = req
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ORIGIN, ORIGIN);
            Body::from(body.cloned().unwrap_or_else(|| json!({})).to_string())
        }
        _ => {
            req = req
                .header(header::ACCEPT, "text/html")
                .header(header::ORIGIN, ORIGIN);
            Body::empty()
        }
    };
    app.send(req.body(body).unwrap()).await
}

async fn token(app: &TestApp, role: Role, name: &str) -> String {
    let system = shiplog::server::service::Actor::system();
    shiplog::server::service::tokens::create(app.db(), &system, name, role.as_str())
        .await
        .unwrap()
        .secret
}

/// `METHOD /path` or `fn name`, the method, the path (placeholders left in)
/// and a server function's form.
type Row = (String, Method, String, Vec<(String, String)>);

/// The email each role's demo person signs in with.
fn demo_email(role: Role) -> &'static str {
    match role {
        Role::Viewer => "viewer@example.com",
        Role::Engineer => "eng@example.com",
        Role::Pm => "pm@example.com",
        Role::Admin => "admin@example.com",
    }
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> String {
    app.clear_cookies();
    let res = app.login(email, password).await;
    assert!(res.status.is_success(), "{email}: {}", res.text());
    app.cookie("shiplog_session").unwrap()
}

/// Signs each role's session in again if a row signed it out or into
/// someone else (signing in, signing out, ending sessions).
async fn heal_sessions(app: &TestApp, callers: &mut [Caller]) {
    for caller in callers.iter_mut() {
        let Caller::Session(role, cookie) = caller else {
            continue;
        };
        app.clear_cookies();
        app.set_cookie("shiplog_session", cookie);
        let me = call_fn(app, "current_user", &[]).await.json();
        if me["email"] != demo_email(*role) {
            *cookie = sign_in(app, demo_email(*role), shiplog::server::demo::DEMO_PASSWORD).await;
        }
    }
}

/// What the matrix runs on: the demo data, every kind of caller, values for
/// every placeholder, every row, and a body for each API row that takes one.
struct Matrix {
    world: World,
    callers: Vec<Caller>,
    rows: Vec<Row>,
    bodies: BTreeMap<String, Value>,
}

async fn matrix(app: &TestApp) -> Matrix {
    use shiplog::server::service::{tokens, users, Actor};
    shiplog::server::demo::fill(app.db(), Default::default())
        .await
        .unwrap();
    let admin_token = token(app, Role::Admin, "matrix-admin").await;
    let system = Actor::system();

    // Callers.
    let mut callers = vec![Caller::Anonymous];
    let gone = users::add_user(
        app.db(),
        "gone@example.com",
        "Gone Admin",
        Role::Admin,
        PASSWORD,
    )
    .await
    .unwrap();
    let gone_cookie = sign_in(app, "gone@example.com", PASSWORD).await;
    app.db()
        .update_user(gone.id, Role::Admin, false)
        .await
        .unwrap();
    callers.push(Caller::Deactivated(gone_cookie));
    let revoked = tokens::create(app.db(), &system, "matrix-revoked", "admin")
        .await
        .unwrap();
    tokens::revoke(app.db(), &system, revoked.token.id)
        .await
        .unwrap();
    callers.push(Caller::RevokedToken(revoked.secret));
    callers.push(Caller::PrivateLink);
    for role in ROLES {
        let cookie = sign_in(app, demo_email(role), shiplog::server::demo::DEMO_PASSWORD).await;
        callers.push(Caller::Session(role, cookie));
    }
    for role in ROLES {
        callers.push(Caller::Token(
            role,
            token(app, role, &format!("matrix-{}", role.as_str())).await,
        ));
    }

    // Values for placeholders.
    let make_link = |account: &'static str| {
        let admin_token = &admin_token;
        async move {
            let res = app
                .api(
                    Method::POST,
                    &format!("/api/v1/accounts/{account}/links"),
                    Some(admin_token),
                    Some(json!({"admin": true})),
                )
                .await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
            let url = res.json()["url"].as_str().unwrap().to_string();
            url.split("/a/")
                .nth(1)
                .unwrap()
                .trim_end_matches('/')
                .to_string()
        }
    };
    let link = make_link("acme").await;
    let revoked_link = make_link("globex").await;
    let res = app
        .api(
            Method::DELETE,
            "/api/v1/accounts/globex/links",
            Some(&admin_token),
            Some(json!({"admin": true})),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.text());
    let releases = app
        .api(Method::GET, "/api/v1/releases", Some(&admin_token), None)
        .await
        .json();
    let release = releases["releases"][0]["slug"]
        .as_str()
        .unwrap_or_else(|| panic!("no release in {releases}"))
        .to_string();
    let spare_user = users::add_user(
        app.db(),
        "spare@example.com",
        "Spare",
        Role::Viewer,
        PASSWORD,
    )
    .await
    .unwrap()
    .id;
    let spare_token = tokens::create(app.db(), &system, "matrix-spare", "viewer")
        .await
        .unwrap()
        .token
        .id;
    let world = World {
        link,
        revoked_link,
        spare_user,
        spare_token,
        release,
        night: chrono::Utc::now().date_naive().to_string(),
    };

    // Rows: pages first (the API's and functions' writes change the data
    // pages read), then the API, then server functions, signing-out last.
    let doc = app
        .api(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .json();
    let mut bodies = bodies(&doc);
    // Where the document's example cannot say what a field takes.
    bodies.insert(
        "POST /api/v1/suppressions".into(),
        json!({"email": "eng@example.com", "reason": "manual"}),
    );
    let mut rows: Vec<Row> = Vec::new();
    for (method, path) in declared_routes(app, &world).await {
        rows.push((format!("{method} {path}"), method, path, vec![]));
    }
    rows.sort_by_key(|(key, ..)| kind_of(key) == Kind::Api);
    let mut functions: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.trim_start_matches("/fn/").to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    functions.sort_by_key(|f| f == "logout");
    for name in functions {
        let args = match given_args(&name, &world) {
            Some(args) => args,
            None => arguments(app, &name).await,
        };
        rows.push((
            format!("fn {name}"),
            Method::POST,
            format!("/fn/{name}"),
            args,
        ));
    }

    Matrix {
        world,
        callers,
        rows,
        bodies,
    }
}

on_both_databases! {
    async fn every_route_and_server_function_answers_only_whom_it_should(app) {
        let Matrix { world, mut callers, rows, bodies } = matrix(&app).await;
        let expected: BTreeMap<&str, &str> = EXPECTED.iter().copied().collect();
        let print = std::env::var("SHIPLOG_AUTHZ_PRINT").is_ok();
        let unlisted: Vec<&String> = rows.iter().map(|(k, ..)| k).filter(|k| !expected.contains_key(k.as_str())).collect();
        assert!(print || unlisted.is_empty(), "routes and server functions with no row in EXPECTED (tests/it/authz.rs): {unlisted:#?}");
        let keys: BTreeSet<&str> = rows.iter().map(|(k, ..)| k.as_str()).collect();
        let stale: Vec<&&str> = expected.keys().filter(|k| !keys.contains(**k)).collect();
        assert!(print || stale.is_empty(), "rows in EXPECTED that no route or server function has: {stale:?}");

        let mut problems = Vec::new();
        let mut unproven = Vec::new();
        let mut proven = 0;
        for (key, method, path, form) in &rows {
            let kind = kind_of(key);
            let who = expected.get(key.as_str()).copied().unwrap_or("");
            let mut served_by = String::new();
            let mut statuses = Vec::new();
            let mut someone_served = false;
            let mut last_said = String::new();
            for caller in &callers {
                let mut url = concrete(path, &world, caller);
                if let Some((_, query)) = QUERIES.iter().find(|(k, _)| k == key) {
                    url = format!("{url}?{query}");
                }
                let res = request(&app, caller, method, &url, kind, form, bodies.get(key.as_str())).await;
                let outcome = judge(kind, &url, &res);
                let allowed = caller.allowed(who, kind);
                let said = || res.text().chars().take(200).collect::<String>();
                match (&outcome, allowed) {
                    (Outcome::Broken, _) => problems.push(format!("{key} as {}: {} {}", caller.name(), res.status, said())),
                    (Outcome::Served, false) => problems.push(format!("{key} as {}: UNAUTHORISED SUCCESS {} {}", caller.name(), res.status, said())),
                    (Outcome::Refused, true) => problems.push(format!("{key} as {}: expected success refused {} {}", caller.name(), res.status, said())),
                    // A role the row does not name is refused before its
                    // input is read or its objects looked up.
                    (Outcome::Failed, false) if caller.is_role_for(kind) && who.contains(['v', 'e', 'p', 'a']) => {
                        problems.push(format!("{key} as {}: REFUSED ONLY AFTER READING THE INPUT {} {}", caller.name(), res.status, said()))
                    }
                    _ => {}
                }
                if outcome == Outcome::Served {
                    someone_served = true;
                    served_by.push(match caller {
                        Caller::Session(r, _) if kind != Kind::Api => letter(*r),
                        Caller::Token(r, _) if kind == Kind::Api => letter(*r),
                        Caller::PrivateLink => 'l',
                        Caller::Anonymous => '*',
                        _ => '?',
                    });
                }
                // With an empty body too: the role is checked before the
                // body is read, so the answer is about who, not what.
                if kind == Kind::Api && *method != Method::GET && !allowed && caller.is_role_for(kind) && who.contains(['v', 'e', 'p', 'a']) {
                    let empty = request(&app, caller, method, &url, kind, form, Some(&json!({}))).await;
                    if judge(kind, &url, &empty) != Outcome::Refused {
                        problems.push(format!("{key} as {} with an empty body: {} {}", caller.name(), empty.status, empty.text().chars().take(200).collect::<String>()));
                    }
                }
                statuses.push(res.status.as_u16().to_string());
                last_said = said();
            }
            if someone_served {
                proven += 1;
            } else {
                unproven.push(format!("{key} ({})", statuses.join(" ")));
            }
            if print {
                let who = if served_by.starts_with('*') { "*".to_string() } else { served_by };
                println!("ROW (\"{key}\", \"{who}\"), // {}", statuses.join(" "));
                if !someone_served {
                    println!("LAST {key} {form:?} {:?}: {last_said}", bodies.get(key.as_str()));
                }
            }
            if kind == Kind::Fn {
                heal_sessions(&app, &mut callers).await;
            }
        }
        println!(
            "authorisation matrix: {} rows x {} callers; {proven} rows served to someone they name; {} not reached with the matrix's input:\n  {}",
            rows.len(),
            callers.len(),
            unproven.len(),
            unproven.join("\n  ")
        );
        assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
        assert!(proven >= PROVEN_AT_LEAST, "only {proven} rows were served to someone they name (at least {PROVEN_AT_LEAST} were): the matrix's input stopped working");
        assert!(rows.len() > 200, "only {} rows: is the route list complete?", rows.len());
    }
}

// NUL on every row: in the path (no such page, `404`), in a query parameter
// and in each field of a body (`422` naming it), and never a `5xx`, on either
// database (PostgreSQL refuses NUL in text; SQLite would store it).
on_both_databases! {
    async fn nul_is_refused_on_every_route_the_same_on_both_databases(app) {
        let Matrix { world, callers, rows, bodies } = matrix(&app).await;
        let admin_session = callers.iter().find(|c| matches!(c, Caller::Session(Role::Admin, _))).unwrap().clone();
        let admin_token = callers.iter().find(|c| matches!(c, Caller::Token(Role::Admin, _))).unwrap().clone();
        let mut problems = Vec::new();
        let mut tried = 0;
        for (key, method, path, form) in &rows {
            let kind = kind_of(key);
            let caller = match kind {
                Kind::Api => &admin_token,
                _ if path.contains("{link}") => &Caller::PrivateLink,
                _ => &admin_session,
            };
            let url = concrete(path, &world, caller);
            let query = QUERIES.iter().find(|(k, _)| k == key).map(|(_, q)| format!("{q}&")).unwrap_or_default();
            let body = bodies.get(key.as_str());
            let mut check = |what: String, res: &TestResponse, want: StatusCode, field: Option<&str>| {
                tried += 1;
                if res.status != want {
                    problems.push(format!("{key} with NUL {what}: {} (wanted {want}) {}", res.status, res.text().chars().take(160).collect::<String>()));
                } else if let Some(field) = field {
                    if !res.text().contains(field) {
                        problems.push(format!("{key} with NUL {what}: the answer does not name `{field}`: {}", res.text()));
                    }
                }
            };
            // A query parameter.
            let res = request(&app, caller, method, &format!("{url}?{query}probe=a%00b"), kind, form, body).await;
            check("in the query".into(), &res, StatusCode::UNPROCESSABLE_ENTITY, Some("probe"));
            // Each placeholder of the path.
            for (i, seg) in path.split('/').enumerate() {
                if !seg.starts_with('{') {
                    continue;
                }
                let mut parts: Vec<String> = url.split('/').map(String::from).collect();
                parts[i] = "a%00b".into();
                let res = request(&app, caller, method, &format!("{}?{query}", parts.join("/")), kind, form, body).await;
                check(format!("in {seg}"), &res, StatusCode::NOT_FOUND, None);
            }
            // Each field of an API body.
            if let (Kind::Api, Some(Value::Object(fields))) = (kind, body) {
                for name in fields.keys() {
                    let mut nul = Value::Object(fields.clone());
                    nul[name.as_str()] = json!("a\u{0}b");
                    let res = request(&app, caller, method, &format!("{url}?{query}"), kind, form, Some(&nul)).await;
                    check(format!("in {name}"), &res, StatusCode::UNPROCESSABLE_ENTITY, Some(name));
                }
            }
            // Each field of a server function's form.
            if kind == Kind::Fn {
                for i in 0..form.len() {
                    let mut nul = form.clone();
                    nul[i].1 = "a\u{0}b".into();
                    let res = request(&app, caller, method, &url, kind, &nul, body).await;
                    let field = nul[i].0.replace("][", ".").replace('[', ".").replace(']', "");
                    check(format!("in {}", nul[i].0), &res, StatusCode::UNPROCESSABLE_ENTITY, Some(&field));
                }
            }
        }
        println!("NUL tried {tried} ways over {} rows", rows.len());
        assert!(tried > 400, "only {tried} requests: is the matrix complete?");
        assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    }
}
