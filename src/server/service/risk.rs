//! The process varies with risk: admins mark risky components (their
//! entries are at least `medium`) and set, per risk level, the approvals,
//! checklist and staged rollout a change needs; the gate stays closed while
//! a change a build carries has not met its rule.

use super::{validate, Actor};
use crate::model::*;
use crate::server::db::{Db, DbError, ProcessRow, ProcessScope};
use crate::server::error::AppError;
use chrono::TimeDelta;
use serde::Deserialize;
use std::collections::HashSet;

const MAX_CHECKLIST: usize = 10;

fn rank(r: Risk) -> u8 {
    match r {
        Risk::Low => 0,
        Risk::Medium => 1,
        Risk::High => 2,
    }
}

/// An entry's risk once its component is taken into account.
pub fn effective(risk: Risk, component: Option<&str>, risky: &HashSet<String>) -> Risk {
    match component {
        Some(c) if risky.contains(c) && rank(risk) < rank(Risk::Medium) => Risk::Medium,
        _ => risk,
    }
}

/// Only admins set the risk rules and mark risky components; checked
/// before any input is read.
pub fn may_set_rules(actor: &Actor) -> Result<(), AppError> {
    actor.require(
        actor.role.is_admin(),
        "set the risk rules or mark risky components",
    )
}

pub async fn risky_set(db: &Db) -> Result<HashSet<String>, AppError> {
    Ok(db
        .risky_components()
        .await?
        .into_iter()
        .map(|c| c.component)
        .collect())
}

/// Whether `person` wrote the change: recorded its deploy or authored one of
/// its commits (`Name <email>` counts by its address).
fn is_author(authors: &[String], person: &str) -> bool {
    authors.iter().any(|a| {
        a.eq_ignore_ascii_case(person)
            || a.to_ascii_lowercase()
                .contains(&format!("<{}>", person.to_ascii_lowercase()))
    })
}

fn unmet(p: &EntryProcess) -> Vec<String> {
    let mut out = vec![];
    let approvals = p
        .approvals
        .iter()
        .filter(|a| !is_author(&p.authors, &a.approver))
        .count() as i64;
    if approvals < p.rule.approvals {
        let missing = p.rule.approvals - approvals;
        out.push(format!(
            "needs {missing} more approval{} from someone other than its author",
            if missing == 1 { "" } else { "s" }
        ));
    }
    for item in &p.rule.checklist {
        if !p.checked.iter().any(|c| &c.item == item) {
            out.push(format!("checklist item “{item}” is not ticked"));
        }
    }
    if p.rule.staged && p.audience == "everyone" {
        out.push("must reach admins or a cohort before everyone: narrow its audience first".into());
    }
    out
}

async fn processes(db: &Db, rows: Vec<ProcessRow>) -> Result<Vec<EntryProcess>, AppError> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let rules = db.risk_rules().await?;
    let risky = risky_set(db).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.entry_id).collect();
    let mut deploys: Vec<i64> = rows.iter().map(|r| r.deploy_id).collect();
    deploys.sort_unstable();
    deploys.dedup();
    let authors = db.commit_authors(&deploys).await?;
    let approvals = db.approvals(&ids).await?;
    let checks = db.checks(&ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let effective_risk = effective(r.risk, r.component.as_deref(), &risky);
        let Some(rule) = rules.iter().find(|x| x.risk == effective_risk).cloned() else {
            return Err(AppError::Internal(anyhow::anyhow!(
                "no risk rule for {effective_risk}"
            )));
        };
        let mut who: Vec<String> = r.created_by.clone().into_iter().collect();
        who.extend(
            authors
                .iter()
                .filter(|(d, _)| *d == r.deploy_id)
                .map(|(_, a)| a.clone()),
        );
        let mut p = EntryProcess {
            entry_id: r.entry_id,
            title: r.title,
            deploy_id: r.deploy_id,
            version: r.version,
            environment: r.environment,
            component: r.component,
            audience: r.audience,
            risk: r.risk,
            effective_risk,
            authors: who,
            rule,
            approvals: approvals
                .iter()
                .filter(|a| a.entry_id == r.entry_id)
                .cloned()
                .collect(),
            checked: checks
                .iter()
                .filter(|c| c.entry_id == r.entry_id)
                .cloned()
                .collect(),
            unmet: vec![],
        };
        p.unmet = unmet(&p);
        out.push(p);
    }
    Ok(out)
}

