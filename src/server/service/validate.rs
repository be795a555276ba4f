//! Validated values at the edges: once parsed, a value is known good, so
//! invalid data cannot travel further in. Errors name the field they came from.

use crate::server::error::AppError;

pub use crate::server::text::visible;

fn trimmed(field: &str, raw: &str, max: usize, what: &str) -> Result<String, AppError> {
    let raw = visible(raw);
    let value = raw.trim();
    if value.is_empty() {
        return Err(AppError::invalid(field, format!("{what} is required")));
    }
    if value.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("{what} is too long (at most {max} characters)"),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(AppError::invalid(
            field,
            format!("{what} may not contain control characters"),
        ));
    }
    Ok(value.to_string())
}

/// `production`, `staging`, `eu-west`: lowercase letters, digits and dashes.
pub fn environment_slug(field: &str, raw: &str) -> Result<String, AppError> {
    let slug = trimmed(field, raw, 40, "the environment")?;
    let ok = slug
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !ok {
        return Err(AppError::invalid(
            field,
            "the environment must be a slug: lowercase letters, digits and dashes (e.g. `production`)",
        ));
    }
    Ok(slug)
}

pub fn version(field: &str, raw: &str) -> Result<String, AppError> {
    let v = trimmed(field, raw, 100, "the version")?;
    if v.chars().any(char::is_whitespace) {
        return Err(AppError::invalid(
            field,
            "the version may not contain spaces",
        ));
    }
    Ok(v)
}

pub fn commit_sha(field: &str, raw: &str) -> Result<String, AppError> {
    let sha = raw.trim().to_ascii_lowercase();
    if !(4..=64).contains(&sha.len()) || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AppError::invalid(
            field,
            "a commit must be a hexadecimal hash of 4 to 64 characters",
        ));
    }
    Ok(sha)
}

pub fn title(field: &str, raw: &str) -> Result<String, AppError> {
    trimmed(field, raw, 200, "the title")
}

pub fn body(field: &str, raw: &str) -> Result<String, AppError> {
    if raw.len() > 50_000 {
        return Err(AppError::invalid(
            field,
            "the text is too long (at most 50,000 bytes)",
        ));
    }
    if raw
        .chars()
        .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(AppError::invalid(
            field,
            "the text may not contain control characters (other than tabs and line breaks)",
        ));
    }
    Ok(raw.trim_end().to_string())
}

pub fn component(field: &str, raw: Option<&str>) -> Result<Option<String>, AppError> {
    match raw.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => Ok(Some(trimmed(field, c, 60, "the component")?.to_lowercase())),
    }
}

/// Only web and mail links: anything else (`javascript:`, `data:`) is refused.
pub fn link(field: &str, raw: &str) -> Result<String, AppError> {
    let raw = raw.trim();
    let url = url::Url::parse(raw)
        .map_err(|_| AppError::invalid(field, format!("`{raw}` is not a URL")))?;
    if !matches!(url.scheme(), "http" | "https" | "mailto") || raw.len() > 2000 {
        return Err(AppError::invalid(
            field,
            "links must be http, https or mailto URLs",
        ));
    }
    Ok(url.to_string())
}

pub fn email(field: &str, raw: &str) -> Result<String, AppError> {
    let e = trimmed(field, raw, 254, "the email address")?.to_lowercase();
    let valid = match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
                && e.matches('@').count() == 1
                // What the mailer cannot address is no address: invitations
                // to such a one were accepted and then failed with a 500.
                && e.parse::<lettre::Address>().is_ok()
        }
        None => false,
    };
    if !valid {
        return Err(AppError::invalid(
            field,
            format!("`{e}` is not an email address"),
        ));
    }
    Ok(e)
}

pub fn person_name(field: &str, raw: &str) -> Result<String, AppError> {
    trimmed(field, raw, 100, "the name")
}

pub fn token_name(field: &str, raw: &str) -> Result<String, AppError> {
    trimmed(field, raw, 100, "the token name")
}

pub fn password(field: &str, raw: &str) -> Result<String, AppError> {
    let n = raw.chars().count();
    if n < 10 {
        return Err(AppError::invalid(
            field,
            "the password must have at least 10 characters",
        ));
    }
    if n > 256 {
        return Err(AppError::invalid(
            field,
            "the password is too long (at most 256 characters)",
        ));
    }
    Ok(raw.to_string())
}

