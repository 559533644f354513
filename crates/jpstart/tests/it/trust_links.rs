//! Issue 12, finding 3 (SPEC §11): an authorization link approves for the
//! partner that requested it. Approving connects the site and activates
//! that partner's pending activations (every key of it); another partner's
//! wait for their own link or the operator. The form carries an
//! anti-forgery token bound to the link, and a cross-origin POST is refused.

use reqwest::StatusCode;

use crate::authorize::{approve, assert_see_other, form_token, no_redirects, page, pending};
use crate::common::*;

const SITE: &str = "victim.example";
const URL: &str = "https://victim.example";
/// Where an approval sends the owner (issue 13: the site's `wp-admin/`).
const ADMIN: &str = "https://victim.example/wp-admin/";

/// Form fields or headers of a POST.
type Fields<'a> = Vec<(&'a str, &'a str)>;

/// The state of each activation of the site, by product.
fn states(app: &TestApp) -> Vec<(String, String)> {
    app.activations(&["--site", SITE])
        .into_iter()
        .map(|r| (r.product, r.state))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// A POST of the form with these fields and headers.
async fn post_form(
    link: &str,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut req = no_redirects().post(link).form(form);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (status, _, html) = page(req.send().await.unwrap()).await;
    (status, html)
}

both_backends! {
    async fn another_partners_approval_does_not_activate_yours(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Host A").await;
        let a2 = app.key(a.partner_id, &[]).await;
        let b = app.partner("Host B").await;
        let link_a = pending(&app, &a.token, URL, "premium").await;
        // Another key of A's: approved by A's link as well.
        let (status, body) = app.provision(&a2.token, &[("siteurl", URL), ("local_user", "admin"), ("plan", "jetpack-backup-realtime")]).await;
        assert_eq!(status, 200, "{body}");
        // B provisions nothing to A's customer's site and approves its own link.
        let (status, body) = app.provision(&b.token, &[("siteurl", URL), ("local_user", "admin")]).await;
        assert_eq!(status, 200, "{body}");
        let link_b = body["next_url"].as_str().unwrap().to_string();
        let (status, _, shown) = page(app.client.get(&link_b).send().await.unwrap()).await;
        assert_eq!(status, 200, "{shown}");
        assert_see_other(&approve(&link_b, None).await, ADMIN);
        assert_eq!(
            states(&app),
            pairs(&[("premium", "pending"), ("jetpack-backup-realtime", "pending")]),
            "B's approval billed A"
        );
        assert!(!shown.contains("<code>premium</code>"), "B's page offers only B's activations: {shown}");
        // A's retry of its pending provision hands out a link again, which
        // replaces A's earlier one (one link per site and key).
        let (status, body) = app.provision(&a.token, &[("siteurl", URL), ("local_user", "admin"), ("plan", "premium")]).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["auth_required"], true, "{body}");
        let relink_a = body["next_url"].as_str().unwrap().to_string();
        assert_ne!(relink_a, link_a);
        let (status, _, _) = page(app.client.get(&link_a).send().await.unwrap()).await;
        assert_eq!(status, 404, "the replaced link");
        // Positive control: A's own link activates every pending one of A's.
        assert_see_other(&approve(&relink_a, None).await, ADMIN);
        assert_eq!(states(&app), pairs(&[("premium", "active"), ("jetpack-backup-realtime", "active")]));
    }

    async fn the_link_of_each_partner_activates_its_own_and_the_operator_all(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Host A").await;
        let b = app.partner("Host B").await;
        let link_a = pending(&app, &a.token, URL, "premium").await;
        let link_b = pending(&app, &b.token, URL, "jetpack-backup-realtime").await;
        assert_see_other(&approve(&link_b, None).await, ADMIN);
        assert_eq!(states(&app), pairs(&[("premium", "pending"), ("jetpack-backup-realtime", "active")]));
        // A's link is still valid after B's approval.
        assert_see_other(&approve(&link_a, None).await, ADMIN);
        assert_eq!(states(&app), pairs(&[("premium", "active"), ("jetpack-backup-realtime", "active")]));

        // The operator's connect still activates everything pending.
        let other = "operator.example";
        pending(&app, &a.token, "https://operator.example", "premium").await;
        pending(&app, &b.token, "https://operator.example", "jetpack-backup-realtime").await;
        app.admin(&["site", "connect", other]).unwrap();
        let rows = app.activations(&["--site", other]);
        assert_eq!(rows.len(), 2, "{rows:?}");
        for row in rows {
            assert_eq!(row.state, "active", "{row:?}");
        }
    }

    async fn forged_approvals_are_refused_and_change_nothing(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Host A").await;
        let link = pending(&app, &a.token, URL, "premium").await;
        let other = pending(&app, &a.token, "https://other.example", "premium").await;
        let origin = app.base.clone();
        let referer = format!("{}/somewhere", app.base);
        // What a forging page can send: no token, a made-up one.
        let tokenless: Vec<(Fields, Fields)> = vec![
            (vec![], vec![]),
            (vec![], vec![("origin", "https://evil.example")]),
            (vec![("form_token", "x")], vec![("origin", origin.as_str())]),
        ];
        for (form, headers) in &tokenless {
            let (status, html) = post_form(&link, form, headers).await;
            assert_eq!(status, 403, "{form:?} {headers:?}: {html}");
            assert!(html.contains("id=\"refusal\""), "{html}");
        }
        let token = form_token(&link).await.expect("the form carries an anti-forgery token");
        let other_token = form_token(&other).await.unwrap();
        assert_ne!(token, other_token, "bound to the link");
        let refused: Vec<(Fields, Fields)> = vec![
            // Another link's token.
            (vec![("form_token", other_token.as_str())], vec![]),
            // The right token, from another origin.
            (vec![("form_token", token.as_str())], vec![("origin", "https://evil.example")]),
            (vec![("form_token", token.as_str())], vec![("origin", "null")]),
            (vec![("form_token", token.as_str())], vec![("referer", "https://evil.example/page")]),
            (vec![("form_token", token.as_str())], vec![("origin", "https://evil.example"), ("referer", referer.as_str())]),
        ];
        for (form, headers) in &refused {
            let (status, html) = post_form(&link, form, headers).await;
            assert_eq!(status, 403, "{form:?} {headers:?}: {html}");
            assert!(html.contains("id=\"refusal\""), "{html}");
        }
        assert_eq!(states(&app)[0].1, "pending", "nothing changed");
        let st = app.status_ok(&a.token, SITE).await;
        assert!(!st.blog.is_connected, "{st:?}");
        // Positive control: same origin, the right token.
        let mut req = no_redirects().post(&link).form(&[("form_token", &token)]);
        req = req.header("origin", &origin).header("referer", &referer);
        assert_see_other(&req.send().await.unwrap(), ADMIN);
        assert_eq!(states(&app)[0].1, "active");
    }
}
