use crate::api::error_text;
use crate::api::holes::load_holes;
use crate::app::components::{layout::AppLayout, ErrorNote};
use crate::model::*;
use leptos::prelude::*;
use leptos_meta::Title;

/// Open holes by area and component, and holes found and repaired per
/// month: charts drawn as SVG on the server (no JavaScript needed), each
/// with its table beneath for screen readers.
#[component]
pub fn HolesPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_holes());
    view! {
        <Title text="Holes in testing and monitoring"/>
        <AppLayout>
            <h1>"Holes in testing and monitoring"</h1>
            <p class="lede">"What let defects through, and whether the team repairs holes as fast as it finds them. A hole closes when its action is done."</p>
            <Transition fallback=|| view! { <p>"Loading holes…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e)/> }.into_any(),
                        Ok(r) => holes_view(r).into_any(),
                    }
                })}
            </Transition>
        </AppLayout>
    }
}

fn holes_view(r: HolesReport) -> impl IntoView {
    let open_rows = r
        .open
        .iter()
        .map(|h| {
            view! {
                <tr>
                    <td><a href=format!("/app/incidents/{}", h.incident_id)>{incident_number(h.incident_id)}</a></td>
                    <td>{format!("{} · {}", h.kind.label(), h.area.label())}</td>
                    <td>{h.component.clone().unwrap_or_else(|| "—".into())}</td>
                    <td>{h.description.clone()}</td>
                    <td><a href="/app/actions">{action_number(h.action_id)}</a>" "{h.action_status.label()}</td>
                </tr>
            }
        })
        .collect_view();
    let months_rows = r
        .months
        .iter()
        .map(|m| view! { <tr><th scope="row">{m.month.clone()}</th><td>{m.found}</td><td>{m.repaired}</td></tr> })
        .collect_view();
    view! {
        <div class="grid2">
            <section aria-labelledby="by-area-h" class="panel">
                <h2 id="by-area-h">{format!("Open holes by kind ({})", r.open.len())}</h2>
                {count_chart("by-area", &r.by_area)}
                {count_table("Open holes by kind and area", "Kind and area", &r.by_area)}
            </section>
            <section aria-labelledby="by-component-h" class="panel">
                <h2 id="by-component-h">"Open holes by component"</h2>
                {count_chart("by-component", &r.by_component)}
                {count_table("Open holes by component", "Component", &r.by_component)}
            </section>
        </div>
        <section aria-labelledby="months-h" class="panel">
            <h2 id="months-h">"Found and repaired, per month"</h2>
            {month_chart(&r.months)}
            <table class="table chart-table" aria-label="Holes found and repaired per month">
                <thead><tr><th scope="col">"Month"</th><th scope="col">"Found"</th><th scope="col">"Repaired"</th></tr></thead>
                <tbody>{months_rows}</tbody>
            </table>
        </section>
        <section aria-labelledby="open-h">
            <h2 id="open-h">"Open holes"</h2>
            {if r.open.is_empty() {
                view! { <p class="empty">"No open holes: every one found has been repaired."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead><tr><th scope="col">"Incident"</th><th scope="col">"Hole"</th><th scope="col">"Component"</th><th scope="col">"What was missing"</th><th scope="col">"Action"</th></tr></thead>
                        <tbody>{open_rows}</tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

fn count_table(label: &'static str, what: &'static str, rows: &[HoleCount]) -> impl IntoView {
    let body = rows
        .iter()
        .map(|c| view! { <tr><th scope="row">{c.label.clone()}</th><td>{c.count}</td></tr> })
        .collect_view();
    view! {
        <table class="table chart-table" aria-label=label>
            <thead><tr><th scope="col">{what}</th><th scope="col">"Open holes"</th></tr></thead>
            <tbody>{body}</tbody>
        </table>
    }
}

const LABEL_W: i64 = 190;
const BAR_W: i64 = 250;
const ROW_H: i64 = 26;

/// A horizontal bar per label; hidden from screen readers, who read the table.
fn count_chart(id: &'static str, rows: &[HoleCount]) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"None open."</p> }.into_any();
    }
    let max = rows.iter().map(|c| c.count).max().unwrap_or(1).max(1);
    let height = ROW_H * rows.len() as i64 + 4;
    let width = LABEL_W + BAR_W + 40;
    let bars = rows
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let y = i as i64 * ROW_H;
            let w = (c.count * BAR_W / max).max(2);
            let label: String = c.label.chars().take(30).collect();
            view! {
                <text x=LABEL_W - 8 y=y + 17 text-anchor="end" class="chart-label">{label}</text>
                <rect x=LABEL_W y=y + 4 width=w height=ROW_H - 8 rx="3" class="chart-bar"></rect>
                <text x=LABEL_W + w + 6 y=y + 17 class="chart-value">{c.count}</text>
            }
        })
        .collect_view();
    view! {
        <svg class="chart" data-chart=id viewBox=format!("0 0 {width} {height}") width="100%" aria-hidden="true" focusable="false"
            preserveAspectRatio="xMinYMin meet">
            {bars}
        </svg>
    }
    .into_any()
}

/// Found and repaired side by side for each month.
fn month_chart(months: &[HoleMonth]) -> impl IntoView {
    let (width, height, top, bottom) = (640i64, 200i64, 24i64, 30i64);
    let plot = height - top - bottom;
    let max = months
        .iter()
        .map(|m| m.found.max(m.repaired))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = width / months.len().max(1) as i64;
    let bar = (slot - 12) / 2;
    let groups = months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let x = i as i64 * slot + 6;
            let fh = m.found * plot / max;
            let rh = m.repaired * plot / max;
            let label = m.month.get(2..).unwrap_or(&m.month).to_string();
            view! {
                <rect x=x y=top + plot - fh width=bar height=fh class="chart-found"></rect>
                <rect x=x + bar y=top + plot - rh width=bar height=rh class="chart-repaired"></rect>
                <text x=x + bar y=height - 10 text-anchor="middle" class="chart-label">{label}</text>
            }
        })
        .collect_view();
    view! {
        <svg class="chart" data-chart="months" viewBox=format!("0 0 {width} {height}") width="100%" aria-hidden="true" focusable="false">
            <rect x="4" y="4" width="12" height="12" class="chart-found"></rect>
            <text x="20" y="15" class="chart-label">"Found"</text>
            <rect x="80" y="4" width="12" height="12" class="chart-repaired"></rect>
            <text x="96" y="15" class="chart-label">"Repaired"</text>
            <line x1="0" y1=top + plot x2=width y2=top + plot class="chart-axis"></line>
            {groups}
        </svg>
    }
}
