//! Errors as responses: the documented status and the error body of SPEC §2.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use jpstart_types::wire::ErrorBody;

use crate::domain::{ApiError, ErrorCode};
use crate::store::StoreError;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut res = (
            status,
            Json(ErrorBody::new(self.code.code(), &self.message)),
        )
            .into_response();
        // Not sent: read by the endpoint guard of `routes::versioned`.
        res.extensions_mut().insert(self.code);
        res
    }
}

impl From<StoreError> for ApiError {
    /// A storage failure is logged with its cause and answered generically.
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        ApiError::new(ErrorCode::InternalError)
    }
}
