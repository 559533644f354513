//! `jpstart admin migrate`: copies an embedded (SQLite) database into an
//! empty PostgreSQL database, for the move to several servers.
//!
//! Both schemas come from this binary's migrations (the source is brought up
//! to date first, the target is created), so they have the same tables and
//! columns; the copy still checks that, so that a table added later without
//! a place in [`TABLES`] is refused rather than silently left behind.
//!
//! The whole copy is one transaction on the target: either every row is
//! there, with its id, and the row counts per table agree with the source,
//! or nothing is. The source is read in one transaction too (one snapshot),
//! so a server still running on it cannot make the counts disagree.

use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::dialect::{self, redact_url, Backend};
use super::{migrate, StoreError};

/// Every table, parents before children (foreign keys). A column that
/// refers to a row of its own table (`activations.superseded_by`, a later
/// row) is copied as NULL first and filled in once every row is there.
pub const TABLES: &[&str] = &[
    "partners",
    "keys",
    "key_limits",
    "key_activation_counts",
    "tokens",
    "sites",
    "activations",
    "events",
    "credentials",
    "auth_links",
    "partner_redirects",
    "test_clock",
    "wpcom_users",
    "partner_user_creation",
    "wpcom_user_tokens",
    "mail_outbox",
    "sandbox_flaky_hits",
    "request_log",
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "monitor_webhooks",
    "monitor_suppressions",
    "partner_users",
    "portal_sessions",
    "oauth_apps",
    "oauth_codes",
    "partner_user_tokens",
];

/// Rows per `INSERT` statement (PostgreSQL allows 65535 parameters).
const BATCH_PARAMS: usize = 30_000;

/// What `admin migrate` prints.
#[derive(Debug, Serialize)]
pub struct CopyReport {
    pub from: String,
    pub to: String,
    /// Rows copied per table, in copy order; equal on both sides.
    pub tables: Vec<TableCount>,
}

#[derive(Debug, Serialize)]
pub struct TableCount {
    pub table: String,
    pub rows: i64,
}

/// How a column's values are read and bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
    Blob,
}

#[derive(Debug)]
struct Column {
    name: String,
    kind: Kind,
    /// Refers to a row of the same table (filled in after the copy).
    self_ref: bool,
}

#[derive(Debug, Clone)]
enum Value {
    Null,
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// Copies the SQLite database `from` into the empty PostgreSQL database `to`.
pub async fn copy_database(from: &str, to: &str) -> Result<CopyReport, StoreError> {
    if Backend::from_url(from)? != Backend::Sqlite {
        return Err(StoreError::Config(format!(
            "--from must be an sqlite:// URL (the embedded database), not {}",
            redact_url(from)
        )));
    }
    if Backend::from_url(to)? != Backend::Postgres {
        return Err(StoreError::Config(format!(
            "--to must be a postgres:// URL, not {}",
            redact_url(to)
        )));
    }
    // `sqlite://` would create a missing file: a typo must not copy an
    // empty database.
    let path = sqlite_path(from);
    if !std::path::Path::new(path).is_file() {
        return Err(StoreError::Config(format!(
            "--from: no SQLite database at {path:?}"
        )));
    }

    let source = dialect::connect(Backend::Sqlite, from).await?;
    migrate::run(Backend::Sqlite, &source.write).await?;
    let target = dialect::connect(Backend::Postgres, to).await?;
    migrate::run(Backend::Postgres, &target.write).await?;

    let mut src = source.read.begin().await?;
    let mut dst = target.write.begin().await?;
    check_tables(&mut src).await?;
    refuse_non_empty(&mut dst, to).await?;

    let mut tables = Vec::new();
    for table in TABLES {
        let columns = columns(&mut src, table).await?;
        check_target_columns(&mut dst, table, &columns).await?;
        let copied = copy_table(&mut src, &mut dst, table, &columns).await?;
        let source_rows = count(&mut src, table).await?;
        let target_rows = count(&mut dst, table).await?;
        if copied != source_rows || target_rows != source_rows {
            return Err(StoreError::Corrupt(format!(
                "table {table}: {source_rows} rows in the source, {copied} read, {target_rows} in the target; nothing was copied"
            )));
        }
        tables.push(TableCount {
            table: table.to_string(),
            rows: source_rows,
        });
    }
    reset_identities(&mut src, &mut dst).await?;
    dst.commit().await?;
    src.commit().await?;
    Ok(CopyReport {
        from: redact_url(from),
        to: redact_url(to),
        tables,
    })
}

/// The file of an `sqlite://PATH?options` URL.
fn sqlite_path(url: &str) -> &str {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    rest.split('?').next().unwrap_or(rest)
}

/// The source has exactly the tables of [`TABLES`].
async fn check_tables(src: &mut Transaction<'static, Any>) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut **src)
    .await?;
    let mut found: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("name"))
        .collect::<Result<_, _>>()?;
    found.sort();
    let mut known: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    known.sort();
    if found != known {
        return Err(StoreError::Config(format!(
            "the source has tables {found:?}, this version copies {known:?}"
        )));
    }
    Ok(())
}

