//! `POST /oauth2/token grant_type=authorization_code` (RFC 6749 §4.1.3,
//! SPEC §8): an OAuth app of a partner user exchanges the code
//! `/oauth2/authorize` sent it (`portal/authorize.rs`) for the user's
//! reporting token, as upstream's documented PHP script does (`client_id`,
//! `client_secret`, `code`, `redirect_uri`, multipart or form-encoded).
//!
//! The client's secret is checked first, as for keys (SPEC §11): only a
//! wrong one uses up the failure budget of the client id and the address.
//! The code is then spent in one transaction with the token it buys
//! ([`Store::exchange_code`]): used once, within 10 minutes, by the app it
//! was issued to, for the same `redirect_uri` (absent: the app's own),
//! and not after its user was disabled; each refusal is `invalid_grant`. A
//! second use of a spent code also revokes the token the first use bought
//! (RFC 6749 §4.1.2: the code may have leaked).
//! The answer has the shape of every token answer, `scope` `global` (what
//! the script asks for at `/oauth2/authorize`).
//!
//! [`Store::exchange_code`]: crate::store::Store::exchange_code

use std::net::IpAddr;

use jpstart_types::params::{non_empty, TokenParams};
use jpstart_types::wire::TokenResponse;

use super::{failed, OAuthError, TokenFailure, MAX_CLIENT_ID};
use crate::app::state::AppState;
use crate::domain::errors::OAuthErrorCode;
use crate::secrets;
use crate::store::portal::{CodeExchange, CodeRefusal};

/// The grant type this module answers.
pub const GRANT: &str = "authorization_code";

/// The scope of a partner user's token.
pub const USER_SCOPE: &str = "global";

pub async fn exchange(
    state: &AppState,
    p: &TokenParams,
    peer: Option<IpAddr>,
) -> Result<TokenResponse, TokenFailure> {
    use OAuthErrorCode::*;
    let client_id = non_empty(&p.client_id).ok_or(OAuthError(
        InvalidRequest,
        "The client_id parameter is missing.",
    ))?;
    let secret = p
        .client_secret
        .as_ref()
        .filter(|s| !s.is_empty())
        .ok_or(OAuthError(
            InvalidRequest,
            "The client_secret parameter is missing.",
        ))?;
    let code = p
        .code
        .as_ref()
        .filter(|c| !c.is_empty())
        .ok_or(OAuthError(InvalidRequest, "The code parameter is missing."))?;
    let app = match client_id.trim().parse::<i64>() {
        Ok(id) if id > 0 => state.store.oauth_app(id).await?,
        _ => None,
    };
    // Hash even for an unknown client: timing does not tell which exist.
    let matches = match &app {
        Some(a) => secrets::verify(secret.expose(), &a.secret_digest),
        None => {
            let _ = secrets::verify(secret.expose(), &[0u8; 32]);
            false
        }
    };
    let Some(app) = app.filter(|_| matches) else {
        if let Err(t) = failed(&state.token_limits, client_id, peer) {
            tracing::info!(client_id = %client_id.chars().take(MAX_CLIENT_ID).collect::<String>(), "token requests throttled");
            return Err(TokenFailure::Throttled(t));
        }
        return Err(OAuthError(InvalidClient, "Unknown client_id or wrong client_secret.").into());
    };
    let token = secrets::generate();
    let redirect_uri =
        non_empty(&p.redirect_uri).map_or_else(|| app.redirect_uri.clone(), str::to_string);
    let x = CodeExchange {
        code_digest: secrets::digest(code.expose()),
        app_id: app.id,
        redirect_uri,
        token_digest: secrets::digest(&token),
        now: state.clock.now(),
    };
    let done = match state.store.exchange_code(&x).await? {
        Ok(done) => done,
        Err(why) => {
            tracing::info!(client_id = app.id, refusal = ?why, "authorization code refused");
            if why == CodeRefusal::Used {
                // Someone else may have spent it first: the token it bought
                // is revoked (RFC 6749 §4.1.2).
                let revoked = state.store.revoke_code_token(&x.code_digest, x.now).await?;
                tracing::warn!(
                    client_id = app.id,
                    revoked,
                    "authorization code used twice; its token revoked"
                );
            }
            return Err(OAuthError(InvalidGrant, refusal_text(why)).into());
        }
    };
    tracing::info!(client_id = app.id, user_id = done.user_id, partner_id = %done.partner_id, "user token issued for an authorization code");
    Ok(TokenResponse {
        access_token: token,
        token_type: "bearer".into(),
        blog_id: 0,
        blog_url: 0,
        scope: USER_SCOPE.into(),
    })
}

fn refusal_text(why: CodeRefusal) -> &'static str {
    match why {
        CodeRefusal::Unknown => "The code is not valid for this client.",
        CodeRefusal::Used => "The code has already been used.",
        CodeRefusal::Expired => "The code has expired.",
        CodeRefusal::RedirectMismatch => "The redirect_uri is not the one the code was issued for.",
        CodeRefusal::UserDisabled => "The user who approved this code is disabled.",
    }
}
