//! Wire types and domain newtypes of the Jetpack Start partner API.
//!
//! This crate is the one definition of the wire format: the server answers
//! with these structs, the client decodes them, the tests compare against
//! them. It has no I/O and depends on serde only.
//!
//! Layout:
//! - [`site`]: site identifiers (`example.com::demo`), blog ids, and the
//!   reference a path segment makes to a site.
//! - [`ids`]: product slugs, client ids, access tokens and client secrets.
//! - [`params`]: request parameters as the endpoints accept them.
//! - [`wire`]: response bodies.
//! - [`truthy`]: the WP.com REST rule for boolean parameters.
//! - [`requests`]: the request log (SPEC §9).
//! - [`users`]: WordPress.com accounts, magic links, the public site lookup.
//! - [`sandbox`]: the sandbox's magic-site list, clock parameters, outbox.
//! - [`site_object`]: the reporting site object (§8).
//! - [`webhooks`]: webhook endpoints, events, deliveries, Monitor (§10).
//! - [`reporting`]: the reporting endpoints (activations, summary, invoices).
//!
//! With the `openapi` feature, every wire and parameter type also has a
//! `utoipa::ToSchema` impl, from which the server generates `/openapi.json`.

pub mod admin;
pub mod ids;
#[cfg(feature = "openapi")]
mod openapi;
pub mod params;
pub mod partner_users;
pub mod reporting;
pub mod requests;
pub mod sandbox;
pub mod site;
pub mod site_object;
pub mod truthy;
pub mod users;
pub mod webhooks;
pub mod wire;

pub use ids::{
    AccessToken, ActivationId, ClientId, ClientSecret, KeyId, PartnerId, ProductSlug, SecretString,
};
pub use site::{BlogId, SiteIdentifier, SiteRef, SiteUrl};
pub use truthy::Truthy;
pub use wire::OrderedMap;
