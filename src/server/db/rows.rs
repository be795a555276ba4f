//! Rows as both databases return them, and their conversion to model types.
//! Enumerations are stored as text; a value no variant matches is reported, not guessed.

use super::{DbError, DbResult};
use crate::model::*;
use chrono::{DateTime, Utc};
use std::str::FromStr;

fn parse<T: FromStr<Err = String>>(column: &str, value: &str) -> DbResult<T> {
    value
        .parse()
        .map_err(|e| DbError::Corrupt(format!("{column}: {e}")))
}

#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = DbError;
    fn try_from(r: UserRow) -> DbResult<User> {
        Ok(User {
            id: r.id,
            email: r.email,
            name: r.name,
            role: parse("users.role", &r.role)?,
            active: r.active,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct CredentialsRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}

#[derive(sqlx::FromRow)]
pub struct InvitationRow {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub invited_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = DbError;
    fn try_from(r: InvitationRow) -> DbResult<Invitation> {
        Ok(Invitation {
            id: r.id,
            email: r.email,
            role: parse("invitations.role", &r.role)?,
            invited_by: r.invited_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
            accepted_at: r.accepted_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = DbError;
    fn try_from(r: TokenRow) -> DbResult<ApiToken> {
        Ok(ApiToken {
            id: r.id,
            name: r.name,
            role: parse("api_tokens.role", &r.role)?,
            prefix: r.prefix,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct DeployRow {
    pub id: i64,
    pub environment: String,
    pub version: String,
    pub commit_sha: Option<String>,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub entry_count: i64,
    pub created_by: Option<String>,
}

impl TryFrom<DeployRow> for Deploy {
    type Error = DbError;
    fn try_from(r: DeployRow) -> DbResult<Deploy> {
        Ok(Deploy {
            id: r.id,
            environment: r.environment,
            version: r.version,
            commit: r.commit_sha,
            status: parse("deploys.status", &r.status)?,
            started_at: r.started_at,
            finished_at: r.finished_at,
            entry_count: r.entry_count,
            created_by: r.created_by,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct EntryRow {
    pub id: i64,
    pub deploy_id: i64,
    pub title: String,
    pub body: String,
    pub body_html: String,
    pub kind: String,
    pub audience: String,
    pub risk: String,
    pub component: Option<String>,
    pub breaking: bool,
    pub links: String,
    pub release_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<EntryRow> for ChangeEntry {
    type Error = DbError;
    fn try_from(r: EntryRow) -> DbResult<ChangeEntry> {
        Ok(ChangeEntry {
            id: r.id,
            deploy_id: r.deploy_id,
            title: r.title,
            body: r.body,
            body_html: r.body_html,
            kind: parse("entries.kind", &r.kind)?,
            audience: parse("entries.audience", &r.audience)?,
            risk: parse("entries.risk", &r.risk)?,
            component: r.component,
            breaking: r.breaking,
            links: serde_json::from_str(&r.links)
                .map_err(|e| DbError::Corrupt(format!("entries.links: {e}")))?,
            release_id: r.release_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct CommitRow {
    pub sha: String,
    pub message: String,
    pub author: Option<String>,
    pub authored_at: Option<DateTime<Utc>>,
}

impl From<CommitRow> for Commit {
    fn from(r: CommitRow) -> Commit {
        Commit {
            sha: r.sha,
            message: r.message,
            author: r.author,
            authored_at: r.authored_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct PublicEntryRow {
    #[sqlx(flatten)]
    pub entry: EntryRow,
    pub version: String,
    pub shipped_at: DateTime<Utc>,
    pub release_slug: Option<String>,
    pub release_title: Option<String>,
}

impl TryFrom<PublicEntryRow> for PublicEntry {
    type Error = DbError;
    fn try_from(r: PublicEntryRow) -> DbResult<PublicEntry> {
        Ok(PublicEntry {
            entry: r.entry.try_into()?,
            version: r.version,
            shipped_at: r.shipped_at,
            release: r.release_slug.zip(r.release_title),
        })
    }
}

/// Converts every row, failing on the first invalid one.
pub fn convert<R, T>(rows: Vec<R>) -> DbResult<Vec<T>>
where
    T: TryFrom<R, Error = DbError>,
{
    rows.into_iter().map(T::try_from).collect()
}

/// Both databases keep microseconds; trimming first makes values round-trip exactly.
pub fn db_time(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// Maps a unique-constraint violation to a conflict with a message people understand.
pub fn unique(err: sqlx::Error, message: impl FnOnce() -> String) -> DbError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => DbError::Conflict(message()),
        _ => DbError::Sqlx(err),
    }
}

#[derive(sqlx::FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub has_link: bool,
    pub has_admin_link: bool,
}

impl AccountRow {
    /// The account with the cohorts listed in `(account_id, cohort_slug)` pairs.
    pub fn into_account(self, memberships: &[(i64, String)]) -> Account {
        Account {
            cohorts: memberships
                .iter()
                .filter(|(a, _)| *a == self.id)
                .map(|(_, c)| c.clone())
                .collect(),
            id: self.id,
            slug: self.slug,
            name: self.name,
            has_link: self.has_link,
            has_admin_link: self.has_admin_link,
            created_at: self.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct CohortRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl CohortRow {
    /// The cohort with the accounts listed in `(cohort_id, account_slug)` pairs.
    pub fn into_cohort(self, members: &[(i64, String)]) -> Cohort {
        Cohort {
            members: members
                .iter()
                .filter(|(c, _)| *c == self.id)
                .map(|(_, a)| a.clone())
                .collect(),
            id: self.id,
            slug: self.slug,
            name: self.name,
            created_at: self.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct ReleaseRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub version_name: Option<String>,
    pub narrative: String,
    pub narrative_html: String,
    pub audience: String,
    pub status: String,
    pub publish_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub archived: bool,
    pub revision: i64,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub entry_count: i64,
}

impl TryFrom<ReleaseRow> for Release {
    type Error = DbError;
    fn try_from(r: ReleaseRow) -> DbResult<Release> {
        Ok(Release {
            id: r.id,
            slug: r.slug,
            title: r.title,
            version_name: r.version_name,
            narrative: r.narrative,
            narrative_html: r.narrative_html,
            audience: parse("releases.audience", &r.audience)?,
            status: parse("releases.status", &r.status)?,
            publish_at: r.publish_at,
            published_at: r.published_at,
            archived: r.archived,
            revision: r.revision,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            entry_count: r.entry_count,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct LinkedEntryRow {
    #[sqlx(flatten)]
    pub entry: EntryRow,
    pub version: String,
    pub environment: String,
    pub deploy_status: String,
    pub deployed_at: DateTime<Utc>,
}

impl TryFrom<LinkedEntryRow> for LinkedEntry {
    type Error = DbError;
    fn try_from(r: LinkedEntryRow) -> DbResult<LinkedEntry> {
        Ok(LinkedEntry {
            entry: r.entry.try_into()?,
            version: r.version,
            environment: r.environment,
            deploy_status: parse("deploys.status", &r.deploy_status)?,
            deployed_at: r.deployed_at,
        })
    }
}
