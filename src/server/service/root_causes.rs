//! Blameless root-cause notes: one per incident, written as a draft,
//! reviewed by a second engineer who is not its author, then final; edits
//! after that keep every earlier version. And the holes in testing and
//! monitoring each incident found, each with the action that repairs it.

use super::actions::{self, ActionInput};
use super::{validate, Actor};
use crate::model::*;
use crate::server::db::{Db, DbError, NewAction, NewHole};
use crate::server::error::AppError;
use crate::server::markdown::Markdown;
use serde::Deserialize;

const MAX_ROWS: usize = 200;

/// A note as written; absent text is empty.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    /// The version this edit starts from (absent for a new note).
    pub revision: Option<i64>,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub timeline: Vec<TimelineRow>,
    #[serde(default)]
    pub trigger: String,
    /// The "five whys", in order.
    #[serde(default)]
    pub whys: Vec<String>,
    #[serde(default)]
    pub factors: String,
    /// `code`, `config`, `data`, `infrastructure`, `third-party` or `process`.
    pub category: RootCauseCategory,
    #[serde(default)]
    pub went_well: String,
    #[serde(default)]
    pub lessons: String,
}

/// A hole and the action that repairs it, recorded together.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoleInput {
    /// Testing: `unit`, `integration`, `end-to-end`, `production-like preview`,
    /// `manual`; monitoring: `user`, `application`, `logs`.
    pub area: HoleArea,
    pub component: Option<String>,
    pub description: String,
    /// Every hole gets an action that repairs it.
    pub action: HoleAction,
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoleAction {
    pub title: String,
    pub owner_email: String,
    pub due: chrono::NaiveDate,
    #[serde(rename = "type")]
    pub kind: ActionKind,
}

/// Anyone but viewers writes root-cause notes and holes; checked before any input is read.
pub fn may_write(actor: &Actor) -> Result<(), AppError> {
    actor.require(
        actor.role.can_file_incidents(),
        "write root-cause notes or holes",
    )
}

async fn incident(db: &Db, id: i64) -> Result<Incident, AppError> {
    db.incident(id).await?.ok_or_else(|| {
        AppError::not_found(format!("There is no incident {}.", incident_number(id)))
    })
}

fn md_field(md: &Markdown, field: &str, raw: &str) -> Result<(String, String), AppError> {
    let text = validate::body(field, raw)?;
    let html = md.render(field, &text)?.html;
    Ok((text, html))
}

fn document(md: &Markdown, input: &NoteInput) -> Result<NoteDocument, AppError> {
    if input.timeline.len() > MAX_ROWS || input.whys.len() > MAX_ROWS {
        return Err(AppError::invalid(
            "timeline",
            "keep the timeline and the whys under 200 rows each",
        ));
    }
    let mut timeline = input.timeline.clone();
    for (i, row) in timeline.iter_mut().enumerate() {
        validate::timestamp(&format!("timeline[{i}].at"), row.at)?;
        row.text = validate::title(&format!("timeline[{i}].text"), &row.text)?;
    }
    timeline.sort_by_key(|r| r.at);
    let whys = input
        .whys
        .iter()
        .enumerate()
        .filter(|(_, w)| !w.trim().is_empty())
        .map(|(i, w)| validate::title(&format!("whys[{i}]"), w))
        .collect::<Result<Vec<_>, _>>()?;
    let (summary, summary_html) = md_field(md, "summary", &input.summary)?;
    let (factors, factors_html) = md_field(md, "factors", &input.factors)?;
    let (went_well, went_well_html) = md_field(md, "went_well", &input.went_well)?;
    let (lessons, lessons_html) = md_field(md, "lessons", &input.lessons)?;
    let trigger = validate::body("trigger", &input.trigger)?;
    Ok(NoteDocument {
        summary,
        summary_html,
        timeline,
        trigger,
        whys,
        factors,
        factors_html,
        went_well,
        went_well_html,
        lessons,
        lessons_html,
    })
}

