//! How the API names a site.
//!
//! A site is addressed in paths by its blog id (all digits) or by its
//! identifier: the URL without scheme, query, fragment and trailing slash, with
//! every `/` replaced by `::` and the host lower-cased (hosts compare
//! case-insensitively, paths do not). Because a blog id is all digits, an
//! identifier never is: a bare numeric host is refused.
//!
//! A site URL is `http` or `https` (or has no scheme, read as `https`): any
//! other scheme is refused, so that no `javascript:` URL is ever stored or
//! handed back as a link (SPEC §11). [`SiteUrl`] is the URL as stored:
//! without query and fragment.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a site URL or identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    #[error("the site URL is empty")]
    Empty,
    #[error("the site URL has no host")]
    NoHost,
    #[error("the site URL's host {0:?} is not a host name")]
    BadHost(String),
    #[error("the site URL's scheme {0:?} is not http or https")]
    BadScheme(String),
    #[error(
        "the site URL contains white space, control characters or characters not allowed in a URL"
    )]
    BadCharacter,
    #[error("the site URL is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("{0:?} is not a blog id")]
    BadBlogId(String),
}

const MAX_LEN: usize = 2048;

/// A site's identifier, e.g. `example.com::demo::wp`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SiteIdentifier(String);

impl SiteIdentifier {
    /// Parses a site URL as partners send it in `siteurl`:
    /// `https://Example.com/demo/` → `example.com::demo`.
    pub fn from_url(url: &str) -> Result<Self, SiteError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(SiteError::Empty);
        }
        if url.len() > MAX_LEN {
            return Err(SiteError::TooLong);
        }
        let rest = strip_scheme(url)?;
        // Query and fragment are not part of a site's address.
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        let rest = rest.trim_end_matches('/');
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let host = parse_host(host)?;
        check_chars(path)?;
        Ok(SiteIdentifier(format!("{host}{}", path.replace('/', "::"))))
    }

    /// Parses an identifier as it appears in a path (`example.com::demo`).
    /// A string with a `/` is taken as a URL instead, so that clients that
    /// send the URL itself (percent-encoded) reach the same site.
    pub fn parse(ident: &str) -> Result<Self, SiteError> {
        if ident.contains('/') {
            return Self::from_url(ident);
        }
        if ident.is_empty() {
            return Err(SiteError::Empty);
        }
        if ident.len() > MAX_LEN {
            return Err(SiteError::TooLong);
        }
        let (host, path) = split_host(ident);
        let host = parse_host(host)?;
        check_chars(path)?;
        Ok(SiteIdentifier(format!("{host}{path}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host part (before the first `::` outside an IPv6 literal).
    pub fn host(&self) -> &str {
        split_host(&self.0).0
    }
}

/// The URL after its `scheme://`, which must be `http` or `https` when
/// there is one; a protocol-relative `//host` or a bare `host/path` pass.
fn strip_scheme(url: &str) -> Result<&str, SiteError> {
    if let Some(i) = url.find("://") {
        let scheme = &url[..i];
        let is_scheme = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if is_scheme {
            if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
                return Err(SiteError::BadScheme(scheme.to_string()));
            }
            return Ok(&url[i + 3..]);
        }
    }
    Ok(url.strip_prefix("//").unwrap_or(url))
}

/// Whether `url` starts with a `scheme://`.
fn has_scheme(url: &str) -> bool {
    url.find("://").is_some_and(|i| {
        let scheme = &url[..i];
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// Splits `host[:port]` from the `::`-joined path, minding `[v6]` literals.
fn split_host(ident: &str) -> (&str, &str) {
    let search_from = if ident.starts_with('[') {
        ident.find(']').map_or(ident.len(), |i| i + 1)
    } else {
        0
    };
    match ident[search_from..].find("::") {
        Some(i) => ident.split_at(search_from + i),
        None => (ident, ""),
    }
}

fn parse_host(host: &str) -> Result<String, SiteError> {
    if host.is_empty() {
        return Err(SiteError::NoHost);
    }
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']');
    let bad = !host.chars().all(allowed)
        || host.bytes().all(|b| b.is_ascii_digit())
        || host.starts_with([':', '.'])
        // Outside an IPv6 literal, `::` would read as the path separator.
        || (!host.starts_with('[') && host.contains("::"))
        // `javascript:alert(1)` has no `//`: its "host" has a port that is
        // no number.
        || !port_is_numeric(host);
    if bad {
        return Err(SiteError::BadHost(host.to_string()));
    }
    Ok(host.to_ascii_lowercase())
}

/// `host`, `host:PORT`, `[v6]` or `[v6]:PORT`, PORT 1 to 5 digits.
fn port_is_numeric(host: &str) -> bool {
    let after_name = if host.starts_with('[') {
        match host.find(']') {
            Some(i) => &host[i + 1..],
            None => return false,
        }
    } else {
        host.find(':').map_or("", |i| &host[i..])
    };
    after_name.is_empty()
        || after_name
            .strip_prefix(':')
            .is_some_and(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

fn check_chars(path: &str) -> Result<(), SiteError> {
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SiteError::BadCharacter);
    }
    Ok(())
}

impl fmt::Display for SiteIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SiteIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SiteIdentifier({})", self.0)
    }
}

impl<'de> Deserialize<'de> for SiteIdentifier {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SiteIdentifier::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A site URL as stored and linked to: the URL as sent (scheme `http`,
/// `https` or none), trimmed, without query and fragment, with the
/// identifier it names.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SiteUrl {
    url: String,
    identifier: SiteIdentifier,
}

impl SiteUrl {
    /// Checks `url` as [`SiteIdentifier::from_url`] does and drops its query
    /// and fragment: `https://Example.com/demo/?x=1` → `https://Example.com/demo/`.
    pub fn parse(url: &str) -> Result<Self, SiteError> {
        let identifier = SiteIdentifier::from_url(url)?;
        let url = url.trim().split(['?', '#']).next().unwrap_or("");
        Ok(SiteUrl {
            url: url.to_string(),
            identifier,
        })
    }

    /// The URL as stored.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn identifier(&self) -> &SiteIdentifier {
        &self.identifier
    }

    /// The absolute URL without trailing slash, the base of links into the
    /// site: `https://` when no scheme was given.
    pub fn base(&self) -> String {
        let url = self.url.trim_end_matches('/');
        if has_scheme(url) {
            url.to_string()
        } else {
            format!("https://{}", url.trim_start_matches('/'))
        }
    }

    /// The base of links for a site known only by its identifier (a stored
    /// URL that no longer parses): `https://` + host + path.
    pub fn base_of(identifier: &SiteIdentifier) -> String {
        format!("https://{}", identifier.as_str().replace("::", "/"))
    }
}

impl fmt::Display for SiteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// A WordPress.com blog id: assigned on a site's first provision, never reused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BlogId(u64);

impl BlogId {
    /// Blog ids are positive and fit in a signed 64-bit column.
    pub fn new(id: u64) -> Option<Self> {
        (id > 0 && id <= i64::MAX as u64).then_some(BlogId(id))
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// The value as stored in a signed 64-bit database column.
    pub fn as_i64(self) -> i64 {
        // Construction bounds the value by i64::MAX.
        self.0 as i64
    }

    pub fn parse(s: &str) -> Result<Self, SiteError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SiteError::BadBlogId(s.to_string()));
        }
        s.parse::<u64>()
            .ok()
            .and_then(BlogId::new)
            .ok_or_else(|| SiteError::BadBlogId(s.to_string()))
    }
}

