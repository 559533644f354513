//! The server key and sealing (authenticated encryption) of stored secrets.
//!
//! Backup credentials are stored sealed with XChaCha20-Poly1305 under a
//! 32-byte server key. A sealed value is the key id (one byte), a 24-byte
//! nonce, then the ciphertext and tag. The nonce is random (192 bits, so
//! random nonces never collide in practice), and the leading key id lets a
//! later version rotate keys and still open what older keys sealed. Callers
//! pass associated data (the site and the kind of credentials) so that a
//! sealed value cannot be moved to another row and opened there.
//!
//! The same key, through a derived subkey, authenticates values the server
//! hands out and must recognise later without storing them
//! ([`SecretKey::mac`]: HMAC-SHA256), such as the anti-forgery token of the
//! authorization form.
//!
//! Where the key comes from ([`KeySource`]): `JPSTART_SECRET_KEY` (64 hex
//! digits), a file named by `--secret-key-file`, or, for an SQLite database
//! only, a file `<dbfile>.key` beside the database, generated on first start
//! with mode 0600 and reused afterwards. PostgreSQL without a configured key
//! is refused: several servers share that database and must share one key,
//! which a file generated on one machine cannot give them.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use jpstart_types::SecretString;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::Backend;

/// Bytes in a server key.
pub const KEY_LEN: usize = 32;
/// The id written in front of every sealed value by the current key.
pub const KEY_ID: u8 = 1;
const NONCE_LEN: usize = 24;

/// Why the server key could not be loaded (the server refuses to start).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key that is not 64 hex digits, or a database URL of no known kind.
    #[error("{0}")]
    Invalid(String),
    /// A key file that cannot be read, created, or trusted: path and reason.
    #[error("secret key file {0}: {1}")]
    File(String, String),
    /// PostgreSQL without `JPSTART_SECRET_KEY` or a key file.
    #[error(
        "no secret key configured: a PostgreSQL database may be shared by several servers, \
         so they must share one key; set JPSTART_SECRET_KEY (64 hex digits, e.g. from \
         `openssl rand -hex 32`) or --secret-key-file / JPSTART_SECRET_KEY_FILE"
    )]
    MissingForPostgres,
}

/// A sealed value that does not open: tampered with, moved, or sealed by
/// another key.
#[derive(Debug, thiserror::Error)]
#[error("sealed value cannot be opened")]
pub struct OpenError;

/// Where the server key comes from. Built by the binary from its flags and
/// environment.
#[derive(Clone, Default)]
pub enum KeySource {
    /// 64 hex digits (`JPSTART_SECRET_KEY`).
    Hex(SecretString),
    /// A file holding 64 hex digits (`--secret-key-file`).
    File(PathBuf),
    /// Nothing configured: generated beside an SQLite database.
    #[default]
    Auto,
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Hex(_) => f.write_str("Hex(<redacted>)"),
            KeySource::File(p) => f.debug_tuple("File").field(p).finish(),
            KeySource::Auto => f.write_str("Auto"),
        }
    }
}

/// The server key. Its `Debug` shows the key id only.
#[derive(Clone)]
pub struct SecretKey {
    id: u8,
    cipher: XChaCha20Poly1305,
    /// HMAC-SHA256 keyed with a subkey of the server key, so that no MAC
    /// is ever computed under the cipher's own key.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(id {}, <redacted>)", self.id)
    }
}

