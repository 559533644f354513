//! Request parameters, one struct per endpoint.
//!
//! The server merges query string and body (any of the four formats) into one
//! object of strings and deserializes it into these structs; the client
//! serializes them as a form. Parameters an endpoint does not know are
//! ignored. Fields whose absence has its own documented error are `Option`s
//! so that the handler, not serde, chooses the error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{SecretString, Truthy};

/// `POST /oauth2/token`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenParams {
    /// `client_credentials` (a partner key) or `authorization_code` (an
    /// OAuth app of a partner user, SPEC §8).
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub scope: Option<String>,
    /// `authorization_code`: the code `/oauth2/authorize` sent to the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<SecretString>,
    /// `authorization_code`: the `redirect_uri` the code was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
}

/// SSH credentials, as accepted by provision and `/{blog_id}/ssh-credentials`
/// (`ssh_host` defaults to the site's host at provision only; the endpoint
/// requires it, as upstream documents).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SshParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_pass: Option<SecretString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_private_key: Option<SecretString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_port: Option<String>,
}

/// FTP credentials, as accepted by provision and `/{blog_id}/ftp-credentials`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FtpParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ftp_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ftp_pass: Option<SecretString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ftp_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ftp_port: Option<String>,
}

/// `POST /rest/v1.3/jpphp/provision` and `/{blog_id}/partner-provision`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProvisionParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub siteurl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_user: Option<String>,
    /// The older name of `local_user`, still sent by old scripts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_username: Option<String>,
    /// What the Jetpack plugin's `partner-provision` call sends instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_login: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(default)]
    pub force_register: Truthy,
    #[serde(default)]
    pub force_connect: Truthy,
    #[serde(default)]
    pub onboarding: Truthy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wpcom_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wpcom_user_email: Option<String>,
    #[serde(flatten)]
    pub ssh: SshParams,
    #[serde(flatten)]
    pub ftp: FtpParams,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_tracking_id: Option<String>,
    #[serde(
        rename = "partner-tracking-id",
        skip_serializing_if = "Option::is_none"
    )]
    pub partner_tracking_id_dashed: Option<String>,
}

impl ProvisionParams {
    /// `local_user`, or the older `local_username`, or the plugin's
    /// `user_login`; empty counts as absent.
    pub fn local_user(&self) -> Option<&str> {
        non_empty(&self.local_user)
            .or_else(|| non_empty(&self.local_username))
            .or_else(|| non_empty(&self.user_login))
    }

    /// `partner_tracking_id`, or `partner-tracking-id`; empty counts as absent.
    pub fn tracking_id(&self) -> Option<&str> {
        non_empty(&self.partner_tracking_id).or_else(|| non_empty(&self.partner_tracking_id_dashed))
    }
}

/// `POST /rest/v1.3/jpphp/{site}/partner-cancel`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(rename = "cancel-all", default)]
    pub cancel_all: Truthy,
    /// Accepted as a synonym: some integrations send the underscore form.
    #[serde(rename = "cancel_all", default, skip_serializing)]
    pub cancel_all_underscore: Truthy,
}

impl CancelParams {
    pub fn cancel_all(&self) -> bool {
        self.cancel_all.get() || self.cancel_all_underscore.get()
    }
}

/// `GET /rest/v1.3/jpphp/errors`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorsParams {
    /// Present with any value: the verbose catalogue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verbose: Option<String>,
}

/// `POST /rest/v1.3/jpphp/partner-keys/new`: a name and
/// `allowed_{product}_plans` limits, collected from the other parameters.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct PartnerKeyNewParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub rest: BTreeMap<String, String>,
}

/// `GET|POST /authorize/{token}`, the authorization page.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthorizeParams {
    /// Where to send the site owner after approval; honoured only under a
    /// prefix the link's partner has allow-listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_redirect: Option<String>,
    /// The anti-forgery token of the page's form, bound to the link; an
    /// approval without it is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form_token: Option<String>,
}

/// `GET .../status`, `.../upgrade-paths`: no parameters of their own.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoParams {}

/// `Some(s)` for a present, non-empty string.
pub fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::truthy::is_truthy;
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    fn object(pairs: &BTreeMap<String, String>) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect::<Map<_, _>>(),
        )
    }

    fn names() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("siteurl".to_string()),
            Just("local_user".to_string()),
            Just("local_username".to_string()),
            Just("plan".to_string()),
            Just("force_register".to_string()),
            Just("cancel-all".to_string()),
            Just("cancel_all".to_string()),
            Just("ssh_port".to_string()),
            Just("ssh_pass".to_string()),
            Just("partner-tracking-id".to_string()),
            Just("grant_type".to_string()),
            Just("client_secret".to_string()),
            Just("name".to_string()),
            "[a-z_-]{1,12}",
        ]
    }

    proptest! {
        /// What the server hands these structs (an object of strings) always
        /// deserializes, whatever the names and values: unknown keys are
        /// ignored, booleans follow the truthy rule.
        #[test]
        fn any_string_object_deserializes(
            pairs in proptest::collection::btree_map(names(), "\\PC{0,20}", 0..10),
        ) {
            let v = object(&pairs);
            let p: ProvisionParams = serde_json::from_value(v.clone()).unwrap();
            let want = pairs.get("force_register").is_some_and(|s| is_truthy(s));
            prop_assert_eq!(p.force_register.get(), want);
            let c: CancelParams = serde_json::from_value(v.clone()).unwrap();
            let want = ["cancel-all", "cancel_all"]
                .iter()
                .any(|k| pairs.get(*k).is_some_and(|s| is_truthy(s)));
            prop_assert_eq!(c.cancel_all(), want);
            serde_json::from_value::<TokenParams>(v.clone()).unwrap();
            serde_json::from_value::<SshParams>(v.clone()).unwrap();
            serde_json::from_value::<FtpParams>(v.clone()).unwrap();
            serde_json::from_value::<ErrorsParams>(v.clone()).unwrap();
            serde_json::from_value::<AuthorizeParams>(v.clone()).unwrap();
            let k: PartnerKeyNewParams = serde_json::from_value(v).unwrap();
            prop_assert_eq!(k.name.as_ref(), pairs.get("name"));
        }

        /// Parameters a client serializes read back the same.
        #[test]
        fn provision_params_round_trip(
            siteurl in "\\PC{0,20}",
            user in "\\PC{0,10}",
            force in any::<bool>(),
            ssh_pass in proptest::option::of("\\PC{0,10}"),
        ) {
            let p = ProvisionParams {
                siteurl: Some(siteurl.clone()),
                local_user: Some(user.clone()),
                force_connect: Truthy(force),
                ssh: SshParams { ssh_pass: ssh_pass.clone().map(SecretString::new), ..Default::default() },
                ..Default::default()
            };
            let back: ProvisionParams =
                serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
            prop_assert_eq!(back.siteurl, Some(siteurl));
            prop_assert_eq!(back.local_user, Some(user));
            prop_assert_eq!(back.force_connect, Truthy(force));
            prop_assert_eq!(back.ssh.ssh_pass.map(|s| s.expose().to_string()), ssh_pass);
        }
    }
}
