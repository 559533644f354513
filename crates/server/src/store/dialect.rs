//! The one place where SQLite and PostgreSQL differ.

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use super::StoreError;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `sqlite:` / `sqlite://` or `postgres://` / `postgresql://`; anything
    /// else is refused with a message naming the schemes that are built in.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        let scheme = url.split(':').next().unwrap_or("");
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StoreError::Config(format!(
                "unsupported database URL {:?}: jpstart is built with sqlite:// and postgres:// only",
                redact_url(url)
            ))),
        }
    }

    /// Appended to a `SELECT` that must lock the rows it reads for the rest
    /// of the transaction. SQLite needs none: its write transactions start
    /// with `BEGIN IMMEDIATE` and so already exclude each other.
    ///
    /// PostgreSQL: `FOR NO KEY UPDATE`, not `FOR UPDATE`. Both exclude each
    /// other, which is what serialises provisions on a key and a site; but
    /// `FOR UPDATE` also conflicts with the `FOR KEY SHARE` lock that every
    /// foreign-key check takes on the referenced row. An insert referencing
    /// a site and a key outside the provision transaction (an authorization
    /// link) then takes the site's share lock, waits for the key's, while a
    /// provision holding the key waits for the site: a deadlock, seen with
    /// 20 concurrent identical provisions.
    pub fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR NO KEY UPDATE",
        }
    }

    /// The statement that opens a write transaction.
    pub fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }
}

/// The URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The pools a store writes and reads through.
pub struct Pools {
    pub write: AnyPool,
    pub read: AnyPool,
}

pub async fn connect(backend: Backend, url: &str) -> Result<Pools, StoreError> {
    sqlx::any::install_default_drivers();
    match backend {
        Backend::Sqlite => {
            let url = sqlite_url(url);
            // One writer: SQLite allows one write transaction at a time
            // anyway, and queueing in the pool is fairer and cheaper than
            // spinning on SQLITE_BUSY. Readers run beside it (WAL).
            let write = sqlite_pool(1).connect(&url).await?;
            let read = sqlite_pool(4).connect(&url).await?;
            Ok(Pools { write, read })
        }
        Backend::Postgres => {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .connect(url)
                .await?;
            Ok(Pools {
                write: pool.clone(),
                read: pool,
            })
        }
    }
}

/// `sqlite://PATH` → the same with `mode=rwc` so that the file is created on
/// first start.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

fn sqlite_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        // A connection to a local file cannot drop out under us; the ping
        // sqlx otherwise sends on every acquire is one more round trip to
        // the connection's worker thread per query (measured: a large part
        // of a status request's CPU time, see docs/BENCHMARKS.md).
        .test_before_acquire(false)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL: readers do not block the writer. synchronous=FULL: a
                // commit is on disk before it is acknowledged (billing
                // depends on acknowledged activations). busy_timeout covers
                // a second process (admin commands) writing at the same time.
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                )
                .await?;
                Ok(())
            })
        })
}
