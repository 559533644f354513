//! Issue 4: `status` (v1.4, and the deprecated v1.3 shape) and
//! `upgrade-paths` (SPEC §5). Responses are compared as whole texts, so key
//! order is checked too.

use jpstart_types::wire::TokenResponse;
use reqwest::Method;

use crate::common::*;
use crate::lifecycle::*;

/// The raw text of a GET with a token.
async fn text(app: &TestApp, path: &str, token: &str) -> String {
    let (status, text) = send_text(app.get(path, token)).await;
    assert_eq!(status, 200, "{path}: {text}");
    text
}

async fn v14(app: &TestApp, site: &str, token: &str) -> String {
    text(app, &format!("/rest/v1.4/jpphp/{site}/status"), token).await
}

async fn v13(app: &TestApp, site: &str, token: &str) -> String {
    text(app, &format!("/rest/v1.3/jpphp/{site}/status"), token).await
}

async fn paths(app: &TestApp, site: &str, token: &str) -> String {
    text(
        app,
        &format!("/rest/v1.3/jpphp/{site}/upgrade-paths"),
        token,
    )
    .await
}

const EVERYTHING: &str = r#"{"jetpack-backup":["jetpack-backup-daily","jetpack-backup-realtime"],"jetpack-plans":["personal","premium","professional"],"jetpack-scan":["jetpack-scan"],"jetpack-anti-spam":["jetpack-anti-spam"]}"#;

