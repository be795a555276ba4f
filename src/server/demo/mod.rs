//! `shiplog demo`: realistic data for an empty database. By default about 30
//! weeknight deploys over six weeks across staging and production, 150 entries
//! of every kind, several people, a CI token, customer accounts, cohorts
//! (among them `beta`) and a few releases, and the defects loop that fits
//! them: incidents, root-cause notes, holes, actions and retros. `--entries` and `--releases` scale it
//! up for benchmarks. Seeded, so every run makes the same data.

mod defects;
mod safety;

use crate::model::*;
use crate::server::db::Db;
use crate::server::db::{NewRelease, ReleaseState};
use crate::server::markdown::Markdown;
use crate::server::service::deploys::{self, CommitInput, DeployInput, EntryInput};
use crate::server::service::{audiences, tokens, users, Actor};
use anyhow::{bail, Context};
use chrono::{Datelike, Duration, TimeZone, Utc, Weekday};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

pub const DEMO_PASSWORD: &str = "shiplog-demo";

/// How much to make.
#[derive(Clone, Copy, Debug)]
pub struct DemoSize {
    pub entries: usize,
    pub releases: usize,
}

impl Default for DemoSize {
    fn default() -> Self {
        DemoSize {
            entries: 150,
            releases: 6,
        }
    }
}

impl DemoSize {
    /// Thirty deploys for the default size; twenty entries a deploy beyond it.
    fn deploys(&self) -> usize {
        (self.entries / 20).max(30).min(self.entries.max(1))
    }
}

const ACCOUNTS: &[(&str, &str)] = &[
    ("acme", "Acme Corp"),
    ("globex", "Globex"),
    ("initech", "Initech"),
    ("umbrella", "Umbrella"),
];
const COHORTS: &[(&str, &str, &[&str])] = &[
    ("beta", "Beta testers", &["acme", "globex"]),
    ("early-access", "Early access", &["initech"]),
];
const RELEASE_NAMES: &[&str] = &[
    "Faster everywhere",
    "Billing, reimagined",
    "Search that finds",
    "Quiet notifications",
    "Exports for everyone",
    "Safer sign-in",
    "Dashboards, refreshed",
];

const PEOPLE: &[(&str, &str, Role)] = &[
    ("admin@example.com", "Ada Admin", Role::Admin),
    ("pm@example.com", "Priya Product", Role::Pm),
    ("eng@example.com", "Emil Engineer", Role::Engineer),
    ("sam@example.com", "Sam Engineer", Role::Engineer),
    ("viewer@example.com", "Vic Viewer", Role::Viewer),
];

const COMPONENTS: &[&str] = &[
    "billing",
    "search",
    "dashboard",
    "api",
    "notifications",
    "auth",
    "exports",
];

const FEATURES: &[&str] = &[
    "Export {c} data as CSV",
    "Keyboard shortcuts in {c}",
    "Saved filters for {c}",
    "Dark mode for {c}",
    "Bulk actions in {c}",
    "Webhooks for {c} events",
    "Share {c} views with a link",
];
const FIXES: &[&str] = &[
    "{c} no longer times out on large accounts",
    "Fixed duplicate emails from {c}",
    "Dates in {c} now respect your time zone",
    "{c} keeps your scroll position after saving",
    "Fixed a crash in {c} when a field is empty",
];
const IMPROVEMENTS: &[&str] = &[
    "{c} loads twice as fast",
    "Clearer error messages in {c}",
    "Smaller downloads for {c}",
    "Better screen-reader labels in {c}",
];
const SECURITY: &[&str] = &[
    "Stricter session checks in {c}",
    "Rate limiting for {c}",
    "Updated {c} dependencies for a security advisory",
];
const INTERNAL: &[&str] = &[
    "Refactored {c} storage layer",
    "More tracing in {c}",
    "Upgraded {c} build tooling",
    "Cleaned up {c} feature flags",
];

fn body(rng: &mut StdRng, kind: EntryKind, component: &str) -> String {
    match kind {
        EntryKind::Feature => format!(
            "You can now do more in **{component}**:\n\n- find it in the {component} menu\n- it works on mobile too\n\nTell us what you think.",
        ),
        EntryKind::Fix => format!(
            "Some customers saw errors in {component} under load. This is fixed; no action is needed."
        ),
        EntryKind::Improvement => format!(
            "Pages in {component} now render in about {} ms at the 95th percentile.",
            rng.gen_range(80..400)
        ),
        EntryKind::Security => "We tightened a check that could have been abused. We have no evidence that it was.".into(),
        EntryKind::Internal => format!("Internal change in `{component}`; no visible effect."),
    }
}

