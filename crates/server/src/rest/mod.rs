//! The WP.com REST conventions (SPEC §2), in one place.
//!
//! - [`conventions`]: the outer middleware: OPTIONS, trailing slash, the
//!   `/rest/v{version}` prefix, 405 bodies, CORS on 400/404, and the
//!   `http_envelope` / `pretty` / `fields` query parameters.
//! - [`deadline`]: the request deadline (408).
//! - [`routes`]: how an endpoint is declared once ([`Endpoint`]): path,
//!   versions, help, OpenAPI operations, errors.
//! - [`rejects`]: what each extractor and layer can answer, from which an
//!   endpoint's error list is derived.
//! - [`params`]: parameters from query string and any of the four body formats.
//! - [`site`]: the site or blog id of a path, parsed at the edge.
//! - [`response`]: errors as the documented error body.

pub mod conventions;
pub mod deadline;
pub mod params;
pub mod rejects;
pub mod response;
pub mod routes;
pub mod site;

pub use params::Params;
pub(crate) use routes::operation;
pub use routes::{ApiVersion, Endpoint, Help, Rest};
pub use site::{BlogIdPath, SitePath};