async fn refuse_non_empty(dst: &mut Transaction<'static, Any>, to: &str) -> Result<(), StoreError> {
    for table in TABLES {
        let n = count(dst, table).await?;
        if n > 0 {
            return Err(StoreError::Config(format!(
                "the target database {} is not empty (table {table} has {n} rows); \
                 admin migrate copies only into an empty database",
                redact_url(to)
            )));
        }
    }
    Ok(())
}

async fn count(tx: &mut Transaction<'static, Any>, table: &str) -> Result<i64, StoreError> {
    // `table` comes from TABLES, never from input.
    let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("n")?)
}

/// The source table's columns, in order, with their kinds.
async fn columns(
    src: &mut Transaction<'static, Any>,
    table: &str,
) -> Result<Vec<Column>, StoreError> {
    let info = sqlx::query(&format!(
        "SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid"
    ))
    .fetch_all(&mut **src)
    .await?;
    let self_refs: Vec<String> = sqlx::query(&format!(
        "SELECT \"from\" AS col FROM pragma_foreign_key_list('{table}') WHERE \"table\" = '{table}'"
    ))
    .fetch_all(&mut **src)
    .await?
    .iter()
    .map(|r| r.try_get("col"))
    .collect::<Result<_, _>>()?;
    info.iter()
        .map(|r| {
            let name: String = r.try_get("name")?;
            let declared: String = r.try_get("type")?;
            let kind = match declared.to_ascii_uppercase().as_str() {
                "INTEGER" => Kind::Integer,
                "TEXT" => Kind::Text,
                "BLOB" => Kind::Blob,
                other => {
                    return Err(StoreError::Config(format!(
                        "column {table}.{name} has type {other}, which the copy does not know"
                    )))
                }
            };
            let self_ref = self_refs.contains(&name);
            Ok(Column {
                name,
                kind,
                self_ref,
            })
        })
        .collect()
}

/// The target table has the same columns (names; order does not matter).
async fn check_target_columns(
    dst: &mut Transaction<'static, Any>,
    table: &str,
    columns: &[Column],
) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "SELECT column_name::text AS name FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind(table)
    .fetch_all(&mut **dst)
    .await?;
    let mut theirs: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("name"))
        .collect::<Result<_, _>>()?;
    theirs.sort();
    let mut ours: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    ours.sort();
    if theirs != ours {
        return Err(StoreError::Config(format!(
            "table {table}: source columns {ours:?}, target columns {theirs:?}"
        )));
    }
    Ok(())
}

