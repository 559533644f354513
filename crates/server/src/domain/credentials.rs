//! Validation of SSH/FTP backup credentials (SPEC §5; upstream:
//! host-partner-documentation, jetpack-start-endpoints ssh-credentials and
//! ftp-credentials). Pure: the handlers seal and store what passes.
//!
//! Every refusal is `invalid_credentials` with a message naming the
//! parameter; a message never contains a password or key.

use jpstart_types::params::{non_empty, FtpParams, SshParams};
use jpstart_types::SecretString;
use serde::Serialize;

use super::{ApiError, ErrorCode};

/// Longest user or host name accepted (a DNS name has at most 253 bytes).
const MAX_NAME: usize = 255;
/// Default SSH port.
pub const SSH_PORT: u16 = 22;
/// Default FTP port.
pub const FTP_PORT: u16 = 21;

/// Which credentials; also the `kind` column of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ssh,
    Ftp,
}

impl Kind {
    /// The stored name: `ssh` or `ftp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ssh => "ssh",
            Kind::Ftp => "ftp",
        }
    }
}

/// Credentials that passed validation: what is sealed and stored. Its
/// `Debug` comes from the [`SecretString`] fields, which redact.
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    /// SSH or FTP.
    #[serde(skip)]
    pub kind: Kind,
    /// The login user.
    pub user: String,
    /// The host to connect to (default: the site's host).
    pub host: String,
    /// The port (default: the protocol's).
    pub port: u16,
    /// The password, if any.
    #[serde(serialize_with = "expose")]
    pub pass: Option<SecretString>,
    /// SSH only: the private key text, if any.
    #[serde(serialize_with = "expose")]
    pub private_key: Option<SecretString>,
}

/// Sealed values need the plain text; this is the only place it is written
/// out, into the buffer that is encrypted.
fn expose<S: serde::Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(secret) => s.serialize_some(secret.expose()),
        None => s.serialize_none(),
    }
}

