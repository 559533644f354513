//! Values going in and out of the [`Store`](super::Store) for the partner
//! portal (SPEC §8): partner users, sessions, OAuth apps, codes and user
//! tokens. Secrets travel as SHA-256 digests only.

use jpstart_types::PartnerId;

use crate::clock::Timestamp;

/// A partner user to create.
#[derive(Clone, Debug)]
pub struct NewPartnerUser {
    pub partner_id: PartnerId,
    /// The address as given, and lowercased (unique).
    pub email: String,
    pub email_key: String,
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub now: Timestamp,
}

/// A partner user as stored (without the password hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerUser {
    pub id: i64,
    pub partner_id: PartnerId,
    pub email: String,
    pub name: String,
    pub disabled: bool,
    pub created_at: Timestamp,
}

/// Why a partner user was not created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartnerUserRefusal {
    NoPartner,
    /// The address has a user already, whatever its case.
    EmailTaken,
}

/// What signing in needs: the user and its password hash.
#[derive(Clone, Debug)]
pub struct PartnerUserLogin {
    pub user: PartnerUser,
    pub password_hash: String,
}

/// A session that is still good: its user (not disabled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub user: PartnerUser,
    pub expires_at: Timestamp,
}

/// What disabling or enabling a user did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserDisabled {
    /// Sessions and tokens revoked (0 when enabling).
    pub revoked_sessions: u64,
    pub revoked_tokens: u64,
}

/// An OAuth app to register.
#[derive(Clone, Debug)]
pub struct NewOAuthApp {
    pub partner_id: PartnerId,
    pub user_id: i64,
    pub name: String,
    pub redirect_uri: String,
    pub secret_digest: Vec<u8>,
    pub now: Timestamp,
}

/// An OAuth app as stored; the client id is `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthApp {
    pub id: i64,
    pub partner_id: PartnerId,
    pub user_id: i64,
    pub name: String,
    pub redirect_uri: String,
    pub secret_digest: Vec<u8>,
    pub created_at: Timestamp,
}

/// An authorization code to store.
#[derive(Clone, Debug)]
pub struct NewAuthCode {
    pub digest: Vec<u8>,
    pub app_id: i64,
    pub user_id: i64,
    pub redirect_uri: String,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// A code exchanged for a token.
#[derive(Clone, Debug)]
pub struct CodeExchange {
    pub code_digest: Vec<u8>,
    pub app_id: i64,
    /// The token request's `redirect_uri`, which must be the code's.
    pub redirect_uri: String,
    /// The token's digest, stored if the code is good.
    pub token_digest: Vec<u8>,
    pub now: Timestamp,
}

/// Why a code was not exchanged (RFC 6749 `invalid_grant` for each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Unknown, or issued to another app.
    Unknown,
    Used,
    Expired,
    /// The token request names another `redirect_uri` than the code's.
    RedirectMismatch,
    /// Its user was disabled since.
    UserDisabled,
}

/// A code that was good: whose token was issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExchangedCode {
    pub user_id: i64,
    pub partner_id: PartnerId,
}

/// What a partner user's token reads: its user (enabled) and partner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserTokenRecord {
    pub user_id: i64,
    pub partner_id: PartnerId,
}
