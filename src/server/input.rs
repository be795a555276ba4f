//! Text no field may hold, refused before any handler runs: NUL and the other
//! C0 control characters (tab, newline and carriage return are allowed in
//! bodies, where multi-line text lives). PostgreSQL refuses NUL in text with
//! an error (a 500 once), while SQLite stores it, so the same data could not
//! move between them; no page or email has any use for the others.
//!
//! - In the path (or a path that is not UTF-8 once decoded): `404`, since no
//!   page has such an address.
//! - In a query parameter or a field of a JSON or form body: `422` naming the
//!   field (`entries[0].body`), in the shape the caller reads: the API's JSON
//!   error, a server function's error, or an HTML page.

use crate::model::FnError;
use crate::server::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

/// The most body this check reads; larger bodies are refused as every
/// extractor would refuse them (the API's limit, and axum's default).
pub const MAX_CHECKED_BODY: usize = crate::server::rest::MAX_BODY_BYTES;

/// Whether `c` may not appear in text that came from outside: C0 controls,
/// but tab, newline and carriage return where `multi_line`.
fn refused(c: char, multi_line: bool) -> bool {
    (c as u32) < 0x20 && !(multi_line && matches!(c, '\t' | '\n' | '\r'))
}

/// What was wrong with a request.
#[derive(Debug, PartialEq)]
enum Fault {
    /// The path: no such page.
    Path,
    /// A named field holds a character it may not.
    Field { field: String, character: char },
    /// The body is larger than any handler reads.
    TooLarge,
}

