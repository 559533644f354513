//! The operator's side of partner users (SPEC §8): `jpstart admin user
//! create|list|disable|enable`.

use jpstart_types::partner_users::{PartnerUserCreated, PartnerUserShown, PartnerUserState};
use jpstart_types::PartnerId;

use super::{Admin, AdminError};
use crate::domain::partner_users as rules;
use crate::domain::users::Email;
use crate::store::portal::{NewPartnerUser, PartnerUser, PartnerUserRefusal};

impl From<PartnerUser> for PartnerUserShown {
    fn from(u: PartnerUser) -> Self {
        PartnerUserShown {
            user_id: u.id,
            partner_id: u.partner_id,
            email: u.email,
            name: u.name,
            disabled: u.disabled,
            created_at: u.created_at.rfc3339(),
        }
    }
}

impl Admin {
    /// Creates a user with `password`, or a generated one (returned, shown
    /// once).
    pub async fn create_partner_user(
        &self,
        partner: i64,
        email: &str,
        name: Option<&str>,
        password: Option<&str>,
    ) -> Result<PartnerUserCreated, AdminError> {
        let email = Email::parse(email).map_err(|why| {
            AdminError::Invalid(format!("{email:?} is not an e-mail address: {why}"))
        })?;
        let name = rules::clean_name(name.unwrap_or_default()).map_err(AdminError::Invalid)?;
        let generated = password.is_none().then(rules::generate_password);
        let password = password.or(generated.as_deref()).unwrap_or_default();
        rules::check_password(password).map_err(AdminError::Invalid)?;
        let password = password.to_string();
        let hash = tokio::task::spawn_blocking(move || rules::hash_password(&password))
            .await
            .map_err(|e| AdminError::Invalid(e.to_string()))?
            .map_err(AdminError::Invalid)?;
        let user = NewPartnerUser {
            partner_id: PartnerId::new(partner),
            email: email.as_str().to_string(),
            email_key: email.key(),
            name,
            password_hash: hash,
            now: self.clock.now(),
        };
        match self.store.create_partner_user(&user).await? {
            Ok(u) => Ok(PartnerUserCreated {
                user_id: u.id,
                partner_id: u.partner_id,
                email: u.email,
                password: generated,
            }),
            Err(PartnerUserRefusal::NoPartner) => {
                Err(AdminError::NotFound(format!("no partner {partner}")))
            }
            Err(PartnerUserRefusal::EmailTaken) => Err(AdminError::Invalid(format!(
                "{} already has a partner user",
                email.as_str()
            ))),
        }
    }

    pub async fn partner_users(
        &self,
        partner: Option<i64>,
    ) -> Result<Vec<PartnerUserShown>, AdminError> {
        let users = self
            .store
            .partner_users(partner.map(PartnerId::new))
            .await?;
        Ok(users.into_iter().map(Into::into).collect())
    }

    /// Disables (revoking its sessions and tokens) or enables a user.
    pub async fn set_partner_user_disabled(
        &self,
        id: i64,
        disabled: bool,
    ) -> Result<PartnerUserState, AdminError> {
        let out = self
            .store
            .set_partner_user_disabled(id, disabled, self.clock.now())
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("no partner user {id}")))?;
        Ok(PartnerUserState {
            user_id: id,
            disabled,
            revoked_sessions: out.revoked_sessions,
            revoked_tokens: out.revoked_tokens,
        })
    }
}
