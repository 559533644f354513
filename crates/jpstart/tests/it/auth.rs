//! Issue: server foundation (SPEC §3, §5 errors): bearer authentication,
//! `POST /oauth2/token`, and the served error catalogue.

use std::path::PathBuf;

use jpstart_server::domain::errors::{ErrorCode, OAuthErrorCode};
use jpstart_types::wire::{ErrorsResponse, OAuthErrorBody, TokenResponse, VerboseErrorsResponse};
use reqwest::Method;
use serde_json::{json as j, Value};

use crate::common::*;

const VERIFY: &str = "/rest/v1.3/jpphp/partner-keys/verify";

/// Every authenticated endpoint, as (method, path).
const AUTHENTICATED: &[(&str, &str)] = &[
    ("POST", "/rest/v1.3/jpphp/partner-keys/verify"),
    ("POST", "/rest/v1.3/jpphp/provision"),
    ("POST", "/rest/v1.3/jpphp/42/partner-provision"),
    ("POST", "/rest/v1.3/jpphp/example.com/partner-cancel"),
    ("GET", "/rest/v1.4/jpphp/example.com/status"),
    ("GET", "/rest/v1.3/jpphp/example.com/status"),
    ("GET", "/rest/v1.3/jpphp/example.com/upgrade-paths"),
];

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> (reqwest::StatusCode, Value) {
    let mut req = app.request(method.parse::<Method>().unwrap(), path);
    if let Some(a) = auth {
        req = req.header(reqwest::header::AUTHORIZATION, a);
    }
    json(req.send().await.unwrap()).await
}

