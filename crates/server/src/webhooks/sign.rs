//! The `Jpstart-Signature` header (SPEC §10), Stripe's scheme:
//! `t=UNIX,v1=HEX` with HEX the HMAC-SHA256 of `"{t}.{body}"` keyed by the
//! endpoint's whole secret string (`whsec_...`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header's name.
pub const HEADER: &str = "Jpstart-Signature";
/// What every endpoint secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";

/// The header value for `body` signed at `t` (UNIX seconds, wall clock).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", hex_hmac(secret, t, body))
}

fn hex_hmac(secret: &str, t: i64, body: &str) -> String {
    // HMAC accepts a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh endpoint secret.
pub fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", crate::secrets::generate())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // RFC 4231 test case 2 (key "Jefe"), reshaped: t=0 and the body
        // make the message "0.what do ya want for nothing?".
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        let want: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            signature("Jefe", 0, "what do ya want for nothing?"),
            format!("t=0,v1={want}")
        );
        let s = signature("whsec_abc", 1_700_000_000, "{}");
        assert!(s.starts_with("t=1700000000,v1="), "{s}");
        assert_eq!(s.len(), "t=1700000000,v1=".len() + 64);
    }

    #[test]
    fn secrets() {
        let s = new_secret();
        assert!(s.starts_with("whsec_"));
        assert_ne!(s, new_secret());
    }
}
