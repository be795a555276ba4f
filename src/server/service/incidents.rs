//! Incidents: filed by hand, through the API or by Alertmanager; their
//! causes, the suspects that narrow a cause down, the deploy that fixed them
//! (`Fixes-Incident: INC-<n>`), and what release readiness must know.

use super::{conventional, validate, Actor, Effects};
use crate::model::*;
use crate::server::db::{ActionQuery, Db, DbError, IncidentEdit, IncidentQuery, NewIncident};
use crate::server::error::AppError;
use crate::server::markdown::Markdown;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many deploys before detection the suspects come from.
const SUSPECT_DEPLOYS: i64 = 10;
const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 200;

/// A new incident.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentInput {
    pub title: String,
    /// `sev1` (worst) to `sev4`.
    pub severity: Severity,
    /// The environment it reached, e.g. `production`.
    pub environment: String,
    pub detected_at: DateTime<Utc>,
    /// `monitoring-user`, `monitoring-app`, `monitoring-logs`, `test`, `customer` or `team`.
    pub detected_by: DetectedBy,
    /// What customers saw (Markdown; internal to the team).
    #[serde(default)]
    pub customer_impact: Option<String>,
    /// The entries that introduced it.
    #[serde(default)]
    pub caused_by_entry_ids: Option<Vec<i64>>,
}

/// Changes to an incident; absent fields stay as they are.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentChange {
    pub title: Option<String>,
    pub severity: Option<Severity>,
    pub detected_at: Option<DateTime<Utc>>,
    pub detected_by: Option<DetectedBy>,
    pub customer_impact: Option<String>,
    /// `open`, `mitigated` or `resolved`; each change of status is timed.
    pub status: Option<IncidentStatus>,
    /// Replaces the entries that introduced it.
    pub caused_by_entry_ids: Option<Vec<i64>>,
    /// The deploy that fixed it; `null` clears it.
    #[serde(
        default,
        deserialize_with = "crate::server::service::validate::present"
    )]
    #[schema(value_type = Option<i64>)]
    pub fixed_by_deploy_id: Option<Option<i64>>,
}

/// Checked before any input is read.
/// Only PMs and admins tell customers about incidents; checked before any input is read.
pub fn may_tell_customers(actor: &Actor) -> Result<(), AppError> {
    actor.require(
        actor.role.can_manage_releases(),
        "tell customers about incidents",
    )
}

pub fn may_file(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role.can_file_incidents(), "file or edit incidents")
}

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("There is no incident {}.", incident_number(id)))
}

fn title(raw: &str) -> Result<String, AppError> {
    validate::title("title", raw)
}

fn detected_at(t: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    validate::timestamp("detected_at", t)?;
    if t > now + TimeDelta::minutes(5) {
        return Err(AppError::invalid(
            "detected_at",
            "an incident cannot be detected in the future",
        ));
    }
    Ok(t)
}

fn impact(md: &Markdown, raw: &str) -> Result<(String, String), AppError> {
    let text = validate::body("customer_impact", raw)?;
    let html = md.render("customer_impact", &text)?.html;
    Ok((text, html))
}

/// Every id must be an entry; duplicates are dropped.
async fn causes(db: &Db, ids: &[i64]) -> Result<Vec<i64>, AppError> {
    let mut out: Vec<i64> = vec![];
    for (i, id) in ids.iter().enumerate() {
        if out.contains(id) {
            continue;
        }
        if db.linked_entry(*id).await?.is_none() {
            return Err(AppError::invalid(
                format!("caused_by_entry_ids[{i}]"),
                format!("there is no entry {id}"),
            ));
        }
        out.push(*id);
    }
    Ok(out)
}

/// The team page's form: text as typed (times in RFC 3339, from the browser).
#[derive(Clone, Debug, Default)]
pub struct IncidentForm {
    pub title: String,
    pub severity: String,
    pub environment: String,
    /// Empty means now.
    pub detected_at: String,
    pub detected_by: String,
    pub customer_impact: String,
    pub caused_by: Option<i64>,
}

