//! One query API over two executors: sqlx (PostgreSQL, and SQLite's
//! less travelled paths) and a rusqlite connection owned by the calling
//! thread ([`super::native`]).
//!
//! The hot units of work (token lookup, status, provision, cancel, token
//! issue) are written once against [`Exec`], so the SQL and the order of
//! its statements cannot drift between the backends. On sqlx every
//! statement is an `.await` (a network round trip on PostgreSQL). On a
//! [`Native`] connection every future is ready at once, so a whole unit runs
//! synchronously inside one closure on the connection's thread
//! ([`run_ready`]): one hop per request instead of one per statement.
//!
//! The surface mimics sqlx's (`query(..).bind(..).fetch_all(e)`,
//! `row.try_get::<T, _>("col")`) so that a unit reads the same either way.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Transaction};

use crate::store::StoreError;

/// A bound argument. NULLs are typed: PostgreSQL must know a parameter's
/// type even when it is NULL.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
    NullInt,
    NullText,
    NullBlob,
}

/// What may be bound to a placeholder.
pub(crate) trait Bind {
    fn value(self) -> Value;
}

impl Bind for i64 {
    fn value(self) -> Value {
        Value::Int(self)
    }
}
impl Bind for &str {
    fn value(self) -> Value {
        Value::Text(self.to_string())
    }
}
impl Bind for String {
    fn value(self) -> Value {
        Value::Text(self)
    }
}
impl Bind for Vec<u8> {
    fn value(self) -> Value {
        Value::Blob(self)
    }
}
impl Bind for &[u8] {
    fn value(self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl Bind for Option<i64> {
    fn value(self) -> Value {
        self.map_or(Value::NullInt, Value::Int)
    }
}
impl Bind for Option<&str> {
    fn value(self) -> Value {
        self.map_or(Value::NullText, |s| Value::Text(s.to_string()))
    }
}
impl Bind for Option<String> {
    fn value(self) -> Value {
        self.map_or(Value::NullText, Value::Text)
    }
}
impl Bind for Option<Vec<u8>> {
    fn value(self) -> Value {
        self.map_or(Value::NullBlob, Value::Blob)
    }
}

/// A statement and its arguments, `$1`, `$2`... in order.
pub(crate) struct Query<'q> {
    pub(crate) sql: &'q str,
    pub(crate) args: Vec<Value>,
}

pub(crate) fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        args: Vec::new(),
    }
}

/// What a statement is run for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Execute,
    Rows,
}

pub(crate) enum Answer {
    Done(u64),
    Rows(Vec<Row>),
}

/// The result of [`Query::execute`].
pub(crate) struct Done(u64);

impl Done {
    pub(crate) fn rows_affected(&self) -> u64 {
        self.0
    }
}

impl<'q> Query<'q> {
    pub(crate) fn bind(mut self, v: impl Bind) -> Self {
        self.args.push(v.value());
        self
    }

    pub(crate) async fn execute<E: Exec>(self, e: &mut E) -> Result<Done, StoreError> {
        match e.run(self, Want::Execute).await? {
            Answer::Done(n) => Ok(Done(n)),
            Answer::Rows(_) => Err(StoreError::Corrupt("rows from an execute".into())),
        }
    }

    pub(crate) async fn fetch_all<E: Exec>(self, e: &mut E) -> Result<Vec<Row>, StoreError> {
        match e.run(self, Want::Rows).await? {
            Answer::Rows(rows) => Ok(rows),
            Answer::Done(_) => Ok(Vec::new()),
        }
    }

    pub(crate) async fn fetch_optional<E: Exec>(
        self,
        e: &mut E,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.fetch_all(e).await?.into_iter().next())
    }

    pub(crate) async fn fetch_one<E: Exec>(self, e: &mut E) -> Result<Row, StoreError> {
        self.fetch_optional(e)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a statement returned no row".into()))
    }
}

/// Something statements run on.
pub(crate) trait Exec: Send {
    fn run<'a>(
        &'a mut self,
        q: Query<'a>,
        want: Want,
    ) -> impl Future<Output = Result<Answer, StoreError>> + Send + 'a;
}

fn sqlx_query(q: Query<'_>) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
    let mut out = sqlx::query(q.sql);
    for v in q.args {
        out = match v {
            Value::Int(i) => out.bind(i),
            Value::Text(s) => out.bind(s),
            Value::Blob(b) => out.bind(b),
            Value::NullInt => out.bind(None::<i64>),
            Value::NullText => out.bind(None::<String>),
            Value::NullBlob => out.bind(None::<Vec<u8>>),
        };
    }
    out
}

