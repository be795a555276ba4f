//! Outgoing mail through lettre: an SMTP server when `SMTP_URL` is set, otherwise
//! each message is written as an `.eml` file into a folder (and pages say so).
//! Templates are files under `templates/<name>/{subject.txt,body.txt,body.html}`;
//! every `body.html` goes inside `templates/layout.html`.

use crate::server::config::{Config, MailConfig};
use anyhow::Context;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

mod customer;
mod direct;
pub use customer::{announcement, digest, Letter, LetterEntry};

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Plain SMTP to a relay: our own pool, without Nagle's delay.
    Direct(std::sync::Arc<direct::DirectPool>),
    Folder(PathBuf),
}

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// Signs every message when a key is configured.
    dkim: Option<std::sync::Arc<lettre::message::dkim::DkimConfig>>,
}

/// A message ready to send.
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// A stable `Message-ID` (with its angle brackets), so that receivers
    /// can drop a repeat; lettre makes one up when there is none.
    pub message_id: Option<String>,
    /// Mailing-list headers, on every message to a subscriber.
    pub list: Option<ListHeaders>,
}

/// `List-Unsubscribe` (RFC 2369, one-click per RFC 8058) and `List-Id`.
pub struct ListHeaders {
    /// An https URL that unsubscribes on `POST`.
    pub unsubscribe: String,
    /// `Release notes <notes.example.com>`.
    pub list_id: String,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
#[error("{reply}")]
pub struct SendError {
    /// The server refused it for good (5xx): retrying cannot help.
    pub permanent: bool,
    /// The server's reply or what went wrong, for the campaign page.
    pub reply: String,
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
        let direct = match &config.mail {
            MailConfig::Smtp(url) => {
                direct::DirectPool::for_url(url.expose(), config.mail_connections)
            }
            MailConfig::Folder(_) => None,
        };
        let transport = match &config.mail {
            MailConfig::Smtp(_) if direct.is_some() => {
                Transport::Direct(std::sync::Arc::new(direct.expect("checked")))
            }
            MailConfig::Smtp(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .context("SMTP_URL could not be used (the value is not shown)")?
                    .pool_config(PoolConfig::new().max_size(config.mail_connections))
                    .timeout(Some(std::time::Duration::from_secs(30)))
                    .build(),
            ),
            MailConfig::Folder(dir) => Transport::Folder(dir.clone()),
        };
        let dkim = match &config.dkim {
            None => None,
            Some(d) => {
                use lettre::message::dkim::{DkimConfig, DkimSigningAlgorithm, DkimSigningKey};
                let algorithm = if d.ed25519 {
                    DkimSigningAlgorithm::Ed25519
                } else {
                    DkimSigningAlgorithm::Rsa
                };
                let key = DkimSigningKey::new(d.key.expose(), algorithm).map_err(|e| {
                    anyhow::anyhow!("SHIPLOG_DKIM_KEY_FILE: not a usable key ({e}); RSA keys are PKCS#1 PEM, Ed25519 keys base64")
                })?;
                Some(std::sync::Arc::new(DkimConfig::default_config(
                    d.selector.clone(),
                    d.domain.clone(),
                    key,
                )))
            }
        };
        Ok(Mailer {
            transport,
            from,
            dkim,
        })
    }

    /// Where messages go when there is no SMTP server; `None` when there is one.
    pub fn outbox(&self) -> Option<&PathBuf> {
        match &self.transport {
            Transport::Folder(dir) => Some(dir),
            Transport::Smtp(_) | Transport::Direct(_) => None,
        }
    }

    /// Sends one message (an invitation, a confirmation): any failure is an error.
    pub async fn send(&self, msg: Outgoing) -> anyhow::Result<Delivery> {
        self.deliver(msg)
            .await
            .map_err(|e| anyhow::anyhow!("the SMTP server refused the message: {e}"))
    }