/// Files an incident from the team page's form.
pub async fn file_form(
    db: &Db,
    md: &Markdown,
    actor: &Actor,
    form: IncidentForm,
) -> Result<IncidentDetail, AppError> {
    may_file(actor)?;
    let detected_at = match form.detected_at.trim() {
        "" => db.now(),
        raw => DateTime::parse_from_rfc3339(raw)
            .map_err(|_| {
                AppError::invalid("detected_at", "give the date and time it was detected")
            })?
            .with_timezone(&Utc),
    };
    let input = IncidentInput {
        title: form.title,
        severity: validate::choice("severity", &form.severity)?,
        environment: form.environment,
        detected_at,
        detected_by: validate::choice("detected_by", &form.detected_by)?,
        customer_impact: Some(form.customer_impact),
        caused_by_entry_ids: form.caused_by.map(|e| vec![e]),
    };
    file(db, md, actor, input).await
}

/// A deploy id as typed into a form: empty is none.
pub fn deploy_field(raw: &str) -> Result<Option<i64>, AppError> {
    match raw.trim().trim_start_matches('#') {
        "" => Ok(None),
        n => n.parse().map(Some).map_err(|_| {
            AppError::invalid("fixed_by_deploy_id", "give the deploy's number, e.g. 42")
        }),
    }
}

/// Files an incident.
pub async fn file(
    db: &Db,
    md: &Markdown,
    actor: &Actor,
    input: IncidentInput,
) -> Result<IncidentDetail, AppError> {
    may_file(actor)?;
    let new = NewIncident {
        title: title(&input.title)?,
        severity: input.severity,
        environment: validate::environment_slug("environment", &input.environment)?,
        detected_at: detected_at(input.detected_at, db.now())?,
        detected_by: input.detected_by,
        customer_impact: String::new(),
        customer_impact_html: String::new(),
        created_by: actor.label.clone(),
        alert_key: None,
        caused_by: causes(db, input.caused_by_entry_ids.as_deref().unwrap_or_default()).await?,
    };
    let (customer_impact, customer_impact_html) =
        impact(md, input.customer_impact.as_deref().unwrap_or_default())?;
    let incident = create(
        db,
        NewIncident {
            customer_impact,
            customer_impact_html,
            ..new
        },
    )
    .await?;
    tracing::info!(incident = %incident.number, by = %actor.label, "incident filed");
    get(db, incident.id).await
}

async fn create(db: &Db, new: NewIncident) -> Result<Incident, AppError> {
    let environment = new.environment.clone();
    db.create_incident(new).await.map_err(|e| match e {
        DbError::NotFound => AppError::invalid(
            "environment",
            format!("no deploy has gone to an environment called `{environment}`"),
        ),
        other => other.into(),
    })
}

/// An incident with its causes, fix, times and suspects.
pub async fn get(db: &Db, id: i64) -> Result<IncidentDetail, AppError> {
    let incident = db.incident(id).await?.ok_or_else(|| not_found(id))?;
    let named = format!("{} {}", incident.title, incident.customer_impact).to_lowercase();
    let caused: Vec<LinkedEntry> = db.incident_causes(id).await?;
    let mut caused_by_deploy_ids: Vec<i64> = caused.iter().map(|e| e.entry.deploy_id).collect();
    caused_by_deploy_ids.dedup();
    let first_cause = caused.iter().map(|e| e.deployed_at).min();
    let fix = match incident.fixed_by_deploy_id {
        Some(d) => db.deploy(d).await?,
        None => None,
    };
    let restored_at = fix
        .as_ref()
        .map(|d| d.deploy.finished_at.unwrap_or(d.deploy.started_at))
        .or(incident.mitigated_at)
        .or(incident.resolved_at);
    let suspects = db
        .entries_deployed_before(&incident.environment, incident.detected_at, SUSPECT_DEPLOYS)
        .await?;
    let actions = db
        .list_actions(&ActionQuery {
            incident_id: Some(id),
            limit: 500,
            ..Default::default()
        })
        .await?;
    Ok(IncidentDetail {
        actions,
        caused_by: caused.into_iter().map(|e| suspect(e, &named)).collect(),
        caused_by_deploy_ids,
        fixed_by_version: fix.map(|d| d.deploy.version),
        time_to_detect_seconds: first_cause.map(|t| (incident.detected_at - t).num_seconds()),
        time_to_restore_seconds: restored_at.map(|t| (t - incident.detected_at).num_seconds()),
        suspects: rank(suspects, &named),
        incident,
    })
}

