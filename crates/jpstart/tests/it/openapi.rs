//! `GET /openapi.json`: a snapshot of the document (so a wire change shows up
//! in review), its shape, its error codes against the catalogue, and its
//! agreement with the routes and the `/help` documents, all over HTTP.
//!
//! The snapshot is `snapshots/it__openapi__openapi.snap` (insta). After an
//! intended wire change, regenerate it with
//! `INSTA_UPDATE=always cargo test -p jpstart --test it openapi::snapshot`
//! and review the diff (`cargo insta` is not needed). Under `CI=true` insta
//! writes nothing and a mismatch fails.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::common::{json, Db, TestApp};

/// Codes every REST operation lists (the deadline, store faults, reading
/// parameters), in its `/help` and its OpenAPI responses alike.
const COMMON: &[&str] = &[
    "invalid_body",
    "request_too_large",
    "request_timeout",
    "internal_error",
];

async fn document(app: &TestApp) -> Value {
    let res = app
        .request(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "application/json",
        "content type"
    );
    let (status, doc) = json(res).await;
    assert_eq!(status, 200);
    doc
}

/// Every `enum` value of an `error` / `error_code` property, anywhere.
fn error_enums(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                for key in ["error", "error_code"] {
                    if let Some(Value::Array(codes)) = props.get(key).and_then(|p| p.get("enum")) {
                        out.extend(codes.iter().filter_map(Value::as_str).map(String::from));
                    }
                }
            }
            map.values().for_each(|x| error_enums(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| error_enums(x, out)),
        _ => {}
    }
}

/// The codes an operation's error responses list (`error` enums).
fn operation_codes(op: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    error_enums(&op["responses"], &mut out);
    out
}

#[tokio::test]
async fn snapshot() {
    let app = TestApp::spawn(Db::sqlite()).await;
    let doc = document(&app).await;
    // The crate version moves with every release, not with the wire.
    insta::assert_json_snapshot!("openapi", doc, { ".info.version" => "[version]" });
}

#[tokio::test]
async fn is_openapi_and_every_code_is_catalogued() {
    let app = TestApp::spawn(Db::sqlite()).await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "openapi version: {}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() > 20, "{} paths", paths.len());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // Every operation has at least one documented response, and every $ref
    // points at a schema that exists.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &piece[..piece.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }

    let res = app
        .request(Method::GET, "/rest/v1.3/jpphp/errors?verbose")
        .send()
        .await
        .unwrap();
    let (_, catalogue) = json(res).await;
    let catalogue: BTreeSet<String> = catalogue["errors"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut mentioned = BTreeSet::new();
    error_enums(&doc, &mut mentioned);
    assert!(mentioned.len() > 15, "{mentioned:?}");
    let missing: Vec<_> = mentioned.difference(&catalogue).collect();
    assert!(missing.is_empty(), "not in the catalogue: {missing:?}");
    // The token endpoint's RFC 6749 codes are catalogued too.
    for code in [
        "invalid_request",
        "invalid_client",
        "unsupported_grant_type",
        "invalid_scope",
    ] {
        assert!(catalogue.contains(code), "{code}");
    }
}

/// Every documented operation is routed (none gets the unknown-route
/// answer), and each REST operation lists exactly the errors of its `/help`
/// document, which include the common ones.
#[tokio::test]
async fn operations_are_routed_and_agree_with_help() {
    let app = TestApp::spawn(Db::sqlite()).await;
    let partner = app.partner("openapi").await;
    let doc = document(&app).await;
    let mut checked_help = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{blog_id}", "1")
            .replace("{site_or_blog_id}", "example.com")
            .replace("{token}", "0123456789abcdef");
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = app
                .request(method.clone(), &concrete)
                .bearer_auth(&partner.token)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let content_type = res
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let body = res.text().await.unwrap();
            let unknown_route = status == 404 && body.is_empty();
            assert!(
                !unknown_route && status != 405,
                "{method} {concrete}: {status} {content_type} {body:?}"
            );
            if !path.starts_with("/rest/") || path.ends_with("/help") {
                continue;
            }
            // The endpoint's own documentation, served by the same route.
            let help = app
                .request(Method::GET, &format!("{concrete}/help"))
                .send()
                .await
                .unwrap();
            let (status, help) = json(help).await;
            assert_eq!(status, 200, "{concrete}/help");
            let want: BTreeSet<String> = help["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["code"].as_str().unwrap().to_string())
                .collect();
            for code in COMMON {
                assert!(want.contains(*code), "{path}/help lacks {code}");
            }
            assert_eq!(operation_codes(op), want, "errors of {method} {path}");
            let documented: BTreeSet<String> = item
                .as_object()
                .unwrap()
                .keys()
                .map(|m| m.to_uppercase())
                .collect();
            assert!(
                documented.contains(help["method"].as_str().unwrap()),
                "{path}: help says {}, OpenAPI has {documented:?}",
                help["method"]
            );
            checked_help += 1;
        }
    }
    assert!(checked_help >= 11, "{checked_help} REST operations checked");
}

