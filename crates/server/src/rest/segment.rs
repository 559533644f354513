//! The site segment of a path (`/jpphp/{site_or_blog_id}/...`).

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::domain::{ApiError, ErrorCode};

/// The one path parameter of a site-addressed endpoint, percent-decoded.
/// A segment that does not decode to UTF-8 cannot name a site, so it is
/// answered `invalid_site` in the error body, rather than with axum's
/// plain-text rejection (which is no catalogue code).
pub struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(segment)) => Ok(Segment(segment)),
            Err(_) => Err(ApiError::with_arg(
                ErrorCode::InvalidSite,
                "The site in the path",
            )),
        }
    }
}
