//! The calls for WordPress.com accounts, magic links and the public site
//! lookup (their requests are also re-exported in [`crate::requests`]).

use jpstart_types::users::{MagicLinkParams, SiteInfo, UserCreated, UserParams};
use jpstart_types::wire::Success;
use jpstart_types::SiteRef;
use reqwest::Method;

use crate::error::Result;
use crate::request::{ApiRequest, Body};
use crate::Client;

pub mod requests {
    use super::*;

    /// `POST /rest/v1.3/jpphp/mobile-magic-link` (multipart, as upstream's
    /// example sends it).
    pub fn magic_link(params: &MagicLinkParams) -> ApiRequest {
        ApiRequest::jpphp(Method::POST, "1.3", &["mobile-magic-link"]).body(Body::multipart(params))
    }

    /// `POST /rest/v1.3/jpphp/user` (multipart, as upstream's example).
    pub fn create_user(params: &UserParams) -> ApiRequest {
        ApiRequest::jpphp(Method::POST, "1.3", &["user"]).body(Body::multipart(params))
    }

    /// `GET /rest/v1.1/sites/{site}` (no token).
    pub fn site_info(site: &SiteRef) -> ApiRequest {
        let site = site.to_string();
        ApiRequest::new(Method::GET, &["rest", "v1.1", "sites", &site]).no_auth()
    }
}

impl Client {
    /// Sends the WordPress app's login-link e-mail to `email` (at most 5
    /// per address per hour: then [`crate::Error::Api`] with status 429).
    pub async fn magic_link(&self, email: &str) -> Result<Success> {
        let params = MagicLinkParams {
            email: Some(email.to_string()),
        };
        self.execute(&requests::magic_link(&params)).await
    }

    /// Creates a WordPress.com account (the partner must be allowed to);
    /// its token is in the answer and nowhere else.
    pub async fn create_user(&self, params: &UserParams) -> Result<UserCreated> {
        self.execute(&requests::create_user(params)).await
    }

    /// A site's public information; `jetpack == Some(true)` means connected.
    pub async fn site_info(&self, site: &SiteRef) -> Result<SiteInfo> {
        self.execute(&requests::site_info(site)).await
    }
}
