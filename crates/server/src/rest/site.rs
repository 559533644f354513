//! Sites in a path, parsed at the edge: `{site_or_blog_id}` into a
//! [`SiteRef`] ([`SitePath`]) and `{blog_id}` into a [`BlogId`]
//! ([`BlogIdPath`]). Handlers receive the parsed value, and the rejections
//! are catalogued errors, never axum's plain-text ones.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use jpstart_types::site::SiteRefError;
use jpstart_types::{BlogId, SiteRef};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::Required;
use utoipa::IntoParams;

use super::rejects::Rejects;
use crate::domain::{ApiError, ErrorCode};

/// A `{site_or_blog_id}` segment: a blog id (digits) or a site identifier.
pub struct SitePath {
    pub site: SiteRef,
    /// As sent (percent-decoded): error messages quote it.
    pub segment: String,
}

/// A `{blog_id}` segment: digits only.
pub struct BlogIdPath {
    pub id: BlogId,
    /// As sent (percent-decoded): error messages quote it.
    pub segment: String,
}

impl SitePath {
    pub fn parse(segment: String) -> Result<Self, ApiError> {
        let site = SiteRef::parse(&segment).map_err(|e| match e {
            SiteRefError::InvalidBlogId(id) => ApiError::with_arg(ErrorCode::InvalidBlog, id),
            SiteRefError::Site(_) => ApiError::with_arg(ErrorCode::InvalidSite, &segment),
        })?;
        Ok(SitePath { site, segment })
    }
}

impl BlogIdPath {
    pub fn parse(segment: String) -> Result<Self, ApiError> {
        let id = BlogId::parse(&segment)
            .map_err(|_| ApiError::with_arg(ErrorCode::InvalidBlog, &segment))?;
        Ok(BlogIdPath { id, segment })
    }
}

/// The path's one parameter, percent-decoded. A segment that does not
/// decode to UTF-8 cannot name a site, so it is `invalid_site`.
async fn segment<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<String, ApiError> {
    match Path::<String>::from_request_parts(parts, state).await {
        Ok(Path(segment)) => Ok(segment),
        Err(_) => Err(ApiError::with_arg(
            ErrorCode::InvalidSite,
            "The site in the path",
        )),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SitePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        SitePath::parse(segment(parts, state).await?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BlogIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        BlogIdPath::parse(segment(parts, state).await?)
    }
}

impl Rejects for SitePath {
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::InvalidSite, ErrorCode::InvalidBlog];
}

impl Rejects for BlogIdPath {
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::InvalidSite, ErrorCode::InvalidBlog];
}

/// The path parameter as OpenAPI documents it (`params(SitePath)`).
impl IntoParams for SitePath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![path_parameter(
            "site_or_blog_id",
            "The blog id (digits) or the site identifier (`example.com::demo`).",
            "fuzz.example.com",
        )]
    }
}

/// The path parameter as OpenAPI documents it (`params(BlogIdPath)`).
impl IntoParams for BlogIdPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![path_parameter(
            "blog_id",
            "The blog id (digits) of a site jpstart registered.",
            "1",
        )]
    }
}

fn path_parameter(name: &str, description: &str, example: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .description(Some(description))
        .required(Required::True)
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .example(Some(example.into()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T>(r: Result<T, ApiError>) -> Option<(ErrorCode, String)> {
        r.err().map(|e| (e.code, e.message))
    }

    #[test]
    fn site_segments() {
        assert!(matches!(
            SitePath::parse("42".into()).map(|p| p.site),
            Ok(SiteRef::BlogId(_))
        ));
        assert!(matches!(
            SitePath::parse("example.com::demo".into()).map(|p| p.site),
            Ok(SiteRef::Identifier(_))
        ));
        assert_eq!(
            code(SitePath::parse("0".into())),
            Some((ErrorCode::InvalidBlog, "The blog ID 0 is invalid".into()))
        );
        assert_eq!(
            code(SitePath::parse("bad host".into())),
            Some((
                ErrorCode::InvalidSite,
                "bad host is not a valid site identifier".into()
            ))
        );
    }

    #[test]
    fn blog_id_segments() {
        assert_eq!(
            BlogIdPath::parse("7".into()).map(|p| p.id.get()).ok(),
            Some(7)
        );
        for bad in ["0", "x", "example.com", ""] {
            assert_eq!(
                code(BlogIdPath::parse(bad.into())).map(|(c, _)| c),
                Some(ErrorCode::InvalidBlog),
                "{bad}"
            );
        }
    }

    proptest::proptest! {
        /// Whatever the segment, the answer is a parsed site or one of the
        /// two catalogued rejections, and the segment is kept as sent.
        #[test]
        fn any_segment_parses_or_is_refused(s in "\\PC{0,40}") {
            match SitePath::parse(s.clone()) {
                Ok(p) => proptest::prop_assert_eq!(&p.segment, &s),
                Err(e) => proptest::prop_assert!(SitePath::ERRORS.contains(&e.code)),
            }
            if let Err(e) = BlogIdPath::parse(s) {
                proptest::prop_assert_eq!(e.code, ErrorCode::InvalidBlog);
            }
        }
    }
}
