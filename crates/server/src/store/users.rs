//! Values going in and out of the [`Store`](super::Store) for WordPress.com
//! accounts and the mail outbox.

use jpstart_types::{ActivationId, BlogId, KeyId, PartnerId};

use crate::clock::Timestamp;
use crate::domain::users::Mail;

/// Who made an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserOrigin {
    /// `POST /rest/v1.3/jpphp/user`.
    Api,
    /// Automatic account creation at provision.
    Provision,
    /// `jpstart admin wpcom-user create`.
    Operator,
}

impl UserOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            UserOrigin::Api => "api",
            UserOrigin::Provision => "provision",
            UserOrigin::Operator => "operator",
        }
    }
}

/// An account to create.
#[derive(Clone, Debug)]
pub struct NewWpcomUser {
    /// The address as given, and lowercased (unique).
    pub email: String,
    pub email_key: String,
    /// The username to start from; a digit suffix is added while it is taken.
    pub username_base: String,
    pub product_type: Option<String>,
    pub language: Option<String>,
    pub origin: UserOrigin,
    pub partner_id: Option<PartnerId>,
    /// Digest of the token handed out with the account, if any.
    pub token_digest: Option<Vec<u8>>,
    pub now: Timestamp,
}

/// An account as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WpcomUser {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub product_type: Option<String>,
    pub language: Option<String>,
    pub origin: String,
    pub created_by_partner: Option<PartnerId>,
    pub created_at: Timestamp,
}

/// Automatic account creation for a provision that just succeeded.
#[derive(Clone, Debug)]
pub struct AutoAccount {
    pub partner_id: PartnerId,
    pub key_id: KeyId,
    pub blog_id: BlogId,
    /// With `token_digest` set, `origin` [`UserOrigin::Provision`].
    pub user: NewWpcomUser,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoAccountOutcome {
    pub user: WpcomUser,
    /// The partner's pending activations on the site that became active.
    pub activated: Vec<ActivationId>,
    pub was_connected: bool,
}

/// A message for the outbox.
#[derive(Clone, Debug)]
pub struct NewMail {
    pub mail: Mail,
    pub partner_id: Option<PartnerId>,
    pub now: Timestamp,
}

/// A message of the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: i64,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub partner_id: Option<PartnerId>,
    pub created_at: Timestamp,
    /// Delivery attempts started so far.
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    /// Set when the sender gave up.
    pub failed_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

impl OutboxMail {
    /// `queued`, `sent` or `failed`.
    pub fn status(&self) -> &'static str {
        match (self.sent_at, self.failed_at) {
            (Some(_), _) => "sent",
            (None, Some(_)) => "failed",
            (None, None) => "queued",
        }
    }
}

/// Which messages `admin mail` lists.
#[derive(Clone, Debug, Default)]
pub struct MailFilter {
    /// The recipient, compared without regard to case.
    pub to: Option<String>,
}
