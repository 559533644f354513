//! Issue: server foundation (SPEC §2): parameters from the query string and
//! the four body formats, on `/oauth2/token` and on provision.

use jpstart_types::wire::{ErrorsResponse, ProvisionResponse, StatusV14, TokenResponse};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, RequestBuilder};
use serde_json::{json as j, Value};

use crate::common::*;

/// The ways a client can send the same parameters.
#[derive(Clone, Copy, Debug)]
enum Format {
    Urlencoded,
    /// reqwest's own multipart (`multipart/form-data; boundary=...`).
    Multipart,
    /// What curl sends for the upstream docs' `--header 'content-type:
    /// multipart/form-data;' --form ...`: `multipart/form-data;; boundary=...`.
    CurlMultipart,
    Json,
    /// A JSON object with no content type (how the Jetpack plugin posts).
    JsonNoType,
}

const FORMATS: [Format; 5] = [
    Format::Urlencoded,
    Format::Multipart,
    Format::CurlMultipart,
    Format::Json,
    Format::JsonNoType,
];

fn with_body(req: RequestBuilder, format: Format, fields: &[(&str, &str)]) -> RequestBuilder {
    match format {
        Format::Urlencoded => req.form(fields),
        Format::Multipart => {
            let form = fields
                .iter()
                .fold(reqwest::multipart::Form::new(), |f, (k, v)| {
                    f.text(k.to_string(), v.to_string())
                });
            req.multipart(form)
        }
        Format::CurlMultipart => {
            let boundary = "------------------------a9351eba52b514e2";
            let mut body = String::new();
            for (k, v) in fields {
                body.push_str(&format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                ));
            }
            body.push_str(&format!("--{boundary}--\r\n"));
            req.header(
                CONTENT_TYPE,
                format!("multipart/form-data;; boundary={boundary}"),
            )
            .body(body)
        }
        Format::Json => req.json(&object(fields)),
        Format::JsonNoType => req.body(object(fields).to_string()),
    }
}

fn object(fields: &[(&str, &str)]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}

both_backends! {
    async fn token_in_every_body_format(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let fields = [
            ("client_id", p.client_id.as_str()),
            ("client_secret", p.client_secret.as_str()),
            ("grant_type", "client_credentials"),
            ("scope", "jetpack-partner"),
        ];
        for format in FORMATS {
            let req = with_body(app.request(Method::POST, "/oauth2/token"), format, &fields);
            let (status, body) = json(req.send().await.unwrap()).await;
            assert_eq!(status, 200, "{format:?}: {body}");
            let token = decode::<TokenResponse>(&body).access_token;
            let token = token.as_str();
            let res = app.post("/rest/v1.3/jpphp/partner-keys/verify", token).send().await.unwrap();
            assert_eq!(res.status(), 200, "{format:?}: the token works");
        }
        // JSON with a numeric client_id, as a JSON client might send it.
        let res = app
            .request(Method::POST, "/oauth2/token")
            .json(&j!({
                "client_id": p.key_id,
                "client_secret": p.client_secret,
                "grant_type": "client_credentials",
                "scope": "jetpack-partner",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        // The query string is a source as well.
        let q = format!(
            "/oauth2/token?grant_type=client_credentials&client_id={}&client_secret={}",
            p.client_id, p.client_secret
        );
        let res = app.request(Method::POST, &q).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }

    /// Issue 8: an oversized token request is a clear 413, in the RFC 6749
    /// error shape of the token endpoint (not the REST error body).
    async fn oversized_token_request_is_413(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let big = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&pad={}",
            p.client_id, p.client_secret, "x".repeat(64 * 1024)
        );
        let (status, headers, text) = raw(app
            .request(Method::POST, "/oauth2/token")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(big)
            .send()
            .await
            .unwrap())
        .await;
        assert_eq!(status, 413, "{text}");
        assert_eq!(text, r#"{"error":"invalid_request","error_description":"The request body is larger than 65536 bytes."}"#);
        assert_eq!(headers["cache-control"], "no-store");
    }

    async fn provision_in_every_body_format(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        for (i, format) in FORMATS.into_iter().enumerate() {
            let site = format!("https://fmt{i}.example/blog/");
            let fields = [
                ("siteurl", site.as_str()),
                ("local_user", "admin"),
                ("plan", "premium"),
                ("force_register", "1"),
            ];
            let req = with_body(app.post("/rest/v1.3/jpphp/provision", &p.token), format, &fields);
            let (status, body) = json(req.send().await.unwrap()).await;
            assert_eq!(status, 200, "{format:?}: {body}");
            let res: ProvisionResponse = decode(&body);
            assert!(res.success && res.auth_required, "{format:?}: {body}");
            let (status, st) = app.status(&p.token, &format!("fmt{i}.example::blog")).await;
            assert_eq!(status, 200, "{format:?}: {st}");
            assert_eq!(decode::<StatusV14>(&st).products[0].slug, "premium", "{format:?}");
        }
    }

    async fn malformed_bodies_are_invalid_body(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let cases: Vec<(Option<&str>, &str)> = vec![
            (Some("application/json"), "{\"siteurl\":"),
            (Some("application/json"), "[1,2]"),
            (None, "{not json"),
            (Some("multipart/form-data"), "--x\r\n"),
            (Some("multipart/form-data; boundary=zz"), "garbage"),
        ];
        for (ct, body) in cases {
            let mut req = app.post("/rest/v1.3/jpphp/provision", &p.token).body(body);
            if let Some(ct) = ct {
                req = req.header(CONTENT_TYPE, ct);
            }
            let (status, v) = json(req.send().await.unwrap()).await;
            assert_error(status, &v, 400, "invalid_body");
        }
        assert_eq!(app.admin(&["activations"]).unwrap(), j!([]));
        // A JSON object under a form content type is read as JSON, as upstream.
        let res = app
            .post("/rest/v1.3/jpphp/provision", &p.token)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(r#"{"siteurl":"https://formjson.example","local_user":"a","plan":"personal"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let (status, _) = app.status(&p.token, "formjson.example").await;
        assert_eq!(status, 200);
    }

    async fn body_wins_over_query(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let (status, body) = json(
            app.post(
                "/rest/v1.3/jpphp/provision?siteurl=https://query.example&local_user=q&plan=premium",
                &p.token,
            )
            .form(&[("siteurl", "https://body.example"), ("plan", "personal")])
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let acts = app.activations(&[]);
        assert_eq!(acts.len(), 1, "{acts:?}");
        assert_eq!(acts[0].site, "body.example");
        assert_eq!(acts[0].product, "personal");
        // The query fills what the body lacks (local_user came from it).
        let (status, _) = app.status(&p.token, "query.example").await;
        assert_eq!(status, 403);
    }

    async fn unknown_parameters_are_ignored(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let (status, body) = app
            .provision(
                &p.token,
                &[
                    ("siteurl", "https://extra.example"),
                    ("local_user", "a"),
                    ("plan", "personal"),
                    ("site_id", "77"),
                    ("no_such_parameter", "x"),
                    ("site_url", "https://other.example"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = json(
            app.post("/rest/v1.3/jpphp/extra.example/partner-cancel?whatever=1", &p.token)
                .json(&j!({"site_id": 77, "nested": {"a": [1]}}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status.as_u16(), body), (200, j!({"success": true})));
        let (status, body) = json(
            app.request(Method::GET, "/rest/v1.3/jpphp/errors?foo=bar&callback=x")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(!ok::<ErrorsResponse>(status, &body).errors.0.is_empty(), "{body}");
    }
}
