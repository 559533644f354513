//! Booleans in request parameters.
//!
//! The WP.com REST framework treats `1`, `t` and `true` (any case) as true and
//! everything else, absence included, as false. JSON booleans and numbers are
//! accepted too, because clients posting JSON send them unquoted.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `true` for `1`, `t`, `true` in any case; `false` otherwise. Not trimmed:
/// upstream's `is_truthy` compares the lower-cased value as it is, and SPEC §2
/// makes anything but the three words false.
pub fn is_truthy(value: &str) -> bool {
    value == "1" || value.eq_ignore_ascii_case("t") || value.eq_ignore_ascii_case("true")
}

/// A boolean request parameter parsed by the WP.com rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Truthy(pub bool);

impl Truthy {
    pub fn get(self) -> bool {
        self.0
    }
}

impl From<bool> for Truthy {
    fn from(b: bool) -> Self {
        Truthy(b)
    }
}

impl Serialize for Truthy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Sent as "1"/"0" in forms: what the shell scripts send, and truthy on
        // every server that follows the WP.com rule.
        s.serialize_str(if self.0 { "1" } else { "0" })
    }
}

impl<'de> Deserialize<'de> for Truthy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Ok(Truthy(match &v {
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::String(s) => is_truthy(s),
            serde_json::Value::Number(n) => n.as_f64().is_some_and(|f| f == 1.0),
            _ => false,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert!(is_truthy(t), "{t:?} should be true");
        }
        for f in [
            "", "0", "false", "yes", "on", "2", "tru", "f", "null", " true", "1 ",
        ] {
            assert!(!is_truthy(f), "{f:?} should be false");
        }
    }

    #[test]
    fn json_values() {
        let parse = |s: &str| serde_json::from_str::<Truthy>(s).map(Truthy::get).ok();
        assert_eq!(parse("true"), Some(true));
        assert_eq!(parse("false"), Some(false));
        assert_eq!(parse("1"), Some(true));
        assert_eq!(parse("0"), Some(false));
        assert_eq!(parse("\"t\""), Some(true));
        assert_eq!(parse("null"), Some(false));
    }

    proptest! {
        #[test]
        fn never_panics_and_only_three_words_are_true(s in ".{0,12}") {
            let expected = matches!(s.to_ascii_lowercase().as_str(), "1" | "t" | "true");
            prop_assert_eq!(is_truthy(&s), expected);
        }

        #[test]
        fn serialised_value_round_trips(b: bool) {
            let text = serde_json::to_string(&Truthy(b)).unwrap();
            prop_assert_eq!(serde_json::from_str::<Truthy>(&text).unwrap(), Truthy(b));
        }
    }
}
