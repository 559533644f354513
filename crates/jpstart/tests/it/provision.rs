//! Issue 3: the provision rules of SPEC §5, in order, over HTTP, with every
//! documented error (status, `error`, `message`).

use reqwest::Method;
use serde_json::Value;

use jpstart_types::wire::{ErrorBody, ProvisionResponse, TokenResponse};

use crate::common::*;

/// `(product, state)` of every activation of a site, per `admin activations`.
fn activations(app: &TestApp, site: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = app
        .activations(&["--site", site])
        .into_iter()
        .map(|a| (a.product, a.state))
        .collect();
    out.sort();
    out
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = v
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    out.sort();
    out
}

fn assert_message(body: &Value, want: &str) {
    let err: ErrorBody = decode(body);
    assert_eq!(err.message, want, "{body}");
    assert_eq!(err.error_message, want, "{body}");
}

both_backends! {
    async fn required_parameters_in_order(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let t = &p.token;

        // siteurl is checked first, then local_user, then plan.
        for fields in [
            vec![],
            vec![("local_user", "admin"), ("plan", "premium")],
            vec![("siteurl", ""), ("local_user", "admin")],
            vec![("siteurl", "   "), ("plan", "nonsense")],
        ] {
            let (status, body) = app.provision(t, &fields).await;
            assert_error(status, &body, 400, "invalid_siteurl");
            assert_message(&body, "The required \"siteurl\" argument is missing.");
        }
        for bad in ["https://", "http://exa mple.com", "https:///path-only"] {
            let (status, body) = app.provision(t, &[("siteurl", bad), ("local_user", "admin")]).await;
            let msg = assert_error(status, &body, 400, "invalid_siteurl").message;
            assert!(msg.starts_with("The \"siteurl\" argument is not a site URL"), "{bad}: {msg}");
        }
        for fields in [
            vec![("siteurl", "https://example.org")],
            vec![("siteurl", "https://example.org"), ("local_user", ""), ("plan", "nonsense")],
            vec![("siteurl", "https://example.org"), ("local_username", " ")],
        ] {
            let (status, body) = app.provision(t, &fields).await;
            assert_error(status, &body, 400, "invalid_local_user");
            assert_message(&body, "The required \"local_user\" argument is missing.");
        }
        let (status, body) = app
            .provision(t, &[("siteurl", "https://example.org"), ("local_user", "admin"), ("plan", "nonsense")])
            .await;
        assert_error(status, &body, 400, "invalid_plan");
        assert_message(&body, "nonsense is not a valid plan");
        // A refusal registers nothing.
        let (status, body) = app.status(t, "example.org").await;
        assert_error(status, &body, 403, "invalid_blog");

        // The older name `local_username` (the 2018-19 scripts) is accepted.
        let (status, body) = app
            .provision(t, &[("siteurl", "https://example.org/"), ("local_username", "admin"), ("plan", "premium")])
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(activations(&app, "example.org"), pairs(&[("premium", "pending")]));
    }

    async fn no_plan_registers_without_product(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let (status, body) = app
            .provision(&p.token, &[("siteurl", "https://bare.example/blog"), ("local_user", "admin")])
            .await;
        assert_eq!(keys(&body), ["success", "auth_required", "next_url"]);
        let res: ProvisionResponse = ok(status, &body);
        assert!(res.success && res.auth_required, "{body}");
        let blog = app.blog_id("bare.example::blog");
        assert!(blog > 0);
        for site in [blog.to_string(), "bare.example::blog".to_string()] {
            let st = app.status_ok(&p.token, &site).await;
            assert!(!st.blog.is_connected, "{st:?}");
            assert_eq!(st.products, []);
        }
        assert!(activations(&app, "bare.example::blog").is_empty());
        // Registering again keeps the blog id.
        let again = app
            .provision_ok(&p.token, &[("siteurl", "http://BARE.example/blog/"), ("local_user", "admin")])
            .await;
        assert!(again.success, "{again:?}");
        assert_eq!(app.blog_id("bare.example::blog"), blog);
    }

    async fn identical_repeats_create_one_activation(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let fields = [("siteurl", "https://retry.example"), ("local_user", "admin"), ("plan", "premium")];
        let mut blogs = Vec::new();
        for _ in 0..3 {
            let res = app.provision_ok(&p.token, &fields).await;
            assert!(res.auth_required, "{res:?}");
            blogs.push(app.blog_id("retry.example"));
        }
        assert!(blogs.iter().all(|b| *b == blogs[0]), "{blogs:?}");
        assert_eq!(activations(&app, "retry.example"), pairs(&[("premium", "pending")]));
        let status = app.status_ok(&p.token, "retry.example").await;
        assert_eq!(status.products.len(), 1, "{status:?}");
        assert!(status.products[0].is_pending, "{status:?}");
    }

    async fn upgrade_supersedes_and_downgrade_is_refused(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let site = "https://up.example";
        let prov = |plan: &'static str| {
            let token = p.token.clone();
            let app = &app;
            async move { app.provision(&token, &[("siteurl", site), ("local_user", "admin"), ("plan", plan)]).await }
        };
        let (status, body) = prov("premium").await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = prov("professional").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            activations(&app, "up.example"),
            pairs(&[("premium", "superseded"), ("professional", "pending")])
        );
        for lower in ["premium", "personal", "free"] {
            let (status, body) = prov(lower).await;
            assert_error(status, &body, 400, "plan_downgrade_disallowed");
            assert_message(&body, "Can not automatically downgrade plans. Contact support.");
        }
        let st = app.status_ok(&p.token, "up.example").await;
        let live: Vec<&str> = st.products.iter().map(|x| x.slug.as_str()).collect();
        assert_eq!(live, ["professional"], "{st:?}");
    }

    async fn included_and_other_partner_products_are_refused(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        let b = app.partner("Bolt").await;
        let fields = |plan: &'static str| [("siteurl", "https://inc.example"), ("local_user", "admin"), ("plan", plan)];
        let (status, body) = app.provision(&a.token, &fields("premium")).await;
        assert_eq!(status, 200, "{body}");
        for (slug, holder) in [("jetpack-scan", "premium"), ("jetpack-backup-daily", "premium"), ("jetpack-anti-spam", "premium")] {
            let (status, body) = app.provision(&a.token, &fields(slug)).await;
            assert_error(status, &body, 400, "product_already_included");
            assert_message(&body, &format!("{slug} is already included in the site's {holder}"));
        }
        // Realtime backup is not in premium: allowed, in its own family.
        let (status, body) = app.provision(&a.token, &fields("jetpack-backup-realtime")).await;
        assert_eq!(status, 200, "{body}");

        // The same product from another partner.
        let (status, body) = app.provision(&b.token, &fields("premium")).await;
        assert_error(status, &body, 400, "product_owned_by_another_partner");
        assert_message(&body, "The site already has premium from another partner");
        assert_eq!(
            activations(&app, "inc.example"),
            pairs(&[("jetpack-backup-realtime", "pending"), ("premium", "pending")])
        );
    }

    async fn limit_reached_names_the_product(db: Db) {
        let app = TestApp::spawn(db).await;
        let base = app.partner("Acme").await;
        let k = app.key(base.partner_id, &["--limit", "premium=1"]).await;
        let prov = |site: &'static str, plan: &'static str| {
            let token = k.token.clone();
            let app = &app;
            async move { app.provision(&token, &[("siteurl", site), ("local_user", "admin"), ("plan", plan)]).await }
        };
        let (status, body) = prov("https://one.example", "premium").await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = prov("https://two.example", "premium").await;
        assert_error(status, &body, 400, "activation_limit_reached");
        assert_message(&body, "This key has reached its activation limit for product premium");
        // Other products are not limited; a repeat on the first site is not a new activation.
        assert_eq!(prov("https://two.example", "personal").await.0, 200);
        assert_eq!(prov("https://one.example", "premium").await.0, 200);
        // Limits count live activations: a cancellation frees the slot.
        let res = app.cancel_ok(&k.token, "one.example", &[]).await;
        assert!(res.success, "{res:?}");
        let (status, body) = prov("https://three.example", "premium").await;
        assert_eq!(status, 200, "{body}");
    }

    async fn connected_site_is_active_with_admin_url(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let (status, body) = app
            .provision(&p.token, &[("siteurl", "https://conn.example/blog/"), ("local_user", "admin"), ("plan", "personal")])
            .await;
        let res: ProvisionResponse = ok(status, &body);
        assert!(res.auth_required, "{body}");
        let next = res.next_url.as_str();
        assert!(next.starts_with(&format!("{}/", app.base)), "authorization page on jpstart: {next}");

        app.admin(&["site", "connect", "conn.example::blog"]).unwrap();
        assert_eq!(activations(&app, "conn.example::blog"), pairs(&[("personal", "active")]));
        let (status, body) = app
            .provision(&p.token, &[("siteurl", "https://conn.example/blog"), ("local_user", "admin"), ("plan", "premium")])
            .await;
        assert_eq!(keys(&body), ["success", "auth_required", "next_url"]);
        let res: ProvisionResponse = ok(status, &body);
        assert!(res.success && !res.auth_required, "{body}");
        assert_eq!(res.next_url, "https://conn.example/blog/wp-admin/admin.php?page=jetpack");
        assert_eq!(
            activations(&app, "conn.example::blog"),
            pairs(&[("personal", "superseded"), ("premium", "active")])
        );
        let st = app.status_ok(&p.token, "conn.example::blog").await;
        assert!(st.blog.is_connected, "{st:?}");
        assert!(!st.products[0].is_pending, "{st:?}");
    }

    async fn partner_provision_by_blog_id(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let res = app
            .provision_ok(&p.token, &[("siteurl", "https://plugin.example"), ("local_user", "admin")])
            .await;
        assert!(res.success, "{res:?}");
        let blog = app.blog_id("plugin.example");
        // The Jetpack plugin sends a JSON body without a content type.
        let send = |path: String, body: &'static str| {
            app.request(Method::POST, &path)
                .bearer_auth(&p.token)
                .body(body)
                .send()
        };
        let res = send(format!("/rest/v1.3/jpphp/{blog}/partner-provision"), r#"{"plan":"premium","user_login":"admin"}"#)
            .await
            .unwrap();
        let (status, body) = json(res).await;
        assert!(ok::<ProvisionResponse>(status, &body).success, "{body}");
        assert_eq!(keys(&body), ["success", "auth_required", "next_url"]);
        assert_eq!(activations(&app, "plugin.example"), pairs(&[("premium", "pending")]));
        // The same rules apply: a bad plan, a downgrade.
        let res = send(format!("/rest/v1.3/jpphp/{blog}/partner-provision"), r#"{"plan":"nonsense"}"#).await.unwrap();
        let (status, body) = json(res).await;
        assert_error(status, &body, 400, "invalid_plan");
        let res = send(format!("/rest/v1.3/jpphp/{blog}/partner-provision"), r#"{"plan":"personal"}"#).await.unwrap();
        let (status, body) = json(res).await;
        assert_error(status, &body, 400, "plan_downgrade_disallowed");
        // An unknown blog id.
        let res = send("/rest/v1.3/jpphp/999999/partner-provision".to_string(), r#"{"plan":"premium"}"#).await.unwrap();
        let (status, body) = json(res).await;
        assert_error(status, &body, 403, "invalid_blog");
        assert_message(&body, "The blog ID 999999 is invalid");
    }
}

both_backends! {
    async fn authentication_errors_at_provision(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let fields = [("siteurl", "https://auth.example"), ("local_user", "admin"), ("plan", "premium")];
        let res = app.request(Method::POST, "/rest/v1.3/jpphp/provision").form(&fields).send().await.unwrap();
        let (status, body) = json(res).await;
        assert_error(status, &body, 403, "authorization_required");
        let (status, body) = app.provision("NotAToken123", &fields).await;
        assert_error(status, &body, 403, "invalid_token");
        let kid = p.key_id.to_string();
        let other: TokenResponse = app.admin_as(&["token", "create", "--key", &kid, "--scope", "global"]);
        let (status, body) = app.provision(&other.access_token, &fields).await;
        assert_error(status, &body, 403, "invalid_scope");
        assert_message(&body, "This token is not authorized to provision partner sites");
        app.admin(&["key", "disable", &kid]).unwrap();
        let (status, body) = app.provision(&p.token, &fields).await;
        assert_error(status, &body, 400, "partner_key_disabled");
        assert_message(&body, "This key is disabled.");
        assert!(activations(&app, "auth.example").is_empty());
    }
}
