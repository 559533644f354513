//! Issue 3: SSH/FTP backup credentials (SPEC §5): validation, the two
//! endpoints, `ssh_*`/`ftp_*` at provision, the status flag, the server key,
//! and that the secrets appear in no response, log line or database byte.

use std::time::Duration;

use jpstart_types::wire::{ProvisionResponse, StatusV13};
use reqwest::multipart::Form;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

/// Registers `siteurl` without a product; returns its blog id.
async fn register(app: &TestApp, token: &str, siteurl: &str) -> u64 {
    let (status, body) = app
        .provision(token, &[("siteurl", siteurl), ("local_user", "admin")])
        .await;
    assert_eq!(status, 200, "{body}");
    app.blog_id(siteurl)
}

/// `POST /rest/v1.3/jpphp/{site}/{kind}-credentials` as multipart (as the
/// upstream examples send it); returns status, raw body and JSON.
async fn post_creds(
    app: &TestApp,
    token: &str,
    site: &str,
    kind: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String, Value) {
    let mut form = Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let res = app
        .post(
            &format!("/rest/v1.3/jpphp/{site}/{kind}-credentials"),
            token,
        )
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, text, value)
}

async fn has_creds(app: &TestApp, token: &str, site: &str) -> bool {
    app.status_ok(token, site)
        .await
        .blog
        .has_backups_credentials
}

