//! Direct access to a test's own database, for what the API rightly does not
//! show: the event log, stored digests, registration counters.

use std::path::PathBuf;

use sqlx::{AnyConnection, Connection};

use crate::common::{Backend, Db};

/// A connection to the test's database (SQLite file or PostgreSQL).
pub async fn connect(db: &Db) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(&db.url)
        .await
        .expect("connect to the test database")
}

/// The files an SQLite database lives in (main file, WAL); empty for PostgreSQL.
pub fn sqlite_files(db: &Db) -> Vec<PathBuf> {
    if db.backend != Backend::Sqlite {
        return Vec::new();
    }
    let path = db
        .url
        .strip_prefix("sqlite://")
        .expect("sqlite URL")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    [path.clone(), format!("{path}-wal")]
        .into_iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect()
}
