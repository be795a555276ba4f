//! The demo's defects loop, fitted to its deploys: incidents caused by
//! entries of production deploys and fixed by the next one, blameless notes
//! (reviewed, but the newest still a draft), holes with the actions that
//! repair them (some done, some overdue), and a retro every two weeks
//! (the last one still open). The newest incident is still open, so the
//! team's pages show defects first.

use crate::model::*;
use crate::server::db::{
    ActionEdit, Db, DeployQuery, IncidentEdit, NewAction, NewHole, NewIncident, NewRetroItem,
};
use crate::server::markdown::Markdown;
use crate::server::service::retros::{self, RetroInput};
use crate::server::service::root_causes::{self, NoteInput};
use crate::server::service::Actor;
use chrono::{DateTime, Duration, NaiveDate, Utc};

struct Scenario {
    title: &'static str,
    severity: Severity,
    detected_by: DetectedBy,
    impact: &'static str,
    category: RootCauseCategory,
    summary: &'static str,
    trigger: &'static str,
    whys: &'static [&'static str],
    lessons: &'static str,
    holes: &'static [(HoleArea, &'static str, &'static str, ActionKind)],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        title: "Checkout answers 500 for saved cards",
        severity: Severity::Sev1,
        detected_by: DetectedBy::MonitoringApp,
        impact: "Customers paying with a **saved card** saw an error for 35 minutes.",
        category: RootCauseCategory::Code,
        summary: "A refactor of the payment form dropped the saved-card token on resubmission.",
        trigger: "The nightly deploy with the payment form refactor.",
        whys: &[
            "Checkout answered 500 for saved cards.",
            "The payment call had no card token.",
            "The refactored form dropped the token on resubmission.",
            "No test covered paying twice with a saved card.",
            "Saved cards were missing from the end-to-end journey.",
        ],
        lessons: "Journeys that customers repeat belong in the end-to-end suite.",
        holes: &[
            (
                HoleArea::EndToEnd,
                "No end-to-end journey pays with a saved card.",
                "Add a saved-card checkout journey",
                ActionKind::Testing,
            ),
            (
                HoleArea::Application,
                "5xx on checkout alerted after 20 minutes, not 2.",
                "Alert on checkout 5xx within two minutes",
                ActionKind::Monitoring,
            ),
        ],
    },
    Scenario {
        title: "Search results missing new documents",
        severity: Severity::Sev3,
        detected_by: DetectedBy::Customer,
        impact: "New documents took up to a day to appear in search.",
        category: RootCauseCategory::Config,
        summary: "The indexer's batch size was raised in config and the queue backed up.",
        trigger: "A config change shipped with the search improvements.",
        whys: &[
            "New documents were missing from search.",
            "The indexing queue was hours behind.",
            "Each batch took longer than the schedule allowed.",
            "The batch size was raised tenfold without a load test.",
        ],
        lessons: "Config changes that change load get the same preview as code.",
        holes: &[
            (
                HoleArea::ProductionLikePreview,
                "Config changes skip the production-like preview.",
                "Run config changes through the preview environment",
                ActionKind::Process,
            ),
            (
                HoleArea::Logs,
                "The indexer logged its lag but nothing watched it.",
                "Alert on indexing lag over 10 minutes",
                ActionKind::Monitoring,
            ),
        ],
    },
    Scenario {
        title: "Notification emails sent twice",
        severity: Severity::Sev3,
        detected_by: DetectedBy::Customer,
        impact: "Some customers received each notification **twice** for a day.",
        category: RootCauseCategory::Code,
        summary: "A retry wrapped a call that had already succeeded.",
        trigger: "The deploy that moved notifications to the new queue.",
        whys: &[
            "Emails went out twice.",
            "The worker retried sends that had succeeded.",
            "The new queue reports success late on slow acknowledgements.",
        ],
        lessons: "Make sends idempotent before adding retries.",
        holes: &[(
            HoleArea::Integration,
            "No integration test against a slow queue.",
            "Test the notification worker against a slow queue",
            ActionKind::Testing,
        )],
    },
    Scenario {
        title: "Billing exports time out for large accounts",
        severity: Severity::Sev2,
        detected_by: DetectedBy::MonitoringUser,
        impact: "Accounts with over 10,000 invoices could not export them.",
        category: RootCauseCategory::Data,
        summary: "A new join made the export query scan every invoice line.",
        trigger: "The deploy with faster billing exports.",
        whys: &[
            "Exports timed out.",
            "The query scanned every invoice line.",
            "The new join missed an index.",
            "Test data had a hundred invoices, not ten thousand.",
        ],
        lessons: "Test data should look like our largest customer.",
        holes: &[(
            HoleArea::Integration,
            "Integration tests run on tiny data only.",
            "Seed integration tests with a large account",
            ActionKind::Testing,
        )],
    },
    Scenario {
        title: "Sign-in slow behind the new proxy",
        severity: Severity::Sev2,
        detected_by: DetectedBy::MonitoringUser,
        impact: "Signing in took up to 20 seconds for an hour.",
        category: RootCauseCategory::Infrastructure,
        summary: "The new proxy resolved the identity provider on every request.",
        trigger: "The deploy that routed sign-in through the new proxy.",
        whys: &[
            "Sign-in was slow.",
            "Every request waited for DNS.",
            "The proxy's resolver cache was off by default.",
        ],
        lessons: "Read the defaults of anything new on the request path.",
        holes: &[(
            HoleArea::User,
            "No synthetic sign-in check watched the real path.",
            "Add a synthetic sign-in probe every minute",
            ActionKind::Monitoring,
        )],
    },
    Scenario {
        title: "Dashboard charts empty for some accounts",
        severity: Severity::Sev3,
        detected_by: DetectedBy::Team,
        impact: "A few accounts saw empty charts on their dashboard.",
        category: RootCauseCategory::Code,
        summary: "Still being written up.",
        trigger: "",
        whys: &[],
        lessons: "",
        holes: &[],
    },
];

