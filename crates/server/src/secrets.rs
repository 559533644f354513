//! Generating, hashing and comparing secrets.
//!
//! Client secrets, access tokens and authorization links are 64 random
//! letters and digits (~380 bits) made by the server, so they cannot be
//! guessed or brute-forced from a leaked digest: a single SHA-256 protects
//! them as well as a slow password hash would, and keeps token issue and
//! every authenticated request cheap. Only digests are stored. Digests are
//! compared in constant time.

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of generated secrets and tokens.
pub const SECRET_LEN: usize = 64;

/// A fresh random string of letters and digits.
pub fn generate() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), SECRET_LEN)
}

pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether `secret` hashes to `stored`, in time independent of where they differ.
pub fn verify(secret: &str, stored: &[u8]) -> bool {
    digest(secret).ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_letters_and_digits() {
        let s = generate();
        assert_eq!(s.len(), SECRET_LEN);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(generate(), s);
    }

    #[test]
    fn verify_matches_only_the_secret() {
        let d = digest("abc");
        assert!(verify("abc", &d));
        assert!(!verify("abd", &d));
        assert!(!verify("abc", &d[..31]));
    }
}
