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

/// Codes shared by every REST operation (conventions layer, store faults);
/// not listed in each `/help`.
const COMMON: &[&str] = &["invalid_body", "request_too_large", "internal_error"];

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
/// document plus the common ones.
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
            let mut want: BTreeSet<String> = help["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["code"].as_str().unwrap().to_string())
                .collect();
            want.extend(COMMON.iter().map(|c| c.to_string()));
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
