//! People and invitations (admins only).

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct People {
    pub me: i64,
    pub users: Vec<User>,
    pub invitations: Vec<Invitation>,
    /// Set when mail is written to a folder instead of sent.
    pub mail_note: Option<String>,
}

#[server(prefix = "/fn", endpoint = "people")]
pub async fn load_people() -> Result<People, FnError> {
    let (state, user, actor) = ctx::signed_in().await?;
    let (users, invitations) =
        crate::server::service::users::list_people(&state.db, &actor).await?;
    Ok(People {
        me: user.id,
        users,
        invitations,
        mail_note: state.mailer.outbox().map(|dir| {
            format!(
                "No SMTP server is configured (SMTP_URL): invitations are written to {} and their links shown here.",
                dir.display()
            )
        }),
    })
}

#[server(prefix = "/fn", endpoint = "invite")]
pub async fn invite(email: String, role: String) -> Result<InvitationSent, FnError> {
    let (state, user, actor) = ctx::signed_in().await?;
    let config = state.config.clone();
    Ok(crate::server::service::users::invite(
        &state.db,
        &state.mailer,
        |path| config.link(path),
        &actor,
        &user.name,
        &email,
        &role,
    )
    .await?)
}

#[server(prefix = "/fn", endpoint = "update_person")]
pub async fn update_person(id: i64, role: String, active: bool) -> Result<User, FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    Ok(crate::server::service::users::update_person(&state.db, &actor, id, &role, active).await?)
}

#[server(prefix = "/fn", endpoint = "cancel_invitation")]
pub async fn cancel_invitation(id: i64) -> Result<(), FnError> {
    let (state, _, actor) = ctx::signed_in().await?;
    crate::server::service::users::cancel_invitation(&state.db, &actor, id).await?;
    Ok(())
}
