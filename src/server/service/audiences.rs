//! Customer accounts, cohorts and private notes links (managed by PMs and admins).

use super::{validate, Actor};
use crate::model::*;
use crate::server::auth::token;
use crate::server::db::Db;
use crate::server::error::AppError;

fn slug(field: &str, raw: &str) -> Result<String, AppError> {
    let s = raw.trim().to_string();
    if !is_slug(&s) {
        return Err(AppError::invalid(
            field,
            "a slug is 1 to 60 lowercase letters, digits and dashes (e.g. `early-access`)",
        ));
    }
    Ok(s)
}

/// Only PMs and admins manage accounts, cohorts and links; checked before any input is read.
pub fn may_manage(actor: &Actor) -> Result<(), AppError> {
    actor.require(
        actor.role.can_manage_releases(),
        "manage customer accounts and cohorts",
    )
}

pub async fn create_account(
    db: &Db,
    actor: &Actor,
    slug_raw: &str,
    name: &str,
) -> Result<Account, AppError> {
    may_manage(actor)?;
    let slug = slug("slug", slug_raw)?;
    let name = validate::person_name("name", name)?;
    Ok(db.create_account(&slug, &name).await?)
}

pub async fn list_accounts(db: &Db, actor: &Actor) -> Result<Vec<Account>, AppError> {
    may_manage(actor)?;
    Ok(db.list_accounts().await?)
}

pub async fn create_cohort(
    db: &Db,
    actor: &Actor,
    slug_raw: &str,
    name: &str,
) -> Result<Cohort, AppError> {
    may_manage(actor)?;
    let slug = slug("slug", slug_raw)?;
    let name = validate::person_name("name", name)?;
    Ok(db.create_cohort(&slug, &name).await?)
}

/// Every signed-in person and token may list cohorts (the entry editor offers
/// them as audiences), but only PMs and admins learn which accounts are in them.
pub async fn list_cohorts(db: &Db, actor: &Actor) -> Result<Vec<Cohort>, AppError> {
    let mut cohorts = db.list_cohorts().await?;
    if !actor.role.can_manage_releases() {
        for c in &mut cohorts {
            c.members.clear();
        }
    }
    Ok(cohorts)
}

pub async fn set_members(
    db: &Db,
    actor: &Actor,
    cohort: &str,
    accounts: &[String],
) -> Result<Cohort, AppError> {
    may_manage(actor)?;
    let accounts = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| slug(&format!("accounts[{i}]"), a))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(db.set_cohort_members(cohort.trim(), &accounts).await?)
}

/// A new private notes link for an account; any earlier link of the same kind stops working.
pub async fn create_link(
    db: &Db,
    actor: &Actor,
    link_for: impl Fn(&str) -> String,
    account: &str,
    admin: bool,
) -> Result<NewAccountLink, AppError> {
    may_manage(actor)?;
    let secret = token::generate("");
    db.replace_account_link(account.trim(), admin, &token::hash(&secret))
        .await
        .map_err(|e| match e {
            crate::server::db::DbError::NotFound => {
                AppError::not_found(format!("There is no account `{}`.", account.trim()))
            }
            other => other.into(),
        })?;
    tracing::info!(account = %account.trim(), admin, by = %actor.label, "private notes link created");
    Ok(NewAccountLink {
        account: account.trim().to_string(),
        admin,
        url: link_for(&format!("/a/{secret}")),
    })
}

pub async fn revoke_link(
    db: &Db,
    actor: &Actor,
    account: &str,
    admin: bool,
) -> Result<(), AppError> {
    may_manage(actor)?;
    db.revoke_account_link(account.trim(), admin)
        .await
        .map_err(|e| match e {
            crate::server::db::DbError::NotFound => {
                AppError::not_found("That account has no live link of this kind.")
            }
            other => other.into(),
        })?;
    tracing::info!(account = %account.trim(), admin, by = %actor.label, "private notes link revoked");
    Ok(())
}

/// The reader behind a private link; an unknown or revoked link is simply not found.
/// The reader behind a private link: an account's link, or the secret of a
/// confirmed subscriber who belongs to an account (their emails link to the
/// pages they may read; the account's own link is kept only as a hash).
pub async fn reader(db: &Db, secret: &str) -> Result<Reader, AppError> {
    if let Some(reader) = db.reader_by_link(&token::hash(secret)).await? {
        return Ok(reader);
    }
    match db.subscriber_by_token(secret).await? {
        Some(s)
            if s.subscriber.status == SubscriberStatus::Confirmed
                && matches!(s.reader, Reader::Account { .. }) =>
        {
            Ok(s.reader)
        }
        _ => Err(AppError::not_found(
            "This notes link is not valid or has been revoked.",
        )),
    }
}
