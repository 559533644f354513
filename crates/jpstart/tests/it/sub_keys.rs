//! Issue 3: `POST /rest/v1.3/jpphp/partner-keys/new` — a reseller's sub-key.

use jpstart_types::wire::{AdminActivation, CancelResponse, PartnerKeyCreated, UpgradePaths};
use serde_json::Value;
use sqlx::Row;

use crate::common::*;
use crate::rawdb;

const NEW: &str = "/rest/v1.3/jpphp/partner-keys/new";

type Form<'a> = &'a [(&'a str, &'a str)];

/// Every product but `free`, in catalogue order: the limit keys of the response.
const LIMIT_KEYS: [&str; 7] = [
    "allowed_jetpack-backup-daily_plans",
    "allowed_jetpack-backup-realtime_plans",
    "allowed_personal_plans",
    "allowed_premium_plans",
    "allowed_professional_plans",
    "allowed_jetpack-scan_plans",
    "allowed_jetpack-anti-spam_plans",
];

async fn new_key(
    app: &TestApp,
    token: &str,
    form: &[(&str, &str)],
) -> (reqwest::StatusCode, String) {
    let res = app.post(NEW, token).form(form).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn provision(
    app: &TestApp,
    token: &str,
    site: &str,
    plan: &str,
) -> (reqwest::StatusCode, Value) {
    let url = format!("https://{site}");
    app.provision(
        token,
        &[("siteurl", &url), ("local_user", "admin"), ("plan", plan)],
    )
    .await
}

async fn key_rows(db: &Db) -> i64 {
    let mut conn = rawdb::connect(db).await;
    sqlx::query("SELECT COUNT(*) AS n FROM keys")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n")
}

both_backends! {
    async fn creates_a_sub_key_in_upstreams_shape(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Reseller").await;
        let (status, text) = new_key(&app, &p.token, &[("name", "My Key"), ("allowed_premium_plans", "2"), ("allowed_jetpack-scan_plans", "1")]).await;
        assert_eq!(status, 200, "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = vec!["id", "name"];
        want.extend(LIMIT_KEYS);
        want.extend(["notes", "client_id", "client_secret"]);
        assert_eq!(keys, want, "{text}");
        // Strict: encoding it again gives the same JSON, so each limit is a
        // string on the wire, as upstream sends it.
        let typed: PartnerKeyCreated = decode(&body);
        let id = typed.id;
        assert_eq!(typed.name, "My Key");
        assert_eq!(typed.limits.get("premium"), Some(&2));
        assert_eq!(typed.limits.get("jetpack-scan"), Some(&1));
        assert_eq!(typed.limits.get("personal"), Some(&0));
        assert_eq!(typed.notes, None);
        assert_eq!(typed.client_id, id.to_string());
        let secret = typed.client_secret.expose().to_string();
        assert_eq!(secret.len(), 64);
        assert!(text.starts_with(&format!("{{\"id\":{id},\"name\":\"My Key\",\"allowed_jetpack-backup-daily_plans\":\"0\",")), "{text}");

        // Its credentials work.
        let token = app.token(&id.to_string(), &secret).await;
        let (status, _) = json(app.post("/rest/v1.3/jpphp/partner-keys/verify", &token).send().await.unwrap()).await;
        assert_eq!(status, 200);

        // Only a digest of the secret is stored.
        let mut conn = rawdb::connect(&app.db).await;
        let row = sqlx::query("SELECT partner_id, parent_key_id, secret_hash FROM keys WHERE id = $1")
            .bind(id as i64)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let stored: Vec<u8> = row.get("secret_hash");
        assert_eq!(stored, jpstart_server::secrets::digest(&secret));
        assert_eq!(row.get::<i64, _>("partner_id"), p.partner_id as i64);
        assert_eq!(row.get::<Option<i64>, _>("parent_key_id"), Some(p.key_id as i64));
        drop(conn);
        for file in rawdb::sqlite_files(&app.db) {
            let bytes = std::fs::read(&file).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "secret in clear in {}", file.display());
        }
        // Nor is it logged.
        assert!(!app.logs().contains(&secret));
    }

    async fn sub_key_limits_are_exact(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Reseller").await;
        let other = app.partner("Someone else").await;
        let (_, text) = new_key(&app, &p.token, &[("name", "Sub"), ("allowed_premium_plans", "2")]).await;
        let created: PartnerKeyCreated = serde_json::from_str(&text).unwrap();
        let sub = app.token(&created.client_id, created.client_secret.expose()).await;

        for site in ["s1.example", "s2.example"] {
            let (status, body) = provision(&app, &sub, site, "premium").await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, body) = provision(&app, &sub, "s3.example", "premium").await;
        let err = assert_error(status, &body, 400, "activation_limit_reached");
        assert_eq!(err.message, "This key has reached its activation limit for product premium");
        // No limit given: 0.
        for plan in ["personal", "jetpack-scan"] {
            let (status, body) = provision(&app, &sub, "s4.example", plan).await;
            assert_error(status, &body, 400, "activation_limit_reached");
        }
        // A retry of a live one is still a success, creating nothing.
        let (status, _) = provision(&app, &sub, "s1.example", "premium").await;
        assert_eq!(status, 200);
        // Cancelling frees a slot.
        let (status, body) = app.cancel(&sub, "s1.example", &[]).await;
        assert!(ok::<CancelResponse>(status, &body).success, "{body}");
        let (status, body) = provision(&app, &sub, "s3.example", "premium").await;
        assert_eq!(status, 200, "{body}");
        // upgrade-paths offers the sub-key only what it may provision: its
        // two premium slots are taken (s2, s3), so nothing until one frees.
        let sub_paths = || async {
            let (status, body) = json(app.get("/rest/v1.3/jpphp/fresh.example/upgrade-paths", &sub).send().await.unwrap()).await;
            ok::<UpgradePaths>(status, &body)
        };
        let none: &[String] = &[];
        let paths = sub_paths().await;
        assert_eq!(paths.get("jetpack-plans").map(Vec::as_slice), Some(none), "{paths:?}");
        assert_eq!(paths.get("jetpack-scan").map(Vec::as_slice), Some(none), "{paths:?}");
        let (status, body) = app.cancel(&sub, "s3.example", &[]).await;
        assert_eq!(status, 200, "{body}");
        let paths = sub_paths().await;
        assert_eq!(paths.get("jetpack-plans"), Some(&vec!["premium".to_string()]), "{paths:?}");
        assert_eq!(paths.get("jetpack-scan").map(Vec::as_slice), Some(none), "{paths:?}");
        // The parent key is not restricted by its sub-key's limits.
        let (status, body) = provision(&app, &p.token, "parent.example", "personal").await;
        assert_eq!(status, 200, "{body}");
        provision(&app, &other.token, "other.example", "premium").await;

        // The sub-key's activations are the partner's.
        let pid = p.partner_id.to_string();
        let list = app.activations(&["--partner", &pid]);
        let mine: Vec<&AdminActivation> = list.iter().filter(|a| a.key_id == Some(created.id)).collect();
        let states: Vec<(&str, &str)> = mine.iter().map(|a| (a.site.as_str(), a.state.as_str())).collect();
        assert_eq!(states, [("s1.example", "cancelled"), ("s2.example", "pending"), ("s3.example", "cancelled")]);
        assert!(mine.iter().all(|a| a.partner_id == Some(p.partner_id)), "{list:?}");
        assert!(list.iter().any(|a| a.site == "parent.example"), "{list:?}");
        assert!(!list.iter().any(|a| a.site == "other.example"), "{list:?}");
    }

    async fn refusals(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Reseller").await;
        let before = key_rows(&app.db).await;
        let cases: &[(Form, u16, &str)] = &[
            (&[("allowed_premium_plans", "1")], 400, "invalid_key_name"),
            (&[("name", "  ")], 400, "invalid_key_name"),
            (&[("name", "K"), ("allowed_gold_plans", "1")], 400, "invalid_limit"),
            (&[("name", "K"), ("allowed_free_plans", "1")], 400, "invalid_limit"),
            (&[("name", "K"), ("allowed_premium", "1")], 400, "invalid_limit"),
            (&[("name", "K"), ("allowed_premium_plans", "lots")], 400, "invalid_limit"),
            (&[("name", "K"), ("allowed_premium_plans", "-3")], 400, "invalid_limit"),
        ];
        for (form, want_status, want_code) in cases {
            let (status, text) = new_key(&app, &p.token, form).await;
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_error(status, &body, *want_status, want_code);
        }
        let (status, text) = new_key(&app, &p.token, &[]).await;
        let want = "The required \"name\" argument is missing or longer than 200 characters.";
        let err = assert_error(status, &serde_json::from_str(&text).unwrap(), 400, "invalid_key_name");
        assert_eq!(err.message, want, "{status}");
        let long = "n".repeat(201);
        let (status, text) = new_key(&app, &p.token, &[("name", &long)]).await;
        let body: Value = serde_json::from_str(&text).unwrap();
        let err = assert_error(status, &body, 400, "invalid_key_name");
        assert_eq!(err.message, want);
        // No token: the auth errors.
        let res = app.request(reqwest::Method::POST, NEW).form(&[("name", "K")]).send().await.unwrap();
        let (status, body) = json(res).await;
        assert_error(status, &body, 403, "authorization_required");
        assert_eq!(key_rows(&app.db).await, before, "a refused request created a key");

        // A sub-key may not create keys.
        let (_, text) = new_key(&app, &p.token, &[("name", "Sub")]).await;
        let created: PartnerKeyCreated = serde_json::from_str(&text).unwrap();
        let sub = app.token(&created.client_id, created.client_secret.expose()).await;
        let (status, text) = new_key(&app, &sub, &[("name", "Sub-sub"), ("allowed_premium_plans", "1")]).await;
        assert_error(status, &serde_json::from_str(&text).unwrap(), 403, "forbidden");
        assert_eq!(key_rows(&app.db).await, before + 1);

        // A JSON body works as well; numbers become limits.
        let res = app.post(NEW, &p.token).json(&serde_json::json!({"name": "Json", "allowed_professional_plans": 5})).send().await.unwrap();
        let (status, body) = json(res).await;
        let created: PartnerKeyCreated = ok(status, &body);
        // Strict decode: the limit is the string "5" on the wire.
        assert_eq!(created.limits.get("professional"), Some(&5), "{body}");
    }
}
