//! The operator's configuration reaching every command: `admin` reads the
//! same `--catalog` / `JPSTART_CATALOG` as `serve`, and `serve` takes its
//! settings from the environment alone (SPEC §6).

use std::process::Stdio;

use jpstart_types::wire::{
    AdminActivation, KeyCredentials, ProvisionResponse, StatusV14, TokenResponse,
};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::*;
use crate::pending_expiry::eventually;

/// `jpstart serve` with no flag at all: everything from `env`. Returns the
/// child (killed on drop) and its base URL from the one stdout line.
async fn serve_from_env(env: &[(&str, &str)]) -> (tokio::process::Child, String) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("serve")
        .env_remove("JPSTART_SECRET_KEY_FILE")
        .env("JPSTART_SECRET_KEY", TEST_SECRET_KEY)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("start jpstart serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
        .await
        .expect("the server starts")
        .unwrap()
        .expect("a stdout line");
    let base = line
        .strip_prefix("jpstart listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}

/// A partner token, by the documented token request.
async fn token(base: &str, db_url: &str) -> String {
    let p: KeyCredentials =
        decode(&admin(db_url, &["partner", "create", "--name", "Acme"]).unwrap());
    let res = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", p.client_id.as_str()),
            ("client_secret", p.client_secret.as_str()),
            ("scope", "jetpack-partner"),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    ok::<TokenResponse>(status, &body).access_token
}

async fn provision_pending(base: &str, token: &str, site: &str) -> ProvisionResponse {
    let res = reqwest::Client::new()
        .post(format!("{base}/rest/v1.3/jpphp/provision"))
        .bearer_auth(token)
        .form(&[
            ("siteurl", format!("https://{site}")),
            ("local_user", "u".into()),
            ("plan", "premium".into()),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    ok(status, &body)
}

/// A catalogue with one plan family of its own slugs.
const CUSTOM: &str = r#"{
  "plans_family": "hosting-plans",
  "families": ["hosting-plans"],
  "products": [
    {"slug": "basic", "family": "hosting-plans", "tier": 0, "baseline": true},
    {"slug": "gold", "family": "hosting-plans", "tier": 1}
  ]
}"#;

both_backends! {
    /// `admin key create --limit` and `admin site grant --product` accept the
    /// slugs of the operator's catalogue, by flag or by environment, and
    /// refuse them without it.
    async fn admin_uses_the_operators_catalogue(db: Db) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("catalog.json");
        std::fs::write(&file, CUSTOM).unwrap();
        let file = file.to_str().unwrap().to_string();
        let app = TestApp::spawn_with(db, Opts::default().arg("--catalog").arg(&file)).await;
        let p = app.partner("Acme").await;
        let pid = p.partner_id.to_string();

        let err = app.admin(&["key", "create", "--partner", &pid, "--limit", "gold=1"]).unwrap_err();
        assert!(err.contains("is not a product"), "{err}");
        let err = app.admin(&["site", "grant", "granted.example", "--product", "gold"]).unwrap_err();
        assert!(err.contains("gold"), "{err}");

        let key: KeyCredentials = app.admin_as(&["--catalog", &file, "key", "create", "--partner", &pid, "--limit", "gold=1"]);
        let token = app.token(&key.client_id, &key.client_secret).await;
        let (s, body) = app.provision(&token, &[("siteurl", "https://one.example"), ("local_user", "u"), ("plan", "gold")]).await;
        assert_eq!(s, 200, "{body}");
        let (s, body) = app.provision(&token, &[("siteurl", "https://two.example"), ("local_user", "u"), ("plan", "gold")]).await;
        assert_error(s, &body, 400, "activation_limit_reached");

        let out = std::process::Command::new(BIN)
            .args(["admin", "--database-url", &app.db.url, "site", "grant", "granted.example", "--product", "gold"])
            .env("JPSTART_CATALOG", &file)
            .env_remove("JPSTART_DATABASE_URL")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let status = app.status_ok(&p.token, "granted.example").await;
        assert_eq!(status.products[0].slug, "gold", "{status:?}");

        // A broken catalogue is a one-line failure naming the file.
        let err = app.admin(&["--catalog", "/nonexistent/catalog.json", "activations"]).unwrap_err();
        assert!(err.starts_with("jpstart admin: catalogue /nonexistent/catalog.json:"), "{err}");
    }

    /// `JPSTART_LISTEN`, `JPSTART_DATABASE_URL`, `JPSTART_PUBLIC_URL`,
    /// `JPSTART_PENDING_TTL` and `JPSTART_TEST_CLOCK` work without any flag.
    async fn serve_takes_its_settings_from_the_environment(db: Db) {
        let public = "https://jpstart.example.net/base";
        let (_child, base) = serve_from_env(&[
            ("JPSTART_LISTEN", "127.0.0.1:0"),
            ("JPSTART_DATABASE_URL", &db.url),
            ("JPSTART_PUBLIC_URL", public),
            ("JPSTART_PENDING_TTL", "2d"),
            ("JPSTART_TEST_CLOCK", "1"),
        ])
        .await;
        assert!(base.starts_with("http://127.0.0.1:") && !base.ends_with(":8080"), "{base}");
        // The database is the one named: admin on it sees the same data.
        let token = token(&base, &db.url).await;
        let body = provision_pending(&base, &token, "env.example").await;
        let next = body.next_url.as_str();
        assert!(next.starts_with(&format!("{public}/authorize/")), "{body:?}");
        // Two days later (on the test clock) the pending activation has
        // expired, not one day later.
        let client = reqwest::Client::new();
        let products = || async {
            let res = client.get(format!("{base}/rest/v1.4/jpphp/env.example/status")).bearer_auth(&token).send().await.unwrap();
            let (status, st) = json(res).await;
            ok::<StatusV14>(status, &st).products.len()
        };
        admin(&db.url, &["clock", "advance", "1d"]).unwrap();
        assert_eq!(products().await, 1, "expired before its 2 days");
        admin(&db.url, &["clock", "advance", "1d"]).unwrap();
        assert_eq!(products().await, 0, "the 2d pending TTL expires the activation");
        // ... in the database the server was told to use.
        eventually("the operator sees it expired", || async {
            let list: Vec<AdminActivation> = decode(&admin(&db.url, &["activations", "--site", "env.example"]).unwrap());
            (list[0].state == "expired").then_some(())
        })
        .await;
    }

    /// `--public-url` as a flag sets the links as well.
    async fn public_url_flag_sets_the_links(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().arg("--public-url").arg("https://flag.example.org")).await;
        let p = app.partner("Acme").await;
        let body = provision_pending(&app.base, &p.token, "flag.example").await;
        assert!(body.next_url.starts_with("https://flag.example.org/authorize/"), "{body:?}");
    }

    /// The human log format writes no colour codes into a pipe or file.
    async fn human_logs_have_no_colour_codes_in_a_pipe(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        provision_pending(&app.base, &p.token, "logs.example").await;
        app.wait_for_log("listening").await;
        let logs = app.logs();
        assert!(logs.contains("INFO"), "{logs}");
        assert!(!logs.contains("\x1b["), "ANSI escapes in the log:\n{logs:?}");
    }
}
