//! Serving: a listener loop over hyper, plain or TLS, with graceful shutdown.
//!
//! When the shutdown future resolves the listener closes, in-flight requests
//! finish (up to [`DRAIN_TIMEOUT`]), and [`run`] returns.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::{rustls, TlsAcceptor};
use tower::ServiceExt;

use crate::app::{self, AppState, Inner};
use crate::clock::Clock;
use crate::config::{Config, TlsFiles};
use crate::crypto::{self, KeyError};
use crate::store::{self, StoreError};

/// How long in-flight requests may take to finish after shutdown starts.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
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
}

/// Opens the store, binds, prints the address, and serves until `shutdown`.
/// `on_bound` receives the bound address (port 0 resolves to a real port).
pub async fn run(
    config: Config,
    on_bound: impl FnOnce(SocketAddr, &str),
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let tls = config.tls.as_ref().map(load_tls).transpose()?;
    let smtp = config
        .mail
        .smtp_url
        .as_deref()
        .map(|url| crate::mail::Smtp::new(url, &config.mail.from))
        .transpose()
        .map_err(ServeError::Mail)?;
    // Before the store: a PostgreSQL server without a key is refused
    // without touching the database.
    let secret_key = crypto::load(&config.secret_key, &config.database_url)?;
    let store = store::open(&config.database_url).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServeError::Bind(config.listen, e))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if public_url_is_unreachable(addr, config.public_url.as_deref()) {
        tracing::warn!(
            %addr,
            "listening on an unspecified address without --public-url: the links handed out \
             (authorization page) would point to {scheme}://{addr}, which clients cannot reach; \
             set --public-url (JPSTART_PUBLIC_URL) to the server's public address"
        );
    }
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{addr}"))
        .trim_end_matches('/')
        .to_string();
    let clock = Clock::system();
    let mail = crate::mail::MailState::default();
    let state = AppState::new(Inner {
        store: store.clone(),
        clock: clock.clone(),
        catalogue: config.catalogue.clone(),
        public_url,
        pending_ttl_ms: i64::try_from(config.pending_ttl.as_millis()).unwrap_or(i64::MAX),
        secret_key,
        token_limits: crate::oauth::TokenLimits::new(
            config.limits.token_per_client,
            config.limits.token_per_address,
        ),
        metrics: crate::metrics::Metrics::default(),
        request_timeout: config.limits.request_timeout,
        bench_routes: config.bench_routes,
        mail: mail.clone(),
    });
    let sender = smtp.map(|smtp| {
        tokio::spawn(crate::mail::run_sender(
            store.clone(),
            clock.clone(),
            smtp,
            mail.wakeup.clone(),
        ))
    });
    let sweeper = tokio::spawn(sweep(store, clock));
    on_bound(addr, scheme);
    let header_timeout = config.limits.header_timeout;
    let result = serve(listener, app::router(state), tls, header_timeout, shutdown).await;
    sweeper.abort();
    if let Some(sender) = sender {
        sender.abort();
    }
    result
}

/// Marks expired pending activations in the background; requests also do it
/// for the site they touch, so this only keeps `admin activations` current.
async fn sweep(store: Arc<dyn store::Store>, clock: Clock) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = store.expire_pending(clock.now().as_millis()).await {
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

/// Serves `router` on `listener` until `shutdown`, then drains. A
/// connection that takes longer than `header_timeout` to send a request's
/// headers is closed (slow-loris clients).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                // The handshake, too, within the header time: a client that
                // opens a connection and says nothing must not hold a task.
                Some(acceptor) => {
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => connection(s, peer, router, header_timeout, watcher).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => connection(stream, peer, router, header_timeout, watcher).await,
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("drained"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("drain timed out"),
    }
    Ok(())
}

async fn connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    header_timeout: Duration,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The peer address rides in each request (axum's ConnectInfo), for the
    // per-address limits.
    let service =
        TowerToHyperService::new(router.map_request(move |r: hyper::Request<Incoming>| {
            let mut r = r.map(axum::body::Body::new);
            r.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            r
        }));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let _ = TokioExecutor::new();
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