async fn token_request(app: &TestApp, fields: &[(&str, &str)]) -> (reqwest::StatusCode, Value) {
    json(
        app.request(Method::POST, "/oauth2/token")
            .form(fields)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// An RFC 6749 §5.2 error: status 400 and exactly `error`, `error_description`.
fn assert_oauth_error(status: reqwest::StatusCode, body: &Value, code: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(keys(body), ["error", "error_description"], "{body}");
    let err: OAuthErrorBody = decode(body);
    assert_eq!(err.error, code, "{body}");
    assert!(!err.error_description.is_empty(), "{body}");
}

both_backends! {
    async fn auth_errors_on_every_endpoint(db: Db) {
        let app = TestApp::spawn(db).await;
        for (method, path) in AUTHENTICATED {
            let (status, body) = call(&app, method, path, None).await;
            assert_error(status, &body, 403, "authorization_required");
            let (status, body) = call(&app, method, path, Some("Basic dXNlcjpwYXNz")).await;
            assert_error(status, &body, 403, "authorization_required");
            let (status, body) = call(&app, method, path, Some("Bearer AAAAbbbbCCCCdddd1234567890")).await;
            assert_error(status, &body, 403, "invalid_token");
            let (status, body) = call(&app, method, path, Some("Bearer not$a$token")).await;
            assert_error(status, &body, 403, "invalid_token");
        }
        // The catalogue needs none.
        let (status, _) = call(&app, "GET", "/rest/v1.3/jpphp/errors", None).await;
        assert_eq!(status, 200);
    }

    async fn disabled_key_and_enabled_again(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let other = app.partner("Other").await;
        let id = p.key_id.to_string();
        assert_eq!(app.admin(&["key", "disable", &id]).unwrap(), j!({"key_id": p.key_id, "disabled": true}));
        for (method, path) in AUTHENTICATED {
            let (status, body) = call(&app, method, path, Some(&format!("Bearer {}", p.token))).await;
            let err = assert_error(status, &body, 400, "partner_key_disabled");
            assert_eq!(err.message, "This key is disabled.");
        }
        // Another partner's key is unaffected.
        assert_eq!(app.post(VERIFY, &other.token).send().await.unwrap().status(), 200);
        // A disabled key gets no new token either.
        let (status, body) = token_request(&app, &[
            ("grant_type", "client_credentials"),
            ("client_id", &p.client_id),
            ("client_secret", &p.client_secret),
        ]).await;
        assert_oauth_error(status, &body, "invalid_client");
        assert_eq!(app.admin(&["key", "enable", &id]).unwrap(), j!({"key_id": p.key_id, "disabled": false}));
        assert_eq!(app.post(VERIFY, &p.token).send().await.unwrap().status(), 200);
    }

    async fn token_of_another_scope(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let minted: TokenResponse = app
            .admin_as(&["token", "create", "--key", &p.key_id.to_string(), "--scope", "other"]);
        assert_eq!(minted.scope, "other");
        let token = minted.access_token.as_str();
        for (method, path) in AUTHENTICATED {
            let (status, body) = call(&app, method, path, Some(&format!("Bearer {token}"))).await;
            let err = assert_error(status, &body, 403, "invalid_scope");
            assert_eq!(err.message, "This token is not authorized to provision partner sites");
        }
        // The admin can mint a partner token as well.
        let minted: TokenResponse = app.admin_as(&["token", "create", "--key", &p.key_id.to_string()]);
        let token = minted.access_token.as_str();
        assert_eq!(app.post(VERIFY, token).send().await.unwrap().status(), 200);
    }

    async fn revoked_tokens(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let second = app.token(&p.client_id, &p.client_secret).await;
        let third = app.token(&p.client_id, &p.client_secret).await;
        assert_eq!(app.admin(&["token", "revoke", "--token", &p.token]).unwrap(), j!({"revoked": 1}));
        let (status, body) = json(app.post(VERIFY, &p.token).send().await.unwrap()).await;
        assert_error(status, &body, 403, "invalid_token");
        assert_eq!(app.post(VERIFY, &second).send().await.unwrap().status(), 200);
        // Revoking twice changes nothing, and says so (SPEC §6: a failure).
        assert_eq!(
            app.admin(&["token", "revoke", "--token", &p.token]).unwrap_err(),
            "jpstart admin: token not found (or already revoked)"
        );
        // --key revokes every live token of the key.
        assert_eq!(
            app.admin(&["token", "revoke", "--key", &p.key_id.to_string()]).unwrap(),
            j!({"revoked": 2})
        );
        for t in [&second, &third] {
            let (status, body) = json(app.post(VERIFY, t).send().await.unwrap()).await;
            assert_error(status, &body, 403, "invalid_token");
        }
        // The key itself still works: a new token is valid.
        let fresh = app.token(&p.client_id, &p.client_secret).await;
        assert_eq!(app.post(VERIFY, &fresh).send().await.unwrap().status(), 200);
    }

    async fn oauth_token_success(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let res = app
            .request(Method::POST, "/oauth2/token")
            .header(reqwest::header::HOST, "public-api.wordpress.com")
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", p.client_id.as_str()),
                ("client_secret", p.client_secret.as_str()),
                ("scope", "jetpack-partner"),
            ])
            .send()
            .await
            .unwrap();
        let (status, headers, text) = raw(res).await;
        assert_eq!(status, 200);
        assert_eq!(headers[reqwest::header::CONTENT_TYPE], "application/json");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(keys(&body), ["access_token", "token_type", "blog_id", "blog_url", "scope"]);
        let body: TokenResponse = decode(&body);
        let token = body.access_token.as_str();
        assert!(token.len() >= 32 && token.bytes().all(|b| b.is_ascii_alphanumeric()), "{token}");
        assert_eq!(
            text,
            format!(r#"{{"access_token":"{token}","token_type":"bearer","blog_id":0,"blog_url":0,"scope":"jetpack-partner"}}"#)
        );
        // Every request gets a fresh token; the old ones keep working.
        let again = app.token(&p.client_id, &p.client_secret).await;
        assert_ne!(again, token);
        assert_eq!(app.post(VERIFY, token).send().await.unwrap().status(), 200);
        // A missing scope means jetpack-partner.
        let (status, body) = token_request(&app, &[
            ("grant_type", "client_credentials"),
            ("client_id", &p.client_id),
            ("client_secret", &p.client_secret),
        ]).await;
        assert_eq!(ok::<TokenResponse>(status, &body).scope, "jetpack-partner");
        // Secrets and tokens never reach the log.
        let logs = app.logs();
        assert!(!logs.contains(&p.client_secret) && !logs.contains(token), "{logs}");
    }

    async fn oauth_token_errors(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let id = p.client_id.as_str();
        let secret = p.client_secret.as_str();
        let gt = ("grant_type", "client_credentials");
        let sc = ("scope", "jetpack-partner");
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![gt, ("client_id", id), ("client_secret", "wrong"), sc], "invalid_client"),
            (vec![gt, ("client_id", id), ("client_secret", &secret[1..]), sc], "invalid_client"),
            (vec![gt, ("client_id", "999999"), ("client_secret", secret), sc], "invalid_client"),
            (vec![gt, ("client_id", "abc"), ("client_secret", secret), sc], "invalid_client"),
            (vec![gt, ("client_id", "-1"), ("client_secret", secret), sc], "invalid_client"),
            (vec![("grant_type", "password"), ("client_id", id), ("client_secret", secret), sc], "unsupported_grant_type"),
            // Supported since issue 14 (partner users' OAuth apps): without a code, a missing parameter.
            (vec![("grant_type", "authorization_code"), ("client_id", id), ("client_secret", secret)], "invalid_request"),
            (vec![("client_id", id), ("client_secret", secret), sc], "invalid_request"),
            (vec![gt, ("client_secret", secret), sc], "invalid_request"),
            (vec![gt, ("client_id", id), sc], "invalid_request"),
            (vec![gt, ("client_id", id), ("client_secret", ""), sc], "invalid_request"),
            (vec![], "invalid_request"),
            (vec![gt, ("client_id", id), ("client_secret", secret), ("scope", "global")], "invalid_scope"),
            (vec![gt, ("client_id", id), ("client_secret", secret), ("scope", "jetpack-partner other")], "invalid_scope"),
        ];
        for (fields, code) in cases {
            let (status, body) = token_request(&app, &fields).await;
            assert_oauth_error(status, &body, code);
        }
        // A body that cannot be parsed is an invalid request too.
        let (status, body) = json(
            app.request(Method::POST, "/oauth2/token")
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body("{")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_oauth_error(status, &body, "invalid_request");
        let logs = app.logs();
        assert!(!logs.contains(secret), "the secret was logged");
    }

    async fn errors_catalogue(db: Db) {
        let app = TestApp::spawn(db).await;
        let get = |q: &'static str| {
            let req = app.request(Method::GET, &format!("/rest/v1.3/jpphp/errors{q}"));
            async move { json(req.send().await.unwrap()).await }
        };
        let (status, body) = get("").await;
        assert_eq!(keys(&body), ["errors"]);
        let brief = ok::<ErrorsResponse>(status, &body).errors;
        let all_codes: Vec<&str> = ErrorCode::ALL
            .iter()
            .map(|c| c.code())
            .chain(OAuthErrorCode::ALL.iter().map(|c| c.code()))
            .collect();
        for code in &all_codes {
            let d = brief.get(code).unwrap_or_else(|| panic!("{code} missing"));
            assert!(!d.is_empty(), "{code}");
        }
        // The OAuth codes that are not also API codes: invalid_request,
        // invalid_client, unsupported_grant_type, invalid_grant (issue 14).
        assert_eq!(brief.0.len(), ErrorCode::ALL.len() + 4, "invalid_scope is listed once");
        for q in ["?verbose", "?verbose=", "?verbose=0", "?verbose=1", "?pretty=0&verbose=false"] {
            let (status, body) = get(q).await;
            let verbose = ok::<VerboseErrorsResponse>(status, &body).errors;
            assert_eq!(verbose.0.len(), brief.0.len(), "{q}");
            for code in &all_codes {
                let e = verbose.get(code).unwrap_or_else(|| panic!("{code} missing"));
                // The key order of each entry, as served.
                assert_eq!(keys(&body["errors"][*code]), ["description", "cause", "solution"], "{code}");
                for (k, v) in [("description", &e.description), ("cause", &e.cause), ("solution", &e.solution)] {
                    assert!(!v.is_empty(), "{code}.{k}");
                }
                // As upstream's errors.md: the verbose description is the
                // brief message, the message template (OAuth codes have
                // none: their description).
                let brief_text = brief.get(code).map(String::as_str);
                assert_eq!(brief_text, Some(e.description.as_str()), "{code}");
                if let Some(c) = ErrorCode::ALL.iter().find(|c| c.code() == *code) {
                    assert_eq!(brief_text, Some(c.template()), "{code}");
                }
            }
        }
        assert_eq!(
            brief.get("activation_limit_reached").map(String::as_str),
            Some("This key has reached its activation limit for product %s")
        );
        // Every code upstream's errors.md and method-not-found.md name.
        for (code, message) in [
            ("could_not_load_product_class", "Could not load a product class"),
            ("failed_registration_unknown_blog", "Remote site returned an invalid site ID"),
            ("method_not_found", "%s method not found on remote site.%s"),
        ] {
            assert_eq!(brief.get(code).map(String::as_str), Some(message), "{code}");
        }
        assert_eq!(brief.get("invalid_client").map(String::is_empty), Some(false));
        // POST answers too, and the version range is 1.3+.
        let res = app.request(Method::POST, "/rest/v1.4/jpphp/errors").send().await.unwrap();
        assert_eq!(res.status(), 200);
        let res = app.request(Method::GET, "/rest/v1.2/jpphp/errors").send().await.unwrap();
        assert_eq!(res.status(), 404);
    }
}