/// What the defects loop made, for the demo's summary.
pub struct Made {
    pub incidents: usize,
    pub holes: usize,
    pub actions: usize,
    pub retros: usize,
}

fn person(label: &str, role: Role) -> Actor {
    Actor {
        label: label.into(),
        role,
        user_id: None,
    }
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub async fn fill(db: &Db, md: &Markdown) -> anyhow::Result<Made> {
    let today = db.now().date_naive();
    let owner = |email: &'static str| async move {
        db.user_by_email(email)
            .await?
            .map(|u| u.id)
            .ok_or_else(|| anyhow::anyhow!("the demo person {email} is missing"))
    };
    let (eng, sam, pm) = (
        owner("eng@example.com").await?,
        owner("sam@example.com").await?,
        owner("pm@example.com").await?,
    );
    let mut deploys = db
        .list_deploys(&DeployQuery {
            environment: Some(PRODUCTION.into()),
            before: None,
            limit: 1000,
        })
        .await?;
    deploys.reverse();
    let finished: Vec<&Deploy> = deploys
        .iter()
        .filter(|d| d.status != DeployStatus::Started)
        .collect();
    if finished.len() < 8 {
        return Ok(Made {
            incidents: 0,
            holes: 0,
            actions: 0,
            retros: 0,
        });
    }
    let mut made = Made {
        incidents: 0,
        holes: 0,
        actions: 0,
        retros: 0,
    };
    let count = SCENARIOS.len();
    for (k, s) in SCENARIOS.iter().enumerate() {
        // Spread over the six weeks; the newest is the last finished deploy.
        let at = if k + 1 == count {
            finished.len() - 1
        } else {
            (k + 1) * (finished.len() - 2) / count
        };
        let cause_deploy = finished[at];
        let detail = db
            .deploy(cause_deploy.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("deploy vanished"))?;
        let Some(cause) = detail
            .entries
            .iter()
            .filter(|e| e.audience != Audience::Internal)
            .max_by_key(|e| e.risk.weight())
        else {
            continue;
        };
        let shipped = cause_deploy.finished_at.unwrap_or(cause_deploy.started_at);
        let detected = shipped + Duration::hours(2 + k as i64);
        let incident = db
            .create_incident(NewIncident {
                title: s.title.into(),
                severity: s.severity,
                environment: PRODUCTION.into(),
                detected_at: detected,
                detected_by: s.detected_by,
                customer_impact: s.impact.into(),
                customer_impact_html: md.render("customer_impact", s.impact).map_err(err)?.html,
                created_by: "eng@example.com".into(),
                alert_key: None,
                caused_by: vec![cause.id],
            })
            .await?;
        made.incidents += 1;
        let newest = k + 1 == count;
        let fix = finished
            .iter()
            .skip(at + 1)
            .find(|d| d.status == DeployStatus::Succeeded);
        if !newest {
            let resolved = fix
                .and_then(|f| f.finished_at)
                .unwrap_or(detected + Duration::hours(3));
            db.update_incident(
                incident.id,
                incident.updated_at,
                &IncidentEdit {
                    title: incident.title.clone(),
                    severity: incident.severity,
                    detected_at: incident.detected_at,
                    detected_by: incident.detected_by,
                    customer_impact: incident.customer_impact.clone(),
                    customer_impact_html: incident.customer_impact_html.clone(),
                    status: IncidentStatus::Resolved,
                    mitigated_at: Some(detected + Duration::minutes(35)),
                    resolved_at: Some(resolved),
                    fixed_by_deploy_id: fix.map(|f| f.id),
                },
                None,
            )
            .await?;
        }
        if s.trigger.is_empty() {
            continue;
        }
        let author = person("eng@example.com", Role::Engineer);
        let view = root_causes::save(
            db,
            md,
            &author,
            incident.id,
            NoteInput {
                revision: None,
                summary: s.summary.into(),
                timeline: vec![
                    TimelineRow {
                        at: shipped,
                        text: format!("Deploy {} finished", cause_deploy.version),
                    },
                    TimelineRow {
                        at: detected,
                        text: format!("Detected ({})", s.detected_by.label()),
                    },
                    TimelineRow {
                        at: detected + Duration::minutes(35),
                        text: "Mitigated".into(),
                    },
                ],
                trigger: s.trigger.into(),
                whys: s.whys.iter().map(|w| w.to_string()).collect(),
                factors: "Small nightly deploys made the cause easy to find.".into(),
                category: s.category,
                went_well: "The suspect list named the change within minutes.".into(),
                lessons: s.lessons.into(),
            },
        )
        .await
        .map_err(err)?;
        // The newest written note waits for its review.
        if k + 2 < count {
            let version = view.note.map(|n| n.version).unwrap_or(1);
            root_causes::review(
                db,
                &person("sam@example.com", Role::Engineer),
                incident.id,
                version,
            )
            .await
            .map_err(err)?;
        }
        for (h, (area, description, action, kind)) in s.holes.iter().enumerate() {
            let due = (detected + Duration::days(10 + 4 * h as i64)).date_naive();
            let hole = db
                .create_hole(
                    NewHole {
                        incident_id: incident.id,
                        area: *area,
                        component: cause.component.clone(),
                        description: description.to_string(),
                        created_by: "eng@example.com".into(),
                    },
                    NewAction {
                        title: action.to_string(),
                        owner_id: if h % 2 == 0 { eng } else { sam },
                        due,
                        kind: *kind,
                        incident_id: Some(incident.id),
                        created_by: "eng@example.com".into(),
                    },
                )
                .await?;
            made.holes += 1;
            made.actions += 1;
            // Older holes are mostly repaired; one stays overdue.
            if due + Duration::days(5) < today && !(k == 1 && h == 1) {
                done(db, hole.action_id, due - Duration::days(1)).await?;
            }
        }
    }
    made.retros = retros_every_two_weeks(db, today, pm, &mut made.actions).await?;
    Ok(made)
}