impl fmt::Display for BlogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a `{site_or_blog_id}` path segment refers to.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum SiteRef {
    BlogId(BlogId),
    Identifier(SiteIdentifier),
}

/// A path segment that is all digits but not a usable blog id (0, or too
/// large): still a blog-id reference, to be answered with `invalid_blog`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteRefError {
    #[error("The blog ID {0} is invalid")]
    InvalidBlogId(String),
    #[error(transparent)]
    Site(#[from] SiteError),
}

impl SiteRef {
    /// All digits: a blog id; anything else: an identifier (or a URL).
    pub fn parse(segment: &str) -> Result<Self, SiteRefError> {
        let segment = segment.trim();
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            return BlogId::parse(segment)
                .map(SiteRef::BlogId)
                .map_err(|_| SiteRefError::InvalidBlogId(segment.to_string()));
        }
        Ok(SiteRef::Identifier(SiteIdentifier::parse(segment)?))
    }
}

impl fmt::Display for SiteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SiteRef::BlogId(id) => id.fmt(f),
            SiteRef::Identifier(i) => i.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ident(url: &str) -> String {
        SiteIdentifier::from_url(url).unwrap().as_str().to_string()
    }

    #[test]
    fn spec_and_issue_table() {
        let table = [
            ("https://example.com", "example.com"),
            ("http://example.com/demo", "example.com::demo"),
            ("https://example.com/demo/wp/", "example.com::demo::wp"),
            ("https://example.org/", "example.org"),
            (
                "https://example.org/borussia-dortmund",
                "example.org::borussia-dortmund",
            ),
            (
                "https://example.org/http://example.com",
                "example.org::http:::::example.com",
            ),
            ("example.com/test", "example.com::test"),
            ("example.com/demo/wp", "example.com::demo::wp"),
            ("HTTPS://Example.COM/Demo", "example.com::Demo"),
            (
                "https://example.com:8443/wp?x=1#top",
                "example.com:8443::wp",
            ),
            ("//example.com/a", "example.com::a"),
            ("https://example.com///", "example.com"),
            ("https://[::1]:8080/wp", "[::1]:8080::wp"),
        ];
        for (url, expected) in table {
            assert_eq!(ident(url), expected, "{url}");
        }
    }

    #[test]
    fn refused() {
        for bad in [
            "",
            "   ",
            "https://",
            "https:///path",
            "12345",
            "http://12345/x",
            "exa mple.com",
            "a@b.com",
            "https://ex\u{7}.com",
            "javascript://victim.example?%0aalert(document.domain)//x",
            "JavaScript://victim.example",
            "javascript:victim.example",
            "javascript:alert(1)",
            "data://victim.example/x",
            "ftp://victim.example",
            "file://victim.example/etc",
            "https://victim.example:x/",
            "https://victim.example:123456/",
            "https://[::1/x",
        ] {
            assert!(
                SiteIdentifier::from_url(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn site_urls_keep_no_query_and_link_with_a_scheme() {
        let table = [
            (
                "https://Example.com/demo/?x=1#top",
                "https://Example.com/demo/",
                "https://Example.com/demo",
            ),
            (
                "  http://example.com  ",
                "http://example.com",
                "http://example.com",
            ),
            (
                "example.com/shop",
                "example.com/shop",
                "https://example.com/shop",
            ),
            (
                "//example.com/a",
                "//example.com/a",
                "https://example.com/a",
            ),
            (
                "HTTPS://example.com:8443/wp#x",
                "HTTPS://example.com:8443/wp",
                "HTTPS://example.com:8443/wp",
            ),
            (
                "https://[::1]:8080/wp?q",
                "https://[::1]:8080/wp",
                "https://[::1]:8080/wp",
            ),
        ];
        for (given, stored, base) in table {
            let u = SiteUrl::parse(given).unwrap();
            assert_eq!(u.as_str(), stored, "{given}");
            assert_eq!(u.base(), base, "{given}");
            assert_eq!(u.identifier(), &SiteIdentifier::from_url(given).unwrap());
        }
        assert_eq!(
            SiteIdentifier::from_url("ftp://example.com"),
            Err(SiteError::BadScheme("ftp".into()))
        );
        let id = SiteIdentifier::parse("example.com::demo::wp").unwrap();
        assert_eq!(SiteUrl::base_of(&id), "https://example.com/demo/wp");
    }

    #[test]
    fn identifiers_from_paths() {
        let p = |s: &str| SiteIdentifier::parse(s).unwrap().as_str().to_string();
        assert_eq!(p("example.com::demo::wp"), "example.com::demo::wp");
        assert_eq!(p("EXAMPLE.com::Demo"), "example.com::Demo");
        assert_eq!(p("example.com"), "example.com");
        assert_eq!(p("https://example.com/demo"), "example.com::demo");
        assert_eq!(p("[::1]::wp"), "[::1]::wp");
    }

    #[test]
    fn site_refs() {
        assert_eq!(
            SiteRef::parse("12345").unwrap(),
            SiteRef::BlogId(BlogId::new(12345).unwrap())
        );
        assert_eq!(
            SiteRef::parse("0"),
            Err(SiteRefError::InvalidBlogId("0".into()))
        );
        assert_eq!(
            SiteRef::parse("99999999999999999999999"),
            Err(SiteRefError::InvalidBlogId(
                "99999999999999999999999".into()
            ))
        );
        assert!(matches!(
            SiteRef::parse("example.com::x"),
            Ok(SiteRef::Identifier(_))
        ));
    }

    proptest! {
        /// Any text: no panic, and whatever parses is a normal form:
        /// normalising it again (as an identifier, or as a URL) changes
        /// nothing, and a site ref prints as text that parses back to it.
        #[test]
        fn normalising_is_idempotent(s in prop_oneof![
            "\\PC{0,60}",
            "(https?://)?[a-zA-Z0-9.:-]{1,20}(/[a-zA-Z0-9._~:-]{0,6}){0,3}/?",
            "[a-z0-9.-]{1,12}(::[a-zA-Z0-9._~:-]{0,6}){0,3}",
        ]) {
            // Whatever is accepted links with http or https only.
            if let Ok(u) = SiteUrl::parse(&s) {
                let base = u.base().to_ascii_lowercase();
                prop_assert!(base.starts_with("http://") || base.starts_with("https://"), "{}", base);
                prop_assert!(!u.as_str().contains(['?', '#']));
            }
            if let Ok(id) = SiteIdentifier::from_url(&s) {
                prop_assert_eq!(&SiteIdentifier::parse(id.as_str()).unwrap(), &id);
                prop_assert!(!id.as_str().contains('/'), "{}", id);
            }
            if let Ok(id) = SiteIdentifier::parse(&s) {
                prop_assert_eq!(&SiteIdentifier::parse(&id.to_string()).unwrap(), &id);
            }
            if let Ok(r) = SiteRef::parse(&s) {
                prop_assert_eq!(&SiteRef::parse(&r.to_string()).unwrap(), &r);
            }
        }

        #[test]
        fn identifier_is_a_fixed_point(
            scheme in "(https?://)?",
            host in "[a-zA-Z][a-zA-Z0-9-]{0,10}(\\.[a-zA-Z]{2,5}){1,2}",
            path in "(/[a-zA-Z0-9._~:-]{0,8}){0,4}",
            slash in "/?",
        ) {
            let url = format!("{scheme}{host}{path}{slash}");
            let id = SiteIdentifier::from_url(&url).unwrap();
            // Parsing the identifier again gives the same identifier.
            prop_assert_eq!(&SiteIdentifier::parse(id.as_str()).unwrap(), &id);
            // No slash survives, the host is lower case, nothing trails.
            prop_assert!(!id.as_str().contains('/'));
            prop_assert_eq!(id.host(), host.to_ascii_lowercase());
            prop_assert_eq!(SiteIdentifier::from_url(&format!("{url}/")).unwrap(), id.clone());
            // A site ref of an identifier is never taken for a blog id.
            let is_ident = matches!(SiteRef::parse(id.as_str()), Ok(SiteRef::Identifier(_)));
            prop_assert!(is_ident);
        }

        #[test]
        fn blog_ids_round_trip(n in 1u64..=i64::MAX as u64) {
            let r = SiteRef::parse(&n.to_string()).unwrap();
            prop_assert_eq!(&r, &SiteRef::BlogId(BlogId::new(n).unwrap()));
            prop_assert_eq!(SiteRef::parse(&r.to_string()).unwrap(), r);
            let id = BlogId::parse(&n.to_string()).unwrap();
            prop_assert_eq!(BlogId::parse(&id.to_string()).unwrap(), id);
        }

        /// Any run of digits is a blog id or an error (zero, too large),
        /// never a panic and never an identifier.
        /// Agreement with a model: a blog id is 1..=i64::MAX, whatever the
        /// leading zeros.
        #[test]
        fn digits_are_never_identifiers(d in "[0-9]{1,30}") {
            let model = d
                .parse::<u128>()
                .ok()
                .filter(|n| (1..=i64::MAX as u128).contains(n));
            match SiteRef::parse(&d) {
                Ok(SiteRef::BlogId(id)) => prop_assert_eq!(Some(u128::from(id.get())), model),
                Ok(SiteRef::Identifier(i)) => prop_assert!(false, "{} taken for an identifier", i),
                Err(SiteRefError::InvalidBlogId(s)) => {
                    prop_assert_eq!(model, None);
                    prop_assert_eq!(s, d.clone());
                }
                Err(e) => prop_assert!(false, "{:?}", e),
            }
            prop_assert_eq!(BlogId::parse(&d).ok().map(|id| u128::from(id.get())), model);
        }

        /// A site ref of an identifier prints as the identifier and parses
        /// back to itself.
        #[test]
        fn site_refs_round_trip(
            host in "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){1,2}",
            path in "(::[a-z0-9._~-]{1,8}){0,3}",
        ) {
            let text = format!("{host}{path}");
            let r = SiteRef::parse(&text).unwrap();
            prop_assert_eq!(r.to_string(), text);
            prop_assert_eq!(SiteRef::parse(&r.to_string()).unwrap(), r);
        }
    }
}