/// One entry, scored by its risk and by whether the incident names its component.
fn suspect(e: LinkedEntry, named: &str) -> SuspectEntry {
    let mut score = e.entry.risk.weight();
    let mut reasons = vec![e.entry.risk.label().to_string()];
    if let Some(c) = e.entry.component.as_deref() {
        if c.len() >= 2 && named.contains(&c.to_lowercase()) {
            score += 3;
            reasons.push(format!("the incident names its component, {c}"));
        }
    }
    if e.entry.breaking {
        score += 1;
        reasons.push("a breaking change".into());
    }
    SuspectEntry {
        version: e.version,
        deployed_at: e.deployed_at,
        entry: e.entry,
        score,
        reasons,
    }
}

/// Newest deploy first (as given), likeliest first within each deploy.
fn rank(entries: Vec<LinkedEntry>, named: &str) -> Vec<SuspectEntry> {
    let mut order: Vec<i64> = vec![];
    for e in &entries {
        if !order.contains(&e.entry.deploy_id) {
            order.push(e.entry.deploy_id);
        }
    }
    let mut out: Vec<SuspectEntry> = entries.into_iter().map(|e| suspect(e, named)).collect();
    out.sort_by_key(|s| {
        let deploy = order.iter().position(|d| *d == s.entry.deploy_id);
        (deploy, -s.score)
    });
    out
}

/// Incidents, newest first.
pub async fn list(
    db: &Db,
    statuses: Vec<IncidentStatus>,
    environment: Option<String>,
    limit: Option<i64>,
    before: Option<i64>,
) -> Result<Vec<Incident>, AppError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::invalid(
            "limit",
            format!("limit must be between 1 and {MAX_PAGE}"),
        ));
    }
    let environment = environment
        .filter(|e| !e.is_empty())
        .map(|e| validate::environment_slug("environment", &e))
        .transpose()?;
    Ok(db
        .list_incidents(&IncidentQuery {
            statuses,
            environment,
            before,
            limit,
        })
        .await?)
}

/// Unresolved incidents first: what the team's pages put on top.
pub async fn unresolved(db: &Db) -> Result<Vec<Incident>, AppError> {
    list(
        db,
        vec![IncidentStatus::Open, IncidentStatus::Mitigated],
        None,
        Some(MAX_PAGE),
        None,
    )
    .await
}

/// The status change's times: each status keeps the time it was first reached;
/// reopening clears them.
fn timed(
    status: IncidentStatus,
    mitigated_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    match status {
        IncidentStatus::Open => (None, None),
        IncidentStatus::Mitigated => (mitigated_at.or(Some(at)), None),
        IncidentStatus::Resolved => (mitigated_at.or(Some(at)), resolved_at.or(Some(at))),
    }
}