/// Marks an action done on `day`.
async fn done(db: &Db, id: i64, day: NaiveDate) -> anyhow::Result<()> {
    let a = db
        .action(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("action vanished"))?;
    let at: DateTime<Utc> = day.and_hms_opt(16, 0, 0).expect("valid time").and_utc();
    db.update_action(
        id,
        a.updated_at,
        &ActionEdit {
            title: a.title.clone(),
            owner_id: a.owner_id,
            due: a.due,
            kind: a.kind,
            status: ActionStatus::Done,
            note: String::new(),
            evidence_deploy_id: None,
            done_at: Some(at),
        },
    )
    .await?;
    Ok(())
}

const ITEMS: &[&[(RetroColumn, &str, &str, bool)]] = &[
    &[
        (
            RetroColumn::WentWell,
            "eng@example.com",
            "Small deploys made the checkout cause obvious",
            false,
        ),
        (
            RetroColumn::WentWell,
            "sam@example.com",
            "Rollback took four minutes",
            false,
        ),
        (
            RetroColumn::ToImprove,
            "sam@example.com",
            "Checkout alert fired twenty minutes late",
            false,
        ),
        (
            RetroColumn::ToImprove,
            "viewer@example.com",
            "Nobody owned the payment form tests",
            true,
        ),
        (
            RetroColumn::Ideas,
            "pm@example.com",
            "Pair on risky changes before the nightly deploy",
            false,
        ),
    ],
    &[
        (
            RetroColumn::WentWell,
            "pm@example.com",
            "Customers heard about fixes the same day",
            false,
        ),
        (
            RetroColumn::ToImprove,
            "eng@example.com",
            "Config changes skip review",
            false,
        ),
        (
            RetroColumn::ToImprove,
            "sam@example.com",
            "Config changes go out without the preview",
            true,
        ),
        (
            RetroColumn::Ideas,
            "eng@example.com",
            "A load test for every batch-size change",
            false,
        ),
    ],
    &[
        (
            RetroColumn::WentWell,
            "sam@example.com",
            "The proxy rollout was staged",
            false,
        ),
        (
            RetroColumn::ToImprove,
            "eng@example.com",
            "Slow sign-in was noticed by customers first",
            false,
        ),
        (
            RetroColumn::Ideas,
            "viewer@example.com",
            "Show the risk map in stand-up",
            true,
        ),
    ],
];

