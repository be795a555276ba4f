//! Environments and their deploy nights: the kind of each, its schedule, what
//! is on it now, and the calendar of nights deployed, skipped (and why) or
//! flagged because nobody said why.

use super::{validate, Actor};
use crate::model::*;
use crate::server::db::{BlockQuery, Db, DbError, EnvironmentRow};
use crate::server::error::AppError;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

/// A night's deploys count from noon until this hour the next morning.
const NIGHT_ENDS_HOUR: u32 = 6;
/// The longest calendar one request reads.
const MAX_CALENDAR_DAYS: i64 = 370;

/// An environment as an admin creates or changes it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentInput {
    /// Ignored when changing one (the slug is in the path).
    #[serde(default)]
    pub slug: String,
    pub kind: EnvironmentKind,
    /// ISO weekdays of its deploy nights (1 = Monday ... 7 = Sunday).
    #[serde(default)]
    pub schedule_days: Vec<u32>,
    /// `HH:MM` in the team's time zone; required with days.
    pub schedule_time: Option<String>,
}

/// A schedule as stored: its days and its start time.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub days: Vec<u32>,
    pub time: NaiveTime,
}

impl Schedule {
    pub fn of(row: &EnvironmentRow) -> Option<Schedule> {
        let days = parse_days(&row.schedule_days);
        let time = NaiveTime::parse_from_str(row.schedule_time.as_deref()?, "%H:%M").ok()?;
        (!days.is_empty()).then_some(Schedule { days, time })
    }

    pub fn is_night(&self, day: NaiveDate) -> bool {
        self.days.contains(&day.weekday().number_from_monday())
    }

    /// When the night of `day` starts, in UTC.
    pub fn starts(&self, day: NaiveDate, tz: Tz) -> DateTime<Utc> {
        local(day, self.time, tz)
    }

    /// The next night that is not over at `now`: (its day, when it starts).
    pub fn next(&self, now: DateTime<Utc>, tz: Tz) -> Option<(NaiveDate, DateTime<Utc>)> {
        let today = now.with_timezone(&tz).date_naive();
        let mut day = today.pred_opt()?;
        for _ in 0..9 {
            if self.is_night(day) && night_ends(day, tz) > now {
                return Some((day, self.starts(day, tz)));
            }
            day = day.succ_opt()?;
        }
        None
    }
}

fn local(day: NaiveDate, time: NaiveTime, tz: Tz) -> DateTime<Utc> {
    tz.from_local_datetime(&day.and_time(time))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        // A time skipped by a clock change: an hour later exists.
        .unwrap_or_else(|| Utc.from_utc_datetime(&day.and_time(time)))
}

/// When the night of `day` is over: the next morning.
pub fn night_ends(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let morning = day.succ_opt().unwrap_or(day);
    local(
        morning,
        NaiveTime::from_hms_opt(NIGHT_ENDS_HOUR, 0, 0).expect("a time"),
        tz,
    )
}

fn night_window(day: NaiveDate, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        local(day, NaiveTime::from_hms_opt(12, 0, 0).expect("a time"), tz),
        night_ends(day, tz),
    )
}

fn parse_days(text: &str) -> Vec<u32> {
    text.split(',')
        .filter_map(|d| d.trim().parse().ok())
        .filter(|d| (1..=7).contains(d))
        .collect()
}

/// The end of the next deploy night (deploys run on weeknights): 06:00 in
/// `tz` on the morning after the next weeknight from `now`.
pub fn after_next_deploy_night(now: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let local = now.with_timezone(&tz);
    let mut night = local.date_naive();
    // Tonight counts until its deploys are done; from 06:00 on it is "the next".
    loop {
        let weekday = night.weekday();
        if weekday != Weekday::Sat && weekday != Weekday::Sun {
            break;
        }
        night = night.succ_opt().expect("a next day");
    }
    let morning = night.succ_opt().expect("a next day");
    tz.with_ymd_and_hms(morning.year(), morning.month(), morning.day(), 6, 0, 0)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now + TimeDelta::days(1))
}

