//! A browser that has signed in as someone before carries a signed cookie
//! naming that account (OWASP's "device cookie"). Its sign-ins at that
//! account are throttled on their own, so that guesses from strangers, even
//! behind the same network address, never keep its owner out.

use super::signing::Signer;
use chrono::{DateTime, TimeDelta, Utc};

/// How long a browser is remembered after its last sign-in.
pub const LIFETIME_DAYS: i64 = 365;
const PURPOSE: &str = "device";

/// The cookie's name: `__Host-` bound to this host over https.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-shiplog_device"
    } else {
        "shiplog_device"
    }
}

/// A fresh cookie value for `email`: `v1.<hex email>.<issued>.<nonce>.<signature>`.
pub fn issue(signer: &Signer, email: &str, now: DateTime<Utc>) -> String {
    let nonce = super::token::generate("");
    let payload = format!(
        "v1.{}.{}.{}",
        hex::encode(email.to_lowercase()),
        now.timestamp(),
        nonce
    );
    let signature = signer.sign(PURPOSE, &payload);
    format!("{payload}.{signature}")
}

/// The device's id when `value` is a cookie this instance issued for
/// `email` within its lifetime.
pub fn verify(signer: &Signer, value: &str, email: &str, now: DateTime<Utc>) -> Option<String> {
    let (payload, signature) = value.rsplit_once('.')?;
    if !signer.verify(PURPOSE, payload, signature) {
        return None;
    }
    let mut parts = payload.split('.');
    let (version, named, issued, nonce) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "v1" || parts.next().is_some() {
        return None;
    }
    let named = String::from_utf8(hex::decode(named).ok()?).ok()?;
    let issued = DateTime::from_timestamp(issued.parse().ok()?, 0)?;
    let fresh =
        now - issued < TimeDelta::days(LIFETIME_DAYS) && issued <= now + TimeDelta::minutes(5);
    (named == email.trim().to_lowercase() && fresh).then(|| nonce.to_string())
}

/// The `Set-Cookie` value remembering this browser.
pub fn set_cookie(value: &str, secure: bool) -> String {
    format!(
        "{}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
        cookie_name(secure),
        LIFETIME_DAYS * 24 * 3600,
        if secure { "; Secure" } else { "" }
    )
}

/// This browser's device cookie, from a `Cookie` header.
pub fn from_headers(headers: &http::HeaderMap, secure: bool) -> Option<String> {
    let name = cookie_name(secure);
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_names_one_account_and_expires() {
        let signer = Signer::new(b"key");
        let now = Utc::now();
        let value = issue(&signer, "Ana@Example.com", now);
        let id = verify(&signer, &value, "ana@example.com", now).expect("valid");
        assert!(!id.is_empty());
        assert!(verify(&signer, &value, "bo@example.com", now).is_none());
        assert!(verify(&Signer::new(b"other"), &value, "ana@example.com", now).is_none());
        assert!(verify(
            &signer,
            &value,
            "ana@example.com",
            now + TimeDelta::days(400)
        )
        .is_none());
        let forged = value.replace("v1.", "v1.00");
        assert!(verify(&signer, &forged, "ana@example.com", now).is_none());
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            format!("a=b; shiplog_device={value}").parse().unwrap(),
        );
        assert_eq!(
            from_headers(&headers, false).as_deref(),
            Some(value.as_str())
        );
        assert_eq!(from_headers(&headers, true), None);
    }
}