/// Edits an incident.
pub async fn change(
    db: &Db,
    md: &Markdown,
    actor: &Actor,
    id: i64,
    change: IncidentChange,
) -> Result<IncidentDetail, AppError> {
    may_file(actor)?;
    let current = db.incident(id).await?.ok_or_else(|| not_found(id))?;
    let (customer_impact, customer_impact_html) = match change.customer_impact.as_deref() {
        Some(raw) => impact(md, raw)?,
        None => (
            current.customer_impact.clone(),
            current.customer_impact_html.clone(),
        ),
    };
    let status = change.status.unwrap_or(current.status);
    let (mitigated_at, resolved_at) =
        timed(status, current.mitigated_at, current.resolved_at, db.now());
    let fixed_by_deploy_id = match change.fixed_by_deploy_id {
        Some(Some(deploy)) => {
            if db.deploy(deploy).await?.is_none() {
                return Err(AppError::invalid(
                    "fixed_by_deploy_id",
                    format!("there is no deploy {deploy}"),
                ));
            }
            Some(deploy)
        }
        Some(None) => None,
        None => current.fixed_by_deploy_id,
    };
    let edit = IncidentEdit {
        title: match change.title.as_deref() {
            Some(t) => title(t)?,
            None => current.title.clone(),
        },
        severity: change.severity.unwrap_or(current.severity),
        detected_at: change
            .detected_at
            .map(|t| detected_at(t, db.now()))
            .transpose()?
            .unwrap_or(current.detected_at),
        detected_by: change.detected_by.unwrap_or(current.detected_by),
        customer_impact,
        customer_impact_html,
        status,
        mitigated_at,
        resolved_at,
        fixed_by_deploy_id,
    };
    let caused_by = match change.caused_by_entry_ids.as_deref() {
        Some(ids) => Some(causes(db, ids).await?),
        None => None,
    };
    db.update_incident(id, current.updated_at, &edit, caused_by.as_deref())
        .await
        .map_err(|e| match e {
            DbError::Stale => AppError::conflict(
                "Someone else changed this incident at the same time; reload and try again.",
            ),
            other => other.into(),
        })?;
    if status != current.status {
        tracing::info!(incident = %current.number, from = %current.status, to = %status,
            by = %actor.label, "incident status changed");
    }
    get(db, id).await
}

/// Marks one entry as a cause ("caused by this entry"), or no longer one.
pub async fn set_cause(
    db: &Db,
    md: &Markdown,
    actor: &Actor,
    id: i64,
    entry_id: i64,
    caused: bool,
) -> Result<IncidentDetail, AppError> {
    may_file(actor)?;
    let mut ids: Vec<i64> = db
        .incident_causes(id)
        .await?
        .iter()
        .map(|e| e.entry.id)
        .collect();
    ids.retain(|e| *e != entry_id);
    if caused {
        ids.push(entry_id);
    }
    let change_set = IncidentChange {
        caused_by_entry_ids: Some(ids),
        ..Default::default()
    };
    change(db, md, actor, id, change_set).await
}

