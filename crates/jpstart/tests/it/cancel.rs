//! Issue 4: `partner-cancel`, every example of the two seed documents
//! (`seeds/`: plan-cancellation, both versions) as a test (SPEC §5).

use jpstart_types::wire::{AdminActivation, CancelResponse, CancelledActivation, TokenResponse};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::lifecycle::*;

const CANCEL_MSG: &str =
    "Subscriptions can only be cancelled by the oAuth client that created them";

fn cancel_path(site: &str) -> String {
    format!("/rest/v1.3/jpphp/{site}/partner-cancel")
}

both_backends! {
    /// Both seeds' identifier tables: a site provisioned by URL is cancelled
    /// by its `::` identifier, and again by its blog id.
    async fn identifier_tables(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let table = [
            ("example.com", "example.com"),
            ("example.com/test", "example.com::test"),
            ("example.com/demo", "example.com::demo"),
            ("example.com/demo/wp", "example.com::demo::wp"),
        ];
        for (url, ident) in table {
            let blog = provision_ok(&app, &p.token, url, "premium").await;
            assert_eq!(states(&app, ident), [("premium".into(), "pending".into(), Some(p.key_id))]);
            let (status, body) = app.cancel(&p.token, ident, &[]).await;
            assert_eq!((status.as_u16(), body), (200, json!({"success": true})), "{url}");
            assert_eq!(states(&app, ident)[0].1, "cancelled", "{url}");

            let again = provision_ok(&app, &p.token, url, "premium").await;
            assert_eq!(again, blog, "{url}: the same site keeps its blog id");
            let (status, body) = app.cancel(&p.token, &blog.to_string(), &[]).await;
            assert_eq!((status.as_u16(), body), (200, json!({"success": true})), "{url}");
            let st = app.status_ok(&p.token, ident).await;
            assert_eq!(st.products, [], "{url}");
        }
        // Each URL is its own site: cancelling one left the others' rows alone.
        assert_eq!(app.activations(&[]).len(), 8);
    }

    /// The curl example: POST with only a bearer header and
    /// `cache-control: no-cache`, no body at all.
    async fn curl_example(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        provision_ok(&app, &p.token, "example.com", "personal").await;
        let send = || {
            app.request(Method::POST, &cancel_path("example.com"))
                .header("authorization", format!("Bearer {}", p.token))
                .header("cache-control", "no-cache")
                .send()
        };
        let res = send().await.unwrap();
        assert_eq!(res.headers()["content-type"], "application/json");
        let (status, text) = (res.status(), res.text().await.unwrap());
        assert_eq!((status.as_u16(), text.as_str()), (200, r#"{"success":true}"#));
        assert_eq!(states(&app, "example.com")[0].1, "cancelled");
        // A retry is harmless.
        let (status, text) = send_text(app.request(Method::POST, &cancel_path("example.com"))
            .header("authorization", format!("Bearer {}", p.token))
            .header("cache-control", "no-cache")).await;
        assert_eq!((status.as_u16(), text.as_str()), (200, r#"{"success":false}"#));
        // The older client's JSON body `{"site_id":N}` is ignored, not refused.
        let blog = provision_ok(&app, &p.token, "example.com", "personal").await;
        let (status, body) = json(app.post(&cancel_path(&blog.to_string()), &p.token)
            .json(&json!({"site_id": blog})).send().await.unwrap()).await;
        assert_eq!((status.as_u16(), body), (200, json!({"success": true})));
    }

    /// Each row of the seeds' error table (`invalid_input` has its own test
    /// in `cancel_faults`), plus `invalid_plan`.
    async fn error_table(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        let b = app.partner("Bravo").await;

        // 400 not_jps_plan: the operator granted the product.
        app.admin(&["site", "grant", "https://granted.example", "--product", "premium"]).unwrap();
        app.admin(&["site", "grant", "https://granted.example", "--product", "jetpack-backup-daily"]).unwrap();
        let (status, body) = app.cancel(&a.token, "granted.example", &[]).await;
        let err = assert_error(status, &body, 400, "not_jps_plan");
        assert_eq!(err.message, "The plan for this site was not provisioned by Jetpack Start");
        let (status, body) = app.cancel(&a.token, "granted.example", &[("plan", "jetpack-backup-daily")]).await;
        assert_error(status, &body, 400, "not_jps_plan");
        // cancel-all names only the caller's activations: nothing of the operator's.
        let (status, body) = app.cancel(&a.token, "granted.example", &[("cancel-all", "1")]).await;
        assert_eq!((status.as_u16(), body), (200, json!({"success": false, "pending_activations": [], "activations": []})));
        assert!(states(&app, "granted.example").iter().all(|s| s.1 == "active"));

        // 403 invalid_scope: a token of another scope.
        provision_ok(&app, &a.token, "scoped.example", "premium").await;
        let minted: TokenResponse = app.admin_as(&["token", "create", "--key", &a.key_id.to_string(), "--scope", "other"]);
        let (status, body) = app.cancel(&minted.access_token, "scoped.example", &[]).await;
        let err = assert_error(status, &body, 403, "invalid_scope");
        assert_eq!(err.message, "This token is not authorized to provision partner sites");
        assert_eq!(states(&app, "scoped.example")[0].1, "pending");

        // 403 invalid_blog, with the id in the message.
        let (status, body) = app.cancel(&a.token, "999999", &[]).await;
        let err = assert_error(status, &body, 403, "invalid_blog");
        assert_eq!(err.message, "The blog ID 999999 is invalid");

        // 403 incorrect_partner_key: another partner's activation, by
        // identifier and by blog id, with and without `plan`.
        let blog = provision_ok(&app, &a.token, "owned.example", "professional").await;
        for site in ["owned.example".to_string(), blog.to_string()] {
            for fields in [&[][..], &[("plan", "professional")][..]] {
                let (status, body) = app.cancel(&b.token, &site, fields).await;
                let err = assert_error(status, &body, 403, "incorrect_partner_key");
                assert_eq!(err.message, CANCEL_MSG);
            }
        }
        // Another key of the same partner is another OAuth client: refused too.
        let a2 = app.key(a.partner_id, &[]).await;
        let (status, body) = app.cancel(&a2.token, "owned.example", &[]).await;
        assert_error(status, &body, 403, "incorrect_partner_key");
        assert_eq!(states(&app, "owned.example")[0].1, "pending");

        // 400 invalid_plan for a slug not in the catalogue, whatever the site.
        for (site, all) in [("owned.example", "0"), ("unknown.example", "0"), ("999999", "0"), ("owned.example", "1")] {
            let (status, body) = app.cancel(&a.token, site, &[("plan", "gold"), ("cancel-all", all)]).await;
            let err = assert_error(status, &body, 400, "invalid_plan");
            assert_eq!(err.message, "gold is not a valid plan");
        }
        assert_eq!(states(&app, "owned.example")[0].1, "pending");

        // The authentication errors every endpoint shares (SPEC §3).
        let (status, body) = json(app.request(Method::POST, &cancel_path("owned.example")).send().await.unwrap()).await;
        assert_error(status, &body, 403, "authorization_required");
        let (status, body) = app.cancel("0123456789abcdef", "owned.example", &[]).await;
        assert_error(status, &body, 403, "invalid_token");
        app.admin(&["key", "disable", &a.key_id.to_string()]).unwrap();
        let (status, body) = app.cancel(&a.token, "owned.example", &[]).await;
        assert_error(status, &body, 400, "partner_key_disabled");
        assert_eq!(states(&app, "owned.example")[0].1, "pending");
        // Only POST: GET is 405 with Allow.
        let res = app.get(&cancel_path("owned.example"), &b.token).send().await.unwrap();
        assert_eq!(res.status(), 405);
        assert_eq!(res.headers()["allow"], "POST");
        // The endpoint's own documentation lists the seeds' five errors.
        let (status, help) = json(app.request(Method::GET, &format!("{}/help", cancel_path("owned.example")))
            .header("accept", "application/json").send().await.unwrap()).await;
        assert_eq!(status, 200, "{help}");
        let text = help.to_string();
        for code in ["invalid_input", "not_jps_plan", "invalid_scope", "invalid_blog", "incorrect_partner_key"] {
            assert!(text.contains(code), "{code} missing from {help}");
        }
    }

    /// `cancel-all`: the response's `activations` (active ones) and
    /// `pending_activations`, each element with product, activation id and
    /// created time; another key's activation on the same site stays live.
    async fn cancel_all_response(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        let b = app.partner("Bravo").await;
        let blog = provision_ok(&app, &a.token, "example.com/demo", "premium").await;
        app.admin(&["site", "connect", "example.com::demo"]).unwrap();
        // force_connect drops the connection: the next product waits (pending).
        provision_with(&app, &a.token, "example.com/demo", "jetpack-backup-realtime", &[("force_connect", "1")]).await;
        // Premium includes scan: the site cannot get it separately.
        let (s, body) = app.provision(&a.token, &[("siteurl", "https://example.com/demo"), ("local_user", "u"), ("plan", "jetpack-scan")]).await;
        assert_error(s, &body, 400, "product_already_included");
        // Bravo's site next door is not touched by Acme's cancel-all.
        provision_ok(&app, &b.token, "example.com/other", "jetpack-scan").await;
        let before = activations(&app, "example.com::demo");
        assert_eq!(before.len(), 2);
        assert_eq!((before[0].state.as_str(), before[1].state.as_str()), ("active", "pending"));

        let (status, body) = app.cancel(&a.token, "example.com::demo", &[("cancel-all", "true")]).await;
        assert_eq!(keys(&body), ["success", "pending_activations", "activations"]);
        let res: CancelResponse = ok(status, &body);
        let describe = |row: &AdminActivation| CancelledActivation {
            activation_id: row.id,
            product: row.product.clone(),
            blog_id: blog,
            site: "example.com::demo".into(),
            created: row.created_at.clone(),
            partner_tracking_id: None,
        };
        assert_eq!(res, CancelResponse {
            success: true,
            activations: Some(vec![describe(&before[0])]),
            pending_activations: Some(vec![describe(&before[1])]),
        });
        assert!(res.activations.unwrap()[0].created.ends_with('Z'));
        assert!(states(&app, "example.com::demo").iter().all(|s| s.1 == "cancelled"));
        assert_eq!(states(&app, "example.com::other")[0].1, "pending");
        // Retry: nothing left; both arrays still there, empty (seed 003:
        // added whenever cancel-all is set), in SPEC §5's exact bytes.
        let (status, text) = send_text(app.post(&cancel_path("example.com::demo"), &a.token)
            .form(&[("cancel-all", "1")])).await;
        assert_eq!((status.as_u16(), text.as_str()), (200, r#"{"success":false,"pending_activations":[],"activations":[]}"#));
        // Without cancel-all, still no arrays.
        let (status, body) = app.cancel(&a.token, "example.com::demo", &[]).await;
        assert_eq!((status.as_u16(), body), (200, json!({"success": false})));
    }

    /// `cancel-all` cancels the calling key's activations only.
    async fn cancel_all_only_calling_key(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        let b = app.partner("Bravo").await;
        let a2 = app.key(a.partner_id, &[]).await;
        provision_ok(&app, &a.token, "shared.example", "personal").await;
        provision_ok(&app, &b.token, "shared.example", "jetpack-scan").await;
        provision_ok(&app, &a2.token, "shared.example", "jetpack-backup-realtime").await;
        let res = app.cancel_ok(&a.token, "shared.example", &[("cancel-all", "1")]).await;
        assert_eq!(res.activations, Some(vec![]), "{res:?}");
        let pending: Vec<&str> = res.pending_activations.iter().flatten().map(|x| x.product.as_str()).collect();
        assert_eq!(pending, ["personal"]);
        assert_eq!(states(&app, "shared.example"), [
            ("personal".into(), "cancelled".into(), Some(a.key_id)),
            ("jetpack-scan".into(), "pending".into(), Some(b.key_id)),
            ("jetpack-backup-realtime".into(), "pending".into(), Some(a2.key_id)),
        ]);
        // `plan` is ignored beside cancel-all (all wins).
        let res = app.cancel_ok(&b.token, "shared.example", &[("cancel-all", "1"), ("plan", "premium")]).await;
        assert_eq!(res.pending_activations.unwrap()[0].product, "jetpack-scan");
        assert_eq!(states(&app, "shared.example")[2].1, "pending");
    }

    /// `plan` is optional for the plans family, required for anything else,
    /// and names exactly one product.
    async fn plan_parameter(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        provision_ok(&app, &p.token, "site.example", "personal").await;
        provision_ok(&app, &p.token, "site.example", "jetpack-scan").await;
        provision_ok(&app, &p.token, "site.example", "jetpack-backup-realtime").await;
        // Another tier of the live plan is not the live plan: nothing to cancel.
        let (status, body) = app.cancel(&p.token, "site.example", &[("plan", "premium")]).await;
        assert_eq!((status.as_u16(), body), (200, json!({"success": false})));
        // Standalone products need their slug: without it only the plan goes.
        let (status, body) = app.cancel(&p.token, "site.example", &[]).await;
        assert_eq!((status.as_u16(), body), (200, json!({"success": true})));
        let (status, body) = app.cancel(&p.token, "site.example", &[]).await;
        assert_eq!((status.as_u16(), body), (200, json!({"success": false})));
        let live = |app: &TestApp| states(app, "site.example").into_iter().filter(|s| s.1 == "pending").map(|s| s.0).collect::<Vec<_>>();
        assert_eq!(live(&app), ["jetpack-scan", "jetpack-backup-realtime"]);
        // The lower tier of the live backup is not it either.
        let (_, body) = app.cancel(&p.token, "site.example", &[("plan", "jetpack-backup-daily")]).await;
        assert_eq!(body, json!({"success": false}));
        let (_, body) = app.cancel(&p.token, "site.example", &[("plan", "jetpack-scan")]).await;
        assert_eq!(body, json!({"success": true}));
        assert_eq!(live(&app), ["jetpack-backup-realtime"]);
        // `plan` in a JSON body and in the query string work too.
        let (_, body) = json(app.post(&cancel_path("site.example"), &p.token)
            .json(&json!({"plan": "jetpack-backup-realtime"})).send().await.unwrap()).await;
        assert_eq!(body, json!({"success": true}));
        provision_ok(&app, &p.token, "site.example", "premium").await;
        let (_, body) = json(app.post(&format!("{}?plan=premium", cancel_path("site.example")), &p.token)
            .send().await.unwrap()).await;
        assert_eq!(body, json!({"success": true}));
        assert!(live(&app).is_empty());
    }

    /// `{"success":false}` for an unknown domain, nothing live, and an
    /// already cancelled activation; nothing changes.
    async fn nothing_to_cancel(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        for fields in [&[][..], &[("plan", "jetpack-scan")][..]] {
            let (status, body) = app.cancel(&p.token, "unknown.example::blog", fields).await;
            assert_eq!((status.as_u16(), body), (200, json!({"success": false})), "{fields:?}");
        }
        let (status, body) = app.cancel(&p.token, "unknown.example::blog", &[("cancel-all", "1")]).await;
        assert_eq!((status.as_u16(), body), (200, json!({"success": false, "pending_activations": [], "activations": []})));
        // A known site with nothing live: registered without a product.
        let (s, body) = app.provision(&p.token, &[("siteurl", "https://bare.example"), ("local_user", "u")]).await;
        assert_eq!(s, 200, "{body}");
        let blog = app.blog_id("bare.example").to_string();
        for site in ["bare.example", blog.as_str()] {
            let (status, body) = app.cancel(&p.token, site, &[]).await;
            assert_eq!((status.as_u16(), body), (200, json!({"success": false})));
            let (status, body) = app.cancel(&p.token, site, &[("cancel-all", "true")]).await;
            assert_eq!((status.as_u16(), body), (200, json!({"success": false, "pending_activations": [], "activations": []})), "{site}");
        }
        // Already cancelled, three times over.
        provision_ok(&app, &p.token, "bare.example", "jetpack-anti-spam").await;
        let (_, body) = app.cancel(&p.token, "bare.example", &[("plan", "jetpack-anti-spam")]).await;
        assert_eq!(body, json!({"success": true}));
        for _ in 0..3 {
            let (status, body) = app.cancel(&p.token, "bare.example", &[("plan", "jetpack-anti-spam")]).await;
            assert_eq!((status.as_u16(), body), (200, json!({"success": false})));
        }
        assert_eq!(states(&app, "bare.example"), [("jetpack-anti-spam".into(), "cancelled".into(), Some(p.key_id))]);
    }

    /// Pending (never connected), active on a connected site, and active on
    /// a site whose connection was dropped since.
    async fn any_connection_state(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        // Pending.
        provision_ok(&app, &p.token, "pending.example", "premium").await;
        assert!(app.status_ok(&p.token, "pending.example").await.products[0].is_pending);
        let (_, body) = app.cancel(&p.token, "pending.example", &[]).await;
        assert_eq!(body, json!({"success": true}));
        // Connected.
        provision_ok(&app, &p.token, "connected.example", "premium").await;
        app.admin(&["site", "connect", "connected.example"]).unwrap();
        let st = app.status_ok(&p.token, "connected.example").await;
        assert_eq!((st.blog.is_connected, st.products[0].is_pending), (true, false));
        let (_, body) = app.cancel(&p.token, "connected.example", &[]).await;
        assert_eq!(body, json!({"success": true}));
        // Disconnected: active, then the connection dropped by force_connect.
        provision_ok(&app, &p.token, "gone.example", "premium").await;
        app.admin(&["site", "connect", "gone.example"]).unwrap();
        provision_with(&app, &p.token, "gone.example", "premium", &[("force_connect", "1")]).await;
        let st = app.status_ok(&p.token, "gone.example").await;
        assert_eq!((st.blog.is_connected, st.products[0].is_pending), (false, false));
        let (_, body) = app.cancel(&p.token, "gone.example", &[]).await;
        assert_eq!(body, json!({"success": true}));
        for site in ["pending.example", "connected.example", "gone.example"] {
            assert_eq!(states(&app, site)[0].1, "cancelled", "{site}");
        }
    }

    /// `http_envelope=true` and `pretty=true` on the three endpoints, for a
    /// success and for an error.
    async fn envelope_and_pretty(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        provision_ok(&app, &p.token, "example.com", "premium").await;
        let endpoints = [
            (Method::POST, "/rest/v1.3/jpphp/{}/partner-cancel"),
            (Method::GET, "/rest/v1.4/jpphp/{}/status"),
            (Method::GET, "/rest/v1.3/jpphp/{}/status"),
            (Method::GET, "/rest/v1.3/jpphp/{}/upgrade-paths"),
        ];
        for (method, template) in endpoints {
            // Errors first, so the cancel's success comes last.
            let err_path = template.replace("{}", "999999");
            let (s, plain) = send_text(app.request(method.clone(), &err_path).bearer_auth(&p.token)).await;
            assert_eq!(s, 403, "{err_path}");
            let error: Value = serde_json::from_str(&plain).unwrap();
            assert_eq!(plain, serde_json::to_string(&error).unwrap(), "compact by default");
            assert!(!plain.contains('\n') && !plain.contains(": "));

            let (s, text) = send_text(app.request(method.clone(), &format!("{err_path}?http_envelope=true")).bearer_auth(&p.token)).await;
            assert_eq!(s, 200, "{err_path}");
            assert_eq!(text, serde_json::to_string(&json!({
                "code": 403,
                "headers": [{"name": "Content-Type", "value": "application/json"}],
                "body": error,
            })).unwrap());

            let (s, text) = send_text(app.request(method.clone(), &format!("{err_path}?pretty=true")).bearer_auth(&p.token)).await;
            assert_eq!(s, 403);
            assert!(text.starts_with("{\n    \"error\": \"invalid_blog\",\n"), "{text}");
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), error);

            let path = template.replace("{}", "example.com");
            let (s, plain) = send_text(app.request(method.clone(), &path).bearer_auth(&p.token)).await;
            assert_eq!(s, 200, "{path}: {plain}");
            let ok: Value = serde_json::from_str(&plain).unwrap();
            let (s, text) = send_text(app.request(method.clone(), &format!("{path}?pretty=true&http_envelope=true")).bearer_auth(&p.token)).await;
            assert_eq!(s, 200);
            assert!(text.contains("\n    \"code\": 200,\n"), "{text}");
            let v: Value = serde_json::from_str(&text).unwrap();
            if method == Method::POST {
                // The cancel itself happened once, inside the envelope.
                assert_eq!(ok, json!({"success": true}));
                assert_eq!(v["body"], json!({"success": false}));
            } else {
                assert_eq!(v["body"], ok);
            }
        }
    }
}

both_backends! {
    /// How real clients spell the site: any case in the host, a port (the
    /// Jetpack CLI keeps it), a trailing slash on the route, the URL itself.
    async fn site_spellings(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let spellings = [
            ("example.com/Demo", "EXAMPLE.com::Demo"),
            ("example.com:8080/wp", "example.com:8080::wp"),
            ("example.net/a/b", "https%3A%2F%2Fexample.net%2Fa%2Fb"),
        ];
        for (url, spelled) in spellings {
            provision_ok(&app, &p.token, url, "personal").await;
            let (status, text) = send_text(app.post(&cancel_path(spelled), &p.token)).await;
            assert_eq!((status.as_u16(), text.as_str()), (200, r#"{"success":true}"#), "{spelled}");
        }
        provision_ok(&app, &p.token, "example.org", "personal").await;
        for (path, want) in [("/rest/v1.3/jpphp/example.org/partner-cancel/", true), ("/rest/v1.4/jpphp/example.org/partner-cancel", false)] {
            let (status, text) = send_text(app.post(path, &p.token)).await;
            assert_eq!((status.as_u16(), text.as_str()), (200, if want { r#"{"success":true}"# } else { r#"{"success":false}"# }), "{path}");
        }
        // A path is case-sensitive: another site, nothing to cancel.
        provision_ok(&app, &p.token, "example.com/Demo", "personal").await;
        let (_, body) = app.cancel(&p.token, "example.com::demo", &[]).await;
        assert_eq!(body, json!({"success": false}));
        // Not an identifier at all.
        let (status, body) = app.cancel(&p.token, "bad%20host", &[]).await;
        assert_error(status, &body, 400, "invalid_site");
    }

    /// `cancel-all` as a JSON boolean, and its underscore spelling.
    async fn cancel_all_spellings(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        for body in [json!({"cancel-all": true}), json!({"cancel_all": "1"}), json!({"cancel-all": "TRUE"})] {
            provision_ok(&app, &p.token, "all.example", "jetpack-scan").await;
            let (status, res) = json(app.post(&cancel_path("all.example"), &p.token).json(&body).send().await.unwrap()).await;
            let typed: CancelResponse = ok(status, &res);
            assert_eq!(typed.pending_activations.unwrap()[0].product, "jetpack-scan", "{body}: {res}");
        }
        // Anything else is false: without `plan` only the plans family.
        provision_ok(&app, &p.token, "all.example", "jetpack-scan").await;
        let (_, res) = app.cancel(&p.token, "all.example", &[("cancel-all", "yes")]).await;
        assert_eq!(res, json!({"success": false}));
    }

    /// A pending activation whose time ran out is no longer live: nothing
    /// to cancel, and it stays `expired`.
    async fn expired_pending_is_not_cancelled(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let p = app.partner("Acme").await;
        provision_ok(&app, &p.token, "late.example", "premium").await;
        app.advance_clock("15d");
        let st = app.status_ok(&p.token, "late.example").await;
        assert!(st.products.is_empty(), "never expired: {st:?}");
        let (_, body) = app.cancel(&p.token, "late.example", &[]).await;
        assert_eq!(body, json!({"success": false}));
        assert_eq!(states(&app, "late.example")[0].1, "expired");
    }
}