/// Weeknights (Monday–Friday) going back from today, oldest first.
fn weeknights(count: usize, now: chrono::DateTime<Utc>) -> Vec<chrono::DateTime<Utc>> {
    let today = now.date_naive();
    let mut days = vec![];
    let mut d = today - Duration::days(1);
    while days.len() < count {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            days.push(Utc.from_utc_datetime(&d.and_hms_opt(21, 0, 0).expect("valid time")));
        }
        d -= Duration::days(1);
    }
    days.reverse();
    days
}

pub async fn fill(db: &Db, size: DemoSize) -> anyhow::Result<String> {
    let any_deploy = db
        .list_deploys(&crate::server::db::DeployQuery {
            environment: None,
            before: None,
            limit: 1,
        })
        .await?;
    if !any_deploy.is_empty() {
        bail!("this database already has deploys; `shiplog demo` only fills an empty database");
    }
    let mut rng = StdRng::seed_from_u64(2026);
    // Demo text links nowhere else, so images may come from this instance only.
    let md = Markdown::default();
    let mut created_people = vec![];
    for (email, name, role) in PEOPLE {
        if db.user_credentials(email).await?.is_none() {
            users::add_user(db, email, name, *role, DEMO_PASSWORD)
                .await
                .with_context(|| format!("could not create {email}"))?;
            created_people.push(*email);
        }
    }
    let ci = Actor {
        label: "token:demo-ci".into(),
        role: Role::Engineer,
        user_id: None,
    };
    let pm = Actor {
        label: "demo".into(),
        role: Role::Admin,
        user_id: None,
    };
    for (slug, name) in ACCOUNTS {
        audiences::create_account(db, &pm, slug, name)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    for (slug, name, members) in COHORTS {
        audiences::create_cohort(db, &pm, slug, name)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let members: Vec<String> = members.iter().map(|m| m.to_string()).collect();
        audiences::set_members(db, &pm, slug, &members)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    // Release candidates go to staging first; production exists from the start.
    crate::server::service::environments::create(
        db,
        &pm,
        crate::server::service::environments::EnvironmentInput {
            slug: "staging".into(),
            kind: EnvironmentKind::Staging,
            schedule_days: vec![],
            schedule_time: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let deploys_total = size.deploys();
    let nights = weeknights(deploys_total, db.now());
    let mut entries_left = size.entries;
    let mut deploy_count = 0;
    for (i, night) in nights.iter().enumerate() {
        // Every fourth deploy tries a release candidate on staging first.
        let environment = if i % 4 == 3 { "staging" } else { "production" };
        let last = i == nights.len() - 1;
        let status = if last {
            DeployStatus::Started
        } else if i == 7 || i == 19 {
            DeployStatus::Failed
        } else if i == 12 {
            DeployStatus::RolledBack
        } else {
            DeployStatus::Succeeded
        };
        let deploys_left = deploys_total - i;
        let n = if last {
            entries_left
        } else {
            entries_left / deploys_left
        };
        entries_left -= n;
        let started = *night + Duration::minutes(rng.gen_range(0..50));
        let mut entries = vec![];
        let mut commits = vec![];
        for _ in 0..n {
            let kind = *[
                EntryKind::Feature,
                EntryKind::Feature,
                EntryKind::Fix,
                EntryKind::Fix,
                EntryKind::Fix,
                EntryKind::Improvement,
                EntryKind::Improvement,
                EntryKind::Security,
                EntryKind::Internal,
            ]
            .choose(&mut rng)
            .expect("non-empty");
            let component = *COMPONENTS.choose(&mut rng).expect("non-empty");
            let templates = match kind {
                EntryKind::Feature => FEATURES,
                EntryKind::Fix => FIXES,
                EntryKind::Improvement => IMPROVEMENTS,
                EntryKind::Security => SECURITY,
                EntryKind::Internal => INTERNAL,
            };
            let title = templates
                .choose(&mut rng)
                .expect("non-empty")
                .replace("{c}", component);
            let mut title_chars = title.chars();
            let title: String = title_chars
                .next()
                .map(|c| c.to_uppercase().chain(title_chars).collect())
                .unwrap_or_default();
            let risk = match rng.gen_range(0..10) {
                0 => Risk::High,
                1..=3 => Risk::Medium,
                _ => Risk::Low,
            };
            let sha: String = (0..40)
                .map(|_| format!("{:x}", rng.gen_range(0..16)))
                .collect();
            let prefix = match kind {
                EntryKind::Feature => "feat",
                EntryKind::Fix => "fix",
                EntryKind::Improvement => "perf",
                EntryKind::Security => "fix",
                EntryKind::Internal => "chore",
            };
            commits.push(CommitInput {
                sha,
                message: format!("{prefix}({component}): {}", title.to_lowercase()),
                author: Some(PEOPLE[rng.gen_range(2..4)].1.to_string()),
                authored_at: Some(started - Duration::hours(rng.gen_range(2..30))),
            });
            entries.push(EntryInput {
                body: body(&mut rng, kind, component),
                title,
                kind,
                audience: Some(
                    if kind == EntryKind::Internal || rng.gen_range(0..12) == 0 {
                        Audience::Internal
                    } else {
                        Audience::Everyone
                    },
                ),
                risk: Some(risk),
                component: Some(component.to_string()),
                breaking: rng.gen_range(0..25) == 0,
                links: vec![],
            });
        }
        let finished = (status != DeployStatus::Started)
            .then(|| started + Duration::seconds(rng.gen_range(90..1500)));
        let version = format!(
            "{}.{}",
            started.format("%Y.%m.%d"),
            if environment == "staging" { "rc1" } else { "1" }
        );
        deploys::create(
            db,
            &md,
            &ci,
            DeployInput {
                environment: environment.into(),
                version,
                commit: commits.last().map(|c| c.sha.clone()),
                status: Some(status),
                started_at: Some(started),
                finished_at: finished,
                entries: Some(entries),
                commits,
                build_id: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("could not record a demo deploy: {e}"))?;
        deploy_count += 1;
    }
    let release_count = make_releases(db, &md, size.releases).await?;
    let defects = defects::fill(db, &md).await?;
    let nights_explained = safety::fill(db, chrono_tz::UTC).await?;
    let token = tokens::create(db, &Actor::system(), "demo-ci", "engineer")
        .await
        .map_err(|e| anyhow::anyhow!("could not create the demo token: {e}"))?;
    // Fresh bulk data: let the planner see it before the first page is read.
    db.refresh_statistics()
        .await
        .map_err(|e| anyhow::anyhow!("could not refresh the planner's statistics: {e}"))?;
    Ok(format!(
        "Demo data: {deploy_count} deploys with {} entries, {release_count} releases, {} accounts, {} cohorts; people created: {}.\n\
         Defects: {} incidents with their root-cause notes, {} holes, {} actions, {} retros.\n\
         Deploy safety: an internal environment, rules for medium and high risk, billing marked risky, {nights_explained} nights without a deploy explained.\n\
         Sign in as admin@example.com (or pm@, eng@, viewer@example.com) with the password `{DEMO_PASSWORD}`.\n\
         CI token (engineer): {}",
        size.entries,
        ACCOUNTS.len(),
        COHORTS.len(),
        if created_people.is_empty() { "none (they existed)".to_string() } else { created_people.join(", ") },
        defects.incidents,
        defects.holes,
        defects.actions,
        defects.retros,
        token.secret
    ))
}

/// Groups shipped, customer-visible entries into releases, oldest first, each
/// published a day after its last entry shipped. The newest entries stay
/// unannounced and the newest release stays a draft, as in real life.
async fn make_releases(db: &Db, md: &Markdown, count: usize) -> anyhow::Result<usize> {
    if count == 0 {
        return Ok(0);
    }
    let shipped = db.unannounced(PRODUCTION).await?;
    // Keep about a tenth unannounced.
    let usable = shipped.len() * 9 / 10;
    let per = (usable / count).max(1);
    let mut made = 0;
    for (i, chunk) in shipped[..usable].chunks(per).take(count).enumerate() {
        let name = RELEASE_NAMES[i % RELEASE_NAMES.len()];
        let last = chunk.last().expect("chunks are not empty");
        let title = format!("{name} ({})", last.deployed_at.format("%B %Y"));
        let narrative = format!(
            "This release brings **{} changes** together: {}.\n\nThank you for the feedback that shaped it.",
            chunk.len(),
            chunk.iter().take(3).map(|e| e.entry.title.to_lowercase()).collect::<Vec<_>>().join(", ")
        );
        let rendered = md.render("narrative", &narrative)?;
        let release = db
            .create_release(NewRelease {
                slug: format!("{}-{}", super::service::releases::slugify(name), i + 1),
                title,
                version_name: Some(format!("{}.{}", last.deployed_at.format("%Y.%m"), i + 1)),
                narrative_html: rendered.html,
                narrative_text: rendered.text,
                narrative,
                audience: Audience::Everyone,
                created_by: Some("pm@example.com".into()),
            })
            .await?;
        let ids: Vec<i64> = chunk.iter().map(|e| e.entry.id).collect();
        db.link_entries(release.id, &ids, None).await?;
        let newest = i + 1 == count.min(usable.div_ceil(per));
        if !newest {
            let at = last.deployed_at + Duration::days(1);
            db.set_release_state(
                release.id,
                release.revision + 1,
                ReleaseState {
                    status: ReleaseStatus::Published,
                    publish_at: Some(at),
                    published_at: Some(at),
                    archived: false,
                    announce: None,
                },
            )
            .await?;
        }
        made += 1;
    }
    Ok(made)
}