/// Streams the table's rows into batched `INSERT`s; returns how many.
async fn copy_table(
    src: &mut Transaction<'static, Any>,
    dst: &mut Transaction<'static, Any>,
    table: &str,
    columns: &[Column],
) -> Result<i64, StoreError> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let select = format!("SELECT {} FROM {table} ORDER BY rowid", names.join(", "));
    let per_batch = (BATCH_PARAMS / columns.len().max(1)).max(1);
    let mut copied = 0i64;
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(per_batch);
    // Self references, filled in after the rows: (column, row key, value).
    let mut later: Vec<(usize, i64, i64)> = Vec::new();
    let key_index = columns.iter().position(|c| c.name == "id");
    {
        let mut rows = sqlx::query(&select).fetch(&mut **src);
        while let Some(row) = rows.try_next().await? {
            let mut values = read_row(&row, columns)?;
            for (i, c) in columns.iter().enumerate() {
                if let (true, Value::Integer(v), Some(k)) = (c.self_ref, &values[i], key_index) {
                    if let Value::Integer(id) = values[k] {
                        later.push((i, id, *v));
                        values[i] = Value::Null;
                    }
                }
            }
            batch.push(values);
            copied += 1;
            if batch.len() == per_batch {
                insert_batch(dst, table, columns, &batch).await?;
                batch.clear();
            }
        }
    }
    if !batch.is_empty() {
        insert_batch(dst, table, columns, &batch).await?;
    }
    for (column, id, value) in later {
        let sql = format!(
            "UPDATE {table} SET {} = $1 WHERE id = $2",
            columns[column].name
        );
        sqlx::query(&sql)
            .bind(value)
            .bind(id)
            .execute(&mut **dst)
            .await?;
    }
    Ok(copied)
}

fn read_row(row: &AnyRow, columns: &[Column]) -> Result<Vec<Value>, StoreError> {
    columns
        .iter()
        .map(|c| {
            let name = c.name.as_str();
            Ok(match c.kind {
                Kind::Integer => row
                    .try_get::<Option<i64>, _>(name)?
                    .map_or(Value::Null, Value::Integer),
                Kind::Text => row
                    .try_get::<Option<String>, _>(name)?
                    .map_or(Value::Null, Value::Text),
                Kind::Blob => row
                    .try_get::<Option<Vec<u8>>, _>(name)?
                    .map_or(Value::Null, Value::Blob),
            })
        })
        .collect()
}

async fn insert_batch(
    dst: &mut Transaction<'static, Any>,
    table: &str,
    columns: &[Column],
    rows: &[Vec<Value>],
) -> Result<(), StoreError> {
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
    let mut n = 0;
    for r in 0..rows.len() {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns.len() {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            sql.push_str(&format!("${n}"));
        }
        sql.push(')');
    }
    let mut q = sqlx::query(&sql);
    for row in rows {
        for (value, column) in row.iter().zip(columns) {
            q = match (value, column.kind) {
                (Value::Integer(v), _) => q.bind(*v),
                (Value::Text(v), _) => q.bind(v.clone()),
                (Value::Blob(v), _) => q.bind(v.clone()),
                // A typed NULL: PostgreSQL must see the column's type.
                (Value::Null, Kind::Integer) => q.bind(None::<i64>),
                (Value::Null, Kind::Text) => q.bind(None::<String>),
                (Value::Null, Kind::Blob) => q.bind(None::<Vec<u8>>),
            };
        }
    }
    q.execute(&mut **dst).await?;
    Ok(())
}

/// Moves every identity sequence of the target past the highest id the
/// source ever handed out (SQLite's `sqlite_sequence` remembers ids of
/// deleted rows too), so that new rows never reuse a copied id.
async fn reset_identities(
    src: &mut Transaction<'static, Any>,
    dst: &mut Transaction<'static, Any>,
) -> Result<(), StoreError> {
    let identities = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(&mut **dst)
    .await?;
    for r in identities {
        let table: String = r.try_get("t")?;
        let column: String = r.try_get("c")?;
        if !TABLES.contains(&table.as_str()) {
            continue;
        }
        let max: Option<i64> = sqlx::query(&format!("SELECT MAX({column}) AS m FROM {table}"))
            .fetch_one(&mut **dst)
            .await?
            .try_get("m")?;
        let seq: Option<i64> = sqlx::query("SELECT seq FROM sqlite_sequence WHERE name = $1")
            .bind(table.as_str())
            .fetch_optional(&mut **src)
            .await?
            .map(|r| r.try_get("seq"))
            .transpose()?;
        let last = max.unwrap_or(0).max(seq.unwrap_or(0));
        if last > 0 {
            sqlx::query(&format!(
                "ALTER TABLE {table} ALTER COLUMN {column} RESTART WITH {}",
                last + 1
            ))
            .execute(&mut **dst)
            .await?;
        }
    }
    Ok(())
}
