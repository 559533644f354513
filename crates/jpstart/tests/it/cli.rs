//! Issue: partner side — the partner commands of the `jpstart` binary end to
//! end: JSON on stdout and exit 0, error JSON on stderr and exit 1, usage
//! errors exit 2.

use jpstart_types::wire::{
    ErrorBody, KeyCredentials, OAuthErrorBody, ProvisionResponse, StatusV13, StatusV14,
    TokenResponse, UpgradePaths, VerboseErrorsResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::common::*;

/// The output of one `jpstart` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {:?} / {:?}",
                self.stdout, self.stderr
            )
        })
    }

    pub fn error_json(&self) -> Value {
        serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {:?}", self.stderr))
    }

    /// stdout decoded into its wire type (strictly, see [`decode`]).
    pub fn json_as<T: DeserializeOwned + Serialize>(&self) -> T {
        decode(&self.json())
    }

    /// stderr as the documented error body (strictly, see [`decode`]).
    pub fn error_body(&self) -> ErrorBody {
        decode(&self.error_json())
    }
}

/// `jpstart ARGS` with a clean environment plus `env`.
pub async fn jpstart(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args);
    for k in [
        "JPSTART_API_URL",
        "JPSTART_PARTNER_ID",
        "JPSTART_PARTNER_SECRET",
        "JPSTART_TOKEN",
        "JPSTART_CA_CERT",
        "JETPACK_START_API_HOST",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("run jpstart");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The environment naming this server and partner.
pub fn partner_env<'a>(app: &'a TestApp, p: &'a Partner) -> Vec<(&'a str, &'a str)> {
    vec![
        ("JPSTART_API_URL", app.base.as_str()),
        ("JPSTART_PARTNER_ID", p.client_id.as_str()),
        ("JPSTART_PARTNER_SECRET", p.client_secret.as_str()),
    ]
}

