//! A pool of plain SMTP connections (`smtp://` without TLS, as to a local
//! relay) with `TCP_NODELAY` set. lettre writes a message and its final
//! `.` in two writes; with Nagle's algorithm on, the second one waits for the
//! server's delayed ACK (40 ms), which capped each connection at about 25
//! messages a second. TLS connections keep lettre's own pool.

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Semaphore};

pub struct DirectPool {
    host: String,
    port: u16,
    credentials: Option<Credentials>,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    open: Arc<Semaphore>,
}

/// Why a message did not go: the server's reply, and whether it is final.
pub struct Refused {
    pub permanent: bool,
    pub reply: String,
}

impl DirectPool {
    /// For an `smtp://` URL with no `tls` setting; `None` for any other.
    pub fn for_url(url: &str, connections: u32) -> Option<DirectPool> {
        let parsed = url::Url::parse(url).ok()?;
        if parsed.scheme() != "smtp" || parsed.query_pairs().any(|(k, _)| k == "tls") {
            return None;
        }
        let credentials = (!parsed.username().is_empty()).then(|| {
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Credentials::new(
                decode(parsed.username()),
                decode(parsed.password().unwrap_or_default()),
            )
        });
        Some(DirectPool {
            host: parsed.host_str()?.to_string(),
            port: parsed.port().unwrap_or(25),
            credentials,
            idle: Mutex::new(Vec::new()),
            open: Arc::new(Semaphore::new(connections.max(1) as usize)),
        })
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, Refused> {
        let transient = |e: String| Refused {
            permanent: false,
            reply: e,
        };
        let stream = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| {
            transient(format!(
                "connecting to {}:{} timed out",
                self.host, self.port
            ))
        })?
        .map_err(|e| {
            transient(format!(
                "could not connect to {}:{}: {e}",
                self.host, self.port
            ))
        })?;
        stream
            .set_nodelay(true)
            .map_err(|e| transient(e.to_string()))?;
        let mut conn =
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &ClientId::default())
                .await
                .map_err(|e| transient(e.to_string()))?;
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| Refused {
                    permanent: false,
                    reply: format!("the SMTP server refused our credentials: {e}"),
                })?;
        }
        Ok(conn)
    }

    /// Sends one message over a pooled connection (at most `connections`
    /// at once). A connection that saw any error is closed, not reused.
    pub async fn send(&self, message: &lettre::Message) -> Result<(), Refused> {
        let _permit = self.open.acquire().await.expect("never closed");
        let idle = self.idle.lock().await.pop();
        let mut conn = match idle {
            Some(c) => c,
            None => self.connect().await?,
        };
        let bytes = message.formatted();
        match conn.send(message.envelope(), &bytes).await {
            Ok(_) => {
                self.idle.lock().await.push(conn);
                Ok(())
            }
            Err(e) => {
                let reply = super::smtp_reply(&e);
                let permanent = e.is_permanent();
                if permanent && !conn.has_broken() {
                    // The session is still good after a refused recipient:
                    // reset it and keep it.
                    if conn
                        .command(lettre::transport::smtp::commands::Rset)
                        .await
                        .is_ok()
                    {
                        self.idle.lock().await.push(conn);
                    }
                }
                Err(Refused { permanent, reply })
            }
        }
    }
}
