//! Partner users and the portal's rules (SPEC §8), without I/O: passwords
//! (argon2id), session and code lifetimes, OAuth redirect URIs.
//!
//! Passwords are hashed with argon2id at the parameters the `argon2` crate
//! recommends (19 MiB, 2 passes, 1 lane); a stored PHC string carries its
//! own parameters, so stronger ones can be adopted later without a
//! migration. Verification compares in constant time (the crate's
//! `verify_password`). Session tokens, client secrets, codes and reporting
//! tokens are server-made random strings stored as SHA-256 digests
//! ([`crate::secrets`]): only passwords, which people choose, need a slow hash.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distr::{Alphanumeric, SampleString};
use rand::RngCore;

use crate::clock::Timestamp;

/// Shortest password a user may set (a generated one is longer).
pub const MIN_PASSWORD: usize = 10;
/// Longest password accepted: argon2 takes any length, but an unbounded
/// one is a cheap way to make the server hash megabytes.
pub const MAX_PASSWORD: usize = 256;
/// Length of a generated password (letters and digits, ~143 bits).
pub const GENERATED_PASSWORD: usize = 24;
/// Longest user or app name.
pub const MAX_NAME: usize = 200;
/// Longest redirect URI of an OAuth app.
pub const MAX_REDIRECT_URI: usize = 2000;
/// How long an authorization code may wait for its token request
/// (RFC 6749 §4.1.2 recommends at most 10 minutes).
pub const CODE_TTL_MS: i64 = 10 * 60 * 1000;

/// A fresh password for a new user, shown once.
pub fn generate_password() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), GENERATED_PASSWORD)
}

/// Why a password cannot be set.
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(format!(
            "a password must have at least {MIN_PASSWORD} characters"
        ));
    }
    if password.len() > MAX_PASSWORD {
        return Err(format!("a password must have at most {MAX_PASSWORD} bytes"));
    }
    Ok(())
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the stored PHC string; a malformed one (or
/// one longer than [`MAX_PASSWORD`]) matches nothing.
pub fn verify_password(password: &str, stored: &str) -> bool {
    if password.len() > MAX_PASSWORD {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A valid hash of no password anyone knows: verified against when the
/// e-mail is unknown, so that an unknown address takes as long to refuse as
/// a wrong password (and answers the same).
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&generate_password()).unwrap_or_default())
}

/// A user or app name as stored: trimmed, without control characters, at
/// most [`MAX_NAME`] characters.
pub fn clean_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.chars().any(char::is_control) {
        return Err("a name must not contain control characters".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("a name must have at most {MAX_NAME} characters"));
    }
    Ok(name.to_string())
}

/// Whether a session is still good at `now`: not revoked, not expired.
pub fn session_valid(expires_at: Timestamp, revoked: bool, now: Timestamp) -> bool {
    !revoked && now < expires_at
}

/// An OAuth app's redirect URI: an absolute `http` or `https` URL without
/// a fragment (RFC 6749 §3.1.2), no white space or control characters.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let uri = uri.trim();
    if uri.len() > MAX_REDIRECT_URI {
        return Err(format!(
            "a redirect URI must have at most {MAX_REDIRECT_URI} characters"
        ));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a redirect URI must not contain white space".into());
    }
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
        .ok_or("a redirect URI must start with https:// or http://")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err("a redirect URI must name a host (and no user name)".into());
    }
    if uri.contains('#') {
        return Err("a redirect URI must not have a fragment".into());
    }
    Ok(())
}

/// Whether the `redirect_uri` of a request is the app's: the exact string
/// registered (RFC 6749 §3.1.2.3 simple string comparison), except that a
/// trailing `/` after a bare host is ignored (`http://127.0.0.1:3210` and
/// `http://127.0.0.1:3210/` are one URL).
pub fn redirect_matches(registered: &str, sent: &str) -> bool {
    normalise_uri(registered) == normalise_uri(sent)
}

fn normalise_uri(uri: &str) -> &str {
    let trimmed = uri.trim();
    match trimmed.strip_suffix('/') {
        Some(bare) if bare.matches('/').count() == 2 => bare,
        _ => trimmed,
    }
}

/// Where the browser goes with its code: the redirect URI with `code` and,
/// when the client sent one, `state` appended to its query.
pub fn redirect_with_code(redirect_uri: &str, code: &str, state: Option<&str>) -> String {
    redirect_with(redirect_uri, &[("code", Some(code)), ("state", state)])
}

/// The redirect URI with RFC 6749 §4.1.2.1 `error` (and `state`).
pub fn redirect_with_error(redirect_uri: &str, error: &str, state: Option<&str>) -> String {
    redirect_with(redirect_uri, &[("error", Some(error)), ("state", state)])
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            query.append_pair(k, v);
        }
    }
    let query = query.finish();
    let uri = redirect_uri.trim();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
        assert!(!verify_password("x", decoy_hash()));
    }

    #[test]
    fn password_rules() {
        assert!(check_password("short").is_err());
        assert!(check_password(&"x".repeat(MAX_PASSWORD + 1)).is_err());
        assert!(check_password("long enough!").is_ok());
        let g = generate_password();
        assert_eq!(g.len(), GENERATED_PASSWORD);
        assert!(check_password(&g).is_ok());
    }

    #[test]
    fn redirect_uris() {
        for ok in [
            "http://127.0.0.1:3210",
            "https://panel.example/oauth/back?x=1",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://x.example/",
            "https://",
            "https://u@x.example/",
            "https://x.example/#f",
            "https://x.example/ a",
            "javascript:alert(1)",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
        assert!(redirect_matches(
            "http://127.0.0.1:3210",
            "http://127.0.0.1:3210/"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1:3210/a",
            "http://127.0.0.1:3210/a/"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1:3210",
            "http://127.0.0.1:3211"
        ));
    }

    #[test]
    fn codes_are_appended_to_the_query() {
        assert_eq!(
            redirect_with_code("http://127.0.0.1:3210", "abc", None),
            "http://127.0.0.1:3210?code=abc"
        );
        assert_eq!(
            redirect_with_code("https://p.example/cb?x=1", "abc", Some("s t&")),
            "https://p.example/cb?x=1&code=abc&state=s+t%26"
        );
        assert_eq!(
            redirect_with_error("https://p.example/cb", "access_denied", None),
            "https://p.example/cb?error=access_denied"
        );
    }

    #[test]
    fn sessions_expire_and_revoke() {
        let t = Timestamp::from_millis;
        assert!(session_valid(t(10), false, t(9)));
        assert!(!session_valid(t(10), false, t(10)));
        assert!(!session_valid(t(10), true, t(9)));
    }

    #[test]
    fn names() {
        assert_eq!(clean_name("  Jane  ").unwrap(), "Jane");
        assert!(clean_name("a\nb").is_err());
        assert!(clean_name(&"x".repeat(MAX_NAME + 1)).is_err());
    }
}
