//! Subscribers and announcement campaigns, for the app (PMs and admins).

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The subscribers page: one page of the list, counts by state, the accounts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubscribersView {
    pub page: SubscriberPage,
    pub accounts: Vec<String>,
}

#[server(prefix = "/fn", endpoint = "subscribers")]
pub async fn load_subscribers(
    q: String,
    status: String,
    account: String,
    offset: i64,
) -> Result<SubscribersView, FnError> {
    use crate::server::db::SubscriberQuery;
    use crate::server::service::{audiences, subscribers};
    let (state, _, actor) = ctx::signed_in().await?;
    let query = SubscriberQuery {
        search: q,
        status: Some(status).filter(|s| !s.is_empty()),
        account: Some(account).filter(|s| !s.is_empty()),
        limit: 50,
        offset: offset.max(0),
    };
    Ok(SubscribersView {
        page: subscribers::list(&state.db, &actor, &query).await?,
        accounts: audiences::list_accounts(&state.db, &actor)
            .await?
            .into_iter()
            .map(|a| a.slug)
            .collect(),
    })
}

#[server(prefix = "/fn", endpoint = "set_subscriber_account")]
pub async fn set_subscriber_account(id: i64, account: String) -> Result<Subscriber, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    let account = Some(account.as_str()).filter(|a| !a.is_empty());
    Ok(
        crate::server::service::subscribers::set_account(&state.db, &actor, id, account, false)
            .await?,
    )
}

#[server(prefix = "/fn", endpoint = "remove_subscriber")]
pub async fn remove_subscriber(id: i64) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::subscribers::remove(&state.db, &actor, id).await?)
}

/// Lets a suppressed address be mailed again (admins).
#[server(prefix = "/fn", endpoint = "lift_suppression")]
pub async fn lift_suppression(email: String) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::subscribers::lift_suppression(&state.db, &actor, &email).await?)
}

/// Imports pasted CSV: a preview first (`preview`), then the import, all or
/// nothing; `consented` stores the people as confirmed.
#[server(prefix = "/fn", endpoint = "import_subscribers")]
pub async fn import_subscribers(
    csv: String,
    consented: Option<String>,
    preview: Option<String>,
) -> Result<ImportReport, FnError> {
    use crate::server::service::subscribers;
    let (state, _, actor) = ctx::signed_in().await?;
    subscribers::may_manage(&actor)?;
    let rows = subscribers::parse_csv(&csv, consented.is_some())?;
    let out = state.outbox().await?;
    let fx = state.effects();
    let preview = preview.is_some();
    Ok(subscribers::import(&state.db, &out, &fx, &actor, &rows, preview, "import").await?)
}

#[server(prefix = "/fn", endpoint = "campaigns")]
pub async fn load_campaigns() -> Result<Vec<Campaign>, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::campaigns::list(&state.db, &actor).await?)
}

/// A campaign with its failures so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignView {
    pub campaign: Campaign,
    pub failures: Vec<DeliveryFailure>,
}

#[server(prefix = "/fn", endpoint = "campaign")]
pub async fn load_campaign(id: i64) -> Result<CampaignView, FnError> {
    use crate::server::service::campaigns;
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(CampaignView {
        campaign: campaigns::get(&state.db, &actor, id).await?,
        failures: campaigns::failures(&state.db, &actor, id).await?,
    })
}

/// `send` (now, or at `at`, an RFC 3339 time), `pause`, `resume` or `cancel`.
#[server(prefix = "/fn", endpoint = "campaign_action")]
pub async fn campaign_action(
    id: i64,
    action: String,
    at: Option<String>,
) -> Result<Campaign, FnError> {
    use crate::server::error::AppError;
    use crate::server::service::campaigns;
    let (state, _, actor) = ctx::signed_in().await?;
    campaigns::may_manage(&actor)?;
    // (`CampaignAction` alone is this function's own argument type.)
    let action: crate::model::CampaignAction = action
        .parse()
        .map_err(|_| AppError::invalid("action", format!("unknown action `{action}`")))?;
    let at = match at.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(raw) => Some(
            chrono::DateTime::parse_from_rfc3339(raw)
                .map_err(|_| AppError::invalid("at", "choose a date and time to send at"))?
                .with_timezone(&chrono::Utc),
        ),
    };
    let fx = state.effects();
    let host = state.config.host();
    Ok(campaigns::act(&state.db, &fx, host, &actor, id, action, at).await?)
}

#[server(prefix = "/fn", endpoint = "preview_campaign")]
pub async fn preview_campaign(id: i64, email: String) -> Result<MessagePreview, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(
        crate::server::service::campaigns::preview(&state.db, &state.engine, &actor, id, &email)
            .await?,
    )
}

/// Sends the email, as `email` would get it, to the signed-in person.
#[server(prefix = "/fn", endpoint = "test_campaign")]
pub async fn test_campaign(id: i64, email: String) -> Result<String, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::campaigns::test_send(
        &state.db,
        &state.engine,
        &state.mailer,
        &actor,
        id,
        &email,
    )
    .await?)
}
