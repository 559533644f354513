//! Typed async client of the Jetpack Start partner API, for WordPress.com
//! (the default) or any jpstart.
//!
//! The request parameters and response bodies are the structs of
//! `jpstart-types`, the same ones the server uses: the wire format is
//! defined once.
//!
//! ```no_run
//! # async fn demo() -> Result<(), jpstart_client::Error> {
//! use jpstart_client::{parse_site, Client};
//! use jpstart_types::params::ProvisionParams;
//!
//! let client = Client::builder()
//!     .base_url("http://127.0.0.1:8080")
//!     .partner("1234", "client-secret")
//!     .build()?;
//! let provisioned = client
//!     .provision(&ProvisionParams {
//!         siteurl: Some("https://example.com/demo".into()),
//!         local_user: Some("admin".into()),
//!         plan: Some("premium".into()),
//!         ..Default::default()
//!     })
//!     .await?;
//! let site = parse_site("https://example.com/demo")?; // example.com::demo
//! let status = client.status_v14(&site).await?;
//! # let _ = (provisioned, status);
//! # Ok(()) }
//! ```
//!
//! Layout:
//! - [`client`]: [`Client`], its builder, the token cache, sending with retries.
//! - [`calls`]: one method per API call, and the requests they send.
//! - [`request`]: a request as data (re-sent on retry), body formats.
//! - [`retry`]: which failures are retried, and how long to wait.
//! - [`base_url`]: the base URL, including the legacy `JETPACK_START_API_HOST`.
//! - [`error`]: the error enum.
//! - [`users`]: accounts, magic links, the public site lookup.
//! - [`request_log`]: the partner's request log (SPEC §9).
//! - [`sandbox`]: a sandbox's magic sites, test clock and mail outbox.
//! - [`webhooks`]: webhook endpoints, deliveries, replay, the Monitor URL.
//! - [`reporting`]: activations, their summary, invoices (SPEC §8).

pub mod base_url;
pub mod calls;
pub mod client;
pub mod error;
pub mod reporting;
pub mod request;
pub mod request_log;
pub mod retry;
pub mod sandbox;
pub mod users;
pub mod webhooks;

pub use base_url::{resolve_base_url, DEFAULT_BASE_URL, LEGACY_HOST_ENV};
pub use calls::{parse_site, requests, site_from_url};
pub use client::{Client, ClientBuilder, Credentials};
pub use error::{Error, Result};
pub use request::{ApiRequest, Body};
pub use request_log::RequestLogQuery;
pub use retry::RetryPolicy;
