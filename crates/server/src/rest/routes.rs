//! Endpoint declarations: path, version range, and the help document.
//!
//! Endpoints are written without the version (`/rest/jpphp/provision`); the
//! conventions middleware strips `v{version}` from the request path and
//! records it as an [`ApiVersion`], and [`versioned`] answers 404 when the
//! version is outside the endpoint's range, as the real router does.

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use serde::Serialize;

use crate::domain::ErrorCode;

/// An API version such as `1.3` (`1` is `1.0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl ApiVersion {
    pub const V1_2: ApiVersion = ApiVersion(1, 2);
    pub const V1_3: ApiVersion = ApiVersion(1, 3);
    pub const V1_4: ApiVersion = ApiVersion(1, 4);

    pub fn parse(s: &str) -> Option<Self> {
        let (major, minor) = s.split_once('.').unwrap_or((s, "0"));
        let digits =
            |t: &str| !t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !digits(minor) {
            return None;
        }
        Some(ApiVersion(major.parse().ok()?, minor.parse().ok()?))
    }
}

/// The `GET .../help` document of an endpoint.
#[derive(Debug, Serialize)]
pub struct EndpointDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub description: &'static str,
    /// Versions the endpoint answers, e.g. `1.3+`.
    pub versions: &'static str,
    pub authentication: &'static str,
    pub parameters: &'static [(&'static str, &'static str)],
    pub response: &'static [(&'static str, &'static str)],
    #[serde(serialize_with = "codes")]
    pub errors: &'static [ErrorCode],
}

fn codes<S: serde::Serializer>(codes: &&'static [ErrorCode], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(codes.iter().map(
        |c| serde_json::json!({"code": c.code(), "status": c.status(), "message": c.template()}),
    ))
}

/// Adds an endpoint at `/rest{path}` (and its `/help`) answering versions
/// `min..=max` (no `max`: open-ended, as upstream's "1.3 and up").
pub fn versioned<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    path: &str,
    min: ApiVersion,
    max: Option<ApiVersion>,
    doc: &'static EndpointDoc,
    methods: MethodRouter<S>,
) -> Router<S> {
    let gate = middleware::from_fn(move |req: Request, next: Next| gate(min, max, req, next));
    let help = get(move || async move { Json(doc) });
    router
        .route(&format!("/rest{path}"), methods.layer(gate.clone()))
        .route(&format!("/rest{path}/help"), help.layer(gate))
}

async fn gate(min: ApiVersion, max: Option<ApiVersion>, req: Request, next: Next) -> Response {
    let ok = req
        .extensions()
        .get::<ApiVersion>()
        .is_some_and(|v| *v >= min && max.is_none_or(|m| *v <= m));
    if ok {
        next.run(req).await
    } else {
        not_found()
    }
}

/// The unknown-route answer: 404 with an empty `text/plain` body.
pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(ApiVersion::parse("1.3"), Some(ApiVersion(1, 3)));
        assert_eq!(ApiVersion::parse("1"), Some(ApiVersion(1, 0)));
        assert!(ApiVersion::parse("1.10") > ApiVersion::parse("1.4"));
        for bad in ["", "x", "1.", ".3", "1.3.1", "99999.1"] {
            assert_eq!(ApiVersion::parse(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        /// Any text: agreement with a model of the rule (`MAJOR` or
        /// `MAJOR.MINOR`, 1 to 4 digits each, a missing minor is 0), and a
        /// parsed version prints as text that parses back to it.
        #[test]
        fn version_parse_agrees_with_a_model(s in proptest::prop_oneof![
            "\\PC{0,12}",
            "[0-9.]{0,11}",
        ]) {
            let number = |t: &str| {
                (!t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| t.parse::<u32>().ok())
                    .flatten()
            };
            let parts: Vec<&str> = s.split('.').collect();
            let model = match parts.as_slice() {
                [major] => number(major).map(|m| ApiVersion(m, 0)),
                [major, minor] => number(major).zip(number(minor)).map(|(a, b)| ApiVersion(a, b)),
                _ => None,
            };
            let parsed = ApiVersion::parse(&s);
            proptest::prop_assert_eq!(parsed, model);
            if let Some(v) = parsed {
                proptest::prop_assert_eq!(ApiVersion::parse(&format!("{}.{}", v.0, v.1)), Some(v));
            }
        }

        #[test]
        fn version_round_trips(major in 0u32..10_000, minor in 0u32..10_000) {
            proptest::prop_assert_eq!(
                ApiVersion::parse(&format!("{major}.{minor}")),
                Some(ApiVersion(major, minor))
            );
        }
    }
}
