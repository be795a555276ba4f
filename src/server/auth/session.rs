//! Browser sessions' primitives: the cookie's name and the keys a session
//! holds. Signing in and out, which needs the services, is
//! `crate::server::browser_session`.

/// The session key naming the browser's sign-in row (`sign_ins.id`).
pub const SIGN_IN: &str = "sign_in";
/// Rewritten when the sign-in is seen again, so the cookie's expiry moves on.
pub const SEEN: &str = "seen";

/// The session cookie's name: `__Host-` (Secure, path `/`, no domain, so no
/// other host or path can set it) when people reach Shiplog over https.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-shiplog_session"
    } else {
        "shiplog_session"
    }
}
