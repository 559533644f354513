//! Issue 13: `POST /rest/v1.3/jpphp/mobile-magic-link` (upstream
//! mobile-magic-link.md): the e-mail in the outbox (`admin mail`), the
//! 5-per-address-per-hour limit, the client call and `jpstart magic-link`.
//! Delivery over real SMTP: [`crate::mail`].

use reqwest::Method;
use serde_json::Value;

use crate::cli::{jpstart, partner_env};
use crate::common::*;

pub const MAGIC: &str = "/rest/v1.3/jpphp/mobile-magic-link";

/// The documented success body.
pub const OK: &str = r#"{"success":true}"#;

/// The documented throttle body (plus the `error_code` pair of SPEC §2).
const THROTTLED: &str = r#"{"error":"too_many_requests","message":"Too many requests per time interval","error_code":"too_many_requests","error_message":"Too many requests per time interval"}"#;

/// One magic-link request as upstream's example sends it (multipart).
pub async fn magic_link(
    app: &TestApp,
    token: &str,
    email: &str,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String) {
    let form = reqwest::multipart::Form::new().text("email", email.to_string());
    raw(app.post(MAGIC, token).multipart(form).send().await.unwrap()).await
}

pub fn outbox(app: &TestApp, to: Option<&str>) -> Vec<Value> {
    let mut args = vec!["mail"];
    if let Some(to) = to {
        args.extend(["--to", to]);
    }
    app.admin(&args).unwrap().as_array().unwrap().clone()
}

both_backends! {
    async fn magic_links_are_queued_and_the_sixth_in_an_hour_is_throttled(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        let (status, body) = json(app.request(Method::POST, MAGIC).send().await.unwrap()).await;
        assert_error(status, &body, 403, "authorization_required");
        let (status, body) = json(app.post(MAGIC, &a.token).send().await.unwrap()).await;
        assert_error(status, &body, 400, "invalid_email");
        let (status, _, text) = magic_link(&app, &a.token, "not-an-address").await;
        assert_eq!(status, 400, "{text}");

        for email in ["jane@example.com", "Jane@Example.com", "jane@example.com", "JANE@EXAMPLE.COM", "jane@example.com"] {
            let (status, _, text) = magic_link(&app, &a.token, email).await;
            assert_eq!((status.as_u16(), text.as_str()), (200, OK));
        }
        let (status, headers, text) = magic_link(&app, &a.token, "jane@example.com").await;
        assert_eq!((status.as_u16(), text.as_str()), (429, THROTTLED));
        let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=3600).contains(&wait), "Retry-After {wait}");
        // Another key of the same partner, another partner: the limit is the address's.
        let b = app.partner("Bravo").await;
        let (status, _, _) = magic_link(&app, &b.token, "jane@example.com").await;
        assert_eq!(status, 429);
        let (status, _, text) = magic_link(&app, &b.token, "joe@example.com").await;
        assert_eq!((status.as_u16(), text.as_str()), (200, OK));

        // No SMTP relay: everything waits in the outbox.
        let all = outbox(&app, None);
        assert_eq!(all.len(), 6, "{all:?}");
        let jane = outbox(&app, Some("JANE@example.com"));
        assert_eq!(jane.len(), 5);
        let m = &jane[0];
        assert_eq!(m["to"], "jane@example.com");
        assert_eq!(m["subject"], "Log in to the WordPress app");
        assert_eq!(m["kind"], "magic_link");
        assert_eq!(m["status"], "queued");
        assert_eq!(m["attempts"], 0);
        assert_eq!(m["partner_id"], a.partner_id);
        assert!(m["body"].as_str().unwrap().contains("wordpress://magic-login?token="), "{m}");
        // Each link is its own.
        assert_ne!(jane[0]["body"], jane[1]["body"]);
    }

    /// The typed client and `jpstart magic-link`.
    async fn magic_links_from_the_client_and_the_cli(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        let client = jpstart_client::Client::builder()
            .base_url(&app.base)
            .partner(&a.client_id, &a.client_secret)
            .build()
            .unwrap();
        assert!(client.magic_link("client@example.com").await.unwrap().success);
        let env = partner_env(&app, &a);
        let run = jpstart(&["magic-link", "cli@example.com"], &env).await;
        assert_eq!(run.code, 0, "{}|{}", run.stdout, run.stderr);
        assert_eq!(run.stdout.trim(), OK);
        let run = jpstart(&["magic-link", "nope"], &env).await;
        assert_eq!(run.code, 1);
        assert_eq!(run.error_json()["error"], "invalid_email");
        let to: Vec<String> = outbox(&app, None).iter().map(|m| m["to"].as_str().unwrap().to_string()).collect();
        assert_eq!(to, ["client@example.com", "cli@example.com"]);
    }
}
