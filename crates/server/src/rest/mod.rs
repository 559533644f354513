//! The WP.com REST conventions (SPEC §2), in one place.
//!
//! - [`conventions`]: the outer middleware: OPTIONS, trailing slash, the
//!   `/rest/v{version}` prefix, 405 bodies, CORS on 400/404, and the
//!   `http_envelope` / `pretty` / `fields` query parameters.
//! - [`routes`]: how an endpoint declares its path, versions and help.
//! - [`params`]: parameters from query string and any of the four body formats.
//! - [`response`]: errors as the documented error body.
//! - [`segment`]: the site segment of a path.

pub mod conventions;
pub mod params;
pub mod response;
pub mod routes;
pub mod segment;

pub use params::Params;
pub use routes::{ApiVersion, EndpointDoc};
pub use segment::Segment;