/// A succeeded deploy whose entries or commits say `Fixes-Incident: INC-<n>`
/// becomes the fix of each such incident in its environment that has none
/// yet, and resolves it. Incidents elsewhere, or already fixed, stay as they are.
pub async fn note_fixes(db: &Db, deploy: &DeployDetail) -> Result<Vec<String>, AppError> {
    if deploy.deploy.status != DeployStatus::Succeeded {
        return Ok(vec![]);
    }
    let named = conventional::deploy_trailers(deploy, "Fixes-Incident", parse_incident_number);
    let mut fixed = vec![];
    for id in named {
        let Some(incident) = db.incident(id).await? else {
            continue;
        };
        if incident.environment != deploy.deploy.environment
            || incident.fixed_by_deploy_id.is_some()
        {
            continue;
        }
        let at = deploy
            .deploy
            .finished_at
            .unwrap_or(deploy.deploy.started_at);
        let (mitigated_at, resolved_at) = timed(
            IncidentStatus::Resolved,
            incident.mitigated_at,
            incident.resolved_at,
            at,
        );
        let edit = IncidentEdit {
            title: incident.title.clone(),
            severity: incident.severity,
            detected_at: incident.detected_at,
            detected_by: incident.detected_by,
            customer_impact: incident.customer_impact.clone(),
            customer_impact_html: incident.customer_impact_html.clone(),
            status: IncidentStatus::Resolved,
            mitigated_at,
            resolved_at,
            fixed_by_deploy_id: Some(deploy.deploy.id),
        };
        match db
            .update_incident(id, incident.updated_at, &edit, None)
            .await
        {
            Ok(_) => {
                tracing::info!(incident = %incident.number, deploy = deploy.deploy.id, "incident fixed by a deploy");
                fixed.push(incident.number);
            }
            // Edited at the same moment: the person's edit stands.
            Err(DbError::Stale) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(fixed)
}

/// Unresolved incidents caused by any of these entries, by entry.
pub async fn unresolved_of(db: &Db, entry_ids: &[i64]) -> Result<Vec<(i64, Incident)>, AppError> {
    if entry_ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(db.unresolved_incidents_of(entry_ids).await?)
}

/// Alertmanager's webhook body (version 4), the parts Shiplog reads.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertNotification {
    /// `firing` or `resolved`.
    pub status: String,
    /// Identifies the alert group: one incident per group.
    #[serde(default)]
    pub group_key: String,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub alerts: Vec<Alert>,
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub fingerprint: String,
}

/// What one notification did.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct AlertOutcome {
    /// Incidents it opened (`INC-<n>`).
    pub opened: Vec<String>,
    /// Incidents it resolved.
    pub resolved: Vec<String>,
    /// Unresolved incidents it was already about.
    pub unchanged: Vec<String>,
}

/// `critical` and the like as a severity; `sev2` when the labels do not say.
fn alert_severity(labels: &BTreeMap<String, String>) -> Severity {
    let raw = labels
        .get("severity")
        .map(|s| s.to_lowercase())
        .unwrap_or_default();
    match raw.as_str() {
        "critical" | "page" | "sev1" | "p1" => Severity::Sev1,
        "warning" | "minor" | "sev3" | "p3" => Severity::Sev3,
        "info" | "low" | "none" | "sev4" | "p4" => Severity::Sev4,
        _ => Severity::Sev2,
    }
}

