//! Bearer authentication (SPEC §3) as an extractor: a handler that takes a
//! [`Caller`] argument cannot run without a valid partner token.

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use jpstart_types::AccessToken;

use crate::app::state::AppState;
use crate::clock::Timestamp;
use crate::domain::bounds;
use crate::domain::{lifecycle, ApiError, ErrorCode};
use crate::secrets;
use crate::store::TokenRecord;
use jpstart_types::{KeyId, PartnerId};

/// The only scope partner endpoints accept.
pub const PARTNER_SCOPE: &str = "jetpack-partner";

/// The partner key a request is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub key_id: KeyId,
    pub partner_id: PartnerId,
    /// A reseller's sub-key: may provision only products it has a limit for.
    pub is_sub_key: bool,
    pub test: bool,
}

impl Caller {
    /// What the extractor rejects a request with; a store fault while the
    /// token is looked up is `internal_error`.
    pub const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::AuthorizationRequired,
        ErrorCode::InvalidToken,
        ErrorCode::PartnerKeyDisabled,
        ErrorCode::InvalidScope,
        ErrorCode::InternalError,
    ];
}

impl crate::rest::rejects::Rejects for Caller {
    const ERRORS: &'static [ErrorCode] = Caller::ERRORS;
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        let digest = secrets::digest(token.expose());
        // Read on every request, never cached: a revoked token or a
        // disabled key is refused on the very next request, on every server.
        let record = state.store.token(&digest).await?;
        admit(parts, state, &digest, record).await
    }
}

/// The checks of [`Caller`] on a token looked up by its digest (`None`:
/// unknown or revoked), for a handler that loads the token beside its own
/// data in one read ([`crate::store::Store::token_and_site`]).
pub(crate) async fn admit(
    parts: &Parts,
    state: &AppState,
    digest: &[u8],
    record: Option<TokenRecord>,
) -> Result<Caller, ApiError> {
    let record = record.ok_or(ErrorCode::InvalidToken)?;
    crate::request_log::note_key(parts, Some(record.key_id), record.partner_id);
    touch(state, digest, record.last_used_at).await;
    if lifecycle::key_disabled(record.disabled, record.parent_disabled) {
        return Err(ErrorCode::PartnerKeyDisabled.into());
    }
    if record.scope != PARTNER_SCOPE {
        return Err(ErrorCode::InvalidScope.into());
    }
    Ok(Caller {
        key_id: record.key_id,
        partner_id: record.partner_id,
        is_sub_key: record.parent_key_id.is_some(),
        test: record.test,
    })
}

/// Records the token's use when it is due ([`bounds::needs_touch`]: at
/// most once per interval, not a write per request), so that the token cap
/// revokes the least recently used. A failure to record it does not fail
/// the request: the token was valid; it is logged.
async fn touch(state: &AppState, digest: &[u8], last_used_at: Option<Timestamp>) {
    let now = state.clock.now();
    if !bounds::needs_touch(last_used_at, now, state.bounds.token_touch_interval) {
        return;
    }
    if let Err(e) = state.store.touch_token(digest, now).await {
        tracing::warn!(error = %e, "could not record a token's use");
    }
}

/// The token of an `Authorization: Bearer TOKEN` header. No header (or
/// another scheme) is `authorization_required`; a malformed token cannot be
/// one we issued, so it is `invalid_token`.
pub(crate) fn bearer(parts: &Parts) -> Result<AccessToken, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(ErrorCode::AuthorizationRequired)?
        .to_str()
        .map_err(|_| ErrorCode::InvalidToken)?;
    parse_bearer(value)
}

pub fn parse_bearer(value: &str) -> Result<AccessToken, ApiError> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ErrorCode::AuthorizationRequired.into());
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(ErrorCode::AuthorizationRequired.into());
    }
    AccessToken::parse(token).map_err(|_| ErrorCode::InvalidToken.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bearer_headers() {
        let code = |s: &str| {
            parse_bearer(s)
                .map(|t| t.expose().to_string())
                .map_err(|e| e.code)
        };
        assert_eq!(
            code("Bearer abcdefghijklmnop1234"),
            Ok("abcdefghijklmnop1234".into())
        );
        assert_eq!(
            code("bearer   abcdefghijklmnop1234 "),
            Ok("abcdefghijklmnop1234".into())
        );
        assert_eq!(code("Basic abc"), Err(ErrorCode::AuthorizationRequired));
        assert_eq!(code("Bearer"), Err(ErrorCode::AuthorizationRequired));
        assert_eq!(code("Bearer not-a-token!"), Err(ErrorCode::InvalidToken));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,100}") {
            let _ = parse_bearer(&s);
        }

        #[test]
        fn round_trips(t in "[A-Za-z0-9]{16,100}") {
            let parsed = parse_bearer(&format!("Bearer {t}")).unwrap();
            prop_assert_eq!(parsed.expose(), t.as_str());
        }
    }
}
