//! The sandbox's two HTML pages, `/sandbox` and `/sandbox/mail`: plain
//! tables, no script, every value escaped ([`esc`]). A small renderer of
//! its own: the template engine of the portal had not landed when these
//! were written; they can move to it without changing what they show.

use jpstart_types::admin::MailShown;
use jpstart_types::sandbox::MagicSiteShown;
use jpstart_types::wire::ClockState;

use crate::api::authorize::esc;
use crate::domain::sandbox::ENDPOINTS;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:72em}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}\
code,pre{font-size:.9em}pre{white-space:pre-wrap;margin:0}";

/// A whole page: `title` is text, `body` HTML already escaped.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n{body}</body>\n</html>\n",
        t = esc(title)
    )
}

fn cell(v: Option<impl ToString>) -> String {
    v.map(|v| esc(&v.to_string())).unwrap_or_default()
}

/// `GET /sandbox` for a browser.
pub fn sites_page(sites: &[MagicSiteShown], clock: &ClockState) -> String {
    let mut body = String::from(
        "<p>This jpstart runs as a sandbox. A site URL with one of these hosts makes the \
         endpoints below answer as described. Any other site is an ordinary site.</p>\n<ul id=\"endpoints\">\n",
    );
    for e in ENDPOINTS {
        body.push_str(&format!("<li><code>{}</code></li>\n", esc(e)));
    }
    body.push_str(&format!(
        "</ul>\n<p id=\"clock\">Sandbox clock: <time>{}</time> ({} s ahead of the system time). \
         Move it with <code>POST /sandbox/clock</code> (advance=15d or now=ISO8601).</p>\n\
         <p>Also: <a href=\"/sandbox?format=json\">this list as JSON</a>, \
         <a href=\"/sandbox/mail\">the mail outbox</a>.</p>\n",
        esc(&clock.now),
        clock.offset_s
    ));
    body.push_str(
        "<table id=\"sites\">\n<thead><tr><th>Site</th><th>Status</th><th>Code</th>\
         <th>Message</th><th>What it does</th></tr></thead>\n<tbody>\n",
    );
    for s in sites {
        body.push_str(&format!(
            "<tr class=\"{kind}\"><td class=\"site\"><code>{site}</code></td><td class=\"status\">{status}</td>\
             <td class=\"code\">{code}</td><td class=\"message\">{message}</td><td class=\"does\">{does}</td></tr>\n",
            kind = esc(&s.kind),
            site = esc(&s.site),
            status = cell(s.status),
            code = cell(s.code.as_deref()),
            message = cell(s.message.as_deref()),
            does = esc(&s.does),
        ));
    }
    body.push_str("</tbody>\n</table>\n");
    page("jpstart sandbox", &body)
}

/// `GET /sandbox/mail` for a browser: newest last, as the outbox is.
pub fn mail_page(mail: &[MailShown]) -> String {
    let mut body = String::from(
        "<p>Every e-mail this sandbox queued, with its one-time links: use them to \
         test a login flow. <a href=\"/sandbox/mail?format=json\">As JSON</a>.</p>\n",
    );
    if mail.is_empty() {
        body.push_str("<p id=\"empty\">No mail yet.</p>\n");
    }
    body.push_str(
        "<table id=\"mail\">\n<thead><tr><th>Time</th><th>To</th><th>Subject</th>\
         <th>Status</th><th>Body</th></tr></thead>\n<tbody>\n",
    );
    for m in mail {
        body.push_str(&format!(
            "<tr id=\"mail-{id}\"><td>{time}</td><td class=\"to\">{to}</td><td class=\"subject\">{subject}</td>\
             <td>{status}</td><td><pre class=\"body\">{text}</pre></td></tr>\n",
            id = m.id,
            time = esc(&m.created_at),
            to = esc(&m.to),
            subject = esc(&m.subject),
            status = esc(&m.status),
            text = linked(&m.body),
        ));
    }
    body.push_str("</tbody>\n</table>\n");
    page("jpstart sandbox: mail", &body)
}

/// Text, escaped, with each link (`https://`, `http://`, `wordpress://`)
/// made clickable.
fn linked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = find_link(rest) {
        out.push_str(&esc(&rest[..at]));
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
            .unwrap_or(tail.len());
        let link = &tail[..end];
        out.push_str(&format!("<a href=\"{0}\">{0}</a>", esc(link)));
        rest = &tail[end..];
    }
    out.push_str(&esc(rest));
    out
}

fn find_link(text: &str) -> Option<usize> {
    ["https://", "http://", "wordpress://"]
        .iter()
        .filter_map(|scheme| text.find(scheme))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_clickable_and_text_escaped() {
        assert_eq!(
            linked("Open <this>: wordpress://magic-login?token=a&b=1\nbye"),
            "Open &lt;this&gt;: <a href=\"wordpress://magic-login?token=a&amp;b=1\">wordpress://magic-login?token=a&amp;b=1</a>\nbye"
        );
        assert_eq!(linked("no link"), "no link");
    }

    #[test]
    fn values_are_escaped() {
        let sites = [MagicSiteShown {
            site: "<b>x</b>".into(),
            kind: "error".into(),
            does: "\"q\"".into(),
            status: Some(400),
            code: Some("c&d".into()),
            message: None,
        }];
        let clock = ClockState {
            now: "2027-01-01T00:00:00Z".into(),
            offset_s: 5,
        };
        let html = sites_page(&sites, &clock);
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;") && html.contains("c&amp;d"));
        assert!(!html.contains("<b>x"));
    }
}
