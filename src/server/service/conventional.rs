//! Drafts change entries from conventional-commit messages
//! (`feat(billing)!: add invoices`): the type picks the kind, the scope the
//! component, `!` or a `BREAKING CHANGE` footer marks a breaking change.
//! Trailer lines (`Fixes-Incident: INC-12`, `Closes-Action: ACT-7`) in a
//! deploy's entries and commits link it to what it fixed or closed. A
//! message's trailer block is the team's: it stays on the commit (and in an
//! entry's Markdown source) and never becomes customer text
//! ([`without_trailers`]).

use crate::model::{DeployDetail, EntryKind};

#[derive(Debug, PartialEq)]
pub struct Draft {
    pub kind: EntryKind,
    pub component: Option<String>,
    pub title: String,
    pub body: String,
    pub breaking: bool,
}

pub fn draft(message: &str) -> Option<Draft> {
    let message = message.trim();
    let (header, rest) = match message.split_once('\n') {
        Some((h, r)) => (h.trim(), r.trim()),
        None => (message, ""),
    };
    if header.is_empty() {
        return None;
    }
    let breaking_footer = rest
        .lines()
        .any(|l| l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:"));

    let parsed = header.split_once(':').and_then(|(prefix, subject)| {
        let subject = subject.trim();
        let (prefix, bang) = match prefix.strip_suffix('!') {
            Some(p) => (p, true),
            None => (prefix, false),
        };
        let (ty, scope) = match prefix.split_once('(') {
            Some((ty, scope)) => (ty, Some(scope.strip_suffix(')')?.trim())),
            None => (prefix, None),
        };
        let ty_ok = !ty.is_empty() && ty.chars().all(|c| c.is_ascii_alphabetic());
        (ty_ok && !subject.is_empty()).then(|| (ty.to_ascii_lowercase(), scope, subject, bang))
    });

    let (kind, component, title, bang) = match parsed {
        Some((ty, scope, subject, bang)) => {
            let kind = match ty.as_str() {
                "feat" | "feature" => EntryKind::Feature,
                "fix" => EntryKind::Fix,
                "perf" => EntryKind::Improvement,
                "security" | "sec" => EntryKind::Security,
                _ => EntryKind::Internal,
            };
            let component = scope.filter(|s| !s.is_empty()).map(str::to_lowercase);
            (kind, component, subject.to_string(), bang)
        }
        // Not conventional: keep it, but only internally.
        None => (EntryKind::Internal, None, header.to_string(), false),
    };
    let mut title = capitalise(&title);
    if title.chars().count() > 200 {
        title = title.chars().take(199).collect::<String>() + "…";
    }
    Some(Draft {
        kind,
        component,
        title,
        body: without_trailers(rest).into_owned(),
        breaking: bang || breaking_footer,
    })
}

/// Single-word keys that are trailers, not prose (`Note: …` is prose).
/// Keys with a dash (`Signed-off-by`, `Change-Id`, `Closes-Action`) always are.
const ONE_WORD_TRAILERS: [&str; 14] = [
    "acked",
    "bug",
    "cc",
    "closes",
    "fixes",
    "issue",
    "issues",
    "jira",
    "refs",
    "references",
    "related",
    "resolves",
    "see",
    "ticket",
];

/// What a line of a message's last paragraph is.
#[derive(Clone, Copy, PartialEq)]
enum FooterLine {
    /// `Token: value`: the team's.
    Trailer,
    /// `BREAKING CHANGE: …`: says what customers must do, so it stays.
    Breaking,
    /// Indented: continues the line before.
    Continuation,
    Prose,
}

fn footer_line(line: &str) -> FooterLine {
    if line.starts_with([' ', '\t']) {
        return FooterLine::Continuation;
    }
    if line.starts_with("BREAKING CHANGE:") || line.starts_with("BREAKING-CHANGE:") {
        return FooterLine::Breaking;
    }
    let Some((key, value)) = line.split_once(':') else {
        return FooterLine::Prose;
    };
    let well_formed = !key.is_empty()
        && key.len() <= 40
        && key.starts_with(|c: char| c.is_ascii_alphanumeric())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && (value.is_empty() || value.starts_with([' ', '\t']));
    let trailer_key =
        key.contains('-') || ONE_WORD_TRAILERS.contains(&key.to_ascii_lowercase().as_str());
    if well_formed && trailer_key {
        FooterLine::Trailer
    } else {
        FooterLine::Prose
    }
}

/// The text without its trailer block: the last paragraph, when each of its
/// lines is a `Token: value` trailer (`Signed-off-by:`, `Co-authored-by:`,
/// `Change-Id:`, `Fixes-Incident:`…) or continues one. `BREAKING CHANGE:`
/// lines in that block stay, since they tell customers what to do.
pub fn without_trailers(text: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let trimmed = text.trim_end();
    // The last paragraph starts after the last blank line.
    let lines: Vec<&str> = trimmed.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.trim().is_empty())
        .map_or(0, |i| i + 1);
    let footer = &lines[start..];
    let mut kinds = Vec::with_capacity(footer.len());
    let mut previous = None;
    for line in footer {
        let kind = match footer_line(line) {
            FooterLine::Continuation => match previous {
                Some(p @ (FooterLine::Trailer | FooterLine::Breaking)) => p,
                _ => return Cow::Borrowed(text),
            },
            FooterLine::Prose => return Cow::Borrowed(text),
            other => other,
        };
        kinds.push(kind);
        previous = Some(kind);
    }
    if !kinds.contains(&FooterLine::Trailer) {
        return Cow::Borrowed(text);
    }
    let mut kept: Vec<&str> = lines[..start].to_vec();
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    let breaking: Vec<&str> = footer
        .iter()
        .zip(&kinds)
        .filter(|(_, k)| **k == FooterLine::Breaking)
        .map(|(l, _)| *l)
        .collect();
    if !breaking.is_empty() {
        if !kept.is_empty() {
            kept.push("");
        }
        kept.extend(breaking);
    }
    Cow::Owned(kept.join("\n"))
}

