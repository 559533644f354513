//! Outgoing mail: the magic-link limiter, and the sender that delivers the
//! outbox through SMTP.
//!
//! Requests never talk to a mail server: they write their message into the
//! outbox table in their own transaction ([`crate::store::Store::enqueue_mail`])
//! and wake the sender. Without `--smtp-url` there is no sender and mail
//! stays in the outbox (`jpstart admin mail`). With it, [`run_sender`]
//! claims due messages, sends each over SMTP (crate `lettre`, plain TCP: the
//! `smtp://` scheme only — jpstart talks to a local relay or a test server,
//! which does any TLS onwards), and retries a failed attempt with
//! exponential backoff up to [`MAX_ATTEMPTS`] times. A claim is a lease: a
//! message whose sender died mid-way is due again after [`LEASE`], so
//! delivery is at least once, and several servers on one database never
//! send a message twice at the same time.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::store::{OutboxMail, Store};
use crate::throttle::{KeyedLimiter, RateSpec};

/// The sender of the mail jpstart writes, unless `--mail-from` says otherwise.
pub const DEFAULT_FROM: &str = "jpstart <no-reply@localhost>";
/// Delivery attempts per message before it is marked failed.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long a claimed message is left to its sender.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often the outbox is looked at without a wake-up (retries are due).
const POLL: Duration = Duration::from_secs(1);
/// Limit of one SMTP exchange.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages claimed at once.
const BATCH: i64 = 20;

/// Mail settings from the command line (SPEC §5, magic links).
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// `smtp://HOST[:PORT]`; `None`: keep mail in the outbox.
    pub smtp_url: Option<String>,
    /// The `From` of every message, e.g. `Example <no-reply@example.com>`.
    pub from: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp_url: None,
            from: DEFAULT_FROM.to_string(),
        }
    }
}

impl MailConfig {
    /// The relay to deliver through; `None` without `--smtp-url`.
    pub fn smtp(&self) -> Result<Option<Smtp>, String> {
        self.smtp_url
            .as_deref()
            .map(|url| Smtp::new(url, &self.from))
            .transpose()
    }
}

/// What handlers need: the magic-link limiter and the sender's wake-up.
#[derive(Clone)]
pub struct MailState {
    /// Magic links per e-mail address (lowercased): upstream allows 5 per
    /// hour. A burst of 5 refilled at one per hour never lets a sixth
    /// through within an hour of the first.
    pub magic_links: Arc<KeyedLimiter<String>>,
    /// Notified when a message is queued.
    pub wakeup: Arc<Notify>,
}

impl Default for MailState {
    fn default() -> Self {
        MailState {
            magic_links: Arc::new(KeyedLimiter::new(RateSpec::Rate {
                count: 1,
                period: Duration::from_secs(3600),
                burst: 5,
            })),
            wakeup: Arc::new(Notify::new()),
        }
    }
}

/// An SMTP relay to deliver through.
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for logs.
    pub relay: String,
}

impl Smtp {
    /// From `smtp://HOST[:PORT]` (port 25 by default; `[::1]` for IPv6) and
    /// the `From` mailbox. Credentials and `smtps://` are refused: this
    /// build has no TLS for SMTP, and a password must not cross in clear.
    pub fn new(url: &str, from: &str) -> Result<Smtp, String> {
        let (host, port) = parse_smtp_url(url)?;
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("--mail-from {from:?} is not a mailbox: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(port)
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Smtp {
            transport,
            from,
            relay: format!("{host}:{port}"),
        })
    }

    /// One delivery attempt. `Err((reason, permanent))`.
    async fn send(&self, m: &OutboxMail) -> Result<(), (String, bool)> {
        let to: Mailbox =
            m.to.parse()
                .map_err(|e| (format!("recipient {:?}: {e}", m.to), true))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.as_str())
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| (format!("cannot build the message: {e}"), true))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| (e.to_string(), e.is_permanent()))
    }
}

