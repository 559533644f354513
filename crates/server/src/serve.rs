//! Serving: a listener loop over hyper, plain or TLS, with graceful shutdown.
//!
//! Every connection is admitted by a [`Registry`] (global and per-address
//! caps, see [`crate::connections`]); `accept` failing for want of
//! descriptors frees an idle connection and backs off instead of spinning.
//!
//! When the shutdown future resolves the listener closes, in-flight requests
//! finish (up to [`DRAIN_TIMEOUT`]), and [`run`] returns.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::{rustls, TlsAcceptor};
use tower::ServiceExt;

use crate::app::router::router;
use crate::app::state::{AppState, Inner, TokenLimits};
use crate::clock::{self, Clock, TestClock};
use crate::config::{Config, TlsFiles};
use crate::connections::{self, ConnLimits, Registry, Ticket, TrackedBody};
use crate::crypto::{self, KeyError};
use crate::store::{self, StoreError};

/// How long in-flight requests may take to finish after shutdown starts.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the request log's writer may take to store what is queued at
/// shutdown.
const LOG_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// How often pending activations are checked for expiry.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("refusing to start: {0}")]
    Key(#[from] KeyError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("listener failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("mail: {0}")]
    Mail(String),
    #[error("webhooks: {0}")]
    Webhooks(String),
}

/// Opens the store, binds, prints the address, and serves until `shutdown`.
/// `on_bound` receives the bound address (port 0 resolves to a real port).
pub async fn run(
    config: Config,
    on_bound: impl FnOnce(SocketAddr, &str),
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let tls = config.tls.as_ref().map(load_tls).transpose()?;
    let smtp = config.mail.smtp().map_err(ServeError::Mail)?;
    // Before the store: a PostgreSQL server without a key is refused
    // without touching the database.
    let secret_key = crypto::load(&config.secret_key, &config.database_url)?;
    let store = store::open(&config.database_url).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServeError::Bind(config.listen, e))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = public_url(addr, scheme, config.public_url.as_deref());
    let clock = Clock::system();
    let test_clock = config
        .test_clock
        .then(|| TestClock::new(store.clone(), clock.clone()));
    if let Some(tc) = &test_clock {
        let at = tc.refresh().await?;
        tracing::warn!(now = %at.now, offset_s = at.offset_s, "running on the test clock kept in the database (--test-clock): not for production");
    }
    let (mail, _sender) = crate::mail::start(smtp, store.clone(), clock.clone());
    let metrics = crate::metrics::Metrics::default();
    let request_log = config.request_log.as_ref().map(|c| {
        let dropped = metrics.request_log_dropped();
        crate::request_log::start(c, store.clone(), clock.clone(), dropped)
    });
    let webhooks = crate::webhooks::WebhookState::new(&config.webhooks, config.sandbox)
        .map_err(ServeError::Webhooks)?;
    let _dispatcher = crate::webhooks::dispatcher::start(crate::webhooks::dispatcher::Dispatcher {
        store: store.clone(),
        clock: clock.clone(),
        key: secret_key.clone(),
        config: crate::webhooks::WebhookConfig {
            allow_private: webhooks.allow_private,
            ..config.webhooks.clone()
        },
        http: webhooks.http.clone(),
        metrics: metrics.clone(),
        wakeup: webhooks.wakeup.clone(),
    });
    // Secure cookies when the browser reaches us over TLS, directly or
    // through a proxy whose https URL is our public one.
    let secure_cookies = scheme == "https" || public_url.starts_with("https://");
    let state = AppState::new(Inner {
        store: store.clone(),
        clock: clock.clone(),
        catalogue: config.catalogue.clone(),
        public_url,
        pending_ttl_ms: i64::try_from(config.pending_ttl.as_millis()).unwrap_or(i64::MAX),
        max_sub_keys: config.limits.max_sub_keys,
        secret_key,
        token_limits: TokenLimits::new(
            config.limits.token_per_client,
            config.limits.token_per_address,
        ),
        bounds: config.bounds.clone(),
        write_limit: crate::throttle::KeyedLimiter::new(config.bounds.write_rate),
        metrics,
        request_timeout: config.limits.request_timeout,
        bench_routes: config.bench_routes,
        sandbox: config.sandbox,
        request_log: request_log.as_ref().map(|(log, _)| log.clone()),
        mail,
        webhooks,
        portal: crate::portal::PortalState::new(&config.portal, secure_cookies),
    });
    let sweeper = tokio::spawn(sweep(store, clock, test_clock.clone()));
    let mut app = router(state);
    if let Some(tc) = test_clock {
        app = app.layer(axum::middleware::from_fn_with_state(
            tc,
            clock::refresh_per_request,
        ));
    }
    on_bound(addr, scheme);
    let conns = Registry::new(connection_limits(&config.limits));
    let header_timeout = config.limits.header_timeout;
    let result = serve(
        listener,
        app,
        tls,
        Connections {
            registry: conns,
            header_timeout,
        },
        shutdown,
    )
    .await;
    sweeper.abort();
    if let Some((log, writer)) = request_log {
        // The queue closes once the last handle is gone; its writer then
        // stores what is left.
        drop(log);
        if tokio::time::timeout(LOG_FLUSH_TIMEOUT, writer)
            .await
            .is_err()
        {
            tracing::warn!("request log: entries still queued at shutdown were not stored");
        }
    }
    result
}

