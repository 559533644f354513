//! Issue 12, finding 7 (SPEC §11): a guessed secret does not lock the owner
//! out. The token endpoint checks the secret first; only wrong secrets use up
//! the failure budget (per client id and per address) and get 429; a correct
//! secret gets its token even while its client id or address is throttled.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

async fn token_request(
    app: &TestApp,
    client_id: &str,
    secret: &str,
) -> (StatusCode, Value, Option<String>) {
    let res = app.token_request(client_id, secret).await;
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let (status, body) = json(res).await;
    (status, body, retry)
}

fn assert_token(status: StatusCode, body: &Value) {
    assert_eq!(status, 200, "{body}");
    assert!(
        body["access_token"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
}

fn assert_throttled(status: StatusCode, body: &Value, retry: Option<String>) {
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "too_many_requests", "{body}");
    assert!(
        retry.is_some_and(|r| r.parse::<u64>().is_ok_and(|s| s >= 1)),
        "Retry-After"
    );
}

both_backends! {
    async fn guessed_secrets_do_not_lock_the_owner_out_per_client_id(db: Db) {
        // The default burst (20) with a refill too slow to matter, so that
        // the count is exact however slow the machine is.
        let app = TestApp::spawn_with(db, Opts::default().arg("--token-rate-limit").arg("1/h:20")).await;
        let a = app.admin(&["partner", "create", "--name", "A"]).unwrap();
        let (id, secret) = (a["client_id"].as_str().unwrap(), a["client_secret"].as_str().unwrap());
        for i in 0..30 {
            let (status, body, _) = token_request(&app, id, "guessed").await;
            let expected = if i < 20 { 400 } else { 429 };
            assert_eq!(status, expected, "guess {i}: {body}");
        }
        // The owner, with the right secret, while its client id is throttled.
        let (status, body, _) = token_request(&app, id, secret).await;
        assert_token(status, &body);
        let token = body["access_token"].as_str().unwrap();
        let res = app.post("/rest/v1.3/jpphp/partner-keys/verify", token).send().await.unwrap();
        assert_eq!(res.status(), 200, "the token works");
        // The attacker is still throttled: a right secret resets nothing.
        let (status, body, retry) = token_request(&app, id, "guessed").await;
        assert_throttled(status, &body, retry);
    }

    async fn guessed_secrets_do_not_lock_the_owner_out_per_address(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default()
            .arg("--token-rate-limit").arg("0")
            .arg("--token-rate-limit-per-address").arg("1/h:3")).await;
        let a = app.admin(&["partner", "create", "--name", "A"]).unwrap();
        let (id, secret) = (a["client_id"].as_str().unwrap(), a["client_secret"].as_str().unwrap());
        // Three guesses for made-up client ids use up the address's budget.
        for guess in ["9001", "9002", "9003"] {
            let (status, body, _) = token_request(&app, guess, "x").await;
            assert_eq!(status, 400, "{body}");
            assert_eq!(body["error"], "invalid_client", "{body}");
        }
        let (status, body, retry) = token_request(&app, "9004", "x").await;
        assert_throttled(status, &body, retry);
        // The same address, the right secret: a token.
        let (status, body, _) = token_request(&app, id, secret).await;
        assert_token(status, &body);
        // Wrong secrets of a real client stay throttled on this address.
        let (status, body, retry) = token_request(&app, id, "x").await;
        assert_throttled(status, &body, retry);
    }

    async fn right_secrets_do_not_use_up_the_failure_budget(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default()
            .arg("--token-rate-limit").arg("1/h:3")
            .arg("--token-rate-limit-per-address").arg("1/h:3")).await;
        let a = app.admin(&["partner", "create", "--name", "A"]).unwrap();
        let (id, secret) = (a["client_id"].as_str().unwrap(), a["client_secret"].as_str().unwrap());
        for _ in 0..6 {
            let (status, body, _) = token_request(&app, id, secret).await;
            assert_token(status, &body);
        }
        // The whole budget is still there for wrong secrets: three, then 429.
        for _ in 0..3 {
            let (status, body, _) = token_request(&app, id, "wrong").await;
            assert_eq!(status, 400, "{body}");
        }
        let (status, body, retry) = token_request(&app, id, "wrong").await;
        assert_throttled(status, &body, retry);
        // A disabled key with its right secret is refused as before (not a lockout).
        app.admin(&["key", "disable", &a["key_id"].to_string()]).unwrap();
        let (status, body, _) = token_request(&app, id, secret).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_client", "{body}");
    }
}
