//! Issue 8: a full workload at log level `trace`; no client secret, token,
//! or SSH/FTP password may appear in the log or in any response, except the
//! one-time displays (the secret in `admin partner create`/`key create`
//! output, the token in its token response).
//!
//! Issue 15: the same workload with the request log on; no secret, the
//! one-time displays included (a sub-key's secret, an account's token, an
//! authorization link's token), may appear in the request log, read
//! through its endpoint and through `jpstart admin requests`.

use std::time::Duration;

use reqwest::Method;

use crate::common::*;

const SSH_PASS: &str = "Sshpass-LEAKPROBE-51d2";
const SSH_KEY_BODY: &str = "Keybody-LEAKPROBE-93aa";
const FTP_PASS: &str = "Ftppass-LEAKPROBE-07bc";
const WRONG_SECRET: &str = "Wrongsecret-LEAKPROBE-e1f0";
const BOGUS_TOKEN: &str = "BogusTokenLEAKPROBE0123456789";

/// A response as text: status line, headers and body.
async fn whole(res: reqwest::Response) -> String {
    let mut out = format!("{}\n", res.status());
    for (k, v) in res.headers() {
        out.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("<binary>")));
    }
    out + &res.text().await.unwrap()
}

both_backends! {
    async fn secrets_appear_nowhere_at_trace_level(db: Db) {
        let backend = db.backend;
        let opts = Opts::default().env("JPSTART_LOG", "trace").arg("--request-log");
        let app = TestApp::spawn_with(db, opts).await;
        let a = app.partner("Leak A").await;
        let b = app.key(a.partner_id, &["--limit", "premium=5"]).await;
        let mut responses = Vec::new();
        let ssh_key = format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{SSH_KEY_BODY}\n-----END OPENSSH PRIVATE KEY-----");

        // Token requests that fail: wrong secret, as JSON, in the query string.
        for res in [
            app.request(Method::POST, "/oauth2/token")
                .form(&[("grant_type", "client_credentials"), ("client_id", a.client_id.as_str()), ("client_secret", WRONG_SECRET), ("scope", "jetpack-partner")])
                .send().await.unwrap(),
            app.request(Method::POST, "/oauth2/token")
                .json(&serde_json::json!({"grant_type": "password", "client_id": b.client_id, "client_secret": b.client_secret}))
                .send().await.unwrap(),
            app.request(Method::POST, &format!("/oauth2/token?grant_type=client_credentials&client_id={}&client_secret={WRONG_SECRET}", b.client_id))
                .send().await.unwrap(),
        ] {
            assert_eq!(res.status(), 400);
            responses.push(whole(res).await);
        }
        // A bad bearer token, in the header and (ignored) in the query.
        let res = app.get(&format!("/rest/v1.4/jpphp/x.example/status?access_token={BOGUS_TOKEN}"), BOGUS_TOKEN).send().await.unwrap();
        assert_eq!(res.status(), 403);
        responses.push(whole(res).await);

        let res = app.post("/rest/v1.3/jpphp/provision", &a.token)
            .form(&[
                ("siteurl", "https://leaky.example"), ("local_user", "admin"), ("plan", "premium"),
                ("ssh_user", "u"), ("ssh_pass", SSH_PASS), ("ssh_private_key", ssh_key.as_str()),
                ("ftp_user", "u"), ("ftp_pass", FTP_PASS),
            ])
            .send().await.unwrap();
        assert_eq!(res.status(), 200);
        let provisioned = whole(res).await;
        // Shown once, to the caller: the authorization link's token.
        let mut shown_once = vec![link_token(&provisioned)];
        responses.push(provisioned);
        let blog = app.activations(&["--site", "leaky.example"])[0].blog_id;
        for (kind, fields) in [
            ("ssh", vec![("ssh_user", "u"), ("ssh_pass", SSH_PASS)]),
            ("ssh", vec![("ssh_user", "u"), ("ssh_private_key", ssh_key.as_str()), ("ssh_port", "bad")]),
            ("ftp", vec![("ftp_user", "u"), ("ftp_host", "h"), ("ftp_pass", FTP_PASS)]),
        ] {
            let res = app.post(&format!("/rest/v1.3/jpphp/{blog}/{kind}-credentials"), &b.token).form(&fields).send().await.unwrap();
            responses.push(whole(res).await);
        }
        let res = app.post(&format!("/rest/v1.3/jpphp/{blog}/ftp-credentials"), &b.token)
            .json(&serde_json::json!({"ftp_user": "u", "ftp_host": "h", "ftp_pass": FTP_PASS}))
            .send().await.unwrap();
        responses.push(whole(res).await);
        for path in [
            format!("/rest/v1.4/jpphp/{blog}/status"),
            format!("/rest/v1.3/jpphp/{blog}/status"),
            format!("/rest/v1.3/jpphp/{blog}/upgrade-paths"),
            "/rest/v1.3/jpphp/partner-keys/verify".to_string(),
            "/rest/v1.3/jpphp/errors?verbose=1".to_string(),
        ] {
            responses.push(whole(app.get(&path, &b.token).send().await.unwrap()).await);
        }
        let (status, body) = app.cancel(&a.token, "leaky.example", &[("plan", "premium")]).await;
        assert_eq!(status, 200, "{body}");
        responses.push(body.to_string());
        shown_once.extend(one_time_displays(&app, &a).await);
        responses.push(whole(app.request(Method::GET, "/metrics").send().await.unwrap()).await);
        responses.push(app.admin(&["activations"]).unwrap().to_string());

        let mut secrets = vec![
            a.client_secret.clone(), b.client_secret.clone(), a.token.clone(), b.token.clone(),
            WRONG_SECRET.into(), BOGUS_TOKEN.into(), SSH_PASS.into(), SSH_KEY_BODY.into(), FTP_PASS.into(),
        ];
        // The server key, too: from the environment (PostgreSQL) or its file.
        match backend {
            Backend::Postgres => secrets.push(TEST_SECRET_KEY.into()),
            Backend::Sqlite => {
                let path = format!("{}.key", app.db.url.strip_prefix("sqlite://").unwrap());
                secrets.push(std::fs::read_to_string(path).unwrap().trim().to_string());
            }
        }
        let log = request_log(&app, &a).await;
        for s in secrets.iter().chain(&shown_once) {
            assert!(!log.contains(s.as_str()), "{s} in the request log:\n{log}");
        }
        // Log lines of the last responses are out by now.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let logs = app.logs();
        assert!(logs.contains("TRACE") || logs.contains("DEBUG"), "trace logging is on:\n{logs}");
        assert!(logs.contains("access token issued"), "the workload ran:\n{logs}");
        for s in &shown_once {
            assert!(!logs.contains(s.as_str()), "{s} in the server log:\n{logs}");
        }
        for s in &secrets {
            assert!(!logs.contains(s.as_str()), "{s} in the server log:\n{logs}");
            for r in &responses {
                assert!(!r.contains(s.as_str()), "{s} in a response: {r}");
            }
        }
        // Stored as digests or sealed: never in plain text in the database.
        if backend == Backend::Sqlite {
            let path = app.db.url.strip_prefix("sqlite://").unwrap().to_string();
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            for s in secrets.iter().chain(&shown_once) {
                assert!(!bytes.windows(s.len()).any(|w| w == s.as_bytes()), "{s} in the database file");
            }
        }
    }
}

