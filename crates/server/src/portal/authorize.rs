//! `GET /oauth2/authorize` and its approval (RFC 6749 §4.1, SPEC §8): the
//! first half of the authorization-code flow upstream's PHP script runs
//! (`jetpack/reporting-endpoints/README.md`); `POST /oauth2/token
//! grant_type=authorization_code` is the second (`api/oauth_code.rs`).
//!
//! `client_id` must name an OAuth app and `redirect_uri`, when given, must
//! be the app's ([`redirect_matches`]); otherwise the page says so and
//! nobody is redirected (RFC 6749 §4.1.2.1: never to an unchecked URI).
//! Without a session the browser signs in first and comes back. The
//! signed-in user must belong to the app's partner. Approving (a form with
//! the session's anti-forgery token, from our own origin) redirects to the
//! redirect URI with `code` (and `state`); denying, with
//! `error=access_denied`. A code is 64 random letters and digits, stored as
//! its digest, single-use, valid for [`CODE_TTL_MS`], bound to the app,
//! the user and the redirect URI. `scope` is accepted and ignored: a user's
//! token reads its partner's reports, whatever was asked for.
//!
//! Parameter names are trimmed: the script as upstream prints it has
//! `&    redirect_uri=` (its indentation inside the URL).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jpstart_types::params::non_empty;
use serde::Deserialize;

use super::session::PortalUser;
use super::{internal, message, render, see_other};
use crate::app::state::AppState;
use crate::clock::Timestamp;
use crate::domain::partner_users::{
    redirect_matches, redirect_with_code, redirect_with_error, CODE_TTL_MS,
};
use crate::domain::ApiError;
use crate::rest::Params;
use crate::secrets;
use crate::store::portal::{NewAuthCode, OAuthApp};

/// The parameters of the request, and of the approval form.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeForm {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    state: Option<String>,
    csrf_token: Option<String>,
    /// `approve` or `deny` (the button pressed).
    decision: Option<String>,
}

impl AuthorizeForm {
    /// From a query string, names trimmed (see the module docs).
    fn from_query(query: &str) -> Self {
        let mut f = AuthorizeForm::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let v = Some(v.into_owned());
            match k.trim() {
                "client_id" => f.client_id = v,
                "redirect_uri" => f.redirect_uri = v,
                "response_type" => f.response_type = v,
                "state" => f.state = v,
                _ => {}
            }
        }
        f
    }
}

#[derive(askama::Template)]
#[template(path = "approve.html")]
struct ApprovePage {
    title: String,
    app_name: String,
    partner_id: jpstart_types::PartnerId,
    email: String,
    client_id: i64,
    redirect_uri: String,
    state: Option<String>,
    csrf: String,
}

/// The app and the redirect URI a request names, or the page refusing it.
async fn resolve(state: &AppState, f: &AuthorizeForm) -> Result<(OAuthApp, String), Response> {
    let bad = |text: &str| {
        message(
            StatusCode::BAD_REQUEST,
            "This authorization request is not valid",
            text,
            None,
        )
    };
    let id = non_empty(&f.client_id)
        .and_then(|c| c.trim().parse::<i64>().ok())
        .filter(|id| *id > 0);
    let app = match id {
        Some(id) => state.store.oauth_app(id).await.map_err(internal)?,
        None => None,
    };
    let Some(app) = app else {
        return Err(bad("The client_id names no OAuth app."));
    };
    let uri = match non_empty(&f.redirect_uri) {
        Some(sent) if redirect_matches(&app.redirect_uri, sent) => sent.trim().to_string(),
        Some(_) => {
            return Err(bad(
                "The redirect_uri is not the one registered for this app.",
            ))
        }
        None => app.redirect_uri.clone(),
    };
    Ok((app, uri))
}

/// Checks what every step checks: the app, its redirect URI, the response
/// type, the user's partner. `Err`: the answer instead.
async fn checked(
    state: &AppState,
    f: &AuthorizeForm,
    user: Option<&PortalUser>,
) -> Result<(OAuthApp, String), Response> {
    let (app, uri) = resolve(state, f).await?;
    if non_empty(&f.response_type) != Some("code") {
        let to = redirect_with_error(&uri, "unsupported_response_type", non_empty(&f.state));
        return Err(see_other(&to));
    }
    if let Some(user) = user {
        if user.partner_id != app.partner_id {
            return Err(message(
                StatusCode::FORBIDDEN,
                "This app belongs to another partner",
                "Only users of the partner that registered an OAuth app can approve it.",
                Some("/portal/"),
            ));
        }
    }
    Ok((app, uri))
}

/// `GET /oauth2/authorize`: the approve page (signing in first if needed).
pub async fn show(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let f = AuthorizeForm::from_query(uri.query().unwrap_or_default());
    if let Err(answer) = checked(&state, &f, None).await {
        return answer;
    }
    let user = match PortalUser::from_headers(&state, &headers).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let here = uri
                .path_and_query()
                .map_or("/oauth2/authorize", |p| p.as_str());
            let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
            return see_other(&format!("/portal/login?next={next}"));
        }
        Err(e) => return internal(e),
    };
    let (app, redirect_uri) = match checked(&state, &f, Some(&user)).await {
        Ok(ok) => ok,
        Err(answer) => return answer,
    };
    render(
        StatusCode::OK,
        &ApprovePage {
            title: format!("Authorize {}", app.name),
            app_name: app.name,
            partner_id: app.partner_id,
            email: user.email.clone(),
            client_id: app.id,
            redirect_uri,
            state: f.state.filter(|s| !s.is_empty()),
            csrf: user.csrf.clone(),
        },
    )
}

/// `POST /oauth2/authorize`: the user approved or denied.
pub async fn decide(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    form: Result<Params<AuthorizeForm>, ApiError>,
) -> Response {
    let f = form.map(|Params(f)| f).unwrap_or_default();
    if let Err(refused) = user.check_form(&state, &headers, non_empty(&f.csrf_token)) {
        return refused.into_response();
    }
    let (app, redirect_uri) = match checked(&state, &f, Some(&user)).await {
        Ok(ok) => ok,
        Err(answer) => return answer,
    };
    let client_state = non_empty(&f.state);
    if non_empty(&f.decision) != Some("approve") {
        tracing::info!(
            user_id = user.user_id,
            client_id = app.id,
            "authorization denied"
        );
        return see_other(&redirect_with_error(
            &redirect_uri,
            "access_denied",
            client_state,
        ));
    }
    let code = secrets::generate();
    let now = state.clock.now();
    let new = NewAuthCode {
        digest: secrets::digest(&code),
        app_id: app.id,
        user_id: user.user_id,
        redirect_uri: redirect_uri.clone(),
        now,
        expires_at: Timestamp::from_millis(now.as_millis().saturating_add(CODE_TTL_MS)),
    };
    if let Err(e) = state.store.insert_auth_code(&new).await {
        return internal(e);
    }
    tracing::info!(
        user_id = user.user_id,
        client_id = app.id,
        "authorization code issued"
    );
    see_other(&redirect_with_code(&redirect_uri, &code, client_state))
}
