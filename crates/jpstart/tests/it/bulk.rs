//! Issue: partner side — `jpstart bulk`: 1,000 rows, a run killed half way
//! and resumed (nothing provisioned twice), malformed rows, cancel.

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::cli::{jpstart, partner_env};
use crate::common::*;

fn write_sites(path: &Path, n: usize) {
    let mut text = String::from("siteurl,local_user,plan,partner_tracking_id\n");
    for i in 0..n {
        text.push_str(&format!(
            "https://site{i}.example.com/wp,admin,premium,row-{i}\n"
        ));
    }
    std::fs::write(path, text).unwrap();
}

/// The results file's records (header excluded).
fn results(path: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    let width = r.headers().unwrap().len();
    // A SIGKILL can tear the last line mid-write; the resume ignores such a
    // fragment (it is not a finished row), and so do these checks.
    r.records()
        .filter_map(Result::ok)
        .filter(|rec| rec.len() == width)
        .collect()
}

/// Activations per (site, product), asserting none is doubled.
fn assert_each_once(app: &TestApp, n: usize) {
    let acts = app.activations(&[]);
    let distinct: HashSet<(String, String)> = acts
        .iter()
        .map(|a| (a.site.clone(), a.product.clone()))
        .collect();
    assert_eq!(acts.len(), n, "activations");
    assert_eq!(distinct.len(), n, "one activation per site");
}

