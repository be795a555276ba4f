//! Server functions for deploying safely beyond blocks: environments and
//! their nights, the calendar, the risk process, webhooks and each person's
//! notification choices.

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Environments, whether the reader may change them, and whether deploys
/// create the environments they name.
#[server(prefix = "/fn", endpoint = "environments")]
pub async fn load_environments() -> Result<EnvironmentsData, FnError> {
    use crate::server::service::environments;
    let (state, user, _) = ctx::signed_in().await?;
    Ok(EnvironmentsData {
        environments: environments::list(&state.db, state.config.time_zone).await?,
        admin: user.role.is_admin(),
        create_from_ci: environments::creates_from_ci(&state.db).await?,
    })
}

/// Lets deploys create the environments they name, or refuses them (admins).
#[server(prefix = "/fn", endpoint = "set_create_environments")]
pub async fn set_create_environments(on: bool) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::environments::set_creates_from_ci(&state.db, &actor, on).await?;
    Ok(())
}

/// Adds (`create`) or changes an environment; `days` is `1,2,3` (ISO weekdays).
#[server(prefix = "/fn", endpoint = "save_environment")]
pub async fn save_environment(
    create: bool,
    slug: String,
    kind: String,
    days: String,
    time: String,
) -> Result<(), FnError> {
    use crate::server::service::environments::{self, EnvironmentInput};
    let (state, _, actor) = ctx::signed_in().await?;
    environments::may_manage(&actor)?;
    let kind: EnvironmentKind = crate::server::service::validate::choice("kind", &kind)?;
    let input = EnvironmentInput {
        slug: slug.clone(),
        kind,
        schedule_days: days
            .split(',')
            .filter_map(|d| d.trim().parse().ok())
            .collect(),
        schedule_time: Some(time),
    };
    if create {
        environments::create(&state.db, &actor, input).await?;
    } else {
        environments::update(&state.db, &actor, &slug, input).await?;
    }
    Ok(())
}

/// A calendar, with the environments that have nights.
#[server(prefix = "/fn", endpoint = "calendar")]
pub async fn load_calendar(
    environment: Option<String>,
) -> Result<(Calendar, Vec<String>), FnError> {
    use crate::server::service::environments;
    let (state, _, _) = ctx::signed_in().await?;
    let tz = state.config.time_zone;
    let scheduled: Vec<String> = environments::list(&state.db, tz)
        .await?
        .into_iter()
        .filter(|e| !e.schedule_days.is_empty())
        .map(|e| e.slug)
        .collect();
    let chosen = environment
        .filter(|e| !e.is_empty())
        .or_else(|| scheduled.first().cloned())
        .unwrap_or_else(|| PRODUCTION.to_string());
    let calendar = environments::calendar(&state.db, tz, &chosen, None, None).await?;
    Ok((calendar, scheduled))
}

/// Says why a night had no deploy; an empty reason takes it back.
#[server(prefix = "/fn", endpoint = "explain_night")]
pub async fn explain_night(
    environment: String,
    night: String,
    reason: String,
    note: String,
) -> Result<(), FnError> {
    use crate::server::error::AppError;
    use crate::server::service::{environments, validate};
    let (state, _, actor) = ctx::signed_in().await?;
    let night = validate::day("night", &night)?
        .ok_or_else(|| AppError::invalid("night", "which night?"))?;
    let reason = match reason.trim() {
        "" => None,
        r => Some(validate::choice("reason", r)?),
    };
    let input = environments::NightInput {
        reason,
        note: Some(note),
    };
    environments::explain_night(
        &state.db,
        state.config.time_zone,
        &actor,
        &environment,
        night,
        input,
    )
    .await?;
    Ok(())
}

/// Everything the risk page shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RiskPageData {
    pub map: Vec<RiskMapRow>,
    pub rules: Vec<RiskRule>,
    pub risky: Vec<RiskyComponent>,
    pub waiting: Vec<EntryProcess>,
    pub admin: bool,
    pub may_approve: bool,
}

#[server(prefix = "/fn", endpoint = "risk")]
pub async fn load_risk() -> Result<RiskPageData, FnError> {
    use crate::server::service::risk;
    let (state, user, _) = ctx::signed_in().await?;
    let (rules, risky) = risk::settings(&state.db).await?;
    Ok(RiskPageData {
        map: risk::risk_map(&state.db).await?,
        rules,
        risky,
        waiting: risk::waiting(&state.db).await?,
        admin: user.role.is_admin(),
        may_approve: user.role.can_write_deploys(),
    })
}

