//! The benchmark floor route: `GET /bench/hello` exists only with the hidden
//! `serve --bench-routes` flag, and goes through the conventions layer.

use crate::common::{Db, Opts, TestApp};
use reqwest::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_only_with_the_flag() {
    let app = TestApp::spawn(Db::sqlite()).await;
    let res = app
        .request(Method::GET, "/bench/hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let app = TestApp::spawn_with(Db::sqlite(), Opts::default().arg("--bench-routes")).await;
    let res = app
        .request(Method::GET, "/bench/hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), r#"{"hello":"world"}"#);
    // The conventions apply: a trailing slash and ?pretty reach it too.
    let res = app
        .request(Method::GET, "/bench/hello/?pretty=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "{\n    \"hello\": \"world\"\n}");
}

#[test]
fn flag_hidden_from_help() {
    let out = std::process::Command::new(crate::common::BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--listen"), "{help}");
    assert!(!help.contains("bench"), "{help}");
}
