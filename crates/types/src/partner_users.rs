//! What `jpstart admin user ...` prints (SPEC §8): partner users, the
//! people of a partner organisation who sign in to the portal. Not to be
//! confused with WordPress.com accounts (`admin wpcom-user`,
//! [`crate::admin::WpcomUserShown`]).

use serde::{Deserialize, Serialize};

use crate::ids::PartnerId;

/// `admin user create`: the generated password is shown this once (and
/// not at all when it was read from `--password-stdin`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerUserCreated {
    pub user_id: i64,
    pub partner_id: PartnerId,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// One user in `admin user list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerUserShown {
    pub user_id: i64,
    pub partner_id: PartnerId,
    pub email: String,
    pub name: String,
    pub disabled: bool,
    /// RFC 3339.
    pub created_at: String,
}

/// `admin user disable|enable`: disabling revokes every session and
/// reporting token of the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerUserState {
    pub user_id: i64,
    pub disabled: bool,
    pub revoked_sessions: u64,
    pub revoked_tokens: u64,
}
