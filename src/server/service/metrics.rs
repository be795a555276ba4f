//! DORA metrics for an environment over a window of whole days (UTC):
//! deployment frequency, lead time for changes, change failure rate, time to
//! restore and rework rate, each with the DORA report's performance level
//! where it has one, and the same week by week for the trend.

use super::validate;
use crate::server::db::Db;
use crate::server::error::AppError;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The longest window, in days.
const MAX_DAYS: i64 = 731;

/// Median and 90th percentile, in hours.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Spread {
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// A median, in hours.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Median {
    pub median: Option<f64>,
}

/// Where a number stands in the DORA report: `elite`, `high`, `medium`, `low`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Levels {
    pub deployment_frequency: Option<String>,
    pub lead_time: Option<String>,
    pub change_failure_rate: Option<String>,
    pub time_to_restore: Option<String>,
}

/// The DORA metrics of one window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dora {
    pub environment: String,
    /// First day (inclusive, UTC).
    pub from: NaiveDate,
    /// Last day (inclusive, UTC).
    pub to: NaiveDate,
    pub days: i64,
    /// Finished deploys in the window: succeeded, failed or rolled back, by `finished_at`.
    pub deploys: i64,
    pub succeeded: i64,
    /// Succeeded deploys per day.
    pub deployment_frequency_per_day: f64,
    /// From a commit's author time to the succeeded deploy that shipped it.
    pub lead_time_hours: Spread,
    /// Deploys that failed, were rolled back or caused an incident, over `deploys`.
    pub change_failure_rate: Option<f64>,
    /// From detection to resolution, of incidents resolved in the window.
    pub time_to_restore_hours: Median,
    /// Succeeded deploys that fixed an incident, over succeeded deploys.
    pub rework_rate: Option<f64>,
    pub levels: Levels,
}

/// One week's numbers, for the trend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoraWeek {
    pub week_start: NaiveDate,
    pub deploys: i64,
    pub deployment_frequency_per_day: f64,
    pub lead_time_median_hours: Option<f64>,
    pub change_failure_rate: Option<f64>,
    pub time_to_restore_median_hours: Option<f64>,
}

/// The value at quantile `q` (0..=1) of sorted `values`, interpolated
/// linearly between the two nearest ranks.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

fn hours(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 3_600_000.0
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

fn level(value: Option<f64>, bounds: [f64; 3], higher_is_better: bool) -> Option<String> {
    let v = value?;
    let names = ["elite", "high", "medium", "low"];
    let i = bounds
        .iter()
        .position(|b| if higher_is_better { v >= *b } else { v <= *b })
        .unwrap_or(3);
    Some(names[i].to_string())
}

/// The DORA report's levels: deploys at least daily, weekly, monthly; lead
/// time within a day, a week, a month; change failure rate at most 5, 10,
/// 15 %; time to restore within an hour, a day, a week.
pub fn levels(d: &Dora) -> Levels {
    Levels {
        deployment_frequency: (d.deploys > 0 || d.days > 0)
            .then(|| {
                level(
                    Some(d.deployment_frequency_per_day),
                    [1.0, 1.0 / 7.0, 1.0 / 30.0],
                    true,
                )
            })
            .flatten(),
        lead_time: level(
            d.lead_time_hours.median,
            [24.0, 24.0 * 7.0, 24.0 * 30.0],
            false,
        ),
        change_failure_rate: level(d.change_failure_rate, [0.05, 0.10, 0.15], false),
        time_to_restore: level(
            d.time_to_restore_hours.median,
            [1.0, 24.0, 24.0 * 7.0],
            false,
        ),
    }
}

fn window(from: NaiveDate, to: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        from.and_time(chrono::NaiveTime::MIN).and_utc(),
        (to + TimeDelta::days(1))
            .and_time(chrono::NaiveTime::MIN)
            .and_utc(),
    )
}

