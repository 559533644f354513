//! Rendering: askama templates (under `templates/`, checked at compile
//! time, every `{{ value }}` escaped) into responses with the protective
//! headers every page carries, and the one stylesheet.

use std::fmt;

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The one stylesheet of the portal and the authorization page.
pub const STYLESHEET: &str = include_str!("static/portal.css");

/// Where the portal's pages link it from.
pub const STYLESHEET_PATH: &str = "/portal/style.css";

/// The HTML escaper of every template (askama.toml): `&<>"'` as the
/// authorization page has always written them (`&amp;`, `&lt;`, `&gt;`,
/// `&quot;`, `&#39;`), so that its markup did not change when it moved
/// onto templates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Escape;

impl askama::filters::Escaper for Escape {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        let mut last = 0;
        for (i, b) in s.bytes().enumerate() {
            let entity = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            dest.write_str(&s[last..i])?;
            dest.write_str(entity)?;
            last = i + 1;
        }
        dest.write_str(&s[last..])
    }
}

/// Escapes text for HTML element content and quoted attribute values (for
/// the rare string built outside a template).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Writing into a String cannot fail.
    let _ = askama::filters::Escaper::write_escaped_str(&Escape, &mut out, s);
    out
}

/// Renders `page` with `status` as an HTML response with [`protect`]'s
/// headers. A template that fails to render (it cannot for our own
/// templates, short of a `Display` impl failing) is logged and answered 500.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    render_with(status, page, protect)
}

/// [`render`] with other protective headers (the authorization page's).
pub fn render_with(
    status: StatusCode,
    page: &impl Template,
    protect: fn(&mut Response),
) -> Response {
    match page.render() {
        Ok(html) => {
            let mut res = (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response();
            protect(&mut res);
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            let mut res = (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "Something went wrong. Please try again in a moment.\n",
            )
                .into_response();
            protect(&mut res);
            res
        }
    }
}

/// A 303 to a path of ours or an allowed URL, with [`protect`]'s headers;
/// a target that is no valid header value becomes the portal's home.
pub fn see_other(location: &str) -> Response {
    let value =
        HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/portal/"));
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut().insert(header::LOCATION, value);
    protect(&mut res);
    res
}

/// Headers of every page: nothing cached (pages show secrets once, and
/// sessions), no Referer to other origins, no framing (clickjacking), no
/// type sniffing, and a policy that loads nothing but our stylesheet.
pub fn protect(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Same-origin, not no-referrer: with no-referrer a browser sends
    // `Origin: null` even for our own forms, and the origin check could
    // not tell them from forged ones.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // No form-action directive: it would also block the 303 to an OAuth
    // app's redirect URI.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
}

/// `GET /portal/style.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        STYLESHEET,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_the_authorization_page_did() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>é"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;é"
        );
        assert_eq!(esc("plain"), "plain");
    }
}
