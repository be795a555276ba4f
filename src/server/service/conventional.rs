//! Drafts change entries from conventional-commit messages
//! (`feat(billing)!: add invoices`): the type picks the kind, the scope the
//! component, `!` or a `BREAKING CHANGE` footer marks a breaking change.

use crate::model::EntryKind;

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
        body: rest.to_string(),
        breaking: bang || breaking_footer,
    })
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
    fn breaking_changes_are_marked() {
        assert!(draft("feat(api)!: drop v0").unwrap().breaking);
        let d = draft("feat: new auth\n\nBREAKING CHANGE: tokens must be rotated").unwrap();
        assert!(d.breaking);
        assert!(d.body.contains("tokens must be rotated"));
    }
}
