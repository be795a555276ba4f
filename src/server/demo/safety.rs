//! Demo data for deploying safely: an internal environment, the process by
//! risk (a risky component, rules for medium and high), and reasons for
//! most of production's nights without a deploy, the newest left flagged.

use crate::model::*;
use crate::server::db::Db;
use crate::server::service::environments::{self, EnvironmentInput, NightInput};
use crate::server::service::{risk, Actor};

fn err(e: crate::server::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub async fn fill(db: &Db, tz: chrono_tz::Tz) -> anyhow::Result<usize> {
    let admin = Actor {
        label: "admin@example.com".into(),
        role: Role::Admin,
        user_id: None,
    };
    environments::create(
        db,
        &admin,
        EnvironmentInput {
            slug: "internal".into(),
            kind: EnvironmentKind::Internal,
            schedule_days: vec![],
            schedule_time: None,
        },
    )
    .await
    .map_err(err)?;
    risk::mark_risky(
        db,
        &admin,
        "billing",
        Some("Money moves: invoices and payments"),
    )
    .await
    .map_err(err)?;
    for (level, approvals, checklist, staged) in [
        (Risk::Medium, 0, vec!["Feature flag"], false),
        (
            Risk::High,
            1,
            vec!["Rollback plan", "Dashboard to watch"],
            true,
        ),
    ] {
        risk::set_rule(
            db,
            &admin,
            level,
            risk::RuleInput {
                approvals,
                checklist: checklist.into_iter().map(str::to_string).collect(),
                staged,
            },
        )
        .await
        .map_err(err)?;
    }
    let calendar = environments::calendar(db, tz, PRODUCTION, None, None)
        .await
        .map_err(err)?;
    let flagged: Vec<&Night> = calendar
        .nights
        .iter()
        .filter(|n| n.state == NightState::Flagged)
        .collect();
    let mut explained = 0;
    // Newest first: the newest stays flagged, for someone to explain.
    for (i, night) in flagged.iter().enumerate().skip(1) {
        let (reason, note) = if i == flagged.len() - 1 {
            (NightReason::Holiday, "Bank holiday")
        } else {
            (
                NightReason::Chosen,
                "A release candidate went to staging first",
            )
        };
        environments::explain_night(
            db,
            tz,
            &admin,
            PRODUCTION,
            night.night,
            NightInput {
                reason: Some(reason),
                note: Some(note.into()),
            },
        )
        .await
        .map_err(err)?;
        explained += 1;
    }
    Ok(explained)
}
