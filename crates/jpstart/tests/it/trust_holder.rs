//! Issue 12, findings 4 and 5 (SPEC §11, the holder rule): only a partner
//! that holds a live activation on a site (through any of its keys), or any
//! partner while no other partner holds one, changes the site's connection
//! (`force_connect`, `force_register`), its backup credentials and its
//! stored URL. Otherwise 403 `forbidden`, and nothing changes.

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row;

use crate::common::*;
use crate::rawdb;

const SITE: &str = "customer.example";
const URL: &str = "https://customer.example";

fn fields<'a>(siteurl: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![("siteurl", siteurl), ("local_user", "admin")];
    f.extend_from_slice(extra);
    f
}

/// A's customer's site: A's premium, connected (the owner approved).
async fn holders_site(app: &TestApp, a: &Partner) -> u64 {
    let (status, body) = app
        .provision(&a.token, &fields(URL, &[("plan", "premium")]))
        .await;
    assert_eq!(status, 200, "{body}");
    app.admin(&["site", "connect", SITE]).unwrap();
    assert!(connected(app, a, SITE).await);
    app.blog_id(SITE)
}

async fn connected(app: &TestApp, p: &Partner, site: &str) -> bool {
    let (status, st) = app.status(&p.token, site).await;
    assert_eq!(status, 200, "{st}");
    st["blog"]["is_connected"].as_bool().unwrap()
}

/// The site row as stored: registration counter, URL, connected flag.
async fn site_row(db: &Db, identifier: &str) -> (i64, String, i64) {
    let mut conn = rawdb::connect(db).await;
    let row = sqlx::query("SELECT registration, url, connected FROM sites WHERE identifier = $1")
        .bind(identifier)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    (
        row.get("registration"),
        row.get("url"),
        row.get("connected"),
    )
}

/// The sealed credentials of a site, by kind, as stored.
async fn sealed(db: &Db, blog_id: u64) -> Vec<(String, Vec<u8>)> {
    let mut conn = rawdb::connect(db).await;
    sqlx::query("SELECT kind, sealed FROM credentials WHERE blog_id = $1 ORDER BY kind")
        .bind(blog_id as i64)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("kind"), r.get("sealed")))
        .collect()
}

async fn post_creds(
    app: &TestApp,
    token: &str,
    blog_id: u64,
    kind: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let path = format!("/rest/v1.3/jpphp/{blog_id}/{kind}-credentials");
    json(app.post(&path, token).form(form).send().await.unwrap()).await
}

const ATTACKER_SSH: &[(&str, &str)] = &[
    ("ssh_user", "evil"),
    ("ssh_pass", "hunter2"),
    ("ssh_host", "attacker.example"),
];
const ATTACKER_FTP: &[(&str, &str)] = &[
    ("ftp_user", "evil"),
    ("ftp_pass", "hunter2"),
    ("ftp_host", "attacker.example"),
];

