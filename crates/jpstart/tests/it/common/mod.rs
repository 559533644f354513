//! The shared test helper: [`TestApp`] starts the real server.

#![allow(dead_code)] // each test module uses a different part of the helper

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jpstart_types::wire::{
    AdminActivation, CancelResponse, ErrorBody, KeyCredentials, ProvisionResponse, StatusV14,
    TokenResponse,
};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_jpstart");
pub use jpstart_testkit::{with_database, PgDatabase, POSTGRES_ENV};
/// The server key tests give a PostgreSQL server (64 hex digits).
pub const TEST_SECRET_KEY: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Runs each `async fn name(db: Db) { ... }` once per backend, as
/// `name::sqlite` and `name::postgres` (see [`jpstart_testkit::both_backends!`]).
#[macro_export]
macro_rules! both_backends {
    ($($t:tt)*) => {
        jpstart_testkit::both_backends!($crate::common::Db => $($t)*);
    };
}

impl jpstart_testkit::Backends for Db {
    const SUITE: &'static str = "integration tests";

    async fn sqlite() -> Db {
        Db::sqlite()
    }

    async fn postgres() -> Option<Db> {
        Db::postgres().await
    }
}

/// The PostgreSQL half of a test did not run. Said once per test binary,
/// straight to the process's stderr: libtest captures only the `print!`
/// family, so a plain `cargo test` shows the line. With
/// `JPSTART_TEST_REQUIRE_POSTGRES` set (CI), skipping is a failure.
pub fn postgres_skipped() {
    jpstart_testkit::postgres_skipped(<Db as jpstart_testkit::Backends>::SUITE);
}

/// A database of its own for one test.
pub struct Db {
    pub url: String,
    pub backend: Backend,
    _dir: Option<Arc<TempDir>>,
    _pg: Option<Arc<PgDatabase>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Db {
    /// A fresh SQLite file in a temporary directory.
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("jpstart.db").display());
        Db {
            url,
            backend: Backend::Sqlite,
            _dir: Some(Arc::new(dir)),
            _pg: None,
        }
    }

    /// A fresh database in the cluster `JPSTART_TEST_POSTGRES_URL` names,
    /// or `None` when it is unset.
    pub async fn postgres() -> Option<Db> {
        let pg = PgDatabase::create("jpstart_test").await?;
        Some(Db {
            url: pg.url().to_string(),
            backend: Backend::Postgres,
            _dir: None,
            _pg: Some(Arc::new(pg)),
        })
    }

    /// Another SQLite file in this database's temporary directory (e.g. the
    /// target of a backup); `None` for PostgreSQL.
    pub fn sibling(&self, file: &str) -> Option<(std::path::PathBuf, Db)> {
        let path = self._dir.as_ref()?.path().join(file);
        let url = format!("sqlite://{}", path.display());
        Some((
            path,
            Db {
                url,
                backend: Backend::Sqlite,
                ..self.share()
            },
        ))
    }

    /// Another handle on the same database (a second server on it).
    pub fn share(&self) -> Db {
        Db {
            url: self.url.clone(),
            backend: self.backend,
            _dir: self._dir.clone(),
            _pg: self._pg.clone(),
        }
    }
}

/// Options for [`TestApp::spawn_with`].
#[derive(Default, Clone)]
pub struct Opts {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Shell commands run before the server replaces the shell (`umask 022`,
    /// `ulimit -n 64`): `sh -c 'PREFIX; exec jpstart serve ...'`.
    pub shell: Option<String>,
}

impl Opts {
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// `--test-clock`: the server runs on the clock `admin clock` moves
    /// (see [`TestApp::advance_clock`]).
    pub fn test_clock(self) -> Self {
        self.arg("--test-clock")
    }