/// Only digests reach the database: neither the client secret nor a token
/// appears in any file of the SQLite database (main file, WAL, journal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_stored_as_digests() {
    let app = TestApp::spawn(Db::sqlite()).await;
    let p = app.partner("Acme").await;
    let minted: TokenResponse = app.admin_as(&["token", "create", "--key", &p.key_id.to_string()]);
    let minted = minted.access_token;
    let path = PathBuf::from(app.db.url.strip_prefix("sqlite://").unwrap());
    let dir = path.parent().unwrap();
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(bytes.len() > 4096, "the database files were read");
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains("Acme"),
        "the partner name is stored in clear: the scan works"
    );
    for secret in [&p.client_secret, &p.token, &minted] {
        assert!(!contains(secret), "a secret is stored in clear");
    }
}

/// The served catalogue, verbose and brief, as served byte for byte, in the
/// insta snapshots `snapshots/it__auth__errors.snap` and
/// `snapshots/it__auth__errors-brief.snap`, so that a change to the wire
/// shows in review. After an intended change:
/// `INSTA_UPDATE=always cargo test -p jpstart --test it errors_catalogue_snapshot`,
/// then review the diff. Under `CI=true` insta writes nothing and a mismatch fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_catalogue_snapshot() {
    let app = TestApp::spawn(Db::sqlite()).await;
    for (query, name) in [
        ("?verbose=1&pretty=1", "errors"),
        ("?pretty=1", "errors-brief"),
    ] {
        let res = app
            .request(Method::GET, &format!("/rest/v1.3/jpphp/errors{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        insta::assert_snapshot!(name, text);
    }
}