/// Checks a window: `to` defaults to today (by `now`), `from` to 29 days before `to`.
pub fn days(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<(NaiveDate, NaiveDate), AppError> {
    let to = to.unwrap_or_else(|| now.date_naive());
    let from = from.unwrap_or(to - TimeDelta::days(29));
    if from > to {
        return Err(AppError::invalid(
            "from",
            "the window must start on or before its last day",
        ));
    }
    if (to - from).num_days() + 1 > MAX_DAYS {
        return Err(AppError::invalid(
            "from",
            format!("a window covers at most {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

/// The DORA metrics of `environment` from `from` to `to`, both inclusive.
pub async fn dora(
    db: &Db,
    environment: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Dora, AppError> {
    let environment = validate::environment_slug("environment", environment)?;
    let (start, until) = window(from, to);
    let deploys = db.finished_deploys(&environment, start, until).await?;
    let ages = db.commit_ages(&environment, start, until).await?;
    let restores = db.restores(&environment, start, until).await?;
    let total = deploys.len() as i64;
    let succeeded = deploys.iter().filter(|d| d.status == "succeeded").count() as i64;
    let failing = deploys
        .iter()
        .filter(|d| d.status != "succeeded" || d.caused_incident)
        .count() as i64;
    let rework = deploys
        .iter()
        .filter(|d| d.status == "succeeded" && d.fixed_incident)
        .count() as i64;
    let lead = sorted(
        ages.iter()
            .map(|(shipped, authored)| hours(*authored, *shipped))
            .collect(),
    );
    let restore = sorted(
        restores
            .iter()
            .map(|(detected, resolved)| hours(*detected, *resolved))
            .collect(),
    );
    let days = (to - from).num_days() + 1;
    let mut d = Dora {
        environment,
        from,
        to,
        days,
        deploys: total,
        succeeded,
        deployment_frequency_per_day: succeeded as f64 / days as f64,
        lead_time_hours: Spread {
            median: quantile(&lead, 0.5),
            p90: quantile(&lead, 0.9),
        },
        change_failure_rate: (total > 0).then(|| failing as f64 / total as f64),
        time_to_restore_hours: Median {
            median: quantile(&restore, 0.5),
        },
        rework_rate: (succeeded > 0).then(|| rework as f64 / succeeded as f64),
        levels: Levels {
            deployment_frequency: None,
            lead_time: None,
            change_failure_rate: None,
            time_to_restore: None,
        },
    };
    d.levels = levels(&d);
    Ok(d)
}

/// The same numbers week by week (weeks start on Monday), for the trend.
pub async fn weekly(
    db: &Db,
    environment: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DoraWeek>, AppError> {
    use chrono::Datelike;
    let mut week = from - TimeDelta::days(from.weekday().num_days_from_monday() as i64);
    let mut out = vec![];
    while week <= to {
        let end = week + TimeDelta::days(6);
        let d = dora(db, environment, week, end).await?;
        out.push(DoraWeek {
            week_start: week,
            deploys: d.deploys,
            deployment_frequency_per_day: d.deployment_frequency_per_day,
            lead_time_median_hours: d.lead_time_hours.median,
            change_failure_rate: d.change_failure_rate,
            time_to_restore_median_hours: d.time_to_restore_hours.median,
        });
        week = end + TimeDelta::days(1);
    }
    Ok(out)
}

/// The weekly trend as CSV, a header row first.
pub fn weekly_csv(weeks: &[DoraWeek]) -> String {
    let num = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
    let mut out = String::from(
        "week_start,deploys,deployment_frequency_per_day,lead_time_median_hours,change_failure_rate,time_to_restore_median_hours\n",
    );
    for w in weeks {
        out.push_str(&format!(
            "{},{},{:.3},{},{},{}\n",
            w.week_start,
            w.deploys,
            w.deployment_frequency_per_day,
            num(w.lead_time_median_hours),
            num(w.change_failure_rate),
            num(w.time_to_restore_median_hours)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[3.0], 0.9), Some(3.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert!(
            (quantile(
                &[0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0],
                0.9
            )
            .unwrap()
                - 90.0)
                .abs()
                < 1e-9
        );
    }

    #[test]
    fn levels_follow_the_dora_report() {
        assert_eq!(
            level(Some(2.0), [1.0, 1.0 / 7.0, 1.0 / 30.0], true).as_deref(),
            Some("elite")
        );
        assert_eq!(
            level(Some(0.2), [1.0, 1.0 / 7.0, 1.0 / 30.0], true).as_deref(),
            Some("high")
        );
        assert_eq!(
            level(Some(0.01), [1.0, 1.0 / 7.0, 1.0 / 30.0], true).as_deref(),
            Some("low")
        );
        assert_eq!(
            level(Some(0.12), [0.05, 0.10, 0.15], false).as_deref(),
            Some("medium")
        );
        assert_eq!(level(None, [0.05, 0.10, 0.15], false), None);
    }
}
