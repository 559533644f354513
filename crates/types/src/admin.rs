//! What the operator's commands (`jpstart admin ...`, SPEC §6) print: one
//! JSON object (or array) on stdout per command. Shared by the server's
//! `Admin`, the binary and anything that reads the operator's output.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{ActivationId, KeyId, PartnerId};

/// `admin key disable|enable`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    pub key_id: KeyId,
    pub disabled: bool,
}

/// One key in `admin key list` (SPEC §11): who it belongs to, its flags,
/// its limits and how much of them live activations use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyListed {
    pub key_id: KeyId,
    pub partner_id: PartnerId,
    /// The key a sub-key was created with; `None` for a partner's own key.
    pub parent_key_id: Option<KeyId>,
    pub name: String,
    /// Set on the key itself; a sub-key of a disabled key is refused too.
    pub disabled: bool,
    pub test: bool,
    /// Product → live activations allowed, as stored (a product absent here
    /// is unlimited for a partner's own key, and 0 for a sub-key).
    pub limits: BTreeMap<String, i64>,
    /// Product → the key's own live (pending or active) activations.
    pub live: BTreeMap<String, i64>,
    /// Product → the live activations of the key and all its sub-keys: what
    /// the key's limits are checked against.
    pub live_with_sub_keys: BTreeMap<String, i64>,
}

/// `admin token revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    pub revoked: u64,
}

/// `admin site connect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connected {
    pub blog_id: u64,
    pub site: String,
    pub was_connected: bool,
    pub activated: Vec<ActivationId>,
}

/// `admin site show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteShown {
    pub blog_id: u64,
    pub site: String,
    pub url: String,
    pub connected: bool,
    pub has_backups_credentials: bool,
    pub live: Vec<LiveShown>,
}

/// A live activation in [`SiteShown`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveShown {
    pub activation_id: ActivationId,
    pub product: String,
    /// `pending` or `active`.
    pub state: String,
    /// `None` for a product the operator granted.
    pub key_id: Option<KeyId>,
}

/// `admin site grant`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Granted {
    pub activation_id: ActivationId,
    pub site: String,
    pub product: String,
}

/// `admin partner allow-redirect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectAllowed {
    pub partner_id: PartnerId,
    pub prefix: String,
    pub added: bool,
}

/// What `admin backup` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackedUp {
    /// The copy of the database.
    pub database: String,
    /// The copy of the server key (`<FILE>.key`), when the database has one
    /// beside it: without it the stored credentials cannot be opened.
    pub key: Option<String>,
}

/// `jpstart admin partner allow-user-creation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCreationAllowed {
    pub partner_id: PartnerId,
    pub user_creation: bool,
}

/// One account as `admin wpcom-user` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WpcomUserShown {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub product_type: Option<String>,
    pub language: Option<String>,
    /// `api`, `provision` or `operator`.
    pub origin: String,
    pub created_by_partner: Option<PartnerId>,
    pub created_at: String,
}

/// One message as `admin mail` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailShown {
    pub id: i64,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub partner_id: Option<PartnerId>,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub last_error: Option<String>,
}
