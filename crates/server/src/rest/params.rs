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

/// What reading parameters can answer.
pub const ERRORS: &[ErrorCode] = &[ErrorCode::InvalidBody, ErrorCode::RequestTooLarge];

impl<T> super::rejects::Rejects for Params<T> {
    const ERRORS: &'static [ErrorCode] = ERRORS;
}

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
        // Bytes, not `text()`: that one drops a leading byte-order mark
        // from the value.
        let bytes = field.bytes().await.map_err(|e| bad(e.to_string()))?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| bad(format!("field {name} is not UTF-8 text")))?;
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

    /// Runs the real extractor's collection on a request.
    fn collect_blocking(req: Request) -> Result<Map<String, Value>, ApiError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(collect(req))
    }

    fn request(content_type: Option<&str>, query: &str, body: Vec<u8>) -> Request {
        let mut b = Request::builder().method("POST").uri(format!("/x?{query}"));
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(axum::body::Body::from(body)).expect("request")
    }

    fn multipart_body(boundary: &str, fields: &BTreeMap<String, String>) -> Vec<u8> {
        let mut out = String::new();
        for (k, v) in fields {
            out += &format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            );
        }
        out += &format!("--{boundary}--\r\n");
        out.into_bytes()
    }

    use std::collections::BTreeMap;

    fn fields() -> impl Strategy<Value = BTreeMap<String, String>> {
        proptest::collection::btree_map(
            "[a-z_-]{1,10}",
            "[^\\x00-\\x1f]{0,24}|[a-z]{0,5}\r\n[a-z]{0,5}",
            0..6,
        )
    }

    /// Found by `multipart_round_trips`: a value starting with a byte-order
    /// mark lost it.
    #[test]
    fn multipart_keeps_a_leading_bom() {
        let fields = BTreeMap::from([("v".to_string(), "\u{feff}x".to_string())]);
        let req = request(
            Some("multipart/form-data; boundary=abcdefabcdef"),
            "",
            multipart_body("abcdefabcdef", &fields),
        );
        let m = collect_blocking(req).unwrap();
        assert_eq!(m.get("v"), Some(&Value::String("\u{feff}x".into())));
        let bad = multipart_body("abcdefabcdef", &BTreeMap::new());
        let mut bad_field =
            b"--abcdefabcdef\r\nContent-Disposition: form-data; name=\"v\"\r\n\r\n\xff\r\n"
                .to_vec();
        bad_field.extend(bad);
        let err = collect_blocking(request(
            Some("multipart/form-data; boundary=abcdefabcdef"),
            "",
            bad_field,
        ))
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidBody);
    }

    #[test]
    fn body_wins_over_query() {
        let req = request(
            Some("application/x-www-form-urlencoded"),
            "plan=free&x=1",
            b"plan=premium".to_vec(),
        );
        let m = collect_blocking(req).unwrap();
        assert_eq!(m.get("plan"), Some(&Value::String("premium".into())));
        assert_eq!(m.get("x"), Some(&Value::String("1".into())));
    }

    proptest! {
        /// A multipart body built from random fields reads back the same,
        /// through the extractor's own `collect`, also with the empty
        /// parameter curl leaves before the boundary.
        #[test]
        fn multipart_round_trips(
            fields in fields(),
            boundary in "[A-Za-z0-9'()+_,./:=?-]{0,30}[A-Za-z0-9]{12}",
            curl_style in any::<bool>(),
        ) {
            let ct = if curl_style {
                format!("multipart/form-data;; boundary=\"{boundary}\"")
            } else {
                format!("multipart/form-data; boundary=\"{boundary}\"")
            };
            let back = collect_blocking(request(Some(&ct), "", multipart_body(&boundary, &fields))).unwrap();
            prop_assert_eq!(back.len(), fields.len());
            for (k, v) in &fields {
                prop_assert_eq!(back.get(k), Some(&Value::String(v.clone())));
            }
        }

        /// A JSON object of strings reads back the same, with a JSON content
        /// type, a form content type, or none.
        #[test]
        fn json_round_trips(fields in fields(), ct in prop_oneof![
            Just(Some("application/json")),
            Just(Some("application/x-www-form-urlencoded")),
            Just(None),
        ]) {
            let body = serde_json::to_vec(&fields).unwrap();
            let back = collect_blocking(request(ct, "", body)).unwrap();
            prop_assert_eq!(back.len(), fields.len());
            for (k, v) in &fields {
                prop_assert_eq!(back.get(k), Some(&Value::String(v.clone())));
            }
        }

        /// Whatever the bytes and the content type, collection answers a
        /// map or a catalogued body error, never a panic.
        #[test]
        fn collect_never_panics(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            ct in prop_oneof![
                Just(None),
                Just(Some("multipart/form-data; boundary=b".to_string())),
                Just(Some("multipart/form-data".to_string())),
                Just(Some("application/json".to_string())),
                "\\PC{0,40}".prop_map(Some),
            ],
            query in "\\PC{0,40}",
        ) {
            let query = query.replace(['#', ' '], "");
            let Ok(uri) = format!("/x?{query}").parse::<axum::http::Uri>() else {
                return Ok(());
            };
            let mut b = Request::builder().method("POST").uri(uri);
            if let Some(ct) = ct.as_deref() {
                if axum::http::HeaderValue::from_str(ct).is_err() {
                    return Ok(());
                }
                b = b.header(header::CONTENT_TYPE, ct);
            }
            match collect_blocking(b.body(axum::body::Body::from(body)).unwrap()) {
                Ok(_) => {}
                Err(e) => prop_assert!(
                    matches!(e.code, ErrorCode::InvalidBody | ErrorCode::RequestTooLarge),
                    "{e:?}"
                ),
            }
        }

        /// Any bytes: no panic, and the invariants of each parser. `json`
        /// accepts exactly the JSON objects (agreement with serde_json),
        /// keeping every non-null key as a string; `urlencoded` is
        /// idempotent (its map, encoded again, reads back the same); a
        /// boundary found reads back the same when quoted.
        #[test]
        fn body_parsers_keep_their_invariants(body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            "\\{(\"[a-z]{1,3}\":(null|true|1|\"x\"|\\[\\]),?){0,4}\\}".prop_map(String::into_bytes),
            "([a-z%+]{1,4}=[a-z%+&=]{0,6}&?){0,4}".prop_map(String::into_bytes),
        ]) {
            let object = serde_json::from_slice::<Value>(&body).ok().and_then(|v| match v {
                Value::Object(o) => Some(o),
                _ => None,
            });
            match (json(&body), object) {
                (Ok(map), Some(obj)) => {
                    let keys: Vec<&String> = obj.iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k).collect();
                    prop_assert_eq!(map.keys().collect::<Vec<_>>(), keys);
                    prop_assert!(map.values().all(Value::is_string));
                }
                (Err(e), None) => prop_assert_eq!(e.code, ErrorCode::InvalidBody),
                (got, want) => prop_assert!(false, "json: {:?} for object {:?}", got, want),
            }
            let form = urlencoded(&body);
            prop_assert!(form.values().all(Value::is_string));
            let again: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default())))
                .finish();
            prop_assert_eq!(urlencoded(again.as_bytes()), form);
            if let Some(b) = boundary(&String::from_utf8_lossy(&body)) {
                let quoted = format!("multipart/form-data; boundary=\"{b}\"");
                prop_assert_eq!(boundary(&quoted), Some(b));
            }
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
