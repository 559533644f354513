//! Who may read and manage a partner's resources (SPEC §8): the
//! authentication of every `/wpcom/v2/jetpack-partners/...` endpoint of
//! §8–§10, as one extractor and the reach rules beside it, so that no
//! endpoint writes its own cross-partner check.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jpstart_types::{KeyId, PartnerId};

use crate::app::state::AppState;
use crate::auth::{Caller, PARTNER_SCOPE};
use crate::domain::{lifecycle, ApiError, ErrorCode};
use crate::secrets;
use crate::store::KeyRecord;

/// The bearer of a reporting request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// A partner key's own `jetpack-partner` token: reads its own key and
    /// its sub-keys; a top-level key also its partner's request log,
    /// webhooks and Monitor URL.
    Key {
        caller: Caller,
        parent_key_id: Option<KeyId>,
    },
    /// A partner user's token (portal session or authorization-code
    /// flow): reads and manages every key of its partner.
    User { user_id: i64, partner_id: PartnerId },
}

impl Reader {
    /// What the extractor rejects a request with, and the 403 of the reach
    /// checks below.
    pub const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::AuthorizationRequired,
        ErrorCode::InvalidToken,
        ErrorCode::PartnerKeyDisabled,
        ErrorCode::InvalidScope,
        ErrorCode::InternalError,
        ErrorCode::Forbidden,
    ];

    pub fn partner_id(&self) -> PartnerId {
        match self {
            Reader::Key { caller, .. } => caller.partner_id,
            Reader::User { partner_id, .. } => *partner_id,
        }
    }

    /// The key whose token this is (`None` for a user).
    pub fn key_id(&self) -> Option<KeyId> {
        match self {
            Reader::Key { caller, .. } => Some(caller.key_id),
            Reader::User { .. } => None,
        }
    }

    /// Refuses every partner but the bearer's own.
    pub fn check_partner(&self, partner: PartnerId) -> Result<(), ApiError> {
        if partner == self.partner_id() {
            Ok(())
        } else {
            Err(forbidden(&format!(
                "This token does not belong to partner {partner}."
            )))
        }
    }

    /// Whether the bearer may read `key` of `partner`; a key of another
    /// partner, or one that does not exist, is the same 403 so that ids of
    /// other partners' keys cannot be probed.
    pub fn check_key(&self, partner: PartnerId, key: &KeyRecord) -> Result<(), ApiError> {
        self.check_partner(partner)?;
        if key.partner_id != partner {
            return Err(key_out_of_reach(key.id));
        }
        match self {
            Reader::User { .. } => Ok(()),
            Reader::Key { caller, .. }
                if key.id == caller.key_id || key.parent_key_id == Some(caller.key_id) =>
            {
                Ok(())
            }
            Reader::Key { .. } => Err(key_out_of_reach(key.id)),
        }
    }

    /// Loads `key` and checks it is within reach ([`Self::check_key`]).
    pub async fn key_in_reach(
        &self,
        state: &AppState,
        partner: PartnerId,
        key: KeyId,
    ) -> Result<KeyRecord, ApiError> {
        self.check_partner(partner)?;
        let record = state
            .store
            .key(key)
            .await?
            .ok_or_else(|| key_out_of_reach(key))?;
        self.check_key(partner, &record)?;
        Ok(record)
    }

    /// Whether the bearer may act for the whole partner (its request log,
    /// webhooks, Monitor URL): a user, or a top-level key; never a sub-key.
    pub fn check_manage(&self, partner: PartnerId) -> Result<(), ApiError> {
        self.check_partner(partner)?;
        match self {
            Reader::Key {
                parent_key_id: Some(_),
                ..
            } => Err(forbidden(
                "A sub-key cannot manage its partner's resources.",
            )),
            _ => Ok(()),
        }
    }

    /// A sub-key's token: sees only its own requests (SPEC §9).
    pub fn is_sub_key(&self) -> bool {
        matches!(
            self,
            Reader::Key {
                parent_key_id: Some(_),
                ..
            }
        )
    }
}

