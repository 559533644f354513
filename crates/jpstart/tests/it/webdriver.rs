//! Just enough of the W3C WebDriver protocol, over plain HTTP with reqwest,
//! to drive a real headless Chromium through chromedriver.
//!
//! [`Driver::start`] finds `chromedriver` (env `JPSTART_TEST_CHROMEDRIVER`,
//! else on `PATH`) and Chromium (env `JPSTART_TEST_CHROMIUM`, else
//! `/usr/bin/chromium`). When either is missing the test is skipped with a
//! message — unless `CI` is set, where a missing browser is a failure
//! (`.ci/setup/40-chromium.sh` installs Debian's `chromium` and
//! `chromium-driver`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

/// The W3C key under which an element reference comes back.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver, stopped (with its sessions) when dropped.
pub struct Driver {
    child: Child,
    port: u16,
    http: reqwest::Client,
    chromium: PathBuf,
    dir: TempDir,
    sessions: Mutex<Vec<String>>,
}

/// One browser.
pub struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Driver {
    /// Starts chromedriver on a free loopback port; `None` (after printing
    /// why) when the browser is not installed and `CI` is unset.
    pub async fn start() -> Option<Driver> {
        let driver = std::env::var_os("JPSTART_TEST_CHROMEDRIVER")
            .map(PathBuf::from)
            .or_else(|| on_path("chromedriver"));
        let chromium = std::env::var_os("JPSTART_TEST_CHROMIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        let Some(driver) = driver.filter(|d| is_executable(d) && is_executable(&chromium)) else {
            let why = format!(
                "chromedriver or Chromium ({}) not found; install Debian's chromium and chromium-driver \
                 (.ci/setup/40-chromium.sh) or set JPSTART_TEST_CHROMEDRIVER / JPSTART_TEST_CHROMIUM",
                chromium.display()
            );
            if std::env::var_os("CI").is_some() {
                panic!("CI is set and the browser test cannot run: {why}");
            }
            eprintln!("SKIPPED: browser test: {why}");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("chromedriver.log")).expect("log file");
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", driver.display()));
        let mut d = Driver {
            child,
            port,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            chromium,
            dir,
            sessions: Mutex::new(Vec::new()),
        };
        d.wait_ready().await;
        Some(d)
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(res) = self.http.get(self.url("/status")).send().await {
                if let Ok(v) = res.json::<Value>().await {
                    if v["value"]["ready"] == true {
                        return;
                    }
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready in time:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// chromedriver's own output, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A WebDriver command: the `value` of a success, a panic otherwise.
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method.clone(), self.url(path));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status} {}",
            v["value"]
        );
        v["value"].clone()
    }

    /// A new headless Chromium with a profile of its own.
    pub async fn session(&self) -> Session<'_> {
        let profile = self.dir.path().join(format!(
            "profile-{}",
            self.sessions.lock().expect("lock").len()
        ));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", format!("--user-data-dir={}", profile.display()),
                ],
            },
        }}});
        let v = self
            .command(reqwest::Method::POST, "/session", Some(caps))
            .await;
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {v}"))
            .to_string();
        self.sessions.lock().expect("lock").push(id.clone());
        Session { driver: self, id }
    }

    /// Ends a session synchronously (usable from `Drop`): chromedriver then
    /// stops its browser, so no Chromium outlives the test.
    fn delete_session(&self, id: &str) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
        let req = format!(
            "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        if s.write_all(req.as_bytes()).is_ok() {
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let sessions =
            std::mem::take(&mut *self.sessions.lock().unwrap_or_else(|e| e.into_inner()));
        for id in sessions {
            self.delete_session(&id);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Session<'_> {
    fn path(&self, tail: &str) -> String {
        format!("/session/{}{tail}", self.id)
    }

    pub async fn goto(&self, url: &str) {
        self.driver
            .command(
                reqwest::Method::POST,
                &self.path("/url"),
                Some(json!({"url": url})),
            )
            .await;
    }

    pub async fn current_url(&self) -> String {
        let v = self
            .driver
            .command(reqwest::Method::GET, &self.path("/url"), None)
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    pub async fn title(&self) -> String {
        let v = self
            .driver
            .command(reqwest::Method::GET, &self.path("/title"), None)
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The page's HTML as the browser holds it.
    pub async fn source(&self) -> String {
        let v = self
            .driver
            .command(reqwest::Method::GET, &self.path("/source"), None)
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The element a CSS selector finds now, if any.
    pub async fn try_find(&self, css: &str) -> Option<String> {
        let res = self
            .driver
            .http
            .post(self.driver.url(&self.path("/element")))
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .await
            .ok()?;
        if !res.status().is_success() {
            return None;
        }
        let v: Value = res.json().await.ok()?;
        v["value"][ELEMENT_KEY].as_str().map(str::to_string)
    }

    /// Waits (up to `within`) until a CSS selector finds an element.
    pub async fn wait_for(&self, css: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(el) = self.try_find(css).await {
                return el;
            }
            assert!(
                Instant::now() < deadline,
                "no {css} on {} in time:\n{}",
                self.current_url().await,
                self.source().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click(&self, element: &str) {
        self.driver
            .command(
                reqwest::Method::POST,
                &self.path(&format!("/element/{element}/click")),
                Some(json!({})),
            )
            .await;
    }

    /// Types `text` into a form field.
    pub async fn send_keys(&self, element: &str, text: &str) {
        self.driver
            .command(
                reqwest::Method::POST,
                &self.path(&format!("/element/{element}/value")),
                Some(json!({"text": text})),
            )
            .await;
    }

    pub async fn text(&self, element: &str) -> String {
        let v = self
            .driver
            .command(
                reqwest::Method::GET,
                &self.path(&format!("/element/{element}/text")),
                None,
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// Replaces an input element's value with `text` (WebDriver "Element
    /// Clear", then "Element Send Keys").
    pub async fn type_text(&self, element: &str, text: &str) {
        self.driver
            .command(
                reqwest::Method::POST,
                &self.path(&format!("/element/{element}/clear")),
                Some(json!({})),
            )
            .await;
        self.driver
            .command(
                reqwest::Method::POST,
                &self.path(&format!("/element/{element}/value")),
                Some(json!({"text": text})),
            )
            .await;
    }

    /// The browser's cookies for the current page, as WebDriver reports
    /// them (`name`, `value`, `httpOnly`, `secure`, `sameSite`, ...).
    pub async fn cookies(&self) -> Vec<Value> {
        let v = self
            .driver
            .command(reqwest::Method::GET, &self.path("/cookie"), None)
            .await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// Closes the browser now (the driver would on drop otherwise).
    pub async fn quit(self) {
        self.driver
            .command(reqwest::Method::DELETE, &self.path(""), None)
            .await;
        self.driver
            .sessions
            .lock()
            .expect("lock")
            .retain(|id| *id != self.id);
    }
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| is_executable(p))
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
