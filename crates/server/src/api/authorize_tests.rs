//! Unit tests of the authorization page (`authorize.rs`).

use super::*;

#[test]
fn escapes_markup() {
    assert_eq!(
        esc(r#"<a href="x">'&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
}

#[test]
fn redirects_only_under_allowed_prefixes() {
    let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let host = p(&["https://panel.example.com"]);
    let path = p(&["https://panel.example.com/done"]);
    let cases = [
        (&host, "https://panel.example.com", true),
        (&host, "https://panel.example.com/x?y=1", true),
        (&host, "https://panel.example.com?y=1", true),
        (&host, "https://panel.example.com.evil.org/", false),
        (&host, "https://panel.example.com@evil.org/", false),
        (&host, "https://panel.example.com:8443/", false),
        (&host, "http://panel.example.com/", false),
        (&host, "https://evil.org/https://panel.example.com", false),
        (&host, "https://panel.example.com/ x", false),
        (&host, "https://panel.example.com/\nx", false),
        (&path, "https://panel.example.com/done?site=1", true),
        (&path, "https://panel.example.com/done-too", true),
        (&path, "https://panel.example.com/", false),
        (&p(&[]), "https://panel.example.com/", false),
        (&p(&[""]), "https://panel.example.com/", false),
    ];
    for (prefixes, url, want) in cases {
        assert_eq!(
            redirect_allowed(url, prefixes),
            want,
            "{url} under {prefixes:?}"
        );
    }
}

#[test]
fn locations_are_uri_escaped() {
    assert_eq!(
        uri_escape("https://x.example/<b>\"q\"</b> é/wp-admin/?a=1&b=%20"),
        "https://x.example/%3Cb%3E%22q%22%3C/b%3E%20%C3%A9/wp-admin/?a=1&b=%20"
    );
}

#[test]
fn same_origin_by_origin_then_referer() {
    let ours = "https://api.example.com";
    let h = |pairs: &[(header::HeaderName, &str)]| {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        m
    };
    let (o, r, host) = (header::ORIGIN, header::REFERER, header::HOST);
    let cases = [
        (h(&[]), true),
        (h(&[(o.clone(), "https://api.example.com")]), true),
        (h(&[(o.clone(), "HTTPS://API.example.com")]), true),
        (h(&[(o.clone(), "http://api.example.com")]), false),
        (h(&[(o.clone(), "https://evil.example")]), false),
        (h(&[(o.clone(), "null")]), false),
        (
            h(&[
                (o.clone(), "https://evil.example"),
                (r.clone(), "https://api.example.com/x"),
            ]),
            false,
        ),
        (
            h(&[(r.clone(), "https://api.example.com/authorize/x")]),
            true,
        ),
        (
            h(&[(r.clone(), "https://api.example.com.evil.example/")]),
            false,
        ),
        (h(&[(r.clone(), "not a url")]), false),
        // Reached under another name than the public URL: the Host
        // the browser sent.
        (
            h(&[
                (o.clone(), "http://10.0.0.5:8080"),
                (host.clone(), "10.0.0.5:8080"),
            ]),
            true,
        ),
        (
            h(&[
                (o.clone(), "https://evil.example"),
                (host.clone(), "10.0.0.5:8080"),
            ]),
            false,
        ),
    ];
    for (headers, want) in cases {
        assert_eq!(same_origin(&headers, ours), want, "{headers:?}");
    }
}

#[test]
fn link_tokens() {
    assert!(link_digest(&"a".repeat(secrets::SECRET_LEN)).is_some());
    assert!(link_digest(&"a".repeat(secrets::SECRET_LEN - 1)).is_none());
    assert!(link_digest(&format!("{}!", "a".repeat(secrets::SECRET_LEN - 1))).is_none());
}
