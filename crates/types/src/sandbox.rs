//! The sandbox's shapes (SPEC §9): the magic sites `GET /sandbox` lists,
//! the parameters of `POST /sandbox/clock`, and the outbox
//! `GET /sandbox/mail` shows. The clock itself is [`crate::wire::ClockState`].

use serde::{Deserialize, Serialize};

use crate::admin::MailShown;

/// `GET /sandbox` (JSON): what the sandbox offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSites {
    /// The endpoints a magic site acts on (`provision`, `partner-cancel`, ...).
    pub endpoints: Vec<String>,
    /// Every magic site, error sites in catalogue order, then `slow-MS` and
    /// `flaky-N`.
    pub sites: Vec<MagicSiteShown>,
}

/// One magic site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MagicSiteShown {
    /// The host to use (`invalid-input.error.jpstart.test`), or its pattern
    /// (`slow-MS.jpstart.test`).
    pub site: String,
    /// `error`, `slow` or `flaky`.
    pub kind: String,
    /// What the site does, in a sentence.
    pub does: String,
    /// The HTTP status answered (error and flaky sites).
    pub status: Option<u16>,
    /// The error code answered (error and flaky sites).
    pub code: Option<String>,
    /// The error message answered, exactly (error and flaky sites).
    pub message: Option<String>,
}

/// The parameters of `POST /sandbox/clock`: one of the two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockParams {
    /// A duration to move forward by: `15d`, `2h 30m`, `90s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance: Option<String>,
    /// A time to move forward to, ISO 8601 (`2027-01-01T00:00:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
}

/// `GET /sandbox/mail` (JSON): the outbox, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxMail {
    pub mail: Vec<MailShown>,
}

/// The query of the `/sandbox` pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageParams {
    /// `json` or `html`; absent: JSON when `Accept` asks for it, else HTML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `/sandbox/mail`: only mail to this address (any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}
