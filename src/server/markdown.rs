//! Markdown to safe HTML, once, on write. pulldown-cmark renders; ammonia
//! removes anything that could run in a browser (scripts, event handlers,
//! `javascript:` URLs, raw HTML it does not know) and images from hosts an
//! admin has not allowed (a tracking pixel in a private page or an email).
//!
//! Rendering is bounded before it starts: text nested deeper than
//! [`MAX_DEPTH`] or producing more than [`MAX_EVENTS`] elements is refused
//! with a 422, because HTML sanitising is quadratic in nesting depth. Callers
//! on the async runtime use [`Markdown::render_all`], which renders on a
//! blocking thread.

use crate::server::error::AppError;
use pulldown_cmark::{html, Event, Options, Parser};
use std::borrow::Cow;
use std::sync::Arc;
use url::Url;

/// How deeply blocks, inlines and raw HTML tags may nest.
pub const MAX_DEPTH: usize = 32;
/// How many Markdown elements one text may produce.
pub const MAX_EVENTS: usize = 100_000;
/// How much HTML one text may expand to (link references repeat their URL).
pub const MAX_OUTPUT_BYTES: usize = 2 * 1024 * 1024;

/// Markdown rendered for storage: the sanitised HTML and the text a reader sees
/// (what search matches).
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub html: String,
    pub text: String,
}

/// The renderer, configured with the image hosts an admin allows.
#[derive(Clone)]
pub struct Markdown {
    cleaner: Arc<ammonia::Builder<'static>>,
}

impl Default for Markdown {
    /// Images only from this instance (relative addresses).
    fn default() -> Self {
        Markdown::new(None, &[])
    }
}

impl Markdown {
    /// `instance` is Shiplog's public URL; `image_hosts` are extra hosts
    /// (`img.example.com`) images may load from.
    pub fn new(instance: Option<&Url>, image_hosts: &[String]) -> Self {
        let mut allowed: Vec<String> = image_hosts.iter().map(|h| h.to_lowercase()).collect();
        if let Some(host) = instance.and_then(|u| u.host_str()) {
            allowed.push(host.to_lowercase());
        }
        let mut b = ammonia::Builder::default();
        b.url_schemes(["http", "https", "mailto"].into_iter().collect())
            .link_rel(Some("noopener noreferrer nofollow"))
            .attribute_filter(move |element, attribute, value| {
                if element == "img" && attribute == "src" && !image_allowed(value, &allowed) {
                    return None;
                }
                Some(Cow::Borrowed(value))
            });
        Markdown {
            cleaner: Arc::new(b),
        }
    }

    /// Renders one text on this thread; for tests and the command line.
    pub fn render(&self, field: &str, markdown: &str) -> Result<Rendered, AppError> {
        let events = bounded_events(markdown).map_err(|e| e.into_error(field))?;
        let mut raw = String::with_capacity(markdown.len() * 3 / 2);
        html::push_html(&mut raw, events.into_iter());
        let html = without_bare_images(&self.cleaner.clean(&raw).to_string());
        let text = visible_text(&html);
        Ok(Rendered { html, text })
    }

    /// Renders several texts (`(field, markdown)`) off the async runtime.
    pub async fn render_all(
        &self,
        texts: Vec<(String, String)>,
    ) -> Result<Vec<Rendered>, AppError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            texts
                .iter()
                .map(|(field, md)| this.render(field, md))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("markdown rendering failed: {e}")))?
    }

    /// Renders one text off the async runtime.
    pub async fn render_one(&self, field: &str, markdown: &str) -> Result<Rendered, AppError> {
        let mut all = self
            .render_all(vec![(field.to_string(), markdown.to_string())])
            .await?;
        Ok(all.pop().expect("one text in, one out"))
    }
}

/// Images load only from this instance (relative addresses) and allowed hosts.
fn image_allowed(src: &str, allowed: &[String]) -> bool {
    let src = src.trim();
    let relative = src.starts_with('/') && !src.starts_with("//") && !src.starts_with("/\\");
    if relative {
        return true;
    }
    match Url::parse(src) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url
            .host_str()
            .is_some_and(|h| allowed.iter().any(|a| a.eq_ignore_ascii_case(h))),
        _ => false,
    }
}