/// The numbers a text names in `key: …` trailer lines, as `parse` reads each
/// word (`Fixes-Incident: INC-12, INC-13`); the key is matched in any case.
pub fn trailer_numbers(text: &str, key: &str, parse: fn(&str) -> Option<i64>) -> Vec<i64> {
    text.lines()
        .filter_map(|line| {
            let (k, value) = line.trim().split_once(':')?;
            k.trim().eq_ignore_ascii_case(key).then(|| {
                value
                    .split([',', ' '])
                    .filter_map(parse)
                    .collect::<Vec<_>>()
            })
        })
        .flatten()
        .collect()
}

/// The numbers a deploy's entry bodies and commit messages name in `key`
/// trailers, each once, in the order they first appear.
pub fn deploy_trailers(
    deploy: &DeployDetail,
    key: &str,
    parse: fn(&str) -> Option<i64>,
) -> Vec<i64> {
    let texts = deploy
        .entries
        .iter()
        .map(|e| e.body.as_str())
        .chain(deploy.commits.iter().map(|c| c.message.as_str()));
    let mut named: Vec<i64> = vec![];
    for text in texts {
        for n in trailer_numbers(text, key, parse) {
            if !named.contains(&n) {
                named.push(n);
            }
        }
    }
    named
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_map_to_kinds() {
        let d = draft("feat(billing): add invoices").unwrap();
        assert_eq!(d.kind, EntryKind::Feature);
        assert_eq!(d.component.as_deref(), Some("billing"));
        assert_eq!(d.title, "Add invoices");
        assert!(!d.breaking);
        assert_eq!(
            draft("fix: crash on empty cart").unwrap().kind,
            EntryKind::Fix
        );
        assert_eq!(
            draft("perf(search): faster").unwrap().kind,
            EntryKind::Improvement
        );
        assert_eq!(draft("chore: bump deps").unwrap().kind, EntryKind::Internal);
        assert_eq!(draft("Merge branch 'x'").unwrap().kind, EntryKind::Internal);
    }

    #[test]
    fn trailers_name_numbers() {
        let parse = crate::model::parse_incident_number;
        assert_eq!(
            trailer_numbers(
                "Fix the cache\n\nFixes-Incident: INC-12",
                "fixes-incident",
                parse
            ),
            vec![12]
        );
        assert_eq!(
            trailer_numbers("fixes-incident: INC-3, INC-4", "Fixes-Incident", parse),
            vec![3, 4]
        );
        assert!(trailer_numbers("Mentions INC-5 in passing", "fixes-incident", parse).is_empty());
        assert!(trailer_numbers("Fixes-Incident: soon", "fixes-incident", parse).is_empty());
        let actions = crate::model::parse_action_number;
        assert_eq!(
            trailer_numbers("closes-action: ACT-1 ACT-2", "Closes-Action", actions),
            vec![1, 2]
        );
        assert!(trailer_numbers("Closes-Action: INC-2", "Closes-Action", actions).is_empty());
    }

    #[test]
    fn trailers_never_become_customer_text() {
        let d = draft("fix(billing): round totals\n\nCloses-Action: ACT-99").unwrap();
        assert_eq!(d.body, "");
        let d = draft(
            "feat: export CSV\n\nFind it under Billing.\n\nFixes-Incident: INC-4\nCo-authored-by: Ana <ana@example.com>\nSigned-off-by: Bo <bo@example.com>\nReviewed-by: Cy\nChange-Id: I8f3e2a\nX-Custom-Token: value\n  continued",
        )
        .unwrap();
        assert_eq!(d.body, "Find it under Billing.");
        // The breaking note stays; the trailers around it go.
        let d = draft("feat!: v2\n\nBREAKING CHANGE: rotate tokens\nSigned-off-by: Bo").unwrap();
        assert_eq!(d.body, "BREAKING CHANGE: rotate tokens");
        // Prose that looks a little like a trailer stays.
        for prose in [
            "Note: restart the app after upgrading.",
            "Export works again.\n\nSee https://example.com/docs",
            "Details:\n- one\n- two",
            "Fixes-Incident: INC-3 and then more prose\nwith a second line",
        ] {
            assert_eq!(without_trailers(prose), prose, "{prose:?}");
        }
        assert_eq!(
            without_trailers("Faster search.\n\nRefs: #12\nSee-also: #13"),
            "Faster search."
        );
    }

    #[test]
    fn breaking_changes_are_marked() {
        assert!(draft("feat(api)!: drop v0").unwrap().breaking);
        let d = draft("feat: new auth\n\nBREAKING CHANGE: tokens must be rotated").unwrap();
        assert!(d.breaking);
        assert!(d.body.contains("tokens must be rotated"));
    }
}
