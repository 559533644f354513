//! The domain: product catalogue, provisioning and cancellation rules, and the
//! error catalogue. No I/O here; the store and the HTTP layer call into it.

pub mod catalogue;
pub mod credentials;
pub mod errors;
pub mod rules;
pub mod users;

pub use catalogue::Catalogue;
pub use errors::{ApiError, ErrorCode};
