//! The one redaction of secrets in what jpstart writes down: the request
//! log's parameters and responses, and the paths of the trace spans.
//!
//! Secrets are recognised by the name of their parameter or field
//! ([`is_secret_name`]: `client_secret`, `access_token`, `bearer_token`,
//! `ssh_pass`, `ssh_private_key`, `ftp_pass`, `password`, `code`, ...), and
//! by their shape wherever they stand ([`text`]): a webhook secret
//! (`whsec_...`), the token of an authorization link (`/authorize/TOKEN`),
//! a password in a URL's user info, a secret-named parameter in a URL's
//! query. The tokens jpstart issues are random letters and digits with no
//! prefix, so they can only be found by name; every field that carries one
//! has a secret name.

use std::borrow::Cow;

use serde_json::Value;

/// What stands in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// Names that are secrets whole.
const SECRET_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "secret",
    "token",
    "code",
    "private_key",
    "passphrase",
    "authorization",
    "api_key",
    "apikey",
];

/// Endings of secret names (`client_secret`, `access_token`, `ssh_pass`,
/// `ssh_private_key`, `refresh_token`, `bearer_token`, `csrf_token`).
const SECRET_SUFFIXES: &[&str] = &[
    "_secret",
    "_token",
    "_password",
    "_pass",
    "_private_key",
    "_passphrase",
    "_key_secret",
];

/// Whether a parameter or field of this name holds a secret (any case).
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAMES.contains(&name.as_str())
        || name.starts_with("password")
        || SECRET_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Redacts a JSON value in place: the value of every secret-named field
/// (strings, numbers, objects alike; `null` and `false` say nothing), and
/// secrets recognised by their shape in every other string.
pub fn value(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, field) in map.iter_mut() {
                if is_secret_name(k) && !matches!(field, Value::Null | Value::Bool(false)) {
                    // An HTTP envelope's `code` is the status, not a secret.
                    if k == "code" && field.is_number() {
                        continue;
                    }
                    *field = Value::String(REDACTED.into());
                } else {
                    value(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(value),
        Value::String(s) => {
            if let Cow::Owned(t) = text(s) {
                *s = t;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// A string with the secrets of known shapes replaced: a webhook secret,
/// an authorization link's token, a URL's password and secret-named query
/// parameters. Borrowed when there is nothing to redact.
pub fn text(s: &str) -> Cow<'_, str> {
    if s.starts_with("whsec_") {
        return Cow::Owned(REDACTED.into());
    }
    let mut out = Cow::Borrowed(s);
    if let Some(t) = link_token(&out) {
        out = Cow::Owned(t);
    }
    if let Some(t) = user_info(&out) {
        out = Cow::Owned(t);
    }
    if let Some(t) = query(&out) {
        out = Cow::Owned(t);
    }
    out
}

/// `.../authorize/TOKEN?x` → `.../authorize/[redacted]?x`.
fn link_token(s: &str) -> Option<String> {
    const SEG: &str = "/authorize/";
    let start = s.find(SEG)? + SEG.len();
    let rest = &s[start..];
    let end = rest.find(['?', '#', '/']).unwrap_or(rest.len());
    if end == 0 || &rest[..end] == REDACTED {
        return None;
    }
    Some(format!("{}{REDACTED}{}", &s[..start], &rest[end..]))
}

/// `scheme://user:PASSWORD@host` → `scheme://user:[redacted]@host`.
fn user_info(s: &str) -> Option<String> {
    let start = s.find("://")? + 3;
    let authority_end = s[start..]
        .find(['/', '?', '#'])
        .map_or(s.len(), |i| start + i);
    let at = s[start..authority_end].rfind('@')? + start;
    let colon = s[start..at].find(':')? + start;
    if &s[colon + 1..at] == REDACTED {
        return None;
    }
    Some(format!("{}{REDACTED}{}", &s[..=colon], &s[at..]))
}

/// A URL's query with the values of secret-named parameters replaced.
fn query(s: &str) -> Option<String> {
    let q_start = s.find('?')? + 1;
    let q_end = s[q_start..].find('#').map_or(s.len(), |i| q_start + i);
    let mut changed = false;
    let pairs: Vec<String> = s[q_start..q_end]
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if is_secret_name(k) && v != REDACTED && !v.is_empty() => {
                changed = true;
                format!("{k}={REDACTED}")
            }
            _ => pair.to_string(),
        })
        .collect();
    changed.then(|| format!("{}{}{}", &s[..q_start], pairs.join("&"), &s[q_end..]))
}

/// The path as the trace spans log it: an authorization link's token is a
/// secret (whoever holds it can approve the site), so it is cut off.
pub fn log_path(path: &str) -> &str {
    match path.find("/authorize/") {
        Some(i) => &path[..i + "/authorize/".len()],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        for n in [
            "client_secret",
            "CLIENT_SECRET",
            "access_token",
            "refresh_token",
            "bearer_token",
            "ssh_pass",
            "ssh_private_key",
            "ftp_pass",
            "password",
            "password_confirmation",
            "code",
            "secret",
            "token",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "client_id",
            "token_type",
            "error_code",
            "siteurl",
            "ssh_user",
            "key_id",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn values() {
        let mut v = json!({
            "access_token": "abc", "token_type": "bearer", "ssh_set": true,
            "next_url": "https://j.example/authorize/Tok123?blog_id=5",
            "nested": [{"client_secret": "s", "client_id": "7"}],
            "hook": "whsec_abcdef", "code": 200, "notes": null,
            "site": "https://u:pw@x.example/p?access_token=t&a=1",
        });
        value(&mut v);
        assert_eq!(
            v,
            json!({
                "access_token": REDACTED, "token_type": "bearer", "ssh_set": true,
                "next_url": "https://j.example/authorize/[redacted]?blog_id=5",
                "nested": [{"client_secret": REDACTED, "client_id": "7"}],
                "hook": REDACTED, "code": 200, "notes": null,
                "site": "https://u:[redacted]@x.example/p?access_token=[redacted]&a=1",
            })
        );
        // Redacting again changes nothing.
        let again = v.clone();
        value(&mut v);
        assert_eq!(v, again);
    }

    #[test]
    fn texts_without_secrets_are_borrowed() {
        for s in ["", "plain", "https://x.example/a?b=c", "/authorize/", "a@b"] {
            assert!(matches!(text(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn link_tokens_are_not_logged() {
        assert_eq!(log_path("/authorize/abc123"), "/authorize/");
        assert_eq!(
            log_path("/rest/v1.3/jpphp/provision"),
            "/rest/v1.3/jpphp/provision"
        );
    }

    proptest::proptest! {
        #[test]
        fn text_never_panics(s in "\\PC{0,80}") {
            let _ = text(&s);
        }
    }
}