    /// See [`Opts::shell`].
    pub fn shell(mut self, prefix: impl Into<String>) -> Self {
        self.shell = Some(prefix.into());
        self
    }
}

/// `BIN` itself, or `sh -c 'PREFIX; exec BIN "$@"'` with `prefix`; `exec`
/// keeps the process id, so killing the child kills the server.
pub fn command_in_shell(prefix: Option<&str>) -> Command {
    match prefix {
        None => Command::new(BIN),
        Some(prefix) => {
            let mut cmd = Command::new("sh");
            cmd.arg("-c")
                .arg(format!("{prefix}; exec \"$0\" \"$@\""))
                .arg(BIN);
            cmd
        }
    }
}

/// A running `jpstart serve`, killed when dropped.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    child: Child,
    log: Arc<Mutex<String>>,
}

impl TestApp {
    pub async fn spawn(db: Db) -> TestApp {
        Self::spawn_with(db, Opts::default()).await
    }

    pub async fn spawn_with(db: Db, opts: Opts) -> TestApp {
        let mut cmd = command_in_shell(opts.shell.as_deref());
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--database-url")
            .arg(&db.url);
        cmd.args(&opts.args);
        cmd.env_remove("JPSTART_LISTEN")
            .env_remove("JPSTART_DATABASE_URL")
            .env_remove("JPSTART_SECRET_KEY")
            .env_remove("JPSTART_SECRET_KEY_FILE");
        // The write rate per key is off unless a test sets it (Opts::env or
        // --write-rate-limit): suites that provision in bulk test other
        // rules; tests/it/trust_growth.rs tests the limit.
        cmd.env("JPSTART_WRITE_RATE_LIMIT", "0");
        // PostgreSQL refuses to start without a configured key (SQLite
        // generates one beside its file).
        if db.backend == Backend::Postgres
            && !opts
                .env
                .iter()
                .any(|(k, _)| k.starts_with("JPSTART_SECRET_KEY"))
            && !opts.args.iter().any(|a| a.starts_with("--secret-key-file"))
        {
            cmd.env("JPSTART_SECRET_KEY", TEST_SECRET_KEY);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start jpstart serve");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("log lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
        let base = match first {
            Ok(Ok(Some(line))) => line
                .strip_prefix("jpstart listening on ")
                .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
                .to_string(),
            other => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!(
                    "server did not start: {other:?}\nlog:\n{}",
                    log.lock().expect("log lock")
                );
            }
        };
        // Keep reading stdout so the pipe never fills.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        TestApp {
            base,
            client,
            db,
            child,
            log,
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// `kill -9`: the process dies at once, mid-request or mid-commit,
    /// without draining. Waits until it is gone.
    pub async fn kill9(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("server dies after SIGKILL")
            .expect("wait");
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        tokio::time::timeout(Duration::from_secs(40), self.child.wait())
            .await
            .expect("server exits after SIGTERM")
            .expect("wait")
    }

    /// Sends SIGTERM without waiting (see [`TestApp::wait_exit`]).
    pub fn sigterm(&self) {
        let pid = self.child.id().expect("server still running");
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid}");
    }

