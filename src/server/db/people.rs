//! People: accounts of the team, invitations and sign-in throttling.

use super::sql::{sql, Conn};
use super::{Conflict, DbError, DbResult, Kind, SqlStore};
use crate::model::{Invitation, Role, SignIn, User};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

/// A person to create; the password is already hashed.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
}

#[derive(Clone, Debug)]
pub struct NewInvitation {
    pub email: String,
    pub role: Role,
    pub token_hash: String,
    pub invited_by: Option<i64>,
    pub expires_at: DateTime<Utc>,
}

/// The person behind a sign-in that has not ended, and its times.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SignedIn {
    #[sqlx(flatten)]
    pub user: User,
    pub signed_in_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// One throttle key's failed sign-ins in a window.
#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct KeyFailures {
    pub count: i64,
    pub newest: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait PeopleStore: Send + Sync {
    async fn count_users(&self) -> DbResult<i64>;
    /// Creates the first admin only while nobody exists, atomically.
    async fn create_first_user(&self, user: NewUser) -> DbResult<User>;
    async fn create_user(&self, user: NewUser) -> DbResult<User>;
    async fn user_by_id(&self, id: i64) -> DbResult<Option<User>>;
    async fn user_by_email(&self, email: &str) -> DbResult<Option<User>>;
    /// The person and their password hash, for signing in.
    async fn user_credentials(&self, email: &str) -> DbResult<Option<(User, String)>>;
    async fn list_users(&self) -> DbResult<Vec<User>>;
    /// Changes role and active flag together, refusing ([`DbError::LastAdmin`])
    /// if no active admin would remain.
    async fn update_user(&self, id: i64, role: Role, active: bool) -> DbResult<User>;

    async fn create_invitation(&self, inv: NewInvitation) -> DbResult<Invitation>;
    async fn invitation_by_token(&self, token_hash: &str) -> DbResult<Option<Invitation>>;
    /// Creates the person and marks the invitation used, in one transaction.
    async fn accept_invitation(
        &self,
        invitation_id: i64,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> DbResult<User>;
    async fn list_invitations(&self) -> DbResult<Vec<Invitation>>;
    async fn delete_invitation(&self, id: i64) -> DbResult<()>;

    async fn clear_login_failures(&self, key: &str) -> DbResult<()>;
    /// A sign-in attempt under `keys`, decided before the password is
    /// checked: with each key's lock held (always in the same order), each
    /// key's failures since `since` and the newest of them are handed to
    /// `wait`; when it asks for a wait, nothing is recorded and the wait is
    /// answered, otherwise one attempt per key is recorded and their ids
    /// answered. Of many parallel attempts, each sees those before it.
    async fn try_attempt(
        &self,
        keys: &[String],
        at: DateTime<Utc>,
        since: DateTime<Utc>,
        wait: &(dyn for<'k> Fn(&'k [KeyFailures]) -> Option<chrono::TimeDelta> + Send + Sync),
    ) -> DbResult<Result<Vec<i64>, chrono::TimeDelta>>;
    /// Records one sign-in attempt under each key, committed before the password
    /// is checked, and answers how many attempts each key has had since
    /// `since` (this one included), in the order of `keys`.
    async fn record_login_attempt(
        &self,
        keys: &[String],
        at: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> DbResult<(Vec<i64>, Vec<i64>)>;
    /// Forgets attempts by their ids (a successful sign-in is no failure).
    async fn forget_login_attempts(&self, ids: &[i64]) -> DbResult<()>;

    /// Records a sign-in from a browser; its id goes into that browser's session.
    async fn create_sign_in(
        &self,
        user_id: i64,
        ip: &str,
        user_agent: &str,
        at: DateTime<Utc>,
    ) -> DbResult<i64>;
    /// The person behind a sign-in that has not ended.
    async fn signed_in(&self, sign_in: i64) -> DbResult<Option<SignedIn>>;
    async fn touch_sign_in(&self, sign_in: i64, at: DateTime<Utc>) -> DbResult<()>;
    /// Ends one of this person's sign-ins ([`DbError::NotFound`] when it is
    /// not theirs or has ended).
    async fn end_sign_in(&self, user_id: i64, sign_in: i64, at: DateTime<Utc>) -> DbResult<()>;
    /// Ends every sign-in of this person but `keep`; answers how many ended.
    async fn end_sign_ins(
        &self,
        user_id: i64,
        keep: Option<i64>,
        at: DateTime<Utc>,
    ) -> DbResult<u64>;
    /// This person's sign-ins that have not ended, the most recently seen first.
    async fn list_sign_ins(&self, user_id: i64) -> DbResult<Vec<SignIn>>;
}

pub(super) const USER: &str = "SELECT id, email, name, role, active, created_at FROM users";

pub(super) const INVITATION: &str = "
    SELECT i.id, i.email, i.role, u.email AS invited_by, i.created_at, i.expires_at, i.accepted_at
    FROM invitations i
    LEFT JOIN users u ON u.id = i.invited_by";

#[derive(sqlx::FromRow)]
struct Credentials {
    #[sqlx(flatten)]
    user: User,
    password_hash: String,
}

async fn insert_user(conn: Conn<'_>, u: &NewUser, now: DateTime<Utc>) -> DbResult<User> {
    sql(
        "INSERT INTO users (email, name, role, password_hash, active, created_at)
         VALUES (:email, :name, :role, :password_hash, TRUE, :now)
         RETURNING id, email, name, role, active, created_at",
    )
    .set("email", &u.email)
    .set("name", &u.name)
    .set("role", u.role.as_str())
    .set("password_hash", &u.password_hash)
    .set("now", now)
    .or_conflict(Conflict::Taken {
        what: Kind::User,
        key: u.email.clone(),
    })
    .one(conn)
    .await
}

#[async_trait]
impl PeopleStore for SqlStore {
    async fn count_users(&self) -> DbResult<i64> {
        sql("SELECT COUNT(*) FROM users").value(self.read()).await
    }

    async fn create_first_user(&self, user: NewUser) -> DbResult<User> {
        let mut tx = self.begin().await?;
        if let Some(lock) = self.dialect().lock_users() {
            sql(lock).execute(tx.conn()).await?;
        }
        let n: i64 = sql("SELECT COUNT(*) FROM users").value(tx.conn()).await?;
        if n > 0 {
            return Err(DbError::Conflict(Conflict::AdminExists));
        }
        let user = insert_user(tx.conn(), &user, self.now()).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn create_user(&self, user: NewUser) -> DbResult<User> {
        insert_user(self.write(), &user, self.now()).await
    }

    async fn user_by_id(&self, id: i64) -> DbResult<Option<User>> {
        sql(format!("{USER} WHERE id = :id"))
            .set("id", id)
            .optional(self.read())
            .await
    }

    async fn user_by_email(&self, email: &str) -> DbResult<Option<User>> {
        sql(format!("{USER} WHERE email = :email"))
            .set("email", email)
            .optional(self.read())
            .await
    }

    async fn user_credentials(&self, email: &str) -> DbResult<Option<(User, String)>> {
        let found: Option<Credentials> = sql(
            "SELECT id, email, name, role, active, created_at, password_hash
             FROM users WHERE email = :email",
        )
        .set("email", email)
        .optional(self.read())
        .await?;
        Ok(found.map(|c| (c.user, c.password_hash)))
    }

    async fn list_users(&self) -> DbResult<Vec<User>> {
        sql(format!("{USER} ORDER BY active DESC, name, id"))
            .all(self.read())
            .await
    }

    async fn update_user(&self, id: i64, role: Role, active: bool) -> DbResult<User> {
        let mut tx = self.begin().await?;
        let admins: Vec<i64> = sql(format!(
            "SELECT id FROM users WHERE role = 'admin' AND active = TRUE{}",
            self.dialect().for_update()
        ))
        .column(tx.conn())
        .await?;
        let stays_admin = role == Role::Admin && active;
        if !stays_admin && admins == [id] {
            return Err(DbError::LastAdmin);
        }
        let user = sql(
            "UPDATE users SET role = :role, active = :active WHERE id = :id
                        RETURNING id, email, name, role, active, created_at",
        )
        .set("id", id)
        .set("role", role.as_str())
        .set("active", active)
        .one(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn create_invitation(&self, inv: NewInvitation) -> DbResult<Invitation> {
        let mut tx = self.begin().await?;
        let id: i64 = sql(
            "INSERT INTO invitations (email, role, token_hash, invited_by, created_at, expires_at)
             VALUES (:email, :role, :token_hash, :invited_by, :now, :expires_at) RETURNING id",
        )
        .set("email", &inv.email)
        .set("role", inv.role.as_str())
        .set("token_hash", &inv.token_hash)
        .set("invited_by", inv.invited_by)
        .set("now", self.now())
        .set("expires_at", inv.expires_at)
        .value(tx.conn())
        .await?;
        let invitation = sql(format!("{INVITATION} WHERE i.id = :id"))
            .set("id", id)
            .one(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(invitation)
    }

    async fn invitation_by_token(&self, token_hash: &str) -> DbResult<Option<Invitation>> {
        sql(format!("{INVITATION} WHERE i.token_hash = :token_hash"))
            .set("token_hash", token_hash)
            .optional(self.read())
            .await
    }

    async fn accept_invitation(
        &self,
        invitation_id: i64,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> DbResult<User> {
        let mut tx = self.begin().await?;
        let claimed: Option<(String, String)> = sql("UPDATE invitations SET accepted_at = :now
             WHERE id = :invitation_id AND accepted_at IS NULL AND expires_at > :now
             RETURNING email, role")
        .set("invitation_id", invitation_id)
        .set("now", now)
        .optional(tx.conn())
        .await?;
        let Some((email, role)) = claimed else {
            return Err(DbError::Conflict(Conflict::InvitationUsed));
        };
        let user = NewUser {
            email,
            name: name.to_string(),
            role: role
                .parse()
                .map_err(|e| DbError::Corrupt(format!("invitations.role: {e}")))?,
            password_hash: password_hash.to_string(),
        };
        let user = insert_user(tx.conn(), &user, self.now()).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn list_invitations(&self) -> DbResult<Vec<Invitation>> {
        sql(format!(
            "{INVITATION} ORDER BY i.created_at DESC, i.id DESC"
        ))
        .all(self.read())
        .await
    }

    async fn delete_invitation(&self, id: i64) -> DbResult<()> {
        sql("DELETE FROM invitations WHERE id = :id AND accepted_at IS NULL")
            .set("id", id)
            .change_one(self.write())
            .await
    }

    async fn try_attempt(
        &self,
        keys: &[String],
        at: DateTime<Utc>,
        since: DateTime<Utc>,
        wait: &(dyn for<'k> Fn(&'k [KeyFailures]) -> Option<chrono::TimeDelta> + Send + Sync),
    ) -> DbResult<Result<Vec<i64>, chrono::TimeDelta>> {
        let mut tx = self.begin().await?;
        let mut seen = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(lock) = self.dialect().lock_key() {
                sql(lock).set("key", key).execute(tx.conn()).await?;
            }
            let failures: KeyFailures = sql(
                "SELECT COUNT(*) AS count, MAX(failed_at) AS newest FROM login_failures
                 WHERE throttle_key = :key AND failed_at >= :since",
            )
            .set("key", key)
            .set("since", since)
            .one(tx.conn())
            .await?;
            seen.push(failures);
        }
        if let Some(w) = wait(&seen) {
            // Nothing recorded: a refused attempt is no guess.
            return Ok(Err(w));
        }
        let mut ids = Vec::with_capacity(keys.len());
        for key in keys {
            let id: i64 = sql(
                "INSERT INTO login_failures (throttle_key, failed_at) VALUES (:key, :at) RETURNING id",
            )
            .set("key", key)
            .set("at", at)
            .value(tx.conn())
            .await?;
            ids.push(id);
        }
        sql("DELETE FROM login_failures WHERE failed_at < :day_ago")
            .set("day_ago", at - TimeDelta::days(1))
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(Ok(ids))
    }

    async fn clear_login_failures(&self, key: &str) -> DbResult<()> {
        sql("DELETE FROM login_failures WHERE throttle_key = :key")
            .set("key", key)
            .execute(self.write())
            .await?;
        Ok(())
    }

    async fn record_login_attempt(
        &self,
        keys: &[String],
        at: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> DbResult<(Vec<i64>, Vec<i64>)> {
        // One transaction holding each key's lock (always in the same
        // order): of many parallel attempts, the k-th counts exactly k.
        let mut tx = self.begin().await?;
        let mut ids = Vec::with_capacity(keys.len());
        let mut counts = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(lock) = self.dialect().lock_key() {
                sql(lock).set("key", key).execute(tx.conn()).await?;
            }
            let id: i64 = sql(
                "INSERT INTO login_failures (throttle_key, failed_at) VALUES (:key, :at) RETURNING id",
            )
            .set("key", key)
            .set("at", at)
            .value(tx.conn())
            .await?;
            let n: i64 = sql(
                "SELECT COUNT(*) FROM login_failures WHERE throttle_key = :key AND failed_at >= :since",
            )
            .set("key", key)
            .set("since", since)
            .value(tx.conn())
            .await?;
            ids.push(id);
            counts.push(n);
        }
        // Old attempts no longer count for anything.
        sql("DELETE FROM login_failures WHERE failed_at < :day_ago")
            .set("day_ago", at - TimeDelta::days(1))
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok((ids, counts))
    }

    async fn forget_login_attempts(&self, ids: &[i64]) -> DbResult<()> {
        for id in ids {
            sql("DELETE FROM login_failures WHERE id = :id")
                .set("id", *id)
                .execute(self.write())
                .await?;
        }
        Ok(())
    }

    async fn create_sign_in(
        &self,
        user_id: i64,
        ip: &str,
        user_agent: &str,
        at: DateTime<Utc>,
    ) -> DbResult<i64> {
        sql(
            "INSERT INTO sign_ins (user_id, created_at, last_seen_at, ip, user_agent)
             VALUES (:user_id, :at, :at, :ip, :user_agent) RETURNING id",
        )
        .set("user_id", user_id)
        .set("at", at)
        .set("ip", ip)
        .set("user_agent", user_agent)
        .value(self.write())
        .await
    }

    async fn signed_in(&self, sign_in: i64) -> DbResult<Option<SignedIn>> {
        sql(
            "SELECT u.id, u.email, u.name, u.role, u.active, u.created_at,
                    s.created_at AS signed_in_at, s.last_seen_at
             FROM sign_ins s JOIN users u ON u.id = s.user_id
             WHERE s.id = :sign_in AND s.ended_at IS NULL",
        )
        .set("sign_in", sign_in)
        .optional(self.read())
        .await
    }

    async fn touch_sign_in(&self, sign_in: i64, at: DateTime<Utc>) -> DbResult<()> {
        sql("UPDATE sign_ins SET last_seen_at = :at WHERE id = :sign_in AND ended_at IS NULL")
            .set("sign_in", sign_in)
            .set("at", at)
            .execute(self.write())
            .await?;
        Ok(())
    }

    async fn end_sign_in(&self, user_id: i64, sign_in: i64, at: DateTime<Utc>) -> DbResult<()> {
        sql("UPDATE sign_ins SET ended_at = :at
             WHERE id = :sign_in AND user_id = :user_id AND ended_at IS NULL")
        .set("user_id", user_id)
        .set("sign_in", sign_in)
        .set("at", at)
        .change_one(self.write())
        .await
    }

    async fn end_sign_ins(
        &self,
        user_id: i64,
        keep: Option<i64>,
        at: DateTime<Utc>,
    ) -> DbResult<u64> {
        sql("UPDATE sign_ins SET ended_at = :at
             WHERE user_id = :user_id AND ended_at IS NULL AND (:keep IS NULL OR id <> :keep)")
        .set("user_id", user_id)
        .set("keep", keep)
        .set("at", at)
        .execute(self.write())
        .await
    }

    async fn list_sign_ins(&self, user_id: i64) -> DbResult<Vec<SignIn>> {
        sql(
            "SELECT id, created_at, last_seen_at, ip, user_agent FROM sign_ins
             WHERE user_id = :user_id AND ended_at IS NULL
             ORDER BY last_seen_at DESC, id DESC",
        )
        .set("user_id", user_id)
        .all(self.read())
        .await
    }
}
