//! The API's calls, one method each. The requests are built as the old
//! clients built them (SPEC §7; research notes §1-3): provision as a
//! multipart form with the tracking id in the query, cancel as a urlencoded
//! form (no body at all when there is nothing to say), partner-provision as
//! JSON.

use jpstart_types::params::{
    CancelParams, FtpParams, PartnerKeyNewParams, ProvisionParams, SshParams,
};
use jpstart_types::wire::{
    CancelResponse, ErrorsResponse, PartnerKeyCreated, ProvisionResponse, StatusV13, StatusV14,
    Success, UpgradePaths, VerboseErrorsResponse,
};
use jpstart_types::{BlogId, SiteIdentifier, SiteRef, Truthy};
use reqwest::Method;

use crate::error::{Error, Result};
use crate::request::{ApiRequest, Body};
use crate::Client;

/// A site argument as a person types it: a blog id (`12345`), an identifier
/// (`example.com::demo`) or a URL (`https://example.com/demo`, turned into
/// its identifier).
pub fn parse_site(arg: &str) -> Result<SiteRef> {
    Ok(SiteRef::parse(arg)?)
}

/// The identifier of a site URL: `https://example.com/demo/` →
/// `example.com::demo`.
pub fn site_from_url(url: &str) -> Result<SiteRef> {
    SiteIdentifier::from_url(url)
        .map(SiteRef::Identifier)
        .map_err(|e| Error::Site(e.into()))
}

/// The request of each call, public so that callers can send one with
/// [`Client::execute`] and keep the body untyped.
pub mod requests {
    use super::*;

    pub use crate::request_log::requests::*;
    pub use crate::sandbox::requests::*;
    pub use crate::users::requests::*;

    /// `POST /rest/v1.3/jpphp/provision`.
    pub fn provision(params: &ProvisionParams) -> ApiRequest {
        let mut params = params.clone();
        // The scripts send the tracking id in the query, hyphenated.
        let tracking = params.tracking_id().map(str::to_string);
        params.partner_tracking_id = None;
        params.partner_tracking_id_dashed = None;
        let req =
            ApiRequest::jpphp(Method::POST, "1.3", &["provision"]).body(Body::multipart(&params));
        match tracking {
            Some(t) => req.query("partner-tracking-id", &t),
            None => req,
        }
    }

    /// `POST /rest/v1.3/jpphp/{blog_id}/partner-provision` (JSON body, as the
    /// Jetpack plugin sends it; tracking id in the query, underscored).
    pub fn partner_provision(blog_id: BlogId, params: &ProvisionParams) -> ApiRequest {
        let mut params = params.clone();
        let tracking = params.tracking_id().map(str::to_string);
        params.partner_tracking_id = None;
        params.partner_tracking_id_dashed = None;
        let body = serde_json::to_value(&params).unwrap_or_default();
        let id = blog_id.to_string();
        let req = ApiRequest::jpphp(Method::POST, "1.3", &[&id, "partner-provision"])
            .body(Body::Json(body));
        match tracking {
            Some(t) => req.query("partner_tracking_id", &t),
            None => req,
        }
    }

    /// `POST /rest/v1.3/jpphp/{site}/partner-cancel`.
    pub fn cancel(site: &SiteRef, plan: Option<&str>, cancel_all: bool) -> ApiRequest {
        let params = CancelParams {
            plan: plan.map(str::to_string),
            cancel_all: Truthy(cancel_all),
            cancel_all_underscore: Truthy(false),
        };
        let body = if plan.is_none() && !cancel_all {
            Body::None
        } else {
            let mut pairs = crate::request::to_pairs(&params);
            // `cancel-all=0` says nothing the absence does not.
            pairs.retain(|(k, _)| k != "cancel-all" || cancel_all);
            Body::Form(pairs)
        };
        let site = site.to_string();
        ApiRequest::jpphp(Method::POST, "1.3", &[&site, "partner-cancel"]).body(body)
    }

    /// `GET /rest/v1.4/jpphp/{site}/status`.
    pub fn status_v14(site: &SiteRef) -> ApiRequest {
        let site = site.to_string();
        ApiRequest::jpphp(Method::GET, "1.4", &[&site, "status"])
    }

    /// `GET /rest/v1.3/jpphp/{site}/status` (the deprecated shape).
    pub fn status_v13(site: &SiteRef) -> ApiRequest {
        let site = site.to_string();
        ApiRequest::jpphp(Method::GET, "1.3", &[&site, "status"])
    }

    /// `GET /rest/v1.3/jpphp/{site}/upgrade-paths`.
    pub fn upgrade_paths(site: &SiteRef) -> ApiRequest {
        let site = site.to_string();
        ApiRequest::jpphp(Method::GET, "1.3", &[&site, "upgrade-paths"])
    }

