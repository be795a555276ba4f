//! People: the first admin, signing in (with throttling), invitations, roles.

use super::{validate, Actor};
use crate::model::*;
use crate::server::auth::{password, token};
use crate::server::db::{Db, KeyFailures, NewInvitation, NewUser};
use crate::server::error::AppError;
use crate::server::mail::{self, Delivery, Mailer};
use chrono::{DateTime, TimeDelta, Utc};

/// Failed sign-ins count for this long.
pub const THROTTLE_WINDOW_MINUTES: i64 = 60;

/// How one kind of sign-in attempt is slowed: `free` failures within the
/// window cost nothing; after them, each attempt must wait after the newest
/// failure, `first` at first and twice as long each time, up to `most`.
/// Attempts are never refused outright: guessing stays slow, and nobody is
/// locked out for long by guesses they did not make.
#[derive(Clone, Copy, Debug)]
pub struct Throttle {
    pub free: i64,
    pub first_seconds: i64,
    pub most_seconds: i64,
}

impl Throttle {
    /// How long an attempt must still wait, given the key's failures.
    pub fn wait(&self, f: &KeyFailures, now: DateTime<Utc>) -> Option<TimeDelta> {
        let over = f.count - self.free;
        if over < 0 {
            return None;
        }
        let delay = self
            .first_seconds
            .saturating_mul(1 << over.min(20))
            .min(self.most_seconds);
        let until = f.newest? + TimeDelta::seconds(delay);
        (until > now).then(|| until - now)
    }
}

/// One account from one network address: a guesser there is slowed most.
pub const PER_ACCOUNT_AND_ADDRESS: Throttle = Throttle {
    free: 5,
    first_seconds: 30,
    most_seconds: 15 * 60,
};
/// One account from anywhere (guesses spread over many addresses).
pub const PER_ACCOUNT: Throttle = Throttle {
    free: 10,
    first_seconds: 5,
    most_seconds: 60,
};
/// One network address at any accounts (password spraying). Many people may
/// share one address, so its waits stay short.
pub const PER_ADDRESS: Throttle = Throttle {
    free: 20,
    first_seconds: 5,
    most_seconds: 60,
};
/// A browser that signed in as this account before (its device cookie):
/// throttled alone, so strangers' guesses never slow its owner.
pub const PER_DEVICE: Throttle = Throttle {
    free: 10,
    first_seconds: 30,
    most_seconds: 15 * 60,
};
pub const INVITATION_DAYS: i64 = 7;
/// Why a change to the last active admin is refused.
pub const LAST_ADMIN: &str =
    "Shiplog needs at least one active admin; make someone else admin first";

pub async fn needs_setup(db: &Db) -> Result<bool, AppError> {
    Ok(db.count_users().await? == 0)
}

/// Creates the first admin; refused once anyone exists.
pub async fn create_first_admin(
    db: &Db,
    email: &str,
    name: &str,
    pass: &str,
) -> Result<User, AppError> {
    let user = NewUser {
        email: validate::email("email", email)?,
        name: validate::person_name("name", name)?,
        role: Role::Admin,
        password_hash: password::hash(validate::password("password", pass)?.to_string())
            .await
            .map_err(AppError::internal)?,
    };
    let user = db.create_first_user(user).await?;
    tracing::info!(user = user.id, "first admin created");
    Ok(user)
}

/// Creates a person directly (the `shiplog user add` command).
pub async fn add_user(
    db: &Db,
    email: &str,
    name: &str,
    role: Role,
    pass: &str,
) -> Result<User, AppError> {
    let user = NewUser {
        email: validate::email("email", email)?,
        name: validate::person_name("name", name)?,
        role,
        password_hash: password::hash(validate::password("password", pass)?)
            .await
            .map_err(AppError::internal)?,
    };
    Ok(db.create_user(user).await?)
}

/// The keys an attempt counts under, each with its throttle.
fn throttle_keys(email: &str, address: &str, device: Option<&str>) -> Vec<(String, Throttle)> {
    match device {
        Some(device) => vec![(format!("device:{device}"), PER_DEVICE)],
        None => vec![
            (
                format!("account:{email}|address:{address}"),
                PER_ACCOUNT_AND_ADDRESS,
            ),
            (format!("account:{email}"), PER_ACCOUNT),
            (format!("address:{address}"), PER_ADDRESS),
        ],
    }
}

fn throttled(wait: TimeDelta) -> AppError {
    let seconds = wait.num_seconds() + i64::from(wait.subsec_nanos() > 0);
    let when = if seconds >= 90 {
        let minutes = (seconds + 59) / 60;
        format!("{minutes} minutes")
    } else if seconds > 1 {
        format!("{seconds} seconds")
    } else {
        "a second".to_string()
    };
    AppError::TooManyRequests(format!(
        "Too many failed sign-in attempts. Try again in {when}."
    ))
}