/// Where one entry stands in its process.
pub async fn entry(db: &Db, id: i64) -> Result<EntryProcess, AppError> {
    processes(db, db.process_rows(&ProcessScope::One(id)).await?)
        .await?
        .pop()
        .ok_or_else(|| AppError::not_found(format!("There is no entry {id}.")))
}

/// The changes a build carries, with where each stands.
pub async fn of_build(db: &Db, build: &Build) -> Result<Vec<EntryProcess>, AppError> {
    let mut shas: Vec<String> = build.commits.iter().map(|c| c.sha.clone()).collect();
    shas.push(build.commit.clone());
    processes(
        db,
        db.process_rows(&ProcessScope::Build { id: build.id, shas })
            .await?,
    )
    .await
}

/// Changes deployed outside production in the last 30 days whose risk asks
/// for more than nothing: what the team has to approve and tick.
pub async fn waiting(db: &Db) -> Result<Vec<EntryProcess>, AppError> {
    let rows = db
        .process_rows(&ProcessScope::Waiting {
            since: db.now() - TimeDelta::days(30),
            limit: 300,
        })
        .await?;
    Ok(processes(db, rows)
        .await?
        .into_iter()
        .filter(|p| p.rule.approvals > 0 || !p.rule.checklist.is_empty() || p.rule.staged)
        .collect())
}

/// Approves a change. People only, not the author, not a viewer.
pub async fn approve(db: &Db, actor: &Actor, entry_id: i64) -> Result<EntryProcess, AppError> {
    actor.require(actor.role.can_write_deploys(), "approve changes")?;
    if actor.user_id.is_none() {
        return Err(AppError::forbidden(
            "Approvals come from people: sign in to approve a change.",
        ));
    }
    let p = entry(db, entry_id).await?;
    if is_author(&p.authors, &actor.label) {
        return Err(AppError::conflict(
            "You wrote this change; someone else on the team has to approve it.",
        ));
    }
    db.approve(entry_id, &actor.label).await?;
    tracing::info!(entry = entry_id, by = %actor.label, "change approved");
    entry(db, entry_id).await
}

pub async fn withdraw(db: &Db, actor: &Actor, entry_id: i64) -> Result<EntryProcess, AppError> {
    db.withdraw_approval(entry_id, &actor.label)
        .await
        .map_err(|e| match e {
            DbError::NotFound => AppError::not_found("You have not approved this change."),
            other => other.into(),
        })?;
    entry(db, entry_id).await
}

/// Only engineers and admins tick checklists; checked before any input is read.
pub fn may_tick(actor: &Actor) -> Result<(), AppError> {
    actor.require(actor.role.can_write_deploys(), "tick checklists")
}

/// Ticks (or unticks) a checklist item of the change's rule.
pub async fn check(
    db: &Db,
    actor: &Actor,
    entry_id: i64,
    item: &str,
    done: bool,
) -> Result<EntryProcess, AppError> {
    may_tick(actor)?;
    let p = entry(db, entry_id).await?;
    let item = item.trim();
    if !p.rule.checklist.iter().any(|i| i == item) {
        return Err(AppError::invalid(
            "item",
            if p.rule.checklist.is_empty() {
                format!("a {} risk change has no checklist", p.effective_risk)
            } else {
                format!(
                    "“{item}” is not on the checklist; it has: {}",
                    p.rule.checklist.join(", ")
                )
            },
        ));
    }
    db.set_check(entry_id, item, &actor.label, done).await?;
    entry(db, entry_id).await
}

