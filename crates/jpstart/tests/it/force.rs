//! Issue 3: `force_connect`, `force_register` (SPEC §5) and partner tracking ids.

use serde_json::Value;
use sqlx::Row;

use crate::authorize::{approve, assert_see_other};
use crate::common::*;
use crate::rawdb;

/// The site's registration counter, read from the database (the API does not show it).
async fn registration(db: &Db, identifier: &str) -> (i64, i64) {
    let mut conn = rawdb::connect(db).await;
    let row = sqlx::query("SELECT blog_id, registration FROM sites WHERE identifier = $1")
        .bind(identifier)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    (row.get("blog_id"), row.get("registration"))
}

/// A site with premium, connected (through `admin site connect`).
async fn connected_site(app: &TestApp, token: &str, siteurl: &str, site: &str) -> u64 {
    let (status, body) = app
        .provision(
            token,
            &[
                ("siteurl", siteurl),
                ("local_user", "admin"),
                ("plan", "premium"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.admin(&["site", "connect", site]).unwrap();
    let (_, st) = app.status(token, site).await;
    assert_eq!(st["blog"]["is_connected"], true, "{st}");
    app.blog_id(site)
}

fn product<'a>(st: &'a Value, slug: &str) -> &'a Value {
    st["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["slug"] == slug)
        .unwrap_or_else(|| panic!("{slug} not in {st}"))
}

both_backends! {
    async fn force_connect_drops_the_connection(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Host").await;
        let site = "force-connect.example";
        let blog_id = connected_site(&app, &p.token, "https://force-connect.example", site).await;
        // Without the flag a connected site needs no authorization.
        let (_, body) = app.provision(&p.token, &[("siteurl", "https://force-connect.example"), ("local_user", "admin"), ("plan", "jetpack-backup-realtime")]).await;
        assert_eq!(body["auth_required"], false, "{body}");

        let (status, body) = app
            .provision(&p.token, &[("siteurl", "https://force-connect.example"), ("local_user", "admin"), ("plan", "professional"), ("force_connect", "1")])
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["auth_required"], true, "{body}");
        assert_eq!(app.blog_id("force-connect.example"), blog_id);
        let link = body["next_url"].as_str().unwrap();
        assert!(link.contains("/authorize/"), "{body}");
        let (_, st) = app.status(&p.token, site).await;
        assert_eq!(st["blog"]["is_connected"], false, "{st}");
        assert_eq!(product(&st, "professional")["is_pending"], true, "{st}");
        // What was already active stays active.
        assert_eq!(product(&st, "jetpack-backup-realtime")["is_pending"], false, "{st}");
        assert_eq!(registration(&app.db, site).await, (blog_id as i64, 1));

        let res = approve(link, None).await;
        assert_see_other(&res, "https://force-connect.example/wp-admin/");
        let (_, st) = app.status(&p.token, site).await;
        assert_eq!(st["blog"]["is_connected"], true, "{st}");
        assert_eq!(product(&st, "professional")["is_pending"], false, "{st}");
    }

    async fn force_register_bumps_the_registration_and_keeps_the_blog_id(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Host").await;
        let site = "force-register.example::wp";
        let blog_id = connected_site(&app, &p.token, "https://force-register.example/wp", site).await;
        assert_eq!(registration(&app.db, site).await, (blog_id as i64, 1));

        // Same product again, with force_register ("true", as PHP clients send "1").
        for (n, flag) in [(2, "1"), (3, "true")] {
            let (status, body) = app
                .provision(&p.token, &[("siteurl", "https://force-register.example/wp/"), ("local_user", "admin"), ("plan", "premium"), ("force_register", flag)])
                .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["auth_required"], true, "{body}");
            assert_eq!(app.blog_id(site), blog_id, "the blog id is kept: {body}");
            assert_eq!(registration(&app.db, site).await, (blog_id as i64, n));
        }
        let (_, st) = app.status(&p.token, site).await;
        assert_eq!(st["blog"]["is_connected"], false, "{st}");
        // The same product stays one activation, still active.
        let list = app.admin(&["activations", "--site", site]).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["state"], "active", "{list}");
        // A false flag changes nothing.
        let (_, body) = app.provision(&p.token, &[("siteurl", "https://force-register.example/wp"), ("local_user", "admin"), ("plan", "premium"), ("force_register", "0")]).await;
        assert_eq!(body["auth_required"], true, "{body}");
        assert_eq!(registration(&app.db, site).await, (blog_id as i64, 3));
    }

    async fn partner_tracking_ids_are_stored(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Host").await;
        let fields = |url: &'static str| [("siteurl", url), ("local_user", "admin"), ("plan", "premium")];
        for (query, url) in [
            ("?partner_tracking_id=track-under%201", "https://t1.example"),
            ("?partner-tracking-id=track-dash", "https://t2.example"),
            ("", "https://t3.example"),
        ] {
            let (status, body) = json(
                app.post(&format!("/rest/v1.3/jpphp/provision{query}"), &p.token)
                    .multipart(multipart(&fields(url)))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
        let pid = p.partner_id.to_string();
        let list = app.admin(&["activations", "--partner", &pid]).unwrap();
        let by_site = |s: &str| list.as_array().unwrap().iter().find(|a| a["site"] == s).unwrap().clone();
        assert_eq!(by_site("t1.example")["partner_tracking_id"], "track-under 1");
        assert_eq!(by_site("t2.example")["partner_tracking_id"], "track-dash");
        assert!(by_site("t3.example")["partner_tracking_id"].is_null());
    }
}

fn multipart(fields: &[(&'static str, &'static str)]) -> reqwest::multipart::Form {
    fields
        .iter()
        .fold(reqwest::multipart::Form::new(), |f, (k, v)| f.text(*k, *v))
}
