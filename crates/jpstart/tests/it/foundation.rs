//! Issue: server foundation (SPEC §2, §3, §6).

use crate::common::*;

both_backends! {
    async fn token_and_verify(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        assert_eq!(p.token.len(), 64);
        assert!(p.token.bytes().all(|b| b.is_ascii_alphanumeric()));
        let (status, body) = json(app.post("/rest/v1.3/jpphp/partner-keys/verify", &p.token).send().await.unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(body, serde_json::json!({"success": true}));
    }
}
