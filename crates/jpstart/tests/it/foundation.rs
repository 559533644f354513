//! Issue: server foundation (SPEC §2): routing, versions, output flags,
//! CORS, help and limits, over HTTP against the real binary.

use jpstart_types::wire::{ProvisionResponse, StatusV13, StatusV14};
use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json as j, Value};

use crate::common::*;

const VERIFY: &str = "/rest/v1.3/jpphp/partner-keys/verify";

both_backends! {
    async fn token_and_verify(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        assert_eq!(p.token.len(), 64);
        assert!(p.token.bytes().all(|b| b.is_ascii_alphanumeric()));
        let (status, body) = json(app.post(VERIFY, &p.token).send().await.unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(body, j!({"success": true}));
    }

    async fn unknown_route_is_an_empty_404(db: Db) {
        let app = TestApp::spawn(db).await;
        for path in [
            "/nope",
            "/rest/v1.3/jpphp/nope",
            "/rest/v1.3/jpphp/provision/extra/segments",
            "/rest/jpphp/provision",
            "/rest/vx/jpphp/provision",
            // Envelope does not apply to the empty text/plain 404, as upstream.
            "/nope?http_envelope=1",
            "/rest/v1.3/jpphp/nope?pretty=1&fields=a",
        ] {
            for method in [Method::GET, Method::POST] {
                let res = app.request(method.clone(), path).send().await.unwrap();
                let (status, headers, text) = raw(res).await;
                assert_eq!(status, 404, "{method} {path}");
                assert_eq!(text, "", "{method} {path}");
                assert_eq!(headers[CONTENT_TYPE], "text/plain", "{path}");
                assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "*", "{path}");
                assert!(headers.get(ALLOW).is_none(), "{path}");
            }
        }
    }

    async fn other_methods_are_405_with_allow_and_the_error_body(db: Db) {
        let app = TestApp::spawn(db).await;
        for (method, path, allow) in [
            (Method::PUT, "/rest/v1.3/jpphp/provision", "POST"),
            (Method::DELETE, "/rest/v1.3/jpphp/provision/", "POST"),
            (Method::GET, "/rest/v1.3/jpphp/provision", "POST"),
            (Method::PATCH, "/rest/v1.4/jpphp/example.com/status", "GET"),
            (Method::DELETE, "/oauth2/token", "POST"),
            (Method::PUT, "/rest/v1.3/jpphp/errors", "GET,POST"),
        ] {
            let res = app.request(method.clone(), path).send().await.unwrap();
            let (status, headers, text) = raw(res).await;
            let body: Value = serde_json::from_str(&text).unwrap();
            let err = assert_error(status, &body, 405, "not_allowed");
            assert_eq!(err.message, "Method not allowed");
            // Exactly upstream's methods: not the HEAD axum adds to GET.
            let allowed = headers[ALLOW].to_str().unwrap();
            assert_eq!(allowed, allow, "{method} {path}");
            assert!(headers.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        }
        // Enveloped like any other error.
        let res = app
            .request(Method::PUT, "/rest/v1.3/jpphp/provision?http_envelope=1")
            .send()
            .await
            .unwrap();
        let (status, body) = json(res).await;
        assert_eq!(status, 200);
        assert_eq!(body["code"], 405);
        assert_eq!(body["body"]["error"], "not_allowed");
    }

    async fn options_is_200_on_any_path(db: Db) {
        let app = TestApp::spawn(db).await;
        for path in ["/nope", "/rest/v1.3/jpphp/provision", "/oauth2/token", "/rest/v9.9/x/"] {
            let res = app.request(Method::OPTIONS, path).send().await.unwrap();
            let (status, _, text) = raw(res).await;
            assert_eq!(status, 200, "{path}");
            assert_eq!(text, "", "{path}");
        }
    }

    async fn trailing_slash_is_ignored(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let (status, body) = json(app.post(&format!("{VERIFY}/"), &p.token).send().await.unwrap()).await;
        assert_eq!((status.as_u16(), body), (200, j!({"success": true})));
        let res = app
            .request(Method::POST, "/oauth2/token/")
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", p.client_id.as_str()),
                ("client_secret", p.client_secret.as_str()),
                ("scope", "jetpack-partner"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    async fn version_ranges(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let fields = [("siteurl", "https://v.example"), ("local_user", "admin"), ("plan", "personal")];
        for v in ["1.2", "1.1", "1", "0.9"] {
            let res = app
                .post(&format!("/rest/v{v}/jpphp/provision"), &p.token)
                .form(&fields)
                .send()
                .await
                .unwrap();
            let (status, _, text) = raw(res).await;
            assert_eq!((status.as_u16(), text.as_str()), (404, ""), "provision on v{v}");
        }
        // Nothing was provisioned by those.
        assert_eq!(app.admin(&["activations"]).unwrap(), j!([]));
        // Ranges are open-ended: 1.4 and later answer.
        for v in ["1.4", "1.5"] {
            let res = app
                .post(&format!("/rest/v{v}/jpphp/provision"), &p.token)
                .form(&fields)
                .send()
                .await
                .unwrap();
            let (status, body) = json(res).await;
            assert_eq!(status, 200, "provision on v{v}: {body}");
            assert!(decode::<ProvisionResponse>(&body).success, "{body}");
        }
        for v in ["1.2", "1.3"] {
            let (status, body) = json(
                app.get(&format!("/rest/v{v}/jpphp/v.example/status"), &p.token)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 200);
            assert_eq!(
                keys(&body),
                [
                    "plan",
                    "is_partner_plan",
                    "is_provisioned_by_calling_partner",
                    "is_connected",
                    "has_pending_plan",
                    "has_backups_credentials",
                    "products"
                ],
                "v{v}: {body}"
            );
            assert_eq!(decode::<StatusV13>(&body).plan, "personal");
        }
        for v in ["1.4", "1.5"] {
            let (status, body) = json(
                app.get(&format!("/rest/v{v}/jpphp/v.example/status"), &p.token)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 200);
            assert_eq!(keys(&body), ["blog", "products"], "v{v}: {body}");
            assert_eq!(decode::<StatusV14>(&body).products[0].slug, "personal");
        }
        let res = app.get("/rest/v1.1/jpphp/v.example/status", &p.token).send().await.unwrap();
        assert_eq!(res.status(), 404);
    }

    async fn http_envelope(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let (status, body) = json(
            app.post(&format!("{VERIFY}?http_envelope=1"), &p.token).send().await.unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            j!({"code":200,"headers":[{"name":"Content-Type","value":"application/json"}],"body":{"success":true}})
        );
        assert_eq!(keys(&body), ["code", "headers", "body"]);
        // An error: HTTP 200, the real status and error body inside, and no
        // CORS header since the HTTP status is 200.
        let res = app
            .get("/rest/v1.4/jpphp/unknown.example/status?http_envelope=1", &p.token)
            .send()
            .await
            .unwrap();
        let (status, headers, text) = raw(res).await;
        assert_eq!(status, 200);
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["code"], 403);
        assert_eq!(body["headers"], j!([{"name":"Content-Type","value":"application/json"}]));
        assert_error(reqwest::StatusCode::FORBIDDEN, &body["body"], 403, "invalid_blog");
        assert_eq!(headers[CONTENT_TYPE], "application/json");
        // A 400 inside the envelope.
        let (status, body) = json(
            app.post("/rest/v1.3/jpphp/provision?http_envelope=true", &p.token)
                .form(&[("local_user", "x")])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["code"], 400);
        assert_eq!(body["body"]["error"], "invalid_siteurl");
        // CORS follows the real status, as upstream sets it before enveloping.
        let res = app
            .post("/rest/v1.3/jpphp/provision?http_envelope=1", &p.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }

    async fn truthy_values(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        for v in ["1", "t", "T", "true", "TRUE", "True", "tRuE"] {
            let (_, body) = json(
                app.post(&format!("{VERIFY}?http_envelope={v}"), &p.token).send().await.unwrap(),
            )
            .await;
            assert_eq!(body["code"], 200, "http_envelope={v} is true");
        }
        for v in ["0", "f", "false", "yes", "on", "", "2", "truee", "%20true"] {
            let (_, body) = json(
                app.post(&format!("{VERIFY}?http_envelope={v}"), &p.token).send().await.unwrap(),
            )
            .await;
            assert_eq!(body, j!({"success": true}), "http_envelope={v} is false");
        }
        let (_, body) = json(app.post(&format!("{VERIFY}?http_envelope"), &p.token).send().await.unwrap()).await;
        assert_eq!(body, j!({"success": true}), "a bare http_envelope is false");
    }

    async fn pretty_and_compact(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let text = |q: &'static str| {
            let req = app.post(&format!("{VERIFY}{q}"), &p.token);
            async move { raw(req.send().await.unwrap()).await.2 }
        };
        assert_eq!(text("").await, r#"{"success":true}"#);
        assert_eq!(text("?pretty=0").await, r#"{"success":true}"#);
        assert_eq!(text("?pretty=1").await, "{\n    \"success\": true\n}");
        assert_eq!(
            text("?http_envelope=1").await,
            r#"{"code":200,"headers":[{"name":"Content-Type","value":"application/json"}],"body":{"success":true}}"#
        );
        // Errors are compact too: the shell clients' sed needs `"error":"x",`.
        let res = app.get("/rest/v1.4/jpphp/nowhere.example/status", &p.token).send().await.unwrap();
        assert_eq!(
            raw(res).await.2,
            r#"{"error":"invalid_blog","message":"The blog ID nowhere.example is invalid","error_code":"invalid_blog","error_message":"The blog ID nowhere.example is invalid"}"#
        );
        let res = app.get("/rest/v1.4/jpphp/nowhere.example/status?pretty=t", &p.token).send().await.unwrap();
        let pretty = raw(res).await.2;
        assert!(pretty.starts_with("{\n    \"error\": \"invalid_blog\",\n"), "{pretty}");
    }

    async fn fields_filters_success_only(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let (status, body) = app
            .provision(&p.token, &[("siteurl", "https://f.example"), ("local_user", "a"), ("plan", "premium")])
            .await;
        assert_eq!(status, 200, "{body}");
        let (_, body) = json(
            app.get("/rest/v1.4/jpphp/f.example/status?fields=products", &p.token).send().await.unwrap(),
        )
        .await;
        assert_eq!(keys(&body), ["products"]);
        // Top-level only: nested keys are kept whole; unknown names drop out.
        assert_eq!(keys(&body["products"][0]).len(), 4);
        let (_, body) = json(
            app.get("/rest/v1.3/jpphp/f.example/status?fields=plan,is_connected,nope", &p.token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(body, j!({"plan":"premium","is_connected":false}));
        // Errors are never filtered.
        let (status, body) = json(
            app.get("/rest/v1.4/jpphp/unknown.example/status?fields=blog", &p.token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(status, &body, 403, "invalid_blog");
        // With the envelope, the filter applies inside it.
        let (_, body) = json(
            app.get("/rest/v1.4/jpphp/f.example/status?fields=blog&http_envelope=1", &p.token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(keys(&body["body"]), ["blog"]);
    }

    async fn cors_header_on_400_and_404_only(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
            (app.post(VERIFY, &p.token), 200),
            (app.request(Method::POST, VERIFY), 403),
            (app.post("/rest/v1.3/jpphp/provision", &p.token), 400),
            (app.request(Method::GET, "/nope"), 404),
            (app.request(Method::PUT, VERIFY), 405),
            (app.request(Method::POST, "/oauth2/token"), 400),
            (app.request(Method::OPTIONS, "/nope"), 200),
        ];
        for (req, want) in cases {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            assert_eq!(status, want, "{}", res.url());
            let cors = res.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.to_str().unwrap().to_string());
            let expected = (status == 400 || status == 404).then(|| "*".to_string());
            assert_eq!(cors, expected, "{status} {}", res.url());
        }
    }

    async fn help_per_endpoint(db: Db) {
        let app = TestApp::spawn(db).await;
        for (path, method) in [
            ("/rest/v1.3/jpphp/errors", "GET"),
            ("/rest/v1.3/jpphp/partner-keys/verify", "POST"),
            ("/rest/v1.3/jpphp/provision", "POST"),
            ("/rest/v1.3/jpphp/42/partner-provision", "POST"),
            ("/rest/v1.3/jpphp/example.com/partner-cancel", "POST"),
            ("/rest/v1.3/jpphp/example.com/status", "GET"),
            ("/rest/v1.4/jpphp/42/status", "GET"),
            ("/rest/v1.3/jpphp/example.com::demo/upgrade-paths", "GET"),
        ] {
            for suffix in ["/help", "/help/"] {
                // No token: the documentation is public.
                let res = app.request(Method::GET, &format!("{path}{suffix}")).send().await.unwrap();
                let (status, headers, text) = raw(res).await;
                assert_eq!(status, 200, "{path}{suffix}");
                assert!(headers[CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
                let doc: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(doc["method"], method, "{path}: {doc}");
                let last = path.rsplit('/').next().unwrap();
                assert!(doc["path"].as_str().unwrap().ends_with(last), "{path}: {doc}");
                for key in ["description", "versions", "authentication", "parameters", "response", "errors"] {
                    assert!(doc.get(key).is_some(), "{path}: no {key}");
                }
                for e in doc["errors"].as_array().unwrap() {
                    assert!(e["code"].is_string() && e["status"].is_u64() && e["message"].is_string(), "{e}");
                }
            }
        }
        // Help follows the endpoint's version range.
        let res = app.request(Method::GET, "/rest/v1.2/jpphp/provision/help").send().await.unwrap();
        assert_eq!(res.status(), 404);
        let res = app.request(Method::GET, "/rest/v1.3/jpphp/nope/help").send().await.unwrap();
        assert_eq!(res.status(), 404);
    }

    async fn body_too_large_is_413(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let big = format!("siteurl=https://big.example&local_user=a&pad={}", "x".repeat(64 * 1024));
        let (status, body) = json(
            app.post("/rest/v1.3/jpphp/provision", &p.token)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(big)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let err = assert_error(status, &body, 413, "request_too_large");
        assert_eq!(err.message, "The request body is larger than 65536 bytes");
        assert_eq!(app.admin(&["activations"]).unwrap(), j!([]));
        // Just under the limit is fine.
        let ok = format!("siteurl=https://big.example&local_user=a&pad={}", "x".repeat(60 * 1024));
        let (status, body) = json(
            app.post("/rest/v1.3/jpphp/provision", &p.token)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(ok)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    async fn host_header_is_not_checked(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let res = app
            .post(VERIFY, &p.token)
            .header(reqwest::header::HOST, "public-api.wordpress.com")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}
