//! Settings from the environment (and an optional `.env` file).
//! A missing or malformed setting stops start-up with one line naming it.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use url::Url;

pub use crate::server::auth::client::Cidr;

/// A value that must never reach a log line.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// DKIM signing of outgoing mail.
#[derive(Clone, Debug)]
pub struct Dkim {
    /// The DNS selector (`s=`): the key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The signing domain (`d=`).
    pub domain: String,
    /// `rsa` (a PKCS#1 PEM key) or `ed25519` (a base64 key).
    pub ed25519: bool,
    pub key: Secret,
}

/// Where outgoing mail goes.
#[derive(Clone, Debug)]
pub enum MailConfig {
    /// An SMTP server, in lettre's URL form (`smtp://user:pass@host:587`).
    Smtp(Secret),
    /// No SMTP server: each message is written as a file into this folder.
    Folder(PathBuf),
}

/// How long a session lasts: unused (`idle`), and at most (`max`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lifetimes {
    pub idle: chrono::TimeDelta,
    pub max: chrono::TimeDelta,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// `sqlite:` or `postgres:` URL; may hold a password.
    pub database_url: Secret,
    /// The address people use to reach Shiplog; links and the `Secure` cookie flag follow it.
    pub public_url: Url,
    pub listen: SocketAddr,
    pub mail: MailConfig,
    /// The sender of every message.
    pub mail_from: String,
    /// Where cargo-leptos put the compiled site (`pkg/`, assets).
    pub site_root: PathBuf,
    /// How long a rendered customer page is served from memory; zero turns it off.
    pub page_cache_ttl: std::time::Duration,
    /// At most this many bytes of rendered pages are kept in memory.
    pub page_cache_bytes: usize,
    /// How long a browser session lasts unused, and at most.
    pub sessions: Lifetimes,
    /// Hosts (besides this instance) that images in Markdown may load from.
    pub image_hosts: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<Cidr>,
    /// Messages per second to subscribers; `None`: as fast as the server takes them.
    pub mail_rate: Option<f64>,
    /// SMTP connections kept open for sending to subscribers.
    pub mail_connections: u32,
    /// The instance's time zone: digests go out by its clock.
    pub time_zone: chrono_tz::Tz,
    /// The hour (0-23) daily and weekly digests go out.
    pub digest_hour: u32,
    /// The day weekly digests go out.
    pub digest_weekday: chrono::Weekday,
    /// How long a claimed message stays claimed before another worker may
    /// take it over (after a crash mid-send).
    pub mail_lease: std::time::Duration,
    /// DKIM signing, when a key is configured.
    pub dkim: Option<Dkim>,
    /// The wait before a webhook's first retry; each next retry waits four
    /// times longer.
    pub webhook_retry: std::time::Duration,
    /// A private address serving `/metrics` without authentication.
    pub metrics_listen: Option<SocketAddr>,
    /// Webhooks may post to this machine and private networks (self-hosted
    /// receivers, tests); off, such addresses are refused.
    pub webhook_allow_private: bool,
    /// How connections are bounded: timeouts, per-address cap, draining.
    pub limits: ServeLimits,
}

/// What keeps slow or idle clients from holding the server's connections.
#[derive(Clone, Debug, PartialEq)]
pub struct ServeLimits {
    /// A request's headers must arrive within this time.
    pub header_timeout: std::time::Duration,
    /// A request's body must arrive within this time.
    pub body_timeout: std::time::Duration,
    /// A kept-alive connection with no request in flight is closed after this.
    pub idle_timeout: std::time::Duration,
    /// Connections open at once from one client address (beyond them, new
    /// ones are closed at once).
    pub per_address: usize,
    /// On SIGTERM, requests in flight get this long to finish; then the
    /// process exits whatever is left.
    pub drain: std::time::Duration,
}

/// A setting that stopped start-up.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

