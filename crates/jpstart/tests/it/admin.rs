//! Issue: server foundation (SPEC §6): the operator's commands, their exact
//! JSON on stdout, and their one-line failures.

use jpstart_types::wire::{AdminActivation, KeyCredentials, StatusV14};
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

fn assert_credentials(v: &Value, partner_id: u64) -> KeyCredentials {
    assert_eq!(
        keys(v),
        ["partner_id", "key_id", "client_id", "client_secret"],
        "{v}"
    );
    let creds: KeyCredentials = decode(v);
    assert_eq!(creds.partner_id, partner_id);
    // client_id is the key id, as text (the documented `partner-keys/new`
    // response has it as a string).
    assert_eq!(creds.client_id, creds.key_id.to_string());
    let secret = &creds.client_secret;
    assert!(
        secret.len() >= 32 && secret.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{secret}"
    );
    creds
}

both_backends! {
    async fn admin_shapes(db: Db) {
        let app = TestApp::spawn(db).await;
        let created = ok(&app, &["partner", "create", "--name", "Example Hosting"]);
        let pid = decode::<KeyCredentials>(&created).partner_id;
        let created = assert_credentials(&created, pid);
        let pid_s = pid.to_string();

        let key = ok(&app, &["key", "create", "--partner", &pid_s, "--name", "staging", "--test", "--limit", "premium=2", "--limit", "jetpack-scan=0"]);
        let key = assert_credentials(&key, pid);
        assert_ne!(key.key_id, created.key_id);
        assert_ne!(key.client_secret, created.client_secret);
        let key_s = key.key_id.to_string();
        // The new key's credentials get a token; its limit is enforced.
        let token = app.token(&key.client_id, &key.client_secret).await;
        let (status, body) = app
            .provision(&token, &[("siteurl", "https://scan.example"), ("local_user", "a"), ("plan", "jetpack-scan")])
            .await;
        assert_error(status, &body, 400, "activation_limit_reached");

        assert_eq!(ok(&app, &["key", "disable", &key_s]), j!({"key_id": key.key_id, "disabled": true}));
        assert_eq!(ok(&app, &["key", "enable", &key_s]), j!({"key_id": key.key_id, "disabled": false}));
        assert_eq!(ok(&app, &["token", "revoke", "--token", &token]), j!({"revoked": 1}));
        assert_eq!(ok(&app, &["token", "revoke", "--key", &key_s]), j!({"revoked": 0}));

        // A site: provisioned (pending), then connected by the operator.
        let p = app.partner("Second").await;
        let (status, body) = app
            .provision(&p.token, &[("siteurl", "https://Shop.Example/demo/"), ("local_user", "a"), ("plan", "premium")])
            .await;
        assert_eq!(status, 200, "{body}");
        // Strict decode: every row has exactly the documented keys.
        let acts: Vec<AdminActivation> = decode(&ok(&app, &["activations"]));
        assert_eq!(acts.len(), 1, "{acts:?}");
        let a = &acts[0];
        assert_eq!(a.site, "shop.example::demo");
        assert_eq!(a.product, "premium");
        assert_eq!(a.state, "pending");
        assert_eq!(a.key_id, Some(p.key_id));
        let blog_id = a.blog_id;

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

        let acts: Vec<AdminActivation> = decode(&ok(&app, &["activations", "--site", "shop.example::demo"]));
        assert_eq!(acts[0].state, "active");
        let mine: Vec<AdminActivation> = decode(&ok(&app, &["activations", "--partner", &p.partner_id.to_string()]));
        assert_eq!(mine.len(), 1);
        assert_eq!(ok(&app, &["activations", "--partner", &pid_s]), j!([]));
        assert_eq!(ok(&app, &["activations", "--site", "other.example"]), j!([]));
        let st: StatusV14 = app.status_ok(&p.token, &blog_id.to_string()).await;
        assert!(st.blog.is_connected, "{st:?}");
        assert!(!st.products[0].is_pending, "{st:?}");
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
