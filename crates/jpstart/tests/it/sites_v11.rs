//! Issue 13: `GET /rest/v1.1/sites/{site_or_blog_id}` (upstream
//! determining-connection-status.md): no authentication; `"jetpack":true`
//! only for a connected site; 404 `unknown_blog` otherwise.

use reqwest::Method;

use crate::common::*;

const UNKNOWN: &str = r#"{"error":"unknown_blog","message":"Unknown blog","error_code":"unknown_blog","error_message":"Unknown blog"}"#;

async fn site(app: &TestApp, path: &str) -> (u16, String) {
    let (status, _, text) = raw(app.request(Method::GET, path).send().await.unwrap()).await;
    (status.as_u16(), text)
}

both_backends! {
    async fn sites_tell_connected_from_not_connected_and_unknown(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Acme").await;
        for path in ["/rest/v1.1/sites/nowhere.example", "/rest/v1.1/sites/987654", "/rest/v1.2/sites/nowhere.example/", "/rest/v1.1/sites/%20"] {
            assert_eq!(site(&app, path).await, (404, UNKNOWN.to_string()), "{path}");
        }
        // Below 1.1 the route does not exist.
        assert_eq!(site(&app, "/rest/v1/sites/nowhere.example").await, (404, String::new()));

        let (_, body) = app.provision(&a.token, &[("siteurl", "http://Shop.example/demo/"), ("local_user", "admin"), ("plan", "premium")]).await;
        assert_eq!(body["auth_required"], true);
        let blog = app.blog_id("shop.example::demo");
        let base = &app.base;
        let own = format!("{base}/rest/v1.1/sites/{blog}");
        let links = format!(r#""meta":{{"links":{{"self":"{own}","help":"{own}/help","posts":"{own}/posts/","comments":"{own}/comments/","xmlrpc":"http://Shop.example/demo/xmlrpc.php"}}}}"#);
        let rest = format!(r#""subscribers_count":0,"logo":{{"id":0,"sizes":[],"url":""}},"is_following":false,{links}}}"#);
        let pending = format!(r#"{{"ID":{blog},"name":"Shop.example/demo","description":"","URL":"http://Shop.example/demo",{rest}"#);
        assert_eq!(site(&app, "/rest/v1.1/sites/shop.example::demo").await, (200, pending.clone()));
        assert_eq!(site(&app, &format!("/rest/v1.1/sites/{blog}")).await, (200, pending));

        app.admin(&["site", "connect", "shop.example::demo"]).unwrap();
        let connected = format!(r#"{{"ID":{blog},"name":"Shop.example/demo","description":"","URL":"http://Shop.example/demo","jetpack":true,{rest}"#);
        assert_eq!(site(&app, &format!("/rest/v1.2/sites/{blog}")).await, (200, connected));

        // The typed client: no credentials needed.
        let client = jpstart_client::Client::builder().base_url(&app.base).build().unwrap();
        let info = client.site_info(&jpstart_client::parse_site("shop.example::demo").unwrap()).await.unwrap();
        assert_eq!((info.id, info.jetpack), (blog, Some(true)));
        let err = client.site_info(&jpstart_client::parse_site("nowhere.example").unwrap()).await.unwrap_err();
        assert!(err.to_string().contains("unknown_blog"), "{err}");

        // The endpoint's own help, as every endpoint has.
        let (status, help) = site(&app, "/rest/v1.1/sites/shop.example::demo/help").await;
        assert_eq!(status, 200, "{help}");
        assert!(help.contains("unknown_blog"));
    }
}