impl Credentials {
    /// The plain text to seal.
    pub fn to_plaintext(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn secret(v: &Option<SecretString>) -> Option<SecretString> {
    v.as_ref().filter(|s| !s.expose().is_empty()).cloned()
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::with_arg(ErrorCode::InvalidCredentials, msg.into())
}

/// Whether any SSH parameter was sent (non-empty).
pub fn ssh_sent(p: &SshParams) -> bool {
    non_empty(&p.ssh_user).is_some()
        || non_empty(&p.ssh_host).is_some()
        || non_empty(&p.ssh_port).is_some()
        || secret(&p.ssh_pass).is_some()
        || secret(&p.ssh_private_key).is_some()
}

/// Whether any FTP parameter was sent (non-empty).
pub fn ftp_sent(p: &FtpParams) -> bool {
    non_empty(&p.ftp_user).is_some()
        || non_empty(&p.ftp_host).is_some()
        || non_empty(&p.ftp_port).is_some()
        || secret(&p.ftp_pass).is_some()
}

/// Validates SSH credentials. `default_host` is the site's host at
/// provision; `None` where `ssh_host` is required (`/ssh-credentials`).
pub fn ssh(p: &SshParams, default_host: Option<&str>) -> Result<Credentials, ApiError> {
    let user = name("ssh_user", &p.ssh_user)?
        .ok_or_else(|| invalid("The required \"ssh_user\" argument is missing."))?;
    let pass = secret(&p.ssh_pass);
    let private_key = secret(&p.ssh_private_key);
    if pass.is_none() && private_key.is_none() {
        return Err(invalid(
            "\"ssh_user\" needs \"ssh_pass\" or \"ssh_private_key\"; both are missing.",
        ));
    }
    let host = host("ssh_host", &p.ssh_host, default_host)?;
    Ok(Credentials {
        kind: Kind::Ssh,
        user,
        host,
        port: port("ssh_port", &p.ssh_port, SSH_PORT)?,
        pass,
        private_key,
    })
}

/// Validates FTP credentials. `default_host` is the site's host at
/// provision; `None` where `ftp_host` is required (`/ftp-credentials`).
pub fn ftp(p: &FtpParams, default_host: Option<&str>) -> Result<Credentials, ApiError> {
    let user = name("ftp_user", &p.ftp_user)?
        .ok_or_else(|| invalid("The required \"ftp_user\" argument is missing."))?;
    let host = host("ftp_host", &p.ftp_host, default_host)?;
    Ok(Credentials {
        kind: Kind::Ftp,
        user,
        host,
        port: port("ftp_port", &p.ftp_port, FTP_PORT)?,
        // Optional upstream: anonymous FTP or a server that takes no password.
        pass: secret(&p.ftp_pass),
        private_key: None,
    })
}

/// The host sent, else `default` (the site's host at provision); with
/// neither, the refusal upstream's credential endpoints imply by listing
/// the host as required.
fn host(param: &str, v: &Option<String>, default: Option<&str>) -> Result<String, ApiError> {
    let given = match name(param, v)? {
        Some(h) => Some(h),
        None => name(param, &default.map(str::to_string))?,
    };
    given.ok_or_else(|| invalid(format!("The required \"{param}\" argument is missing.")))
}

/// A user or host: absent/empty is `None`; control characters, inner
/// whitespace in a host, or excessive length are refused.
fn name(param: &str, v: &Option<String>) -> Result<Option<String>, ApiError> {
    let Some(v) = non_empty(v) else {
        return Ok(None);
    };
    if v.chars().any(char::is_control) {
        return Err(invalid(format!(
            "\"{param}\" must not contain control characters."
        )));
    }
    if param.ends_with("_host") && v.chars().any(char::is_whitespace) {
        return Err(invalid(format!("\"{param}\" must not contain spaces.")));
    }
    if v.len() > MAX_NAME {
        return Err(invalid(format!(
            "\"{param}\" is longer than {MAX_NAME} characters."
        )));
    }
    Ok(Some(v.to_string()))
}

fn port(param: &str, v: &Option<String>, default: u16) -> Result<u16, ApiError> {
    match non_empty(v) {
        None => Ok(default),
        Some(s) => s.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
            invalid(format!(
                "\"{param}\" must be a whole number from 1 to 65535."
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sshp(user: &str, pass: &str, key: &str, host: &str, port: &str) -> SshParams {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        SshParams {
            ssh_user: opt(user),
            ssh_pass: opt(pass).map(SecretString::new),
            ssh_private_key: opt(key).map(SecretString::new),
            ssh_host: opt(host),
            ssh_port: opt(port),
        }
    }

    #[test]
    fn ssh_rules() {
        let ok = ssh(&sshp("u", "p", "", "", ""), Some("example.org")).unwrap();
        assert_eq!((ok.host.as_str(), ok.port), ("example.org", 22));
        assert!(ssh(&sshp("u", "", "KEY", "h", "2222"), Some("x")).is_ok());
        assert!(ssh(&sshp("u", "", "KEY", "h", "2222"), None).is_ok());
        for (p, needle) in [
            (
                sshp("", "p", "", "", ""),
                "\"ssh_user\" argument is missing",
            ),
            (
                sshp("u", "", "", "", ""),
                "needs \"ssh_pass\" or \"ssh_private_key\"",
            ),
            (sshp("u", "p", "", "", "0"), "1 to 65535"),
            (sshp("u", "p", "", "", "65536"), "1 to 65535"),
            (sshp("u", "p", "", "", "22x"), "1 to 65535"),
            (
                sshp("u\nx", "p", "", "", ""),
                "\"ssh_user\" must not contain control",
            ),
            (sshp("u\u{7}x", "p", "", "", ""), "control characters"),
            (sshp("u", "p", "", "a b", ""), "spaces"),
        ] {
            let e = ssh(&p, Some("example.org")).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidCredentials);
            assert!(e.message.contains(needle), "{} !~ {needle}", e.message);
        }
    }

    #[test]
    fn ssh_host_required_only_without_default() {
        let p = sshp("u", "p", "", "", "");
        let e = ssh(&p, None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidCredentials);
        assert_eq!(e.message, "The required \"ssh_host\" argument is missing.");
        let e = ssh(&sshp("u", "p", "", "   ", ""), None).unwrap_err();
        assert!(e.message.contains("ssh_host"), "{}", e.message);
    }

    #[test]
    fn ftp_host_required_only_without_default() {
        let p = FtpParams {
            ftp_user: Some("u".into()),
            ..FtpParams::default()
        };
        let c = ftp(&p, Some("example.org")).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("example.org", 21));
        let e = ftp(&p, None).unwrap_err();
        assert!(e.message.contains("ftp_host"), "{}", e.message);
    }

    #[test]
    fn plaintext_holds_secret_but_debug_does_not() {
        let c = ssh(&sshp("u", "s3cret", "", "", ""), Some("h")).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(String::from_utf8(c.to_plaintext())
            .unwrap()
            .contains("s3cret"));
    }
}
