//! The sandbox's calls (SPEC §9; a jpstart started with `--sandbox`, not
//! WordPress.com): the magic-site list, the test clock, the mail outbox.
//! Their requests are also re-exported in [`crate::requests`].
//!
//! The request log (`GET /wpcom/v2/jetpack-partners/{id}/requests`) has
//! its own calls beside these.

use jpstart_types::sandbox::{ClockParams, SandboxMail, SandboxSites};
use jpstart_types::wire::ClockState;
use reqwest::Method;

use crate::error::Result;
use crate::request::{ApiRequest, Body};
use crate::Client;

pub mod requests {
    use super::*;

    /// `GET /sandbox?format=json` (no token).
    pub fn sandbox_sites() -> ApiRequest {
        ApiRequest::new(Method::GET, &["sandbox"])
            .query("format", "json")
            .no_auth()
    }

    /// `GET /sandbox/clock` (no token).
    pub fn sandbox_clock() -> ApiRequest {
        ApiRequest::new(Method::GET, &["sandbox", "clock"]).no_auth()
    }

    /// `POST /sandbox/clock` with `advance=DURATION` (`15d`, `2h`) or
    /// `now=ISO8601`, as a urlencoded form.
    pub fn move_sandbox_clock(params: &ClockParams) -> ApiRequest {
        ApiRequest::new(Method::POST, &["sandbox", "clock"]).body(Body::form(params))
    }

    /// `GET /sandbox/mail?format=json`, only mail to `to` when given (no
    /// token).
    pub fn sandbox_mail(to: Option<&str>) -> ApiRequest {
        let req = ApiRequest::new(Method::GET, &["sandbox", "mail"])
            .query("format", "json")
            .no_auth();
        match to {
            Some(to) => req.query("to", to),
            None => req,
        }
    }
}

impl Client {
    /// Every magic site of the sandbox and what it answers.
    pub async fn sandbox_sites(&self) -> Result<SandboxSites> {
        self.execute(&requests::sandbox_sites()).await
    }

    /// Where the sandbox's clock stands.
    pub async fn sandbox_clock(&self) -> Result<ClockState> {
        self.execute(&requests::sandbox_clock()).await
    }

    /// Moves the sandbox's clock forward by a duration (`15d`, `2h 30m`).
    pub async fn advance_sandbox_clock(&self, by: &str) -> Result<ClockState> {
        let params = ClockParams {
            advance: Some(by.to_string()),
            now: None,
        };
        self.execute(&requests::move_sandbox_clock(&params)).await
    }

    /// Moves the sandbox's clock forward to a time (ISO 8601); refused
    /// (`clock_backwards`) if it is before the clock's now.
    pub async fn set_sandbox_clock(&self, now: &str) -> Result<ClockState> {
        let params = ClockParams {
            advance: None,
            now: Some(now.to_string()),
        };
        self.execute(&requests::move_sandbox_clock(&params)).await
    }

    /// The sandbox's mail outbox, oldest first (one-time links included).
    pub async fn sandbox_mail(&self, to: Option<&str>) -> Result<SandboxMail> {
        self.execute(&requests::sandbox_mail(to)).await
    }
}