/// When a block placed now ends by default: the morning after the next
/// deploy night of its environment (weeknights when it has no schedule).
pub async fn block_default_expiry(
    db: &Db,
    environment: &str,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<DateTime<Utc>, AppError> {
    Ok(
        match schedule_of(db, environment)
            .await?
            .and_then(|s| s.next(now, tz))
        {
            Some((day, _)) => night_ends(day, tz),
            None => after_next_deploy_night(now, tz),
        },
    )
}

fn checked(input: EnvironmentInput, slug: String) -> Result<EnvironmentRow, AppError> {
    let mut days = input.schedule_days;
    days.sort_unstable();
    days.dedup();
    if let Some(bad) = days.iter().find(|d| !(1..=7).contains(*d)) {
        return Err(AppError::invalid(
            "schedule_days",
            format!("{bad} is not a weekday: use 1 (Monday) to 7 (Sunday)"),
        ));
    }
    let time = match input.schedule_time.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(
            NaiveTime::parse_from_str(t, "%H:%M")
                .map_err(|_| {
                    AppError::invalid("schedule_time", format!("`{t}` is not a time like 21:00"))
                })?
                .format("%H:%M")
                .to_string(),
        ),
    };
    if !days.is_empty() && time.is_none() {
        return Err(AppError::invalid(
            "schedule_time",
            "say what time deploys start on those nights",
        ));
    }
    if slug == PRODUCTION && input.kind != EnvironmentKind::Production {
        return Err(AppError::invalid(
            "kind",
            "the environment `production` is always of kind production",
        ));
    }
    Ok(EnvironmentRow {
        slug,
        kind: input.kind,
        schedule_days: days
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        schedule_time: time,
    })
}

/// Every environment with what is on it now and its next night.
pub async fn list(db: &Db, tz: Tz) -> Result<Vec<Environment>, AppError> {
    let (latest, current) = db.latest_deploys().await?;
    let now = db.now();
    let mut all: Vec<Environment> = db
        .environment_rows()
        .await?
        .into_iter()
        .map(|row| {
            let on = |list: &[crate::server::db::EnvDeploy]| {
                list.iter()
                    .find(|d| d.environment == row.slug)
                    .cloned()
                    .map(OnEnvironment::from)
            };
            let schedule = Schedule::of(&row);
            Environment {
                latest: on(&latest),
                current: on(&current),
                next_night: schedule.and_then(|s| s.next(now, tz)).map(|(_, at)| at),
                schedule_days: parse_days(&row.schedule_days),
                schedule_time: row.schedule_time,
                kind: row.kind,
                slug: row.slug,
            }
        })
        .collect();
    all.sort_by_key(|e| (e.kind != EnvironmentKind::Production, e.slug.clone()));
    Ok(all)
}

/// Whether a deploy may go to `environment`: `Ok(false)` when it exists,
/// `Ok(true)` when it does not and an admin lets CI create environments
/// (the deploy then creates it), refused otherwise, naming the known ones,
/// so that a typo (`prod`) never becomes an environment of its own.
pub async fn deployable(db: &Db, environment: &str) -> Result<bool, AppError> {
    let known = db.list_environments().await?;
    if known.iter().any(|e| e == environment) {
        return Ok(false);
    }
    if db.creates_environments_from_ci().await? {
        return Ok(true);
    }
    Err(unknown(environment, &known))
}

/// The refusal of an environment nobody created, naming the ones there are.
pub fn unknown(environment: &str, known: &[String]) -> AppError {
    let names = known
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ");
    AppError::invalid(
        "environment",
        if known.is_empty() {
            format!("there is no environment `{environment}`; an admin creates environments on the Environments page")
        } else {
            format!(
                "there is no environment `{environment}`; the environments are {names}. An admin can add it on the Environments page, or let deploys create environments there"
            )
        },
    )
}

/// The kind an environment named `slug` gets when a deploy creates it.
pub fn kind_for(slug: &str) -> EnvironmentKind {
    crate::server::db::environment_kind_of(slug)
}

/// Whether deploys naming an unknown environment create it.
pub async fn creates_from_ci(db: &Db) -> Result<bool, AppError> {
    Ok(db.creates_environments_from_ci().await?)
}