    /// Waits for the server to exit (after [`TestApp::sigterm`]).
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(Duration::from_secs(40), self.child.wait())
            .await
            .expect("server exits")
            .expect("wait")
    }

    /// Waits until the server's stderr contains `needle`; panics after 20 s.
    pub async fn wait_for_log(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !self.logs().contains(needle) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {needle:?} in the log:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub fn get(&self, path: &str, token: &str) -> RequestBuilder {
        self.request(Method::GET, path).bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str) -> RequestBuilder {
        self.request(Method::POST, path).bearer_auth(token)
    }

    /// `jpstart admin ARGS` on this server's database: the JSON it printed,
    /// or its one-line error.
    pub fn admin(&self, args: &[&str]) -> Result<Value, String> {
        admin(&self.db.url, args)
    }

    /// `jpstart admin clock advance DURATION` (`15d`, `2s`) on this server's
    /// database: every server on it started with `--test-clock` runs that
    /// much later from its next request on. Business time only: no sleep.
    /// Returns the clock as printed (`{"now","offset_s"}`).
    pub fn advance_clock(&self, by: &str) -> Value {
        self.admin(&["clock", "advance", by])
            .unwrap_or_else(|e| panic!("admin clock advance {by}: {e}"))
    }

    /// The blog id of a site (blog id, identifier or URL), as
    /// `jpstart admin site show` reports it.
    pub fn blog_id(&self, site: &str) -> u64 {
        let shown = self
            .admin(&["site", "show", site])
            .expect("admin site show");
        shown["blog_id"].as_u64().expect("blog_id")
    }

    /// A new partner with a token.
    pub async fn partner(&self, name: &str) -> Partner {
        let v = self
            .admin(&["partner", "create", "--name", name])
            .expect("partner create");
        self.with_token(v).await
    }

    /// Another key of a partner (extra admin `key create` flags allowed).
    pub async fn key(&self, partner_id: u64, extra: &[&str]) -> Partner {
        let pid = partner_id.to_string();
        let mut args = vec!["key", "create", "--partner", pid.as_str()];
        args.extend_from_slice(extra);
        let v = self.admin(&args).expect("key create");
        self.with_token(v).await
    }

    async fn with_token(&self, v: Value) -> Partner {
        let creds: KeyCredentials = decode(&v);
        let token = self.token(&creds.client_id, &creds.client_secret).await;
        Partner {
            partner_id: creds.partner_id,
            key_id: creds.key_id,
            client_id: creds.client_id,
            client_secret: creds.client_secret,
            token,
        }
    }

    /// The documented urlencoded token request, answered as it is.
    pub async fn token_request(&self, client_id: &str, secret: &str) -> reqwest::Response {
        self.request(Method::POST, "/oauth2/token")
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", "jetpack-partner"),
            ])
            .send()
            .await
            .expect("token request")
    }

    /// A token by the documented urlencoded request.
    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        let (status, body) = json(self.token_request(client_id, secret).await).await;
        assert_eq!(status, 200, "token: {body}");
        decode::<TokenResponse>(&body).access_token
    }

    /// `POST /rest/v1.3/jpphp/provision` with form fields.
    pub async fn provision(&self, token: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
        json(
            self.post("/rest/v1.3/jpphp/provision", token)
                .form(fields)
                .send()
                .await
                .expect("provision"),
        )
        .await
    }

    /// `POST /rest/v1.3/jpphp/{site}/partner-cancel` with form fields.
    pub async fn cancel(
        &self,
        token: &str,
        site: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let path = format!("/rest/v1.3/jpphp/{site}/partner-cancel");
        json(
            self.post(&path, token)
                .form(fields)
                .send()
                .await
                .expect("cancel"),
        )
        .await
    }

    /// `GET /rest/v1.4/jpphp/{site}/status`.
    pub async fn status(&self, token: &str, site: &str) -> (StatusCode, Value) {
        json(
            self.get(&format!("/rest/v1.4/jpphp/{site}/status"), token)
                .send()
                .await
                .expect("status"),
        )
        .await
    }

    /// A provision that must succeed (200), its answer decoded.
    pub async fn provision_ok(&self, token: &str, fields: &[(&str, &str)]) -> ProvisionResponse {
        let (status, body) = self.provision(token, fields).await;
        ok(status, &body)
    }

    /// A cancellation that must succeed (200), its answer decoded.
    pub async fn cancel_ok(
        &self,
        token: &str,
        site: &str,
        fields: &[(&str, &str)],
    ) -> CancelResponse {
        let (status, body) = self.cancel(token, site, fields).await;
        ok(status, &body)
    }

    /// A v1.4 status that must succeed (200), its answer decoded.
    pub async fn status_ok(&self, token: &str, site: &str) -> StatusV14 {
        let (status, body) = self.status(token, site).await;
        ok(status, &body)
    }

    /// `jpstart admin ARGS` that must succeed, its JSON decoded.
    pub fn admin_as<T: DeserializeOwned + Serialize>(&self, args: &[&str]) -> T {
        let v = self
            .admin(args)
            .unwrap_or_else(|e| panic!("admin {args:?}: {e}"));
        decode(&v)
    }

    /// `jpstart admin activations ARGS`, decoded.
    pub fn activations(&self, args: &[&str]) -> Vec<AdminActivation> {
        let mut all = vec!["activations"];
        all.extend_from_slice(args);
        self.admin_as(&all)
    }
}

