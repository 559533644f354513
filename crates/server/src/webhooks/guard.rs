//! The SSRF guard's I/O half (the rules are
//! [`crate::domain::webhooks::forbidden_address`]): at registration, every
//! address the URL's host resolves to must be allowed; at delivery, the
//! HTTP client resolves through [`GuardedResolver`], which connects only
//! to allowed addresses, so a name that resolved to a public address at
//! registration and to a private one later (DNS rebinding) is not reached.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

use crate::domain::webhooks::forbidden_address;
use crate::domain::{ApiError, ErrorCode};

/// Longest a registration waits for its host to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The host of a URL as an address, when it is one (such a URL is not
/// resolved, so the resolver never sees it).
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Refuses a URL whose host is, or resolves to, an address the guard
/// forbids (unless private addresses are allowed: `--sandbox`,
/// `--webhook-allow-private`, where nothing is resolved).
pub async fn check_reachable(url: &Url, allow_private: bool) -> Result<(), ApiError> {
    if allow_private {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default().to_string();
    let refuse = |ip: IpAddr, why: &str| {
        ApiError::with_arg(
            ErrorCode::WebhookUrlNotAllowed,
            format!("{host} is {ip}, {why}: webhooks only reach public addresses."),
        )
    };
    if let Some(ip) = literal_ip(url) {
        return match forbidden_address(ip) {
            Some(why) => Err(refuse(ip, why)),
            None => Ok(()),
        };
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup = tokio::net::lookup_host((host.as_str(), port));
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Ok(addrs)) => addrs.collect(),
        _ => Vec::new(),
    };
    if addrs.is_empty() {
        return Err(ApiError::with_arg(
            ErrorCode::InvalidWebhookUrl,
            format!("{host} does not resolve."),
        ));
    }
    for a in addrs {
        if let Some(why) = forbidden_address(a.ip()) {
            return Err(refuse(a.ip(), why));
        }
    }
    Ok(())
}

/// Resolves with the system resolver and keeps only allowed addresses;
/// none left is a failed lookup, so the request is never sent.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || forbidden_address(a.ip()).is_none())
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no address webhooks may reach").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client of webhook and Monitor deliveries: this resolver, no
/// redirects (a redirect could lead anywhere), no proxy from the
/// environment, rustls.
pub fn http_client(allow_private: bool, timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .user_agent(concat!("jpstart-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_names_and_literals_are_refused() {
        for url in [
            "http://127.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/",
            "http://localhost/",
            "http://10.0.0.8/hook",
        ] {
            let u = Url::parse(url).unwrap();
            let err = check_reachable(&u, false).await.unwrap_err();
            assert_eq!(err.code, ErrorCode::WebhookUrlNotAllowed, "{url}: {err:?}");
            assert!(check_reachable(&u, true).await.is_ok(), "{url}");
        }
    }

    #[tokio::test]
    async fn the_resolver_drops_forbidden_addresses() {
        let r = GuardedResolver {
            allow_private: false,
        };
        let name: Name = "localhost".parse().unwrap();
        assert!(r.resolve(name).await.is_err());
        let r = GuardedResolver {
            allow_private: true,
        };
        let name: Name = "localhost".parse().unwrap();
        assert!(r.resolve(name).await.unwrap().next().is_some());
    }
}
