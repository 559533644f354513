//! `POST /oauth2/token` (SPEC §3): the client-credentials grant of partner
//! keys, and the authorization-code grant of partner users' OAuth apps
//! (SPEC §8, [`code`]).

#[path = "oauth_code.rs"]
mod code;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use jpstart_types::params::{non_empty, TokenParams};
use jpstart_types::wire::{OAuthErrorBody, TokenResponse};
use jpstart_types::{KeyId, SecretString};

use crate::app::state::AppState;
use crate::app::state::TokenLimits;
use crate::auth::PARTNER_SCOPE;
use crate::domain::errors::OAuthErrorCode;
use crate::domain::ErrorCode;
use crate::rest::params::{collect, MAX_BODY};
use crate::rest::{operation, Endpoint};
use crate::secrets;
use crate::throttle::{address_bucket, Throttled};

/// `POST /oauth2/token`. Throttled inside the handler, after the secret is
/// checked (SPEC §11), not by a middleware in front of it.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![Endpoint::plain(operation!(token), |_| post(token))]
}

/// Counts one wrong secret against the client id and the address; a refusal
/// once either budget is spent. Both are counted even when one refuses, so an
/// address cannot spread guesses over fresh client ids without spending its
/// own budget.
fn failed(limits: &TokenLimits, client_id: &str, peer: Option<IpAddr>) -> Result<(), Throttled> {
    let by_address = peer.map_or(Ok(()), |ip| limits.per_address.check(&address_bucket(ip)));
    let by_client = if client_id.len() <= MAX_CLIENT_ID {
        limits.per_client.check(&client_id.to_string())
    } else {
        Ok(())
    };
    match (by_address, by_client) {
        (Err(a), Err(c)) => Err(a.max(c)),
        (Err(t), _) | (_, Err(t)) => Err(t),
        _ => Ok(()),
    }
}

/// Client ids are numbers; a longer one is certainly made up and gets no
/// bucket of its own (it is still counted against its address).
const MAX_CLIENT_ID: usize = 32;

/// Status 429, RFC 6749-shaped body (`error` `too_many_requests`, an
/// extension code as §8.5 allows, named as the real service names its other
/// throttle) and `Retry-After` in seconds (RFC 9110 §10.2.3).
pub fn too_many_requests(t: Throttled) -> Response {
    let secs = t.retry_after_secs();
    let body = OAuthErrorBody {
        error: OAuthErrorCode::TooManyRequests.code().to_string(),
        error_description: format!("Too many token requests. Retry after {secs} seconds."),
    };
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::RETRY_AFTER, secs.to_string()),
        ],
        Json(body),
    )
        .into_response()
}

/// An RFC 6749 §5.2 error: status 400 and `{"error","error_description"}`.
struct OAuthError(OAuthErrorCode, &'static str);

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        oauth_error(StatusCode::BAD_REQUEST, self.0, self.1.to_string())
    }
}

/// The RFC 6749 body with another status (413 for an oversized body).
fn oauth_error(status: StatusCode, code: OAuthErrorCode, description: String) -> Response {
    let body = OAuthErrorBody {
        error: code.code().to_string(),
        error_description: description,
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `POST /oauth2/token`: a token for a key's credentials or an app's code.
///
/// `client_credentials`: a partner key's token; `authorization_code`: the
/// token of the partner user who approved the app at `/oauth2/authorize`.
#[utoipa::path(
    post,
    path = "/oauth2/token",
    tag = "oauth2",
    request_body(
        content(
            (TokenParams = "application/x-www-form-urlencoded"),
            (TokenParams = "multipart/form-data"),
        )
    ),
    responses(
        (status = 200, description = "A token; it does not expire but can be revoked by the operator.", body = TokenResponse),
        (status = 400, description = "RFC 6749 §5.2: `error` is one of invalid_request, invalid_client, invalid_grant, unsupported_grant_type, invalid_scope.", body = OAuthErrorBody),
        (status = 413, description = "The body is larger than 65536 bytes: `invalid_request` in the RFC 6749 shape.", body = OAuthErrorBody),
    ),
)]
pub async fn token(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    match issue(&state, req).await {
        Ok(body) => ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response(),
        Err(TokenFailure::OAuth(e)) => e.into_response(),
        Err(TokenFailure::Api(e)) => e.into_response(),
        Err(TokenFailure::Throttled(t)) => too_many_requests(t),
        // RFC 6749 has no code for it, but the status tells the client what
        // to fix (issue 8); the body keeps the RFC's shape.
        Err(TokenFailure::TooLarge) => oauth_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            OAuthErrorCode::InvalidRequest,
            format!("The request body is larger than {MAX_BODY} bytes."),
        ),
    }
}