    /// Sends one message and says, when it fails, whether for good.
    pub async fn deliver(&self, msg: Outgoing) -> Result<Delivery, SendError> {
        let email = self.build(msg).map_err(|e| SendError {
            permanent: true,
            reply: format!("{e:#}"),
        })?;
        match &self.transport {
            Transport::Smtp(smtp) => match smtp.send(email).await {
                Ok(_) => Ok(Delivery::Sent),
                Err(e) => Err(SendError {
                    permanent: e.is_permanent(),
                    reply: smtp_reply(&e),
                }),
            },
            Transport::Direct(pool) => match pool.send(&email).await {
                Ok(()) => Ok(Delivery::Sent),
                Err(e) => Err(SendError {
                    permanent: e.permanent,
                    reply: e.reply,
                }),
            },
            Transport::Folder(dir) => write_to_folder(dir, &email)
                .await
                .map(Delivery::Written)
                .map_err(|e| SendError {
                    permanent: false,
                    reply: format!("{e:#}"),
                }),
        }
    }

    fn build(&self, msg: Outgoing) -> anyhow::Result<Message> {
        let to: Mailbox = msg
            .to
            .parse()
            .with_context(|| format!("`{}` is not a valid recipient", msg.to))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(msg.subject);
        if let Some(id) = msg.message_id {
            builder = builder.message_id(Some(id));
        }
        if let Some(list) = msg.list {
            builder = builder
                .raw_header(raw("List-Unsubscribe", format!("<{}>", list.unsubscribe)))
                .raw_header(raw(
                    "List-Unsubscribe-Post",
                    "List-Unsubscribe=One-Click".into(),
                ))
                .raw_header(raw("List-Id", list.list_id));
        }
        let mut message = builder
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
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        Ok(message)
    }
}

fn raw(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(
        HeaderName::new_from_ascii_str(name),
        value.replace(['\r', '\n'], " "),
    )
}

/// The server's own words when it answered, else what went wrong.
fn smtp_reply(e: &lettre::transport::smtp::Error) -> String {
    let text = e.to_string();
    match e.status() {
        Some(code) if !text.contains(&code.to_string()) => format!("{code} {text}"),
        _ => text,
    }
}

async fn write_to_folder(dir: &std::path::Path, email: &Message) -> anyhow::Result<PathBuf> {
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("could not create the mail folder {}", dir.display()))?;
    let name = format!(
        "{}-{}.eml",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
        &crate::server::auth::token::generate("")[..8]
    );
    let path = dir.join(name);
    tokio::fs::write(&path, email.formatted())
        .await
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(path)
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
            // Fragments built (and escaped) by the caller: `{{entries_html}}`.
            Some((_, value)) if html && name.ends_with("_html") => out.push_str(value),
            Some((_, value)) if html => out.push_str(&crate::server::html::escape(value)),
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The page every HTML email is: its `body.html` goes inside, the subject is
/// its title.
const LAYOUT: &str = include_str!("templates/layout.html");

