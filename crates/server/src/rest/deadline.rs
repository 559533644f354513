//! The request deadline: answered to every route, so its error is in every
//! endpoint's list ([`ERRORS`]).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::domain::{ApiError, ErrorCode};

/// What [`deadline`] answers.
pub const ERRORS: &[ErrorCode] = &[ErrorCode::RequestTimeout];

/// Answers 408 `request_timeout` when a request (reading its body included:
/// a client trickling its body holds a connection) takes longer than the
/// limit. The handler is dropped at that point, and with it any open
/// transaction, which the database rolls back; a commit already made stays,
/// hence the catalogue text: the outcome is unknown to the client.
pub async fn deadline(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(limit_secs = limit.as_secs_f64(), "request timed out");
            ApiError::with_arg(ErrorCode::RequestTimeout, humantime::format_duration(limit))
                .into_response()
        }
    }
}
