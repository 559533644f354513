//! Response bodies. Field order is wire order: the shell clients parse some of
//! these with `sed`, and the specification fixes key order.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::SecretString;

/// A JSON object whose key order is the order of the vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<V> OrderedMap<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V_<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V_<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry()? {
                    out.push((k, v));
                }
                Ok(OrderedMap(out))
            }
        }
        d.deserialize_map(V_(std::marker::PhantomData))
    }
}

/// The error body of every REST endpoint: the pair the real service sends
/// (`error`, `message`) and the pair the partner documentation names
/// (`error_code`, `error_message`), always both, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    pub error_code: String,
    pub error_message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: &str) -> Self {
        ErrorBody {
            error: code.to_string(),
            message: message.to_string(),
            error_code: code.to_string(),
            error_message: message.to_string(),
        }
    }
}

/// `POST /oauth2/token` success. `Debug` redacts the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub blog_id: u64,
    pub blog_url: u64,
    pub scope: String,
}

/// `GET /healthz` and `GET /readyz`: `{"status":"ok"}`, or
/// `{"status":"unavailable"}` (503) when the database does not answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
}

/// `POST /oauth2/token` failure (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthErrorBody {
    pub error: String,
    pub error_description: String,
}

/// `{"success":bool}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Success {
    pub success: bool,
}

/// Provision success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProvisionResponse {
    pub success: bool,
    pub auth_required: bool,
    pub next_url: String,
    /// Automatic account creation (upstream
    /// `automatic-account-creation-connection.md`): the new account's token,
    /// which the Jetpack plugin uses to authorize the site's local user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_set: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_error: Option<String>,
    /// With FTP parameters: whether they were stored (upstream JP PR #16411).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ftp_set: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ftp_error: Option<String>,
}

/// One activation ended by `cancel-all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelledActivation {
    pub activation_id: u64,
    pub product: String,
    pub blog_id: u64,
    pub site: String,
    /// RFC 3339, UTC.
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_tracking_id: Option<String>,
}

/// `partner-cancel`'s answer. With `cancel-all` both arrays are always
/// there (empty when nothing was cancelled), without it neither; keys in
/// the order of seed 003 and SPEC §5: `success`, `pending_activations`,
/// `activations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelResponse {
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_activations: Option<Vec<CancelledActivation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activations: Option<Vec<CancelledActivation>>,
}

/// `GET /rest/v1.4/jpphp/{site}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusV14 {
    pub blog: BlogStatus,
    pub products: Vec<ProductStatusV14>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlogStatus {
    pub is_connected: bool,
    pub has_backups_credentials: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductStatusV14 {
    pub slug: String,
    pub is_provisioned_by_partner: bool,
    pub is_provisioned_by_calling_partner: bool,
    pub is_pending: bool,
}

/// `GET /rest/v1.3/jpphp/{site}/status` (deprecated shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusV13 {
    pub plan: String,
    pub is_partner_plan: bool,
    pub is_provisioned_by_calling_partner: bool,
    pub is_connected: bool,
    pub has_pending_plan: bool,
    pub has_backups_credentials: bool,
    pub products: Vec<ProductStatusV13>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductStatusV13 {
    pub product: String,
    pub is_partner_product: bool,
    pub has_pending_product: bool,
    pub is_provisioned_by_calling_partner: bool,
}

/// `GET .../upgrade-paths`: family → slugs that may be provisioned now.
pub type UpgradePaths = OrderedMap<Vec<String>>;

/// `GET /rest/v1.3/jpphp/errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorsResponse {
    /// Code → message template (`%s` where the message names something;
    /// the description for the OAuth codes).
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, String>))]
    pub errors: OrderedMap<String>,
}

/// `GET /rest/v1.3/jpphp/errors?verbose`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerboseErrorsResponse {
    /// Code → description, cause and solution.
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, ErrorDoc>))]
    pub errors: OrderedMap<ErrorDoc>,
}

/// `GET /rest/v1.3/jpphp/errors` in either shape (plain, or with `verbose`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum ErrorsListing {
    Verbose(VerboseErrorsResponse),
    Plain(ErrorsResponse),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDoc {
    pub description: String,
    pub cause: String,
    pub solution: String,
}