both_backends! {
    /// A plan and a standalone product from two partners, seen by each.
    async fn status_from_each_callers_point_of_view(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        let a2 = app.key(a.partner_id, &[]).await;
        let b = app.partner("Bravo").await;
        let blog = provision_ok(&app, &a.token, "shop.example", "premium").await;

        // Pending plan, site not connected.
        assert_eq!(v14(&app, "shop.example", &a.token).await,
            r#"{"blog":{"is_connected":false,"has_backups_credentials":false},"products":[{"slug":"premium","is_provisioned_by_partner":true,"is_provisioned_by_calling_partner":true,"is_pending":true}]}"#);
        assert_eq!(v13(&app, "shop.example", &a.token).await,
            r#"{"plan":"premium","is_partner_plan":true,"is_provisioned_by_calling_partner":true,"is_connected":false,"has_pending_plan":true,"has_backups_credentials":false,"products":[]}"#);

        // Connected; Bravo adds a standalone product.
        app.admin(&["site", "connect", "shop.example"]).unwrap();
        provision_ok(&app, &b.token, "shop.example", "jetpack-backup-realtime").await;
        let acme14 = r#"{"blog":{"is_connected":true,"has_backups_credentials":false},"products":[{"slug":"premium","is_provisioned_by_partner":true,"is_provisioned_by_calling_partner":true,"is_pending":false},{"slug":"jetpack-backup-realtime","is_provisioned_by_partner":true,"is_provisioned_by_calling_partner":false,"is_pending":false}]}"#;
        let bravo14 = r#"{"blog":{"is_connected":true,"has_backups_credentials":false},"products":[{"slug":"premium","is_provisioned_by_partner":true,"is_provisioned_by_calling_partner":false,"is_pending":false},{"slug":"jetpack-backup-realtime","is_provisioned_by_partner":true,"is_provisioned_by_calling_partner":true,"is_pending":false}]}"#;
        let acme13 = r#"{"plan":"premium","is_partner_plan":true,"is_provisioned_by_calling_partner":true,"is_connected":true,"has_pending_plan":false,"has_backups_credentials":false,"products":[{"product":"jetpack-backup-realtime","is_partner_product":true,"has_pending_product":false,"is_provisioned_by_calling_partner":false}]}"#;
        let bravo13 = r#"{"plan":"premium","is_partner_plan":true,"is_provisioned_by_calling_partner":false,"is_connected":true,"has_pending_plan":false,"has_backups_credentials":false,"products":[{"product":"jetpack-backup-realtime","is_partner_product":true,"has_pending_product":false,"is_provisioned_by_calling_partner":true}]}"#;
        for site in ["shop.example".to_string(), blog.to_string()] {
            assert_eq!(v14(&app, &site, &a.token).await, acme14);
            // Another key of the same partner: still the calling partner.
            assert_eq!(v14(&app, &site, &a2.token).await, acme14);
            assert_eq!(v14(&app, &site, &b.token).await, bravo14);
            assert_eq!(v13(&app, &site, &a.token).await, acme13);
            assert_eq!(v13(&app, &site, &b.token).await, bravo13);
            // v1.2 (the older status document) answers the deprecated shape.
            assert_eq!(text(&app, &format!("/rest/v1.2/jpphp/{site}/status"), &b.token).await, bravo13);
        }

        // Cancelled products disappear; the connection stays.
        app.cancel(&a.token, "shop.example", &[]).await;
        assert_eq!(v13(&app, "shop.example", &a.token).await,
            r#"{"plan":"","is_partner_plan":false,"is_provisioned_by_calling_partner":false,"is_connected":true,"has_pending_plan":false,"has_backups_credentials":false,"products":[{"product":"jetpack-backup-realtime","is_partner_product":true,"has_pending_product":false,"is_provisioned_by_calling_partner":false}]}"#);
    }

    /// A product the operator granted is not provisioned by any partner.
    async fn status_of_an_operator_grant(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        app.admin(&["site", "grant", "https://granted.example/blog", "--product", "professional"]).unwrap();
        assert_eq!(v14(&app, "granted.example::blog", &a.token).await,
            r#"{"blog":{"is_connected":false,"has_backups_credentials":false},"products":[{"slug":"professional","is_provisioned_by_partner":false,"is_provisioned_by_calling_partner":false,"is_pending":false}]}"#);
        assert_eq!(v13(&app, "granted.example::blog", &a.token).await,
            r#"{"plan":"professional","is_partner_plan":false,"is_provisioned_by_calling_partner":false,"is_connected":false,"has_pending_plan":false,"has_backups_credentials":false,"products":[]}"#);
        // A granted standalone product beside a partner's pending plan.
        app.admin(&["site", "grant", "https://mixed.example", "--product", "jetpack-scan"]).unwrap();
        provision_ok(&app, &a.token, "mixed.example", "personal").await;
        assert_eq!(v13(&app, "mixed.example", &a.token).await,
            r#"{"plan":"personal","is_partner_plan":true,"is_provisioned_by_calling_partner":true,"is_connected":false,"has_pending_plan":true,"has_backups_credentials":false,"products":[{"product":"jetpack-scan","is_partner_product":false,"has_pending_product":false,"is_provisioned_by_calling_partner":false}]}"#);
        assert_eq!(v14(&app, "mixed.example", &a.token).await,
            r#"{"blog":{"is_connected":false,"has_backups_credentials":false},"products":[{"slug":"jetpack-scan","is_provisioned_by_partner":false,"is_provisioned_by_calling_partner":false,"is_pending":false},{"slug":"personal","is_provisioned_by_partner":true,"is_provisioned_by_calling_partner":true,"is_pending":true}]}"#);
    }

    async fn status_errors(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        provision_ok(&app, &a.token, "known.example", "personal").await;
        for version in ["1.4", "1.3"] {
            let (s, body) = call(&app, Method::GET, &format!("/rest/v{version}/jpphp/999999/status"), &a.token).await;
            let err = assert_error(s, &body, 403, "invalid_blog");
            assert_eq!(err.message, "The blog ID 999999 is invalid");
            let (s, body) = call(&app, Method::GET, &format!("/rest/v{version}/jpphp/unknown.example::x/status"), &a.token).await;
            let err = assert_error(s, &body, 403, "invalid_blog");
            assert_eq!(err.message, "The blog ID unknown.example::x is invalid");
        }
        let minted: TokenResponse = app.admin_as(&["token", "create", "--key", &a.key_id.to_string(), "--scope", "other"]);
        let other_scope = minted.access_token.as_str();
        for version in ["1.4", "1.3"] {
            let (s, body) = call(&app, Method::GET, &format!("/rest/v{version}/jpphp/known.example/status"), other_scope).await;
            let err = assert_error(s, &body, 403, "invalid_scope");
            assert_eq!(err.message, "This token is not authorized to provision partner sites");
        }
        app.admin(&["key", "disable", &a.key_id.to_string()]).unwrap();
        for version in ["1.4", "1.3"] {
            let (s, body) = call(&app, Method::GET, &format!("/rest/v{version}/jpphp/known.example/status"), &a.token).await;
            let err = assert_error(s, &body, 400, "partner_key_disabled");
            assert_eq!(err.message, "This key is disabled.");
        }
    }

    /// The issue's upgrade paths: fresh site, after premium, after cancel.
    async fn upgrade_paths_follow_the_provision_rules(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        let b = app.partner("Bravo").await;
        // Unknown site: every slug but `free`, in the catalogue's order.
        assert_eq!(paths(&app, "fresh.example", &a.token).await, EVERYTHING);
        let blog = provision_ok(&app, &a.token, "fresh.example", "premium").await.to_string();
        let after_premium = r#"{"jetpack-backup":["jetpack-backup-realtime"],"jetpack-plans":["professional"],"jetpack-scan":[],"jetpack-anti-spam":[]}"#;
        assert_eq!(paths(&app, "fresh.example", &a.token).await, after_premium);
        assert_eq!(paths(&app, &blog, &a.token).await, after_premium);
        // Bravo may not upgrade Acme's plan (the provision would be refused).
        assert_eq!(paths(&app, "fresh.example", &b.token).await,
            r#"{"jetpack-backup":["jetpack-backup-realtime"],"jetpack-plans":[],"jetpack-scan":[],"jetpack-anti-spam":[]}"#);
        let (s, body) = app.provision(&b.token, &[("siteurl", "https://fresh.example"), ("local_user", "u"), ("plan", "professional")]).await;
        assert_error(s, &body, 400, "product_owned_by_another_partner");
        // Every slug offered is provisionable, every other one is refused.
        let (s, body) = app.provision(&a.token, &[("siteurl", "https://fresh.example"), ("local_user", "u"), ("plan", "personal")]).await;
        assert_error(s, &body, 400, "plan_downgrade_disallowed");
        // POST with the upstream example's form fields answers the same.
        let (s, text) = send_text(app.post("/rest/v1.3/jpphp/fresh.example/upgrade-paths", &a.token)
            .form(&[("plan", "premium"), ("siteurl", "https://fresh.example"), ("local_user", "u")])).await;
        assert_eq!((s.as_u16(), text.as_str()), (200, after_premium));
        // After cancel: everything again.
        app.cancel(&a.token, &blog, &[]).await;
        assert_eq!(paths(&app, "fresh.example", &a.token).await, EVERYTHING);
        assert_eq!(paths(&app, &blog, &b.token).await, EVERYTHING);
        // `free` is never offered, and a site on `free` may go anywhere up.
        provision_ok(&app, &a.token, "fresh.example", "free").await;
        assert_eq!(paths(&app, "fresh.example", &a.token).await, EVERYTHING);
        provision_ok(&app, &a.token, "fresh.example", "professional").await;
        assert_eq!(paths(&app, "fresh.example", &a.token).await,
            r#"{"jetpack-backup":[],"jetpack-plans":[],"jetpack-scan":[],"jetpack-anti-spam":[]}"#);
        // Errors.
        let (s, body) = upgrade_paths(&app, &a.token, "999999").await;
        let err = assert_error(s, &body, 403, "invalid_blog");
        assert_eq!(err.message, "The blog ID 999999 is invalid");
        let (s, body) = json(app.request(Method::GET, "/rest/v1.3/jpphp/fresh.example/upgrade-paths").send().await.unwrap()).await;
        assert_error(s, &body, 403, "authorization_required");
    }

    /// A per-key limit that live activations fill takes the product off the
    /// paths, as provisioning it would answer `activation_limit_reached`.
    async fn upgrade_paths_honour_per_key_limits(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let k = app.key(p.partner_id, &["--limit", "premium=2"]).await;
        let with_premium = r#"{"jetpack-backup":["jetpack-backup-daily","jetpack-backup-realtime"],"jetpack-plans":["personal","premium","professional"],"jetpack-scan":["jetpack-scan"],"jetpack-anti-spam":["jetpack-anti-spam"]}"#;
        let without = r#"{"jetpack-backup":["jetpack-backup-daily","jetpack-backup-realtime"],"jetpack-plans":["personal","professional"],"jetpack-scan":["jetpack-scan"],"jetpack-anti-spam":["jetpack-anti-spam"]}"#;
        assert_eq!(paths(&app, "fresh.example", &k.token).await, with_premium);
        provision_ok(&app, &k.token, "s1.example", "premium").await;
        assert_eq!(paths(&app, "fresh.example", &k.token).await, with_premium);
        let blog = provision_ok(&app, &k.token, "s2.example", "premium").await;
        assert_eq!(paths(&app, "fresh.example", &k.token).await, without);
        let (s, body) = app.provision(&k.token, &[("siteurl", "https://fresh.example"), ("local_user", "u"), ("plan", "premium")]).await;
        assert_error(s, &body, 400, "activation_limit_reached");
        // Another key of the partner is not limited by this one's count.
        assert_eq!(paths(&app, "fresh.example", &p.token).await, EVERYTHING);
        // Cancelling frees a slot, and the path comes back.
        app.cancel(&k.token, &blog.to_string(), &[]).await;
        assert_eq!(paths(&app, "fresh.example", &k.token).await, with_premium);
    }
}