/// Parses one of a closed set of values, naming the field when it fails.
/// A time people can mean: years 1970 to 9999 (RFC 3339 allows more, and a
/// year past 9999 once sorted before every other date).
pub fn timestamp(
    field: &str,
    t: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, AppError> {
    use chrono::Datelike;
    if !(1970..=9999).contains(&t.year()) {
        return Err(AppError::invalid(
            field,
            "the time must fall between the years 1970 and 9999",
        ));
    }
    Ok(t)
}

/// A same-site path to go to after signing in: `/app…` only, never another
/// site (`//host`, `/\host`) nor text that cannot be a header value.
pub fn next_path(raw: Option<&str>) -> String {
    raw.filter(|n| {
        (*n == "/app" || n.starts_with("/app/") || n.starts_with("/app?"))
            && n.len() <= 2000
            && n.chars().all(|c| c.is_ascii_graphic())
            && !n.contains('\\')
    })
    .unwrap_or("/app")
    .to_string()
}

pub fn choice<T: std::str::FromStr<Err = String>>(field: &str, raw: &str) -> Result<T, AppError> {
    raw.trim()
        .parse()
        .map_err(|e: String| AppError::invalid(field, e))
}

/// A comma-separated list of choices (`build.failed,block.placed`); blanks are skipped.
pub fn choices<T: std::str::FromStr<Err = String>>(
    field: &str,
    raw: &str,
) -> Result<Vec<T>, AppError> {
    raw.split(',')
        .filter(|c| !c.trim().is_empty())
        .map(|c| choice(field, c))
        .collect()
}

/// For `Option<Option<T>>` fields: a field that is there, even as `null`,
/// is `Some` (`null` clears), while an absent one stays `None` (unchanged).
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// A day typed as `YYYY-MM-DD`; blank is `None`.
pub fn day(field: &str, raw: &str) -> Result<Option<chrono::NaiveDate>, AppError> {
    match raw.trim() {
        "" => Ok(None),
        v => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::invalid(field, "use a date like 2026-11-26")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(environment_slug("e", " production ").unwrap(), "production");
        assert!(environment_slug("e", "Prod").is_err());
        assert!(environment_slug("e", "-x").is_err());
        assert!(environment_slug("e", "").is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(email("e", "Ana@Example.COM").unwrap(), "ana@example.com");
        for bad in [
            "ana",
            "ana@",
            "@x.io",
            "a@b",
            "a b@c.io",
            "a@@b.io",
            // Refused by lettre, and so unsendable.
            "a\"b@example.com",
            "x\"onmouseover=alert(1)\"@example.com",
            "a..b@example.com",
        ] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn links_are_web_links() {
        assert!(link("l", "https://example.com/x").is_ok());
        assert!(link("l", "javascript:alert(1)").is_err());
        assert!(link("l", "data:text/html,hi").is_err());
    }

    #[test]
    fn titles_lose_bidirectional_controls_and_zero_width_characters() {
        assert_eq!(
            title("t", "Invoice\u{202E}fdp.exe").unwrap(),
            "Invoicefdp.exe"
        );
        assert_eq!(
            title("t", "\u{200B}Fast\u{2066}er\u{2069} search\u{FEFF}").unwrap(),
            "Faster search"
        );
        assert_eq!(title("t", "a\u{200D}b").unwrap(), "ab");
        // Emoji sequences keep their joiners.
        assert_eq!(title("t", "Hi 👩\u{200D}💻").unwrap(), "Hi 👩\u{200D}💻");
        assert!(
            title("t", "\u{202E}\u{200B}").is_err(),
            "nothing visible is left"
        );
    }

    #[test]
    fn bodies_keep_line_breaks_but_no_other_controls() {
        assert!(body("b", "a\r\n\tb").is_ok());
        assert!(body("b", "a\u{0}b").is_err());
        assert!(body("b", "a\u{1b}[31m").is_err());
    }

    #[test]
    fn invalid_names_the_field() {
        match version("deploy.version", "has space") {
            Err(AppError::Invalid { field, .. }) => assert_eq!(field, "deploy.version"),
            other => panic!("{other:?}"),
        }
    }
}