async fn on_sqlx<'c, X>(x: X, q: Query<'_>, want: Want) -> Result<Answer, StoreError>
where
    X: sqlx::Executor<'c, Database = Any>,
{
    let q = sqlx_query(q);
    Ok(match want {
        Want::Execute => Answer::Done(q.execute(x).await?.rows_affected()),
        Want::Rows => Answer::Rows(q.fetch_all(x).await?.into_iter().map(Row::Any).collect()),
    })
}

impl Exec for sqlx::AnyConnection {
    fn run<'a>(
        &'a mut self,
        q: Query<'a>,
        want: Want,
    ) -> impl Future<Output = Result<Answer, StoreError>> + Send + 'a {
        on_sqlx(self, q, want)
    }
}

impl Exec for sqlx::pool::PoolConnection<Any> {
    fn run<'a>(
        &'a mut self,
        q: Query<'a>,
        want: Want,
    ) -> impl Future<Output = Result<Answer, StoreError>> + Send + 'a {
        on_sqlx(&mut **self, q, want)
    }
}

impl<'t> Exec for Transaction<'t, Any> {
    fn run<'a>(
        &'a mut self,
        q: Query<'a>,
        want: Want,
    ) -> impl Future<Output = Result<Answer, StoreError>> + Send + 'a {
        on_sqlx(&mut **self, q, want)
    }
}

/// A pool as an executor: each statement on whichever connection is free
/// (autocommit), as `sqlx::query(..).fetch_all(&pool)` does.
pub(crate) struct Pool<'p>(pub(crate) &'p AnyPool);

impl Exec for Pool<'_> {
    fn run<'a>(
        &'a mut self,
        q: Query<'a>,
        want: Want,
    ) -> impl Future<Output = Result<Answer, StoreError>> + Send + 'a {
        on_sqlx(self.0, q, want)
    }
}

/// A rusqlite connection: every statement runs at once, on this thread,
/// through the connection's statement cache.
pub(crate) struct Native<'c>(pub(crate) &'c mut rusqlite::Connection);

impl Exec for Native<'_> {
    fn run<'a>(
        &'a mut self,
        q: Query<'a>,
        want: Want,
    ) -> impl Future<Output = Result<Answer, StoreError>> + Send + 'a {
        std::future::ready(run_native(self.0, &q, want).map_err(StoreError::from))
    }
}

fn run_native(conn: &rusqlite::Connection, q: &Query<'_>, want: Want) -> rusqlite::Result<Answer> {
    let mut stmt = conn.prepare_cached(q.sql)?;
    bind_native(&mut stmt, &q.args)?;
    if want == Want::Execute {
        // `raw_execute` refuses a statement that returns rows; RETURNING
        // statements are fetched instead.
        return Ok(Answer::Done(stmt.raw_execute()? as u64));
    }
    let columns: Arc<[String]> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let width = columns.len();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut cells = Vec::with_capacity(width);
        for i in 0..width {
            cells.push(Cell::from(r.get_ref(i)?));
        }
        out.push(Row::Native(NativeRow {
            columns: columns.clone(),
            cells,
        }));
    }
    Ok(Answer::Rows(out))
}

/// Binds `$N` placeholders by their number: SQLite numbers parameters in
/// order of first appearance, which need not be N.
fn bind_native(stmt: &mut rusqlite::CachedStatement<'_>, args: &[Value]) -> rusqlite::Result<()> {
    use rusqlite::types::Null;
    for i in 1..=stmt.parameter_count() {
        let n = stmt
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or(rusqlite::Error::InvalidParameterCount(i, args.len()))?;
        let Some(v) = n.checked_sub(1).and_then(|k| args.get(k)) else {
            return Err(rusqlite::Error::InvalidParameterCount(n, args.len()));
        };
        match v {
            Value::Int(x) => stmt.raw_bind_parameter(i, x)?,
            Value::Text(s) => stmt.raw_bind_parameter(i, s.as_str())?,
            Value::Blob(b) => stmt.raw_bind_parameter(i, b.as_slice())?,
            Value::NullInt | Value::NullText | Value::NullBlob => {
                stmt.raw_bind_parameter(i, Null)?
            }
        }
    }
    Ok(())
}

/// A column value read from SQLite.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<rusqlite::types::ValueRef<'_>> for Cell {
    fn from(v: rusqlite::types::ValueRef<'_>) -> Self {
        use rusqlite::types::ValueRef as V;
        match v {
            V::Null => Cell::Null,
            V::Integer(i) => Cell::Int(i),
            V::Real(f) => Cell::Real(f),
            V::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
            V::Blob(b) => Cell::Blob(b.to_vec()),
        }
    }
}

pub(crate) struct NativeRow {
    columns: Arc<[String]>,
    cells: Vec<Cell>,
}

/// A row from either executor.
pub(crate) enum Row {
    Any(AnyRow),
    Native(NativeRow),
}

