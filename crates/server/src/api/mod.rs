//! The endpoints, one module per group, each handler documented with the
//! upstream page it implements. Each module declares its endpoints once
//! ([`Endpoint`]: OpenAPI operations, methods, and under `/rest` versions,
//! help and errors); the router ([`routes`]) and the OpenAPI document
//! ([`openapi::document`]) are both built from [`endpoints`].

pub mod authorize;
pub mod bench;
mod cancel;
mod credentials;
pub mod errors;
mod keys;
mod magic_link;
pub mod monitor;
pub mod oauth;
pub mod openapi;
pub mod ops;
mod provision;
mod reporting;
mod requests;
mod sandbox;
mod sites;
mod status;
mod users;
pub mod webhooks;

use axum::Router;

use crate::app::state::AppState;
use crate::rest::routes::register;
use crate::rest::Endpoint;

/// Every endpoint but the benchmark floor (see [`bench`]).
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    [
        errors::endpoints(),
        keys::endpoints(),
        provision::endpoints(),
        credentials::endpoints(),
        cancel::endpoints(),
        status::endpoints(),
        authorize::endpoints(),
        oauth::endpoints(),
        openapi::endpoints(),
        ops::endpoints(),
        users::endpoints(),
        magic_link::endpoints(),
        sites::endpoints(),
        sandbox::endpoints(),
        requests::endpoints(),
        webhooks::endpoints(),
        monitor::endpoints(),
        reporting::endpoints(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The routes of [`endpoints`], REST ones with their `/help`.
pub fn routes(state: &AppState) -> Router<AppState> {
    endpoints()
        .iter()
        .fold(Router::new(), |r, e| register(r, e, state))
}