both_backends! {
    async fn a_thousand_rows(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("sites.csv");
        write_sites(&input, 1000);
        let run = jpstart(&["bulk", "provision", "--csv", input.to_str().unwrap()], &partner_env(&app, &p)).await;
        assert_eq!(run.code, 0, "{}", &run.stderr[run.stderr.len().saturating_sub(2000)..]);
        assert!(run.stderr.contains("1000 rows: 1000 ok"), "summary: {}", &run.stderr[run.stderr.len().saturating_sub(500)..]);
        // Not a terminal: plain progress lines.
        assert!(run.stderr.contains("1000/1000 line "), "progress lines");
        assert_each_once(&app, 1000);
        let rows = results(&dir.path().join("sites.csv.results.csv"));
        assert_eq!(rows.len(), 1000);
        assert!(rows.iter().all(|r| &r[6] == "ok" && !r[9].is_empty()), "outcome ok and a blog id");
        // A second run without --resume refuses to overwrite the results.
        let again = jpstart(&["bulk", "provision", "--csv", input.to_str().unwrap()], &partner_env(&app, &p)).await;
        assert_eq!(again.code, 2, "{}", again.stderr);
    }

    async fn killed_half_way_then_resumed(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("sites.csv");
        let out = dir.path().join("out.csv");
        write_sites(&input, 1000);
        let args = ["bulk", "provision", "--csv", input.to_str().unwrap(), "--results", out.to_str().unwrap(), "--concurrency", "2"];

        let mut child = tokio::process::Command::new(BIN)
            .args(args)
            .env("JPSTART_API_URL", &app.base)
            .env("JPSTART_PARTNER_ID", &p.client_id)
            .env("JPSTART_PARTNER_SECRET", &p.client_secret)
            .env_remove("JPSTART_TOKEN")
            .env_remove("JETPACK_START_API_HOST")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let done = std::fs::read_to_string(&out).map(|t| t.lines().count().saturating_sub(1)).unwrap_or(0);
            if done >= 500 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "only {done} rows after 120 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.start_kill().unwrap(); // SIGKILL
        let status = child.wait().await.unwrap();
        assert!(!status.success(), "killed, not finished");
        let recorded = results(&out).len();
        assert!((500..1000).contains(&recorded), "{recorded} rows recorded at the kill");

        let run = jpstart(&[&args[..], &["--resume"]].concat(), &partner_env(&app, &p)).await;
        assert_eq!(run.code, 0, "{}", &run.stderr[run.stderr.len().saturating_sub(2000)..]);
        assert!(run.stderr.contains("already done"), "{}", &run.stderr[run.stderr.len().saturating_sub(500)..]);

        assert_each_once(&app, 1000);
        let rows = results(&out);
        let lines: HashSet<&str> = rows.iter().map(|r| r.get(0).unwrap()).collect();
        assert_eq!(rows.len(), 1000, "every row once in the results");
        assert_eq!(lines.len(), 1000);
        assert!(rows.iter().all(|r| &r[6] == "ok"));
    }

    async fn bad_rows_are_reported_and_skipped(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let env = partner_env(&app, &p);
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("sites.csv");
        std::fs::write(
            &input,
            "siteurl,local_user,plan,ssh_user,ssh_pass\n\
             https://a.example.com,admin,premium,,\n\
             https://b.example.com,admin,premium,extra,field,here\n\
             ,admin,premium,,\n\
             https://c.example.com,admin,bogus,,\n\
             https://d.example.com,admin,personal,deploy,hunter2\n",
        )
        .unwrap();
        let run = jpstart(&["bulk", "provision", "--csv", input.to_str().unwrap(), "--concurrency", "2"], &env).await;
        assert_eq!(run.code, 1, "not every row succeeded: {}", run.stderr);
        assert!(run.stderr.contains("line 3: malformed row skipped: expected 5 fields, found 6"), "{}", run.stderr);
        assert!(run.stderr.contains("line 4: malformed row skipped"), "{}", run.stderr);
        assert!(run.stderr.contains("5 rows: 2 ok, 0 noop, 1 error, 0 failed, 2 malformed"), "{}", run.stderr);
        let out = dir.path().join("sites.csv.results.csv");
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(!text.contains("hunter2"), "secrets are not copied into the results");
        let rows = results(&out);
        let by_line = |l: &str| rows.iter().find(|r| &r[0] == l).unwrap().clone();
        assert_eq!((&by_line("5")[7], &by_line("5")[8]), ("error", "invalid_plan"));
        assert_eq!(&by_line("3")[7], "malformed");
        assert_eq!(app.activations(&[]).len(), 2);

        // Resume: nothing left to do, nothing sent again.
        let run = jpstart(&["bulk", "provision", "--csv", input.to_str().unwrap(), "--resume"], &env).await;
        assert!(run.stderr.contains("5 already done"), "{}", run.stderr);
        assert_eq!(results(&out).len(), 5);

        // Unknown columns stop the run before anything is sent.
        let typo = dir.path().join("typo.csv");
        std::fs::write(&typo, "site_url,local_user\nhttps://e.example.com,admin\n").unwrap();
        let run = jpstart(&["bulk", "provision", "--csv", typo.to_str().unwrap()], &env).await;
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("site_url"), "{}", run.stderr);
    }

    async fn bulk_cancel(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let env = partner_env(&app, &p);
        for i in 0..3 {
            let url = format!("https://s{i}.example.com");
            let (status, body) = app.provision(&p.token, &[("siteurl", &url), ("local_user", "admin"), ("plan", "premium")]).await;
            assert_eq!(status, 200, "{body}");
        }
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("cancel.csv");
        std::fs::write(
            &input,
            "site,plan,cancel-all\n\
             https://s0.example.com,premium,\n\
             s1.example.com,,1\n\
             s2.example.com,,\n\
             s2.example.com,,\n\
             999999,,\n",
        )
        .unwrap();
        let run = jpstart(&["bulk", "cancel", "--csv", input.to_str().unwrap()], &env).await;
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains("5 rows: 3 ok, 1 noop, 1 error"), "{}", run.stderr);
        let acts = app.activations(&[]);
        assert!(acts.iter().all(|a| a.state == "cancelled"), "{acts:?}");
        let rows = results(&dir.path().join("cancel.csv.results.csv"));
        let last = rows.iter().find(|r| &r[0] == "6").unwrap();
        assert_eq!((&last[5], &last[6]), ("error", "invalid_blog"));
    }
}