/// A rule as an admin sets it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// 0, 1 or 2.
    pub approvals: i64,
    #[serde(default)]
    pub checklist: Vec<String>,
    #[serde(default)]
    pub staged: bool,
}

pub async fn set_rule(
    db: &Db,
    actor: &Actor,
    risk: Risk,
    input: RuleInput,
) -> Result<RiskRule, AppError> {
    may_set_rules(actor)?;
    if !(0..=2).contains(&input.approvals) {
        return Err(AppError::invalid(
            "approvals",
            "ask for 0, 1 or 2 approvals",
        ));
    }
    let mut checklist: Vec<String> = vec![];
    for item in input.checklist {
        let item = validate::title("checklist", &item)?;
        if !checklist.contains(&item) {
            checklist.push(item);
        }
    }
    if checklist.len() > MAX_CHECKLIST {
        return Err(AppError::invalid(
            "checklist",
            format!("keep the checklist to {MAX_CHECKLIST} items"),
        ));
    }
    let rule = RiskRule {
        risk,
        approvals: input.approvals,
        checklist,
        staged: input.staged,
        updated_by: Some(actor.label.clone()),
        updated_at: Some(db.now()),
    };
    db.set_risk_rule(&rule).await?;
    tracing::info!(%risk, by = %actor.label, "risk rule changed");
    Ok(rule)
}

pub async fn mark_risky(
    db: &Db,
    actor: &Actor,
    component: &str,
    note: Option<&str>,
) -> Result<(), AppError> {
    may_set_rules(actor)?;
    let component = validate::component("component", Some(component))?
        .ok_or_else(|| AppError::invalid("component", "name the component"))?;
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 500) {
        return Err(AppError::invalid(
            "note",
            "keep the note under 500 characters",
        ));
    }
    db.mark_risky(&component, note, &actor.label).await?;
    tracing::info!(%component, by = %actor.label, "component marked risky");
    Ok(())
}

pub async fn unmark_risky(db: &Db, actor: &Actor, component: &str) -> Result<(), AppError> {
    may_set_rules(actor)?;
    db.unmark_risky(component).await.map_err(|e| match e {
        DbError::NotFound => AppError::not_found(format!("`{component}` is not marked risky.")),
        other => other.into(),
    })
}

/// The rule of each risk level, low to high, and the risky components.
pub async fn settings(db: &Db) -> Result<(Vec<RiskRule>, Vec<RiskyComponent>), AppError> {
    Ok((db.risk_rules().await?, db.risky_components().await?))
}

/// Per component: production deploys, incidents caused and the change failure rate.
pub async fn risk_map(db: &Db) -> Result<Vec<RiskMapRow>, AppError> {
    let mut rows = db.risk_map().await?;
    for r in &mut rows {
        r.change_failure_rate = (r.deploys > 0).then(|| r.failing as f64 / r.deploys as f64);
    }
    rows.sort_by(|a, b| {
        b.change_failure_rate
            .unwrap_or(0.0)
            .total_cmp(&a.change_failure_rate.unwrap_or(0.0))
            .then(b.incidents.cmp(&a.incidents))
            .then(a.component.cmp(&b.component))
    });
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risky_components_raise_low_changes_to_medium_only() {
        let risky: HashSet<String> = ["billing".to_string()].into();
        assert_eq!(effective(Risk::Low, Some("billing"), &risky), Risk::Medium);
        assert_eq!(effective(Risk::High, Some("billing"), &risky), Risk::High);
        assert_eq!(effective(Risk::Low, Some("search"), &risky), Risk::Low);
        assert_eq!(effective(Risk::Low, None, &risky), Risk::Low);
    }

    #[test]
    fn authors_are_known_by_their_address() {
        let authors = vec!["token:ci".to_string(), "Ana Lee <ana@example.com>".into()];
        assert!(is_author(&authors, "ana@example.com"));
        assert!(is_author(&authors, "token:ci"));
        assert!(!is_author(&authors, "bo@example.com"));
    }
}
