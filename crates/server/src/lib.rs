//! The jpstart API server: a wire-compatible implementation of WordPress.com's
//! Jetpack Start partner API.
//!
//! Layout:
//! - [`domain`]: catalogue, rules, error catalogue. No I/O.
//! - [`store`]: the [`store::Store`] trait and its SQL implementation
//!   (SQLite and PostgreSQL), with migrations per backend.
//! - [`rest`]: the WP.com REST conventions layer (versions, envelope,
//!   pretty, fields, 404/405, body formats) and parameter extraction.
//! - [`auth`], [`oauth`]: bearer tokens and the token endpoint.
//! - [`crypto`]: the server key and sealing of stored credentials.
//! - [`api`]: the endpoints, one module per group.
//! - [`clock`]: the injected clock, the one source of "now".
//! - [`app`], [`serve`], [`config`]: state, routing, the listener loop.
//! - [`admin`]: the operator's commands, on the same store.
//! - [`throttle`], [`metrics`], [`ops`]: abuse limits, Prometheus metrics,
//!   health and readiness.
//! - [`bench`]: the benchmark floor route (`serve --bench-routes` only).
//! - [`mail`]: the magic-link limiter and the SMTP sender of the outbox.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod bench;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod ops;
pub mod rest;
pub mod secrets;
pub mod serve;
pub mod store;
pub mod throttle;

pub use config::Config;
