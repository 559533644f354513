//! The endpoints, one module per group, each handler documented with the
//! upstream page it implements. Paths are written without the version; see
//! [`crate::rest::routes`].

pub mod authorize;
mod cancel;
mod credentials;
pub mod errors;
mod keys;
mod magic_link;
pub mod openapi;
mod provision;
mod sites;
mod status;
mod users;

use axum::routing::{get, post, MethodRouter};
use axum::Router;

use crate::app::AppState;
use crate::rest::routes::{versioned, ApiVersion};
use crate::rest::EndpointDoc;

/// One REST endpoint as registered: its path under `/rest` without the
/// version, the lowest version it answers, and its help document. The router
/// and the OpenAPI document are both built from [`endpoints`], so neither can
/// list an endpoint the other lacks.
pub struct Endpoint {
    pub path: &'static str,
    pub min: ApiVersion,
    pub doc: &'static EndpointDoc,
}

/// Every REST endpoint, with the methods it answers.
fn endpoints() -> Vec<(Endpoint, MethodRouter<AppState>)> {
    let e = |path, min, doc| Endpoint { path, min, doc };
    vec![
        (
            e("/jpphp/errors", ApiVersion::V1_3, &errors::DOC),
            get(errors::errors).post(errors::errors),
        ),
        (
            e(
                "/jpphp/partner-keys/verify",
                ApiVersion::V1_3,
                &keys::VERIFY_DOC,
            ),
            post(keys::verify).get(keys::verify),
        ),
        (
            e("/jpphp/partner-keys/new", ApiVersion::V1_3, &keys::NEW_DOC),
            post(keys::new_key),
        ),
        (
            e("/jpphp/provision", ApiVersion::V1_3, &provision::DOC),
            post(provision::provision),
        ),
        (
            e(
                "/jpphp/{blog_id}/partner-provision",
                ApiVersion::V1_3,
                &provision::PARTNER_DOC,
            ),
            post(provision::partner_provision),
        ),
        (
            e(
                "/jpphp/{blog_id}/ssh-credentials",
                ApiVersion::V1_3,
                &credentials::SSH_DOC,
            ),
            post(credentials::ssh_credentials),
        ),
        (
            e(
                "/jpphp/{blog_id}/ftp-credentials",
                ApiVersion::V1_3,
                &credentials::FTP_DOC,
            ),
            post(credentials::ftp_credentials),
        ),
        (
            e(
                "/jpphp/{site_or_blog_id}/partner-cancel",
                ApiVersion::V1_3,
                &cancel::DOC,
            ),
            post(cancel::cancel),
        ),
        // One path, two shapes: 1.2 and 1.3 answer the deprecated shape, 1.4
        // and up the current one (the handler reads the version).
        (
            e(
                "/jpphp/{site_or_blog_id}/status",
                ApiVersion::V1_2,
                &status::DOC,
            ),
            get(status::status),
        ),
        (
            e(
                "/jpphp/{site_or_blog_id}/upgrade-paths",
                ApiVersion::V1_3,
                &status::UPGRADE_DOC,
            ),
            // The upstream doc's own example POSTs, so POST answers too.
            get(status::upgrade_paths).post(status::upgrade_paths),
        ),
        (
            e("/jpphp/user", ApiVersion::V1_3, &users::DOC),
            post(users::create_user),
        ),
        (
            e(
                "/jpphp/mobile-magic-link",
                ApiVersion::V1_3,
                &magic_link::DOC,
            ),
            post(magic_link::magic_link),
        ),
        (
            e("/sites/{site_or_blog_id}", ApiVersion(1, 1), &sites::DOC),
            get(sites::site),
        ),
    ]
}

/// The REST endpoints (see [`Endpoint`]).
pub fn endpoint_list() -> Vec<Endpoint> {
    endpoints().into_iter().map(|(e, _)| e).collect()
}

/// The REST routes, each with its `/help`.
pub fn routes() -> Router<AppState> {
    endpoints()
        .into_iter()
        .fold(Router::new(), |r, (e, methods)| {
            versioned(r, e.path, e.min, None, e.doc, methods)
        })
}
