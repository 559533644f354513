//! Issue 17 (SPEC §3, §11): with status in one statement and fewer round
//! trips, still no cache: revoking a token or disabling a key takes effect
//! on the very next request, on every server. Two servers on one database;
//! the token is first used on server B (so that any cache there would hold
//! it), the change is made through server A (its portal, its token
//! endpoint) or by the operator, and B's next status and provision with it
//! are refused, as is a burst of them, and the provision changes nothing.
//!
//! scale_out.rs (PostgreSQL) covers the operator's revoke and disable for
//! status; trust_sub_keys.rs a disabled parent for verify and provision.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;
use crate::portal_auth::csrf_of;
use crate::portal_pages::signed_in;

const HELD: &str = "held.example";
/// The sub-key's site.
const SUB: &str = "held-sub.example";

async fn provision(app: &TestApp, token: &str, site: &str) -> (StatusCode, Value) {
    let url = format!("https://{site}");
    app.provision(
        token,
        &[
            ("siteurl", &url),
            ("local_user", "admin"),
            ("plan", "jetpack-scan"),
        ],
    )
    .await
}

/// Uses the token on `app` for status and provision (a retry: its key
/// holds `site`, see [`holds`]).
async fn warm(app: &TestApp, token: &str, site: &str) {
    for _ in 0..3 {
        let (s, body) = app.status(token, site).await;
        assert_eq!(s, 200, "{body}");
    }
    let (s, body) = provision(app, token, site).await;
    assert_eq!(s, 200, "{body}");
}

/// The very next status (of `site`, which exists) and provision with
/// `token` on each server (`first` first) are refused with this error, also
/// when sent at once; no site was registered for them.
async fn refused(
    first: &TestApp,
    then: &TestApp,
    token: &str,
    site: &str,
    status: u16,
    code: &str,
) {
    for app in [first, then] {
        let (s, body) = app.status(token, site).await;
        assert_error(s, &body, status, code);
        let (s, body) = provision(app, token, "after.example").await;
        assert_error(s, &body, status, code);
        let answers = join_all((0..8).map(|i| async move {
            if i % 2 == 0 {
                app.status(token, site).await
            } else {
                provision(app, token, &format!("after{i}.example")).await
            }
        }))
        .await;
        for (s, body) in answers {
            assert_error(s, &body, status, code);
        }
    }
    let listed = first.admin(&["site", "show", "after.example"]);
    assert!(
        listed.is_err(),
        "a refused provision registered a site: {listed:?}"
    );
}

/// Two servers on one database.
async fn two(db: Db) -> (TestApp, TestApp) {
    let second = db.share();
    let a = TestApp::spawn(db).await;
    let b = TestApp::spawn(second).await;
    (a, b)
}

/// The token's key provisions `site`.
async fn holds(app: &TestApp, token: &str, site: &str) {
    let (s, body) = provision(app, token, site).await;
    assert_eq!(s, 200, "{body}");
}

