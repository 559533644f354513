//! The outer middleware that makes every endpoint behave like the WP.com
//! REST framework (see `class.json-api.php` in the Jetpack plugin).

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jpstart_types::truthy::is_truthy;
use serde_json::Value;

use super::routes::ApiVersion;
use crate::domain::{ApiError, ErrorCode};

/// Responses are small; this bounds what the post-processing buffers.
const MAX_RESPONSE: usize = 8 * 1024 * 1024;

/// The query parameters that change how a response is written.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OutputFlags {
    pub envelope: bool,
    pub pretty: bool,
    pub fields: Option<Vec<String>>,
}

impl OutputFlags {
    pub fn from_query(query: Option<&str>) -> Self {
        let mut flags = OutputFlags::default();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*k {
                "http_envelope" => flags.envelope = is_truthy(&v),
                "pretty" => flags.pretty = is_truthy(&v),
                "fields" => {
                    let list: Vec<String> = v
                        .split(',')
                        .map(str::trim)
                        .filter(|f| !f.is_empty())
                        .map(String::from)
                        .collect();
                    flags.fields = (!list.is_empty()).then_some(list);
                }
                _ => {}
            }
        }
        flags
    }

    fn any(&self) -> bool {
        self.envelope || self.pretty || self.fields.is_some()
    }
}

/// See the module docs; applied around the whole router.
pub async fn conventions(mut req: Request, next: Next) -> Response {
    // The real service answers OPTIONS before routing, for any path.
    if req.method() == Method::OPTIONS {
        return (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], "").into_response();
    }
    let flags = OutputFlags::from_query(req.uri().query());
    if let Some((uri, version)) = rewrite(req.uri()) {
        *req.uri_mut() = uri;
        if let Some(v) = version {
            req.extensions_mut().insert(v);
        }
    }
    let mut res = next.run(req).await;
    let status = res.status();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        // axum set the Allow header; the body is the catalogue's error.
        let allow = res
            .headers()
            .get(header::ALLOW)
            .and_then(|v| without_head(v.to_str().ok()?));
        res = ApiError::new(ErrorCode::NotAllowed).into_response();
        if let Some(allow) = allow {
            res.headers_mut().insert(header::ALLOW, allow);
        }
    }
    if status == StatusCode::NOT_FOUND {
        // A version-gated route answers 404 from inside axum's method router,
        // which still adds its Allow header.
        res.headers_mut().remove(header::ALLOW);
    }
    if status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND {
        res.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    if flags.any() && is_json(&res) {
        res = rewrite_body(res, &flags).await;
    }
    res
}

/// axum's Allow value without the HEAD it adds to every GET route: upstream
/// lists only the methods an endpoint documents (GET, POST).
fn without_head(allow: &str) -> Option<HeaderValue> {
    let methods: Vec<&str> = allow
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty() && !m.eq_ignore_ascii_case("HEAD"))
        .collect();
    HeaderValue::from_str(&methods.join(",")).ok()
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Drops a trailing slash and turns `/rest/v1.3/x` into `/rest/x` plus the
/// version; `None` when nothing changes.
fn rewrite(uri: &Uri) -> Option<(Uri, Option<ApiVersion>)> {
    let path = uri.path();
    let trimmed = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let (new_path, version) = match trimmed.strip_prefix("/rest/v") {
        Some(rest) => {
            let (ver, tail) = rest.split_once('/').unwrap_or((rest, ""));
            match ApiVersion::parse(ver) {
                Some(v) => (format!("/rest/{tail}"), Some(v)),
                None => (trimmed.to_string(), None),
            }
        }
        None => (trimmed.to_string(), None),
    };
    if new_path == path {
        return None;
    }
    let pq = match uri.query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = pq.parse().ok();
    Uri::from_parts(parts).ok().map(|u| (u, version))
}