/// Opens one incident per new firing alert group and resolves it when the
/// group resolves.
pub async fn alert(
    db: &Db,
    md: &Markdown,
    actor: &Actor,
    note: AlertNotification,
) -> Result<AlertOutcome, AppError> {
    may_file(actor)?;
    let key = if !note.group_key.trim().is_empty() {
        note.group_key.trim().to_string()
    } else {
        let mut prints: Vec<&str> = note.alerts.iter().map(|a| a.fingerprint.as_str()).collect();
        prints.sort_unstable();
        prints.join(",")
    };
    if key.is_empty() {
        return Err(AppError::invalid(
            "groupKey",
            "the notification names no alert group (no groupKey and no fingerprints)",
        ));
    }
    let mut outcome = AlertOutcome::default();
    let existing = db.incident_for_alert(&key).await?;
    match (note.status.as_str(), existing) {
        ("firing", Some(incident)) => outcome.unchanged.push(incident.number),
        ("firing", None) => {
            let labels = &note.common_labels;
            let name = labels
                .get("alertname")
                .or_else(|| note.group_labels.get("alertname"))
                .cloned()
                .unwrap_or_else(|| "Alert".into());
            let summary = note.common_annotations.get("summary").cloned();
            let raw_title = match summary {
                Some(s) if !s.trim().is_empty() => format!("{name}: {s}"),
                _ => name,
            };
            let title: String = raw_title.chars().take(200).collect();
            let environment = labels
                .get("environment")
                .or_else(|| labels.get("env"))
                .cloned()
                .unwrap_or_else(|| PRODUCTION.to_string());
            let detected = note
                .alerts
                .iter()
                .filter_map(|a| a.starts_at)
                .filter(|t| validate::timestamp("startsAt", *t).is_ok() && *t <= db.now())
                .min()
                .unwrap_or_else(|| db.now());
            let detected_by = labels
                .get("detected_by")
                .and_then(|d| d.parse().ok())
                .unwrap_or(DetectedBy::MonitoringApp);
            let description = note
                .common_annotations
                .get("description")
                .cloned()
                .unwrap_or_default();
            let (customer_impact, customer_impact_html) = impact(md, &description)?;
            let incident = create(
                db,
                NewIncident {
                    title: super::validate::title("title", &title)?,
                    severity: alert_severity(labels),
                    environment: validate::environment_slug("environment", &environment)?,
                    detected_at: detected,
                    detected_by,
                    customer_impact,
                    customer_impact_html,
                    created_by: actor.label.clone(),
                    alert_key: Some(key),
                    caused_by: vec![],
                },
            )
            .await?;
            tracing::info!(incident = %incident.number, "incident opened by an alert");
            outcome.opened.push(incident.number);
        }
        ("resolved", Some(incident)) => {
            let at = note
                .alerts
                .iter()
                .filter_map(|a| a.ends_at)
                .filter(|t| *t >= incident.detected_at && *t <= db.now())
                .max()
                .unwrap_or_else(|| db.now());
            let (mitigated_at, resolved_at) =
                timed(IncidentStatus::Resolved, incident.mitigated_at, None, at);
            let edit = IncidentEdit {
                title: incident.title.clone(),
                severity: incident.severity,
                detected_at: incident.detected_at,
                detected_by: incident.detected_by,
                customer_impact: incident.customer_impact.clone(),
                customer_impact_html: incident.customer_impact_html.clone(),
                status: IncidentStatus::Resolved,
                mitigated_at,
                resolved_at,
                fixed_by_deploy_id: incident.fixed_by_deploy_id,
            };
            db.update_incident(incident.id, incident.updated_at, &edit, None)
                .await?;
            tracing::info!(incident = %incident.number, "incident resolved by its alert");
            outcome.resolved.push(incident.number);
        }
        ("resolved", None) => {}
        (other, _) => {
            return Err(AppError::invalid(
                "status",
                format!("expected `firing` or `resolved`, not `{other}`"),
            ))
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_their_first_times() {
        let t0 = Utc::now() - TimeDelta::hours(2);
        let t1 = Utc::now();
        assert_eq!(
            timed(IncidentStatus::Mitigated, None, None, t1),
            (Some(t1), None)
        );
        assert_eq!(
            timed(IncidentStatus::Resolved, Some(t0), None, t1),
            (Some(t0), Some(t1))
        );
        assert_eq!(
            timed(IncidentStatus::Open, Some(t0), Some(t1), t1),
            (None, None)
        );
    }

    #[test]
    fn alert_severities() {
        let mut labels = BTreeMap::new();
        assert_eq!(alert_severity(&labels), Severity::Sev2);
        labels.insert("severity".into(), "critical".into());
        assert_eq!(alert_severity(&labels), Severity::Sev1);
        labels.insert("severity".into(), "warning".into());
        assert_eq!(alert_severity(&labels), Severity::Sev3);
    }
}

/// The customer-facing note a PM writes once an incident is resolved.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerNoteInput {
    /// What customers read, e.g. "Invoices show the right totals again".
    pub title: String,
    /// Markdown: what customers saw and that it is fixed. Nothing internal.
    #[serde(default)]
    pub body: String,
    /// Also email it to the subscribers who may read it (default: true).
    #[serde(default = "yes")]
    pub announce: bool,
}

fn yes() -> bool {
    true
}

/// What telling customers made: the `fix` entry, and with an announcement
/// its release and the campaign sending it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerNote {
    pub entry: ChangeEntry,
    pub release: Option<String>,
    pub campaign_id: Option<i64>,
}