/// `smtp://HOST[:PORT][/]` → (host, port).
pub fn parse_smtp_url(url: &str) -> Result<(String, u16), String> {
    let bad = |why: &str| format!("--smtp-url {url:?}: {why}");
    let rest = url.trim().strip_prefix("smtp://").ok_or_else(|| {
        bad("expected smtp://HOST[:PORT] (smtps:// and STARTTLS are not built in)")
    })?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('@') {
        return Err(bad("credentials are not supported over plain SMTP"));
    }
    if rest.contains('/') || rest.contains('?') {
        return Err(bad("expected no path or query"));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, tail) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        (h.to_string(), tail.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        None => 25,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
    };
    Ok((host, port))
}

/// Wait before the attempt after `attempts` failed ones: 2 s, doubling, at
/// most 15 minutes.
pub fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    Duration::from_secs(2u64.saturating_mul(1u64 << exp)).min(Duration::from_secs(900))
}

/// The background sender; stops when dropped.
pub struct Sender(tokio::task::JoinHandle<()>);

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The handlers' side of mail, and with a relay, [`run_sender`] started in
/// the background.
pub fn start(
    smtp: Option<Smtp>,
    store: Arc<dyn Store>,
    clock: Clock,
) -> (MailState, Option<Sender>) {
    let mail = MailState::default();
    let sender = smtp.map(|smtp| {
        Sender(tokio::spawn(run_sender(
            store,
            clock,
            smtp,
            mail.wakeup.clone(),
        )))
    });
    (mail, sender)
}

/// Delivers the outbox until aborted.
pub async fn run_sender(store: Arc<dyn Store>, clock: Clock, smtp: Smtp, wakeup: Arc<Notify>) {
    tracing::info!(relay = %smtp.relay, "delivering mail through SMTP");
    loop {
        let now = clock.now();
        match store
            .claim_mail(now, now.saturating_add(LEASE), BATCH)
            .await
        {
            Ok(batch) => {
                for m in batch {
                    deliver(store.as_ref(), &clock, &smtp, &m).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the mail outbox"),
        }
        tokio::select! {
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn deliver(store: &dyn Store, clock: &Clock, smtp: &Smtp, m: &OutboxMail) {
    let result = smtp.send(m).await;
    let now = clock.now();
    let recorded = match result {
        Ok(()) => {
            tracing::info!(mail_id = m.id, kind = %m.kind, "mail delivered");
            store.mail_sent(m.id, now).await
        }
        Err((why, permanent)) => {
            let give_up = permanent || m.attempts >= MAX_ATTEMPTS;
            let retry_at = (!give_up).then(|| now.saturating_add(backoff(m.attempts)));
            tracing::warn!(mail_id = m.id, attempts = m.attempts, give_up, error = %why, "mail not delivered");
            store.mail_failed(m.id, &why, retry_at, now).await
        }
    };
    if let Err(e) = recorded {
        // The lease runs out and the message is tried again.
        tracing::warn!(mail_id = m.id, error = %e, "cannot record the delivery attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        assert_eq!(
            parse_smtp_url("smtp://127.0.0.1:1025"),
            Ok(("127.0.0.1".into(), 1025))
        );
        assert_eq!(
            parse_smtp_url("smtp://mail.internal/"),
            Ok(("mail.internal".into(), 25))
        );
        assert_eq!(
            parse_smtp_url("smtp://[::1]:2525"),
            Ok(("::1".into(), 2525))
        );
        for bad in [
            "",
            "127.0.0.1:25",
            "smtps://mail.example.com",
            "smtp://user:pw@mail.example.com",
            "smtp://",
            "smtp://host:0",
            "smtp://host:99999",
            "smtp://host/path",
        ] {
            assert!(parse_smtp_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(5), Duration::from_secs(32));
        assert_eq!(backoff(30), Duration::from_secs(900));
        assert_eq!(backoff(-3), Duration::from_secs(2));
    }

    #[test]
    fn the_limiter_allows_five_per_address() {
        let m = MailState::default();
        let key = "jane@example.com".to_string();
        for _ in 0..5 {
            assert!(m.magic_links.check(&key).is_ok());
        }
        assert!(m.magic_links.check(&key).is_err());
        assert!(m.magic_links.check(&"joe@example.com".to_string()).is_ok());
    }

    #[test]
    fn mailboxes_and_relays() {
        assert!(Smtp::new("smtp://127.0.0.1:1025", DEFAULT_FROM).is_ok());
        assert!(Smtp::new("smtp://127.0.0.1:1025", "not a mailbox").is_err());
    }
}