impl SecretKey {
    /// A key from its raw bytes.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        let subkey = Sha256::new()
            .chain_update(b"jpstart mac subkey v1\0")
            .chain_update(bytes)
            .finalize();
        // HMAC pads a key shorter than its 64-byte block with zeros: the
        // same key, written as the fixed-size array its constructor takes.
        let mut block = [0u8; 64];
        block[..subkey.len()].copy_from_slice(&subkey);
        SecretKey {
            id: KEY_ID,
            cipher: XChaCha20Poly1305::new(bytes.into()),
            mac: <Hmac<Sha256> as KeyInit>::new(&block.into()),
        }
    }

    /// A MAC of `msg` bound to `context`: only a holder of the server key
    /// can make one. Hex, 64 digits.
    pub fn mac(&self, context: &[u8], msg: &[u8]) -> String {
        to_hex(&self.mac_bytes(context, msg))
    }

    /// Whether `tag` is [`SecretKey::mac`] of `msg` and `context` (in
    /// constant time).
    pub fn verify_mac(&self, context: &[u8], msg: &[u8], tag: &str) -> bool {
        let expected = self.mac(context, msg);
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), tag.as_bytes()).into()
    }

    fn mac_bytes(&self, context: &[u8], msg: &[u8]) -> [u8; 32] {
        let mut m = self.mac.clone();
        // The context's length first, so that no (context, msg) pair can be
        // read as another.
        m.update(&(context.len() as u64).to_be_bytes());
        m.update(context);
        m.update(msg);
        m.finalize().into_bytes().into()
    }

    /// A key from 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        parse_hex(text.trim())
            .map(|b| Self::from_bytes(&b))
            .ok_or_else(|| {
                KeyError::Invalid(format!(
                    "a secret key must be {} hex digits (e.g. from `openssl rand -hex 32`)",
                    KEY_LEN * 2
                ))
            })
    }

    /// Encrypts `plaintext`, binding it to `context` (which must be given
    /// again to open it).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = self.aad(context);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            // Encryption fails only for inputs of gigabytes; credentials
            // are bounded by the request body limit long before that.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(self.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts what [`SecretKey::seal`] made with the same key and context.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (&id, rest) = sealed.split_first().ok_or(OpenError)?;
        if id != self.id || rest.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = self.aad(context);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError)
    }

    /// The key id is authenticated too, so it cannot be rewritten.
    fn aad(&self, context: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(1 + context.len());
        aad.push(self.id);
        aad.extend_from_slice(context);
        aad
    }
}

fn parse_hex(text: &str) -> Option<[u8; KEY_LEN]> {
    let bytes = text.as_bytes();
    if bytes.len() != KEY_LEN * 2 {
        return None;
    }
    let mut out = [0u8; KEY_LEN];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Loads (or, for [`KeySource::Auto`] on SQLite, creates) the server key for
/// the database `database_url` names.
pub fn load(source: &KeySource, database_url: &str) -> Result<SecretKey, KeyError> {
    match source {
        KeySource::Hex(hex) => SecretKey::from_hex(hex.expose())
            .map_err(|e| KeyError::Invalid(format!("JPSTART_SECRET_KEY: {e}"))),
        KeySource::File(path) => read_key_file(path, false),
        KeySource::Auto => {
            let backend =
                Backend::from_url(database_url).map_err(|e| KeyError::Invalid(e.to_string()))?;
            match backend {
                Backend::Postgres => Err(KeyError::MissingForPostgres),
                Backend::Sqlite => match sqlite_key_path(database_url) {
                    Some(path) => load_or_create(&path),
                    // An in-memory database vanishes with the process, and
                    // so may its key.
                    None => Ok(SecretKey::from_bytes(&random_key())),
                },
            }
        }
    }
}

/// `<dbfile>.key` for `sqlite://PATH` / `sqlite:PATH`; `None` for an
/// in-memory database.
pub fn sqlite_key_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" || database_url.contains("mode=memory") {
        return None;
    }
    let mut name = PathBuf::from(path).into_os_string();
    name.push(".key");
    Some(PathBuf::from(name))
}

fn random_key() -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    key
}

fn load_or_create(path: &Path) -> Result<SecretKey, KeyError> {
    let err = |e: std::io::Error| KeyError::File(path.display().to_string(), e.to_string());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            let key = random_key();
            file.write_all(format!("{}\n", to_hex(&key)).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(err)?;
            tracing::info!(path = %path.display(), "generated the secret key");
            Ok(SecretKey::from_bytes(&key))
        }
        // Made by an earlier start (or a second server starting right now).
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path, true),
        Err(e) => Err(err(e)),
    }
}

