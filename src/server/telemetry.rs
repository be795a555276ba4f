//! What the process counts, in Prometheus' text format: requests by route,
//! method and status, latency histograms by route, the engine's and the
//! scheduler's runs, and (handed in by `scrape`) the database pools and the
//! mail and webhook queues.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// What the process counted since it started.
#[derive(Default)]
pub struct Telemetry {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    pub engine_runs: AtomicU64,
    pub engine_failures: AtomicU64,
    pub scheduler_runs: AtomicU64,
    pub scheduler_failures: AtomicU64,
    /// Connections closed on arrival: their address held too many already.
    pub connections_refused: AtomicU64,
}

static TELEMETRY: LazyLock<Telemetry> = LazyLock::new(Telemetry::default);

pub fn global() -> &'static Telemetry {
    &TELEMETRY
}

/// A route's name with its variable parts named, so that the number of
/// series stays small: `/api/v1/blocks/{id}`, `/releases/{slug}`. Answers
/// `404` are one series, whatever was asked.
pub fn route_label(path: &str, status: u16) -> String {
    if status == 404 {
        return "unmatched".into();
    }
    if path.starts_with("/pkg/") || path.starts_with("/assets/") || path.starts_with("/favicon") {
        return "static".into();
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = String::new();
    let mut previous_named = "";
    for (i, s) in segments.iter().enumerate() {
        let previous = i.checked_sub(1).map(|j| segments[j]);
        let named = match previous {
            _ if s.chars().all(|c| c.is_ascii_digit()) => "{id}",
            _ if previous_named == "{name}" && segments.get(2) == Some(&"calendar") => "{night}",
            Some("a") if i == 1 => "{link}",
            Some("invite" | "subscription" | "unsubscribe") => "{token}",
            Some("releases") => "{slug}",
            Some("environments" | "components" | "rules" | "calendar") => "{name}",
            _ => s,
        };
        previous_named = named;
        out.push('/');
        out.push_str(named);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Times and counts every request.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let path = req.uri().path().to_string();
    let method = req.method().to_string();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    global().record(
        &route_label(&path, status),
        &method,
        status,
        start.elapsed().as_secs_f64(),
    );
    res
}

impl Telemetry {
    fn record(&self, route: &str, method: &str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((route.to_string(), method.to_string(), status))
                .or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route.to_string()).or_default();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if seconds <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds;
            h.count += 1;
        }
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// What the database reports beside the counters: its pools (name, open,
/// idle) and the messages waiting (subscriber mail, webhook deliveries).
pub struct Storage {
    pub pools: Vec<(&'static str, u32, usize)>,
    pub queues: (i64, i64),
}

/// The text Prometheus scrapes.
pub fn render(storage: &Storage) -> String {
    let t = global();
    let mut out = String::new();
    out.push_str(
        "# HELP shiplog_http_requests_total Requests answered, by route, method and status.\n",
    );
    out.push_str("# TYPE shiplog_http_requests_total counter\n");
    for ((route, method, status), n) in t.requests.lock().map(|r| r.clone()).unwrap_or_default() {
        let _ = writeln!(
            out,
            "shiplog_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
            escape(&route),
            escape(&method)
        );
    }
    out.push_str("# HELP shiplog_http_request_duration_seconds Time to answer, by route.\n");
    out.push_str("# TYPE shiplog_http_request_duration_seconds histogram\n");
    if let Ok(latency) = t.latency.lock() {
        for (route, h) in latency.iter() {
            let route = escape(route);
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "shiplog_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "shiplog_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "shiplog_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "shiplog_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
    }
    out.push_str("# HELP shiplog_db_connections Database connections, by pool and state.\n");
    out.push_str("# TYPE shiplog_db_connections gauge\n");
    for (pool, size, idle) in &storage.pools {
        let _ = writeln!(
            out,
            "shiplog_db_connections{{pool=\"{pool}\",state=\"open\"}} {size}"
        );
        let _ = writeln!(
            out,
            "shiplog_db_connections{{pool=\"{pool}\",state=\"idle\"}} {idle}"
        );
    }
    let counters = [
        (
            "shiplog_engine_runs_total",
            "Passes of the delivery engine (mail, reminders).",
            &t.engine_runs,
        ),
        (
            "shiplog_engine_failures_total",
            "Engine passes that failed (retried).",
            &t.engine_failures,
        ),
        (
            "shiplog_connections_refused_total",
            "Connections closed on arrival because their address held too many.",
            &t.connections_refused,
        ),
        (
            "shiplog_scheduler_runs_total",
            "Passes of the release scheduler.",
            &t.scheduler_runs,
        ),
        (
            "shiplog_scheduler_failures_total",
            "Scheduler passes that failed.",
            &t.scheduler_failures,
        ),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            value.load(Ordering::Relaxed)
        );
    }
    let (mail, webhooks) = storage.queues;
    out.push_str("# HELP shiplog_queue_depth Messages waiting to be sent, by queue.\n");
    out.push_str("# TYPE shiplog_queue_depth gauge\n");
    let _ = writeln!(out, "shiplog_queue_depth{{queue=\"mail\"}} {mail}");
    let _ = writeln!(out, "shiplog_queue_depth{{queue=\"webhooks\"}} {webhooks}");
    out
}

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn routes_are_named_without_their_variable_parts() {
        assert_eq!(route_label("/api/v1/blocks/12", 200), "/api/v1/blocks/{id}");
        assert_eq!(
            route_label("/releases/spring-2026", 200),
            "/releases/{slug}"
        );
        assert_eq!(route_label("/a/s3cr3t/changes", 200), "/a/{link}/changes");
        assert_eq!(
            route_label("/api/v1/calendar/production/2026-11-27", 204),
            "/api/v1/calendar/{name}/{night}"
        );
        assert_eq!(route_label("/fn/place_block", 200), "/fn/place_block");
        assert_eq!(route_label("/wp-admin/x.php", 404), "unmatched");
        assert_eq!(route_label("/", 200), "/");
    }
}