fn bad(name: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        problem: problem.into(),
    }
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the settings through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());

        let listen_raw = nonempty("SHIPLOG_LISTEN")
            .or_else(|| nonempty("LEPTOS_SITE_ADDR"))
            .unwrap_or_else(|| "127.0.0.1:3000".into());
        let listen: SocketAddr = listen_raw.trim().parse().map_err(|_| {
            bad(
                "SHIPLOG_LISTEN",
                format!("`{listen_raw}` is not an address like 127.0.0.1:3000"),
            )
        })?;

        let metrics_listen = match nonempty("SHIPLOG_METRICS_LISTEN") {
            None => None,
            Some(v) => Some(v.trim().parse::<SocketAddr>().map_err(|_| {
                bad(
                    "SHIPLOG_METRICS_LISTEN",
                    format!("`{v}` is not an address like 127.0.0.1:9464"),
                )
            })?),
        };

        let database_url =
            nonempty("DATABASE_URL").unwrap_or_else(|| "sqlite://shiplog.db".to_string());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(bad(
                "DATABASE_URL",
                "must start with sqlite: or postgres:// (the value is not shown)",
            ));
        }

        let public_url = match nonempty("SHIPLOG_PUBLIC_URL") {
            Some(raw) => {
                let url = Url::parse(raw.trim()).map_err(|e| {
                    bad("SHIPLOG_PUBLIC_URL", format!("`{raw}` is not a URL ({e})"))
                })?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(bad(
                        "SHIPLOG_PUBLIC_URL",
                        format!("`{raw}` must be an http:// or https:// address"),
                    ));
                }
                url
            }
            None => {
                let host = if listen.ip().is_unspecified() {
                    "127.0.0.1".to_string()
                } else {
                    listen.ip().to_string()
                };
                Url::parse(&format!("http://{host}:{}", listen.port())).expect("valid url")
            }
        };

        let mail = match nonempty("SMTP_URL") {
            Some(raw) => {
                let parsed = Url::parse(raw.trim()).map_err(|_| {
                    bad(
                        "SMTP_URL",
                        "is not a URL like smtp://user:pass@host:587 (the value is not shown)",
                    )
                })?;
                if !matches!(parsed.scheme(), "smtp" | "smtps") {
                    return Err(bad("SMTP_URL", "must start with smtp:// or smtps://"));
                }
                MailConfig::Smtp(Secret::new(raw.trim()))
            }
            None => MailConfig::Folder(
                nonempty("SHIPLOG_MAIL_DIR")
                    .unwrap_or_else(|| "mail-outbox".into())
                    .into(),
            ),
        };

        let mail_from = nonempty("SHIPLOG_MAIL_FROM").unwrap_or_else(|| {
            format!(
                "Shiplog <shiplog@{}>",
                public_url.host_str().unwrap_or("localhost")
            )
        });
        if !mail_from.contains('@') {
            return Err(bad(
                "SHIPLOG_MAIL_FROM",
                format!("`{mail_from}` is not an email address"),
            ));
        }

        let site_root = nonempty("LEPTOS_SITE_ROOT")
            .unwrap_or_else(|| "target/site".into())
            .into();

        let ttl_raw = nonempty("SHIPLOG_PAGE_CACHE_MS").unwrap_or_else(|| "2000".into());
        let page_cache_ttl = ttl_raw
            .trim()
            .parse::<u64>()
            .map(std::time::Duration::from_millis)
            .map_err(|_| {
                bad(
                    "SHIPLOG_PAGE_CACHE_MS",
                    format!("`{ttl_raw}` is not a number of milliseconds"),
                )
            })?;

        let mb_raw = nonempty("SHIPLOG_PAGE_CACHE_MB").unwrap_or_else(|| "64".into());
        let page_cache_bytes = mb_raw
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|mb| *mb <= 64 * 1024)
            .map(|mb| mb * 1024 * 1024)
            .ok_or_else(|| {
                bad(
                    "SHIPLOG_PAGE_CACHE_MB",
                    format!("`{mb_raw}` is not a number of megabytes"),
                )
            })?;

        let hours = |name: &'static str, default: &str| -> Result<chrono::TimeDelta, ConfigError> {
            let raw = nonempty(name).unwrap_or_else(|| default.into());
            raw.trim()
                .parse::<i64>()
                .ok()
                .filter(|h| (1..=24 * 366).contains(h))
                .map(chrono::TimeDelta::hours)
                .ok_or_else(|| {
                    bad(
                        name,
                        format!("`{raw}` is not a number of hours (1 to 8784)"),
                    )
                })
        };
        let sessions = Lifetimes {
            idle: hours("SHIPLOG_SESSION_IDLE_HOURS", "336")?,
            max: hours("SHIPLOG_SESSION_MAX_HOURS", "720")?,
        };
        if sessions.idle > sessions.max {
            return Err(bad(
                "SHIPLOG_SESSION_IDLE_HOURS",
                "the idle lifetime cannot be longer than SHIPLOG_SESSION_MAX_HOURS".to_string(),
            ));
        }

        let list = |name: &str| -> Vec<String> {
            nonempty(name)
                .unwrap_or_default()
                .split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        let image_hosts = list("SHIPLOG_IMAGE_HOSTS")
            .into_iter()
            .map(|h| {
                let host = h.to_lowercase();
                let valid = url::Host::parse(&host).is_ok() && !host.contains(['/', ':', '@', '*']);
                if valid {
                    Ok(host)
                } else {
                    Err(bad(
                        "SHIPLOG_IMAGE_HOSTS",
                        format!("`{h}` is not a host name like images.example.com"),
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let trusted_proxies = list("SHIPLOG_TRUSTED_PROXIES")
            .into_iter()
            .map(|c| {
                c.parse::<Cidr>().map_err(|_| {
                    bad(
                        "SHIPLOG_TRUSTED_PROXIES",
                        format!("`{c}` is not an address or a CIDR range like 10.0.0.0/8"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let mail_rate = match nonempty("SHIPLOG_MAIL_RATE").map(|v| v.trim().to_lowercase()) {
            None => Some(20.0),
            Some(v) if v == "off" || v == "0" => None,
            Some(v) => Some(
                v.parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite() && *r > 0.0)
                    .ok_or_else(|| {
                        bad(
                            "SHIPLOG_MAIL_RATE",
                            format!("`{v}` is not a number of messages per second (or `off`)"),
                        )
                    })?,
            ),
        };
        let number = |name: &'static str, default: u32, max: u32| -> Result<u32, ConfigError> {
            match nonempty(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| bad(name, format!("`{v}` is not a number from 0 to {max}"))),
            }
        };
        let mail_connections = number("SHIPLOG_MAIL_CONNECTIONS", 4, 64)?.max(1);
        let digest_hour = number("SHIPLOG_DIGEST_HOUR", 9, 23)?;
        let mail_lease = std::time::Duration::from_secs(
            number("SHIPLOG_MAIL_LEASE_SECONDS", 120, 86_400)?
                .max(1)
                .into(),
        );
        let webhook_retry = std::time::Duration::from_secs(
            number("SHIPLOG_WEBHOOK_RETRY_SECONDS", 30, 3_600)?.into(),
        );
        let webhook_allow_private = match nonempty("SHIPLOG_WEBHOOK_ALLOW_PRIVATE")
            .map(|v| v.trim().to_lowercase())
            .as_deref()
        {
            None | Some("false" | "0" | "no" | "off") => false,
            Some("true" | "1" | "yes" | "on") => true,
            Some(other) => {
                return Err(bad(
                    "SHIPLOG_WEBHOOK_ALLOW_PRIVATE",
                    format!("`{other}` is neither true nor false"),
                ))
            }
        };
        let seconds = |name: &'static str, default: u32, max: u32| {
            number(name, default, max).map(|s| std::time::Duration::from_secs(s.max(1).into()))
        };
        let limits = ServeLimits {
            header_timeout: seconds("SHIPLOG_HEADER_TIMEOUT_SECONDS", 10, 600)?,
            body_timeout: seconds("SHIPLOG_BODY_TIMEOUT_SECONDS", 30, 3_600)?,
            idle_timeout: seconds("SHIPLOG_IDLE_TIMEOUT_SECONDS", 60, 3_600)?,
            per_address: number("SHIPLOG_MAX_CONNECTIONS_PER_ADDRESS", 256, 1_000_000)?.max(1)
                as usize,
            drain: seconds("SHIPLOG_SHUTDOWN_SECONDS", 20, 3_600)?,
        };
        let time_zone = match nonempty("SHIPLOG_TIME_ZONE") {
            None => chrono_tz::UTC,
            Some(v) => v.trim().parse::<chrono_tz::Tz>().map_err(|_| {
                bad(
                    "SHIPLOG_TIME_ZONE",
                    format!("`{v}` is not a time zone name like Europe/Paris"),
                )
            })?,
        };
        let digest_weekday = match nonempty("SHIPLOG_DIGEST_WEEKDAY") {
            None => chrono::Weekday::Mon,
            Some(v) => v.trim().parse::<chrono::Weekday>().map_err(|_| {
                bad(
                    "SHIPLOG_DIGEST_WEEKDAY",
                    format!("`{v}` is not a day of the week like monday"),
                )
            })?,
        };

        let dkim = match nonempty("SHIPLOG_DKIM_KEY_FILE") {
            None => None,
            Some(path) => {
                let key = std::fs::read_to_string(path.trim()).map_err(|e| {
                    bad(
                        "SHIPLOG_DKIM_KEY_FILE",
                        format!("`{path}` could not be read ({e})"),
                    )
                })?;
                let selector = nonempty("SHIPLOG_DKIM_SELECTOR").ok_or_else(|| {
                    bad(
                        "SHIPLOG_DKIM_SELECTOR",
                        "is required with SHIPLOG_DKIM_KEY_FILE",
                    )
                })?;
                let domain = nonempty("SHIPLOG_DKIM_DOMAIN")
                    .or_else(|| {
                        mail_from
                            .rsplit('@')
                            .next()
                            .map(|d| d.trim_end_matches('>').trim().to_string())
                    })
                    .unwrap_or_default();
                let ed25519 = match nonempty("SHIPLOG_DKIM_ALGORITHM").as_deref().map(str::trim) {
                    None | Some("rsa") => false,
                    Some("ed25519") => true,
                    Some(other) => {
                        return Err(bad(
                            "SHIPLOG_DKIM_ALGORITHM",
                            format!("`{other}` is neither rsa nor ed25519"),
                        ))
                    }
                };
                Some(Dkim {
                    selector: selector.trim().to_string(),
                    domain,
                    ed25519,
                    key: Secret::new(key.trim()),
                })
            }
        };

        Ok(Config {
            webhook_allow_private,
            limits,
            dkim,
            mail_rate,
            mail_connections,
            time_zone,
            digest_hour,
            digest_weekday,
            mail_lease,
            webhook_retry,
            metrics_listen,
            page_cache_ttl,
            page_cache_bytes,
            sessions,
            image_hosts,
            trusted_proxies,
            database_url: Secret::new(database_url),
            public_url,
            listen,
            mail,
            mail_from,
            site_root,
        })
    }

    /// Cookies carry `Secure` when people reach Shiplog over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The host people reach Shiplog at (Message-IDs and List-Id use it).
    pub fn host(&self) -> &str {
        self.public_url.host_str().unwrap_or("localhost")
    }

    /// An absolute link to a path of this site.
    pub fn link(&self, path: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_nothing() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.database_url.expose(), "sqlite://shiplog.db");
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:3000/");
        assert!(!c.secure_cookies());
        assert!(matches!(c.mail, MailConfig::Folder(_)));
    }

    #[test]
    fn session_lifetimes_are_hours_and_idle_fits_within_the_maximum() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.sessions.idle, chrono::TimeDelta::days(14));
        assert_eq!(c.sessions.max, chrono::TimeDelta::days(30));
        let c = cfg(&[
            ("SHIPLOG_SESSION_IDLE_HOURS", "8"),
            ("SHIPLOG_SESSION_MAX_HOURS", "24"),
        ])
        .unwrap();
        assert_eq!(c.sessions.idle, chrono::TimeDelta::hours(8));
        let e = cfg(&[("SHIPLOG_SESSION_IDLE_HOURS", "a week")]).unwrap_err();
        assert_eq!(e.name, "SHIPLOG_SESSION_IDLE_HOURS");
        let e = cfg(&[
            ("SHIPLOG_SESSION_IDLE_HOURS", "48"),
            ("SHIPLOG_SESSION_MAX_HOURS", "24"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("cannot be longer"), "{e}");
    }

    #[test]
    fn malformed_settings_are_named_without_their_secret() {
        let e = cfg(&[("DATABASE_URL", "mysql://root:hunter2@db")]).unwrap_err();
        assert_eq!(e.name, "DATABASE_URL");
        assert!(!e.to_string().contains("hunter2"));
        let e = cfg(&[("SMTP_URL", "nonsense with spaces:hunter2")]).unwrap_err();
        assert_eq!(e.name, "SMTP_URL");
        assert!(!e.to_string().contains("hunter2"));
        assert_eq!(
            cfg(&[("SHIPLOG_LISTEN", "nope")]).unwrap_err().name,
            "SHIPLOG_LISTEN"
        );
        assert_eq!(
            cfg(&[("SHIPLOG_PUBLIC_URL", "ftp://x")]).unwrap_err().name,
            "SHIPLOG_PUBLIC_URL"
        );
    }

    #[test]
    fn https_public_url_makes_cookies_secure() {
        let c = cfg(&[("SHIPLOG_PUBLIC_URL", "https://notes.example.com")]).unwrap();
        assert!(c.secure_cookies());
        assert_eq!(c.link("/changes"), "https://notes.example.com/changes");
    }

    #[test]
    fn lists_of_hosts_and_proxies() {
        let c = cfg(&[
            ("SHIPLOG_IMAGE_HOSTS", "img.example.com, CDN.example.net"),
            ("SHIPLOG_TRUSTED_PROXIES", "10.0.0.0/8 127.0.0.1 ::1/128"),
        ])
        .unwrap();
        assert_eq!(c.image_hosts, ["img.example.com", "cdn.example.net"]);
        assert_eq!(c.trusted_proxies.len(), 3);
        assert_eq!(
            cfg(&[("SHIPLOG_TRUSTED_PROXIES", "10.0.0.0/33")])
                .unwrap_err()
                .name,
            "SHIPLOG_TRUSTED_PROXIES"
        );
        assert_eq!(
            cfg(&[("SHIPLOG_IMAGE_HOSTS", "https://x.example/")])
                .unwrap_err()
                .name,
            "SHIPLOG_IMAGE_HOSTS"
        );
        assert_eq!(
            cfg(&[("SHIPLOG_PAGE_CACHE_MB", "lots")]).unwrap_err().name,
            "SHIPLOG_PAGE_CACHE_MB"
        );
    }

    #[test]
    fn connection_limits_have_defaults_and_are_checked() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.limits.header_timeout, std::time::Duration::from_secs(10));
        assert_eq!(c.limits.per_address, 256);
        assert!(!c.webhook_allow_private);
        let c = cfg(&[
            ("SHIPLOG_IDLE_TIMEOUT_SECONDS", "5"),
            ("SHIPLOG_WEBHOOK_ALLOW_PRIVATE", "true"),
        ])
        .unwrap();
        assert_eq!(c.limits.idle_timeout, std::time::Duration::from_secs(5));
        assert!(c.webhook_allow_private);
        assert_eq!(
            cfg(&[("SHIPLOG_HEADER_TIMEOUT_SECONDS", "soon")])
                .unwrap_err()
                .name,
            "SHIPLOG_HEADER_TIMEOUT_SECONDS"
        );
        assert_eq!(
            cfg(&[("SHIPLOG_WEBHOOK_ALLOW_PRIVATE", "maybe")])
                .unwrap_err()
                .name,
            "SHIPLOG_WEBHOOK_ALLOW_PRIVATE"
        );
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let c = cfg(&[("DATABASE_URL", "postgres://u:hunter2@h/db")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
