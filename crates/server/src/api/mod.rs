//! The endpoints, one module per group, each handler documented with the
//! upstream page it implements. Paths are written without the version; see
//! [`crate::rest::routes`].

pub mod authorize;
mod cancel;
mod credentials;
pub mod errors;
mod keys;
mod provision;
mod status;

use axum::routing::{get, post};
use axum::Router;

use crate::app::AppState;
use crate::rest::routes::{versioned, ApiVersion};

pub fn routes() -> Router<AppState> {
    let r = Router::new();
    let r = versioned(
        r,
        "/jpphp/errors",
        ApiVersion::V1_3,
        None,
        &errors::DOC,
        get(errors::errors).post(errors::errors),
    );
    let r = versioned(
        r,
        "/jpphp/partner-keys/verify",
        ApiVersion::V1_3,
        None,
        &keys::VERIFY_DOC,
        post(keys::verify).get(keys::verify),
    );
    let r = versioned(
        r,
        "/jpphp/partner-keys/new",
        ApiVersion::V1_3,
        None,
        &keys::NEW_DOC,
        post(keys::new_key),
    );
    let r = versioned(
        r,
        "/jpphp/provision",
        ApiVersion::V1_3,
        None,
        &provision::DOC,
        post(provision::provision),
    );
    let r = versioned(
        r,
        "/jpphp/{blog_id}/partner-provision",
        ApiVersion::V1_3,
        None,
        &provision::PARTNER_DOC,
        post(provision::partner_provision),
    );
    let r = versioned(
        r,
        "/jpphp/{blog_id}/ssh-credentials",
        ApiVersion::V1_3,
        None,
        &credentials::SSH_DOC,
        post(credentials::ssh_credentials),
    );
    let r = versioned(
        r,
        "/jpphp/{blog_id}/ftp-credentials",
        ApiVersion::V1_3,
        None,
        &credentials::FTP_DOC,
        post(credentials::ftp_credentials),
    );
    let r = versioned(
        r,
        "/jpphp/{site}/partner-cancel",
        ApiVersion::V1_3,
        None,
        &cancel::DOC,
        post(cancel::cancel),
    );
    // One path, two shapes: 1.2 and 1.3 answer the deprecated shape, 1.4 and
    // up the current one (the handler reads the version).
    let r = versioned(
        r,
        "/jpphp/{site}/status",
        ApiVersion::V1_2,
        None,
        &status::DOC,
        get(status::status),
    );
    versioned(
        r,
        "/jpphp/{site}/upgrade-paths",
        ApiVersion::V1_3,
        None,
        &status::UPGRADE_DOC,
        // The upstream doc's own example POSTs, so POST answers too.
        get(status::upgrade_paths).post(status::upgrade_paths),
    )
}
