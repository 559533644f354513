//! Parameters and bodies of the WordPress.com account endpoints, the
//! magic link and the public site lookup (upstream: `users/user-creation.md`,
//! `jetpack/jetpack-start-endpoints/mobile-magic-link.md`,
//! `jetpack/determining-connection-status.md`).

use serde::{Deserialize, Serialize};

use crate::params::non_empty;

/// `POST /rest/v1.3/jpphp/user`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `jetpack` or `woocommerce`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    /// What the error table calls it; taken when `product_type` is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// ISO 639 code of the account's language (optional).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl UserParams {
    /// `product_type`, else `product_id`; empty counts as absent.
    pub fn product(&self) -> Option<&str> {
        non_empty(&self.product_type).or_else(|| non_empty(&self.product_id))
    }
}

/// `POST /rest/v1.3/jpphp/user` success.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserCreated {
    pub success: bool,
    /// The access token of the new account (shown only here).
    pub bearer_token: String,
}

impl std::fmt::Debug for UserCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCreated")
            .field("success", &self.success)
            .field("bearer_token", &"[redacted]")
            .finish()
    }
}

/// `POST /rest/v1.3/jpphp/mobile-magic-link`.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MagicLinkParams {
    /// The address to send the login link to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `GET /rest/v1.1/sites/{site}`: the public facts about a site, in
/// upstream's key order. `jetpack` is present (and true) only for a
/// connected site, which is how partners tell a connected one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteInfo {
    #[serde(rename = "ID")]
    pub id: u64,
    pub name: String,
    pub description: String,
    #[serde(rename = "URL")]
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jetpack: Option<bool>,
    pub subscribers_count: u64,
    pub logo: SiteLogo,
    pub is_following: bool,
    pub meta: SiteMeta,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteLogo {
    pub id: u64,
    pub sizes: Vec<String>,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteMeta {
    pub links: SiteLinks,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteLinks {
    #[serde(rename = "self")]
    pub self_: String,
    pub help: String,
    pub posts: String,
    pub comments: String,
    pub xmlrpc: String,
}
