//! Hostile input the fuzzer found or could reach: every answer is a
//! catalogued error (or, on the browser page, an HTML page), never axum's
//! plain-text rejections.

use reqwest::Method;

use crate::common::{json, Db, TestApp};

/// Found by .ci/fuzz-style probing: a site segment whose percent-decoding
/// is not UTF-8 was answered 400 `text/plain` "Invalid URL: ...".
#[tokio::test]
async fn a_site_segment_that_is_not_utf8_is_invalid_site() {
    let app = TestApp::spawn(Db::sqlite()).await;
    let partner = app.partner("hostile").await;
    for (method, path) in [
        (Method::POST, "/rest/v1.3/jpphp/%FF/partner-cancel"),
        (Method::GET, "/rest/v1.4/jpphp/%FF/status"),
        (Method::GET, "/rest/v1.3/jpphp/%C3/status"),
        (Method::GET, "/rest/v1.3/jpphp/%FF/upgrade-paths"),
        (Method::POST, "/rest/v1.3/jpphp/%FF/partner-provision"),
        (Method::POST, "/rest/v1.3/jpphp/%FF/ssh-credentials"),
        (
            Method::POST,
            "/rest/v1.3/jpphp/ex%E9ample.com/ftp-credentials",
        ),
    ] {
        let res = app
            .request(method.clone(), path)
            .bearer_auth(&partner.token)
            .send()
            .await
            .unwrap();
        let (status, body) = json(res).await;
        let err = crate::common::assert_error(status, &body, 400, "invalid_site");
        assert_eq!(
            err.message, "The site in the path is not a valid site identifier",
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn an_authorization_link_that_is_not_utf8_is_unknown() {
    let app = TestApp::spawn(Db::sqlite()).await;
    for method in [Method::GET, Method::POST] {
        let res = app
            .request(method.clone(), "/authorize/%FF%FE")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{method}");
        let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(
            content_type.starts_with("text/html"),
            "{method}: {content_type}"
        );
    }
}
