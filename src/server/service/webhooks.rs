//! Posting webhook deliveries, apart from email. Each delivery is claimed
//! (with a lease) and posted on its own task, several at once, so a receiver
//! that never answers holds up only its own deliveries (at most
//! [`PER_WEBHOOK`] of them, each for at most the timeout), never the
//! customer email the delivery engine sends nor other receivers.
//!
//! Receivers must be on the internet: an address on this machine, in a
//! private network or link-local (`169.254.169.254`, a cloud's metadata
//! service) is refused when the webhook is added and again when each
//! delivery resolves its host, unless `SHIPLOG_WEBHOOK_ALLOW_PRIVATE=true`.
//! What the delivery log shows of a failure is generic ("could not
//! connect"), so it cannot be used to map which ports answer.

use crate::model::*;
use crate::server::config::Config;
use crate::server::db::{Attempt, Db, DueDelivery};
use crate::server::error::AppError;
use chrono::TimeDelta;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// Tries per delivery before it is marked failed (one, then five retries).
pub const MAX_ATTEMPTS: i64 = 6;

/// `sha256=<hex>` of `body` under `secret`: what `X-Shiplog-Signature` carries.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before try number `attempts + 1`.
pub(super) fn backoff(config: &Config, attempts: i64) -> TimeDelta {
    let base = TimeDelta::from_std(config.webhook_retry).unwrap_or(TimeDelta::seconds(30));
    base * 4i32.pow((attempts - 1).clamp(0, 6) as u32)
}

/// An HTTP error with its causes, in one line ("connection refused" is
/// only in the innermost one).
pub fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// How long one post may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a delivery being posted stays claimed (longer than the timeout).
const LEASE_SECONDS: i64 = 60;
/// Posts in flight at once, in all.
const IN_FLIGHT: usize = 32;
/// Posts in flight at once to one webhook.
const PER_WEBHOOK: usize = 4;
/// Due deliveries read per pass.
const BATCH: i64 = 100;

/// The webhook sender: cheap to clone, one per process.
#[derive(Clone)]
pub struct Webhooks {
    db: Db,
    config: Arc<Config>,
    client: reqwest::Client,
    slots: Arc<Semaphore>,
    busy: Arc<Mutex<HashMap<i64, usize>>>,
    wake: Arc<Notify>,
}

impl Webhooks {
    pub fn new(db: Db, config: Arc<Config>) -> Self {
        Webhooks {
            client: client(config.webhook_allow_private),
            db,
            config,
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
            busy: Arc::default(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Makes the running loop look for due deliveries now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Posts due deliveries until the process ends: every second, or when woken.
    pub fn spawn(self) {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.start_due().await {
                    tracing::error!(error = %e, "webhook deliveries could not be started; retrying");
                }
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
    }

    /// Starts every due delivery there is room for, each on its own task;
    /// answers the tasks.
    async fn start_due(&self) -> Result<Vec<tokio::task::JoinHandle<()>>, AppError> {
        let now = self.db.now();
        let mut started = vec![];
        for d in self.db.due_deliveries(now, BATCH).await? {
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                break;
            };
            if !self.reserve(d.webhook_id) {
                continue;
            }
            let claimed = self
                .db
                .claim_delivery(
                    d.id,
                    d.next_attempt_at,
                    now + TimeDelta::seconds(LEASE_SECONDS),
                )
                .await;
            match claimed {
                Ok(true) => {}
                Ok(false) => {
                    self.release(d.webhook_id);
                    continue;
                }
                Err(e) => {
                    self.release(d.webhook_id);
                    return Err(e.into());
                }
            }
            let this = self.clone();
            started.push(tokio::spawn(async move {
                let webhook = d.webhook_id;
                let id = d.id;
                if let Err(e) = this.post(d).await {
                    tracing::error!(delivery = id, error = %e, "a webhook attempt could not be recorded");
                }
                this.release(webhook);
                drop(slot);
            }));
        }
        Ok(started)
    }

    /// One pass that waits for its posts to finish: what tests and the
    /// command line use instead of the loop. Answers how many were tried.
    pub async fn run_once(&self) -> Result<usize, AppError> {
        let started = self.start_due().await?;
        let n = started.len();
        for task in started {
            let _ = task.await;
        }
        Ok(n)
    }

    fn reserve(&self, webhook: i64) -> bool {
        let mut busy = self.busy.lock().expect("never poisoned");
        let n = busy.entry(webhook).or_default();
        if *n >= PER_WEBHOOK {
            return false;
        }
        *n += 1;
        true
    }

    fn release(&self, webhook: i64) {
        let mut busy = self.busy.lock().expect("never poisoned");
        if let Some(n) = busy.get_mut(&webhook) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                busy.remove(&webhook);
            }
        }
    }