pub async fn guard(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if let Some(fault) = check_path(&path).or_else(|| check_query(req.uri().query())) {
        return refuse(&path, fault);
    }
    if !matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return next.run(req).await;
    }
    let kind = body_kind(&req);
    if kind == BodyKind::Other {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_CHECKED_BODY).await {
        Ok(b) => b,
        Err(_) => return refuse(&path, Fault::TooLarge),
    };
    let fault = match kind {
        BodyKind::Json => check_json(&bytes),
        BodyKind::Form => check_form(&bytes),
        BodyKind::Other => None,
    };
    if let Some(fault) = fault {
        return refuse(&path, fault);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[derive(Clone, Copy, PartialEq)]
enum BodyKind {
    Json,
    Form,
    Other,
}

fn body_kind(req: &Request) -> BodyKind {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ct.starts_with("application/json") || ct.contains("+json") {
        BodyKind::Json
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        BodyKind::Form
    } else {
        BodyKind::Other
    }
}

/// `%00`…`%1f` or `%7f`, or bytes that are not UTF-8 once decoded.
fn check_path(path: &str) -> Option<Fault> {
    if !path.contains('%') {
        return None;
    }
    match percent_decode(path.as_bytes()) {
        Some(text) if !text.chars().any(|c| refused(c, false) || c == '\u{7f}') => None,
        _ => Some(Fault::Path),
    }
}

fn percent_decode(raw: &[u8]) -> Option<String> {
    let decoded: Vec<u8> = percent_encoding_decode(raw);
    String::from_utf8(decoded).ok()
}

fn percent_encoding_decode(raw: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            if let (Some(h), Some(l)) = (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// Whether form-encoded text may decode to a control character.
fn may_hold_controls(raw: &[u8]) -> bool {
    raw.iter().any(|b| *b < 0x20)
        || raw
            .windows(2)
            .any(|w| w[0] == b'%' && matches!(w[1], b'0' | b'1'))
}

/// Query parameters are one line each: every C0 control is refused.
fn check_query(query: Option<&str>) -> Option<Fault> {
    let query = query?;
    if !may_hold_controls(query.as_bytes()) {
        return None;
    }
    first_bad_pair(query.as_bytes(), false)
}

fn check_form(body: &[u8]) -> Option<Fault> {
    if !may_hold_controls(body) {
        return None;
    }
    first_bad_pair(body, true)
}

fn first_bad_pair(raw: &[u8], multi_line: bool) -> Option<Fault> {
    for (key, value) in url::form_urlencoded::parse(raw) {
        let bad = value
            .chars()
            .chain(key.chars())
            .find(|c| refused(*c, multi_line));
        if let Some(character) = bad {
            return Some(Fault::Field {
                field: form_field(&key),
                character,
            });
        }
    }
    None
}

/// `form[title]` (a server function's nested argument) reads `form.title`.
fn form_field(key: &str) -> String {
    let clean: String = key
        .chars()
        .filter(|c| !refused(*c, false))
        .collect::<String>()
        .replace("][", ".")
        .replace('[', ".")
        .replace(']', "");
    if clean.is_empty() {
        "body".into()
    } else {
        clean
    }
}

/// JSON strings can only hold controls as escapes (`\u0000`, `\b`, `\f`…;
/// raw ones are a syntax error the extractor answers): the body is parsed
/// and walked only when it holds such an escape.
fn check_json(body: &[u8]) -> Option<Fault> {
    let has_escape = body
        .windows(2)
        .any(|w| w[0] == b'\\' && matches!(w[1], b'u' | b'b' | b'f'));
    if !has_escape {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut path = String::new();
    walk(&value, &mut path)
}

fn walk(value: &serde_json::Value, path: &mut String) -> Option<Fault> {
    use serde_json::Value;
    let at = |path: &str| {
        if path.is_empty() {
            "body".to_string()
        } else {
            path.to_string()
        }
    };
    match value {
        Value::String(s) => s
            .chars()
            .find(|c| refused(*c, true))
            .map(|character| Fault::Field {
                field: at(path),
                character,
            }),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = walk(v, path);
            path.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            let clean: String = k.chars().filter(|c| !refused(*c, false)).collect();
            path.push_str(&clean);
            let found = match k.chars().find(|c| refused(*c, false)) {
                Some(character) => Some(Fault::Field {
                    field: at(path),
                    character,
                }),
                None => walk(v, path),
            };
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

/// The character named for people: `NUL`, or its code.
fn describe(c: char) -> String {
    match c {
        '\0' => "a NUL character".into(),
        '\t' => "a tab".into(),
        '\n' | '\r' => "a line break".into(),
        c => format!("the control character U+{:04X}", c as u32),
    }
}

fn refuse(path: &str, fault: Fault) -> Response {
    let error = match fault {
        Fault::Path => AppError::not_found("There is nothing at this address."),
        Fault::TooLarge => AppError::PayloadTooLarge(format!(
            "The request body is larger than {MAX_CHECKED_BODY} bytes."
        )),
        Fault::Field { field, character } => {
            let message = format!("{} may not contain {}", field, describe(character));
            AppError::invalid(field, message)
        }
    };
    tracing::info!(path = %crate::server::logging::loggable_path(path), status = error.status().as_u16(), "refused input");
    if path.starts_with("/api/") {
        return error.into_response();
    }
    let status = error.status();
    if path.starts_with("/fn/") {
        let body = FnError {
            code: error.code().to_string(),
            message: error.to_string(),
        };
        return (status, axum::Json(body)).into_response();
    }
    let message = match &error {
        AppError::Invalid { message, .. } => {
            let mut m = message.clone();
            m.push('.');
            m
        }
        other => other.to_string(),
    };
    (
        status,
        Html(crate::server::public::error_html(status, &message)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(fault: Option<Fault>) -> Option<String> {
        match fault {
            Some(Fault::Field { field, .. }) => Some(field),
            Some(other) => Some(format!("{other:?}")),
            None => None,
        }
    }

    #[test]
    fn paths_with_controls_or_broken_utf8_are_no_page() {
        assert_eq!(check_path("/releases/%00"), Some(Fault::Path));
        assert_eq!(check_path("/a/%ff/"), Some(Fault::Path));
        assert_eq!(check_path("/a/%1F/x"), Some(Fault::Path));
        assert_eq!(check_path("/releases/caf%C3%A9"), None);
        assert_eq!(check_path("/releases/100%25"), None);
        assert_eq!(check_path("/releases/plain"), None);
    }

    #[test]
    fn query_parameters_are_one_line() {
        assert_eq!(
            field(check_query(Some("q=a&component=%00"))),
            Some("component".into())
        );
        assert_eq!(field(check_query(Some("q=a%0Ab"))), Some("q".into()));
        assert_eq!(field(check_query(Some("q=%20%2F%7E&page=2"))), None);
        assert_eq!(field(check_query(None)), None);
    }

    #[test]
    fn form_bodies_keep_line_breaks_and_tabs() {
        assert_eq!(field(check_form(b"note=a%0D%0Ab%09c")), None);
        assert_eq!(
            field(check_form(b"email=a%00b%40x.org&password=x")),
            Some("email".into())
        );
        assert_eq!(
            field(check_form(b"form%5Btitle%5D=a%01")),
            Some("form.title".into())
        );
    }

    #[test]
    fn json_fields_are_named_by_their_path() {
        assert_eq!(field(check_json(br#"{"title":"a\nb"}"#)), None);
        assert_eq!(
            field(check_json(
                br#"{"entries":[{"title":"ok"},{"title":"x","body":"a\u0000b"}]}"#
            )),
            Some("entries[1].body".into())
        );
        assert_eq!(
            field(check_json(br#"{"reason":"\u001b[31mred"}"#)),
            Some("reason".into())
        );
        assert_eq!(
            field(check_json(br#"{"labels":{"a\u0000":"b"}}"#)),
            Some("labels.a".into())
        );
        // An escaped backslash followed by `u0000` is text, not a NUL.
        assert_eq!(field(check_json(br#"{"path":"C:\\u0000"}"#)), None);
        assert_eq!(field(check_json(br#""\u0000""#)), Some("body".into()));
    }
}
