//! Issue: server foundation (SPEC §6): the operator's commands, their exact
//! JSON on stdout, and their one-line failures.

use serde_json::{json as j, Value};

use crate::common::*;

/// Runs `jpstart admin ARGS`, asserts success with exactly one JSON line on
/// stdout and nothing on stderr, and returns the JSON.
fn ok(app: &TestApp, args: &[&str]) -> Value {
    let out = admin_output(&app.db.url, args);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    assert_eq!(stderr, "", "{args:?}");
    assert_eq!(stdout.lines().count(), 1, "{args:?}: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

/// Runs `jpstart admin ARGS`, asserts a non-zero exit, nothing on stdout and
/// exactly one line on stderr, and returns that line.
fn fails(app: &TestApp, args: &[&str]) -> String {
    let out = admin_output(&app.db.url, args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "", "{args:?}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr:?}");
    assert!(stderr.ends_with('\n'));
    stderr.trim_end().to_string()
}

fn assert_credentials(v: &Value, partner_id: u64) {
    assert_eq!(
        keys(v),
        ["partner_id", "key_id", "client_id", "client_secret"],
        "{v}"
    );
    assert_eq!(v["partner_id"], partner_id);
    // client_id is the key id, as text (the documented `partner-keys/new`
    // response has it as a string).
    assert_eq!(v["client_id"], v["key_id"].as_u64().unwrap().to_string());
    let secret = v["client_secret"].as_str().unwrap();
    assert!(
        secret.len() >= 32 && secret.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{secret}"
    );
}

both_backends! {
    async fn admin_shapes(db: Db) {
        let app = TestApp::spawn(db).await;
        let created = ok(&app, &["partner", "create", "--name", "Example Hosting"]);
        let pid = created["partner_id"].as_u64().unwrap();
        assert_credentials(&created, pid);
        let pid_s = pid.to_string();

        let key = ok(&app, &["key", "create", "--partner", &pid_s, "--name", "staging", "--test", "--limit", "premium=2", "--limit", "jetpack-scan=0"]);
        assert_credentials(&key, pid);
        assert_ne!(key["key_id"], created["key_id"]);
        assert_ne!(key["client_secret"], created["client_secret"]);
        let key_s = key["key_id"].as_u64().unwrap().to_string();
        // The new key's credentials get a token; its limit is enforced.
        let token = app
            .token(key["client_id"].as_str().unwrap(), key["client_secret"].as_str().unwrap())
            .await;
        let (status, body) = app
            .provision(&token, &[("siteurl", "https://scan.example"), ("local_user", "a"), ("plan", "jetpack-scan")])
            .await;
        assert_error(status, &body, 400, "activation_limit_reached");

        assert_eq!(ok(&app, &["key", "disable", &key_s]), j!({"key_id": key["key_id"], "disabled": true}));
        assert_eq!(ok(&app, &["key", "enable", &key_s]), j!({"key_id": key["key_id"], "disabled": false}));
        assert_eq!(ok(&app, &["token", "revoke", "--token", &token]), j!({"revoked": 1}));
        assert_eq!(ok(&app, &["token", "revoke", "--key", &key_s]), j!({"revoked": 0}));

        // A site: provisioned (pending), then connected by the operator.
        let p = app.partner("Second").await;
        let (status, body) = app
            .provision(&p.token, &[("siteurl", "https://Shop.Example/demo/"), ("local_user", "a"), ("plan", "premium")])
            .await;
        assert_eq!(status, 200, "{body}");
        let acts = ok(&app, &["activations"]);
        assert_eq!(acts.as_array().unwrap().len(), 1, "{acts}");
        let a = &acts[0];
        for k in ["blog_id", "site", "product", "state", "key_id"] {
            assert!(a.get(k).is_some(), "activation has no {k}: {a}");
        }
        assert_eq!(a["site"], "shop.example::demo");
        assert_eq!(a["product"], "premium");
        assert_eq!(a["state"], "pending");
        assert_eq!(a["key_id"], p.key_id);
        let blog_id = a["blog_id"].as_u64().unwrap();

        let connected = ok(&app, &["site", "connect", "shop.example::demo"]);
        assert_eq!(keys(&connected), ["blog_id", "site", "was_connected", "activated"]);
        assert_eq!(connected["blog_id"], blog_id);
        assert_eq!(connected["site"], "shop.example::demo");
        assert_eq!(connected["was_connected"], false);
        assert_eq!(connected["activated"].as_array().unwrap().len(), 1);
        // Connecting again (by blog id, or by URL) changes nothing.
        let again = ok(&app, &["site", "connect", &blog_id.to_string()]);
        assert_eq!((&again["was_connected"], &again["activated"]), (&j!(true), &j!([])));
        ok(&app, &["site", "connect", "https://shop.example/demo"]);

        let acts = ok(&app, &["activations", "--site", "shop.example::demo"]);
        assert_eq!(acts[0]["state"], "active");
        let mine = ok(&app, &["activations", "--partner", &p.partner_id.to_string()]);
        assert_eq!(mine.as_array().unwrap().len(), 1);
        assert_eq!(ok(&app, &["activations", "--partner", &pid_s]), j!([]));
        assert_eq!(ok(&app, &["activations", "--site", "other.example"]), j!([]));
        let (status, st) = app.status(&p.token, &blog_id.to_string()).await;
        assert_eq!(status, 200);
        assert_eq!(st["blog"]["is_connected"], true);
        assert_eq!(st["products"][0]["is_pending"], false);
    }

    async fn admin_failures(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let pid = p.partner_id.to_string();
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (vec!["key", "create", "--partner", "999"], "partner 999 not found"),
            (vec!["key", "create", "--partner", &pid, "--limit", "premium=x"], "is not a whole number"),
            (vec!["key", "create", "--partner", &pid, "--limit", "premium=-1"], "is not a whole number"),
            (vec!["key", "create", "--partner", &pid, "--limit", "gold=1"], "is not a product"),
            (vec!["key", "create", "--partner", &pid, "--limit", "premium"], "is not SLUG=N"),
            (vec!["key", "disable", "999"], "key 999 not found"),
            (vec!["key", "enable", "999"], "key 999 not found"),
            (vec!["token", "revoke", "--key", "999"], "key 999 not found"),
            (vec!["token", "revoke", "--token", "UNKNOWN"], "token not found (or already revoked)"),
            (vec!["token", "create", "--key", "999"], "key 999 not found"),
            (vec!["site", "connect", "nowhere.example"], "not found"),
            (vec!["site", "connect", "not a site"], "site"),
            (vec!["partner", "create", "--name", "  "], "non-empty"),
        ];
        for (args, needle) in cases {
            let line = fails(&app, &args);
            assert!(line.starts_with("jpstart admin: "), "{args:?}: {line}");
            assert!(line.contains(needle), "{args:?}: {line}");
        }
        // A database that cannot be opened is a one-line failure too.
        let out = admin_output("sqlite:///nonexistent-dir/jpstart.db", &["activations"]);
        assert!(!out.status.success());
        assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 1);
    }
}