    /// Posts one claimed delivery and records how it went.
    async fn post(&self, d: DueDelivery) -> Result<(), AppError> {
        let link = self.config.link(d.link.as_deref().unwrap_or("/app"));
        let body = match d.format {
            WebhookFormat::Json => {
                let mut payload = d.payload.clone();
                payload["link"] = serde_json::Value::String(link);
                payload["delivery"] = d.id.into();
                serde_json::to_vec(&payload)
            }
            WebhookFormat::Slack => serde_json::to_vec(
                &serde_json::json!({ "text": format!("{} <{link}>", d.summary) }),
            ),
        }
        .map_err(|e| AppError::Internal(e.into()))?;
        let answer = match literal_refused(&d.url, self.config.webhook_allow_private) {
            Some(why) => Err(why),
            None => self
                .client
                .post(&d.url)
                .header("Content-Type", "application/json")
                .header("X-Shiplog-Event", &d.event)
                .header("X-Shiplog-Delivery", d.id.to_string())
                .header("X-Shiplog-Signature", signature(&d.secret, &body))
                .body(body)
                .send()
                .await
                .map_err(|e| {
                    tracing::info!(delivery = d.id, webhook = d.webhook_id,
                        error = %error_chain(&e), "a webhook post failed");
                    failure_text(&e)
                }),
        };
        let attempts = d.attempts + 1;
        let at = self.db.now();
        let (ok, code, error) = match answer {
            Ok(r) => (
                r.status().is_success(),
                Some(i64::from(r.status().as_u16())),
                None,
            ),
            Err(why) => (false, None, Some(why.to_string())),
        };
        let (state, next_attempt_at) = if ok {
            (DeliveryState::Delivered, None)
        } else if attempts >= MAX_ATTEMPTS {
            (DeliveryState::Failed, None)
        } else {
            (
                DeliveryState::Pending,
                Some(at + backoff(&self.config, attempts)),
            )
        };
        if !ok {
            tracing::warn!(
                delivery = d.id,
                webhook = d.webhook_id,
                code,
                attempts,
                "a webhook delivery failed"
            );
        }
        let attempt = Attempt {
            state,
            attempts,
            next_attempt_at,
            response_code: code,
            error: if ok { None } else { error },
            at,
        };
        self.db.record_attempt(d.id, &attempt).await?;
        Ok(())
    }
}

/// What the delivery log says of a post that got no answer: the kind of
/// failure, never the system's words (which tell open ports from closed).
fn failure_text(e: &reqwest::Error) -> &'static str {
    let chain = error_chain(e);
    if chain.contains(PRIVATE_REFUSAL) {
        PRIVATE_REFUSAL
    } else if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer could not be read"
    } else {
        "the request failed"
    }
}

const PRIVATE_REFUSAL: &str = "refused: the address is not on the public internet";

fn client(allow_private: bool) -> reqwest::Client {
    // Several crates may share rustls; whichever installs first wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("Shiplog-Webhook/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(PublicResolver { allow_private }))
        .build()
        .expect("the webhook client builds")
}

