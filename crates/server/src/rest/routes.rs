//! Endpoint declarations ([`Endpoint`]): one per endpoint, from which its
//! route, its version range, its `/help` and its OpenAPI operations come.
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
use std::sync::Arc;

use axum::body::Bytes;
use axum::Router;
use serde::Serialize;
use utoipa::openapi::OpenApi;

use super::rejects::{ErrorSet, EVERYWHERE};
use crate::domain::{ApiError, ErrorCode};

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

/// One endpoint, declared once: its OpenAPI operations (each from the
/// handler's own `#[utoipa::path]`; see [`operation!`]), the methods it
/// answers, and, under `/rest`, its versions, help and errors. The route,
/// `/help` and the OpenAPI document are all built from this.
pub struct Endpoint<S> {
    /// One-operation documents; the first one's path is where the endpoint
    /// is routed (without the version) and what its help shows.
    pub operations: Vec<fn() -> OpenApi>,
    pub methods: fn(&S) -> MethodRouter<S>,
    /// `None`: outside `/rest` (token, browser page, operator probes).
    pub rest: Option<Rest>,
}

/// The `/rest` side of an [`Endpoint`].
pub struct Rest {
    pub min: ApiVersion,
    /// No `max`: open-ended, as upstream's "1.3 and up".
    pub max: Option<ApiVersion>,
    pub help: Help,
    /// The handler's errors: [`super::rejects::errors_of`] its signature,
    /// with its own parsing and unit of work ([`Endpoint::errors`] adds
    /// what every route answers).
    pub errors: ErrorSet,
}

/// The prose of an endpoint's `GET .../help`.
#[derive(Clone, Copy)]
pub struct Help {
    pub description: &'static str,
    /// Versions the endpoint answers, e.g. `1.3+`.
    pub versions: &'static str,
    pub authentication: &'static str,
    pub parameters: &'static [(&'static str, &'static str)],
    pub response: &'static [(&'static str, &'static str)],
}

/// The one-operation OpenAPI document of a handler in scope that carries
/// `#[utoipa::path]`, for [`Endpoint::operations`].
macro_rules! operation {
    ($handler:ident) => {{
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($handler))]
        struct Operation;
        <Operation as utoipa::OpenApi>::openapi as fn() -> utoipa::openapi::OpenApi
    }};
}
pub(crate) use operation;

impl<S> Endpoint<S> {
    /// An endpoint outside `/rest` with one operation.
    pub fn plain(operation: fn() -> OpenApi, methods: fn(&S) -> MethodRouter<S>) -> Self {
        Endpoint {
            operations: vec![operation],
            methods,
            rest: None,
        }
    }

    /// The documented path and method of the first operation, e.g.
    /// `/rest/v1.3/jpphp/provision` and `POST`.
    pub fn documented(&self) -> (String, &'static str) {
        let doc = self.operations.first().map(|op| op()).unwrap_or_default();
        let Some((path, item)) = doc.paths.paths.into_iter().next() else {
            return (String::new(), "GET");
        };
        let method = if item.get.is_none() && item.post.is_some() {
            "POST"
        } else {
            "GET"
        };
        (path, method)
    }

    /// Where the router mounts it: `/rest/v1.3/x` is routed as `/rest/x`.
    pub fn route_path(&self) -> String {
        let (path, _) = self.documented();
        match self.rest {
            Some(_) => unversioned(&path).unwrap_or(path),
            None => path,
        }
    }

    /// Every code the endpoint can answer: its handler's and what every
    /// route answers. `None` outside `/rest`.
    pub fn errors(&self) -> Option<ErrorSet> {
        self.rest.as_ref().map(|r| r.errors.union(EVERYWHERE))
    }

    /// The `GET .../help` document.
    pub fn help(&self) -> Option<HelpDoc> {
        let h = &self.rest.as_ref()?.help;
        let errors = self.errors()?.codes().collect();
        let (path, method) = self.documented();
        Some(HelpDoc {
            method,
            path,
            description: h.description,
            versions: h.versions,
            authentication: h.authentication,
            parameters: h.parameters,
            response: h.response,
            errors,
        })
    }
}

/// `/rest/v1.3/jpphp/x` → `/rest/jpphp/x`: how the router writes a path.
pub fn unversioned(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/rest/v")?;
    let (_, tail) = rest.split_once('/')?;
    Some(format!("/rest/{tail}"))
}