both_backends! {
    async fn commands_print_the_api_json(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let env = partner_env(&app, &p);

        let run = jpstart(&["token"], &env).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let token = run.json_as::<TokenResponse>().access_token;

        let run = jpstart(&["provision", "--siteurl", "https://example.com/demo", "--local-user", "admin", "--plan", "premium", "--partner-tracking-id", "T-1"], &env).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let body: ProvisionResponse = run.json_as();
        assert!(body.success && body.auth_required, "{body:?}");
        // Compact, key order as the API sent it.
        assert!(run.stdout.starts_with(r#"{"success":true,"auth_required":true,"next_url":""#), "{}", run.stdout);
        let acts = app.activations(&[]);
        assert_eq!(acts[0].partner_tracking_id.as_deref(), Some("T-1"));

        // The token alone is enough too (flag or env).
        let by_token = [("JPSTART_API_URL", app.base.as_str()), ("JPSTART_TOKEN", token.as_str())];
        let run = jpstart(&["status", "https://example.com/demo"], &by_token).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.json_as::<StatusV14>().products[0].slug, "premium");
        let run = jpstart(&["status", "example.com::demo", "--v13", "--api-url", &app.base, "--token", &token], &[]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.json_as::<StatusV13>().plan, "premium");

        let run = jpstart(&["upgrade-paths", "example.com::demo"], &env).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let paths: UpgradePaths = run.json_as();
        assert_eq!(paths.get("jetpack-plans"), Some(&vec!["professional".to_string()]), "{paths:?}");

        let run = jpstart(&["errors", "--verbose"], &[("JPSTART_API_URL", app.base.as_str())]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let errors = run.json_as::<VerboseErrorsResponse>().errors;
        assert!(errors.get("invalid_blog").is_some_and(|e| !e.cause.is_empty()), "{errors:?}");

        let run = jpstart(&["cancel", "https://example.com/demo", "--plan", "premium"], &env).await;
        assert_eq!((run.code, run.stdout.trim()), (0, r#"{"success":true}"#), "{}", run.stderr);
        let run = jpstart(&["cancel", "https://example.com/demo"], &env).await;
        assert_eq!((run.code, run.stdout.trim()), (0, r#"{"success":false}"#), "nothing left to cancel");
        let run = jpstart(&["cancel", "https://example.com/demo", "--cancel-all"], &env).await;
        assert_eq!(
            (run.code, run.stdout.trim()),
            (0, r#"{"success":false,"pending_activations":[],"activations":[]}"#),
            "cancel-all with nothing left: both arrays, empty"
        );
        assert_eq!(app.activations(&[])[0].state, "cancelled");
    }

    async fn api_errors_exit_1_with_the_error_json_on_stderr(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let env = partner_env(&app, &p);

        let run = jpstart(&["cancel", "999999"], &env).await;
        assert_eq!(run.code, 1);
        assert_eq!(run.stdout, "");
        let body = run.error_body();
        assert_eq!(body, ErrorBody::new("invalid_blog", "The blog ID 999999 is invalid"));

        let run = jpstart(&["provision", "--siteurl", "https://example.com", "--local-user", "admin", "--plan", "bogus"], &env).await;
        assert_eq!(run.code, 1);
        assert_eq!(run.error_body().error, "invalid_plan");

        // Wrong secret: the token endpoint's RFC 6749 body.
        let mut wrong = env.clone();
        wrong[2].1 = "wrong";
        let run = jpstart(&["status", "example.com"], &wrong).await;
        assert_eq!(run.code, 1);
        assert_eq!(decode::<OAuthErrorBody>(&run.error_json()).error, "invalid_client");

        // Nobody listening: a client-side error in the same JSON shape.
        let run = jpstart(&["errors", "--api-url", "http://127.0.0.1:9", "--attempts", "1"], &[]).await;
        assert_eq!(run.code, 1);
        assert_eq!(run.error_body().error, "http_request_failed");
    }

    async fn usage_errors_exit_2(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let env = partner_env(&app, &p);
        for args in [
            &["provision", "--local-user", "admin"][..],          // --siteurl missing
            &["cancel"][..],                                      // site missing
            &["cancel", "exa mple.com"][..],                      // not a site
            &["cancel", "example.com", "--plan", "x", "--cancel-all"][..],
            &["status", "example.com", "--no-such-flag"][..],
            &["bulk", "provision"][..],                           // --csv missing
            &["completions", "tcsh"][..],
        ] {
            let run = jpstart(args, &env).await;
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        }
        // No credentials at all.
        let run = jpstart(&["status", "example.com"], &[("JPSTART_API_URL", app.base.as_str())]).await;
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("--partner-id"), "{}", run.stderr);
        // A legacy host with a scheme is refused, not guessed at.
        let run = jpstart(&["errors"], &[("JETPACK_START_API_HOST", "https://example.com")]).await;
        assert_eq!(run.code, 2, "{}", run.stderr);
    }

    async fn api_url_wins_over_the_legacy_host(db: Db) {
        let app = TestApp::spawn(db).await;
        let host = app.base.trim_start_matches("http://").to_string();
        // --api-url (plain http) wins over JETPACK_START_API_HOST.
        let run = jpstart(&["errors", "--api-url", &app.base], &[("JETPACK_START_API_HOST", "127.0.0.1:9")]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        // The legacy host alone means https://HOST: this server speaks plain
        // HTTP, so the TLS handshake fails, which shows https was used.
        let run = jpstart(&["errors", "--attempts", "1"], &[("JETPACK_START_API_HOST", host.as_str())]).await;
        assert_eq!(run.code, 1);
        let err = run.error_body();
        assert_eq!(err.error, "http_request_failed");
        assert!(err.message.contains(&format!("https://{host}/rest/v1.3/jpphp/errors")), "{err:?}");
    }
}

#[tokio::test]
async fn every_partner_command_shows_an_example() {
    for cmd in [
        &["token"][..],
        &["provision"][..],
        &["cancel"][..],
        &["status"][..],
        &["upgrade-paths"][..],
        &["errors"][..],
        &["bulk"][..],
        &["bulk", "provision"][..],
        &["bulk", "cancel"][..],
        &["completions"][..],
        &["requests"][..],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let run = jpstart(&args, &[]).await;
        assert_eq!(run.code, 0, "{cmd:?}");
        assert!(
            run.stdout.contains("Example"),
            "{cmd:?} --help has no example:\n{}",
            run.stdout
        );
        assert!(run.stdout.contains("jpstart "), "{cmd:?}");
    }
}

#[tokio::test]
async fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let run = jpstart(&["completions", shell], &[]).await;
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains("jpstart"), "{shell}");
        assert!(run.stdout.contains("upgrade-paths"), "{shell}");
    }
}

both_backends! {
    async fn legacy_host_means_https(db: Db) {
        // A jpstart serving HTTPS with a self-signed certificate, reached the
        // way the scripts reached a sandbox: JETPACK_START_API_HOST=host:port.
        let dir = tempfile::tempdir().unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        let opts = Opts::default()
            .arg("--tls-cert")
            .arg(cert.to_str().unwrap())
            .arg("--tls-key")
            .arg(key.to_str().unwrap());
        let app = TestApp::spawn_with(db, opts).await;
        let host = app.base.strip_prefix("https://").expect("served over https").to_string();
        let creds: KeyCredentials = app.admin_as(&["partner", "create", "--name", "Acme"]);
        let env = [
            ("JETPACK_START_API_HOST", host.as_str()),
            ("JPSTART_CA_CERT", cert.to_str().unwrap()),
            ("JPSTART_PARTNER_ID", creds.client_id.as_str()),
            ("JPSTART_PARTNER_SECRET", creds.client_secret.as_str()),
        ];
        let run = jpstart(&["token"], &env).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.json_as::<TokenResponse>().token_type, "bearer");
        let run = jpstart(&["provision", "--siteurl", "https://example.com", "--local-user", "admin", "--plan", "premium"], &env).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(app.activations(&[]).len(), 1);
        // Without the CA the certificate is refused: a transport error, exit 1.
        let run = jpstart(&["errors", "--attempts", "1"], &env[..1]).await;
        assert_eq!(run.code, 1);
        assert_eq!(run.error_body().error, "http_request_failed");
    }
}