/// Resolves hosts as the system does, then keeps only public addresses:
/// a name that leads into a private network fails to resolve.
struct PublicResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(PRIVATE_REFUSAL.into());
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Refuses a URL whose host is an address literal that is not public
/// (these never reach the resolver).
fn literal_refused(url: &str, allow_private: bool) -> Option<&'static str> {
    if allow_private {
        return None;
    }
    let url = url::Url::parse(url).ok()?;
    let ip = match url.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    (!is_public(ip)).then_some(PRIVATE_REFUSAL)
}

/// Checks a webhook's address when it is added: an address literal, or a
/// name that resolves (within two seconds) to any address, that is not
/// public is refused. A name that does not resolve yet is taken; each
/// delivery checks again.
pub async fn check_target(url: &url::Url, allow_private: bool) -> Result<(), AppError> {
    if allow_private {
        return Ok(());
    }
    let refuse = |ip: IpAddr| {
        AppError::invalid(
            "url",
            format!(
                "the webhook's address leads to {ip}, which is not on the public internet; receivers on your own network need SHIPLOG_WEBHOOK_ALLOW_PRIVATE=true"
            ),
        )
    };
    let host = match url.host() {
        Some(url::Host::Ipv4(v4)) => {
            return is_public(v4.into()).then_some(()).ok_or(refuse(v4.into()))
        }
        Some(url::Host::Ipv6(v6)) => {
            return is_public(v6.into()).then_some(()).ok_or(refuse(v6.into()))
        }
        Some(url::Host::Domain(d)) => d.to_string(),
        None => {
            return Err(AppError::invalid(
                "url",
                "give the webhook's full http:// or https:// address",
            ))
        }
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await;
    if let Ok(Ok(found)) = lookup {
        for a in found {
            if !is_public(a.ip()) {
                return Err(refuse(a.ip()));
            }
        }
    }
    Ok(())
}

/// Whether an address is on the public internet: not this machine, not a
/// private, shared, link-local, multicast or reserved range, whichever way an
/// IPv4 address is written inside IPv6.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
            if s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
                return is_public_v4(Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32));
            }
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                return is_public_v4(Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32));
            }
            if s[0] == 0x2002 {
                return is_public_v4(Ipv4Addr::from(((s[1] as u32) << 16) | s[2] as u32));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (64..128).contains(&o[1])) // shared (CGNAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking
        || o[0] >= 240) // reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn private_and_local_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
        ] {
            assert!(!public(private), "{private}");
        }
        for ok in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(public(ok), "{ok}");
        }
    }

    #[test]
    fn address_literals_in_any_spelling_are_refused() {
        // The URL parser reads every way of writing an IPv4 address.
        for url in [
            "http://127.0.0.1/hook",
            "http://[::1]:8080/",
            "http://169.254.169.254/latest/meta-data",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://[::ffff:127.0.0.1]/",
            "http://0177.0.0.1/",
        ] {
            assert!(literal_refused(url, false).is_some(), "{url}");
            assert!(literal_refused(url, true).is_none(), "{url}");
        }
        assert!(literal_refused("https://hooks.example.com/x", false).is_none());
    }

    #[tokio::test]
    async fn a_name_for_this_machine_is_refused_when_added() {
        let url = url::Url::parse("http://localhost:5432/").unwrap();
        assert!(check_target(&url, false).await.is_err());
        assert!(check_target(&url, true).await.is_ok());
        let url = url::Url::parse("http://2130706433/").unwrap();
        assert!(check_target(&url, false).await.is_err());
    }

    #[tokio::test]
    async fn the_resolver_keeps_only_public_addresses() {
        use reqwest::dns::Resolve;
        let r = PublicResolver {
            allow_private: false,
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(r.resolve(name).await.is_err());
        let r = PublicResolver {
            allow_private: true,
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(r.resolve(name).await.is_ok());
    }

    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
