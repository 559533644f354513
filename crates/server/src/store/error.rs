//! What a store operation answers when the storage itself fails, and the
//! shape of an answer that applies rules.

use super::dialect;

/// A failure of the storage itself (not a refusal by the rules).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the commit of a group of writes failed: {0}")]
    Commit(String),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Config(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the database aborted the transaction only because of a
    /// concurrent one (PostgreSQL serialization failure or deadlock victim),
    /// so that running the whole transaction again is safe.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Database(e) if dialect::is_retryable(e))
    }
}

/// The answer of a unit of work that applies rules: done (`Ok(Ok)`),
/// refused by the domain (`Ok(Err(refusal))`, nothing changed), or a
/// storage failure.
pub type Decided<T, R> = Result<Result<T, R>, StoreError>;