/// Tells customers about a resolved incident that affected them: the note
/// becomes a `fix` entry of the deploy that fixed it, for the audience of
/// the entry that caused it (so nobody reads of a change they never had),
/// and, with `announce`, a release emailed at once to the subscribers who
/// may read it. Only the note's own words reach customers.
#[allow(clippy::too_many_arguments)]
pub async fn customer_note(
    db: &Db,
    md: &Markdown,
    fx: &Effects<'_>,
    host: &str,
    actor: &Actor,
    id: i64,
    input: CustomerNoteInput,
) -> Result<CustomerNote, AppError> {
    may_tell_customers(actor)?;
    let detail = get(db, id).await?;
    let incident = &detail.incident;
    incident
        .ready_for_customer_note()
        .map_err(AppError::conflict)?;
    if incident.customer_entry_id.is_some() {
        return Err(AppError::conflict(
            "Customers were already told about this incident.",
        ));
    }
    let cause = detail.caused_by.first().ok_or_else(|| {
        AppError::conflict(
            "Mark the entry that caused it first: the note goes to the customers who could see that change.",
        )
    })?;
    let audience = cause.entry.audience.clone();
    if audience == Audience::Internal {
        return Err(AppError::conflict(
            "The change that caused it was internal: no customer could see it.",
        ));
    }
    let fix = match incident.fixed_by_deploy_id {
        Some(d) => db
            .deploy(d)
            .await?
            .ok_or_else(|| AppError::not_found(format!("There is no deploy {d}.")))?,
        None => {
            return Err(AppError::conflict(
                "Set the deploy that fixed it first: the note is an entry of that deploy.",
            ))
        }
    };
    if fix.deploy.environment != PRODUCTION || fix.deploy.status != DeployStatus::Succeeded {
        return Err(AppError::conflict(format!(
            "The fixing deploy ({}) has not succeeded in production, so customers do not have the fix yet.",
            fix.deploy.version
        )));
    }
    let new = super::entries::checked_entry(
        md,
        super::entries::EntryInput {
            title: input.title.clone(),
            body: input.body.clone(),
            kind: EntryKind::Fix,
            audience: Some(audience.clone()),
            risk: None,
            component: cause.entry.component.clone(),
            breaking: false,
            links: vec![],
        },
    )
    .await?;
    let entry = db.add_customer_note(id, fix.deploy.id, new).await?;
    tracing::info!(incident = %incident.number, entry = entry.id, by = %actor.label, "customers told of an incident");
    let mut note = CustomerNote {
        entry,
        release: None,
        campaign_id: None,
    };
    if input.announce {
        let (release, campaign) = announce_note(
            db,
            md,
            host,
            actor,
            incident,
            &note.entry,
            &audience,
            &input,
        )
        .await?;
        note.release = Some(release);
        note.campaign_id = Some(campaign);
        fx.mail_queued();
    }
    Ok(note)
}

/// Publishes the note as a release of its own and sends its announcement.
#[allow(clippy::too_many_arguments)]
async fn announce_note(
    db: &Db,
    md: &Markdown,
    host: &str,
    actor: &Actor,
    incident: &Incident,
    entry: &ChangeEntry,
    audience: &Audience,
    input: &CustomerNoteInput,
) -> Result<(String, i64), AppError> {
    use super::releases;
    let release = releases::create(
        db,
        md,
        actor,
        &releases::ReleaseInput {
            title: input.title.clone(),
            slug: Some(format!("fix-{}", incident.number.to_lowercase())),
            version_name: None,
            narrative: input.body.clone(),
            audience: Some(audience.clone()),
        },
    )
    .await?;
    let linked = releases::link(db, actor, &release.slug, &[entry.id], None, false).await?;
    let publish = PublishInput {
        revision: linked.release.revision,
        ..PublishInput::default()
    };
    releases::publish(db, actor, &release.slug, publish).await?;
    let (campaign, _) = super::campaigns::create(db, actor, &release.slug).await?;
    super::campaigns::send(db, host, actor, campaign.id, None).await?;
    Ok((release.slug, campaign.id))
}
