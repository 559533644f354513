//! The portal's reporting token (the overview is `data::overview`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jpstart_types::params::non_empty;

use super::login::CsrfForm;
use super::{internal, message, render, Nav, PortalUser};
use crate::app::state::AppState;
use crate::domain::ApiError;
use crate::rest::Params;
use crate::secrets;

#[derive(askama::Template)]
#[template(path = "token.html")]
struct TokenPage {
    title: String,
    nav: Nav,
    token: String,
}

/// `POST /portal/token`: a reporting token for the signed-in user (as
/// the code flow gives an app), shown once.
pub async fn new_token(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    form: Result<Params<CsrfForm>, ApiError>,
) -> Response {
    let sent = form.ok().and_then(|Params(f)| f.csrf_token);
    if let Err(refused) = user.check_form(&state, &headers, non_empty(&sent)) {
        return refused.into_response();
    }
    let token = secrets::generate();
    let issued = state
        .store
        .issue_user_token(&secrets::digest(&token), user.user_id, state.clock.now())
        .await;
    match issued {
        Ok(Ok(())) => {}
        Ok(Err(())) => {
            return message(
                StatusCode::FORBIDDEN,
                "No token",
                "This user is disabled.",
                None,
            )
        }
        Err(e) => return internal(e),
    }
    tracing::info!(
        user_id = user.user_id,
        "reporting token issued in the portal"
    );
    render(
        StatusCode::OK,
        &TokenPage {
            title: "Your API token".into(),
            nav: user.nav("overview"),
            token,
        },
    )
}
