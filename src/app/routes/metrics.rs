use crate::api::error_text;
use crate::api::metrics::{load_metrics, MetricsView, WeekView};
use crate::app::components::{layout::AppLayout, ErrorNote};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

fn hours(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(h) if h < 48.0 => format!("{h:.1} h"),
        Some(h) => format!("{:.1} days", h / 24.0),
    }
}

fn share(v: Option<f64>) -> String {
    v.map(|x| format!("{:.0} %", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn level_badge(level: &Option<String>) -> impl IntoView {
    level.clone().map(|l| {
        let class = match l.as_str() {
            "elite" | "high" => "badge incident-resolved",
            "medium" => "badge incident-mitigated",
            _ => "badge incident-open",
        };
        view! { <span class=class>{l}</span> }
    })
}

/// The DORA metrics for a window (a plain GET form, so it works without
/// JavaScript), weekly trends as SVG drawn on the server with tables
/// beneath, and CSV export.
#[component]
pub fn MetricsPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |k: &str| query.read().get(k).filter(|v| !v.is_empty());
    let data = Resource::new(
        move || (param("environment"), param("from"), param("to")),
        |(environment, from, to)| load_metrics(environment, from, to),
    );
    view! {
        <Title text="Metrics"/>
        <AppLayout>
            <h1>"Delivery metrics"</h1>
            <Transition fallback=|| view! { <p>"Loading metrics…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(v) => metrics_view(v).into_any(),
                    }
                })}
            </Transition>
        </AppLayout>
    }
}

fn metrics_view(v: MetricsView) -> impl IntoView {
    let options = v
        .environments
        .iter()
        .map(
            |e| view! { <option value=e.clone() selected=*e == v.environment>{e.clone()}</option> },
        )
        .collect_view();
    let csv = format!(
        "/app/metrics/dora.csv?environment={}&from={}&to={}",
        v.environment, v.from, v.to
    );
    let cards = [
        ("Deployment frequency", format!("{:.2} a day", v.frequency_per_day), &v.levels[0]),
        ("Lead time for changes", format!("{} (p90 {})", hours(v.lead_median), hours(v.lead_p90)), &v.levels[1]),
        ("Change failure rate", share(v.change_failure_rate), &v.levels[2]),
        ("Time to restore", hours(v.restore_median), &v.levels[3]),
    ]
    .into_iter()
    .map(|(name, value, level)| {
        view! { <div class="panel metric"><h2>{name}</h2><p class="metric-value">{value}</p>{level_badge(level)}</div> }
    })
    .collect_view();
    let weeks = v.weeks.clone();
    let rows = weeks
        .iter()
        .map(|w| {
            view! {
                <tr><th scope="row">{w.week_start.to_string()}</th><td>{w.deploys}</td><td>{format!("{:.2}", w.frequency_per_day)}</td>
                    <td>{hours(w.lead_median)}</td><td>{share(w.change_failure_rate)}</td><td>{hours(w.restore_median)}</td></tr>
            }
        })
        .collect_view();
    view! {
        <form method="get" action="/app/metrics" class="panel row-actions" aria-label="Window">
            <label>"Environment"<select name="environment">{options}</select></label>
            <label>"From"<input type="date" name="from" value=v.from.to_string()/></label>
            <label>"To"<input type="date" name="to" value=v.to.to_string()/></label>
            <button type="submit" class="button">"Show"</button>
            <a href=csv rel="external" download="dora.csv">"Export CSV"</a>
        </form>
        <p class="muted">{format!("{} finished deploys to {} from {} to {}; rework rate {}.", v.deploys, v.environment, v.from, v.to, share(v.rework_rate))}</p>
        <div class="grid4 metrics">{cards}</div>
        <section aria-labelledby="trend-h">
            <h2 id="trend-h">"Week by week"</h2>
            <div class="grid2">
                <figure><figcaption>"Deploys"</figcaption>{week_chart("deploys", &weeks, |w| Some(w.deploys as f64))}</figure>
                <figure><figcaption>"Lead time (median hours)"</figcaption>{week_chart("lead-time", &weeks, |w| w.lead_median)}</figure>
                <figure><figcaption>"Change failure rate (%)"</figcaption>{week_chart("failure-rate", &weeks, |w| w.change_failure_rate.map(|x| x * 100.0))}</figure>
                <figure><figcaption>"Time to restore (median hours)"</figcaption>{week_chart("restore", &weeks, |w| w.restore_median)}</figure>
            </div>
            <table class="table chart-table" aria-label="Delivery metrics week by week">
                <thead><tr><th scope="col">"Week of"</th><th scope="col">"Deploys"</th><th scope="col">"A day"</th><th scope="col">"Lead time"</th><th scope="col">"Failure rate"</th><th scope="col">"Time to restore"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

/// One bar per week (none where the week has no value); the table beneath
/// carries the numbers for screen readers.
fn week_chart(
    id: &'static str,
    weeks: &[WeekView],
    value: fn(&WeekView) -> Option<f64>,
) -> impl IntoView {
    let (width, height, top, bottom) = (480.0f64, 160.0f64, 16.0f64, 24.0f64);
    let plot = height - top - bottom;
    let max = weeks
        .iter()
        .filter_map(value)
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let slot = width / weeks.len().max(1) as f64;
    let bars = weeks
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let x = i as f64 * slot + 4.0;
            let v = value(w);
            let h = v.map(|v| (v / max * plot).max(1.0)).unwrap_or(0.0);
            let label = w.week_start.format("%m-%d").to_string();
            view! {
                <rect x=format!("{x:.1}") y=format!("{:.1}", top + plot - h) width=format!("{:.1}", (slot - 8.0).max(2.0)) height=format!("{h:.1}") class="chart-bar"></rect>
                <text x=format!("{:.1}", x + (slot - 8.0) / 2.0) y=format!("{:.1}", height - 8.0) text-anchor="middle" class="chart-label">{label}</text>
            }
        })
        .collect_view();
    view! {
        <svg class="chart" data-chart=id viewBox=format!("0 0 {width} {height}") width="100%" aria-hidden="true" focusable="false">
            <line x1="0" y1=format!("{:.1}", top + plot) x2=format!("{width}") y2=format!("{:.1}", top + plot) class="chart-axis"></line>
            {bars}
        </svg>
    }
}