/// Three retros of two weeks each over the demo's six weeks: the first two
/// closed, with votes, a group and actions; the last one open.
async fn retros_every_two_weeks(
    db: &Db,
    today: NaiveDate,
    pm: i64,
    actions: &mut usize,
) -> anyhow::Result<usize> {
    let facilitator = person("pm@example.com", Role::Pm);
    let start = today - Duration::days(41);
    let mut made = 0;
    for (n, items) in ITEMS.iter().enumerate() {
        let period_start = start + Duration::days(14 * n as i64);
        let period_end = (period_start + Duration::days(13)).min(today);
        let retro = retros::create(
            db,
            &facilitator,
            RetroInput {
                title: Some(format!("Retro {}", n + 1)),
                period_start: Some(period_start),
                period_end: Some(period_end),
                facilitator_email: Some("pm@example.com".into()),
            },
        )
        .await
        .map_err(err)?;
        made += 1;
        let mut ids = vec![];
        for (column, author, body, anonymous) in items.iter() {
            ids.push(
                db.add_retro_item(
                    retro.id,
                    NewRetroItem {
                        column: *column,
                        body: body.to_string(),
                        author: author.to_string(),
                        anonymous: *anonymous,
                    },
                )
                .await?,
            );
        }
        for (voter, picks) in [
            ("eng@example.com", [2usize, 4]),
            ("sam@example.com", [2, 3]),
            ("pm@example.com", [1, 2]),
        ] {
            for p in picks {
                if let Some(item) = ids.get(p % ids.len()) {
                    let _ = db
                        .retro_vote(retro.id, *item, voter, true, retro.votes_per_person)
                        .await;
                }
            }
        }
        if n == 1 {
            db.group_retro_item(retro.id, ids[2], Some(ids[1])).await?;
        }
        if n + 1 < ITEMS.len() {
            let action = db
                .retro_item_action(
                    retro.id,
                    ids[2],
                    NewAction {
                        title: items[2].2.to_string(),
                        owner_id: pm,
                        due: period_end + Duration::days(7),
                        kind: ActionKind::Process,
                        incident_id: None,
                        created_by: "pm@example.com".into(),
                    },
                )
                .await?;
            *actions += 1;
            if n == 0 {
                done(db, action.id, period_end + Duration::days(5)).await?;
            }
            retros::close(db, &facilitator, retro.id)
                .await
                .map_err(err)?;
        }
    }
    Ok(made)
}