/// Images whose address the host rule removed are dropped: an `<img>`
/// with no `src` shows a broken-image box in pages and emails. Its alt text,
/// if any, stays as text. The input is ammonia's output, so every attribute
/// is double-quoted.
fn without_bare_images(html: &str) -> String {
    if !html.contains("<img") {
        return html.to_string();
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find("<img") {
        out.push_str(&rest[..at]);
        let tag = &rest[at..];
        let Some((attrs, len)) = img_attributes(tag) else {
            out.push_str("<img");
            rest = &tag[4..];
            continue;
        };
        if attrs.iter().any(|(name, _)| *name == "src") {
            out.push_str(&tag[..len]);
        } else if let Some((_, alt)) = attrs.iter().find(|(name, _)| *name == "alt") {
            // Attribute text escapes `&` and `"`; as text, `<` and `>` must be too.
            out.push_str(&alt.replace('<', "&lt;").replace('>', "&gt;"));
        }
        rest = &tag[len..];
    }
    out.push_str(rest);
    out
}

/// The attributes of the `<img …>` tag `tag` starts with, and its length.
fn img_attributes(tag: &str) -> Option<(Vec<(&str, &str)>, usize)> {
    let bytes = tag.as_bytes();
    let mut i = 4;
    if !matches!(bytes.get(i), Some(b' ' | b'>' | b'/')) {
        return None;
    }
    let mut attrs = vec![];
    loop {
        while matches!(bytes.get(i), Some(b' ' | b'/')) {
            i += 1;
        }
        match bytes.get(i)? {
            b'>' => return Some((attrs, i + 1)),
            _ => {
                let start = i;
                while !matches!(bytes.get(i)?, b'=' | b' ' | b'>' | b'/') {
                    i += 1;
                }
                let name = &tag[start..i];
                if bytes.get(i) == Some(&b'=') && bytes.get(i + 1) == Some(&b'"') {
                    let value_start = i + 2;
                    let end = value_start + tag[value_start..].find('"')?;
                    attrs.push((name, &tag[value_start..end]));
                    i = end + 1;
                } else {
                    attrs.push((name, ""));
                }
            }
        }
    }
}

#[derive(Debug, PartialEq)]
enum Bound {
    Depth,
    Events,
    Size,
}

impl Bound {
    fn into_error(self, field: &str) -> AppError {
        let msg = match self {
            Bound::Depth => format!(
                "the text nests quotes, lists, emphasis or HTML more than {MAX_DEPTH} levels deep; flatten it"
            ),
            Bound::Events => format!(
                "the text has too many elements (more than {MAX_EVENTS}); split it up"
            ),
            Bound::Size => "the text expands to too much HTML (repeated link references?); shorten it".to_string(),
        };
        AppError::invalid(field, msg)
    }
}

/// Parses, refusing past the bounds, and hands back the events to render.
fn bounded_events(markdown: &str) -> Result<Vec<Event<'_>>, Bound> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut events = Vec::new();
    let mut depth = 0usize;
    let mut html_depth = 0usize;
    let mut bytes = 0usize;
    for event in Parser::new_ext(markdown, options) {
        match &event {
            Event::Start(tag) => {
                depth += 1;
                if let pulldown_cmark::Tag::Link { dest_url, .. }
                | pulldown_cmark::Tag::Image { dest_url, .. } = tag
                {
                    bytes += dest_url.len();
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Html(h) | Event::InlineHtml(h) => {
                html_depth = raw_html_depth(h, html_depth)?;
                bytes += h.len();
            }
            Event::Text(t) | Event::Code(t) => bytes += t.len(),
            _ => {}
        }
        bytes += 16;
        if depth + html_depth > MAX_DEPTH {
            return Err(Bound::Depth);
        }
        if bytes > MAX_OUTPUT_BYTES {
            return Err(Bound::Size);
        }
        events.push(event);
        if events.len() > MAX_EVENTS {
            return Err(Bound::Events);
        }
    }
    Ok(events)
}

/// Follows how deeply raw HTML tags nest (an upper bound: every opening tag
/// counts until its closing tag; void and self-closing tags do not).
fn raw_html_depth(html: &str, mut depth: usize) -> Result<usize, Bound> {
    const VOID: [&str; 14] = [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    ];
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        let start = i + off + 1;
        i = start;
        let closing = bytes.get(start) == Some(&b'/');
        let name_start = if closing { start + 1 } else { start };
        let name: String = html[name_start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        let tag_end = html[name_start..].find('>').map(|p| name_start + p);
        let self_closing = tag_end.is_some_and(|e| e > 0 && bytes[e - 1] == b'/');
        if closing {
            depth = depth.saturating_sub(1);
        } else if !self_closing && !VOID.contains(&name.as_str()) {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(Bound::Depth);
            }
        }
    }
    Ok(depth)
}

/// The text of sanitised HTML as a reader sees it: tags dropped, entities decoded.
pub fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut entity = String::new();
    let mut in_entity = false;
    for c in html.chars() {
        if in_tag {
            if c == '>' {
                in_tag = false;
                out.push(' ');
            }
            continue;
        }
        if in_entity {
            if c == ';' {
                out.push_str(&decode_entity(&entity));
                entity.clear();
                in_entity = false;
            } else if entity.len() < 10 && (c.is_ascii_alphanumeric() || c == '#') {
                entity.push(c);
            } else {
                out.push('&');
                out.push_str(&entity);
                entity.clear();
                in_entity = false;
                out.push(c);
            }
            continue;
        }
        match c {
            '<' => in_tag = true,
            '&' => in_entity = true,
            c => out.push(c),
        }
    }
    if in_entity {
        out.push('&');
        out.push_str(&entity);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn decode_entity(name: &str) -> String {
    let named = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => None,
    };
    let numeric = || {
        let n = name.strip_prefix('#')?;
        let code = match n.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => n.parse().ok()?,
        };
        char::from_u32(code)
    };
    match named.or_else(numeric) {
        Some(c) => c.to_string(),
        None => format!("&{name};"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(md: &str) -> String {
        Markdown::default()
            .render("body", md)
            .expect("renders")
            .html
    }

    #[test]
    fn renders_markdown() {
        let html = render("**bold** and `code`\n\n- a\n- b");
        assert!(html.contains("<strong>bold</strong>"));
        assert!(html.contains("<code>code</code>"));
        assert!(html.contains("<li>a</li>"));
    }

    #[test]
    fn nothing_executable_survives() {
        let attacks = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<svg onload=alert(1)>",
            "[x](JaVaScRiPt:alert(1))",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
        ];
        for attack in attacks {
            let html = render(attack).to_lowercase();
            for bad in [
                "<script",
                "onerror",
                "onload",
                "javascript:",
                "<iframe",
                "style=",
            ] {
                assert!(!html.contains(bad), "{attack:?} rendered as {html:?}");
            }
        }
    }

    #[test]
    fn links_open_safely() {
        let html = render("[docs](https://example.com)");
        assert!(html.contains("href=\"https://example.com\""));
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""));
    }

    fn refused(md: &str) -> bool {
        Markdown::default().render("body", md).is_err()
    }

    #[test]
    fn deep_nesting_is_refused_not_rendered() {
        let n = 49_990;
        assert!(refused(&">".repeat(n)), "blockquotes");
        assert!(
            refused(&"> ".repeat(MAX_DEPTH + 1)),
            "a few too many blockquotes"
        );
        let list: String = (0..200)
            .map(|i| format!("{}- x\n", "  ".repeat(i)))
            .collect();
        assert!(refused(&list), "nested lists");
        assert!(refused(&"<div>".repeat(10_000)), "raw HTML");
        assert!(refused(&"<span>a".repeat(5_000)), "inline HTML");
        let stars = "*".repeat(200);
        assert!(refused(&format!("{stars}a{stars}")), "emphasis");
        let images = "![".repeat(100) + "a" + &"](b)".repeat(100);
        assert!(refused(&images), "images inside images");
        // Ordinary nesting still renders.
        assert!(!refused(
            "> quote\n> > reply\n\n- a\n  - b\n    - c\n\n<div><b>x</b></div>"
        ));
    }

    #[test]
    fn wide_or_repetitive_input_is_bounded() {
        // A table whose rows are padded to a huge header: the padding is work too.
        let header = "|a".repeat(5_000) + "|\n" + &"|-".repeat(5_000) + "|\n";
        let table = header + &"x\n".repeat(10_000);
        assert!(refused(&table), "table padding");
        // One long link reference used thousands of times: pulldown-cmark
        // stops expanding it, so the HTML stays within the bound.
        let url = format!("https://example.com/{}", "a".repeat(1_900));
        let refs = format!("[r]: {url}\n\n{}", "[r] ".repeat(10_000));
        let html = Markdown::default()
            .render("body", &refs)
            .expect("renders")
            .html;
        assert!(html.len() < MAX_OUTPUT_BYTES, "{} bytes", html.len());
        // Many links, emphasis runs and brackets render (they are linear).
        for md in [
            "[a](b) ".repeat(5_000),
            "*a* ".repeat(10_000),
            "[".repeat(40_000),
            "`".repeat(40_000),
            "| a | b |\n|---|---|\n".to_string() + &"| 1 | 2 |\n".repeat(3_000),
        ] {
            Markdown::default().render("body", &md).expect("renders");
        }
    }

    #[test]
    fn images_only_from_the_instance_and_allowed_hosts() {
        let instance = Url::parse("https://notes.example.com").unwrap();
        let md = Markdown::new(Some(&instance), &["img.cdn.example".to_string()]);
        let html = |s: &str| md.render("body", s).unwrap().html;
        assert!(html("![a](/logo.png)").contains("src=\"/logo.png\""));
        assert!(html("![a](https://notes.example.com/a.png)").contains("src="));
        assert!(html("![a](https://IMG.cdn.example/a.png)").contains("src="));
        assert!(!html("![a](https://tracker.example/p.gif)").contains("src="));
        assert!(!html("<img src=\"//tracker.example/p.gif\">").contains("src="));
        assert!(!html("<img src=\"http://tracker.example/p.gif\">").contains("src="));
    }

    #[test]
    fn a_refused_image_leaves_its_alt_text_and_no_image() {
        let md = Markdown::default();
        let r = md
            .render(
                "body",
                "Before ![the new chart](https://tracker.example/p.gif) after",
            )
            .unwrap();
        assert_eq!(r.html.trim(), "<p>Before the new chart after</p>");
        assert!(!r.html.contains("<img"));
        let r = md
            .render(
                "body",
                "<img src=\"//t.example/p.gif\" alt=\"x < y & \\\"z\\\"\">",
            )
            .unwrap();
        assert!(!r.html.contains("<img"), "{}", r.html);
        assert!(r.html.contains("x &lt; y &amp;"), "{}", r.html);
        // No alt: nothing at all.
        let r = md.render("body", "![](https://t.example/p.gif)").unwrap();
        assert_eq!(r.html.trim(), "<p></p>");
        // Allowed images stay, with their alt text.
        let r = md.render("body", "![logo](/logo.png)").unwrap();
        assert!(
            r.html.contains("<img src=\"/logo.png\" alt=\"logo\">"),
            "{}",
            r.html
        );
    }

    #[test]
    fn visible_text_is_what_readers_see() {
        let r = Markdown::default()
            .render(
                "body",
                "Hello <!-- secret token --> **world** &amp; <b>more</b>",
            )
            .unwrap();
        assert_eq!(r.text, "Hello world & more");
        assert!(!r.text.contains("secret"));
        assert_eq!(
            visible_text("a&lt;b&#62;c &unknown; d &"),
            "a<b>c &unknown; d &"
        );
    }
}
