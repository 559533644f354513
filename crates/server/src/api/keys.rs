//! Partner keys: `partner-keys/verify` (used by the Jetpack plugin before it
//! provisions) and `partner-keys/new`.

use axum::Json;
use jpstart_types::wire::Success;

use crate::auth::Caller;
use crate::domain::ErrorCode;
use crate::rest::EndpointDoc;

pub static VERIFY_DOC: EndpointDoc = EndpointDoc {
    method: "POST",
    path: "/rest/v1.3/jpphp/partner-keys/verify",
    description: "Checks that the bearer token is a valid partner token.",
    versions: "1.3+",
    authentication: "Bearer token (scope jetpack-partner)",
    parameters: &[],
    response: &[("success", "true")],
    errors: &[
        ErrorCode::AuthorizationRequired,
        ErrorCode::InvalidToken,
        ErrorCode::PartnerKeyDisabled,
        ErrorCode::InvalidScope,
    ],
};

/// `POST /rest/v1.3/jpphp/partner-keys/verify`: 200 for a valid partner token.
pub async fn verify(_caller: Caller) -> Json<Success> {
    Json(Success { success: true })
}
