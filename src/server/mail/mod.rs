//! Outgoing mail through lettre: an SMTP server when `SMTP_URL` is set, otherwise
//! each message is written as an `.eml` file into a folder (and pages say so).
//! Templates are files under `templates/<name>/{subject.txt,body.txt,body.html}`.

use crate::server::config::{Config, MailConfig};
use anyhow::Context;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(PathBuf),
}

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

/// A message ready to send.
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What happened to a message.
#[derive(Debug)]
pub enum Delivery {
    Sent,
    Written(PathBuf),
}

impl Mailer {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .context("SHIPLOG_MAIL_FROM is not a valid mailbox")?;
        let transport = match &config.mail {
            MailConfig::Smtp(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .context("SMTP_URL could not be used (the value is not shown)")?
                    .build(),
            ),
            MailConfig::Folder(dir) => Transport::Folder(dir.clone()),
        };
        Ok(Mailer { transport, from })
    }

    /// Where messages go when there is no SMTP server; `None` when there is one.
    pub fn outbox(&self) -> Option<&PathBuf> {
        match &self.transport {
            Transport::Folder(dir) => Some(dir),
            Transport::Smtp(_) => None,
        }
    }

    pub async fn send(&self, msg: Outgoing) -> anyhow::Result<Delivery> {
        let to: Mailbox = msg
            .to
            .parse()
            .with_context(|| format!("`{}` is not a valid recipient", msg.to))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(msg.subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(msg.text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(msg.html),
                    ),
            )
            .context("could not build the message")?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(email)
                    .await
                    .context("the SMTP server refused the message")?;
                Ok(Delivery::Sent)
            }
            Transport::Folder(dir) => {
                tokio::fs::create_dir_all(dir).await.with_context(|| {
                    format!("could not create the mail folder {}", dir.display())
                })?;
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
                    &crate::server::auth::token::generate("")[..8]
                );
                let path = dir.join(name);
                tokio::fs::write(&path, email.formatted())
                    .await
                    .with_context(|| format!("could not write {}", path.display()))?;
                Ok(Delivery::Written(path))
            }
        }
    }
}

/// Fills `{{name}}` placeholders in one pass (a value that itself contains
/// `{{other}}` stays as written); in HTML the values are escaped.
fn fill(template: &str, values: &[(&str, &str)], html: bool) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        match values.iter().find(|(n, _)| *n == name) {
            Some((_, value)) if html => out.push_str(&crate::server::html::escape(value)),
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn render(subject: &str, text: &str, html: &str, to: &str, values: &[(&str, &str)]) -> Outgoing {
    Outgoing {
        to: to.to_string(),
        subject: fill(subject, values, false).trim().to_string(),
        text: fill(text, values, false),
        html: fill(html, values, true),
    }
}

/// The invitation message.
pub fn invitation(to: &str, inviter: &str, role: &str, link: &str, expires: &str) -> Outgoing {
    render(
        include_str!("templates/invitation/subject.txt"),
        include_str!("templates/invitation/body.txt"),
        include_str!("templates/invitation/body.html"),
        to,
        &[
            ("inviter", inviter),
            ("role", role),
            ("link", link),
            ("expires", expires),
        ],
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn templates_fill_and_escape() {
        let m = super::invitation(
            "a@b.c",
            "Ana <admin>",
            "Engineer",
            "https://x/invite/t",
            "1 Dec",
        );
        assert_eq!(m.subject, "Ana <admin> invited you to Shiplog");
        assert!(m.text.contains("https://x/invite/t"));
        assert!(m.html.contains("Ana &lt;admin&gt;"));
        assert!(!m.html.contains("{{"));
    }

    #[test]
    fn a_value_cannot_pull_in_another_placeholder() {
        let m = super::invitation(
            "a@b.c",
            "{{link}} <img src=x onerror=alert(1)>",
            "Engineer",
            "https://x/invite/secret",
            "1 Dec",
        );
        assert!(m.html.contains("{{link}} &lt;img"), "{}", m.html);
        assert!(!m.html.contains("<img src=x"));
        assert_eq!(
            m.html.matches("https://x/invite/secret").count(),
            super::invitation(
                "a@b.c",
                "Ana",
                "Engineer",
                "https://x/invite/secret",
                "1 Dec"
            )
            .html
            .matches("https://x/invite/secret")
            .count()
        );
    }
}
