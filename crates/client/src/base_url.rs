//! Which server to talk to.

use reqwest::Url;

use crate::error::{Error, Result};

/// The real service.
pub const DEFAULT_BASE_URL: &str = "https://public-api.wordpress.com";

/// The variable the deprecated scripts and the Jetpack plugin read: a bare
/// host (`host`, `host:port`, even `host/prefix`), always spoken to over
/// HTTPS (`https://$JETPACK_START_API_HOST/...`).
pub const LEGACY_HOST_ENV: &str = "JETPACK_START_API_HOST";

/// The base URL from, in this order: an explicit URL (`--api-url` /
/// `JPSTART_API_URL`), the legacy host variable (`https://` + its value, as
/// the scripts concatenated it), or the real service. Empty values count as
/// absent, as the scripts' `[ -z "$JETPACK_START_API_HOST" ]` did.
pub fn resolve_base_url(api_url: Option<&str>, legacy_host: Option<&str>) -> Result<Url> {
    if let Some(url) = non_empty(api_url) {
        return parse_base_url(url);
    }
    if let Some(host) = non_empty(legacy_host) {
        // A scheme in the variable was never meant: the scripts would have
        // built `https://https://...`. Refuse it rather than guess.
        if host.contains("://") {
            return Err(Error::BaseUrl {
                url: host.to_string(),
                why: format!("{LEGACY_HOST_ENV} is a host name (https is implied); use --api-url for a full URL"),
            });
        }
        return parse_base_url(&format!("https://{host}"));
    }
    parse_base_url(DEFAULT_BASE_URL)
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// Parses an `http(s)://` base URL; a path (a prefix) is kept.
pub fn parse_base_url(url: &str) -> Result<Url> {
    let bad = |why: &str| Error::BaseUrl {
        url: url.to_string(),
        why: why.to_string(),
    };
    let parsed = Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("a base URL has no query or fragment"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(api: Option<&str>, legacy: Option<&str>) -> String {
        resolve_base_url(api, legacy).unwrap().to_string()
    }

    #[test]
    fn order_of_precedence() {
        assert_eq!(resolve(None, None), "https://public-api.wordpress.com/");
        assert_eq!(
            resolve(Some(""), Some("  ")),
            "https://public-api.wordpress.com/"
        );
        assert_eq!(
            resolve(None, Some("sandbox.example.com")),
            "https://sandbox.example.com/"
        );
        assert_eq!(
            resolve(None, Some("127.0.0.1:8443")),
            "https://127.0.0.1:8443/"
        );
        assert_eq!(
            resolve(None, Some("api.example.com/jpstart")),
            "https://api.example.com/jpstart"
        );
        // The explicit URL wins over the legacy variable, and keeps http.
        assert_eq!(
            resolve(Some("http://127.0.0.1:8080"), Some("sandbox.example.com")),
            "http://127.0.0.1:8080/"
        );
    }

    #[test]
    fn refused() {
        for (api, legacy) in [
            (Some("ftp://example.com"), None),
            (Some("example.com"), None),
            (Some("https://example.com/?x=1"), None),
            (None, Some("https://sandbox.example.com")),
            (None, Some("bad host")),
        ] {
            assert!(
                resolve_base_url(api, legacy).is_err(),
                "{api:?} {legacy:?} should be refused"
            );
        }
    }
}