/// Timeline rows from `YYYY-MM-DD HH:MM text` lines (UTC).
pub fn parse_timeline(text: &str) -> Result<Vec<TimelineRow>, AppError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let line = line.trim();
            let bad = || {
                AppError::invalid(
                    "timeline",
                    format!(
                        "line {}: start with the time, e.g. 2026-11-27 21:04, then what happened",
                        i + 1
                    ),
                )
            };
            let stamp = line.get(..16).ok_or_else(bad)?;
            let at = chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M")
                .map_err(|_| bad())?
                .and_utc();
            Ok(TimelineRow {
                at,
                text: line[16..].trim().to_string(),
            })
        })
        .collect()
}

/// The timeline as the form shows it.
pub fn timeline_text(rows: &[TimelineRow]) -> String {
    rows.iter()
        .map(|r| format!("{} {}", r.at.format("%Y-%m-%d %H:%M"), r.text))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Saves the note from the team page's form.
pub async fn save_form(
    db: &Db,
    md: &Markdown,
    actor: &Actor,
    incident_id: i64,
    form: NoteFields,
) -> Result<RootCauseView, AppError> {
    may_write(actor)?;
    let input = NoteInput {
        revision: form.revision,
        summary: form.summary,
        timeline: parse_timeline(&form.timeline)?,
        trigger: form.trigger,
        whys: form.whys.lines().map(str::to_string).collect(),
        factors: form.factors,
        category: validate::choice("category", &form.category)?,
        went_well: form.went_well,
        lessons: form.lessons,
    };
    save(db, md, actor, incident_id, input).await
}

pub async fn add_hole_form(
    db: &Db,
    actor: &Actor,
    incident_id: i64,
    form: HoleFields,
) -> Result<Hole, AppError> {
    may_write(actor)?;
    let due = chrono::NaiveDate::parse_from_str(form.due.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::invalid("action.due", "choose the day the action is due"))?;
    let input = HoleInput {
        area: validate::choice("area", &form.area)?,
        component: Some(form.component).filter(|c| !c.trim().is_empty()),
        description: form.description,
        action: HoleAction {
            title: form.action_title,
            owner_email: form.owner_email,
            due,
            kind: validate::choice("action.type", &form.action_type)?,
        },
    };
    add_hole(db, actor, incident_id, input).await
}

/// Team members a note names, by full name, email or first name: a warning.
pub fn named_people(document: &NoteDocument, team: &[User]) -> Vec<String> {
    let text: String = [
        document.summary.as_str(),
        document.trigger.as_str(),
        document.factors.as_str(),
        document.went_well.as_str(),
        document.lessons.as_str(),
    ]
    .into_iter()
    .chain(document.timeline.iter().map(|r| r.text.as_str()))
    .chain(document.whys.iter().map(String::as_str))
    .collect::<Vec<_>>()
    .join("\n");
    let lower = text.to_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-')
        .collect();
    team.iter()
        .filter(|u| {
            let first = u.name.split_whitespace().next().unwrap_or_default();
            lower.contains(&u.email.to_lowercase())
                || (u.name.contains(' ') && lower.contains(&u.name.to_lowercase()))
                || (first.chars().count() >= 3 && words.contains(&first))
        })
        .map(|u| {
            format!(
                "The note names {}: blameless notes say what happened and why, not who.",
                u.name
            )
        })
        .collect()
}

/// An incident's note, history, holes and warnings.
pub async fn get(db: &Db, incident_id: i64) -> Result<RootCauseView, AppError> {
    view(db, incident_id, &super::users::team(db).await?).await
}

/// The same, checking the note against a team list already read.
pub async fn view(db: &Db, incident_id: i64, team: &[User]) -> Result<RootCauseView, AppError> {
    incident(db, incident_id).await?;
    let note = db.root_cause(incident_id).await?;
    let warnings = match &note {
        Some(n) => named_people(&n.document, team),
        None => vec![],
    };
    Ok(RootCauseView {
        incident_id,
        history: db.root_cause_history(incident_id).await?,
        holes: db.holes(incident_id).await?,
        note,
        warnings,
    })
}

/// Writes the note (a new draft, or an edit of the version it started from).
pub async fn save(
    db: &Db,
    md: &Markdown,
    actor: &Actor,
    incident_id: i64,
    input: NoteInput,
) -> Result<RootCauseView, AppError> {
    may_write(actor)?;
    incident(db, incident_id).await?;
    let doc = document(md, &input)?;
    db.save_root_cause(incident_id, input.revision, &doc, input.category, &actor.label)
        .await
        .map_err(|e| match e {
            DbError::Stale => AppError::conflict(match input.revision {
                None => "This incident already has a root-cause note; edit it, sending its version as `revision`.",
                Some(_) => "The note changed since that version (or there is none yet); reload it and edit again.",
            }),
            other => other.into(),
        })?;
    tracing::info!(incident = incident_id, by = %actor.label, "root-cause note saved");
    get(db, incident_id).await
}

/// A second engineer, not its author, makes the draft final.
pub async fn review(
    db: &Db,
    actor: &Actor,
    incident_id: i64,
    revision: i64,
) -> Result<RootCauseView, AppError> {
    may_write(actor)?;
    let note = db.root_cause(incident_id).await?.ok_or_else(|| {
        AppError::not_found("This incident has no root-cause note to review yet.")
    })?;
    if note.status == NoteStatus::Final {
        return Err(AppError::conflict("This note is already final."));
    }
    if !note.reviewable_by(&actor.label) {
        return Err(AppError::forbidden(
            "A second engineer reviews a note: its author cannot.",
        ));
    }
    db.finalize_root_cause(incident_id, revision, &actor.label)
        .await
        .map_err(|e| match e {
            DbError::Stale => AppError::conflict(
                "The note changed since that version; read it again before approving it.",
            ),
            other => other.into(),
        })?;
    tracing::info!(incident = incident_id, by = %actor.label, "root-cause note reviewed");
    get(db, incident_id).await
}

/// Records a hole with the action that repairs it.
pub async fn add_hole(
    db: &Db,
    actor: &Actor,
    incident_id: i64,
    input: HoleInput,
) -> Result<Hole, AppError> {
    may_write(actor)?;
    incident(db, incident_id).await?;
    let description = validate::title("description", &input.description)?;
    let component = validate::component("component", input.component.as_deref())?;
    // The action is checked as any other action is.
    let checked = actions::check(
        db,
        &ActionInput {
            title: input.action.title,
            owner_email: input.action.owner_email,
            due: input.action.due,
            kind: input.action.kind,
            incident_id: None,
        },
    )
    .await
    .map_err(|e| e.prefixed("action."))?;
    let hole = db
        .create_hole(
            NewHole {
                incident_id,
                area: input.area,
                component,
                description,
                created_by: actor.label.clone(),
            },
            NewAction {
                incident_id: Some(incident_id),
                created_by: actor.label.clone(),
                ..checked
            },
        )
        .await?;
    tracing::info!(incident = incident_id, hole = hole.id, by = %actor.label, "hole recorded");
    Ok(hole)
}

/// Where the open holes are, and how many were found and repaired in each
/// of the twelve months up to `today`.
pub fn holes_report(mut holes: Vec<Hole>, today: chrono::NaiveDate) -> HolesReport {
    use chrono::Datelike;
    use std::collections::BTreeMap;
    holes.sort_by_key(|h| h.id);
    let open: Vec<Hole> = holes.iter().filter(|h| !h.closed).cloned().collect();
    let count = |labels: Vec<String>| -> Vec<HoleCount> {
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for l in labels {
            *counts.entry(l).or_default() += 1;
        }
        let mut rows: Vec<HoleCount> = counts
            .into_iter()
            .map(|(label, count)| HoleCount { label, count })
            .collect();
        rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
        rows
    };
    let by_area = count(
        open.iter()
            .map(|h| format!("{} · {}", h.kind.label(), h.area.label()))
            .collect(),
    );
    let by_component = count(
        open.iter()
            .map(|h| h.component.clone().unwrap_or_else(|| "(none)".into()))
            .collect(),
    );
    let month_of = |y: i32, m: u32| format!("{y:04}-{m:02}");
    let (mut y, mut m) = (today.year(), today.month());
    let mut keys = vec![];
    for _ in 0..12 {
        keys.push(month_of(y, m));
        if m == 1 {
            y -= 1;
            m = 12;
        } else {
            m -= 1;
        }
    }
    keys.reverse();
    let mut months: Vec<HoleMonth> = keys
        .into_iter()
        .map(|month| HoleMonth {
            month,
            found: 0,
            repaired: 0,
        })
        .collect();
    for h in &holes {
        let found = month_of(h.created_at.year(), h.created_at.month());
        if let Some(row) = months.iter_mut().find(|r| r.month == found) {
            row.found += 1;
        }
        if let Some(at) = h.repaired_at {
            let repaired = month_of(at.year(), at.month());
            if let Some(row) = months.iter_mut().find(|r| r.month == repaired) {
                row.repaired += 1;
            }
        }
    }
    HolesReport {
        open,
        by_area,
        by_component,
        months,
    }
}

/// The holes page's report, as of today (UTC).
pub async fn report(db: &Db) -> Result<HolesReport, AppError> {
    Ok(holes_report(db.all_holes().await?, db.now().date_naive()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, email: &str) -> User {
        User {
            id: 1,
            email: email.into(),
            name: name.into(),
            role: Role::Engineer,
            active: true,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn timelines_read_back() {
        let rows = parse_timeline("2026-11-27 21:04 Alert fired\n\n2026-11-27 21:10  Rolled back")
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].text, "Rolled back");
        assert_eq!(
            timeline_text(&rows),
            "2026-11-27 21:04 Alert fired\n2026-11-27 21:10 Rolled back"
        );
        assert!(parse_timeline("yesterday Alert").is_err());
    }

    #[test]
    fn naming_people_warns() {
        let team = [
            user("Grace Hopper", "grace@example.com"),
            user("Al", "al@example.com"),
        ];
        let mut doc = NoteDocument {
            summary: "The cache expired early.".into(),
            ..Default::default()
        };
        assert!(named_people(&doc, &team).is_empty());
        doc.whys = vec!["Because Grace merged it late".into()];
        assert_eq!(named_people(&doc, &team).len(), 1);
        doc.whys = vec!["The alert went to al@example.com only".into()];
        assert!(named_people(&doc, &team)[0].contains("Al"));
        doc.whys = vec!["Graceful shutdown was skipped".into()];
        assert!(named_people(&doc, &team).is_empty(), "a word is not a name");
    }

    fn hole(
        id: i64,
        area: HoleArea,
        component: Option<&str>,
        found: &str,
        repaired: Option<&str>,
    ) -> Hole {
        let at = |d: &str| {
            chrono::DateTime::parse_from_rfc3339(&format!("{d}T12:00:00Z"))
                .unwrap()
                .to_utc()
        };
        Hole {
            id,
            incident_id: 1,
            kind: area.kind(),
            area,
            component: component.map(String::from),
            description: "d".into(),
            action_id: id,
            action_status: if repaired.is_some() {
                ActionStatus::Done
            } else {
                ActionStatus::Open
            },
            closed: repaired.is_some(),
            repaired_at: repaired.map(at),
            created_by: "x".into(),
            created_at: at(found),
        }
    }

    #[test]
    fn the_holes_report_counts_open_holes_and_each_month() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let holes = vec![
            hole(
                1,
                HoleArea::Unit,
                Some("billing"),
                "2026-10-02",
                Some("2026-11-03"),
            ),
            hole(2, HoleArea::Logs, Some("billing"), "2026-11-01", None),
            hole(3, HoleArea::Logs, None, "2026-11-05", None),
            hole(4, HoleArea::Unit, Some("search"), "2025-01-05", None),
        ];
        let r = holes_report(holes, today);
        assert_eq!(r.open.iter().map(|h| h.id).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(
            r.by_area[0],
            HoleCount {
                label: "Monitoring · Log monitoring".into(),
                count: 2
            }
        );
        assert_eq!(r.by_component.len(), 3);
        assert_eq!(r.months.len(), 12);
        assert_eq!(r.months[0].month, "2025-12");
        let nov = r.months.last().unwrap();
        assert_eq!(
            (nov.month.as_str(), nov.found, nov.repaired),
            ("2026-11", 2, 1)
        );
        let oct = &r.months[10];
        assert_eq!((oct.found, oct.repaired), (1, 0));
        assert_eq!(
            r.months.iter().map(|m| m.found).sum::<i64>(),
            3,
            "older holes fall outside the chart"
        );
    }
}
