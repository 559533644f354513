//! Test support shared by the integration suite (`crates/jpstart/tests/it`)
//! and the store contract suite (`crates/server/tests/store_contract`): a
//! fresh PostgreSQL database per test in the cluster that
//! `JPSTART_TEST_POSTGRES_URL` names, the notice when there is none, and
//! [`both_backends!`], which runs a test once per backend.

#![allow(clippy::expect_used)] // test support: a failed setup is a failed test

/// Names the PostgreSQL server tests may create databases in.
pub const POSTGRES_ENV: &str = "JPSTART_TEST_POSTGRES_URL";
/// When set, a missing PostgreSQL URL fails the tests instead of skipping
/// (CI sets it, so that it never skips the PostgreSQL half).
pub const REQUIRE_ENV: &str = "JPSTART_TEST_REQUIRE_POSTGRES";

/// A test's own PostgreSQL database, dropped with this value (kept when the
/// test failed, for a look).
pub struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// Creates `{prefix}_{random}` in the cluster of `JPSTART_TEST_POSTGRES_URL`;
    /// `None` when the variable is unset or empty.
    pub async fn create(prefix: &str) -> Option<PgDatabase> {
        use sqlx::Connection;
        let admin_url = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty())?;
        let name = format!("{prefix}_{}", rand::random::<u64>());
        let mut conn = sqlx::postgres::PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        let url = with_database(&admin_url, &name);
        Some(PgDatabase {
            admin_url,
            name,
            url,
        })
    }

    /// The URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the database {} of the failed test", self.name);
            return;
        }
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // A runtime of its own on a thread of its own: this may run inside
        // the test's runtime, which cannot block on a future.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::postgres::PgConnection::connect(&url).await.ok()?;
                // FORCE: servers or pools of the test may still hold connections.
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// The URL with its database (path) replaced, query string kept.
pub fn with_database(url: &str, name: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return format!("{url}/{name}");
    };
    let (authority, query) = match rest.split_once('/') {
        Some((a, path)) => (a, path.find('?').map_or("", |q| &path[q..])),
        None => match rest.split_once('?') {
            Some((a, _)) => (a, &rest[a.len()..]),
            None => (rest, ""),
        },
    };
    format!("{scheme}://{authority}/{name}{query}")
}

/// The PostgreSQL half of `suite` did not run: said once per test binary,
/// straight to the process's stderr (libtest captures only the `print!`
/// family), so that it shows in a plain `cargo test`. Fails instead under
/// `JPSTART_TEST_REQUIRE_POSTGRES`.
pub fn postgres_skipped(suite: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED: the PostgreSQL half of the {suite} (set {POSTGRES_ENV}=postgres://... to run it)"
        );
    });
    if std::env::var_os(REQUIRE_ENV).is_some() {
        panic!("{REQUIRE_ENV} is set but {POSTGRES_ENV} is not");
    }
}

/// A suite's per-test fixture on a database of its own, one constructor per
/// backend; [`both_backends!`] calls them.
pub trait Backends: Sized {
    /// The suite's name in the skip notice ("the PostgreSQL half of the …").
    const SUITE: &'static str;

    /// The fixture on a fresh SQLite database.
    fn sqlite() -> impl std::future::Future<Output = Self>;

    /// The fixture on a fresh PostgreSQL database, `None` when
    /// `JPSTART_TEST_POSTGRES_URL` is unset.
    fn postgres() -> impl std::future::Future<Output = Option<Self>>;
}

/// Runs a test once per backend, as `name::sqlite` and `name::postgres`,
/// on the fixture type `F` (a [`Backends`]); without PostgreSQL the second
/// half reports itself skipped (or fails under `JPSTART_TEST_REQUIRE_POSTGRES`).
/// The calling crate needs `tokio` with its `macros` feature.
///
/// Two forms:
/// - `both_backends!(F => async fn name(fx: F) { ... } ...)`: the bodies
///   inline (attributes on each kept);
/// - `both_backends!(F => fns name, other)`: `async fn name(fx: F)` defined
///   beside the call.
#[macro_export]
macro_rules! both_backends {
    ($fx:ty => fns $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(<$fx as $crate::Backends>::sqlite().await).await
                }

                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    match <$fx as $crate::Backends>::postgres().await {
                        Some(fx) => super::$name(fx).await,
                        None => $crate::postgres_skipped(<$fx as $crate::Backends>::SUITE),
                    }
                }
            }
        )*
    };
    ($fx:ty => $($(#[$meta:meta])* async fn $name:ident($arg:ident: $argty:ty) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                $(#[$meta])*
                async fn run($arg: $argty) $body

                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(<$fx as $crate::Backends>::sqlite().await).await
                }

                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    match <$fx as $crate::Backends>::postgres().await {
                        Some(fx) => run(fx).await,
                        None => $crate::postgres_skipped(<$fx as $crate::Backends>::SUITE),
                    }
                }
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5/postgres", "x"),
            "postgres://u@h:5/x"
        );
        assert_eq!(
            with_database("postgres://u@h:5/postgres?sslmode=disable", "x"),
            "postgres://u@h:5/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
        assert_eq!(
            with_database("postgres://u@h:5?a=b", "x"),
            "postgres://u@h:5/x?a=b"
        );
    }
}