/// Base of the links the API hands out: `--public-url`, or the bound
/// address (with a warning when clients cannot reach that one).
fn public_url(addr: SocketAddr, scheme: &str, configured: Option<&str>) -> String {
    if public_url_is_unreachable(addr, configured) {
        tracing::warn!(
            %addr,
            "listening on an unspecified address without --public-url: the links handed out \
             (authorization page) would point to {scheme}://{addr}, which clients cannot reach; \
             set --public-url (JPSTART_PUBLIC_URL) to the server's public address"
        );
    }
    configured
        .map(str::to_string)
        .unwrap_or_else(|| format!("{scheme}://{addr}"))
        .trim_end_matches('/')
        .to_string()
}

/// Marks expired pending activations in the background; requests also do it
/// for the site they touch, so this only keeps `admin activations` current.
/// On the test clock, each sweep first reads where it stands.
async fn sweep(store: Arc<dyn store::Store>, clock: Clock, test_clock: Option<TestClock>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        if let Some(tc) = &test_clock {
            if let Err(e) = tc.refresh().await {
                tracing::warn!(error = %e, "reading the test clock failed");
                continue;
            }
        }
        if let Err(e) = store.expire_pending(clock.now()).await {
            tracing::warn!(error = %e, "expiry sweep failed");
        }
    }
}

