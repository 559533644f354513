//! Migrations, embedded in the binary, one folder per backend.
//!
//! Built with sqlx's `Migrator` (checksums, a migrations table, and on
//! PostgreSQL an advisory lock so that several servers starting at once
//! migrate exactly once) from `include_str!`, which spares the build sqlx's
//! proc-macro crate.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::AnyPool;

use super::{Backend, StoreError};

// Versions need not be contiguous, only increasing.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "test clock",
        include_str!("../../migrations/sqlite/0002_test_clock.sql"),
    ),
    (
        3,
        "users",
        include_str!("../../migrations/sqlite/0003_users.sql"),
    ),
    (
        4,
        "token last used",
        include_str!("../../migrations/sqlite/0004_token_last_used.sql"),
    ),
    (
        5,
        "portal",
        include_str!("../../migrations/sqlite/0005_portal.sql"),
    ),
    (
        6,
        "request log",
        include_str!("../../migrations/sqlite/0006_request_log.sql"),
    ),
    (
        7,
        "webhooks",
        include_str!("../../migrations/sqlite/0007_webhooks.sql"),
    ),
    (
        8,
        "reporting",
        include_str!("../../migrations/sqlite/0008_reporting.sql"),
    ),
    (
        9,
        "sandbox",
        include_str!("../../migrations/sqlite/0009_sandbox.sql"),
    ),
    (
        10,
        "reporting counter",
        include_str!("../../migrations/sqlite/0010_reporting_counter.sql"),
    ),
    (
        11,
        "sharded counter",
        include_str!("../../migrations/sqlite/0011_sharded_counter.sql"),
    ),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "test clock",
        include_str!("../../migrations/postgres/0002_test_clock.sql"),
    ),
    (
        3,
        "users",
        include_str!("../../migrations/postgres/0003_users.sql"),
    ),
    (
        4,
        "token last used",
        include_str!("../../migrations/postgres/0004_token_last_used.sql"),
    ),
    (
        5,
        "portal",
        include_str!("../../migrations/postgres/0005_portal.sql"),
    ),
    (
        6,
        "request log",
        include_str!("../../migrations/postgres/0006_request_log.sql"),
    ),
    (
        7,
        "webhooks",
        include_str!("../../migrations/postgres/0007_webhooks.sql"),
    ),
    (
        8,
        "reporting",
        include_str!("../../migrations/postgres/0008_reporting.sql"),
    ),
    (
        9,
        "sandbox",
        include_str!("../../migrations/postgres/0009_sandbox.sql"),
    ),
    (
        10,
        "reporting counter",
        include_str!("../../migrations/postgres/0010_reporting_counter.sql"),
    ),
    (
        11,
        "sharded counter",
        include_str!("../../migrations/postgres/0011_sharded_counter.sql"),
    ),
];

pub async fn run(backend: Backend, pool: &AnyPool) -> Result<(), StoreError> {
    let list = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    let migrations: Vec<Migration> = list
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect();
    let migrator = Migrator {
        migrations: Cow::Owned(migrations),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    };
    migrator.run(pool).await?;
    Ok(())
}
