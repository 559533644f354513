//! The integration suite: one test binary, every test against the real
//! `jpstart` binary on a random port with its own database, over real HTTP.
//!
//! Tests written with [`both_backends!`] run once on SQLite and once on
//! PostgreSQL (when `JPSTART_TEST_POSTGRES_URL` names a server; otherwise the
//! PostgreSQL half reports itself skipped).

// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

mod bench_route;
mod concurrency;
mod credentials;
mod foundation;
mod provision;