/// `POST /rest/v1.3/jpphp/partner-keys/new`: the new sub-key. The secret is
/// shown only here.
///
/// Upstream's shape (plan-provisioning.md) is flat:
/// `{"id":10,"name":"…","allowed_personal_plans":"0",…,"notes":null,"client_id":"12345","client_secret":"…"}`,
/// one `allowed_{slug}_plans` key per limit, each limit a *string*. The
/// serde impls below write and read exactly that, keys in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerKeyCreated {
    pub id: u64,
    pub name: String,
    /// Product slug → live activations allowed, in wire order.
    pub limits: OrderedMap<u64>,
    /// Always `null` from jpstart; kept for upstream's shape.
    pub notes: Option<String>,
    pub client_id: String,
    pub client_secret: SecretString,
}

/// The wire key of a product's limit in [`PartnerKeyCreated`].
pub fn limit_key(slug: &str) -> String {
    format!("allowed_{slug}_plans")
}

/// The product slug of an `allowed_{slug}_plans` key.
pub fn limit_slug(key: &str) -> Option<&str> {
    key.strip_prefix("allowed_")?
        .strip_suffix("_plans")
        .filter(|s| !s.is_empty())
}

impl Serialize for PartnerKeyCreated {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.limits.0.len() + 5))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("name", &self.name)?;
        for (slug, n) in &self.limits.0 {
            map.serialize_entry(&limit_key(slug), &n.to_string())?;
        }
        map.serialize_entry("notes", &self.notes)?;
        map.serialize_entry("client_id", &self.client_id)?;
        map.serialize_entry("client_secret", &self.client_secret)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for PartnerKeyCreated {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, IgnoredAny};

        /// A limit as upstream sends it (a string), or as a number.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Limit {
            Text(String),
            Number(u64),
        }

        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PartnerKeyCreated;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a partner-keys/new response object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let (mut id, mut name, mut notes, mut client_id, mut client_secret) =
                    (None, None, None, None, None);
                let mut limits = Vec::new();
                while let Some(key) = a.next_key::<String>()? {
                    match key.as_str() {
                        "id" => id = Some(a.next_value()?),
                        "name" => name = Some(a.next_value()?),
                        "notes" => notes = a.next_value()?,
                        "client_id" => client_id = Some(a.next_value()?),
                        "client_secret" => client_secret = Some(a.next_value()?),
                        other => match limit_slug(other) {
                            Some(slug) => {
                                let n = match a.next_value()? {
                                    Limit::Number(n) => n,
                                    Limit::Text(t) => t.trim().parse().map_err(|_| {
                                        A::Error::custom(format!("{other}: {t:?} is not a number"))
                                    })?,
                                };
                                limits.push((slug.to_string(), n));
                            }
                            None => {
                                a.next_value::<IgnoredAny>()?;
                            }
                        },
                    }
                }
                Ok(PartnerKeyCreated {
                    id: id.ok_or_else(|| A::Error::missing_field("id"))?,
                    name: name.ok_or_else(|| A::Error::missing_field("name"))?,
                    limits: OrderedMap(limits),
                    notes,
                    client_id: client_id.ok_or_else(|| A::Error::missing_field("client_id"))?,
                    client_secret: client_secret
                        .ok_or_else(|| A::Error::missing_field("client_secret"))?,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// `jpstart admin partner create` / `admin key create`. `Debug` redacts
/// the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCredentials {
    pub partner_id: u64,
    pub key_id: u64,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("blog_id", &self.blog_id)
            .field("blog_url", &self.blog_url)
            .field("scope", &self.scope)
            .finish()
    }
}

impl std::fmt::Debug for KeyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCredentials")
            .field("partner_id", &self.partner_id)
            .field("key_id", &self.key_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// One row of `jpstart admin activations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminActivation {
    pub id: u64,
    pub blog_id: u64,
    pub site: String,
    pub product: String,
    pub state: String,
    /// `None` for an activation the operator granted outside the partner API.
    pub key_id: Option<u64>,
    pub partner_id: Option<u64>,
    pub created_at: String,
    pub activated_at: Option<String>,
    pub ended_at: Option<String>,
    pub partner_tracking_id: Option<String>,
}

