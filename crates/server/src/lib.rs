//! The jpstart API server: a wire-compatible implementation of WordPress.com's
//! Jetpack Start partner API.
//!
//! Layout:
//! - [`domain`]: catalogue, rules, error catalogue. No I/O.
//! - [`store`]: the [`store::Store`] trait and its SQL implementation
//!   (SQLite and PostgreSQL), with migrations per backend.
//! - [`rest`]: the WP.com REST conventions layer (versions, envelope,
//!   pretty, fields, 404/405, body formats, deadline), the endpoint
//!   declaration each route, `/help` and OpenAPI operation comes from, and
//!   the extractors that parse at the edge (parameters, site in the path).
//! - [`auth`]: the bearer-token extractor (`Caller`); [`reader`]: the
//!   reporting one (`Reader`: a key or a partner user, and its reach);
//!   [`writer`]: the `Caller` extractor
//!   within the key's write rate (`Writer`), taken by every write.
//! - [`crypto`], [`secrets`]: the server key and sealing of stored
//!   credentials; generating, digesting and verifying secrets.
//! - [`api`]: every endpoint, one module per group: the partner REST API,
//!   the token endpoint (`oauth`), the authorization page, `/openapi.json`,
//!   the operator's probes (`ops`) and the benchmark floor (`bench`).
//! - [`clock`]: the injected clock, the one source of "now".
//! - [`app`]: the state every handler reaches (`app::state`) and the router
//!   that composes the endpoints (`app::router`); [`serve`]: the listener
//!   loop; [`config`]: typed configuration.
//! - [`admin`]: the operator's commands, on the same store.
//! - [`throttle`], [`metrics`]: abuse limits, Prometheus metrics.
//! - [`mail`]: the magic-link limiter and the SMTP sender of the outbox.
//! - [`sandbox`]: the sandbox's hook in the site endpoints and its pages
//!   (SPEC §9; the rules in `domain::sandbox`, the routes in `api::sandbox`).
//! - [`request_log`]: the request log's middleware, writer and the one
//!   redaction of secrets (SPEC §9).
//! - [`webhooks`]: the webhook dispatcher, signature and SSRF guard (§10).
//! - [`reporting`]: the reports of SPEC §8 (activations, summary, invoices)
//!   as calls the API and the portal share.
//! - [`portal`]: the partner portal (`/portal/`, templates, sessions) and
//!   `/oauth2/authorize`.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod connections;
pub mod crypto;
pub mod domain;
pub mod mail;
pub mod metrics;
pub mod portal;
pub mod reader;
pub mod reporting;
pub mod request_log;
pub mod rest;
pub mod sandbox;
pub mod secrets;
pub mod serve;
pub mod store;
pub mod throttle;
pub mod webhooks;
pub mod writer;

pub use config::Config;