/// The codes an operation lists at `status`.
fn listed_at(op: &Value, status: u16) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    error_enums(&op["responses"][status.to_string()], &mut out);
    out
}

/// What the server answers is what it documents: every REST operation is
/// sent the requests that make extractors and parsing refuse (no token, a
/// malformed or unknown token, a disabled key, an unreadable or oversized
/// body, sites that are not sites, missing parameters), and every error it
/// answers must be listed, at its status, in the operation's OpenAPI
/// responses and in its `/help`. None may be a 500: in a debug build the
/// endpoint guard turns an undeclared code into one.
#[tokio::test]
async fn every_error_answered_is_documented() {
    let app = TestApp::spawn(Db::sqlite()).await;
    let partner = app.partner("documented").await;
    let disabled = app.partner("disabled").await;
    app.admin(&["key", "disable", &disabled.key_id.to_string()])
        .unwrap();
    let doc = document(&app).await;
    let big = format!("pad={}", "x".repeat(70 * 1024));
    let mut answered = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/rest/") || path.ends_with("/help") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut help_path = None;
            let sites: &[&str] = if path.contains('{') {
                &["1", "example.com", "%FF", "bad%20host", "0", "999999"]
            } else {
                &["-"]
            };
            for site in sites {
                let concrete = path
                    .replace("{blog_id}", site)
                    .replace("{site_or_blog_id}", site);
                help_path.get_or_insert_with(|| format!("{concrete}/help"));
                let probes = [
                    (None, None, None),
                    (Some("not-a-token!"), None, None),
                    (Some("0123456789abcdef0123"), None, None),
                    (Some(disabled.token.as_str()), None, None),
                    (Some(partner.token.as_str()), None, None),
                    (Some(partner.token.as_str()), Some("application/json"), Some("{")),
                    (Some(partner.token.as_str()), Some("application/json"), Some("[1]")),
                    (
                        Some(partner.token.as_str()),
                        Some("application/x-www-form-urlencoded"),
                        Some(big.as_str()),
                    ),
                    (
                        Some(partner.token.as_str()),
                        Some("application/x-www-form-urlencoded"),
                        Some("plan=gold&siteurl=nohost&local_user=u&name=&allowed_x=1&ssh_user=u&ftp_user=u"),
                    ),
                ];
                for (token, content_type, body) in probes {
                    let mut req = app.request(method.clone(), &concrete);
                    if let Some(token) = token {
                        req = req.header("authorization", format!("Bearer {token}"));
                    }
                    if let Some(ct) = content_type {
                        req = req.header("content-type", ct);
                    }
                    if let Some(body) = body {
                        req = req.body(body.to_string());
                    }
                    let large = body.is_some_and(|b| b.len() > 1024);
                    if large {
                        // Not reused: an early answer leaves it unusable.
                        req = req.header("connection", "close");
                    }
                    let res = match req.send().await {
                        Ok(res) => res,
                        // Answered before the body was read (a refusal, or
                        // an endpoint that reads none): the connection
                        // closes under a client still sending a large one.
                        Err(_) if large => continue,
                        Err(e) => panic!("{e}"),
                    };
                    let (status, body) = json(res).await;
                    let what = format!("{method} {concrete} token={token:?} body={content_type:?}");
                    assert_ne!(status, 500, "{what}: {body}");
                    let Some(code) = body["error"].as_str().filter(|c| !c.is_empty()) else {
                        continue;
                    };
                    assert!(
                        listed_at(op, status.as_u16()).contains(code),
                        "{what}: {status} {code} is not in the OpenAPI responses of {path}"
                    );
                    answered.insert(code.to_string());
                }
            }
            let help_path = help_path.unwrap();
            let (status, help) =
                json(app.request(Method::GET, &help_path).send().await.unwrap()).await;
            assert_eq!(status, 200, "{help_path}");
            let in_help: BTreeSet<&str> = help["errors"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["code"].as_str())
                .collect();
            assert_eq!(
                in_help,
                operation_codes(op).iter().map(String::as_str).collect(),
                "{path}"
            );
        }
    }
    // The probes reach every kind of refusal they are meant to.
    for code in [
        "authorization_required",
        "invalid_token",
        "partner_key_disabled",
        "invalid_body",
        "request_too_large",
        "invalid_site",
        "invalid_blog",
        "invalid_plan",
        "invalid_siteurl",
        "invalid_key_name",
    ] {
        assert!(
            answered.contains(code),
            "no probe answered {code}: {answered:?}"
        );
    }
}