fn forbidden(reason: &str) -> ApiError {
    ApiError::with_arg(ErrorCode::Forbidden, reason)
}

fn key_out_of_reach(key: KeyId) -> ApiError {
    forbidden(&format!("Key {key} is not within this token's reach."))
}

impl crate::rest::rejects::Rejects for Reader {
    const ERRORS: &'static [ErrorCode] = Reader::ERRORS;
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = crate::auth::bearer(parts)?;
        let digest = secrets::digest(token.expose());
        // Read on every request, never cached (SPEC §11), like `Caller`.
        if let Some(record) = state.store.token(&digest).await? {
            crate::request_log::note_key(parts, Some(record.key_id), record.partner_id);
            if lifecycle::key_disabled(record.disabled, record.parent_disabled) {
                return Err(ErrorCode::PartnerKeyDisabled.into());
            }
            if record.scope != PARTNER_SCOPE {
                return Err(ErrorCode::InvalidScope.into());
            }
            return Ok(Reader::Key {
                caller: Caller {
                    key_id: record.key_id,
                    partner_id: record.partner_id,
                    is_sub_key: record.parent_key_id.is_some(),
                    test: record.test,
                },
                parent_key_id: record.parent_key_id,
            });
        }
        // A partner user's token (portal or authorization-code flow): the
        // lookup refuses a revoked token and a disabled user's, so both
        // fail on the very next request.
        match state.store.user_token(&digest).await? {
            Some(user) => Ok(Reader::User {
                user_id: user.user_id,
                partner_id: user.partner_id,
            }),
            None => Err(ErrorCode::InvalidToken.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: i64, partner: i64, parent: Option<i64>) -> KeyRecord {
        KeyRecord {
            id: KeyId::new(id),
            partner_id: PartnerId::new(partner),
            parent_key_id: parent.map(KeyId::new),
            name: String::new(),
            secret_digest: Vec::new(),
            disabled: false,
            parent_disabled: false,
            test: false,
        }
    }

    fn reader_of(k: &KeyRecord) -> Reader {
        Reader::Key {
            caller: Caller {
                key_id: k.id,
                partner_id: k.partner_id,
                is_sub_key: k.parent_key_id.is_some(),
                test: false,
            },
            parent_key_id: k.parent_key_id,
        }
    }

    #[test]
    fn reach() {
        let p = PartnerId::new(1);
        let top = key(1, 1, None);
        let sub = key(2, 1, Some(1));
        let sibling = key(3, 1, None);
        let other = key(4, 2, None);
        let user = Reader::User {
            user_id: 7,
            partner_id: p,
        };
        let code = |r: Result<(), ApiError>| r.map_err(|e| e.code);
        assert_eq!(code(reader_of(&top).check_key(p, &top)), Ok(()));
        assert_eq!(code(reader_of(&top).check_key(p, &sub)), Ok(()));
        assert_eq!(code(reader_of(&sub).check_key(p, &sub)), Ok(()));
        assert_eq!(
            code(reader_of(&sub).check_key(p, &top)),
            Err(ErrorCode::Forbidden)
        );
        assert_eq!(
            code(reader_of(&top).check_key(p, &sibling)),
            Err(ErrorCode::Forbidden)
        );
        assert_eq!(code(user.check_key(p, &sibling)), Ok(()));
        // Another partner's key, even named under the caller's partner id.
        assert_eq!(code(user.check_key(p, &other)), Err(ErrorCode::Forbidden));
        assert_eq!(
            code(user.check_key(PartnerId::new(2), &other)),
            Err(ErrorCode::Forbidden)
        );
        assert_eq!(code(reader_of(&top).check_manage(p)), Ok(()));
        assert_eq!(
            code(reader_of(&sub).check_manage(p)),
            Err(ErrorCode::Forbidden)
        );
        assert_eq!(code(user.check_manage(p)), Ok(()));
        assert_eq!(
            code(user.check_manage(PartnerId::new(2))),
            Err(ErrorCode::Forbidden)
        );
    }
}