#[server(prefix = "/fn", endpoint = "approve_change")]
pub async fn approve_change(entry_id: i64) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::risk::approve(&state.db, &actor, entry_id).await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "tick_check")]
pub async fn tick_check(entry_id: i64, item: String, done: bool) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::risk::check(&state.db, &actor, entry_id, &item, done).await?;
    Ok(())
}

/// Sets a risk level's rule; the checklist is one item per line.
#[server(prefix = "/fn", endpoint = "save_risk_rule")]
pub async fn save_risk_rule(
    risk: String,
    approvals: i64,
    checklist: String,
    staged: bool,
) -> Result<(), FnError> {
    use crate::server::service::risk::{self, RuleInput};
    let (state, _, actor) = ctx::signed_in().await?;
    risk::may_set_rules(&actor)?;
    let level: Risk = crate::server::service::validate::choice("risk", &risk)?;
    let input = RuleInput {
        approvals,
        checklist: checklist
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        staged,
    };
    risk::set_rule(&state.db, &actor, level, input).await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "mark_risky")]
pub async fn mark_risky(component: String, note: String, risky: bool) -> Result<(), FnError> {
    use crate::server::service::risk;
    let (state, _, actor) = ctx::signed_in().await?;
    if risky {
        risk::mark_risky(&state.db, &actor, &component, Some(&note)).await?;
    } else {
        risk::unmark_risky(&state.db, &actor, &component).await?;
    }
    Ok(())
}

#[server(prefix = "/fn", endpoint = "webhooks")]
pub async fn load_webhooks() -> Result<Vec<Webhook>, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::notify::webhooks(&state.db, &actor).await?)
}

#[server(prefix = "/fn", endpoint = "webhook_deliveries")]
pub async fn load_deliveries(webhook_id: i64) -> Result<Vec<WebhookDelivery>, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::notify::deliveries(&state.db, &actor, webhook_id).await?)
}

/// Adds a webhook; `events` is comma-separated.
#[server(prefix = "/fn", endpoint = "add_webhook")]
pub async fn add_webhook(
    url: String,
    events: String,
    secret: String,
    format: String,
) -> Result<(), FnError> {
    use crate::server::service::notify::{self, WebhookInput};
    let (state, _, actor) = ctx::signed_in().await?;
    notify::may_configure(&actor)?;
    let events: Vec<NotifyEvent> = crate::server::service::validate::choices("events", &events)?;
    let format = crate::server::service::validate::choice("format", &format)?;
    let input = WebhookInput {
        url,
        events,
        secret,
        format,
    };
    notify::create_webhook(&state.db, &state.config, &actor, input).await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "remove_webhook")]
pub async fn remove_webhook(id: i64) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::notify::remove_webhook(&state.db, &actor, id).await?;
    Ok(())
}

#[server(prefix = "/fn", endpoint = "redeliver")]
pub async fn redeliver(id: i64) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::notify::redeliver(&state.db, &actor, id).await?;
    Ok(())
}

/// The events the signed-in person is emailed about.
#[server(prefix = "/fn", endpoint = "my_notifications")]
pub async fn load_notifications() -> Result<Vec<NotifyEvent>, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::notify::preferences(&state.db, &actor).await?)
}

/// Replaces the person's choice; `events` is comma-separated.
#[server(prefix = "/fn", endpoint = "save_notifications")]
pub async fn save_notifications(events: String) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    let events: Vec<NotifyEvent> = crate::server::service::validate::choices("events", &events)?;
    crate::server::service::notify::set_preferences(&state.db, &actor, events).await?;
    Ok(())
}

/// A page of the audit log (admins).
#[server(prefix = "/fn", endpoint = "audit")]
pub async fn load_audit(
    actor: Option<String>,
    path: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
) -> Result<Vec<AuditEntry>, FnError> {
    use crate::server::service::audit::{self, AuditFilter};
    let (state, _, me) = ctx::signed_in().await?;
    let filter = AuditFilter {
        actor,
        path,
        from,
        to,
        before,
        limit: None,
    };
    Ok(audit::list(&state.db, &me, filter).await?)
}