both_backends! {
    async fn endpoint_validation_errors_change_nothing(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let blog = register(&app, &p.token, "https://creds.example").await.to_string();

        let ssh_cases: &[(&[(&str, &str)], &str)] = &[
            (&[("ssh_pass", "pw")], "\"ssh_user\" argument is missing"),
            (&[("ssh_user", "u")], "needs \"ssh_pass\" or \"ssh_private_key\""),
            (&[("ssh_user", "u"), ("ssh_pass", ""), ("ssh_private_key", "")], "needs \"ssh_pass\""),
            // Required at this endpoint (upstream doc), unlike at provision.
            (&[("ssh_user", "u"), ("ssh_pass", "pw")], "The required \"ssh_host\" argument is missing."),
            (&[("ssh_user", "u"), ("ssh_private_key", "KEY"), ("ssh_host", "")], "The required \"ssh_host\" argument is missing."),
            (&[("ssh_user", "u"), ("ssh_pass", "pw"), ("ssh_host", "h"), ("ssh_port", "0")], "\"ssh_port\" must be a whole number from 1 to 65535"),
            (&[("ssh_user", "u"), ("ssh_pass", "pw"), ("ssh_host", "h"), ("ssh_port", "65536")], "\"ssh_port\""),
            (&[("ssh_user", "u"), ("ssh_pass", "pw"), ("ssh_host", "h"), ("ssh_port", "twenty")], "\"ssh_port\""),
            (&[("ssh_user", "u"), ("ssh_pass", "pw"), ("ssh_host", "h"), ("ssh_port", "-22")], "\"ssh_port\""),
            (&[("ssh_user", "u\u{1b}[31m"), ("ssh_pass", "pw")], "\"ssh_user\" must not contain control characters"),
            (&[("ssh_user", "u"), ("ssh_pass", "pw"), ("ssh_host", "h\u{0}st")], "\"ssh_host\" must not contain control characters"),
            (&[("ssh_user", "u"), ("ssh_pass", "pw"), ("ssh_host", "a host")], "\"ssh_host\" must not contain spaces"),
        ];
        for (fields, needle) in ssh_cases {
            let (status, text, body) = post_creds(&app, &p.token, &blog, "ssh", fields).await;
            let msg = assert_error(status, &body, 400, "invalid_credentials").message;
            assert!(msg.contains(needle), "{fields:?}: {msg:?} lacks {needle:?}");
            assert!(!text.contains("pw"), "password echoed: {text}");
        }
        let ftp_cases: &[(&[(&str, &str)], &str)] = &[
            (&[("ftp_host", "ftp.example"), ("ftp_pass", "pw")], "\"ftp_user\" argument is missing"),
            // Required at this endpoint (upstream doc), unlike at provision.
            (&[("ftp_user", "u"), ("ftp_pass", "pw")], "\"ftp_host\" argument is missing"),
            (&[("ftp_user", "u"), ("ftp_host", "ftp.example"), ("ftp_port", "99999")], "\"ftp_port\""),
            (&[("ftp_user", "u\n1"), ("ftp_host", "ftp.example")], "\"ftp_user\" must not contain control"),
        ];
        for (fields, needle) in ftp_cases {
            let (status, _, body) = post_creds(&app, &p.token, &blog, "ftp", fields).await;
            let msg = assert_error(status, &body, 400, "invalid_credentials").message;
            assert!(msg.contains(needle), "{fields:?}: {msg:?} lacks {needle:?}");
        }
        assert!(!has_creds(&app, &p.token, &blog).await, "a refusal stored something");

        // Unknown blog id: 403 invalid_blog, with the id in the message.
        let (status, _, body) =
            post_creds(&app, &p.token, "987654", "ssh", &[("ssh_user", "u"), ("ssh_pass", "pw"), ("ssh_host", "h")]).await;
        let err = assert_error(status, &body, 403, "invalid_blog");
        assert_eq!(err.message, "The blog ID 987654 is invalid");
        let (status, _, body) =
            post_creds(&app, &p.token, "987654", "ftp", &[("ftp_user", "u"), ("ftp_host", "h")]).await;
        assert_error(status, &body, 403, "invalid_blog");
        // Authentication first, as on every partner endpoint.
        let res = app
            .request(reqwest::Method::POST, &format!("/rest/v1.3/jpphp/{blog}/ssh-credentials"))
            .send()
            .await
            .unwrap();
        let (status, body) = json(res).await;
        assert_error(status, &body, 403, "authorization_required");
    }

    async fn endpoints_store_and_status_flag(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let blog = register(&app, &p.token, "https://flag.example").await.to_string();
        assert!(!has_creds(&app, &p.token, &blog).await);
        // A private key alone is enough for SSH; the port defaults (the
        // host is required here).
        let (status, text, _) = post_creds(
            &app, &p.token, &blog, "ssh",
            &[("ssh_user", "deploy"), ("ssh_host", "flag.example"), ("ssh_private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")],
        ).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(text, r#"{"success":true}"#);
        assert!(has_creds(&app, &p.token, &blog).await);
        // Also by identifier, and replacing what was stored.
        let (status, text, _) = post_creds(
            &app, &p.token, "flag.example", "ftp",
            &[("ftp_user", "u"), ("ftp_host", "ftp.flag.example"), ("ftp_port", "2121")],
        ).await;
        assert_eq!((status.as_u16(), text.as_str()), (200, r#"{"success":true}"#));
        let (status, text, _) = post_creds(
            &app, &p.token, &blog, "ssh",
            &[("ssh_user", "deploy"), ("ssh_pass", "pw"), ("ssh_host", "ssh.flag.example"), ("ssh_port", "2222")],
        ).await;
        assert_eq!((status.as_u16(), text.as_str()), (200, r#"{"success":true}"#));
        // The deprecated status shape carries the flag too.
        let (status, v13) = json(app.get(&format!("/rest/v1.3/jpphp/{blog}/status"), &p.token).send().await.unwrap()).await;
        assert!(ok::<StatusV13>(status, &v13).has_backups_credentials, "{v13}");
    }

    async fn provision_reports_ssh_and_ftp(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let base = [("local_user", "admin"), ("plan", "premium")];
        let with = |site: &'static str, extra: &[(&'static str, &'static str)]| {
            let mut f = vec![("siteurl", site)];
            f.extend_from_slice(&base);
            f.extend_from_slice(extra);
            f
        };

        // No credentials sent: no ssh_*/ftp_* keys at all.
        let (status, body) = app.provision(&p.token, &with("https://none.example", &[])).await;
        let res: ProvisionResponse = ok(status, &body);
        assert_eq!((res.ssh_set, res.ssh_error, res.ftp_set, res.ftp_error), (None, None, None, None), "{body}");
        assert!(!has_creds(&app, &p.token, "none.example").await);

        // Valid SSH: set, empty error, and the keys follow the documented ones.
        let (status, body) = app
            .provision(&p.token, &with("https://ssh.example", &[("ssh_user", "u"), ("ssh_pass", "pw")]))
            .await;
        let res: ProvisionResponse = ok(status, &body);
        assert_eq!((res.ssh_set, res.ssh_error.as_deref()), (Some(true), Some("")), "{body}");
        assert_eq!(res.ftp_set, None, "{body}");
        assert_eq!(keys(&body), ["success", "auth_required", "next_url", "ssh_set", "ssh_error"]);
        assert!(has_creds(&app, &p.token, "ssh.example").await);

        // Invalid SSH does not fail the provision: it is reported.
        let (status, body) = app
            .provision(&p.token, &with("https://badssh.example", &[("ssh_user", "u"), ("ssh_port", "22")]))
            .await;
        let res: ProvisionResponse = ok(status, &body);
        assert!(res.success, "{body}");
        assert_eq!(res.ssh_set, Some(false), "{body}");
        assert!(res.ssh_error.unwrap().contains("needs \"ssh_pass\" or \"ssh_private_key\""), "{body}");
        assert!(!has_creds(&app, &p.token, "badssh.example").await);
        let acts = app.activations(&["--site", "badssh.example"]);
        assert_eq!(acts.len(), 1, "the product was provisioned: {acts:?}");

        // FTP at provision: the host defaults to the site's.
        let (status, body) = app
            .provision(&p.token, &with("https://ftp.example", &[("ftp_user", "u"), ("ftp_pass", "pw")]))
            .await;
        let res: ProvisionResponse = ok(status, &body);
        assert_eq!((res.ftp_set, res.ftp_error.as_deref()), (Some(true), Some("")), "{body}");
        assert_eq!(res.ssh_set, None, "{body}");
        assert!(has_creds(&app, &p.token, "ftp.example").await);

        // Both, one good and one bad.
        let (status, body) = app
            .provision(&p.token, &with("https://both.example", &[
                ("ssh_user", "u"), ("ssh_pass", "pw"), ("ftp_user", "u"), ("ftp_port", "0"),
            ]))
            .await;
        assert_eq!(keys(&body), ["success", "auth_required", "next_url", "ssh_set", "ssh_error", "ftp_set", "ftp_error"]);
        let res: ProvisionResponse = ok(status, &body);
        assert_eq!((res.ssh_set, res.ftp_set), (Some(true), Some(false)), "{body}");
        assert!(res.ftp_error.unwrap().contains("\"ftp_port\""), "{body}");

        // A refused provision stores nothing.
        let (status, body) = app
            .provision(&p.token, &[
                ("siteurl", "https://refused.example"), ("local_user", "admin"), ("plan", "nonsense"),
                ("ssh_user", "u"), ("ssh_pass", "pw"),
            ])
            .await;
        assert_error(status, &body, 400, "invalid_plan");
        let (status, body) = app.status(&p.token, "refused.example").await;
        assert_error(status, &body, 403, "invalid_blog");
    }

    async fn secrets_never_leak(db: Db) {
        let sqlite = db.backend == Backend::Sqlite;
        let app = TestApp::spawn_with(db, Opts::default().env("JPSTART_LOG", "trace")).await;
        let p = app.partner("Acme").await;
        let ssh_pass = "Sshpass-9f3c1e7a-LEAKCHECK";
        let ssh_key = "-----BEGIN OPENSSH PRIVATE KEY-----\nKeybody-42d1b0aa-LEAKCHECK\n-----END OPENSSH PRIVATE KEY-----";
        let ftp_pass = "Ftppass-77e0c2d4-LEAKCHECK";
        let secrets = [ssh_pass, "Keybody-42d1b0aa", ftp_pass];
        let mut bodies = Vec::new();

        let (_, body) = app
            .provision(&p.token, &[
                ("siteurl", "https://leak.example"), ("local_user", "admin"), ("plan", "premium"),
                ("ssh_user", "u"), ("ssh_pass", ssh_pass), ("ssh_private_key", ssh_key),
                ("ftp_user", "u"), ("ftp_pass", ftp_pass),
            ])
            .await;
        let res: ProvisionResponse = decode(&body);
        assert_eq!((res.ssh_set, res.ftp_set), (Some(true), Some(true)), "{body}");
        let blog = app.blog_id("leak.example").to_string();
        bodies.push(body.to_string());
        // Refused at provision: the error text must not quote the secret.
        let (_, body) = app
            .provision(&p.token, &[
                ("siteurl", "https://leak.example"), ("local_user", "admin"),
                ("ssh_user", "u"), ("ssh_pass", ssh_pass), ("ssh_port", "nope"),
            ])
            .await;
        assert_eq!(decode::<ProvisionResponse>(&body).ssh_set, Some(false), "{body}");
        bodies.push(body.to_string());
        for (kind, fields) in [
            ("ssh", vec![("ssh_user", "u"), ("ssh_pass", ssh_pass), ("ssh_private_key", ssh_key), ("ssh_host", "h")]),
            ("ssh", vec![("ssh_user", "u"), ("ssh_pass", ssh_pass), ("ssh_private_key", ssh_key)]),
            ("ssh", vec![("ssh_user", "u"), ("ssh_pass", ssh_pass), ("ssh_port", "0")]),
            ("ftp", vec![("ftp_user", "u"), ("ftp_host", "h"), ("ftp_pass", ftp_pass)]),
            ("ftp", vec![("ftp_user", "u"), ("ftp_pass", ftp_pass)]),
        ] {
            bodies.push(post_creds(&app, &p.token, &blog, kind, &fields).await.1);
        }
        // As a JSON body and as a query string too.
        let res = app
            .post(&format!("/rest/v1.3/jpphp/{blog}/ssh-credentials?ssh_pass={ssh_pass}"), &p.token)
            .header("content-type", "application/json")
            .body(format!(r#"{{"ssh_user":"u","ssh_host":"h","ssh_private_key":"{}"}}"#, ssh_key.replace('\n', "\\n")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        bodies.push(res.text().await.unwrap());
        for path in [format!("/rest/v1.4/jpphp/{blog}/status"), format!("/rest/v1.3/jpphp/{blog}/status"), format!("/rest/v1.3/jpphp/{blog}/upgrade-paths")] {
            bodies.push(app.get(&path, &p.token).send().await.unwrap().text().await.unwrap());
        }
        let activations = app.admin(&["activations", "--site", &blog]).unwrap().to_string();
        // Any stray log line has been written by the time the responses came.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let logs = app.logs();
        assert!(logs.contains("TRACE") || logs.contains("DEBUG"), "trace logging is on");
        for s in secrets {
            for b in &bodies {
                assert!(!b.contains(s), "{s} in a response: {b}");
            }
            assert!(!activations.contains(s), "{s} in admin activations");
            assert!(!logs.contains(s), "{s} in the server log");
        }
        if sqlite {
            let path = app.db.url.strip_prefix("sqlite://").unwrap().to_string();
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            assert!(bytes.len() > 4096, "database read");
            for s in secrets {
                assert!(!bytes.windows(s.len()).any(|w| w == s.as_bytes()), "{s} in plain text in the database file");
            }
            // The credentials are there, sealed: the user name is inside too.
            assert!(has_creds(&app, &p.token, &blog).await);
        }
    }
}

/// `jpstart serve` that must refuse to start: its stderr.
async fn refused(db_url: &str, env: &[(&str, &str)], args: &[&str]) -> String {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--database-url", db_url])
        .args(args)
        .env_remove("JPSTART_SECRET_KEY")
        .env_remove("JPSTART_SECRET_KEY_FILE")
        .env_remove("JPSTART_DATABASE_URL")
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("serve exits")
        .unwrap();
    assert!(!out.status.success(), "serve started: {out:?}");
    assert!(out.stdout.is_empty(), "printed a listening line");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_private_reused_and_checked() {
    use std::os::unix::fs::PermissionsExt;
    let db = Db::sqlite();
    let url = db.url.clone();
    let key_path = format!("{}.key", url.strip_prefix("sqlite://").unwrap());
    let app = TestApp::spawn(db).await;
    let meta = std::fs::metadata(&key_path).expect("key file beside the database");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let key = std::fs::read_to_string(&key_path).unwrap();
    assert_eq!(key.trim().len(), 64);
    assert!(key.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    let p = app.partner("Acme").await;
    let blog = register(&app, &p.token, "https://restart.example")
        .await
        .to_string();
    let (status, _, _) = post_creds(
        &app,
        &p.token,
        &blog,
        "ssh",
        &[("ssh_user", "u"), ("ssh_pass", "pw"), ("ssh_host", "h")],
    )
    .await;
    assert_eq!(status, 200);
    let db = app.db.share();
    assert!(app.terminate().await.success());

    // Restart: the same key file is reused, and stored credentials still count.
    let _keep_dir = db.share();
    let app = TestApp::spawn(db).await;
    assert_eq!(
        std::fs::read_to_string(&key_path).unwrap(),
        key,
        "key regenerated"
    );
    assert!(has_creds(&app, &p.token, &blog).await);
    let (status, _, _) = post_creds(
        &app,
        &p.token,
        &blog,
        "ftp",
        &[("ftp_user", "u"), ("ftp_host", "h")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(app.terminate().await.success());

    // Loosened permissions: refused, naming the file and the fix.
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = refused(&url, &[], &[]).await;
    assert!(
        err.contains(&key_path) && err.contains("0644") && err.contains("chmod 600"),
        "{err}"
    );
    // Malformed: refused.
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&key_path, "0123\n").unwrap();
    let err = refused(&url, &[], &[]).await;
    assert!(
        err.contains(&key_path) && err.contains("malformed"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_keys() {
    // A configured key: no file is generated.
    let db = Db::sqlite();
    let key_path = format!("{}.key", db.url.strip_prefix("sqlite://").unwrap());
    let app = TestApp::spawn_with(
        db,
        Opts::default().env("JPSTART_SECRET_KEY", TEST_SECRET_KEY),
    )
    .await;
    assert!(!std::path::Path::new(&key_path).exists());
    assert!(!app.logs().contains(TEST_SECRET_KEY), "key logged");
    let url = app.db.url.clone();
    drop(app);

    // A key file given by flag.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.key");
    std::fs::write(&file, format!("{TEST_SECRET_KEY}\n")).unwrap();
    let file = file.display().to_string();
    let app = TestApp::spawn_with(
        Db::sqlite(),
        Opts::default().arg("--secret-key-file").arg(&file),
    )
    .await;
    let p = app.partner("Acme").await;
    let blog = register(&app, &p.token, "https://file.example")
        .await
        .to_string();
    let (status, _, _) = post_creds(
        &app,
        &p.token,
        &blog,
        "ssh",
        &[("ssh_user", "u"), ("ssh_pass", "pw"), ("ssh_host", "h")],
    )
    .await;
    assert_eq!(status, 200);
    drop(app);

    let err = refused(&url, &[("JPSTART_SECRET_KEY", "abc")], &[]).await;
    assert!(
        err.contains("JPSTART_SECRET_KEY") && err.contains("64 hex digits"),
        "{err}"
    );
    assert!(!err.contains("abc\""), "{err}");
    let err = refused(
        &url,
        &[("JPSTART_SECRET_KEY", TEST_SECRET_KEY)],
        &["--secret-key-file", &file],
    )
    .await;
    assert!(err.contains("choose one"), "{err}");
    let err = refused(
        &url,
        &[],
        &["--secret-key-file", "/nonexistent/jpstart.key"],
    )
    .await;
    assert!(err.contains("/nonexistent/jpstart.key"), "{err}");
    // PostgreSQL without a key: refused before any connection is tried (the
    // URL points at a closed port).
    let err = refused("postgres://nobody@127.0.0.1:1/none", &[], &[]).await;
    assert!(
        err.contains("JPSTART_SECRET_KEY") && err.contains("share one key"),
        "{err}"
    );
}
