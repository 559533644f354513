//! Direct database work of the benchmark: seeding a jpstart database with
//! many activations in a few big statements (before the server starts), and
//! the raw insert floor (one row per transaction, one writer, the server's
//! durability settings).

use std::str::FromStr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Executor};

use crate::load::new_histogram;

/// Seeded sites with a live activation for status: `s{i}.seed.bench`.
pub const STATUS_PREFIX: &str = "s";
/// Seeded sites whose activation the cancel scenario cancels.
pub const CANCEL_PREFIX: &str = "c";
pub const SEED_SUFFIX: &str = ".seed.bench";

/// The database under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

pub type DbResult<T> = Result<T, sqlx::Error>;

/// The largest blog id and activation id so far, and the next number for
/// `prefix` (seeding appends; a prefix is seeded once per database in
/// practice, so counting is enough to continue the numbering).
macro_rules! positions {
    ($tx:expr, $prefix:expr) => {{
        let blog: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(blog_id), 0) FROM sites")
            .fetch_one(&mut *$tx)
            .await?;
        let act: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM activations")
            .fetch_one(&mut *$tx)
            .await?;
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM sites WHERE identifier LIKE '{}%{SEED_SUFFIX}'",
            $prefix
        ))
        .fetch_one(&mut *$tx)
        .await?;
        (blog, act, n + 1)
    }};
}

/// Adds `count` connected sites `{prefix}{first..}{SEED_SUFFIX}`, each with
/// one active `premium` activation of `key_id` and its creation event,
/// exactly as the API would have left them. One transaction.
pub async fn seed(
    backend: Backend,
    url: &str,
    key_id: i64,
    prefix: &str,
    count: u64,
) -> DbResult<()> {
    if count == 0 {
        return Ok(());
    }
    let now = now_ms();
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    let actor = format!("key:{key_id}");
    let site_cols =
        "identifier, url, local_user, connected, registration, created_at, connected_at";
    let site_vals = format!(
        "'{prefix}' || i || '{SEED_SUFFIX}', 'https://{prefix}' || i || '{SEED_SUFFIX}/', 'admin', 1, 1, {now}, {now}"
    );
    let act_sql = |max_blog: i64| {
        format!(
            "INSERT INTO activations (blog_id, key_id, product, family, state, created_at, activated_at) \
             SELECT blog_id, {key_id}, 'premium', 'jetpack-plans', 'active', {now}, {now} \
             FROM sites WHERE blog_id > {max_blog} ORDER BY blog_id"
        )
    };
    let event_sql = |max_act: i64| {
        format!(
            "INSERT INTO events (activation_id, from_state, to_state, at, actor) \
             SELECT id, NULL, 'active', {now}, '{actor}' FROM activations WHERE id > {max_act} ORDER BY id"
        )
    };
    // The key's activation counter, as the provision unit keeps it (on
    // shard 0 here: the total is the sum of the shards).
    let count_sql = format!(
        "INSERT INTO key_activation_counts (key_id, shard, n) VALUES ({key_id}, 0, {count}) \
         ON CONFLICT (key_id, shard) DO UPDATE SET n = key_activation_counts.n + {count}"
    );
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlite_options(url)?
                // Seeding is setup, not measurement: one big transaction
                // needs no per-commit sync.
                .synchronous(SqliteSynchronous::Normal)
                .connect()
                .await?;
            let mut tx = conn.begin().await?;
            let (max_blog, max_act, first) = positions!(tx, prefix);
            tx.execute(
                format!(
                    "WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last}) \
                     INSERT INTO sites ({site_cols}) SELECT {site_vals} FROM n",
                    last = first + count - 1
                )
                .as_str(),
            )
            .await?;
            tx.execute(act_sql(max_blog).as_str()).await?;
            tx.execute(event_sql(max_act).as_str()).await?;
            tx.execute(count_sql.as_str()).await?;
            tx.commit().await?;
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
            conn.close().await?;
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(url).await?;
            let mut tx = conn.begin().await?;
            let (max_blog, max_act, first) = positions!(tx, prefix);
            tx.execute(
                format!(
                    "INSERT INTO sites ({site_cols}) SELECT {site_vals} \
                     FROM generate_series({first}::bigint, {last}::bigint) AS n(i)",
                    last = first + count - 1
                )
                .as_str(),
            )
            .await?;
            tx.execute(act_sql(max_blog).as_str()).await?;
            tx.execute(event_sql(max_act).as_str()).await?;
            tx.execute(count_sql.as_str()).await?;
            tx.commit().await?;
            conn.execute("ANALYZE").await?;
            conn.close().await?;
        }
    }
    Ok(())
}

