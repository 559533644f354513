//! The client, its builder, and the one place requests are sent.

use std::sync::Arc;
use std::time::Duration;

use jpstart_types::params::TokenParams;
use jpstart_types::wire::TokenResponse;
use jpstart_types::SecretString;
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use crate::base_url::{parse_base_url, DEFAULT_BASE_URL};
use crate::error::{Error, Result};
use crate::request::{api_error, ApiRequest, Body};
use crate::retry::{retry_after, RetryPolicy};

/// How the client authenticates.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// A partner key: a token is requested on first use and then reused
    /// (tokens do not expire).
    Partner {
        /// The key's OAuth2 client id.
        client_id: String,
        /// The key's client secret (redacted in `Debug`).
        client_secret: SecretString,
    },
    /// A token obtained earlier.
    Token(SecretString),
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    credentials: Option<Credentials>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    root_certificates: Vec<Vec<u8>>,
    user_agent: String,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: DEFAULT_BASE_URL.to_string(),
            credentials: None,
            // The Jetpack CLI waits 60 s for the API.
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            root_certificates: Vec::new(),
            user_agent: concat!("jpstart-client/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

impl ClientBuilder {
    /// Where the API lives (default `https://public-api.wordpress.com`); a
    /// path is kept as a prefix.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// A partner key's client id and secret.
    pub fn partner(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::Partner {
            client_id: client_id.into(),
            client_secret: SecretString::new(secret),
        });
        self
    }

    /// A token obtained earlier.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::Token(SecretString::new(token)));
        self
    }

    /// Either kind of credentials.
    pub fn credentials(mut self, credentials: Option<Credentials>) -> Self {
        self.credentials = credentials;
        self
    }

    /// The limit of one attempt, from connecting to the last body byte.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The limit of connecting (TCP and TLS).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retries of transient failures.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Trust one more CA (PEM), e.g. a self-signed jpstart sandbox.
    pub fn add_root_certificate_pem(mut self, pem: Vec<u8>) -> Self {
        self.root_certificates.push(pem);
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Checks the base URL and builds the HTTP client.
    pub fn build(self) -> Result<Client> {
        let base = parse_base_url(&self.base_url)?;
        let mut http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            // An API answer is never a redirect; following one could send
            // the bearer token elsewhere.
            .redirect(reqwest::redirect::Policy::none());
        for pem in &self.root_certificates {
            let cert = reqwest::Certificate::from_pem(pem).map_err(Error::Build)?;
            http = http.add_root_certificate(cert);
        }
        let http = http.build().map_err(Error::Build)?;
        let token = OnceCell::new();
        if let Some(Credentials::Token(t)) = &self.credentials {
            let _ = token.set(t.clone());
        }
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                credentials: self.credentials,
                retry: self.retry,
                token,
            }),
        })
    }
}

/// An async client of the partner API. Cheap to clone; clones share the
/// connection pool and the token.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: Url,
    credentials: Option<Credentials>,
    retry: RetryPolicy,
    /// The bearer token: given, or fetched once and then reused.
    token: OnceCell<SecretString>,
}

impl Client {
    /// A builder with the defaults (the real service, no credentials).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// `POST /oauth2/token`: a new token for the partner key (urlencoded
    /// form, as `partner-cancel.sh` sends it). The client keeps the first
    /// token it gets for its own calls.
    pub async fn token(&self) -> Result<TokenResponse> {
        let Some(Credentials::Partner {
            client_id,
            client_secret,
        }) = &self.inner.credentials
        else {
            return Err(Error::NoCredentials);
        };
        let params = TokenParams {
            grant_type: Some("client_credentials".into()),
            client_id: Some(client_id.clone()),
            client_secret: Some(client_secret.clone()),
            scope: Some("jetpack-partner".into()),
            ..Default::default()
        };
        let req = ApiRequest::new(Method::POST, &["oauth2", "token"])
            .body(Body::form(&params))
            .no_auth();
        let res: TokenResponse = self.send(&req, None).await?;
        let _ = self
            .inner
            .token
            .set(SecretString::new(res.access_token.clone()));
        Ok(res)
    }

    /// The bearer token for the other calls: the one given, or the one
    /// fetched on first use (concurrent first uses share one request).
    pub async fn access_token(&self) -> Result<SecretString> {
        self.inner
            .token
            .get_or_try_init(|| async {
                let res = self.token().await?;
                Ok(SecretString::new(res.access_token))
            })
            .await
            .cloned()
    }

    /// Sends one call and decodes the answer as `T` (any type, e.g.
    /// `serde_json::Value` to keep the body exactly as the API sent it).
    /// Transient failures are retried per the [`RetryPolicy`].
    pub async fn execute<T: DeserializeOwned>(&self, req: &ApiRequest) -> Result<T> {
        let token = if req.auth {
            Some(self.access_token().await?)
        } else {
            None
        };
        self.send(req, token.as_ref()).await
    }

    /// Sends with retries, with the token given.
    async fn send<T: DeserializeOwned>(
        &self,
        req: &ApiRequest,
        token: Option<&SecretString>,
    ) -> Result<T> {
        let retry = self.inner.retry;
        let mut attempt = 1;
        loop {
            let (result, wait) = self.attempt(req, token).await;
            match result {
                Err(e) if e.is_transient() && attempt < retry.max_attempts.max(1) => {
                    tokio::time::sleep(retry.delay(attempt, wait)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
                Ok(body) => {
                    return serde_json::from_str(&body)
                        .map_err(|source| Error::Decode { source, body })
                }
            }
        }
    }

    /// One attempt: the body of a success, or the error, and the server's
    /// `Retry-After`.
    async fn attempt(
        &self,
        req: &ApiRequest,
        token: Option<&SecretString>,
    ) -> (Result<String>, Option<Duration>) {
        let mut rb = self
            .inner
            .http
            .request(req.method.clone(), req.url(&self.inner.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t.expose());
        }
        rb = req.body.apply(rb);
        let res = match rb.send().await {
            Ok(res) => res,
            Err(e) => return (Err(Error::Transport(e)), None),
        };
        let status = res.status().as_u16();
        let wait = retry_after(res.headers());
        let body = match res.text().await {
            Ok(b) => b,
            Err(e) => return (Err(Error::Transport(e)), wait),
        };
        if let Some((code, message)) = api_error(&body) {
            return (
                Err(Error::Api {
                    status,
                    code,
                    message,
                    body,
                }),
                wait,
            );
        }
        if !(200..300).contains(&status) {
            return (Err(Error::Status { status, body }), wait);
        }
        (Ok(body), wait)
    }
}