enum TokenFailure {
    OAuth(OAuthError),
    Api(crate::domain::ApiError),
    Throttled(Throttled),
    /// The body exceeds [`MAX_BODY`].
    TooLarge,
}

impl From<OAuthError> for TokenFailure {
    fn from(e: OAuthError) -> Self {
        TokenFailure::OAuth(e)
    }
}

impl From<crate::store::StoreError> for TokenFailure {
    fn from(e: crate::store::StoreError) -> Self {
        TokenFailure::Api(e.into())
    }
}

async fn issue(
    state: &AppState,
    req: axum::extract::Request,
) -> Result<TokenResponse, TokenFailure> {
    use OAuthErrorCode::*;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip());
    let map = collect(req).await.map_err(|e| match e.code {
        ErrorCode::RequestTooLarge => TokenFailure::TooLarge,
        _ => OAuthError(InvalidRequest, "The request body could not be parsed.").into(),
    })?;
    let p: TokenParams = serde_json::from_value(serde_json::Value::Object(map)).map_err(|_| {
        OAuthError(
            InvalidRequest,
            "The request parameters could not be parsed.",
        )
    })?;
    if non_empty(&p.grant_type) == Some(code::GRANT) {
        return code::exchange(state, &p, peer).await;
    }
    let (scope, client_id, secret) = checked(&p)?;
    let bad_client = OAuthError(InvalidClient, "Unknown client_id or wrong client_secret.");
    let key = match client_id.parse::<i64>() {
        Ok(id) if id > 0 => state.store.key(KeyId::new(id)).await?,
        _ => None,
    };
    // The secret first (SPEC §11): a right one is never throttled, whatever
    // others sent for this client id or from this address. Hash even for an
    // unknown client, so that timing does not tell which client ids exist.
    let matches = match &key {
        Some(k) => secrets::verify(secret.expose(), &k.secret_digest),
        None => {
            let _ = secrets::verify(secret.expose(), &[0u8; 32]);
            false
        }
    };
    let Some(key) = key.filter(|_| matches) else {
        if let Err(t) = failed(&state.token_limits, client_id, peer) {
            tracing::info!(client_id = %client_id.chars().take(MAX_CLIENT_ID).collect::<String>(), "token requests throttled");
            return Err(TokenFailure::Throttled(t));
        }
        return Err(bad_client.into());
    };
    if crate::domain::lifecycle::key_disabled(key.disabled, key.parent_disabled) {
        return Err(OAuthError(InvalidClient, "This key is disabled.").into());
    }
    let token = secrets::generate();
    let revoked = state
        .store
        .issue_token(
            &secrets::digest(&token),
            key.id,
            scope,
            state.clock.now(),
            state.bounds.tokens_per_key,
        )
        .await?;
    tracing::info!(key_id = key.id.get(), revoked, "access token issued");
    Ok(TokenResponse {
        access_token: token,
        token_type: "bearer".into(),
        blog_id: 0,
        blog_url: 0,
        scope: scope.to_string(),
    })
}

/// The grant's parameters as RFC 6749 requires them: the grant type, the
/// scope (absent: the only one there is) and the client's credentials.
fn checked(p: &TokenParams) -> Result<(&str, &str, &SecretString), TokenFailure> {
    use OAuthErrorCode::*;
    let grant = non_empty(&p.grant_type).ok_or(OAuthError(
        InvalidRequest,
        "The grant_type parameter is missing.",
    ))?;
    if grant != "client_credentials" {
        return Err(OAuthError(
            UnsupportedGrantType,
            "Only the client_credentials and authorization_code grant types are supported.",
        )
        .into());
    }
    // No scope means the only scope there is (RFC 6749 §3.3 allows a default).
    let scope = non_empty(&p.scope).unwrap_or(PARTNER_SCOPE);
    if scope != PARTNER_SCOPE {
        return Err(
            OAuthError(InvalidScope, "The only supported scope is jetpack-partner.").into(),
        );
    }
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
    Ok((scope, client_id, secret))
}