/// The `GET .../help` document of an endpoint, as served.
#[derive(Debug, Serialize)]
pub struct HelpDoc {
    pub method: &'static str,
    pub path: String,
    pub description: &'static str,
    pub versions: &'static str,
    pub authentication: &'static str,
    pub parameters: &'static [(&'static str, &'static str)],
    pub response: &'static [(&'static str, &'static str)],
    #[serde(serialize_with = "codes")]
    pub errors: Vec<ErrorCode>,
}

fn codes<S: serde::Serializer>(codes: &[ErrorCode], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(codes.iter().map(
        |c| serde_json::json!({"code": c.code(), "status": c.status(), "message": c.template()}),
    ))
}

/// Adds `endpoint` to `router`: under `/rest` through [`versioned`], with
/// its help; elsewhere at its path as it is.
pub fn register<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    endpoint: &Endpoint<S>,
    state: &S,
) -> Router<S> {
    let methods = (endpoint.methods)(state);
    let path = endpoint.route_path();
    match (&endpoint.rest, endpoint.help(), endpoint.errors()) {
        (Some(rest), Some(help), Some(errors)) => {
            let help = serde_json::to_string(&help).unwrap_or_default();
            versioned(router, &path, rest.min, rest.max, help, errors, methods)
        }
        _ => router.route(&path, methods),
    }
}

/// Adds an endpoint at `{path}` (unversioned, under `/rest`) and its
/// `/help` answering versions `min..=max`. Answers from the endpoint go
/// through [`guard`], which holds them to `errors`.
pub fn versioned<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    path: &str,
    min: ApiVersion,
    max: Option<ApiVersion>,
    help: String,
    errors: ErrorSet,
    methods: MethodRouter<S>,
) -> Router<S> {
    let gate = middleware::from_fn(move |req: Request, next: Next| gate(min, max, req, next));
    let name: Arc<str> = path.into();
    let guard =
        middleware::from_fn(move |req: Request, next: Next| guard(name.clone(), errors, req, next));
    let help = Bytes::from(help);
    let help = get(move || {
        let help = help.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], help) }
    });
    router
        .route(path, methods.layer(guard).layer(gate.clone()))
        .route(&format!("{path}/help"), help.layer(gate))
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

/// An error code the endpoint does not declare is a bug in the declaration
/// (its `/help` and OpenAPI list would be wrong): logged always, and in a
/// debug build (the test suite's) answered as a 500, so that any test that
/// meets one fails. A sandbox answer (a magic site's, marked by
/// [`crate::sandbox::intercept`]) is deliberate and passes.
async fn guard(endpoint: Arc<str>, errors: ErrorSet, req: Request, next: Next) -> Response {
    let (res, magic) = crate::sandbox::answers(next.run(req)).await;
    match res.extensions().get::<ErrorCode>() {
        Some(code) if !errors.contains(*code) && magic != Some(*code) => {
            tracing::error!(endpoint = %endpoint, code = %code, "an error code the endpoint does not declare");
            if cfg!(debug_assertions) {
                return ApiError::new(ErrorCode::InternalError).into_response();
            }
            res
        }
        _ => res,
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
    use tower::ServiceExt;

    /// A handler answering a code its declaration lacks is caught: in this
    /// (debug) build, as a 500 the test suite cannot miss.
    #[tokio::test]
    async fn an_undeclared_code_is_caught() {
        let methods = get(|| async { ApiError::new(ErrorCode::Forbidden) });
        let declared = ErrorSet::of(&[ErrorCode::InvalidBlog]);
        let app: Router = versioned(
            Router::new(),
            "/rest/x",
            ApiVersion::V1_3,
            None,
            "{}".into(),
            declared,
            methods,
        );
        let answer = |declared: bool| {
            let app = app.clone();
            async move {
                let path = if declared { "/rest/x/help" } else { "/rest/x" };
                let mut req = Request::builder()
                    .uri(path)
                    .body(axum::body::Body::empty())
                    .unwrap();
                req.extensions_mut().insert(ApiVersion::V1_3);
                app.oneshot(req).await.unwrap()
            }
        };
        let res = answer(false).await;
        assert_eq!(res.status(), 500);
        assert_eq!(
            res.extensions().get::<ErrorCode>(),
            Some(&ErrorCode::InternalError)
        );
        assert_eq!(answer(true).await.status(), 200);
    }

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
