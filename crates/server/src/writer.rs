//! The write rate per key (SPEC §11): a [`Writer`] argument is a [`Caller`]
//! whose key is within its write rate. Every endpoint that writes takes one
//! (provision, partner-provision, partner-cancel, ssh- and ftp-credentials,
//! partner-keys/new), so a write cannot forget the limit; reads take a
//! plain [`Caller`] and are not limited.
//!
//! One bucket per key ([`crate::throttle::KeyedLimiter`], GCRA), per server
//! process: N servers behind a balancer allow N times the rate
//! (docs/SCALING.md). Beyond it: 429 `too_many_requests` with `Retry-After`.

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::app::state::AppState;
use crate::auth::Caller;
use crate::domain::{ApiError, ErrorCode};
use crate::throttle::Throttled;

/// A caller allowed one more write now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer(pub Caller);

impl crate::rest::rejects::Rejects for Writer {
    const ERRORS: &'static [ErrorCode] = &[
        ErrorCode::AuthorizationRequired,
        ErrorCode::InvalidToken,
        ErrorCode::PartnerKeyDisabled,
        ErrorCode::InvalidScope,
        ErrorCode::InternalError,
        ErrorCode::TooManyRequests,
    ];
}

/// Why a write was not let through: the caller's own rejection, or its
/// key is over its write rate.
#[derive(Debug)]
pub enum WriteRejection {
    Caller(ApiError),
    Throttled(Throttled),
}

impl IntoResponse for WriteRejection {
    fn into_response(self) -> Response {
        match self {
            WriteRejection::Caller(e) => e.into_response(),
            WriteRejection::Throttled(t) => {
                let mut res = ApiError::new(ErrorCode::TooManyRequests).into_response();
                let secs = HeaderValue::from(t.retry_after_secs());
                res.headers_mut().insert(header::RETRY_AFTER, secs);
                res
            }
        }
    }
}

impl FromRequestParts<AppState> for Writer {
    type Rejection = WriteRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, WriteRejection> {
        let caller = Caller::from_request_parts(parts, state)
            .await
            .map_err(WriteRejection::Caller)?;
        if let Err(t) = state.write_limit.check(&caller.key_id) {
            tracing::info!(key_id = caller.key_id.get(), "writes throttled");
            return Err(WriteRejection::Throttled(t));
        }
        Ok(Writer(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Caller;

    #[test]
    fn a_writer_rejects_what_a_caller_does_and_the_rate() {
        for c in Caller::ERRORS {
            assert!(
                <Writer as crate::rest::rejects::Rejects>::ERRORS.contains(c),
                "{c}"
            );
        }
    }

    #[test]
    fn throttled_is_429_with_retry_after_and_the_catalogue_body() {
        let t = Throttled {
            retry_after: std::time::Duration::from_millis(1500),
        };
        let res = WriteRejection::Throttled(t).into_response();
        assert_eq!(res.status(), 429);
        assert_eq!(res.headers()[header::RETRY_AFTER], "2");
    }
}