/// The test clock (SPEC §9), as `jpstart admin clock` prints it: the
/// server's now (RFC 3339, to the second) and how far it runs ahead of the
/// system time, in whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockState {
    pub now: String,
    pub offset_s: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_responses_are_redacted_in_debug() {
        let t = TokenResponse {
            access_token: "Tok3nVALUE123456".into(),
            token_type: "bearer".into(),
            blog_id: 0,
            blog_url: 0,
            scope: "jetpack-partner".into(),
        };
        let text = format!("{t:?}");
        assert!(!text.contains("Tok3nVALUE"), "{text}");
        assert!(text.contains("jetpack-partner"), "{text}");
        let k = KeyCredentials {
            partner_id: 1,
            key_id: 2,
            client_id: "2".into(),
            client_secret: "S3cretVALUE".into(),
        };
        let text = format!("{k:?}");
        assert!(!text.contains("S3cretVALUE"), "{text}");
        assert!(text.contains("client_id"), "{text}");
    }

    #[test]
    fn secret_params_are_redacted_in_debug() {
        use crate::params::{FtpParams, SshParams, TokenParams};
        use crate::SecretString;
        let secret = || Some(SecretString::new("Pa55VALUE"));
        let texts = [
            format!(
                "{:?}",
                TokenParams {
                    client_id: Some("7".into()),
                    client_secret: secret(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                SshParams {
                    ssh_user: Some("u".into()),
                    ssh_pass: secret(),
                    ssh_private_key: secret(),
                    ..Default::default()
                }
            ),
            format!(
                "{:?}",
                FtpParams {
                    ftp_user: Some("u".into()),
                    ftp_pass: secret(),
                    ..Default::default()
                }
            ),
        ];
        for text in texts {
            assert!(!text.contains("Pa55VALUE"), "{text}");
            assert!(text.contains("redacted"), "{text}");
        }
    }

    #[test]
    fn error_body_key_order() {
        let body =
            serde_json::to_string(&ErrorBody::new("invalid_blog", "The blog ID 7 is invalid"))
                .unwrap();
        assert_eq!(
            body,
            r#"{"error":"invalid_blog","message":"The blog ID 7 is invalid","error_code":"invalid_blog","error_message":"The blog ID 7 is invalid"}"#
        );
    }

    #[test]
    fn partner_key_created_is_flat_with_string_limits() {
        let created = PartnerKeyCreated {
            id: 10,
            name: "My Key".into(),
            limits: OrderedMap(vec![("personal".into(), 0), ("premium".into(), 100)]),
            notes: None,
            client_id: "10".into(),
            client_secret: SecretString::new("s3cr3t"),
        };
        let text = serde_json::to_string(&created).unwrap();
        assert_eq!(
            text,
            r#"{"id":10,"name":"My Key","allowed_personal_plans":"0","allowed_premium_plans":"100","notes":null,"client_id":"10","client_secret":"s3cr3t"}"#
        );
        assert_eq!(
            serde_json::from_str::<PartnerKeyCreated>(&text).unwrap(),
            created
        );
        assert!(!format!("{created:?}").contains("s3cr3t"));
        // Upstream's documented example, numbers as strings, reads too.
        let upstream = r#"{"id": 10, "name":"My%sKey", "allowed_personal_plans":"0", "allowed_premium_plans":"100", "allowed_professional_plans":"0", "notes":null,"client_id":"12345","client_secret":"ab34fd21,,,"}"#;
        let parsed: PartnerKeyCreated = serde_json::from_str(upstream).unwrap();
        assert_eq!(parsed.limits.get("premium"), Some(&100));
        assert_eq!(parsed.limits.keys().count(), 3);
        assert_eq!(
            limit_slug("allowed_jetpack-scan_plans"),
            Some("jetpack-scan")
        );
        assert_eq!(limit_slug("allowed__plans"), None);
        assert_eq!(limit_slug("allowed_premium"), None);
    }

    #[test]
    fn ordered_map_keeps_order() {
        let m: OrderedMap<u8> = OrderedMap(vec![("z".into(), 1), ("a".into(), 2)]);
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(text, r#"{"z":1,"a":2}"#);
        assert_eq!(serde_json::from_str::<OrderedMap<u8>>(&text).unwrap(), m);
    }
}