fn load_tls(files: &TlsFiles) -> Result<TlsAcceptor, ServeError> {
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            ServeError::Tls(format!(
                "cannot read certificate {}: {e}",
                files.cert.display()
            ))
        })?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        ServeError::Tls(format!(
            "cannot read private key {}: {e}",
            files.key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// How connections are admitted and timed.
pub struct Connections {
    pub registry: Arc<Registry>,
    /// A connection that takes longer to send a request's headers (or to
    /// finish a TLS handshake) is closed (slow-loris clients).
    pub header_timeout: Duration,
}

/// The configured caps, the global one lowered to what the open-file limit
/// leaves room for: past it `accept` fails with EMFILE and nobody is served.
fn connection_limits(limits: &crate::config::Limits) -> ConnLimits {
    let configured = limits.max_connections.max(1);
    let max = match connections::descriptor_budget() {
        Some(budget) if budget < configured => {
            tracing::warn!(
                configured,
                serving = budget,
                "the open-file limit (ulimit -n) leaves room for fewer connections than \
                 --max-connections; raise it (e.g. LimitNOFILE= in a systemd unit)"
            );
            budget
        }
        _ => configured,
    };
    ConnLimits {
        max,
        per_address: limits.max_connections_per_address,
    }
}

/// Serves `router` on `listener` until `shutdown`, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    conns: Connections,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let graceful = GracefulShutdown::new();
    let header_timeout = conns.header_timeout;
    let mut backoff = Backoff::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    backoff.failed(&e, &conns.registry).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        backoff.reset();
        let ticket = match conns.registry.admit(peer.ip()) {
            Ok(t) => t,
            Err(why) => {
                // Dropping the stream closes it at once: the client sees the
                // connection end without an answer and may retry later.
                tracing::debug!(%peer, ?why, "connection refused");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(handle(
            stream,
            peer,
            tls.clone(),
            router.clone(),
            header_timeout,
            ticket,
            graceful.watcher(),
        ));
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("drained"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("drain timed out"),
    }
    Ok(())
}

/// One admitted connection, TLS handshake first if configured, until it
/// ends or the registry closes it to make room.
async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    router: Router,
    header_timeout: Duration,
    ticket: Ticket,
    watcher: Watcher,
) {
    let served = async {
        match tls {
            // The handshake, too, within the header time: a client that
            // opens a connection and says nothing must not hold a task.
            Some(acceptor) => {
                match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => {
                        connection(s, peer, router, header_timeout, &ticket, watcher).await
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            }
            None => connection(stream, peer, router, header_timeout, &ticket, watcher).await,
        }
    };
    // Eviction only picks a connection with no request in flight.
    tokio::select! {
        biased;
        () = ticket.evicted() => tracing::debug!(%peer, "closed an idle connection to make room"),
        () = served => {}
    }
}

/// The accept loop's answer to a failed `accept`.
#[derive(Default)]
struct Backoff {
    delay: Duration,
    last_warned: Option<tokio::time::Instant>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    /// Out of descriptors (EMFILE, ENFILE) or buffers: close the oldest idle
    /// connection to free one and wait, longer each time in a row, so the
    /// loop does not spin on an error that persists. Anything else is one
    /// client's failed handshake: go on at once.
    async fn failed(&mut self, e: &std::io::Error, registry: &Registry) {
        if !connections::is_resource_exhaustion(e) {
            tracing::debug!(error = %e, "accept failed");
            return;
        }
        let freed = registry.evict_oldest_idle();
        let now = tokio::time::Instant::now();
        if self
            .last_warned
            .is_none_or(|t| now - t >= Duration::from_secs(10))
        {
            self.last_warned = Some(now);
            tracing::warn!(error = %e, open = registry.len(), freed, "accept failed: out of resources; backing off");
        }
        self.delay = (self.delay * 2).clamp(Self::FIRST, Self::MAX);
        tokio::time::sleep(self.delay).await;
    }

    fn reset(&mut self) {
        self.delay = Duration::ZERO;
    }
}

async fn connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    header_timeout: Duration,
    ticket: &Ticket,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The peer address rides in each request (axum's ConnectInfo), for the
    // per-address limits; the connection counts as busy until the
    // response body is written, so it is never evicted mid-answer.
    let shared = ticket.busy_handle();
    let service = hyper::service::service_fn(move |r: hyper::Request<Incoming>| {
        let busy = shared.busy();
        let mut r = r.map(axum::body::Body::new);
        r.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        let router = router.clone();
        async move {
            let res = router.oneshot(r).await?;
            Ok::<_, std::convert::Infallible>(
                res.map(|body| axum::body::Body::new(TrackedBody::new(body, busy))),
            )
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Whether the links would be built from an address no client can use: a
/// wildcard listen address (`0.0.0.0`, `[::]`) and no public URL.
fn public_url_is_unreachable(addr: SocketAddr, public_url: Option<&str>) -> bool {
    public_url.is_none() && addr.ip().is_unspecified()
}

#[cfg(test)]
mod public_url_tests {
    use super::public_url_is_unreachable;

    #[test]
    fn warns_only_for_a_wildcard_address_without_public_url() {
        let any4 = "0.0.0.0:8080".parse().unwrap();
        let any6 = "[::]:8080".parse().unwrap();
        let local = "127.0.0.1:8080".parse().unwrap();
        assert!(public_url_is_unreachable(any4, None));
        assert!(public_url_is_unreachable(any6, None));
        assert!(!public_url_is_unreachable(
            any4,
            Some("https://api.example.com")
        ));
        assert!(!public_url_is_unreachable(local, None));
    }
}
