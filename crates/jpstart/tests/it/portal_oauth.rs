//! Issue 14: the OAuth2 authorization-code flow of partner users' apps, as
//! upstream's documented PHP script runs it (`jetpack/reporting-endpoints/
//! README.md`): `/oauth2/authorize?client_id=%d&response_type=code&
//! redirect_uri=...&scope=global` (signing in first), Approve, the code on
//! the redirect URI, then a multipart `POST /oauth2/token` with
//! `grant_type=authorization_code`.

use reqwest::multipart::Form;
use serde_json::Value;

use crate::common::*;
use crate::portal_auth::{csrf_of, user, Agent, Answer};

const SCRIPT: &str = "http://127.0.0.1:3210";

/// Signs in and registers an app: `(client_id, client_secret)`.
async fn register(agent: &mut Agent<'_>, name: &str, redirect_uri: &str) -> (String, String) {
    let page = agent.get("/portal/apps").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = csrf_of(&page.body).unwrap();
    let a = agent
        .post(
            "/portal/apps",
            &[
                ("csrf_token", &csrf),
                ("name", name),
                ("redirect_uri", redirect_uri),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let between = |from: &str| {
        let (_, rest) = a.body.split_once(from).unwrap();
        rest.split_once('<').unwrap().0.to_string()
    };
    (
        between("id=\"client-id\">"),
        between("id=\"client-secret\">"),
    )
}

/// The URL the PHP script redirects to, indentation and all.
fn script_url(client_id: &str) -> String {
    format!(
        "/oauth2/authorize?client_id={client_id}&response_type=code&    redirect_uri=http%3A%2F%2F127.0.0.1%3A3210&scope=global"
    )
}

/// The approve page's form, approved (or denied): the answer.
async fn decide(agent: &mut Agent<'_>, page: &Answer, decision: &str) -> Answer {
    let field = |name: &str| {
        let needle = format!("name=\"{name}\" value=\"");
        let (_, rest) = page.body.split_once(&needle)?;
        Some(rest.split_once('"').unwrap().0.replace("&amp;", "&"))
    };
    let csrf = field("csrf_token").unwrap();
    let client_id = field("client_id").unwrap();
    let redirect_uri = field("redirect_uri").unwrap();
    let mut form = vec![
        ("csrf_token", csrf.as_str()),
        ("client_id", client_id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("response_type", "code"),
        ("decision", decision),
    ];
    let state = field("state");
    if let Some(s) = &state {
        form.push(("state", s));
    }
    agent.post("/oauth2/authorize", &form).await
}

/// The code in a redirect to the script.
fn code_of(location: &str) -> String {
    let (base, _) = location.split_once('?').unwrap();
    assert_eq!(base, SCRIPT);
    query_param(location, "code").unwrap_or_else(|| panic!("no code in {location}"))
}

/// A query parameter of a URL or of a path.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let full = if url.starts_with('/') {
        format!("http://x{url}")
    } else {
        url.to_string()
    };
    reqwest::Url::parse(&full)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The script's token request: multipart, as PHP's curl sends an array.
async fn exchange(
    app: &TestApp,
    client_id: &str,
    secret: &str,
    code: &str,
    redirect_uri: &str,
) -> (reqwest::StatusCode, Value) {
    let form = Form::new()
        .text("client_id", client_id.to_string())
        .text("redirect_uri", redirect_uri.to_string())
        .text("client_secret", secret.to_string())
        .text("code", code.to_string())
        .text("grant_type", "authorization_code");
    json(
        app.client
            .post(app.url("/oauth2/token"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A fresh code for the script's redirect URI, approved by a signed-in agent.
async fn fresh_code(agent: &mut Agent<'_>, client_id: &str) -> String {
    let page = agent.get(&script_url(client_id)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let a = decide(agent, &page, "approve").await;
    assert_eq!(a.status, 303, "{}", a.body);
    code_of(&a.location.unwrap())
}

both_backends! {
    async fn the_documented_php_flow_gets_a_token(db: Db) {
        // At log level trace: no secret of the flow may be logged.
        let app = TestApp::spawn_with(db, Opts::default().env("JPSTART_LOG", "trace")).await;
        let p = app.partner("Code Host").await;
        let (_, password) = user(&app, p.partner_id, "jane@example.com");
        let mut agent = Agent::new(&app);
        const WRONG: &str = "Wrongpassword-LEAKPROBE-77";
        assert_eq!(agent.sign_in("jane@example.com", WRONG).await.status, 401);
        assert_eq!(agent.sign_in("jane@example.com", &password).await.status, 303);
        let session = agent.cookies["jpstart_session"].clone();
        let (client_id, secret) = register(&mut agent, "Reports script", SCRIPT).await;
        assert!(client_id.parse::<u64>().is_ok(), "numeric, for the script's %d: {client_id}");
        assert_eq!(secret.len(), 64);
        // The secret is shown once: the list does not show it.
        let list = agent.get("/portal/apps").await;
        assert!(list.body.contains("Reports script") && !list.body.contains(&secret), "{}", list.body);

        // A browser that is not signed in signs in first, then comes back.
        let mut browser = Agent::new(&app);
        let a = browser.get(&script_url(&client_id)).await;
        assert_eq!(a.status, 303, "{}", a.body);
        let to_login = a.location.unwrap();
        let next = query_param(&to_login, "next").unwrap();
        assert!(next.starts_with("/oauth2/authorize?client_id="), "{next}");
        let a = browser.sign_in_to("jane@example.com", &password, Some(&next)).await;
        assert_eq!(a.status, 303, "{}", a.body);
        assert_eq!(a.location.as_deref(), Some(next.as_str()));
        let page = browser.get(&next).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("id=\"app-name\">Reports script<"), "{}", page.body);
        assert!(page.body.contains(SCRIPT), "{}", page.body);
        let a = decide(&mut browser, &page, "approve").await;
        assert_eq!(a.status, 303, "{}", a.body);
        let code = code_of(&a.location.unwrap());

        let (status, body) = exchange(&app, &client_id, &secret, &code, SCRIPT).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(keys(&body), ["access_token", "token_type", "blog_id", "blog_url", "scope"]);
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["scope"], "global");
        let token = body["access_token"].as_str().unwrap().to_string();
        assert_eq!(token.len(), 64);

        // The token reads its partner's reports.
        let path = format!("/wpcom/v2/jetpack-partners/{}/key/{}/activations", p.partner_id, p.key_id);
        let (status, body) = json(app.get(&path, &token).send().await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        // The code is spent; a second use also revokes the token it bought.
        let (status, body) = exchange(&app, &client_id, &secret, &code, SCRIPT).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_grant", "{body}");
        let (_, body) = json(app.get(&path, &token).send().await.unwrap()).await;
        assert_eq!(body["error"], "invalid_token", "{body}");
        // Nothing secret in the log.
        let logs = app.logs();
        assert!(logs.contains("TRACE") || logs.contains("trace"), "trace level is on");
        for s in [&code, &token, &secret, &password, &session, &browser.cookies["jpstart_session"], WRONG] {
            assert!(!logs.contains(s), "{s} in the log");
        }
    }

    async fn codes_are_bound_single_use_and_short_lived(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let p = app.partner("Bound Host").await;
        let (_, password) = user(&app, p.partner_id, "jane@example.com");
        let mut agent = Agent::new(&app);
        agent.sign_in("jane@example.com", &password).await;
        let (client_id, secret) = register(&mut agent, "Script", SCRIPT).await;
        let (other_id, other_secret) = register(&mut agent, "Other", "https://other.example/cb").await;

        // Another redirect_uri than the code's: refused, and the code is kept.
        let code = fresh_code(&mut agent, &client_id).await;
        let (status, body) = exchange(&app, &client_id, &secret, &code, "http://127.0.0.1:3211").await;
        assert_eq!((status.as_u16(), body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
        // Another app's credentials with this code: refused.
        let (status, body) = exchange(&app, &other_id, &other_secret, &code, SCRIPT).await;
        assert_eq!((status.as_u16(), body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
        // A wrong secret: invalid_client.
        let (status, body) = exchange(&app, &client_id, &"x".repeat(64), &code, SCRIPT).await;
        assert_eq!((status.as_u16(), body["error"].as_str()), (400, Some("invalid_client")), "{body}");
        // A trailing slash on the bare host is the same URI.
        let (status, body) = exchange(&app, &client_id, &secret, &code, "http://127.0.0.1:3210/").await;
        assert_eq!(status, 200, "{body}");

        // Ten minutes and a second later: expired.
        let code = fresh_code(&mut agent, &client_id).await;
        app.advance_clock("601s");
        let (status, body) = exchange(&app, &client_id, &secret, &code, SCRIPT).await;
        assert_eq!((status.as_u16(), body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
        assert!(body["error_description"].as_str().unwrap().contains("expired"), "{body}");

        // A code nobody issued; no code at all.
        let (_, body) = exchange(&app, &client_id, &secret, &"A".repeat(64), SCRIPT).await;
        assert_eq!(body["error"], "invalid_grant", "{body}");
        let form = Form::new().text("client_id", client_id.clone()).text("client_secret", secret.clone()).text("grant_type", "authorization_code");
        let (status, body) = json(app.client.post(app.url("/oauth2/token")).multipart(form).send().await.unwrap()).await;
        assert_eq!((status.as_u16(), body["error"].as_str()), (400, Some("invalid_request")), "{body}");
    }

    async fn authorize_refuses_what_it_cannot_check(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Refusing Host").await;
        let (_, password) = user(&app, p.partner_id, "jane@example.com");
        let mut agent = Agent::new(&app);
        agent.sign_in("jane@example.com", &password).await;
        let (client_id, _) = register(&mut agent, "Script", SCRIPT).await;

        // Unknown client, foreign redirect_uri: a page, never a redirect.
        for url in [
            "/oauth2/authorize?client_id=999&response_type=code".to_string(),
            "/oauth2/authorize?client_id=x&response_type=code".to_string(),
            format!("/oauth2/authorize?client_id={client_id}&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2F"),
        ] {
            let a = agent.get(&url).await;
            assert_eq!(a.status, 400, "{url}: {}", a.body);
            assert!(a.location.is_none(), "{url}");
        }
        // A checked redirect URI gets the RFC's errors.
        let a = agent.get(&format!("/oauth2/authorize?client_id={client_id}&response_type=token&state=s1")).await;
        assert_eq!(a.status, 303);
        assert_eq!(a.location.as_deref(), Some("http://127.0.0.1:3210?error=unsupported_response_type&state=s1"));
        let page = agent.get(&format!("/oauth2/authorize?client_id={client_id}&response_type=code&state=xyz%20%26")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let a = decide(&mut agent, &page, "deny").await;
        assert_eq!(a.status, 303);
        assert_eq!(a.location.as_deref(), Some("http://127.0.0.1:3210?error=access_denied&state=xyz+%26"));
        // Approving keeps the state.
        let a = decide(&mut agent, &page, "approve").await;
        let location = a.location.unwrap();
        assert!(location.ends_with("&state=xyz+%26") && location.contains("?code="), "{location}");

        // A forged approval (no token, another origin): no code.
        let form = [("client_id", client_id.as_str()), ("response_type", "code"), ("decision", "approve")];
        let a = agent.post("/oauth2/authorize", &form).await;
        assert_eq!(a.status, 403, "{}", a.body);
        let csrf = csrf_of(&page.body).unwrap();
        let mut with_token = form.to_vec();
        with_token.push(("csrf_token", &csrf));
        let a = agent.send(reqwest::Method::POST, "/oauth2/authorize", &with_token, Some("https://evil.example")).await;
        assert_eq!(a.status, 403);
        assert!(a.location.is_none());

        // A user of another partner cannot approve this partner's app.
        let other = app.partner("Other Host").await;
        let (_, other_password) = user(&app, other.partner_id, "mallory@example.com");
        let mut mallory = Agent::new(&app);
        mallory.sign_in("mallory@example.com", &other_password).await;
        let a = mallory.get(&script_url(&client_id)).await;
        assert_eq!(a.status, 403, "{}", a.body);
        let csrf = csrf_of(&mallory.get("/portal/").await.body).unwrap();
        let mut form = form.to_vec();
        form.push(("csrf_token", &csrf));
        let a = mallory.post("/oauth2/authorize", &form).await;
        assert_eq!(a.status, 403);
        assert!(a.location.is_none());
    }

    async fn disabling_a_user_refuses_its_codes(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Disabled Codes").await;
        let (id, password) = user(&app, p.partner_id, "jane@example.com");
        let mut agent = Agent::new(&app);
        agent.sign_in("jane@example.com", &password).await;
        let (client_id, secret) = register(&mut agent, "Script", SCRIPT).await;
        let code = fresh_code(&mut agent, &client_id).await;
        app.admin(&["user", "disable", &id.to_string()]).unwrap();
        let (status, body) = exchange(&app, &client_id, &secret, &code, SCRIPT).await;
        assert_eq!((status.as_u16(), body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    }
}

/// A user's reporting token through the portal's "API token" button.
async fn portal_token(agent: &mut Agent<'_>) -> String {
    let home = agent.get("/portal/").await;
    let csrf = csrf_of(&home.body).unwrap();
    let a = agent.post("/portal/token", &[("csrf_token", &csrf)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, rest) = a.body.split_once("id=\"token\">").unwrap();
    rest.split_once('<').unwrap().0.to_string()
}

both_backends! {
    async fn a_user_token_reads_its_partner_only(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Reader A").await;
        let b = app.partner("Reader B").await;
        let (id, password) = user(&app, a.partner_id, "jane@a.example");
        let mut agent = Agent::new(&app);
        agent.sign_in("jane@a.example", &password).await;
        // One token from the code flow, one from the portal.
        let (client_id, secret) = register(&mut agent, "Script", SCRIPT).await;
        let code = fresh_code(&mut agent, &client_id).await;
        let (status, body) = exchange(&app, &client_id, &secret, &code, SCRIPT).await;
        assert_eq!(status, 200, "{body}");
        let from_code = body["access_token"].as_str().unwrap().to_string();
        let from_portal = portal_token(&mut agent).await;
        let sub = app.key(a.partner_id, &[]).await;
        for token in [&from_code, &from_portal] {
            // Every key of its partner.
            for key in [a.key_id, sub.key_id] {
                let path = format!("/wpcom/v2/jetpack-partners/{}/key/{key}/activations", a.partner_id);
                let (status, body) = json(app.get(&path, token).send().await.unwrap()).await;
                assert_eq!(status, 200, "{path}: {body}");
            }
            let (status, body) = json(app.get(&format!("/wpcom/v2/jetpack-partners/activations?key_id={}", a.key_id), token).send().await.unwrap()).await;
            assert_eq!(status, 200, "{body}");
            // Another partner's: 403 forbidden, under its id or under ours.
            for path in [
                format!("/wpcom/v2/jetpack-partners/{}/key/{}/activations", b.partner_id, b.key_id),
                format!("/wpcom/v2/jetpack-partners/{}/key/{}/activations", a.partner_id, b.key_id),
                format!("/wpcom/v2/jetpack-partners/{}/key/{}/stripe/invoices", b.partner_id, b.key_id),
                format!("/wpcom/v2/jetpack-partners/activations?key_id={}", b.key_id),
            ] {
                let (status, body) = json(app.get(&path, token).send().await.unwrap()).await;
                assert_error(status, &body, 403, "forbidden");
            }
        }
        // Disabled: both tokens fail on the very next request.
        app.admin(&["user", "disable", &id.to_string()]).unwrap();
        let path = format!("/wpcom/v2/jetpack-partners/{}/key/{}/activations", a.partner_id, a.key_id);
        for token in [&from_code, &from_portal] {
            let (status, body) = json(app.get(&path, token).send().await.unwrap()).await;
            assert_eq!(body["error"], "invalid_token", "{status} {body}");
        }
        // A user token is no key token: it cannot provision.
        let (status, body) = app.provision(&from_portal, &[("siteurl", "https://x.example"), ("local_user", "admin"), ("plan", "premium")]).await;
        assert_eq!(body["error"], "invalid_token", "{status} {body}");
    }
}
