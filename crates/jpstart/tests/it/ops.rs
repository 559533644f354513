//! Issue: server foundation (SPEC §6): serving over TLS, draining on
//! SIGTERM, JSON logs.

use jpstart_types::wire::{KeyCredentials, ProvisionResponse, TokenResponse};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;

use crate::common::*;

const VERIFY: &str = "/rest/v1.3/jpphp/partner-keys/verify";

fn credentials(app: &TestApp) -> (String, String) {
    let v: KeyCredentials = app.admin_as(&["partner", "create", "--name", "Acme"]);
    (v.client_id, v.client_secret)
}

fn token_form(id: &str, secret: &str) -> String {
    format!(
        "grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=jetpack-partner"
    )
}

both_backends! {
    async fn serves_https_with_a_self_signed_certificate(db: Db) {
        let dir = tempfile::tempdir().unwrap();
        let generated =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .unwrap();
        let cert_pem = generated.cert.pem();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, &cert_pem).unwrap();
        std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
        let opts = Opts::default()
            .arg("--tls-cert")
            .arg(cert.to_str().unwrap())
            .arg("--tls-key")
            .arg(key.to_str().unwrap());
        let app = TestApp::spawn_with(db, opts).await;
        assert!(app.base.starts_with("https://127.0.0.1:"), "{}", app.base);

        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        let (id, secret) = credentials(&app);
        let res = client
            .post(app.url("/oauth2/token"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(token_form(&id, &secret))
            .send()
            .await
            .unwrap();
        let (status, body) = json(res).await;
        let token = ok::<TokenResponse>(status, &body).access_token;
        let token = token.as_str();
        let res = client.post(app.url(VERIFY)).bearer_auth(token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        // Links handed out use the https scheme too.
        let (status, body) = json(
            client
                .post(app.url("/rest/v1.3/jpphp/provision"))
                .bearer_auth(token)
                .form(&[("siteurl", "https://tls.example"), ("local_user", "a"), ("plan", "personal")])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(ok::<ProvisionResponse>(status, &body).next_url.starts_with(&app.base), "{body}");
        // A client that does not trust the certificate is refused.
        assert!(app.client.post(app.url(VERIFY)).send().await.is_err());
        // Plain HTTP on the TLS port gets no HTTP answer.
        let plain = app.base.replacen("https://", "http://", 1);
        assert!(app.client.get(format!("{plain}/nope")).send().await.is_err());
    }

    async fn sigterm_drains_in_flight_requests_and_exits_0(db: Db) {
        // tower_http's debug line tells when the server has the request.
        let opts = Opts::default().env("JPSTART_LOG", "info,tower_http=debug");
        let mut app = TestApp::spawn_with(db, opts).await;
        let (id, secret) = credentials(&app);
        let form = token_form(&id, &secret);
        let (first, rest) = form.split_at(form.len() / 2);

        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        let req = app
            .request(Method::POST, "/oauth2/token")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(CONTENT_LENGTH, form.len())
            .body(reqwest::Body::wrap_stream(stream));
        let in_flight = tokio::spawn(async move { json(req.send().await.unwrap()).await });
        tx.send(Ok(first.as_bytes().to_vec())).await.unwrap();
        app.wait_for_log("started processing request").await;

        app.sigterm();
        app.wait_for_log("draining in-flight requests").await;
        // New connections are refused while the old one drains.
        assert!(app.client.get(app.url("/nope")).send().await.is_err());

        tx.send(Ok(rest.as_bytes().to_vec())).await.unwrap();
        drop(tx);
        let (status, body) = in_flight.await.unwrap();
        assert!(!ok::<TokenResponse>(status, &body).access_token.is_empty(), "{body}");
        let exit = app.wait_exit().await;
        assert_eq!(exit.code(), Some(0), "{}", app.logs());
    }

    async fn json_log_format(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().arg("--log-format").arg("json")).await;
        let res = app.request(Method::GET, "/rest/v1.3/jpphp/errors").send().await.unwrap();
        assert_eq!(res.status(), 200);
        let logs = app.logs();
        let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty(), "no log lines");
        for line in &lines {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert!(v["timestamp"].is_string() && v["level"].is_string(), "{line}");
            assert!(v["fields"].is_object(), "{line}");
        }
        assert!(
            lines.iter().any(|l| l.contains("\"message\":\"listening\"")),
            "{logs}"
        );
        // The database URL is logged redacted, and no secret appears.
        assert!(!logs.contains("client_secret\":\""), "{logs}");
    }
}

#[tokio::test]
async fn unreadable_tls_files_refuse_to_start() {
    let db = Db::sqlite();
    let out = tokio::process::Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db.url,
        ])
        .args([
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ])
        .env_remove("JPSTART_LISTEN")
        .env_remove("JPSTART_DATABASE_URL")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("cannot read certificate /nonexistent/cert.pem"),
        "{stderr}"
    );
}
