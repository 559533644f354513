//! Server configuration: a typed struct the binary fills from flags and
//! `JPSTART_*` variables (SPEC §6), passed in explicitly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::crypto::KeySource;
use crate::domain::Catalogue;

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
    /// Serve the benchmark floor route (`serve --bench-routes`, hidden).
    pub bench_routes: bool,
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
            .field("bench_routes", &self.bench_routes)
            .finish_non_exhaustive()
    }
}

/// The default database: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://jpstart.db";