/// Lets deploys create the environments they name, or not (admins).
pub async fn set_creates_from_ci(db: &Db, actor: &Actor, on: bool) -> Result<(), AppError> {
    may_manage(actor)?;
    db.set_creates_environments_from_ci(on).await?;
    tracing::info!(on, by = %actor.label, "creating environments from CI changed");
    Ok(())
}

/// Only admins manage environments; checked before any input is read.
pub fn may_manage(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role.is_admin(), "manage environments")
}

/// Creates an environment; answers its slug.
pub async fn create(db: &Db, actor: &Actor, input: EnvironmentInput) -> Result<String, AppError> {
    may_manage(actor)?;
    let slug = validate::environment_slug("slug", &input.slug)?;
    let row = checked(input, slug)?;
    db.create_environment(&row).await?;
    tracing::info!(environment = %row.slug, kind = %row.kind, by = %actor.label, "environment created");
    Ok(row.slug)
}

pub async fn update(
    db: &Db,
    actor: &Actor,
    slug: &str,
    input: EnvironmentInput,
) -> Result<(), AppError> {
    may_manage(actor)?;
    let row = checked(input, slug.to_string())?;
    db.update_environment(&row).await.map_err(|e| match e {
        DbError::NotFound => AppError::not_found(format!("There is no environment `{slug}`.")),
        other => other.into(),
    })?;
    tracing::info!(environment = %slug, by = %actor.label, "environment changed");
    Ok(())
}

async fn schedule_of(db: &Db, environment: &str) -> Result<Option<Schedule>, AppError> {
    let rows = db.environment_rows().await?;
    let row = rows.iter().find(|r| r.slug == environment).ok_or_else(|| {
        let known: Vec<String> = rows.iter().map(|r| r.slug.clone()).collect();
        unknown(environment, &known)
    })?;
    Ok(Schedule::of(row))
}

/// The nights of `environment` from `from` to `to` (inclusive), newest first.
pub async fn calendar(
    db: &Db,
    tz: Tz,
    environment: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Calendar, AppError> {
    let environment = validate::environment_slug("environment", environment)?;
    let now = db.now();
    let today = now.with_timezone(&tz).date_naive();
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - TimeDelta::days(55));
    if from > to {
        return Err(AppError::invalid("from", "the window starts after it ends"));
    }
    if (to - from).num_days() > MAX_CALENDAR_DAYS {
        return Err(AppError::invalid(
            "from",
            format!("show at most {MAX_CALENDAR_DAYS} days at once"),
        ));
    }
    let schedule = schedule_of(db, &environment).await?;
    let (start, _) = night_window(from, tz);
    let (_, end) = night_window(to, tz);
    let deploys = db.deploys_between(&environment, start, end).await?;
    let notes = db.night_notes(&environment, from, to).await?;
    let blocks = db
        .list_blocks(&BlockQuery {
            environment: Some(environment.clone()),
            holding_at: None,
            placed_in: Some((start - TimeDelta::days(31), end)),
            limit: 5000,
        })
        .await?;
    let mut nights = vec![];
    let mut day = to;
    while day >= from {
        if let Some(s) = schedule.as_ref().filter(|s| s.is_night(day)) {
            let starts_at = s.starts(day, tz);
            let (open, close) = night_window(day, tz);
            let in_night: Vec<_> = deploys
                .iter()
                .filter(|d| d.started_at >= open && d.started_at < close)
                .collect();
            let deployed = in_night
                .iter()
                .rev()
                .find(|d| d.status == DeployStatus::Succeeded);
            let note = notes.iter().find(|n| n.night == day);
            let mut night = Night {
                night: day,
                starts_at,
                state: NightState::Flagged,
                deploy_id: deployed.map(|d| d.deploy_id),
                version: deployed.map(|d| d.version.clone()),
                reason: note.map(|n| n.reason),
                note: note.and_then(|n| n.note.clone()),
                given_by: note.map(|n| n.given_by.clone()),
            };
            night.state = if deployed.is_some() {
                NightState::Deployed
            } else if close > now {
                if starts_at <= now || day == today {
                    NightState::Tonight
                } else {
                    NightState::Upcoming
                }
            } else if note.is_some() {
                NightState::Skipped
            } else if let Some(failed) = in_night
                .iter()
                .rev()
                .find(|d| matches!(d.status, DeployStatus::Failed | DeployStatus::RolledBack))
            {
                night.reason = Some(NightReason::Failed);
                night.note = Some(format!(
                    "{} {}",
                    failed.version,
                    failed.status.label().to_lowercase()
                ));
                night.given_by = Some("shiplog".into());
                NightState::Skipped
            } else if let Some(b) = blocks.iter().find(|b| b.holds_at(starts_at)) {
                night.reason = Some(NightReason::Blocked);
                night.note = Some(format!("{} ({})", b.reason, b.scope()));
                night.given_by = Some(b.placed_by.clone());
                NightState::Skipped
            } else {
                NightState::Flagged
            };
            nights.push(night);
        }
        day = match day.pred_opt() {
            Some(d) => d,
            None => break,
        };
    }
    let past: Vec<&Night> = nights
        .iter()
        .filter(|n| !matches!(n.state, NightState::Tonight | NightState::Upcoming))
        .collect();
    let deployed = past
        .iter()
        .filter(|n| n.state == NightState::Deployed)
        .count() as i64;
    let mut streak = 0;
    for n in &nights {
        match (n.state, n.reason) {
            (NightState::Tonight | NightState::Upcoming, _) => continue,
            (NightState::Deployed, _) => streak += 1,
            // A holiday neither extends nor breaks the streak.
            (NightState::Skipped, Some(NightReason::Holiday)) => continue,
            _ => break,
        }
    }
    let scheduled = past.len() as i64;
    Ok(Calendar {
        environment,
        from,
        to,
        flagged: past
            .iter()
            .filter(|n| n.state == NightState::Flagged)
            .count() as i64,
        streak,
        scheduled,
        deployed,
        share_deployed: (scheduled > 0).then(|| deployed as f64 / scheduled as f64),
        nights,
    })
}