    /// `GET /rest/v1.3/jpphp/errors` (no token needed), `?verbose=1` for
    /// the descriptions, causes and solutions.
    pub fn errors(verbose: bool) -> ApiRequest {
        let req = ApiRequest::jpphp(Method::GET, "1.3", &["errors"]).no_auth();
        if verbose {
            req.query("verbose", "1")
        } else {
            req
        }
    }

    /// `POST /rest/v1.3/jpphp/partner-keys/verify` (empty body, as the
    /// Jetpack plugin sends it).
    pub fn verify_key() -> ApiRequest {
        ApiRequest::jpphp(Method::POST, "1.3", &["partner-keys", "verify"])
    }

    /// `POST /rest/v1.3/jpphp/partner-keys/new`.
    pub fn new_partner_key(params: &PartnerKeyNewParams) -> ApiRequest {
        ApiRequest::jpphp(Method::POST, "1.3", &["partner-keys", "new"])
            .body(Body::multipart(params))
    }

    /// `POST /rest/v1.3/jpphp/{blog_id}/ssh-credentials` (upstream documents
    /// the blog id; jpstart also takes the identifier).
    pub fn ssh_credentials(site: &SiteRef, params: &SshParams) -> ApiRequest {
        let id = site.to_string();
        ApiRequest::jpphp(Method::POST, "1.3", &[&id, "ssh-credentials"])
            .body(Body::multipart(params))
    }

    /// `POST /rest/v1.3/jpphp/{blog_id}/ftp-credentials` (blog id or
    /// identifier, as for SSH).
    pub fn ftp_credentials(site: &SiteRef, params: &FtpParams) -> ApiRequest {
        let id = site.to_string();
        ApiRequest::jpphp(Method::POST, "1.3", &[&id, "ftp-credentials"])
            .body(Body::multipart(params))
    }
}

impl Client {
    /// Provisions a product (or, without `plan`, only registers the site).
    pub async fn provision(&self, params: &ProvisionParams) -> Result<ProvisionResponse> {
        self.execute(&requests::provision(params)).await
    }

    /// Provisions to a site already registered under `blog_id`.
    pub async fn partner_provision(
        &self,
        blog_id: BlogId,
        params: &ProvisionParams,
    ) -> Result<ProvisionResponse> {
        self.execute(&requests::partner_provision(blog_id, params))
            .await
    }

    /// Cancels the site's plan (`plan` absent), one product, or with
    /// `cancel_all` everything this key provisioned on the site.
    /// `success:false` means there was nothing to cancel. With `cancel_all`
    /// both arrays are always `Some` (empty when nothing was cancelled),
    /// without it `None`.
    pub async fn cancel(
        &self,
        site: &SiteRef,
        plan: Option<&str>,
        cancel_all: bool,
    ) -> Result<CancelResponse> {
        self.execute(&requests::cancel(site, plan, cancel_all))
            .await
    }

    /// The site's status (v1.4 shape).
    pub async fn status_v14(&self, site: &SiteRef) -> Result<StatusV14> {
        self.execute(&requests::status_v14(site)).await
    }

    /// The site's status (deprecated v1.3 shape).
    pub async fn status_v13(&self, site: &SiteRef) -> Result<StatusV13> {
        self.execute(&requests::status_v13(site)).await
    }

    /// What may be provisioned to the site now, per product family.
    pub async fn upgrade_paths(&self, site: &SiteRef) -> Result<UpgradePaths> {
        self.execute(&requests::upgrade_paths(site)).await
    }

    /// The error catalogue: code → description.
    pub async fn errors(&self) -> Result<ErrorsResponse> {
        self.execute(&requests::errors(false)).await
    }

    /// The error catalogue with cause and solution of each code.
    pub async fn errors_verbose(&self) -> Result<VerboseErrorsResponse> {
        self.execute(&requests::errors(true)).await
    }

    /// Checks that the token is a valid partner token.
    pub async fn verify_key(&self) -> Result<Success> {
        self.execute(&requests::verify_key()).await
    }

    /// Creates a sub-key of the calling key's partner; its secret is in the
    /// answer and nowhere else.
    pub async fn new_partner_key(&self, params: &PartnerKeyNewParams) -> Result<PartnerKeyCreated> {
        self.execute(&requests::new_partner_key(params)).await
    }

    /// Stores SSH credentials for the site's backups.
    pub async fn ssh_credentials(&self, site: &SiteRef, params: &SshParams) -> Result<Success> {
        self.execute(&requests::ssh_credentials(site, params)).await
    }

    /// Stores FTP credentials for the site's backups.
    pub async fn ftp_credentials(&self, site: &SiteRef, params: &FtpParams) -> Result<Success> {
        self.execute(&requests::ftp_credentials(site, params)).await
    }
}
