//! `POST /rest/v1.3/jpphp/mobile-magic-link` (upstream:
//! host-partner-documentation, jetpack/jetpack-start-endpoints/mobile-magic-link.md;
//! SPEC §5 "Also part of the system").

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use jpstart_types::params::non_empty;
use jpstart_types::users::MagicLinkParams;
use jpstart_types::wire::Success;

use crate::app::state::AppState;
use crate::auth::Caller;
use crate::domain::users::{magic_link_mail, Email};
use crate::domain::{ApiError, ErrorCode};
use crate::rest::rejects::errors_of;
use crate::rest::{operation, ApiVersion, Endpoint, Help, Params, Rest};
use crate::secrets;
use crate::store::NewMail;

/// Answered by the handler itself: the address, and the per-address limit.
const HANDLER: &[ErrorCode] = &[ErrorCode::InvalidEmail, ErrorCode::TooManyRequests];

/// `mobile-magic-link`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![Endpoint {
        operations: vec![operation!(magic_link)],
        methods: |_| post(magic_link),
        rest: Some(Rest {
            min: ApiVersion::V1_3,
            max: None,
            help: Help {
                description: "Sends the WordPress app's login-link e-mail to an address; at most 5 per address per hour.",
                versions: "1.3+",
                authentication: "Bearer token (scope jetpack-partner)",
                parameters: &[("email", "required: the address to send the login link to")],
                response: &[("success", "true: the e-mail is queued for delivery")],
            },
            errors: errors_of(&magic_link).with(HANDLER),
        }),
    }]
}

/// `POST /rest/v1.3/jpphp/mobile-magic-link`: the e-mail goes into the
/// outbox in this request's transaction (delivered by [`crate::mail`]).
/// The sixth request for one address within an hour is refused with 429
/// `too_many_requests` (upstream's body) and `Retry-After`.
#[utoipa::path(
    post,
    path = "/rest/v1.3/jpphp/mobile-magic-link",
    tag = "jpphp",
    security(("bearer" = [])),
    request_body(
        description = "Any of the four body formats; body parameters win over the query string.",
        content(
            (MagicLinkParams = "application/x-www-form-urlencoded"),
            (MagicLinkParams = "multipart/form-data"),
            (MagicLinkParams = "application/json"),
        )
    ),
    responses((status = 200, description = "The e-mail is queued.", body = Success)),
)]
pub async fn magic_link(
    State(state): State<AppState>,
    caller: Caller,
    Params(p): Params<MagicLinkParams>,
) -> Result<Response, ApiError> {
    let raw = non_empty(&p.email).ok_or(ErrorCode::InvalidEmail)?;
    let email = Email::parse(raw).map_err(|why| ApiError {
        code: ErrorCode::InvalidEmail,
        message: format!("The \"email\" argument is not an e-mail address: {why}."),
    })?;
    if let Err(t) = state.mail.magic_links.check(&email.key()) {
        tracing::info!(
            key_id = caller.key_id.get(),
            "magic links throttled for an address"
        );
        let mut res = ApiError::new(ErrorCode::TooManyRequests).into_response();
        if let Ok(v) = HeaderValue::from_str(&t.retry_after_secs().to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(res);
    }
    let mail = magic_link_mail(&email, &secrets::generate());
    let id = state
        .store
        .enqueue_mail(&NewMail {
            mail,
            partner_id: Some(caller.partner_id),
            now: state.clock.now(),
        })
        .await?;
    state.mail.wakeup.notify_one();
    tracing::info!(
        key_id = caller.key_id.get(),
        mail_id = id,
        "magic link queued"
    );
    Ok(Json(Success { success: true }).into_response())
}