/// The token of the authorization link in a provision's answer.
fn link_token(answer: &str) -> String {
    let (_, rest) = answer
        .split_once("/authorize/")
        .expect("a link in the answer");
    let token: String = rest
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    assert!(token.len() >= 32, "{answer}");
    token
}

/// The endpoints whose answer shows a secret once: `partner-keys/new` (the
/// sub-key's secret) and `POST /jpphp/user` (the account's token). Their
/// secrets, and the sub-key's first token, as the caller got them.
async fn one_time_displays(app: &TestApp, a: &Partner) -> Vec<String> {
    let (status, sub) = json(
        app.post("/rest/v1.3/jpphp/partner-keys/new", &a.token)
            .form(&[("name", "leaky sub-key"), ("allowed_premium_plans", "1")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{sub}");
    let sub_secret = sub["client_secret"].as_str().unwrap().to_string();
    let sub_token = app
        .token(sub["client_id"].as_str().unwrap(), &sub_secret)
        .await;
    app.admin(&["partner", "allow-user-creation", &a.partner_id.to_string()])
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("email", "leaky@example.com")
        .text("product_type", "jetpack");
    let (status, user) = json(
        app.post("/rest/v1.3/jpphp/user", &a.token)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    let user_token = user["bearer_token"].as_str().unwrap().to_string();
    vec![sub_secret, sub_token, user_token]
}

/// The whole request log as text: the partner's page of it (read with its
/// own top-level key) and the operator's, once every request of the
/// workload is in (written asynchronously: polled, bounded).
async fn request_log(app: &TestApp, a: &Partner) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let path = format!(
        "/wpcom/v2/jetpack-partners/{}/requests?per_page=100",
        a.partner_id
    );
    loop {
        let admin = app.admin(&["requests", "--limit", "1000"]).unwrap();
        let served = whole(app.get(&path, &a.token).send().await.unwrap()).await;
        let entries = admin.as_array().unwrap();
        // The last request of the workload: the account's creation.
        let complete = entries.iter().any(|e| e["path"] == "/rest/v1.3/jpphp/user")
            && served.contains("/rest/v1.3/jpphp/user");
        if complete {
            assert!(served.starts_with("200"), "{served}");
            // Entries under no key are the operator's only.
            assert!(entries.iter().any(|e| e["key_id"].is_null()), "{admin}");
            return format!("{admin}\n{served}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request log is incomplete:\n{admin}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