both_backends! {
    async fn a_revoked_token_is_refused_by_the_next_request_on_every_server(db: Db) {
        let (a, b) = two(db).await;
        let p = a.partner("Revoked").await;
        holds(&a, &p.token, HELD).await;
        let second = a.token(&p.client_id, &p.client_secret).await;
        let third = a.token(&p.client_id, &p.client_secret).await;
        for token in [&p.token, &second, &third] {
            warm(&b, token, HELD).await;
        }
        // One token: that one refused, the key's others still work.
        a.admin(&["token", "revoke", "--token", &p.token]).unwrap();
        refused(&b, &a, &p.token, HELD, 403, "invalid_token").await;
        warm(&b, &second, HELD).await;
        // Every token of the key.
        a.admin(&["token", "revoke", "--key", &p.key_id.to_string()]).unwrap();
        for token in [&second, &third] {
            refused(&b, &a, token, HELD, 403, "invalid_token").await;
        }
        // A new token works at once (nothing negative is cached either).
        let fresh = a.token(&p.client_id, &p.client_secret).await;
        warm(&b, &fresh, HELD).await;
    }

    /// The token cap (SPEC §11) revokes the least recently used token when
    /// server A mints one too many; server B refuses it from then on.
    async fn a_token_the_cap_revokes_through_one_server_is_refused_on_the_other(db: Db) {
        let opts = || Opts::default().arg("--tokens-per-key").arg("2");
        let second = db.share();
        let a = TestApp::spawn_with(db, opts()).await;
        let b = TestApp::spawn_with(second, opts()).await;
        let p = a.partner("Capped").await;
        holds(&a, &p.token, HELD).await;
        warm(&b, &p.token, HELD).await;
        let newer = a.token(&p.client_id, &p.client_secret).await;
        let newest = a.token(&p.client_id, &p.client_secret).await;
        refused(&b, &a, &p.token, HELD, 403, "invalid_token").await;
        warm(&b, &newer, HELD).await;
        warm(&b, &newest, HELD).await;
    }

    /// Through server A's portal: rotating a secret revokes the key's
    /// tokens; disabling a key disables its sub-keys; enabling restores
    /// both at the next request; a sub-key disabled alone leaves its parent.
    async fn portal_changes_on_one_server_hold_on_the_next_request_on_the_other(db: Db) {
        let (a, b) = two(db).await;
        let mut s = signed_in(&a, "Portal host", "ops@portal.example").await;
        let p = s.partner.clone();
        holds(&a, &p.token, HELD).await;
        let sub = crate::reporting::sub_key(&a, &p).await;
        holds(&a, &sub.token, SUB).await;
        let page = s.agent.get("/portal/keys").await;
        let csrf = csrf_of(&page.body).unwrap();
        let post = |key: u64, action: &str| format!("/portal/keys/{key}/{action}");

        warm(&b, &p.token, HELD).await;
        let rotated = s.agent.post(&post(p.key_id, "rotate"), &[("csrf_token", &csrf)]).await;
        assert_eq!(rotated.status, 200, "{}", rotated.body);
        refused(&b, &a, &p.token, HELD, 403, "invalid_token").await;
        let secret = crate::portal_pages::by_id(&rotated.body, "client-secret").unwrap();
        let token = a.token(&p.client_id, &secret).await;

        for (t, site) in [(&token, HELD), (&sub.token, SUB)] {
            warm(&b, t, site).await;
        }
        let off = s.agent.post(&post(p.key_id, "disable"), &[("csrf_token", &csrf)]).await;
        assert_eq!(off.status, 303, "{}", off.body);
        for t in [&token, &sub.token] {
            refused(&b, &a, t, HELD, 400, "partner_key_disabled").await;
        }
        let on = s.agent.post(&post(p.key_id, "enable"), &[("csrf_token", &csrf)]).await;
        assert_eq!(on.status, 303, "{}", on.body);
        for (t, site) in [(&token, HELD), (&sub.token, SUB)] {
            warm(&b, t, site).await;
        }
        let off = s.agent.post(&post(sub.key_id, "disable"), &[("csrf_token", &csrf)]).await;
        assert_eq!(off.status, 303, "{}", off.body);
        refused(&b, &a, &sub.token, SUB, 400, "partner_key_disabled").await;
        warm(&b, &token, HELD).await;
    }

    /// The operator disables a sub-key's parent: status too (the one-statement
    /// status must check the parent), not only provision.
    async fn a_disabled_parent_refuses_its_sub_keys_status_on_every_server(db: Db) {
        let (a, b) = two(db).await;
        let p = a.partner("Parent").await;
        let sub = crate::reporting::sub_key(&a, &p).await;
        holds(&a, &sub.token, SUB).await;
        warm(&b, &sub.token, SUB).await;
        a.admin(&["key", "disable", &p.key_id.to_string()]).unwrap();
        refused(&b, &a, &sub.token, SUB, 400, "partner_key_disabled").await;
        a.admin(&["key", "enable", &p.key_id.to_string()]).unwrap();
        warm(&b, &sub.token, SUB).await;
    }
}
