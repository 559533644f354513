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

mod admin;
mod auth;
mod authorize;
mod authorize_browser;
mod bench_route;
mod bodies;
mod bulk;
mod cancel;
mod cancel_faults;
mod cli;
mod client;
mod clock;
mod concurrency;
mod crash;
mod credentials;
mod events;
mod force;
mod foundation;
mod group_commit;
mod hostile;
mod invoices;
mod isolation;
mod leaks;
mod lifecycle;
mod limits_parallel;
mod magic_link;
mod mail;
mod model;
mod openapi;
mod operations;
mod operator_config;
mod ops;
mod pending_expiry;
mod portal_auth;
mod portal_browser;
mod portal_extras;
mod portal_oauth;
mod portal_pages;
mod portal_pages_browser;
mod postgres;
mod provision;
mod rawdb;
mod receiver;
mod reporting;
mod request_log;
mod revocation;
mod sandbox;
mod scale_out;
mod sites_v11;
mod status;
mod sub_keys;
mod trust_connections;
mod trust_files;
mod trust_growth;
mod trust_holder;
mod trust_links;
mod trust_sub_keys;
mod trust_tokens;
mod trust_urls;
mod users;
mod webdriver;
mod webhooks;
