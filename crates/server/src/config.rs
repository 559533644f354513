//! Server configuration: a typed struct the binary fills from flags and
//! `JPSTART_*` variables (SPEC §6), passed in explicitly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::crypto::KeySource;
use crate::domain::Catalogue;
use crate::throttle::RateSpec;

#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// Base of the links the API hands out; default: the listen address.
    pub public_url: Option<String>,
    pub tls: Option<TlsFiles>,
    pub pending_ttl: Duration,
    pub catalogue: Catalogue,
    /// Where the key sealing stored credentials comes from.
    pub secret_key: KeySource,
    /// Abuse and slow-client limits.
    pub limits: Limits,
    /// What one key can make the database hold (SPEC §11).
    pub bounds: Bounds,
    /// Serve the benchmark floor route (`serve --bench-routes`, hidden).
    pub bench_routes: bool,
    /// Run on the test clock kept in the database (`--test-clock`; the
    /// sandbox implies it): read at the start of every request, so off by
    /// default. See [`crate::clock::TestClock`].
    pub test_clock: bool,
    /// Sandbox mode (SPEC §9): magic sites, `/sandbox`, the request log.
    pub sandbox: bool,
    /// The request log (SPEC §9): `Some` with `--request-log` or in the
    /// sandbox, `None` (off) otherwise.
    pub request_log: Option<crate::request_log::RequestLogConfig>,
    /// Outgoing mail: SMTP relay and sender.
    pub mail: crate::mail::MailConfig,
    /// Webhook retries, timeout and the SSRF guard (SPEC §10).
    pub webhooks: crate::webhooks::WebhookConfig,
    /// The partner portal: session lifetime, sign-in limits.
    pub portal: crate::portal::PortalConfig,
}

/// Abuse and slow-client limits (docs/OPERATIONS.md).
#[derive(Clone, Debug)]
pub struct Limits {
    /// `POST /oauth2/token` per client id.
    pub token_per_client: RateSpec,
    /// `POST /oauth2/token` per peer IP address.
    pub token_per_address: RateSpec,
    /// A connection must send a request's headers within this time.
    pub header_timeout: Duration,
    /// A request must be read and answered within this time.
    pub request_timeout: Duration,
    /// Open connections at most (lowered at start to what the open-file
    /// limit leaves room for); at the cap the oldest idle one is closed.
    pub max_connections: usize,
    /// Open connections per client address (IPv6: per /64); 0 = no cap.
    pub max_connections_per_address: usize,
    /// The most sub-keys a partner may have (SPEC §11).
    pub max_sub_keys: u32,
}

impl Default for Limits {
    fn default() -> Self {
        let rate = |count, burst| RateSpec::Rate {
            count,
            period: Duration::from_secs(1),
            burst,
        };
        Limits {
            token_per_client: rate(10, 20),
            token_per_address: rate(30, 60),
            header_timeout: Duration::from_secs(10),
            // Above the database pool's 30 s acquire timeout: an overloaded
            // database answers 500 internal_error (which clients retry)
            // before the deadline's 408 (which they do not).
            request_timeout: Duration::from_secs(60),
            max_connections: 1024,
            // Above a benchmark's or a busy panel's keep-alive pool, far
            // below what one address would need to starve the rest.
            max_connections_per_address: 128,
            max_sub_keys: 100,
        }
    }
}

/// Bounded growth per key (SPEC §11, docs/SECURITY.md): each bound is
/// configurable, with a catalogued error or a documented effect.
#[derive(Clone, Debug)]
pub struct Bounds {
    /// Live tokens per key; issuing one more revokes the least recently
    /// used. 0: no cap.
    pub tokens_per_key: u32,
    /// How stale a token's "last used" time may get (see
    /// [`crate::domain::bounds::needs_touch`]).
    pub token_touch_interval: Duration,
    /// Write requests per key (provision, partner-provision, cancel,
    /// credentials, partner-keys/new), per server process.
    pub write_rate: RateSpec,
    /// Longest stored id or user name (`local_user`, `partner_tracking_id`).
    pub max_field_length: usize,
    /// Longest stored URL (`siteurl`).
    pub max_url_length: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        use crate::domain::bounds::*;
        Bounds {
            tokens_per_key: DEFAULT_TOKENS_PER_KEY,
            token_touch_interval: DEFAULT_TOKEN_TOUCH_INTERVAL,
            write_rate: RateSpec::Rate {
                count: 20,
                period: Duration::from_secs(1),
                burst: 100,
            },
            max_field_length: DEFAULT_MAX_FIELD_LENGTH,
            max_url_length: DEFAULT_MAX_URL_LENGTH,
        }
    }
}

#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field(
                "database_url",
                &crate::store::dialect::redact_url(&self.database_url),
            )
            .field("public_url", &self.public_url)
            .field("tls", &self.tls)
            .field("pending_ttl", &self.pending_ttl)
            .field("secret_key", &self.secret_key)
            .field("limits", &self.limits)
            .field("bounds", &self.bounds)
            .field("bench_routes", &self.bench_routes)
            .field("test_clock", &self.test_clock)
            .field("sandbox", &self.sandbox)
            .field("request_log", &self.request_log)
            .field("mail", &self.mail)
            .field("webhooks", &self.webhooks)
            .field("portal", &self.portal)
            .finish_non_exhaustive()
    }
}

/// The default database: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://jpstart.db";

#[cfg(test)]
mod tests {
    use super::*;
    use jpstart_types::SecretString;

    #[test]
    fn debug_redacts_the_key_and_the_database_password() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let config = Config {
            listen: "127.0.0.1:8080".parse().unwrap(),
            database_url: "postgres://jp:Hunter2pw@db.internal/jpstart".into(),
            public_url: None,
            tls: None,
            pending_ttl: Duration::from_secs(60),
            catalogue: Catalogue::builtin(),
            secret_key: KeySource::Hex(SecretString::new(hex)),
            limits: Limits::default(),
            bounds: Bounds::default(),
            bench_routes: false,
            test_clock: false,
            sandbox: false,
            request_log: None,
            mail: crate::mail::MailConfig::default(),
            webhooks: crate::webhooks::WebhookConfig::default(),
            portal: crate::portal::PortalConfig::default(),
        };
        let text = format!("{config:?}");
        assert!(!text.contains("Hunter2pw"), "{text}");
        assert!(!text.contains(hex), "{text}");
        assert!(!text.contains("00112233"), "{text}");
        // Still useful: the rest is there.
        assert!(text.contains("db.internal"), "{text}");
        assert!(text.contains("token_per_client"), "{text}");
    }
}
