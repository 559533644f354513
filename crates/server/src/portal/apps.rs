//! `/portal/apps`: the OAuth apps of the signed-in user's partner, and
//! registering one. The client id is the app's number (upstream's PHP
//! script formats it with `%d`); the secret, 64 random letters and digits,
//! is shown once and stored as its SHA-256 digest.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jpstart_types::params::non_empty;
use serde::Deserialize;

use super::{internal, render, Nav, PortalUser};
use crate::app::state::AppState;
use crate::domain::partner_users::{check_redirect_uri, clean_name};
use crate::domain::ApiError;
use crate::rest::Params;
use crate::secrets;
use crate::store::portal::{NewOAuthApp, OAuthApp};

#[derive(askama::Template)]
#[template(path = "apps.html")]
struct AppsPage {
    title: String,
    nav: Nav,
    apps: Vec<AppRow>,
    /// Just registered: its secret, this once.
    created: Option<Created>,
    error: Option<String>,
    /// The form's values (kept after a refusal).
    name: String,
    redirect_uri: String,
}

struct AppRow {
    client_id: i64,
    name: String,
    redirect_uri: String,
    created: String,
}

struct Created {
    client_id: i64,
    name: String,
    redirect_uri: String,
    secret: String,
}

impl From<OAuthApp> for AppRow {
    fn from(a: OAuthApp) -> Self {
        AppRow {
            client_id: a.id,
            name: a.name,
            redirect_uri: a.redirect_uri,
            created: a.created_at.rfc3339(),
        }
    }
}

/// The registration form.
#[derive(Debug, Default, Deserialize)]
pub struct AppForm {
    csrf_token: Option<String>,
    name: Option<String>,
    redirect_uri: Option<String>,
}

/// `GET /portal/apps`.
pub async fn list(State(state): State<AppState>, user: PortalUser) -> Response {
    page(
        &state,
        &user,
        StatusCode::OK,
        None,
        None,
        AppForm::default(),
    )
    .await
}

async fn page(
    state: &AppState,
    user: &PortalUser,
    status: StatusCode,
    created: Option<Created>,
    error: Option<String>,
    form: AppForm,
) -> Response {
    let apps = match state.store.oauth_apps(user.partner_id).await {
        Ok(apps) => apps.into_iter().map(AppRow::from).collect(),
        Err(e) => return internal(e),
    };
    render(
        status,
        &AppsPage {
            title: "OAuth apps".into(),
            nav: user.nav("apps"),
            apps,
            created,
            error,
            name: form.name.unwrap_or_default(),
            redirect_uri: form.redirect_uri.unwrap_or_default(),
        },
    )
}

/// `POST /portal/apps`: registers an app; the page shows its secret once.
pub async fn register(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    form: Result<Params<AppForm>, ApiError>,
) -> Response {
    let form = form.map(|Params(f)| f).unwrap_or_default();
    if let Err(refused) = user.check_form(&state, &headers, non_empty(&form.csrf_token)) {
        return refused.into_response();
    }
    let name = clean_name(form.name.as_deref().unwrap_or_default()).and_then(|n| {
        if n.is_empty() {
            Err("an app needs a name".to_string())
        } else {
            Ok(n)
        }
    });
    let uri = form
        .redirect_uri
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_string();
    let checked = name.and_then(|n| check_redirect_uri(&uri).map(|()| n));
    let name = match checked {
        Ok(n) => n,
        Err(why) => {
            return page(
                &state,
                &user,
                StatusCode::BAD_REQUEST,
                None,
                Some(why),
                form,
            )
            .await
        }
    };
    let secret = secrets::generate();
    let app = NewOAuthApp {
        partner_id: user.partner_id,
        user_id: user.user_id,
        name,
        redirect_uri: uri,
        secret_digest: secrets::digest(&secret),
        now: state.clock.now(),
    };
    let app = match state.store.create_oauth_app(&app).await {
        Ok(app) => app,
        Err(e) => return internal(e),
    };
    tracing::info!(
        user_id = user.user_id,
        client_id = app.id,
        "OAuth app registered"
    );
    let created = Created {
        client_id: app.id,
        name: app.name,
        redirect_uri: app.redirect_uri,
        secret,
    };
    page(
        &state,
        &user,
        StatusCode::OK,
        Some(created),
        None,
        AppForm::default(),
    )
    .await
}
