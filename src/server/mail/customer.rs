//! Messages to subscribers: release announcements and digests. Each carries
//! its links (absolute), the mailing-list headers and a stable `Message-ID`.

use super::{render, ListHeaders, Outgoing};
use crate::model::EntryKind;
use crate::server::html::escape;

/// One change as a subscriber reads it.
pub struct LetterEntry {
    pub kind: EntryKind,
    pub title: String,
    /// Sanitised when it was written.
    pub body_html: String,
    pub url: String,
}

/// What every message to a subscriber has.
pub struct Letter<'a> {
    pub to: &'a str,
    pub message_id: &'a str,
    pub preferences: &'a str,
    pub unsubscribe: &'a str,
    pub list_id: &'a str,
}

impl Letter<'_> {
    fn finish(&self, mut out: Outgoing) -> Outgoing {
        out.message_id = Some(self.message_id.to_string());
        out.list = Some(ListHeaders {
            unsubscribe: self.unsubscribe.to_string(),
            list_id: self.list_id.to_string(),
        });
        out
    }
}

/// Changes grouped by kind, in the order readers know (new, fixed, improved,
/// security), as HTML and as text.
fn entries(list: &[LetterEntry]) -> (String, String) {
    let mut html = String::new();
    let mut text = String::new();
    for kind in crate::model::SUBSCRIBABLE_KINDS {
        let of_kind: Vec<&LetterEntry> = list.iter().filter(|e| e.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        html.push_str(&format!(
            "<h2 style=\"font-size:1.125em;margin:20px 0 8px\">{}</h2>",
            escape(kind.label())
        ));
        text.push_str(&format!("{}\n", kind.label().to_uppercase()));
        for e in of_kind {
            html.push_str(&format!(
                "<h3 style=\"font-size:1em;margin:12px 0 4px\"><a href=\"{}\" style=\"color:inherit\">{}</a></h3><div>{}</div>",
                escape(&e.url),
                escape(&e.title),
                e.body_html
            ));
            text.push_str(&format!("- {}\n  {}\n", e.title, e.url));
        }
        text.push('\n');
    }
    (html, text)
}

/// A release's announcement.
pub fn announcement(
    letter: &Letter,
    title: &str,
    published: &str,
    narrative_html: &str,
    narrative_text: &str,
    url: &str,
    list: &[LetterEntry],
) -> Outgoing {
    let (entries_html, entries_text) = entries(list);
    letter.finish(render(
        include_str!("templates/announcement/subject.txt"),
        include_str!("templates/announcement/body.txt"),
        include_str!("templates/announcement/body.html"),
        letter.to,
        &[
            ("title", title),
            ("published", published),
            ("narrative_html", narrative_html),
            ("narrative", narrative_text),
            ("entries_html", &entries_html),
            ("entries", &entries_text),
            ("link", url),
            ("preferences", letter.preferences),
            ("unsubscribe", letter.unsubscribe),
        ],
    ))
}

/// A digest of the changes in one period.
pub fn digest(
    letter: &Letter,
    period: &str,
    frequency: &str,
    url: &str,
    list: &[LetterEntry],
) -> Outgoing {
    let (entries_html, entries_text) = entries(list);
    let count = list.len().to_string();
    letter.finish(render(
        include_str!("templates/digest/subject.txt"),
        include_str!("templates/digest/body.txt"),
        include_str!("templates/digest/body.html"),
        letter.to,
        &[
            ("count", &count),
            ("period", period),
            ("frequency", frequency),
            ("entries_html", &entries_html),
            ("entries", &entries_text),
            ("link", url),
            ("preferences", letter.preferences),
            ("unsubscribe", letter.unsubscribe),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_escape_titles_and_carry_list_headers() {
        let letter = Letter {
            to: "ana@example.com",
            message_id: "<campaign-1-2@notes.example.com>",
            preferences: "https://notes.example.com/subscription/t",
            unsubscribe: "https://notes.example.com/unsubscribe/t",
            list_id: "Release notes <notes.example.com>",
        };
        let m = announcement(
            &letter,
            "Faster <b>exports</b>",
            "27 November 2026",
            "<p>Hello</p>",
            "Hello",
            "https://notes.example.com/releases/x",
            &[LetterEntry {
                kind: EntryKind::Fix,
                title: "<script>alert(1)</script>".into(),
                body_html: "<p>ok</p>".into(),
                url: "https://notes.example.com/changes/1".into(),
            }],
        );
        assert_eq!(m.subject, "Faster <b>exports</b>");
        assert!(m.html.contains("Faster &lt;b&gt;exports&lt;/b&gt;"));
        assert!(m.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!m.html.contains("<script>"));
        assert!(m.text.contains("FIXED\n- <script>alert(1)</script>"));
        assert!(m
            .text
            .contains("Unsubscribe: https://notes.example.com/unsubscribe/t"));
        assert_eq!(
            m.list.as_ref().unwrap().unsubscribe,
            "https://notes.example.com/unsubscribe/t"
        );
        assert_eq!(
            m.message_id.as_deref(),
            Some("<campaign-1-2@notes.example.com>")
        );
    }
}
