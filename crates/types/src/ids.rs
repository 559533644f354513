//! Small newtypes that cannot hold an invalid value.
//!
//! Secrets ([`ClientSecret`], [`AccessToken`]) redact themselves in `Debug`
//! so that a stray `{:?}` in a log line cannot leak them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid value of one of these types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} is not valid: {why}")]
pub struct InvalidValue {
    pub what: &'static str,
    pub value: String,
    pub why: &'static str,
}

fn invalid(what: &'static str, value: &str, why: &'static str) -> InvalidValue {
    // Never echo a secret back in an error.
    let value = if what.contains("secret") || what.contains("token") {
        "<redacted>".to_string()
    } else {
        value.chars().take(80).collect()
    };
    InvalidValue { what, value, why }
}

/// A product slug such as `premium` or `jetpack-backup-daily`. Whether the
/// catalogue knows it is a separate question.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ProductSlug(String);

impl ProductSlug {
    /// Lower-case letters, digits, `-` and `_`, 1 to 64 characters;
    /// upper case is folded.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim().to_ascii_lowercase();
        if s.is_empty() || s.len() > 64 {
            return Err(invalid("product slug", &s, "must have 1 to 64 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(invalid("product slug", &s, "letters, digits, - and _ only"));
        }
        Ok(ProductSlug(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProductSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ProductSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProductSlug({})", self.0)
    }
}

impl<'de> Deserialize<'de> for ProductSlug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ProductSlug::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An OAuth2 client id. jpstart issues numeric ones, as WordPress.com does;
/// it accepts any short token of letters, digits, `-` and `_`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(ClientId(s.to_string()))
        } else {
            Err(invalid(
                "client id",
                s,
                "letters, digits, - and _ only, at most 64",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.0)
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ClientId::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr, $why:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, InvalidValue> {
                let check: fn(&str) -> bool = $check;
                if check(s) {
                    Ok($name(s.to_string()))
                } else {
                    Err(invalid($what, s, $why))
                }
            }

            /// The secret itself: only for sending it, hashing it, or its
            /// one-time display.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $name::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

secret_type!(
    /// An OAuth2 client secret.
    ClientSecret,
    "client secret",
    |s| !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| b.is_ascii_graphic()),
    "1 to 256 printable characters"
);

secret_type!(
    /// A bearer token. Letters and digits only: the shell clients pass tokens
    /// through `xargs`, which would mangle anything else.
    AccessToken,
    "access token",
    |s| (16..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()),
    "16 to 256 letters and digits"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slugs() {
        assert_eq!(ProductSlug::parse("Premium").unwrap().as_str(), "premium");
        assert_eq!(
            ProductSlug::parse("jetpack-backup-daily").unwrap().as_str(),
            "jetpack-backup-daily"
        );
        for bad in ["", "pre mium", "a/b", "é", &"x".repeat(65)] {
            assert!(ProductSlug::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secrets_are_redacted() {
        let t = AccessToken::parse("abcdefABCDEF0123456789").unwrap();
        assert_eq!(format!("{t:?}"), "AccessToken(<redacted>)");
        let s = ClientSecret::parse("s3cr3t!").unwrap();
        assert!(!format!("{s:?}").contains("s3cr3t"));
        let err = AccessToken::parse("short").unwrap_err();
        assert!(!err.to_string().contains("short"));
    }

    #[test]
    fn tokens_are_letters_and_digits() {
        assert!(AccessToken::parse("abcd-efgh-ijkl-mnop").is_err());
        assert!(AccessToken::parse("abcdefghijklmnop").is_ok());
    }

    proptest! {
        /// Any text: no panic, and whatever parses is the normal form of
        /// its input (trimmed; slugs lower-cased), which parses back to
        /// itself (parse ∘ print = id) and agrees with a model of the rules.
        #[test]
        fn parsers_normalise_once(s in prop_oneof![
            "\\PC{0,80}",
            "[ \t]{0,2}[A-Za-z0-9_-]{0,70}[ \t]{0,2}",
            "[!-~]{0,260}",
        ]) {
            let slug_model = {
                let t = s.trim().to_ascii_lowercase();
                let ok = (1..=64).contains(&t.len())
                    && t.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'));
                ok.then_some(t)
            };
            match ProductSlug::parse(&s) {
                Ok(slug) => {
                    prop_assert_eq!(Some(slug.as_str()), slug_model.as_deref());
                    prop_assert_eq!(&ProductSlug::parse(&slug.to_string()).unwrap(), &slug);
                }
                Err(_) => prop_assert_eq!(slug_model, None),
            }
            let id_model = {
                let t = s.trim();
                let ok = (1..=64).contains(&t.len())
                    && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                ok.then_some(t)
            };
            match ClientId::parse(&s) {
                Ok(id) => {
                    prop_assert_eq!(Some(id.as_str()), id_model);
                    prop_assert_eq!(&ClientId::parse(&id.to_string()).unwrap(), &id);
                }
                Err(_) => prop_assert_eq!(id_model, None),
            }
            // Secrets are taken as they are, never trimmed or folded.
            let secret_ok = (1..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
            match ClientSecret::parse(&s) {
                Ok(secret) => prop_assert!(secret_ok && secret.expose() == s),
                Err(_) => prop_assert!(!secret_ok),
            }
            let token_ok = (16..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric());
            match AccessToken::parse(&s) {
                Ok(token) => prop_assert!(token_ok && token.expose() == s),
                Err(_) => prop_assert!(!token_ok),
            }
        }

        /// Tokens and secrets: whatever parses reads back unchanged, also
        /// through JSON, and no parse error quotes the secret.
        #[test]
        fn secrets_round_trip(t in "[A-Za-z0-9]{16,256}", s in "[!-~]{1,256}") {
            let token = AccessToken::parse(&t).unwrap();
            prop_assert_eq!(token.expose(), t.as_str());
            let json = serde_json::to_string(&token).unwrap();
            prop_assert_eq!(serde_json::from_str::<AccessToken>(&json).unwrap(), token);
            let secret = ClientSecret::parse(&s).unwrap();
            prop_assert_eq!(secret.expose(), s.as_str());
            let json = serde_json::to_string(&secret).unwrap();
            prop_assert_eq!(serde_json::from_str::<ClientSecret>(&json).unwrap(), secret);
        }

        #[test]
        fn token_errors_do_not_quote_the_input(t in "[A-Za-z0-9]{4,20}[^A-Za-z0-9][A-Za-z0-9]{4}") {
            let err = AccessToken::parse(&t).unwrap_err();
            prop_assert!(!err.to_string().contains(t.as_str()));
        }

        #[test]
        fn client_id_round_trips(s in "[A-Za-z0-9_.-]{1,40}") {
            if let Ok(id) = ClientId::parse(&s) {
                prop_assert_eq!(ClientId::parse(id.as_str()).unwrap(), id.clone());
                prop_assert_eq!(id.to_string(), id.as_str());
            }
        }

        #[test]
        fn slug_round_trips(s in "[a-z0-9][a-z0-9_-]{0,40}") {
            let slug = ProductSlug::parse(&s).unwrap();
            prop_assert_eq!(slug.as_str(), s.as_str());
            let json = serde_json::to_string(&slug).unwrap();
            prop_assert_eq!(serde_json::from_str::<ProductSlug>(&json).unwrap(), slug);
        }
    }
}

/// A free-text secret sent by a partner (SSH/FTP password, private key).
/// No format rules beyond being text; `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        SecretString(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(id: i64) -> Self {
                $name(id)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                $name(id)
            }
        }
    };
}

row_id!(
    /// A partner key (an OAuth2 client) as the database numbers it.
    KeyId
);
row_id!(
    /// A partner organisation as the database numbers it.
    PartnerId
);
row_id!(
    /// One activation (one product on one site by one key).
    ActivationId
);

#[cfg(test)]
mod row_id_tests {
    use super::*;

    #[test]
    fn ids_are_plain_numbers_on_the_wire() {
        assert_eq!(serde_json::to_string(&KeyId::new(7)).unwrap(), "7");
        let back: ActivationId = serde_json::from_str("42").unwrap();
        assert_eq!(back, ActivationId::new(42));
        assert_eq!(PartnerId::new(3).to_string(), "3");
    }
}