/// A partner key with its credentials and a token.
#[derive(Clone, Debug)]
pub struct Partner {
    pub partner_id: u64,
    pub key_id: u64,
    pub client_id: String,
    pub client_secret: String,
    pub token: String,
}

/// `jpstart admin --database-url URL ARGS`.
pub fn admin(db_url: &str, args: &[&str]) -> Result<Value, String> {
    let out = std::process::Command::new(BIN)
        .arg("admin")
        .arg("--database-url")
        .arg(db_url)
        .args(args)
        .env_remove("JPSTART_DATABASE_URL")
        .output()
        .expect("run jpstart admin");
    if out.status.success() {
        serde_json::from_slice(&out.stdout).map_err(|e| {
            format!(
                "admin printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// `jpstart admin --database-url URL ARGS` after the shell commands
/// `prefix` (e.g. `umask 022`), as [`admin`].
pub async fn admin_in_shell(prefix: &str, db_url: &str, args: &[&str]) -> Result<Value, String> {
    let out = command_in_shell(Some(prefix))
        .arg("admin")
        .arg("--database-url")
        .arg(db_url)
        .args(args)
        .env_remove("JPSTART_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run jpstart admin");
    if out.status.success() {
        serde_json::from_slice(&out.stdout).map_err(|e| format!("admin printed no JSON ({e})"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// `jpstart admin --database-url URL ARGS`, its raw output (exit status,
/// stdout, stderr), for tests of the exact output.
pub fn admin_output(db_url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .arg("admin")
        .arg("--database-url")
        .arg(db_url)
        .args(args)
        .env_remove("JPSTART_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run jpstart admin")
}

/// Status, headers and text body of a response.
pub async fn raw(res: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    (status, headers, text)
}

/// The keys of a JSON object, in order.
pub fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// Status and JSON body of a response (the body must be JSON).
pub async fn json(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    (status, value)
}

/// Asserts the documented error body: status, code, and the four keys in
/// order (`error`, `message`, `error_code`, `error_message`), and that the
/// code is in the served error catalogue.
pub fn assert_error(
    status: StatusCode,
    body: &Value,
    want_status: u16,
    want_code: &str,
) -> ErrorBody {
    assert_eq!(status.as_u16(), want_status, "status of {body}");
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"));
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["error", "message", "error_code", "error_message"],
        "key order of {body}"
    );
    let err: ErrorBody = decode(body);
    assert_eq!(err.error, want_code, "{body}");
    assert_eq!(err.error_code, want_code, "{body}");
    assert_eq!(err.message, err.error_message, "{body}");
    let catalogue = jpstart_server::api::errors::catalogue();
    assert!(
        catalogue.iter().any(|(c, _)| *c == want_code),
        "{want_code} is not in the error catalogue"
    );
    err
}

/// A JSON answer decoded into its wire type, strictly: encoding the value
/// again must give the same JSON back, so that the decode fails on a key the
/// type does not know (serde would drop it), a missing key or another type.
/// Key order is not compared (`serde_json::Map` equality ignores it); tests
/// of the exact order use [`keys`].
pub fn decode<T: DeserializeOwned + Serialize>(body: &Value) -> T {
    try_decode(body).unwrap_or_else(|e| panic!("{e}"))
}

/// [`decode`] as a `Result`, for property tests that report a failure
/// instead of panicking.
pub fn try_decode<T: DeserializeOwned + Serialize>(body: &Value) -> Result<T, String> {
    let name = std::any::type_name::<T>();
    let typed: T =
        serde_json::from_value(body.clone()).map_err(|e| format!("not a {name} ({e}): {body}"))?;
    let again = serde_json::to_value(&typed).map_err(|e| format!("{name}: {e}"))?;
    if &again != body {
        return Err(format!("{name} does not carry exactly the keys of {body}"));
    }
    Ok(typed)
}

/// The body of an answer that must be a 200, decoded (see [`decode`]).
pub fn ok<T: DeserializeOwned + Serialize>(status: StatusCode, body: &Value) -> T {
    assert_eq!(status, 200, "{body}");
    decode(body)
}
