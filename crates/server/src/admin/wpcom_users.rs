//! The operator's side of WordPress.com accounts and the mail outbox:
//! `jpstart admin wpcom-user create|list`, `admin partner
//! allow-user-creation`, `admin mail`.

use super::{Admin, AdminError};
use crate::domain::ApiError;
pub use jpstart_types::admin::{MailShown, UserCreationAllowed, WpcomUserShown};
use jpstart_types::PartnerId;

use crate::clock::Timestamp;
use crate::domain::users::{username_base, Email};
use crate::store::{MailFilter, NewWpcomUser, OutboxMail, UserOrigin, WpcomUser};

impl From<WpcomUser> for WpcomUserShown {
    fn from(u: WpcomUser) -> Self {
        WpcomUserShown {
            id: u.id,
            email: u.email,
            username: u.username,
            product_type: u.product_type,
            language: u.language,
            origin: u.origin,
            created_by_partner: u.created_by_partner,
            created_at: u.created_at.rfc3339(),
        }
    }
}

impl From<OutboxMail> for MailShown {
    fn from(m: OutboxMail) -> Self {
        let time = |t: Timestamp| t.rfc3339();
        MailShown {
            id: m.id,
            status: m.status().to_string(),
            kind: m.kind,
            to: m.to,
            subject: m.subject,
            body: m.body,
            partner_id: m.partner_id,
            attempts: m.attempts,
            created_at: time(m.created_at),
            sent_at: m.sent_at.map(time),
            last_error: m.last_error,
        }
    }
}

impl Admin {
    pub async fn allow_user_creation(
        &self,
        partner: i64,
        allowed: bool,
    ) -> Result<UserCreationAllowed, AdminError> {
        let partner = PartnerId::new(partner);
        let now = self.clock.now();
        if !self.store.set_user_creation(partner, allowed, now).await? {
            return Err(AdminError::NotFound(format!("no partner {partner}")));
        }
        Ok(UserCreationAllowed {
            partner_id: partner,
            user_creation: allowed,
        })
    }

    /// Creates an account as the operator (no token is handed out).
    pub async fn create_wpcom_user(
        &self,
        email: &str,
        partner: Option<i64>,
    ) -> Result<WpcomUserShown, AdminError> {
        let partner = partner.map(PartnerId::new);
        let email = Email::parse(email).map_err(|why| {
            AdminError::Invalid(format!("{email:?} is not an e-mail address: {why}"))
        })?;
        let user = NewWpcomUser {
            email: email.as_str().to_string(),
            email_key: email.key(),
            username_base: username_base(&email),
            product_type: None,
            language: None,
            origin: UserOrigin::Operator,
            partner_id: partner,
            token_digest: None,
            now: self.clock.now(),
        };
        if let Some(p) = partner {
            if self.store.user_creation_allowed(p).await?.is_none() {
                return Err(AdminError::NotFound(format!("no partner {p}")));
            }
        }
        match self.store.create_wpcom_user(&user).await? {
            Ok(u) => Ok(u.into()),
            Err(refused) => Err(AdminError::Invalid(ApiError::from(refused).message)),
        }
    }

    pub async fn wpcom_users(
        &self,
        email: Option<&str>,
    ) -> Result<Vec<WpcomUserShown>, AdminError> {
        let key = email.map(|e| e.trim().to_lowercase());
        let users = self.store.wpcom_users(key.as_deref()).await?;
        Ok(users.into_iter().map(Into::into).collect())
    }

    pub async fn mail(&self, to: Option<&str>) -> Result<Vec<MailShown>, AdminError> {
        let filter = MailFilter {
            to: to.map(|t| t.trim().to_string()),
        };
        let mail = self.store.outbox(&filter).await?;
        Ok(mail.into_iter().map(Into::into).collect())
    }
}
