//! What request logs may say about a request. Some addresses are secrets
//! themselves (an account's private notes link, an invitation, the
//! confirmation and preference links in emails): whoever reads the log could
//! use them, so their secret segment is replaced before anything is logged.

/// Path prefixes whose next segment is a secret.
const SECRET_SEGMENT_AFTER: [&str; 6] = [
    "/a/",
    "/invite/",
    "/confirm/",
    "/unsubscribe/",
    "/preferences/",
    "/subscribe/confirm/",
];

/// The path as logs may show it (never the query string, which may carry
/// tokens or search text).
pub fn loggable_path(path: &str) -> String {
    for prefix in SECRET_SEGMENT_AFTER {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            return format!("{prefix}[redacted]{tail}");
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(loggable_path("/a/s3cret/changes"), "/a/[redacted]/changes");
        assert_eq!(loggable_path("/a/s3cret"), "/a/[redacted]");
        assert_eq!(loggable_path("/invite/tok"), "/invite/[redacted]");
        assert_eq!(loggable_path("/unsubscribe/tok"), "/unsubscribe/[redacted]");
        assert_eq!(loggable_path("/app/releases/x"), "/app/releases/x");
        assert_eq!(loggable_path("/api/v1/deploys"), "/api/v1/deploys");
    }
}
