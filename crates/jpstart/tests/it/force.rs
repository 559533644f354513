//! Issue 3: `force_connect`, `force_register` (SPEC §5) and partner tracking ids.

use jpstart_types::wire::{ProductStatusV14, ProvisionResponse, StatusV14};
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
    let st = app.status_ok(token, site).await;
    assert!(st.blog.is_connected, "{st:?}");
    app.blog_id(site)
}

fn product<'a>(st: &'a StatusV14, slug: &str) -> &'a ProductStatusV14 {
    st.products
        .iter()
        .find(|p| p.slug == slug)
        .unwrap_or_else(|| panic!("{slug} not in {st:?}"))
}

both_backends! {
    async fn force_connect_drops_the_connection(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Host").await;
        let site = "force-connect.example";
        let blog_id = connected_site(&app, &p.token, "https://force-connect.example", site).await;
        // Without the flag a connected site needs no authorization.
        let body = app.provision_ok(&p.token, &[("siteurl", "https://force-connect.example"), ("local_user", "admin"), ("plan", "jetpack-backup-realtime")]).await;
        assert!(!body.auth_required, "{body:?}");

        let body = app
            .provision_ok(&p.token, &[("siteurl", "https://force-connect.example"), ("local_user", "admin"), ("plan", "professional"), ("force_connect", "1")])
            .await;
        assert!(body.auth_required, "{body:?}");
        assert_eq!(app.blog_id("force-connect.example"), blog_id);
        let link = body.next_url.as_str();
        assert!(link.contains("/authorize/"), "{body:?}");
        let st = app.status_ok(&p.token, site).await;
        assert!(!st.blog.is_connected, "{st:?}");
        assert!(product(&st, "professional").is_pending, "{st:?}");
        // What was already active stays active.
        assert!(!product(&st, "jetpack-backup-realtime").is_pending, "{st:?}");
        assert_eq!(registration(&app.db, site).await, (blog_id as i64, 1));

        let res = approve(link, None).await;
        assert_see_other(&res, "https://force-connect.example/wp-admin/");
        let st = app.status_ok(&p.token, site).await;
        assert!(st.blog.is_connected, "{st:?}");
        assert!(!product(&st, "professional").is_pending, "{st:?}");
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
            assert!(ok::<ProvisionResponse>(status, &body).auth_required, "{body}");
            assert_eq!(app.blog_id(site), blog_id, "the blog id is kept: {body}");
            assert_eq!(registration(&app.db, site).await, (blog_id as i64, n));
        }
        let st = app.status_ok(&p.token, site).await;
        assert!(!st.blog.is_connected, "{st:?}");
        // The same product stays one activation, still active.
        let list = app.activations(&["--site", site]);
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(list[0].state, "active", "{list:?}");
        // A false flag changes nothing.
        let body = app.provision_ok(&p.token, &[("siteurl", "https://force-register.example/wp"), ("local_user", "admin"), ("plan", "premium"), ("force_register", "0")]).await;
        assert!(body.auth_required, "{body:?}");
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
        let list = app.activations(&["--partner", &pid]);
        let by_site = |s: &str| list.iter().find(|a| a.site == s).unwrap().partner_tracking_id.clone();
        assert_eq!(by_site("t1.example").as_deref(), Some("track-under 1"));
        assert_eq!(by_site("t2.example").as_deref(), Some("track-dash"));
        assert_eq!(by_site("t3.example"), None);
    }
}

fn multipart(fields: &[(&'static str, &'static str)]) -> reqwest::multipart::Form {
    fields
        .iter()
        .fold(reqwest::multipart::Form::new(), |f, (k, v)| f.text(*k, *v))
}
