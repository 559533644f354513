//! Issue 13: WordPress.com accounts — `POST /rest/v1.3/jpphp/user`
//! (upstream users/user-creation.md), automatic account creation at
//! provision (automatic-account-creation-connection.md), the operator's
//! allow-list and `admin wpcom-user`, and the partner CLI `jpstart user create`.

use reqwest::Method;
use serde_json::Value;

use crate::cli::{jpstart, partner_env};
use crate::common::*;

const USER: &str = "/rest/v1.3/jpphp/user";

async fn create_user(
    app: &TestApp,
    token: &str,
    fields: &[(&str, &str)],
) -> (reqwest::StatusCode, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    json(app.post(USER, token).multipart(form).send().await.unwrap()).await
}

fn allow(app: &TestApp, partner_id: u64) -> Value {
    app.admin(&["partner", "allow-user-creation", &partner_id.to_string()])
        .unwrap()
}

fn users(app: &TestApp) -> Vec<Value> {
    app.admin(&["wpcom-user", "list"])
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn is_token(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_alphanumeric()))
}

both_backends! {
    /// The documented error table, in its order, then success and
    /// `user_exists` for the same address in another case.
    async fn user_creation_follows_the_documented_table(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme Hosting").await;
        let jane = [("email", "Jane.Doe@example.com"), ("product_type", "jetpack")];

        let (status, body) = json(app.request(Method::POST, USER).send().await.unwrap()).await;
        assert_error(status, &body, 403, "authorization_required");

        let (status, body) = create_user(&app, &a.token, &jane).await;
        assert_error(status, &body, 403, "forbidden");
        assert_eq!(body["message"], "Acme Hosting is not whitelisted for allowing user creation.");

        let shown = allow(&app, a.partner_id);
        assert_eq!(shown.to_string(), format!(r#"{{"partner_id":{},"user_creation":true}}"#, a.partner_id));

        let (status, body) = create_user(&app, &a.token, &[("product_type", "jetpack")]).await;
        assert_error(status, &body, 400, "invalid_input_no_email");
        assert_eq!(body["message"], "email is required to create a new WordPress.com account.");
        let (status, body) = create_user(&app, &a.token, &[("email", "jane"), ("product_type", "jetpack")]).await;
        assert_error(status, &body, 400, "invalid_input_no_email");
        let (status, body) = create_user(&app, &a.token, &[("email", "jane@example.com")]).await;
        assert_error(status, &body, 400, "invalid_input_no_product_id");
        assert_eq!(body["message"], "product_id is required to provide context for newly created WordPress.com accounts.");
        let (status, body) = create_user(&app, &a.token, &[("email", "jane@example.com"), ("product_type", "premium")]).await;
        assert_error(status, &body, 400, "invalid_input_unknown_product_id");
        assert_eq!(body["message"], "The supplied product ID is unknown.");
        assert!(users(&app).is_empty(), "a refused request creates nothing");

        let (status, body) = create_user(&app, &a.token, &jane).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(keys(&body), ["success", "bearer_token"]);
        assert_eq!(body["success"], true);
        assert!(is_token(&body["bearer_token"]), "{body}");
        let token = body["bearer_token"].as_str().unwrap().to_string();

        // One address is one account, whatever its case.
        let (status, body) = create_user(&app, &a.token, &[("email", "JANE.DOE@EXAMPLE.COM"), ("product_type", "woocommerce")]).await;
        assert_error(status, &body, 400, "user_exists");
        assert_eq!(body["message"], "A WordPress.com user with given email address already exists.");

        // product_id is the other name of product_type; the username grows a
        // suffix when taken; JSON bodies work as everywhere.
        let res = app.post(USER, &a.token)
            .json(&serde_json::json!({"email": "jane.doe@example.org", "product_id": "woocommerce", "language": "pt-BR"}))
            .send().await.unwrap();
        let (status, body) = json(res).await;
        assert_eq!(status, 200, "{body}");

        let list = users(&app);
        assert_eq!(list.len(), 2, "{list:?}");
        assert_eq!(list[0]["email"], "Jane.Doe@example.com");
        assert_eq!(list[0]["username"], "janedoe");
        assert_eq!(list[0]["origin"], "api");
        assert_eq!(list[0]["product_type"], "jetpack");
        assert_eq!(list[0]["created_by_partner"], a.partner_id);
        assert_eq!(list[1]["username"], "janedoe2");
        assert_eq!(list[1]["product_type"], "woocommerce");
        assert_eq!(list[1]["language"], "pt-br");
        // Only the token's digest is stored: it appears in no admin output.
        assert!(!serde_json::to_string(&list).unwrap().contains(&token));

        // Withdrawn: refused again.
        let off = app.admin(&["partner", "allow-user-creation", &a.partner_id.to_string(), "--off"]).unwrap();
        assert_eq!(off["user_creation"], false);
        let (status, body) = create_user(&app, &a.token, &[("email", "new@example.com"), ("product_type", "jetpack")]).await;
        assert_error(status, &body, 403, "forbidden");
        assert!(app.admin(&["partner", "allow-user-creation", "999999"]).unwrap_err().contains("no partner 999999"));
    }

    /// The operator's accounts, and the partner command.
    async fn operator_accounts_and_the_partner_cli(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        let made = app.admin(&["wpcom-user", "create", "--email", "ops@example.com"]).unwrap();
        assert_eq!(keys(&made), ["id", "email", "username", "product_type", "language", "origin", "created_by_partner", "created_at"]);
        assert_eq!(made["username"], "ops0");
        assert_eq!(made["origin"], "operator");
        assert_eq!(made["created_by_partner"], Value::Null);
        let again = app.admin(&["wpcom-user", "create", "--email", "OPS@example.com"]).unwrap_err();
        assert!(again.contains("already exists"), "{again}");
        assert!(app.admin(&["wpcom-user", "create", "--email", "nobody"]).unwrap_err().contains("not an e-mail address"));
        let none = app.admin(&["wpcom-user", "create", "--email", "p@example.com", "--partner", "999999"]).unwrap_err();
        assert!(none.contains("no partner 999999"), "{none}");
        let by_partner = app.admin(&["wpcom-user", "create", "--email", "p@example.com", "--partner", &a.partner_id.to_string()]).unwrap();
        assert_eq!(by_partner["created_by_partner"], a.partner_id);
        let one = app.admin(&["wpcom-user", "list", "--email", "Ops@Example.com"]).unwrap();
        assert_eq!(one.as_array().unwrap().len(), 1, "{one}");

        // `jpstart user create`: the API's JSON on stdout; refusals on stderr.
        let env = partner_env(&app, &a);
        let run = jpstart(&["user", "create", "--email", "cli@example.com"], &env).await;
        assert_eq!(run.code, 1, "{}|{}", run.stdout, run.stderr);
        assert_eq!(run.error_json()["error"], "forbidden");
        allow(&app, a.partner_id);
        let run = jpstart(&["user", "create", "--email", "cli@example.com", "--product-type", "jetpack"], &env).await;
        assert_eq!(run.code, 0, "{}|{}", run.stdout, run.stderr);
        assert!(is_token(&run.json()["bearer_token"]), "{}|{}", run.stdout, run.stderr);
        let run = jpstart(&["user", "create", "--email", "cli@example.com"], &env).await;
        assert_eq!(run.error_json()["error"], "user_exists", "{}|{}", run.stdout, run.stderr);
    }

    /// Automatic account creation: the urlencoded provision and the
    /// plugin's JSON partner-provision both get `access_token` and a
    /// connected site; an existing account or a partner not allowed gets
    /// the usual answer.
    async fn automatic_account_creation_at_provision(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        let b = app.partner("Bravo").await;
        allow(&app, a.partner_id);

        let (status, body) = app.provision(&a.token, &[
            ("siteurl", "http://one.example/"), ("local_user", "admin"), ("plan", "premium"),
            ("wpcom_user_email", "owner1@example.com"),
        ]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(keys(&body), ["success", "auth_required", "next_url", "access_token"]);
        assert_eq!(body["auth_required"], false);
        assert_eq!(body["next_url"], "http://one.example");
        assert!(is_token(&body["access_token"]), "{body}");
        let (_, status_body) = app.status(&a.token, "one.example").await;
        assert_eq!(status_body["blog"]["is_connected"], true);
        assert_eq!(status_body["products"][0]["is_pending"], false);

        // The plugin: JSON to /{blog_id}/partner-provision for a site that
        // was registered (and left pending) before.
        let (_, pending) = app.provision(&a.token, &[("siteurl", "https://two.example"), ("local_user", "admin"), ("plan", "personal")]).await;
        assert_eq!(pending["auth_required"], true, "{pending}");
        let blog = app.blog_id("two.example");
        let res = app.post(&format!("/rest/v1.3/jpphp/{blog}/partner-provision"), &a.token)
            .header("content-type", "application/json")
            .body(r#"{"plan":"personal","user_login":"admin","wpcom_user_email":"owner2@example.com","onboarding":"0"}"#)
            .send().await.unwrap();
        let (status, body) = json(res).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(keys(&body), ["success", "auth_required", "next_url", "access_token"]);
        assert_eq!(body["next_url"], "https://two.example");
        assert!(is_token(&body["access_token"]), "{body}");
        let acts = app.admin(&["activations", "--site", "two.example"]).unwrap();
        assert_eq!(acts[0]["state"], "active", "{acts}");

        // An address that has an account: the usual pending answer.
        let (_, body) = app.provision(&a.token, &[("siteurl", "https://three.example"), ("local_user", "admin"), ("plan", "premium"), ("wpcom_user_email", "OWNER1@example.com")]).await;
        assert_eq!(keys(&body), ["success", "auth_required", "next_url"]);
        assert_eq!(body["auth_required"], true);
        // A partner not allowed to create accounts: likewise, and no account.
        let (_, body) = app.provision(&b.token, &[("siteurl", "https://four.example"), ("local_user", "admin"), ("plan", "premium"), ("wpcom_user_email", "owner4@example.com")]).await;
        assert_eq!(keys(&body), ["success", "auth_required", "next_url"]);

        let list = users(&app);
        let emails: Vec<&str> = list.iter().map(|u| u["email"].as_str().unwrap()).collect();
        assert_eq!(emails, ["owner1@example.com", "owner2@example.com"]);
        assert!(list.iter().all(|u| u["origin"] == "provision" && u["created_by_partner"] == a.partner_id));
    }

    /// SPEC §11 (the holder rule, `may_change_site`): automatic account
    /// creation does not connect a site on which another partner holds a
    /// live activation and the caller none; a caller that holds one of its
    /// own connects it for itself only.
    async fn another_partners_site_is_left_alone(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        let b = app.partner("Bravo").await;
        allow(&app, a.partner_id);
        let (_, body) = app.provision(&b.token, &[("siteurl", "https://shared.example"), ("local_user", "admin"), ("plan", "personal")]).await;
        assert_eq!(body["auth_required"], true);
        // A holds nothing there (a registration only): nothing is done.
        let (status, body) = app.provision(&a.token, &[("siteurl", "https://shared.example"), ("local_user", "admin"), ("wpcom_user_email", "someone@example.com")]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(keys(&body), ["success", "auth_required", "next_url"]);
        assert_eq!(body["auth_required"], true);
        let (_, st) = app.status(&b.token, "shared.example").await;
        assert_eq!(st["blog"]["is_connected"], false);
        assert!(users(&app).is_empty());

        // With its own product A holds the site too: the account connects it
        // for A, whose activation becomes active; B's stays pending.
        let (status, body) = app.provision(&a.token, &[("siteurl", "https://shared.example"), ("local_user", "admin"), ("plan", "jetpack-scan"), ("wpcom_user_email", "someone@example.com")]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(keys(&body), ["success", "auth_required", "next_url", "access_token"]);
        assert_eq!(body["auth_required"], false);
        let states: Vec<(String, String)> = app.activations(&["--site", "shared.example"]).into_iter().map(|r| (r.product, r.state)).collect();
        assert_eq!(states, [("personal".into(), "pending".into()), ("jetpack-scan".into(), "active".into())]);
        assert_eq!(users(&app).len(), 1);
    }
}
