//! Running a transaction again when PostgreSQL aborted it only because of a
//! concurrent one.
//!
//! Under load PostgreSQL may pick a transaction as a deadlock victim
//! (SQLSTATE `40P01`) or, at stricter isolation levels, fail it with a
//! serialization error (`40001`). Neither says anything about the request:
//! the same transaction run again will usually succeed. The store's write
//! transactions take their row locks in one order (key, then site), so a
//! cycle needs an unusual interleaving, such as the bulk expiry sweep
//! beside a provision on the same site; a few tries are plenty. SQLite never
//! reports these: its write transactions run one at a time.

use std::time::Duration;

/// How many times a write transaction is tried in all before the failure is
/// reported (the request then answers `internal_error`, the cause logged).
pub const MAX_ATTEMPTS: u32 = 4;

/// The pause before try `attempt + 1`: short, growing, and jittered so
/// that the transactions that collided do not collide again (5 to 25 ms).
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(u64::from(attempt) * 5 + rand::random::<u64>() % 10)
}

/// Evaluates `$body` (a `Result<_, StoreError>` of one whole transaction)
/// again, up to [`MAX_ATTEMPTS`] tries in all, while it fails with
/// [`StoreError::is_retryable`](super::StoreError::is_retryable). Each try
/// must be a fresh transaction: nothing of an aborted one was committed, so
/// retrying cannot apply a change twice.
macro_rules! retrying {
    ($body:expr) => {{
        let mut attempt = 1u32;
        loop {
            match $body {
                Err(e) if e.is_retryable() && attempt < $crate::store::retry::MAX_ATTEMPTS => {
                    tracing::debug!(attempt, error = %e, "transaction aborted by a concurrent one; retrying");
                    tokio::time::sleep($crate::store::retry::backoff(attempt)).await;
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::atomic::{AtomicU32, Ordering};

    use sqlx::error::{DatabaseError, ErrorKind};

    use crate::store::StoreError;

    /// A database error with a given SQLSTATE, as a driver would report it.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "sqlstate {}", self.0)
        }
    }

    impl std::error::Error for Coded {}

    impl DatabaseError for Coded {
        fn message(&self) -> &str {
            "coded"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn failure(code: &'static str) -> StoreError {
        StoreError::Database(sqlx::Error::Database(Box::new(Coded(code))))
    }

    #[test]
    fn only_concurrency_failures_are_retried() {
        assert!(failure("40P01").is_retryable());
        assert!(failure("40001").is_retryable());
        assert!(
            !failure("23505").is_retryable(),
            "a unique violation is an answer"
        );
        assert!(!failure("3D000").is_retryable());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_retryable());
        assert!(!StoreError::Corrupt("x".into()).is_retryable());
    }

    async fn fail_first(n: u32, code: &'static str, tries: &AtomicU32) -> Result<u32, StoreError> {
        let t = tries.fetch_add(1, Ordering::SeqCst) + 1;
        if t <= n {
            Err(failure(code))
        } else {
            Ok(t)
        }
    }

    #[tokio::test]
    async fn retries_a_bounded_number_of_times() {
        let tries = AtomicU32::new(0);
        let r = retrying!(fail_first(3, "40P01", &tries).await);
        assert_eq!(r.ok(), Some(4), "three deadlocks, then success");

        let tries = AtomicU32::new(0);
        let r = retrying!(fail_first(100, "40001", &tries).await);
        assert!(r.is_err());
        assert_eq!(tries.load(Ordering::SeqCst), super::MAX_ATTEMPTS);

        let tries = AtomicU32::new(0);
        let r = retrying!(fail_first(100, "23505", &tries).await);
        assert!(r.is_err());
        assert_eq!(
            tries.load(Ordering::SeqCst),
            1,
            "other failures are not retried"
        );
    }
}
