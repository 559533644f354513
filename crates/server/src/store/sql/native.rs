//! SQLite without a hop per statement: the hot units of work run whole,
//! as one closure, on a rusqlite connection ([`super::exec::Native`]).
//!
//! - Reads run on the calling thread, on a connection taken from a small
//!   pool: a status read is a few tens of microseconds of CPU from the page
//!   cache, cheaper than any hand-off to another thread.
//! - Writes go to the one writer thread, which commits them in groups:
//!   it opens a transaction, runs every unit that is waiting (up to
//!   [`MAX_GROUP`]), each inside its own SAVEPOINT (a unit that is refused
//!   or fails is rolled back to it, alone), then COMMITs once, so one sync
//!   covers the whole group. Every unit's answer is sent only after that
//!   COMMIT returned: an acknowledged write is on disk (`synchronous=FULL`),
//!   and a unit refused because of a neighbour's write never answers from a
//!   state that was then not committed.
//! - The other write paths still run on sqlx's one write connection. The
//!   writer holds that pooled connection, unused, for each group: sqlx's
//!   pool queues its waiters fairly, so neither side starves the other or
//!   spins on `SQLITE_BUSY`.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;

use sqlx::AnyPool;

use super::exec::Native;
use crate::store::StoreError;

/// The most units one COMMIT carries: enough to take a whole burst of
/// concurrent requests, few enough that the first of them is not kept
/// waiting for long.
pub(super) const MAX_GROUP: usize = 256;

/// Reader connections kept for reuse (more are opened under a burst and
/// closed after it).
const READERS_KEPT: usize = 8;

type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A unit of work for the writer: runs on its connection and says whether
/// its changes are to be kept, and how to answer once the group's COMMIT
/// is known.
type Job = Box<dyn FnOnce(&mut rusqlite::Connection) -> (bool, Reply) + Send>;

pub(crate) struct NativeSqlite {
    path: PathBuf,
    readers: Mutex<Vec<rusqlite::Connection>>,
    writer: mpsc::Sender<Job>,
}

impl NativeSqlite {
    /// Opens the writer (its thread) and one reader on the database file
    /// sqlx has migrated. `turn`: sqlx's write pool (one connection).
    pub(crate) fn open(path: &Path, turn: AnyPool) -> Result<Self, StoreError> {
        let writer_conn = connect(path)?;
        let reader = connect(path)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|e| StoreError::Config(format!("no async runtime for the writer: {e}")))?;
        std::thread::Builder::new()
            .name("jpstart-sqlite-writer".into())
            .spawn(move || {
                let _runtime = handle.enter();
                writer_loop(writer_conn, &rx, &handle, &turn);
            })
            .map_err(|e| StoreError::Config(format!("cannot start the writer thread: {e}")))?;
        Ok(NativeSqlite {
            path: path.to_path_buf(),
            readers: Mutex::new(vec![reader]),
            writer: tx,
        })
    }

    /// Runs a read-only unit here and now on a pooled connection.
    pub(crate) fn read<T>(
        &self,
        unit: impl FnOnce(&mut Native<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let taken = self.readers.lock().ok().and_then(|mut pool| pool.pop());
        let mut conn = match taken {
            Some(c) => c,
            None => connect(&self.path)?,
        };
        // One read transaction around the unit: one snapshot, and one
        // round of file locks instead of one per statement.
        conn.prepare_cached("BEGIN")?.execute([])?;
        let out = unit(&mut Native(&mut conn));
        if let Err(e) = conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
        {
            // A connection left inside a transaction is not reused.
            tracing::warn!(error = %e, "a read transaction did not end");
            return out;
        }
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < READERS_KEPT {
                pool.push(conn);
            }
        }
        out
    }

    /// Runs a unit on the writer, kept when it returns `Ok`; answers after
    /// the COMMIT that contains it.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        unit: impl FnOnce(&mut Native<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit(unit, |r| r.is_ok()).await
    }

    /// [`Self::write`] for a unit that applies rules: kept only when done
    /// (`Ok(Ok)`); a refusal is rolled back to its savepoint.
    pub(crate) async fn decide<T: Send + 'static, R: Send + 'static>(
        &self,
        unit: impl FnOnce(&mut Native<'_>) -> Result<Result<T, R>, StoreError> + Send + 'static,
    ) -> Result<Result<T, R>, StoreError> {
        self.submit(unit, |r| matches!(r, Ok(Ok(_)))).await
    }

    async fn submit<T: Send + 'static>(
        &self,
        unit: impl FnOnce(&mut Native<'_>) -> Result<T, StoreError> + Send + 'static,
        keep: fn(&Result<T, StoreError>) -> bool,
    ) -> Result<T, StoreError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let out = unit(&mut Native(conn));
            let kept = keep(&out);
            let reply: Reply = Box::new(move |committed| {
                let _ = answer.send(match committed {
                    Ok(()) => out,
                    Err(e) => Err(StoreError::Commit(e)),
                });
            });
            (kept, reply)
        });
        self.writer.send(job).map_err(|_| StoreError::WriterGone)?;
        // A job dropped unrun (the writer could not open a transaction)
        // drops its sender: the request fails, nothing was written.
        answered.await.map_err(|_| StoreError::WriterGone)?
    }
}