fn partner_activations(app: &TestApp, p: &Partner) -> Vec<Value> {
    let pid = p.partner_id.to_string();
    app.admin(&["activations", "--partner", &pid])
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

both_backends! {
    async fn another_partner_cannot_drop_the_holders_connection(db: Db) {
        let app = TestApp::spawn(db.share()).await;
        let a = app.partner("Host A").await;
        let b = app.partner("Host B").await;
        let blog_id = holders_site(&app, &a).await;
        let before = site_row(&db, SITE).await;
        for force in ["force_connect", "force_register"] {
            // Registration only, and with a product: the whole provision is refused.
            for plan in [None, Some("jetpack-backup-realtime")] {
                let mut extra = vec![(force, "1")];
                extra.extend(plan.map(|p| ("plan", p)));
                let (status, body) = app.provision(&b.token, &fields("https://customer.example/", &extra)).await;
                assert_error(status, &body, 403, "forbidden");
                assert!(body["message"].as_str().unwrap().starts_with("Another partner"), "{body}");
                let path = format!("/rest/v1.3/jpphp/{blog_id}/partner-provision");
                let mut json_body = serde_json::json!({ force: true });
                if let Some(p) = plan {
                    json_body["plan"] = p.into();
                }
                let (status, body) = json(app.post(&path, &b.token).json(&json_body).send().await.unwrap()).await;
                assert_error(status, &body, 403, "forbidden");
            }
        }
        assert!(connected(&app, &a, SITE).await, "A's site is still connected");
        assert_eq!(site_row(&db, SITE).await, before, "registration, URL and connection unchanged");
        assert!(partner_activations(&app, &b).is_empty(), "nothing was provisioned for B");

        // Positive control: the holder itself may drop its connection.
        let (status, body) = app.provision(&a.token, &fields(URL, &[("force_connect", "1")])).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["auth_required"], true, "{body}");
        assert!(!connected(&app, &a, SITE).await);
    }

    async fn another_partner_cannot_set_the_holders_backup_credentials(db: Db) {
        let app = TestApp::spawn(db.share()).await;
        let a = app.partner("Host A").await;
        let b = app.partner("Host B").await;
        let (status, body) = app.provision(&a.token, &fields(URL, &[
            ("plan", "premium"),
            ("ssh_user", "owner"), ("ssh_pass", "s3cret"),
            ("ftp_user", "owner"), ("ftp_pass", "s3cret"),
        ])).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["ssh_set"], true, "{body}");
        let blog_id = app.blog_id(SITE);
        let before = sealed(&db, blog_id).await;
        assert_eq!(before.len(), 2);

        // The endpoints, by blog id and by identifier.
        for site in [blog_id.to_string(), SITE.to_string()] {
            let path = |kind: &str| format!("/rest/v1.3/jpphp/{site}/{kind}-credentials");
            let (status, body) = json(app.post(&path("ssh"), &b.token).form(ATTACKER_SSH).send().await.unwrap()).await;
            assert_error(status, &body, 403, "forbidden");
            assert!(body["message"].as_str().unwrap().starts_with("Another partner"), "{body}");
            let (status, body) = json(app.post(&path("ftp"), &b.token).form(ATTACKER_FTP).send().await.unwrap()).await;
            assert_error(status, &body, 403, "forbidden");
        }
        // At provision: the provision (registration only) goes through, the
        // credentials are not stored, and the response says why.
        let mut extra = ATTACKER_SSH.to_vec();
        extra.extend_from_slice(ATTACKER_FTP);
        let (status, body) = app.provision(&b.token, &fields(URL, &extra)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["ssh_set"], false, "{body}");
        assert_eq!(body["ftp_set"], false, "{body}");
        assert!(body["ssh_error"].as_str().unwrap().starts_with("Another partner"), "{body}");
        assert_eq!(sealed(&db, blog_id).await, before, "stored credentials unchanged");

        // Positive control: the holder (through another of its keys) may.
        let a2 = app.key(a.partner_id, &[]).await;
        let (status, body) = post_creds(&app, &a2.token, blog_id, "ssh", &[("ssh_user", "new"), ("ssh_pass", "x"), ("ssh_host", "backup.customer.example")]).await;
        assert_eq!(status, 200, "{body}");
        let after = sealed(&db, blog_id).await;
        assert_ne!(after[1], before[1], "ssh credentials replaced");
        assert_eq!(after[0], before[0], "ftp credentials untouched");
    }

    async fn a_non_holders_product_provision_keeps_the_stored_url(db: Db) {
        let app = TestApp::spawn(db.share()).await;
        let a = app.partner("Host A").await;
        let b = app.partner("Host B").await;
        holders_site(&app, &a).await;
        let before = site_row(&db, SITE).await;
        // B asks only for a product (of another family): provisioned by the
        // usual rules, the stored URL stays A's.
        let (status, body) = app.provision(&b.token, &fields("http://CUSTOMER.example/", &[("plan", "jetpack-backup-realtime")])).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["next_url"], "http://CUSTOMER.example/wp-admin/admin.php?page=jetpack", "{body}");
        assert_eq!(site_row(&db, SITE).await, before);
        assert_eq!(partner_activations(&app, &b).len(), 1);
    }

    async fn anyone_may_change_a_site_no_other_partner_holds(db: Db) {
        let app = TestApp::spawn(db.share()).await;
        let a = app.partner("Host A").await;
        let b = app.partner("Host B").await;
        // A's activation ended: A no longer holds the site.
        holders_site(&app, &a).await;
        let (status, body) = app.cancel(&a.token, SITE, &[]).await;
        assert_eq!(status, 200, "{body}");
        let blog_id = app.blog_id(SITE);
        let (status, body) = post_creds(&app, &b.token, blog_id, "ssh", ATTACKER_SSH).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = app.provision(&b.token, &fields(URL, &[("force_register", "1")])).await;
        assert_eq!(status, 200, "{body}");
        assert!(!connected(&app, &b, SITE).await);

        // An operator-granted product makes no partner a holder.
        app.admin(&["site", "grant", "https://granted.example", "--product", "premium"]).unwrap();
        app.admin(&["site", "connect", "granted.example"]).unwrap();
        let (status, body) = app.provision(&b.token, &fields("https://granted.example", &[("force_connect", "1")])).await;
        assert_eq!(status, 200, "{body}");
        assert!(!connected(&app, &b, "granted.example").await);

        // Both hold one: each may.
        let (status, body) = app.provision(&a.token, &fields("https://shared.example", &[("plan", "premium")])).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = app.provision(&b.token, &fields("https://shared.example", &[("plan", "jetpack-backup-realtime")])).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = app.provision(&b.token, &fields("https://shared.example", &[("force_connect", "1")])).await;
        assert_eq!(status, 200, "{body}");
        let shared = app.blog_id("shared.example");
        let (status, body) = post_creds(&app, &b.token, shared, "ftp", ATTACKER_FTP).await;
        assert_eq!(status, 200, "{body}");
    }
}
