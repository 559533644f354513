//! Request parameters from the query string and the body.
//!
//! Bodies may be `application/x-www-form-urlencoded`, `multipart/form-data`
//! or a JSON object, and a body with no content type that starts with `{` is
//! JSON (the Jetpack plugin sends its JSON that way). As in the WP.com
//! framework, a form-typed body that is a JSON object is read as JSON. Body
//! parameters win over query parameters. Every value becomes a string
//! (JSON numbers and booleans as their text), so that the typed parameter
//! structs of `jpstart_types::params` see one shape whatever the format.

use axum::body::{to_bytes, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::domain::{ApiError, ErrorCode};

/// The largest body any endpoint accepts.
pub const MAX_BODY: usize = 64 * 1024;

/// Typed parameters of an endpoint; see the module docs.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let map = collect(req).await?;
        serde_json::from_value(Value::Object(map))
            .map(Params)
            .map_err(|e| ApiError::with_arg(ErrorCode::InvalidBody, e))
    }
}

/// All parameters of a request as one object of strings.
pub async fn collect(req: Request) -> Result<Map<String, Value>, ApiError> {
    let (parts, body) = req.into_parts();
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        map.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|e| {
        if is_length_limit(&e) {
            ApiError::with_arg(ErrorCode::RequestTooLarge, MAX_BODY)
        } else {
            ApiError::with_arg(ErrorCode::InvalidBody, "the body could not be read")
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(map);
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let looks_json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let body = match mime.as_str() {
        "multipart/form-data" => multipart(&content_type, bytes).await?,
        m if m.contains("json") || m.contains("javascript") => json(&bytes)?,
        // A JSON object under a form type or none: JSON first, as upstream.
        _ if looks_json => match json(&bytes) {
            Ok(map) => map,
            Err(e) if mime.is_empty() => return Err(e),
            Err(_) => urlencoded(&bytes),
        },
        _ => urlencoded(&bytes),
    };
    map.extend(body);
    Ok(map)
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.to_string().contains("length limit exceeded") {
            return true;
        }
        source = err.source();
    }
    false
}

fn urlencoded(bytes: &[u8]) -> Map<String, Value> {
    form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

fn json(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::with_arg(ErrorCode::InvalidBody, format!("invalid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(ApiError::with_arg(
            ErrorCode::InvalidBody,
            "the JSON body is not an object",
        ));
    };
    Ok(obj
        .into_iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::Null => return None,
                Value::String(s) => s,
                Value::Bool(b) => if b { "true" } else { "false" }.to_string(),
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            Some((k, Value::String(text)))
        })
        .collect())
}

/// The boundary of a multipart content type, tolerating what curl makes of
/// `--header 'content-type: multipart/form-data;'` (an empty parameter
/// before the boundary), which the upstream docs' examples send.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').map(str::trim).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

async fn multipart(content_type: &str, bytes: Bytes) -> Result<Map<String, Value>, ApiError> {
    let bad = |why: String| {
        ApiError::with_arg(
            ErrorCode::InvalidBody,
            format!("malformed multipart body: {why}"),
        )
    };
    let boundary = boundary(content_type).ok_or_else(|| bad("no boundary".into()))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(bytes) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut map = Map::new();
    while let Some(field) = mp.next_field().await.map_err(|e| bad(e.to_string()))? {
        let Some(name) = field.name().map(str::to_string) else {
            continue;
        };
        let text = field.text().await.map_err(|e| bad(e.to_string()))?;
        map.insert(name, Value::String(text));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary("multipart/form-data;; boundary=\"x y\"").as_deref(),
            Some("x y")
        );
        assert_eq!(boundary("multipart/form-data;"), None);
    }

    #[test]
    fn json_scalars_become_text() {
        let m = json(br#"{"a":1,"b":true,"c":"x","d":null,"e":[1]}"#).unwrap();
        assert_eq!(m.get("a"), Some(&Value::String("1".into())));
        assert_eq!(m.get("b"), Some(&Value::String("true".into())));
        assert_eq!(m.get("d"), None);
        assert_eq!(m.get("e"), Some(&Value::String("[1]".into())));
        assert!(json(b"[1,2]").is_err());
        assert!(json(b"{").is_err());
    }

    proptest! {
        #[test]
        fn body_parsers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = json(&body);
            let _ = urlencoded(&body);
            let _ = boundary(&String::from_utf8_lossy(&body));
        }

        #[test]
        fn urlencoded_round_trips(pairs in proptest::collection::btree_map("[a-z_]{1,8}", "\\PC{0,12}", 0..6)) {
            let encoded: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
            let back = urlencoded(encoded.as_bytes());
            prop_assert_eq!(back.len(), pairs.len());
            for (k, v) in &pairs {
                prop_assert_eq!(back.get(k), Some(&Value::String(v.clone())));
            }
        }
    }
}
