//! The operator's configuration reaching every command: `admin` reads the
//! same `--catalog` / `JPSTART_CATALOG` as `serve`.

use crate::common::*;

/// A catalogue with one plan family of its own slugs.
const CUSTOM: &str = r#"{
  "plans_family": "hosting-plans",
  "families": ["hosting-plans"],
  "products": [
    {"slug": "basic", "family": "hosting-plans", "tier": 0, "baseline": true},
    {"slug": "gold", "family": "hosting-plans", "tier": 1}
  ]
}"#;

both_backends! {
    /// `admin key create --limit` and `admin site grant --product` accept the
    /// slugs of the operator's catalogue, by flag or by environment, and
    /// refuse them without it.
    async fn admin_uses_the_operators_catalogue(db: Db) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("catalog.json");
        std::fs::write(&file, CUSTOM).unwrap();
        let file = file.to_str().unwrap().to_string();
        let app = TestApp::spawn_with(db, Opts::default().arg("--catalog").arg(&file)).await;
        let p = app.partner("Acme").await;
        let pid = p.partner_id.to_string();

        let err = app.admin(&["key", "create", "--partner", &pid, "--limit", "gold=1"]).unwrap_err();
        assert!(err.contains("is not a product"), "{err}");
        let err = app.admin(&["site", "grant", "granted.example", "--product", "gold"]).unwrap_err();
        assert!(err.contains("gold"), "{err}");

        let key = app.admin(&["--catalog", &file, "key", "create", "--partner", &pid, "--limit", "gold=1"]).unwrap();
        let token = app.token(key["client_id"].as_str().unwrap(), key["client_secret"].as_str().unwrap()).await;
        let (s, body) = app.provision(&token, &[("siteurl", "https://one.example"), ("local_user", "u"), ("plan", "gold")]).await;
        assert_eq!(s, 200, "{body}");
        let (s, body) = app.provision(&token, &[("siteurl", "https://two.example"), ("local_user", "u"), ("plan", "gold")]).await;
        assert_error(s, &body, 400, "activation_limit_reached");

        let out = std::process::Command::new(BIN)
            .args(["admin", "--database-url", &app.db.url, "site", "grant", "granted.example", "--product", "gold"])
            .env("JPSTART_CATALOG", &file)
            .env_remove("JPSTART_DATABASE_URL")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (_, status) = app.status(&p.token, "granted.example").await;
        assert_eq!(status["products"][0]["slug"], "gold", "{status}");

        // A broken catalogue is a one-line failure naming the file.
        let err = app.admin(&["--catalog", "/nonexistent/catalog.json", "activations"]).unwrap_err();
        assert!(err.starts_with("jpstart admin: catalogue /nonexistent/catalog.json:"), "{err}");
    }
}
