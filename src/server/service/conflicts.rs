//! Storage's refusals in words: [`DbError`] carries which rule a write ran
//! into and its facts ([`Conflict`]); this is the one place that says it to
//! people, for every service, handler and server function (through `?`).

use crate::server::db::{Conflict, DbError, Kind};
use crate::server::error::AppError;

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => AppError::not_found("Not found."),
            DbError::Conflict(conflict) => AppError::Conflict(words(&conflict)),
            // Services that compare revisions say what changed; this is the fallback.
            DbError::Stale => AppError::conflict(
                "Someone else changed this since you opened it. Reload, then apply your change again.",
            ),
            DbError::LastAdmin => AppError::conflict(super::users::LAST_ADMIN),
            other => AppError::internal(other),
        }
    }
}

/// The sentence a person reads for a conflict.
pub fn words(conflict: &Conflict) -> String {
    match conflict {
        Conflict::Taken { what, key } => match what {
            Kind::Account => format!("an account with the slug `{key}` already exists"),
            Kind::Cohort => format!("a cohort with the slug `{key}` already exists"),
            Kind::Entry => format!("entry {key} already exists"),
            Kind::Environment => format!("There is already an environment `{key}`."),
            Kind::Release => format!("a release with the slug `{key}` already exists"),
            Kind::Subscriber => format!("`{key}` is already subscribed"),
            Kind::User => format!("an account for {key} already exists"),
        },
        Conflict::Missing { what, key } => match what {
            Kind::Account => format!("there is no account `{key}`"),
            Kind::Cohort => format!("there is no cohort `{key}`"),
            Kind::Entry => format!("there is no entry {key}"),
            Kind::Environment => format!("there is no environment `{key}`"),
            Kind::Release => format!("there is no release `{key}`"),
            Kind::Subscriber => format!("there is no subscriber {key}"),
            Kind::User => format!("there is no account for {key}"),
        },
        Conflict::VersionDeployed {
            version,
            environment,
        } => format!("version `{version}` has already been deployed to `{environment}`"),
        Conflict::EntryInAnotherRelease { entry } => {
            format!("entry {entry} already belongs to another release")
        }
        Conflict::BlockEnded { lifted } => format!(
            "This block was already {}.",
            if *lifted { "lifted" } else { "expired" }
        ),
        Conflict::CustomersAlreadyTold => "Customers were already told about this incident.".into(),
        Conflict::AlertGroupOpen { reopening: false } => {
            "this alert group already has an open incident".into()
        }
        Conflict::AlertGroupOpen { reopening: true } => {
            "an alert group can have only one unresolved incident".into()
        }
        Conflict::RetroClosed => "This retro is closed: it can no longer change.".into(),
        Conflict::RetroAlreadyClosed => "This retro is already closed.".into(),
        Conflict::AnotherRetroOpen => {
            "Another retro is still open: close it before opening the next.".into()
        }
        Conflict::VotesUsed { limit } => {
            format!("You have used all {limit} of your votes: take one back to vote again.")
        }
        Conflict::AlreadyVoted => "You already voted for this item.".into(),
        Conflict::ItemAlreadyAction => "This item is already an action.".into(),
        Conflict::AlreadyApproved => "You have already approved this change.".into(),
        Conflict::AdminExists => "Shiplog already has an admin account; sign in instead".into(),
        Conflict::InvitationUsed => "This invitation has already been used or has expired".into(),
        Conflict::DeliveryPending => {
            "This delivery is still being sent; wait for its attempts to finish.".into()
        }
        Conflict::BackupNeedsSqlite => {
            "This Shiplog runs on PostgreSQL: back it up with pg_dump (see the README).".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_names_its_facts() {
        let taken = Conflict::VersionDeployed {
            version: "1.4.0".into(),
            environment: "production".into(),
        };
        assert_eq!(
            words(&taken),
            "version `1.4.0` has already been deployed to `production`"
        );
        let e: AppError = DbError::Conflict(Conflict::VotesUsed { limit: 3 }).into();
        assert!(e.to_string().contains("all 3 of your votes"), "{e}");
        let e: AppError = DbError::LastAdmin.into();
        assert!(e.to_string().contains("at least one active admin"), "{e}");
    }
}
