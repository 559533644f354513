//! Issue 13: magic-link e-mail delivered through a real SMTP server
//! (Python's `aiosmtpd`, installed by `.ci/setup/70-smtp.sh`), and retried
//! with backoff while the server is down.
//!
//! Each test starts its own aiosmtpd on a free loopback port with its
//! `Mailbox` handler (one file per message in a maildir). Without aiosmtpd
//! the tests report themselves skipped, unless `CI` is set: then they fail.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::common::*;
use crate::magic_link::{magic_link, outbox, OK};

/// A Python that can `import aiosmtpd`: `JPSTART_AIOSMTPD_PYTHON`, the CI
/// setup's venv, or `python3`.
fn aiosmtpd_python() -> Option<String> {
    let candidates = [
        std::env::var("JPSTART_AIOSMTPD_PYTHON").ok(),
        Some("/opt/aiosmtpd/bin/python".to_string()),
        Some("python3".to_string()),
    ];
    candidates.into_iter().flatten().find(|py| {
        std::process::Command::new(py)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// The interpreter, or `None` after saying why the test is skipped.
fn python_or_skip() -> Option<String> {
    let py = aiosmtpd_python();
    if py.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "aiosmtpd is not installed (run .ci/setup/70-smtp.sh or set JPSTART_AIOSMTPD_PYTHON)"
        );
        eprintln!("mail: aiosmtpd not installed; SMTP delivery tests skipped");
    }
    py
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running aiosmtpd, killed when dropped.
struct SmtpServer {
    _child: Child,
    maildir: PathBuf,
}

impl SmtpServer {
    async fn start(python: &str, port: u16, maildir: &Path) -> SmtpServer {
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start aiosmtpd");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return SmtpServer {
                    _child: child,
                    maildir: maildir.to_path_buf(),
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not listen on {port}");
    }

    /// The delivered messages' texts, waiting up to `within` for `n`.
    async fn messages(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let mut found = Vec::new();
            if let Ok(dir) = std::fs::read_dir(self.maildir.join("new")) {
                for entry in dir.flatten() {
                    found.push(std::fs::read_to_string(entry.path()).unwrap_or_default());
                }
            }
            if found.len() >= n || tokio::time::Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The value of a header of a raw message.
fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("{}:", name.to_lowercase());
    message
        .lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim())
}

/// The message with a quoted-printable body decoded (lines of the login
/// link are longer than 76 characters, so lettre sends it that way).
fn decoded(message: &str) -> String {
    let qp = header(message, "Content-Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("quoted-printable"));
    if !qp {
        return message.to_string();
    }
    let joined = message.replace("=\r\n", "").replace("=\n", "");
    let mut out = String::new();
    let mut rest = joined.as_str();
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let hex = rest
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(char::from(b));
                rest = &rest[i + 3..];
            }
            None => {
                out.push('=');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Waits until the outbox's only message has `status`.
async fn wait_for_status(app: &TestApp, status: &str) -> serde_json::Value {
    for _ in 0..300 {
        let all = outbox(app, None);
        if all.first().is_some_and(|m| m["status"] == status) {
            return all[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no message became {status}: {:?}", outbox(app, None));
}

both_backends! {
    async fn a_magic_link_is_delivered_over_smtp(db: Db) {
        let Some(python) = python_or_skip() else { return };
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let smtp = SmtpServer::start(&python, port, &dir.path().join("maildir")).await;
        let url = format!("smtp://127.0.0.1:{port}");
        let app = TestApp::spawn_with(db, Opts::default().arg("--smtp-url").arg(&url).arg("--mail-from").arg("Sandbox <sandbox@jpstart.test>")).await;
        let a = app.partner("Acme").await;
        let (status, _, text) = magic_link(&app, &a.token, "Jane@Example.com").await;
        assert_eq!((status.as_u16(), text.as_str()), (200, OK));

        let got = smtp.messages(1, Duration::from_secs(20)).await;
        assert_eq!(got.len(), 1, "delivered: {got:?}\nserver log:\n{}", app.logs());
        let m = &decoded(&got[0]);
        assert_eq!(header(m, "To"), Some("Jane@Example.com"), "{m}");
        assert_eq!(header(m, "Subject"), Some("Log in to the WordPress app"), "{m}");
        assert!(header(m, "From").is_some_and(|f| f.contains("sandbox@jpstart.test")), "{m}");
        assert!(m.contains("wordpress://magic-login?token="), "{m}");
        let sent = wait_for_status(&app, "sent").await;
        assert_eq!(sent["attempts"], 1);
        assert!(sent["sent_at"].is_string(), "{sent}");
        // The link in the message is the one in the outbox.
        let body = sent["body"].as_str().unwrap();
        let token = body.split("token=").nth(1).unwrap().split_whitespace().next().unwrap();
        assert!(m.contains(token));
    }

    /// The relay is down at first: the attempt fails, is recorded, and is
    /// retried with backoff until the relay is up.
    async fn delivery_is_retried_until_the_relay_answers(db: Db) {
        let Some(python) = python_or_skip() else { return };
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let app = TestApp::spawn_with(db, Opts::default().env("JPSTART_SMTP_URL", format!("smtp://127.0.0.1:{port}"))).await;
        let a = app.partner("Acme").await;
        let (status, _, _) = magic_link(&app, &a.token, "joe@example.com").await;
        assert_eq!(status, 200);
        let mut failed = None;
        for _ in 0..200 {
            let m = outbox(&app, None).remove(0);
            if m["last_error"].is_string() {
                failed = Some(m);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let failed = failed.expect("the failed attempt is recorded");
        assert_eq!(failed["status"], "queued", "{failed}");
        assert!(failed["attempts"].as_i64().unwrap() >= 1);

        let smtp = SmtpServer::start(&python, port, &dir.path().join("maildir")).await;
        let got = smtp.messages(1, Duration::from_secs(30)).await;
        assert_eq!(got.len(), 1, "not delivered after the relay came up; log:\n{}", app.logs());
        let sent = wait_for_status(&app, "sent").await;
        assert!(sent["attempts"].as_i64().unwrap() >= 2, "{sent}");
        assert_eq!(sent["last_error"], serde_json::Value::Null);
    }
}