/// A connection with the server's durability settings (WAL, FULL sync: a
/// COMMIT returns once it is on disk).
fn connect(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
    )?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

fn writer_loop(
    mut conn: rusqlite::Connection,
    jobs: &mpsc::Receiver<Job>,
    runtime: &tokio::runtime::Handle,
    turn: &AnyPool,
) {
    while let Ok(first) = jobs.recv() {
        // sqlx's write connection is the write turn; held, not used.
        let held = match runtime.block_on(turn.acquire()) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "the SQLite writer could not take its turn");
                continue;
            }
        };
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "the SQLite writer could not open a transaction");
            continue;
        }
        let mut replies = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            if let Some(reply) = run_unit(&mut conn, job) {
                replies.push(reply);
            }
            if replies.len() < MAX_GROUP {
                next = jobs.try_recv().ok();
            }
        }
        let committed = conn.execute_batch("COMMIT").map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            tracing::error!(error = %e, units = replies.len(), "a group commit failed");
            e.to_string()
        });
        drop(held);
        for reply in replies {
            reply(committed.clone());
        }
    }
}

/// One unit inside its savepoint; `None` when the savepoint could not be
/// taken (the job is dropped, so its caller fails).
fn run_unit(conn: &mut rusqlite::Connection, job: Job) -> Option<Reply> {
    if let Err(e) = conn.execute_batch("SAVEPOINT unit") {
        tracing::error!(error = %e, "the SQLite writer could not open a savepoint");
        return None;
    }
    let (kept, reply) = job(conn);
    let close = if kept {
        "RELEASE unit"
    } else {
        "ROLLBACK TO unit; RELEASE unit"
    };
    if let Err(e) = conn.execute_batch(close) {
        // Not to be kept half applied: undone, and answered as failed.
        tracing::error!(error = %e, "the SQLite writer could not close a savepoint");
        let _ = conn.execute_batch("ROLLBACK TO unit; RELEASE unit");
        reply(Err(e.to_string()));
        return None;
    }
    Some(reply)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    async fn open(dir: &Path) -> (NativeSqlite, sqlx::AnyPool) {
        sqlx::any::install_default_drivers();
        let path = dir.join("native.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let turn = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("sqlx pool");
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
            .execute(&turn)
            .await
            .expect("schema");
        (
            NativeSqlite::open(&path, turn.clone()).expect("native"),
            turn,
        )
    }

    fn insert(e: &mut Native<'_>, v: i64) -> Result<(), StoreError> {
        e.0.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
        Ok(())
    }

    fn values(db: &NativeSqlite) -> Vec<i64> {
        db.read(|e| {
            let mut stmt = e.0.prepare("SELECT v FROM t ORDER BY v")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<i64>, _>>()?)
        })
        .expect("read")
    }

    /// Units that fail or are refused after writing are undone alone; their
    /// neighbours in the same group are kept and answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_keeps_exactly_the_units_that_succeeded() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Arc::new(open(dir.path()).await.0);
        let mut tasks = Vec::new();
        for v in 0..60i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                let out = match v % 3 {
                    0 => db.write(move |e| insert(e, v)).await.map(|()| Ok(())),
                    1 => {
                        db.write(move |e| {
                            insert(e, v)?;
                            Err::<(), _>(StoreError::Corrupt("fails after writing".into()))
                        })
                        .await
                    }
                    .map(Ok),
                    _ => {
                        db.decide(move |e| {
                            insert(e, v)?;
                            Ok(Err::<(), _>("refused after writing"))
                        })
                        .await
                    }
                };
                (v, out)
            }));
        }
        for t in tasks {
            let (v, out) = t.await.expect("task");
            match v % 3 {
                0 => assert!(matches!(out, Ok(Ok(()))), "{v}: {out:?}"),
                1 => assert!(matches!(out, Err(StoreError::Corrupt(_))), "{v}: {out:?}"),
                _ => assert!(matches!(out, Ok(Err(_))), "{v}: {out:?}"),
            }
        }
        let kept: Vec<i64> = (0..60).filter(|v| v % 3 == 0).collect();
        assert_eq!(values(&db), kept);
    }

    /// Writes through sqlx's write connection meanwhile are neither lost nor
    /// starved: they take their turn between groups.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlx_writes_take_their_turn_between_groups() {
        let dir = tempfile::tempdir().expect("dir");
        let (db, pool) = open(dir.path()).await;
        let db = Arc::new(db);
        let mut tasks = Vec::new();
        for v in 0..200i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(move |e| insert(e, v)).await
            }));
        }
        for v in 1000..1010i64 {
            sqlx::query("INSERT INTO t (v) VALUES ($1)")
                .bind(v)
                .execute(&pool)
                .await
                .expect("sqlx write");
        }
        for t in tasks {
            t.await.expect("task").expect("native write");
        }
        assert_eq!(values(&db).len(), 210);
    }
}
