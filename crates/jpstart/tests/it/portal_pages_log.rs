//! Issue 14 with 15: the portal's request log and webhooks pages over
//! HTTP on both backends — the partner's own entries only, secrets
//! redacted, filters; webhook endpoints registered (the signing secret
//! shown once), deleted, out of another partner's reach, and every form
//! refused without its anti-forgery token.

use std::time::Duration;

use crate::common::*;
use crate::portal_auth::csrf_of;
use crate::portal_pages::{by_id, signed_in};

/// Waits (the log is written in the background) until the page's total
/// reaches `n`; the last page read.
async fn log_page(agent: &mut crate::portal_auth::Agent<'_>, path: &str, n: u64) -> String {
    for _ in 0..200 {
        let page = agent.get(path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let total: u64 = by_id(&page.body, "total")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        if total >= n {
            return page.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path}: fewer than {n} entries in time");
}

both_backends! {
    async fn request_log_page_shows_the_partners_own(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().arg("--request-log")).await;
        let mut s = signed_in(&app, "Logged Host", "log@example.com").await;
        let p = s.partner.clone();
        let other = app.partner("Other Logged").await;
        app.provision_ok(&p.token, &[
            ("siteurl", "https://logged.example"), ("local_user", "admin"), ("plan", "premium"),
            ("ssh_user", "u"), ("ssh_pass", "Sekrit-pass-1"),
        ]).await;
        app.provision_ok(&other.token, &[("siteurl", "https://theirs.example"), ("local_user", "x"), ("plan", "premium")]).await;
        let body = log_page(&mut s.agent, "/portal/requests?path=/rest/v1.3/jpphp/provision", 1).await;
        assert!(body.contains("logged.example"), "{body}");
        assert!(!body.contains("theirs.example"), "another partner's request");
        assert!(!body.contains("Sekrit-pass-1") && body.contains("[redacted]"));
        let none = s.agent.get("/portal/requests?status=599").await;
        assert_eq!(by_id(&none.body, "total").as_deref(), Some("0"));
        assert_eq!(s.agent.get("/portal/requests?status=abc").await.status, 400);
        assert_eq!(s.agent.get(&format!("/portal/requests?key={}", other.key_id)).await.status, 403);
    }

    async fn request_log_page_without_a_log(db: Db) {
        let app = TestApp::spawn(db).await;
        let mut s = signed_in(&app, "Unlogged Host", "nolog@example.com").await;
        let page = s.agent.get("/portal/requests").await;
        assert_eq!(page.status, 404);
        assert!(page.body.contains("--request-log"));
    }

    async fn webhooks_page_register_delete_and_refusals(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().arg("--webhook-allow-private")).await;
        let mut s = signed_in(&app, "Hooked Host", "hooks@example.com").await;
        let mut other = signed_in(&app, "Other Hooked", "other-hooks@example.com").await;
        let page = s.agent.get("/portal/webhooks").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("id=\"no-webhooks\""));
        let csrf = csrf_of(&page.body).unwrap();

        // Without the token, or with the other session's: 403, nothing registered.
        let theirs = csrf_of(&other.agent.get("/portal/webhooks").await.body).unwrap();
        for token in [None, Some(theirs.as_str())] {
            let mut form = vec![("url", "http://127.0.0.1:9/hook"), ("events", "activation.active")];
            if let Some(t) = token {
                form.push(("csrf_token", t));
            }
            let res = s.agent.post("/portal/webhooks", &form).await;
            assert_eq!(res.status, 403, "{token:?}: {}", res.body);
        }
        assert!(s.agent.get("/portal/webhooks").await.body.contains("id=\"no-webhooks\""));

        let bad = s.agent.post("/portal/webhooks", &[("csrf_token", &csrf), ("url", "ftp://x.example/")]).await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        assert!(bad.body.contains("id=\"error\""));
        let made = s.agent.post("/portal/webhooks", &[("csrf_token", &csrf), ("url", "http://127.0.0.1:9/hook")]).await;
        assert_eq!(made.status, 200, "{}", made.body);
        let secret = by_id(&made.body, "webhook-secret").unwrap();
        assert!(secret.starts_with("whsec_"), "{secret}");
        let listed = s.agent.get("/portal/webhooks").await;
        assert!(listed.body.contains("http://127.0.0.1:9/hook") && !listed.body.contains(&secret), "shown once");
        let (_, id) = listed.body.split_once("id=\"webhook-").unwrap();
        let id: String = id.chars().take_while(char::is_ascii_digit).collect();
        assert!(!app.logs().contains(&secret), "never logged");

        // Another partner's user cannot delete it, nor see it.
        let page = other.agent.get("/portal/webhooks").await;
        assert!(!page.body.contains("127.0.0.1:9/hook"));
        let res = other.agent.post(&format!("/portal/webhooks/{id}/delete"), &[("csrf_token", &theirs)]).await;
        assert_eq!(res.status, 403, "{}", res.body);
        let res = other.agent.post(&format!("/portal/webhooks/{id}/deliveries/1/replay"), &[("csrf_token", &theirs)]).await;
        assert_eq!(res.status, 403, "{}", res.body);
        let res = s.agent.post(&format!("/portal/webhooks/{id}/delete"), &[]).await;
        assert_eq!(res.status, 403, "no token: {}", res.body);
        assert!(s.agent.get("/portal/webhooks").await.body.contains("127.0.0.1:9/hook"));

        let res = s.agent.post(&format!("/portal/webhooks/{id}/delete"), &[("csrf_token", &csrf)]).await;
        assert_eq!((res.status.as_u16(), res.location.as_deref()), (303, Some("/portal/webhooks")));
        assert!(s.agent.get("/portal/webhooks").await.body.contains("id=\"no-webhooks\""));
    }
}