/// Reads a key file. The generated one must be private to its owner: wider
/// permissions mean someone loosened them, and the key may have leaked.
fn read_key_file(path: &Path, owner_only: bool) -> Result<SecretKey, KeyError> {
    let file_err = |msg: String| KeyError::File(path.display().to_string(), msg);
    #[cfg(unix)]
    if owner_only {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| file_err(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(file_err(format!(
                "permissions {:04o} are too wide; it must be readable by its owner only \
                 (chmod 600 {})",
                mode & 0o7777,
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = owner_only;
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    SecretKey::from_hex(&text).map_err(|e| file_err(format!("malformed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_context_binding() {
        let key = SecretKey::from_bytes(&[7; KEY_LEN]);
        let a = key.seal(b"hunter2", b"ssh:1");
        let b = key.seal(b"hunter2", b"ssh:1");
        assert_ne!(a, b, "random nonces");
        assert_eq!(a[0], KEY_ID);
        assert_eq!(key.open(&a, b"ssh:1").unwrap(), b"hunter2");
        assert!(key.open(&a, b"ssh:2").is_err(), "moved to another row");
        let other = SecretKey::from_bytes(&[8; KEY_LEN]);
        assert!(other.open(&a, b"ssh:1").is_err(), "another key");
        let mut tampered = a.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(key.open(&tampered, b"ssh:1").is_err());
        assert!(key.open(&[], b"ssh:1").is_err());
    }

    #[test]
    fn macs_are_bound_to_key_context_and_message() {
        let key = SecretKey::from_bytes(&[7; KEY_LEN]);
        let tag = key.mac(b"form", b"link-1");
        assert_eq!(tag.len(), 64);
        assert_eq!(tag, key.mac(b"form", b"link-1"), "deterministic");
        assert!(key.verify_mac(b"form", b"link-1", &tag));
        assert!(!key.verify_mac(b"form", b"link-2", &tag));
        assert!(!key.verify_mac(b"other", b"link-1", &tag));
        assert!(!key.verify_mac(b"form", b"link-1", &tag[..63]));
        assert!(!key.verify_mac(b"form", b"link-1", ""));
        assert_ne!(key.mac(b"form", b"link-1"), key.mac(b"formlink-1", b""));
        let other = SecretKey::from_bytes(&[8; KEY_LEN]);
        assert!(!other.verify_mac(b"form", b"link-1", &tag));
    }

    #[test]
    fn hex_keys() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";
        assert!(SecretKey::from_hex(hex).is_ok());
        assert!(SecretKey::from_hex(&hex[..62]).is_err());
        assert!(SecretKey::from_hex(&hex.replace('0', "g")).is_err());
        let key = SecretKey::from_hex(hex).unwrap();
        assert!(!format!("{key:?}").contains("0011"));
        let source = KeySource::Hex(SecretString::new(hex));
        assert!(!format!("{source:?}").contains("0011"));
    }

    #[test]
    fn sqlite_key_paths() {
        assert_eq!(
            sqlite_key_path("sqlite:///tmp/x/jp.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x/jp.db.key"))
        );
        assert_eq!(
            sqlite_key_path("sqlite://jpstart.db"),
            Some(PathBuf::from("jpstart.db.key"))
        );
        assert_eq!(sqlite_key_path("sqlite::memory:"), None);
        assert_eq!(sqlite_key_path("postgres://h/db"), None);
    }

    #[test]
    fn postgres_needs_a_configured_key() {
        let e = load(&KeySource::Auto, "postgres://u@h/db").unwrap_err();
        assert!(e.to_string().contains("JPSTART_SECRET_KEY"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn generated_file_is_private_reused_and_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("j.db").display());
        let path = dir.path().join("j.db.key");
        let first = load(&KeySource::Auto, &db).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = first.seal(b"x", b"c");
        let second = load(&KeySource::Auto, &db).unwrap();
        assert_eq!(second.open(&sealed, b"c").unwrap(), b"x", "same key reused");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load(&KeySource::Auto, &db).unwrap_err().to_string();
        assert!(e.contains("0644") && e.contains("chmod 600"), "{e}");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "not a key").unwrap();
        let e = load(&KeySource::Auto, &db).unwrap_err().to_string();
        assert!(e.contains("malformed"), "{e}");
    }
}