/// The server's connection settings (see `store/dialect.rs` of the
/// server): WAL, synchronous=FULL, foreign keys on.
fn sqlite_options(url: &str) -> DbResult<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5)))
}

/// What the insert floor measured.
pub struct FloorResult {
    pub count: u64,
    pub window: Duration,
    /// Per-insert latency in microseconds.
    pub hist: Histogram<u64>,
}

impl FloorResult {
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.window.as_secs_f64()
    }
}

/// One row per transaction, one writer, for a duration (a macro: the body
/// is the same for both drivers, the types are not).
macro_rules! insert_loop {
    ($conn:expr, $duration:expr, $begin:expr) => {{
        let mut hist = new_histogram();
        let mut count = 0u64;
        let start = Instant::now();
        let end = start + $duration;
        while Instant::now() < end {
            let t = Instant::now();
            $conn.execute($begin).await?;
            sqlx::query("INSERT INTO bench_floor (label, at) VALUES ($1, $2)")
                .bind(format!("row {count}"))
                .bind(now_ms())
                .execute(&mut *$conn)
                .await?;
            $conn.execute("COMMIT").await?;
            count += 1;
            let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
            hist.saturating_record(us.max(1));
        }
        Ok::<_, sqlx::Error>(FloorResult {
            count,
            window: start.elapsed(),
            hist,
        })
    }};
}

const FLOOR_TABLE: &str = "CREATE TABLE IF NOT EXISTS bench_floor (\
    id INTEGER PRIMARY KEY, label TEXT NOT NULL, at BIGINT NOT NULL)";

/// One writer inserting one row per transaction into a scratch table of a
/// separate SQLite file with the server's PRAGMAs, for `duration`.
pub async fn sqlite_insert_floor(
    path: &std::path::Path,
    duration: Duration,
) -> DbResult<FloorResult> {
    let url = format!("sqlite://{}", path.display());
    let mut conn = sqlite_options(&url)?.connect().await?;
    conn.execute(FLOOR_TABLE).await?;
    let r = insert_loop!(&mut conn, duration, "BEGIN IMMEDIATE");
    conn.close().await?;
    r
}

/// The same against a scratch table in the PostgreSQL database under test
/// (its default `synchronous_commit = on`: durable at commit, like the
/// server's transactions).
pub async fn postgres_insert_floor(url: &str, duration: Duration) -> DbResult<FloorResult> {
    let mut conn = PgConnection::connect(url).await?;
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_floor (\
         id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, label TEXT NOT NULL, at BIGINT NOT NULL)",
    )
    .await?;
    let r = insert_loop!(&mut conn, duration, "BEGIN");
    conn.execute("DROP TABLE bench_floor").await?;
    conn.close().await?;
    r
}

/// Creates a fresh database in the PostgreSQL cluster `admin_url` names and
/// returns its URL.
pub async fn create_postgres_database(admin_url: &str, name: &str) -> DbResult<String> {
    let mut conn = PgConnection::connect(admin_url).await?;
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    conn.close().await?;
    Ok(with_database(admin_url, name))
}

/// Drops a database [`create_postgres_database`] made.
pub async fn drop_postgres_database(admin_url: &str, name: &str) -> DbResult<()> {
    let mut conn = PgConnection::connect(admin_url).await?;
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await?;
    conn.close().await?;
    Ok(())
}

/// `postgres://u@h:p/db?x` with the database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    format!("{}/{name}{query}", &base[..host_end])
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_in_url() {
        assert_eq!(
            with_database(
                "postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable",
                "b1"
            ),
            "postgres://u:p@127.0.0.1:5432/b1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:1", "b2"),
            "postgres://u@h:1/b2"
        );
    }
}
