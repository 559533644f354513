//! The client's error type.

use jpstart_types::site::SiteRefError;

/// Everything a call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API refused the request with its error body: the REST endpoints'
    /// `{"error","message",...}` or, for `/oauth2/token`, RFC 6749's
    /// `{"error","error_description"}` (the description is the message).
    #[error("{code}: {message} (HTTP {status})")]
    Api {
        /// The HTTP status (200 only when the body carried an `error`, the
        /// rule the Jetpack scripts apply).
        status: u16,
        /// The API's `error` code, e.g. `invalid_blog`.
        code: String,
        /// The API's `message` (or `error_description`).
        message: String,
        /// The body as received, for callers that print it.
        body: String,
    },
    /// An HTTP status with a body that is not an API error (an unknown
    /// route's empty 404, a proxy's HTML page, ...).
    #[error("HTTP {status} without an API error body")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The body as received (possibly empty).
        body: String,
    },
    /// The request never got an answer: connection refused or reset, DNS,
    /// TLS, timeout.
    #[error("request failed: {0}")]
    Transport(#[source] reqwest::Error),
    /// A success status whose body is not the expected JSON.
    #[error("unexpected response body: {source}")]
    Decode {
        /// Why it did not decode.
        #[source]
        source: serde_json::Error,
        /// The body as received.
        body: String,
    },
    /// A site argument that is neither a blog id, an identifier nor a URL.
    #[error("invalid site: {0}")]
    Site(#[from] SiteRefError),
    /// The base URL is not an http(s) URL.
    #[error("invalid base URL {url:?}: {why}")]
    BaseUrl {
        /// The URL given.
        url: String,
        /// Why it was refused.
        why: String,
    },
    /// The call needs a token and the client has neither one nor the
    /// credentials to get one.
    #[error("no credentials: give a token, or a partner id and secret")]
    NoCredentials,
    /// The HTTP client could not be built (e.g. an unusable CA certificate).
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
}

impl Error {
    /// The API's error code, when the API answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Status { status, .. } => Some(*status),
            Error::Transport(e) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// Whether trying again may succeed: connection failures, 5xx, 429.
    /// Never a 4xx: the API has answered, and asking again gets the same.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport(e) => !e.is_builder() && !e.is_redirect(),
            Error::Api { status, .. } | Error::Status { status, .. } => {
                *status == 429 || (500..600).contains(status)
            }
            _ => false,
        }
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
