//! `jpstart serve`.

use std::io::IsTerminal;
use std::process::ExitCode;

use jpstart_server::config::{Bounds, Config, Limits, TlsFiles};
use jpstart_server::crypto::KeySource;
use jpstart_server::request_log::RequestLogConfig;
use jpstart_types::SecretString;
use tracing_subscriber::EnvFilter;

use crate::cli::{LogFormat, ServeArgs};

/// The server key, as 64 hex digits.
const SECRET_KEY_ENV: &str = "JPSTART_SECRET_KEY";

pub async fn run(args: ServeArgs) -> ExitCode {
    init_logging(args.log_format);
    let catalogue = match crate::catalog::load(args.catalog.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("jpstart: refusing to start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The key itself only from the environment: a command line is visible
    // to every user of the machine.
    let secret_key = match (
        std::env::var(SECRET_KEY_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty()),
        args.secret_key_file,
    ) {
        (Some(_), Some(_)) => {
            eprintln!(
                "jpstart: refusing to start: both {SECRET_KEY_ENV} and --secret-key-file are set; choose one"
            );
            return ExitCode::FAILURE;
        }
        (Some(hex), None) => KeySource::Hex(SecretString::new(hex)),
        (None, Some(path)) => KeySource::File(path),
        (None, None) => KeySource::Auto,
    };
    let config = Config {
        listen: args.listen,
        database_url: args.db.database_url,
        public_url: args.public_url,
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| TlsFiles { cert, key }),
        pending_ttl: args.pending_ttl,
        catalogue,
        secret_key,
        limits: Limits {
            token_per_client: args.token_rate_limit,
            token_per_address: args.token_rate_limit_per_address,
            header_timeout: args.header_timeout,
            request_timeout: args.request_timeout,
            max_connections: args.max_connections as usize,
            max_connections_per_address: args.max_connections_per_address as usize,
            max_sub_keys: args.max_sub_keys,
        },
        bounds: Bounds {
            tokens_per_key: args.tokens_per_key,
            token_touch_interval: args.token_touch_interval,
            write_rate: args.write_rate_limit,
            max_field_length: args.max_field_length,
            max_url_length: args.max_url_length,
        },
        bench_routes: args.bench_routes,
        // A sandbox runs on the test clock (SPEC §9).
        test_clock: args.test_clock || args.sandbox,
        sandbox: args.sandbox,
        // Always on in the sandbox (SPEC §9).
        request_log: (args.request_log || args.sandbox).then_some(RequestLogConfig {
            retention: args.request_log_retention,
            queue: args.request_log_queue,
        }),
        mail: jpstart_server::mail::MailConfig {
            smtp_url: args.smtp_url,
            from: args.mail_from,
        },
        webhooks: jpstart_server::webhooks::WebhookConfig {
            retry_base: args.webhook_retry_base,
            timeout: args.webhook_timeout,
            allow_private: args.webhook_allow_private,
        },
        portal: jpstart_server::portal::PortalConfig {
            session_ttl: args.portal_session_ttl,
            login_per_email: args.portal_login_rate_limit,
            login_per_address: args.portal_login_rate_limit_per_address,
        },
    };
    tracing::info!(?config, "starting");
    let on_bound = |addr, scheme: &str| {
        // The one line on stdout: scripts and tests read the address here.
        println!("jpstart listening on {scheme}://{addr}");
        tracing::info!(%addr, "listening");
    };
    match jpstart_server::serve::run(config, on_bound, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jpstart: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("JPSTART_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours only for a person at a terminal: in a file or a pipe the
        // escape codes are noise to `grep` and log collectors.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
