//! Where people are signed in: each browser session is a row (a sign-in)
//! with when it began and was last seen. A session ends when its person signs
//! out, ends it from another browser, is deactivated, or when it outlives its
//! idle or absolute lifetime. Nothing here knows about cookies.

use crate::model::{SignIn, User};
use crate::server::db::{Db, DbError};
use crate::server::error::AppError;
use chrono::{DateTime, TimeDelta, Utc};

pub use crate::server::config::Lifetimes;

/// A session's last-seen time is written at most this often: one write a
/// minute per active browser, not one per request.
pub const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Still valid; `touch` when its last-seen time should be written.
    Valid {
        touch: bool,
    },
    Expired,
}

/// Whether a session begun at `began` and last seen at `seen` is still valid at `now`.
pub fn judge(
    began: DateTime<Utc>,
    seen: DateTime<Utc>,
    now: DateTime<Utc>,
    life: Lifetimes,
) -> Verdict {
    if now - seen > life.idle || now - began > life.max {
        Verdict::Expired
    } else {
        Verdict::Valid {
            touch: now - seen >= TOUCH_EVERY,
        }
    }
}

/// Records a new sign-in for this person from this browser.
pub async fn begin(db: &Db, user: &User, ip: &str, user_agent: &str) -> Result<i64, AppError> {
    // A User-Agent is only shown to its owner; a long one is cut, not refused.
    let agent: String = user_agent.chars().take(400).collect();
    Ok(db.create_sign_in(user.id, ip, &agent, db.now()).await?)
}

/// What a request carrying this sign-in finds: its active person, or nobody
/// (the sign-in ended, expired just now, or its person was deactivated).
/// The second value says the last-seen time was just written.
pub async fn resume(
    db: &Db,
    sign_in: i64,
    life: Lifetimes,
) -> Result<(Option<User>, bool), AppError> {
    let Some(found) = db.signed_in(sign_in).await? else {
        return Ok((None, false));
    };
    let now = db.now();
    match judge(found.signed_in_at, found.last_seen_at, now, life) {
        Verdict::Expired => {
            end_quietly(db, found.user.id, sign_in).await?;
            Ok((None, false))
        }
        Verdict::Valid { .. } if !found.user.active => Ok((None, false)),
        Verdict::Valid { touch } => {
            if touch {
                db.touch_sign_in(sign_in, now).await?;
            }
            Ok((Some(found.user), touch))
        }
    }
}

/// Ends a sign-in on signing out; one already ended is fine.
pub async fn end_quietly(db: &Db, user_id: i64, sign_in: i64) -> Result<(), AppError> {
    match db.end_sign_in(user_id, sign_in, db.now()).await {
        Ok(()) | Err(DbError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// This person's sessions, marking the one asking.
pub async fn list(db: &Db, user: &User, current: i64) -> Result<Vec<SignIn>, AppError> {
    let mut all = db.list_sign_ins(user.id).await?;
    for s in &mut all {
        s.current = s.id == current;
    }
    Ok(all)
}

/// Signs one of this person's other browsers out.
pub async fn end(db: &Db, user: &User, current: i64, id: i64) -> Result<(), AppError> {
    if id == current {
        return Err(AppError::invalid(
            "id",
            "This is the session you are using: sign out instead.",
        ));
    }
    db.end_sign_in(user.id, id, db.now())
        .await
        .map_err(|e| match e {
            DbError::NotFound => AppError::not_found("There is no such session of yours."),
            e => e.into(),
        })
}

/// Signs every other browser of this person out; answers how many.
pub async fn end_others(db: &Db, user: &User, current: i64) -> Result<u64, AppError> {
    Ok(db.end_sign_ins(user.id, Some(current), db.now()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFE: Lifetimes = Lifetimes {
        idle: TimeDelta::hours(12),
        max: TimeDelta::days(7),
    };

    #[test]
    fn sessions_expire_when_idle_or_too_old() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let h = TimeDelta::hours;
        // Fresh: valid, nothing to write.
        assert_eq!(
            judge(t0, t0, t0 + TimeDelta::seconds(30), LIFE),
            Verdict::Valid { touch: false }
        );
        // Seen a minute ago: valid, and the last-seen time is written.
        assert_eq!(
            judge(t0, t0, t0 + TimeDelta::minutes(1), LIFE),
            Verdict::Valid { touch: true }
        );
        // Idle just within, then just past, the idle lifetime.
        assert_eq!(
            judge(t0, t0, t0 + h(12), LIFE),
            Verdict::Valid { touch: true }
        );
        assert_eq!(
            judge(t0, t0, t0 + h(12) + TimeDelta::seconds(1), LIFE),
            Verdict::Expired
        );
        // Used every hour, it still ends at the absolute lifetime.
        let now = t0 + TimeDelta::days(7) + TimeDelta::seconds(1);
        assert_eq!(judge(t0, now - h(1), now, LIFE), Verdict::Expired);
        assert_eq!(
            judge(t0, now - h(1), now - TimeDelta::seconds(2), LIFE),
            Verdict::Valid { touch: true }
        );
    }
}
