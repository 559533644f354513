//! Issue 3: pending activations expire after `--pending-ttl` (default 14
//! days), seen by moving the test clock past it rather than by waiting.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::authorize::{approve, page, pending};
use crate::common::*;

/// Polls `check` until it returns `Some`, failing after a deadline (for
/// what a background task does, such as the expiry sweep, not for business
/// time: move the test clock for that).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn rows(v: Value) -> Vec<Value> {
    v.as_array().unwrap().clone()
}

both_backends! {
    async fn pending_activations_expire(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let owner = app.partner("Host").await;
        let key = app.key(owner.partner_id, &["--limit", "premium=1"]).await;
        let site = "expiry.example";

        let link = pending(&app, &key.token, "https://expiry.example", "premium").await;
        // Inside its 14 days: live, and counted by upgrade-paths.
        let (_, st) = app.status(&key.token, site).await;
        assert_eq!(st["products"][0]["is_pending"], true, "{st}");
        let paths = json(app.get(&format!("/rest/v1.3/jpphp/{site}/upgrade-paths"), &key.token).send().await.unwrap()).await.1;
        assert_eq!(paths["jetpack-plans"], serde_json::json!(["professional"]), "{paths}");
        // A day short of the TTL it still is.
        app.advance_clock("13d");
        let (_, st) = app.status(&key.token, site).await;
        assert_eq!(st["products"][0]["is_pending"], true, "{st}");

        // Past the TTL, status stops listing it at once.
        app.advance_clock("2d");
        let (_, st) = app.status(&key.token, site).await;
        assert_eq!(st["products"], serde_json::json!([]), "{st}");
        assert_eq!(st["blog"]["is_connected"], false);

        // The operator sees it expired (once the sweep has run), with the
        // time it ended.
        let expired = eventually("admin activations shows it expired", || async {
            let list = rows(app.admin(&["activations", "--site", site]).unwrap());
            (list.len() == 1 && list[0]["state"] == "expired").then(|| list[0].clone())
        })
        .await;
        assert!(expired["ended_at"].is_string(), "{expired}");
        assert!(expired["activated_at"].is_null(), "{expired}");

        // upgrade-paths ignores it.
        let (status, paths) = json(app.get(&format!("/rest/v1.3/jpphp/{site}/upgrade-paths"), &key.token).send().await.unwrap()).await;
        assert_eq!(status, 200, "{paths}");
        assert_eq!(paths["jetpack-plans"], serde_json::json!(["personal", "premium", "professional"]), "{paths}");

        // The limit (premium=1) ignores it: another site may have premium.
        let (status, body) = app.provision(&key.token, &[("siteurl", "https://other.example"), ("local_user", "admin"), ("plan", "premium")]).await;
        assert_eq!(status, 200, "{body}");

        // Its link is refused, and nothing changes.
        let (status, _, html) = page(app.client.get(&link).send().await.unwrap()).await;
        assert_eq!(status, 410, "{html}");
        assert!(html.contains("expired"), "{html}");
        let (status, _, _) = page(approve(&link, None).await).await;
        assert_eq!(status, 410);
        let (_, st) = app.status(&key.token, site).await;
        assert_eq!(st["blog"]["is_connected"], false, "{st}");

        // The same product by the same key again: a new activation (once the
        // other site's premium has expired too, so the limit allows it).
        let (status, body) = app.provision(&key.token, &[("siteurl", "https://expiry.example"), ("local_user", "admin"), ("plan", "premium")]).await;
        // (not yet: the limit still counts the other site)
        assert_error(status, &body, 400, "activation_limit_reached");
        app.advance_clock("15d");
        eventually("the other site's premium expires", || async {
            let list = rows(app.admin(&["activations", "--site", "other.example"]).unwrap());
            (list[0]["state"] == "expired").then_some(())
        })
        .await;
        let (status, body) = app.provision(&key.token, &[("siteurl", "https://expiry.example"), ("local_user", "admin"), ("plan", "premium")]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["auth_required"], true, "{body}");
        let list = rows(app.admin(&["activations", "--site", site]).unwrap());
        assert_eq!(list.len(), 2, "{list:?}");
        assert_eq!(list[0]["id"], expired["id"]);
        assert_eq!(list[0]["state"], "expired");
        assert_ne!(list[1]["id"], expired["id"]);
        // Fresh: its 14 days start now.
        assert_eq!(list[1]["state"], "pending", "{list:?}");
    }
}
