//! The metrics page: DORA numbers for a window and their weekly trend.

#[cfg(feature = "ssr")]
use super::ctx;
use crate::model::*;
use chrono::NaiveDate;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One window's numbers (see `GET /api/v1/metrics/dora`), as the page shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsView {
    pub environment: String,
    pub environments: Vec<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub deploys: i64,
    pub frequency_per_day: f64,
    pub lead_median: Option<f64>,
    pub lead_p90: Option<f64>,
    pub change_failure_rate: Option<f64>,
    pub restore_median: Option<f64>,
    pub rework_rate: Option<f64>,
    /// Level names, in the order above (frequency, lead time, failure rate, restore).
    pub levels: [Option<String>; 4],
    pub weeks: Vec<WeekView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeekView {
    pub week_start: NaiveDate,
    pub deploys: i64,
    pub frequency_per_day: f64,
    pub lead_median: Option<f64>,
    pub change_failure_rate: Option<f64>,
    pub restore_median: Option<f64>,
}

#[server(prefix = "/fn", endpoint = "metrics")]
pub async fn load_metrics(
    environment: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<MetricsView, FnError> {
    use crate::server::service::{deploys, metrics, validate};
    let (state, _, _) = ctx::signed_in().await?;
    let day = |field: &str, v: Option<String>| validate::day(field, v.as_deref().unwrap_or(""));
    let (from, to) = metrics::days(day("from", from)?, day("to", to)?, state.db.now())?;
    let environment = environment
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| PRODUCTION.into());
    let d = metrics::dora(&state.db, &environment, from, to).await?;
    let weeks = metrics::weekly(&state.db, &environment, from, to).await?;
    Ok(MetricsView {
        environments: deploys::environments(&state.db).await?,
        environment: d.environment,
        from,
        to,
        deploys: d.deploys,
        frequency_per_day: d.deployment_frequency_per_day,
        lead_median: d.lead_time_hours.median,
        lead_p90: d.lead_time_hours.p90,
        change_failure_rate: d.change_failure_rate,
        restore_median: d.time_to_restore_hours.median,
        rework_rate: d.rework_rate,
        levels: [
            d.levels.deployment_frequency,
            d.levels.lead_time,
            d.levels.change_failure_rate,
            d.levels.time_to_restore,
        ],
        weeks: weeks
            .into_iter()
            .map(|w| WeekView {
                week_start: w.week_start,
                deploys: w.deploys,
                frequency_per_day: w.deployment_frequency_per_day,
                lead_median: w.lead_time_median_hours,
                change_failure_rate: w.change_failure_rate,
                restore_median: w.time_to_restore_median_hours,
            })
            .collect(),
    })
}