impl Row {
    /// The column named `col`, as sqlx's `Row::try_get` by name.
    pub(crate) fn try_get<T: Decode, I: AsRef<str>>(&self, col: I) -> Result<T, StoreError> {
        let col = col.as_ref();
        match self {
            Row::Any(r) => T::from_any(r, col),
            Row::Native(r) => {
                let cell = r
                    .columns
                    .iter()
                    .position(|c| c == col)
                    .and_then(|i| r.cells.get(i))
                    .ok_or_else(|| StoreError::Corrupt(format!("no column {col:?}")))?;
                T::from_cell(cell)
                    .ok_or_else(|| StoreError::Corrupt(format!("column {col:?} holds {cell:?}")))
            }
        }
    }
}

/// Rows read by name, from this module's [`Row`] or straight from sqlx
/// (the modules that do not run on [`Native`]).
pub(crate) trait Columns {
    fn try_get<T: Decode, I: AsRef<str>>(&self, col: I) -> Result<T, StoreError>;
}

impl Columns for Row {
    fn try_get<T: Decode, I: AsRef<str>>(&self, col: I) -> Result<T, StoreError> {
        Row::try_get(self, col)
    }
}

impl Columns for AnyRow {
    fn try_get<T: Decode, I: AsRef<str>>(&self, col: I) -> Result<T, StoreError> {
        T::from_any(self, col.as_ref())
    }
}

/// What a column may be read as.
pub(crate) trait Decode: Sized {
    fn from_any(r: &AnyRow, col: &str) -> Result<Self, StoreError>;
    fn from_cell(c: &Cell) -> Option<Self>;
}

macro_rules! decode {
    ($t:ty, $pat:pat => $v:expr) => {
        impl Decode for $t {
            fn from_any(r: &AnyRow, col: &str) -> Result<Self, StoreError> {
                Ok(sqlx::Row::try_get::<$t, _>(r, col)?)
            }
            fn from_cell(c: &Cell) -> Option<Self> {
                match c {
                    $pat => Some($v),
                    _ => None,
                }
            }
        }
        impl Decode for Option<$t> {
            fn from_any(r: &AnyRow, col: &str) -> Result<Self, StoreError> {
                Ok(sqlx::Row::try_get::<Option<$t>, _>(r, col)?)
            }
            fn from_cell(c: &Cell) -> Option<Self> {
                match c {
                    Cell::Null => Some(None),
                    $pat => Some(Some($v)),
                    _ => None,
                }
            }
        }
    };
}

decode!(i64, Cell::Int(i) => *i);
decode!(String, Cell::Text(s) => s.clone());
decode!(Vec<u8>, Cell::Blob(b) => b.clone());

/// Drives a future whose every await is ready at once (a unit of work on a
/// [`Native`] connection) to its end, here and now.
pub(crate) fn run_ready<T>(
    f: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        // Only a sqlx call inside a native unit could wait, and none does.
        Poll::Pending => Err(StoreError::Corrupt(
            "a native unit of work waited on something".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> rusqlite::Connection {
        let c = rusqlite::Connection::open_in_memory().expect("memory db");
        c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
            .expect("schema");
        c
    }

    #[test]
    fn placeholders_bind_by_number_not_by_position() {
        let mut c = conn();
        let mut e = Native(&mut c);
        let n = run_ready(
            query("INSERT INTO t (name, id, data) VALUES ($2, $1, $3)")
                .bind(7)
                .bind("seven")
                .bind(None::<Vec<u8>>)
                .execute(&mut e),
        )
        .expect("insert");
        assert_eq!(n.rows_affected(), 1);
        let row = run_ready(
            query("SELECT id, name, data FROM t WHERE name = $1 AND id = $2")
                .bind("seven")
                .bind(7)
                .fetch_one(&mut e),
        )
        .expect("select");
        assert_eq!(row.try_get::<i64, _>("id").expect("id"), 7);
        assert_eq!(row.try_get::<String, _>("name").expect("name"), "seven");
        assert_eq!(
            row.try_get::<Option<Vec<u8>>, _>("data").expect("data"),
            None
        );
        assert!(row.try_get::<i64, _>("name").is_err(), "text is not an int");
        assert!(row.try_get::<i64, _>("nope").is_err(), "no such column");
    }

    #[test]
    fn a_repeated_placeholder_is_one_argument() {
        let mut c = conn();
        let mut e = Native(&mut c);
        let rows = run_ready(
            query("SELECT $1 + $1 AS two, $2 AS s")
                .bind(21)
                .bind("x")
                .fetch_all(&mut e),
        )
        .expect("select");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].try_get::<i64, _>("two").expect("two"), 42);
        let missing = run_ready(query("SELECT $1, $2 AS s").bind(1).fetch_all(&mut e));
        assert!(missing.is_err(), "a missing argument is an error");
    }
}