/// Checks an email and password. The attempt is recorded before the password
/// is checked, so parallel guesses are counted as they arrive; failures slow
/// further attempts (see [`Throttle`]). `device` is this browser's device id
/// for this account, when its device cookie says it signed in as it before.
pub async fn authenticate(
    db: &Db,
    email: &str,
    pass: &str,
    address: &str,
    device: Option<&str>,
) -> Result<User, AppError> {
    let now = db.now();
    let email = email.trim().to_lowercase();
    let keys = throttle_keys(&email, address, device);
    let names: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
    let since = now - TimeDelta::minutes(THROTTLE_WINDOW_MINUTES);
    let wait = |seen: &[KeyFailures]| {
        keys.iter()
            .zip(seen)
            .filter_map(|((_, throttle), f)| throttle.wait(f, now))
            .max()
    };
    let attempts = match db.try_attempt(&names, now, since, &wait).await? {
        Ok(ids) => ids,
        Err(w) => {
            tracing::warn!(address, "sign-in slowed: too many failures");
            return Err(throttled(w));
        }
    };

    let found = db.user_credentials(&email).await?;
    let ok = match &found {
        Some((_, hash)) => password::verify(pass.to_string(), hash.clone())
            .await
            .map_err(AppError::internal)?,
        None => {
            // Spend the same time as a real check, so timing does not reveal accounts.
            password::hash(pass.to_string())
                .await
                .map_err(AppError::internal)?;
            false
        }
    };
    match found {
        Some((user, _)) if ok => {
            // A right password is no failure: the earlier failures at this
            // account from this address (or this browser) go, and so does
            // this attempt's count against the account and the address.
            db.clear_login_failures(&names[0]).await?;
            db.forget_login_attempts(&attempts).await?;
            if !user.active {
                tracing::info!(user = user.id, "sign-in refused: account deactivated");
                return Err(AppError::unauthorized(
                    "This account has been deactivated. Ask an admin.",
                ));
            }
            tracing::info!(user = user.id, "signed in");
            Ok(user)
        }
        _ => Err(AppError::unauthorized(
            "That email and password do not match.",
        )),
    }
}

/// Invites someone by email; without SMTP the link is handed back to the admin.
pub async fn invite(
    db: &Db,
    mailer: &Mailer,
    link_for: impl Fn(&str) -> String,
    actor: &Actor,
    inviter_name: &str,
    email: &str,
    role: &str,
) -> Result<InvitationSent, AppError> {
    actor.require(actor.role.is_admin(), "invite people")?;
    let email = validate::email("email", email)?;
    let role: Role = validate::choice("role", role)?;
    if db.user_credentials(&email).await?.is_some() {
        return Err(AppError::conflict(format!(
            "{email} already has an account."
        )));
    }
    let secret = token::generate("");
    let expires_at = db.now() + TimeDelta::days(INVITATION_DAYS);
    let invitation = db
        .create_invitation(NewInvitation {
            email: email.clone(),
            role,
            token_hash: token::hash(&secret),
            invited_by: actor.user_id,
            expires_at,
        })
        .await?;
    let link = link_for(&format!("/invite/{secret}"));
    let message = mail::invitation(
        &email,
        inviter_name,
        role.label(),
        &link,
        &expires_at.format("%-d %B %Y at %H:%M UTC").to_string(),
    );
    let delivery = mailer.send(message).await.map_err(|e| {
        AppError::internal(e.context(format!(
            "invitation {} could not be delivered",
            invitation.id
        )))
    })?;
    tracing::info!(invitation = invitation.id, by = %actor.label, "invitation created");
    Ok(match delivery {
        Delivery::Sent => InvitationSent {
            email,
            link: None,
            note: "The invitation was emailed.".into(),
        },
        Delivery::Written(path) => InvitationSent {
            email,
            link: Some(link),
            note: format!(
                "No SMTP server is configured (SMTP_URL), so nothing was emailed: the message was written to {}. Pass the link on yourself.",
                path.display()
            ),
        },
    })
}

/// The invitation behind a link, if it can still be used.
pub async fn open_invitation(db: &Db, secret: &str) -> Result<Invitation, AppError> {
    let inv = db
        .invitation_by_token(&token::hash(secret.trim()))
        .await?
        .ok_or_else(|| {
            AppError::not_found("This invitation link is not valid. Ask your admin for a new one.")
        })?;
    if inv.accepted_at.is_some() {
        return Err(AppError::conflict(
            "This invitation has already been used. Sign in instead.",
        ));
    }
    if inv.expires_at <= db.now() {
        return Err(AppError::conflict(
            "This invitation has expired. Ask your admin for a new one.",
        ));
    }
    Ok(inv)
}

pub async fn accept_invitation(
    db: &Db,
    secret: &str,
    name: &str,
    pass: &str,
) -> Result<User, AppError> {
    let inv = open_invitation(db, secret).await?;
    let name = validate::person_name("name", name)?;
    let hash = password::hash(validate::password("password", pass)?)
        .await
        .map_err(AppError::internal)?;
    let user = db.accept_invitation(inv.id, &name, &hash, db.now()).await?;
    tracing::info!(user = user.id, invitation = inv.id, "invitation accepted");
    Ok(user)
}

/// Active team members, for choosing an owner (anyone signed in may see who
/// is on the team).
pub async fn team(db: &Db) -> Result<Vec<User>, AppError> {
    Ok(db
        .list_users()
        .await?
        .into_iter()
        .filter(|u| u.active)
        .collect())
}

pub async fn list_people(db: &Db, actor: &Actor) -> Result<(Vec<User>, Vec<Invitation>), AppError> {
    actor.require(actor.role.is_admin(), "manage people")?;
    Ok((db.list_users().await?, db.list_invitations().await?))
}

pub async fn update_person(
    db: &Db,
    actor: &Actor,
    id: i64,
    role: &str,
    active: bool,
) -> Result<User, AppError> {
    actor.require(actor.role.is_admin(), "change roles")?;
    let role: Role = validate::choice("role", role)?;
    let user = db.update_user(id, role, active).await?;
    tracing::info!(user = id, role = %role, active, by = %actor.label, "person updated");
    Ok(user)
}

pub async fn cancel_invitation(db: &Db, actor: &Actor, id: i64) -> Result<(), AppError> {
    actor.require(actor.role.is_admin(), "cancel invitations")?;
    Ok(db.delete_invitation(id).await?)
}
