//! A request described as data, so that it can be sent again on retry.

use reqwest::{Method, RequestBuilder, Url};
use serde::Serialize;

/// One API request: method, path below the base URL, query, body, and
/// whether it needs the bearer token.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) segments: Vec<String>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Body,
    pub(crate) auth: bool,
}

/// How the parameters travel.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body (what `wp jetpack partner_cancel` sends).
    None,
    /// `application/x-www-form-urlencoded` (what `partner-cancel.sh` sends
    /// for the token).
    Form(Vec<(String, String)>),
    /// `multipart/form-data` (what `partner-provision.sh` and the partner
    /// documentation's examples send).
    Multipart(Vec<(String, String)>),
    /// A JSON object (what the Jetpack plugin sends to partner-provision).
    Json(serde_json::Value),
}

impl Body {
    /// A urlencoded form of a parameter struct.
    pub fn form<T: Serialize>(params: &T) -> Body {
        Body::Form(to_pairs(params))
    }

    /// A multipart form of a parameter struct.
    pub fn multipart<T: Serialize>(params: &T) -> Body {
        Body::Multipart(to_pairs(params))
    }

    pub(crate) fn apply(&self, rb: RequestBuilder) -> RequestBuilder {
        match self {
            Body::None => rb,
            Body::Form(pairs) => rb.form(pairs),
            Body::Multipart(pairs) => {
                let form = pairs
                    .iter()
                    .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
                        f.text(k.clone(), v.clone())
                    });
                rb.multipart(form)
            }
            Body::Json(v) => rb.json(v),
        }
    }
}

impl ApiRequest {
    /// A request to `segments` joined below the base URL (each segment
    /// percent-encoded), authenticated unless [`Self::no_auth`].
    pub fn new(method: Method, segments: &[&str]) -> Self {
        ApiRequest {
            method,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: Body::None,
            auth: true,
        }
    }

    /// A REST route: `/rest/v{version}/jpphp/{segments...}`.
    pub fn jpphp(method: Method, version: &str, segments: &[&str]) -> Self {
        let v = format!("v{version}");
        let mut all = vec!["rest", v.as_str(), "jpphp"];
        all.extend_from_slice(segments);
        Self::new(method, &all)
    }

    /// Sets the body.
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: &str, value: &str) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// No `Authorization` header (the token request, the error catalogue).
    pub fn no_auth(mut self) -> Self {
        self.auth = false;
        self
    }

    pub(crate) fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(&self.segments);
        }
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        url
    }
}

/// A parameter struct as form pairs, in field order: absent fields are left
/// out, strings go as they are, anything else as its JSON text.
pub fn to_pairs<T: Serialize>(params: &T) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(params) else {
        return Vec::new();
    };
    map.into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((k, s)),
            other => Some((k, other.to_string())),
        })
        .collect()
}

/// The error code and message of a body that reports an error: a JSON
/// object with a non-empty string `error` (the rule the Jetpack scripts
/// apply). The message is `message`, else RFC 6749's `error_description`,
/// else the documented `error_message`.
pub(crate) fn api_error(body: &str) -> Option<(String, String)> {
    let trimmed = body.trim_start();
    if !trimmed.starts_with('{') {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(trimmed).ok()?;
    let code = v.get("error")?.as_str().filter(|s| !s.is_empty())?;
    let message = ["message", "error_description", "error_message"]
        .iter()
        .find_map(|k| v.get(*k).and_then(|m| m.as_str()))
        .unwrap_or_default();
    Some((code.to_string(), message.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        assert_eq!(
            api_error(
                r#"{"error":"invalid_blog","message":"The blog ID 7 is invalid","error_code":"invalid_blog","error_message":"x"}"#
            ),
            Some(("invalid_blog".into(), "The blog ID 7 is invalid".into()))
        );
        assert_eq!(
            api_error(r#"{"error":"invalid_client","error_description":"Unknown client."}"#),
            Some(("invalid_client".into(), "Unknown client.".into()))
        );
        assert_eq!(api_error(r#"{"error":"","message":"x"}"#), None);
        assert_eq!(api_error(r#"{"success":true}"#), None);
        assert_eq!(api_error(""), None);
        assert_eq!(api_error("<html>502</html>"), None);
    }

    #[test]
    fn urls_keep_the_base_prefix_and_encode_segments() {
        let base = Url::parse("https://api.example.com/prefix").unwrap();
        let req = ApiRequest::jpphp(Method::GET, "1.4", &["[::1]::a b", "status"])
            .query("partner-tracking-id", "a&b");
        assert_eq!(
            req.url(&base).as_str(),
            "https://api.example.com/prefix/rest/v1.4/jpphp/[::1]::a%20b/status?partner-tracking-id=a%26b"
        );
        let root = Url::parse("http://127.0.0.1:8080/").unwrap();
        let req = ApiRequest::new(Method::POST, &["oauth2", "token"]);
        assert_eq!(
            req.url(&root).as_str(),
            "http://127.0.0.1:8080/oauth2/token"
        );
    }
}