async fn rewrite_body(res: Response, flags: &OutputFlags) -> Response {
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_RESPONSE).await else {
        return ApiError::new(ErrorCode::InternalError).into_response();
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let status = parts.status;
    if let (Some(fields), Value::Object(map)) = (&flags.fields, &mut value) {
        // Not applied to errors, as upstream.
        let is_error = map
            .get("error")
            .is_some_and(|e| e.as_str().is_some_and(|s| !s.is_empty()));
        if !is_error {
            map.retain(|k, _| fields.iter().any(|f| f == k));
        }
    }
    if flags.envelope {
        value = serde_json::json!({
            "code": status.as_u16(),
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            "body": value,
        });
        parts.status = StatusCode::OK;
    }
    let text = if flags.pretty {
        to_pretty(&value)
    } else {
        value.to_string()
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

/// Four-space indentation, like PHP's `JSON_PRETTY_PRINT`.
fn to_pretty(value: &Value) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    if value.serialize(&mut ser).is_err() {
        return value.to_string();
    }
    String::from_utf8(out).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let f = OutputFlags::from_query(Some("http_envelope=1&pretty=TRUE&fields=a,%20b,"));
        assert_eq!(
            f,
            OutputFlags {
                envelope: true,
                pretty: true,
                fields: Some(vec!["a".into(), "b".into()])
            }
        );
        assert_eq!(
            OutputFlags::from_query(Some("http_envelope=yes&pretty=0")),
            OutputFlags::default()
        );
    }

    #[test]
    fn rewrites() {
        let r = |s: &str| rewrite(&s.parse().unwrap()).map(|(u, v)| (u.to_string(), v));
        assert_eq!(
            r("/rest/v1.3/jpphp/provision/?pretty=1"),
            Some((
                "/rest/jpphp/provision?pretty=1".into(),
                ApiVersion::parse("1.3")
            ))
        );
        assert_eq!(r("/oauth2/token/"), Some(("/oauth2/token".into(), None)));
        assert_eq!(r("/oauth2/token"), None);
        assert_eq!(r("/rest/vx/jpphp/provision"), None);
    }

    proptest::proptest! {
        /// Any query: agreement with a model in which the last occurrence
        /// of each flag wins and `fields` keeps its non-empty names.
        #[test]
        fn flags_agree_with_a_model(q in proptest::prop_oneof![
            "\\PC{0,60}",
            "((http_envelope|pretty|fields|other)=(1|0|t|true|TRUE|no|a,%20b|,|)&?){0,5}",
        ]) {
            let mut want = OutputFlags::default();
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                let truthy = matches!(v.to_ascii_lowercase().as_str(), "1" | "t" | "true");
                match &*k {
                    "http_envelope" => want.envelope = truthy,
                    "pretty" => want.pretty = truthy,
                    "fields" => {
                        let names: Vec<String> = v
                            .split(',')
                            .filter_map(|f| Some(f.trim()).filter(|f| !f.is_empty()))
                            .map(str::to_string)
                            .collect();
                        want.fields = (!names.is_empty()).then_some(names);
                    }
                    _ => {}
                }
            }
            proptest::prop_assert_eq!(OutputFlags::from_query(Some(&q)), want);
        }

        /// Flags written as a query string read back as written.
        #[test]
        fn flags_round_trip(
            envelope in proptest::prelude::any::<bool>(),
            pretty in proptest::prelude::any::<bool>(),
            fields in proptest::collection::vec("[a-z_]{1,8}", 0..4),
        ) {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("http_envelope", if envelope { "true" } else { "0" });
            q.append_pair("pretty", if pretty { "1" } else { "no" });
            q.append_pair("fields", &fields.join(","));
            let want = OutputFlags {
                envelope,
                pretty,
                fields: (!fields.is_empty()).then(|| fields.clone()),
            };
            proptest::prop_assert_eq!(OutputFlags::from_query(Some(&q.finish())), want);
        }

        /// Any path either passes through or is rewritten to a valid URI
        /// without its version, never a panic; a rewrite without a version
        /// only drops trailing slashes, and keeps the query.
        #[test]
        fn rewrite_never_panics(path in "/[a-z0-9./v_-]{0,40}", query in "(\\?[a-z=&]{0,8})?") {
            if let Ok(uri) = format!("{path}{query}").parse::<Uri>() {
                if let Some((out, version)) = rewrite(&uri) {
                    proptest::prop_assert!(!out.path().contains("/v1."), "{out}");
                    proptest::prop_assert_eq!(out.query(), uri.query());
                    if version.is_none() {
                        let trimmed = uri.path().trim_end_matches('/');
                        let want = if trimmed.is_empty() { "/" } else { trimmed };
                        proptest::prop_assert_eq!(out.path(), want);
                    }
                }
            }
        }

        /// `/rest/v{M}.{m}/tail` loses its version once: the result is
        /// `/rest/tail` with that version, and rewriting it again changes
        /// nothing (idempotence).
        #[test]
        fn rewrite_drops_the_version_once(
            major in 0u32..10_000,
            minor in 0u32..10_000,
            tail in "[a-uw-z0-9_][a-z0-9_-]{0,7}(/[a-z0-9_-]{1,8}){0,3}",
            slashes in "/{0,2}",
            query in "(\\?[a-z=&]{0,8})?",
        ) {
            let uri: Uri = format!("/rest/v{major}.{minor}/{tail}{slashes}{query}").parse().unwrap();
            let (out, version) = rewrite(&uri).unwrap();
            proptest::prop_assert_eq!(out.path(), format!("/rest/{tail}"));
            proptest::prop_assert_eq!(out.query(), uri.query());
            proptest::prop_assert_eq!(version, Some(ApiVersion(major, minor)));
            proptest::prop_assert!(rewrite(&out).is_none(), "{out}");
        }
    }
}