/// A message from its templates: `subject` and `text` filled as they are,
/// `html` filled and set inside the shared layout.
pub(crate) fn render(
    subject: &str,
    text: &str,
    html: &str,
    to: &str,
    values: &[(&str, &str)],
) -> Outgoing {
    let subject = crate::server::text::visible(fill(subject, values, false).trim())
        .replace(['\r', '\n'], " ");
    let content = fill(html, values, true);
    let html = fill(
        LAYOUT,
        &[
            ("subject", subject.as_str()),
            ("content_html", content.as_str()),
        ],
        true,
    );
    Outgoing {
        to: to.to_string(),
        subject,
        text: fill(text, values, false),
        html,
        message_id: None,
        list: None,
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

/// The request to confirm a subscription.
pub fn confirm_subscription(to: &str, link: &str) -> Outgoing {
    render(
        include_str!("templates/confirm/subject.txt"),
        include_str!("templates/confirm/body.txt"),
        include_str!("templates/confirm/body.html"),
        to,
        &[("link", link)],
    )
}

/// The answer to a sign-up for an address that is already subscribed.
pub fn already_subscribed(to: &str, preferences: &str) -> Outgoing {
    render(
        include_str!("templates/already_subscribed/subject.txt"),
        include_str!("templates/already_subscribed/body.txt"),
        include_str!("templates/already_subscribed/body.html"),
        to,
        &[("link", preferences)],
    )
}

/// The reminder on the day an action falls due.
pub fn action_due(action: &crate::model::ActionItem, link: &str) -> Outgoing {
    let due = action.due.to_string();
    render(
        include_str!("templates/action_due/subject.txt"),
        include_str!("templates/action_due/body.txt"),
        include_str!("templates/action_due/body.html"),
        &action.owner_email,
        &[
            ("name", action.owner_name.as_str()),
            ("number", action.number.as_str()),
            ("title", action.title.as_str()),
            ("due", due.as_str()),
            ("link", link),
        ],
    )
}

/// A failure notification to a team member who chose its event.
pub fn notification(
    to: &str,
    name: &str,
    event: crate::model::NotifyEvent,
    summary: &str,
    link: &str,
    profile: &str,
) -> Outgoing {
    render(
        include_str!("templates/notification/subject.txt"),
        include_str!("templates/notification/body.txt"),
        include_str!("templates/notification/body.html"),
        to,
        &[
            ("name", name),
            ("summary", summary),
            ("event", event.label()),
            ("link", link),
            ("profile", profile),
        ],
    )
}

/// The weekly summary of one owner's overdue actions.
pub fn actions_overdue(actions: &[crate::model::ActionItem], link: &str) -> Option<Outgoing> {
    let first = actions.first()?;
    let items: String = actions
        .iter()
        .map(|a| format!("  {} {} (due {})\n", a.number, a.title, a.due))
        .collect();
    let items_html: String = actions
        .iter()
        .map(|a| {
            format!(
                "<li><strong>{}</strong> {} <span style=\"color:#b91c1c\">(due {})</span></li>",
                crate::server::html::escape(&a.number),
                crate::server::html::escape(&a.title),
                a.due
            )
        })
        .collect();
    let count = actions.len().to_string();
    Some(render(
        include_str!("templates/actions_overdue/subject.txt"),
        include_str!("templates/actions_overdue/body.txt"),
        include_str!("templates/actions_overdue/body.html"),
        &first.owner_email,
        &[
            ("name", first.owner_name.as_str()),
            ("count", count.as_str()),
            ("items", items.as_str()),
            ("items_html", items_html.as_str()),
            ("link", link),
        ],
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_html_email_is_the_shared_layout_around_its_own_body() {
        let m = super::invitation(
            "ana@example.com",
            "Bo <b>",
            "engineer",
            "https://x/i/1",
            "1 Dec",
        );
        let (head, rest) = super::LAYOUT.split_once("{{content_html}}").unwrap();
        let head = head.replace("{{subject}}", &crate::server::html::escape(&m.subject));
        assert!(m.html.starts_with(&head), "{}", m.html);
        assert!(m.html.ends_with(rest), "{}", m.html);
        assert!(m.html.contains("Bo &lt;b&gt; invited you"), "{}", m.html);
        assert_eq!(m.html.matches("<body").count(), 1, "{}", m.html);
        // The subject is the page's title, escaped like every value.
        let c = super::confirm_subscription("ana@example.com", "https://x/c");
        assert!(c.html.contains(&format!(
            "<title>{}</title>",
            crate::server::html::escape(&c.subject)
        )));
    }

    #[tokio::test]
    async fn messages_are_dkim_signed_when_a_key_is_set() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("dkim.key");
        // An Ed25519 key is 32 bytes, base64.
        std::fs::write(&key, "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=").unwrap();
        let outbox = dir.path().join("mail");
        let vars = [
            ("SHIPLOG_MAIL_DIR", outbox.to_str().unwrap()),
            ("SHIPLOG_MAIL_FROM", "Notes <notes@example.com>"),
            ("SHIPLOG_DKIM_KEY_FILE", key.to_str().unwrap()),
            ("SHIPLOG_DKIM_SELECTOR", "shiplog"),
            ("SHIPLOG_DKIM_ALGORITHM", "ed25519"),
        ];
        let config = crate::server::config::Config::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        let mailer = super::Mailer::new(&config).unwrap();
        mailer
            .send(super::confirm_subscription(
                "ana@example.com",
                "https://x/c",
            ))
            .await
            .unwrap();
        let file = std::fs::read_dir(&outbox)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        // Unfolded: long header values continue on indented lines.
        let text = std::fs::read_to_string(file)
            .unwrap()
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ");
        assert!(
            text.contains("DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=shiplog;"),
            "{text}"
        );
        assert!(text.contains("bh="));

        let bad = [("SHIPLOG_DKIM_KEY_FILE", key.to_str().unwrap())];
        let e = crate::server::config::Config::from_lookup(|k| {
            bad.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap_err();
        assert_eq!(e.name, "SHIPLOG_DKIM_SELECTOR");
    }

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
