//! Invitations sent through a real SMTP server over TCP. `.ci/run` starts one
//! (aiosmtpd) that writes each message into a Maildir, and names both here.

use crate::common::*;
use axum::http::StatusCode;

#[tokio::test]
async fn invitations_are_sent_by_smtp() {
    let (Ok(smtp), Ok(maildir)) = (
        std::env::var("SHIPLOG_TEST_SMTP_URL"),
        std::env::var("SHIPLOG_TEST_MAILDIR"),
    ) else {
        if std::env::var("SHIPLOG_REQUIRE_SMTP").is_ok_and(|v| v == "1") {
            panic!("SHIPLOG_REQUIRE_SMTP=1 but SHIPLOG_TEST_SMTP_URL / SHIPLOG_TEST_MAILDIR are not set");
        }
        eprintln!("skipping: no test SMTP server (SHIPLOG_TEST_SMTP_URL)");
        return;
    };
    let app = TestApp::start_with(
        Backend::Sqlite,
        &[
            ("SMTP_URL", &smtp),
            ("SHIPLOG_MAIL_FROM", "Shiplog <noreply@example.com>"),
        ],
    )
    .await
    .unwrap();
    app.setup_admin().await;
    let to = format!(
        "smtp-{}@example.com",
        &shiplog::server::auth::token::generate("")[..10]
    );
    let res = app.call("invite", &[("email", &to), ("role", "pm")]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    let sent = res.json();
    assert!(
        sent["link"].is_null(),
        "with SMTP the link is emailed, not shown"
    );
    assert_eq!(sent["note"], "The invitation was emailed.");

    // The server has stored the message by the time it acknowledged it.
    let new = std::path::Path::new(&maildir).join("new");
    let message = std::fs::read_dir(&new)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .find(|m| m.contains(&to))
        .unwrap_or_else(|| panic!("no message to {to} in {}", new.display()));
    assert!(
        message.contains("Subject: Ada Admin invited you to Shiplog"),
        "{message}"
    );
    assert!(message.contains("From: Shiplog <noreply@example.com>"));
    assert!(message.contains("http://127.0.0.1:3000/invite/"));
    assert!(message.contains("Product manager"));
}