/// A reason for a night, as someone gives it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NightInput {
    /// `blocked`, `no_build`, `failed`, `holiday` or `chosen`; `null` takes
    /// the reason back.
    pub reason: Option<NightReason>,
    pub note: Option<String>,
}

/// Says why a night had (or will have) no deploy. Anyone on the team may.
pub async fn explain_night(
    db: &Db,
    tz: Tz,
    actor: &Actor,
    environment: &str,
    night: NaiveDate,
    input: NightInput,
) -> Result<(), AppError> {
    let environment = validate::environment_slug("environment", environment)?;
    let Some(schedule) = schedule_of(db, &environment).await? else {
        return Err(AppError::invalid(
            "environment",
            format!("`{environment}` has no deploy nights"),
        ));
    };
    if !schedule.is_night(night) {
        return Err(AppError::invalid(
            "night",
            format!("{night} is not a deploy night of {environment}"),
        ));
    }
    let today = db.now().with_timezone(&tz).date_naive();
    if (night - today).num_days().abs() > 366 {
        return Err(AppError::invalid("night", "pick a night within a year"));
    }
    let note = match input.note.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) if n.chars().count() > 1000 => {
            return Err(AppError::invalid(
                "note",
                "keep the note under 1,000 characters",
            ))
        }
        Some(n) => Some(n.to_string()),
    };
    db.set_night_note(
        &environment,
        night,
        input.reason.map(|r| (r, note, actor.label.clone())),
    )
    .await?;
    tracing::info!(environment = %environment, %night, by = %actor.label, "night explained");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_night_is_tonight_until_morning() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let s = Schedule {
            days: vec![1, 2, 3, 4, 5],
            time: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
        };
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().to_utc();
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        // Friday 23:00 in Paris: still Friday's night.
        assert_eq!(
            s.next(at("2026-11-27T22:00:00Z"), tz).unwrap().0,
            day("2026-11-27")
        );
        // Saturday noon: Monday.
        assert_eq!(
            s.next(at("2026-11-28T11:00:00Z"), tz).unwrap().0,
            day("2026-11-30")
        );
        assert_eq!(
            s.next(at("2026-11-28T11:00:00Z"), tz).unwrap().1,
            at("2026-11-30T20:00:00Z")
        );
        assert_eq!(
            night_ends(day("2026-11-30"), tz),
            at("2026-12-01T05:00:00Z")
        );
    }
}
