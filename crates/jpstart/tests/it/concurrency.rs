//! Issue 3: limits and idempotence are exact under concurrent requests
//! (SPEC §5). The database enforces them: every provision runs in one write
//! transaction that first locks the key row and then the site row
//! (PostgreSQL `SELECT ... FOR UPDATE`; SQLite `BEGIN IMMEDIATE` on its one
//! writer connection), and a partial unique index allows one live activation
//! per site and family.

use futures_util::future::join_all;
use jpstart_types::wire::{AdminActivation, ProvisionResponse};

use crate::common::*;

/// Live (pending or active) activations in `admin activations` output.
fn live(v: &[AdminActivation], product: &str) -> usize {
    v.iter()
        .filter(|a| a.product == product && (a.state == "pending" || a.state == "active"))
        .count()
}

both_backends! {
    async fn limit_is_exact_under_40_concurrent_provisions(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let k = app.key(p.partner_id, &["--limit", "premium=5"]).await;
        let sites: Vec<String> = (0..40).map(|i| format!("https://site{i}.limit.example")).collect();
        let fields: Vec<[(&str, &str); 3]> = sites
            .iter()
            .map(|site| [("siteurl", site.as_str()), ("local_user", "admin"), ("plan", "premium")])
            .collect();
        let results = join_all(fields.iter().map(|f| app.provision(&k.token, f))).await;
        let ok = results.iter().filter(|(s, _)| *s == 200).count();
        let refused: Vec<_> = results.iter().filter(|(s, _)| *s != 200).collect();
        assert_eq!(ok, 5, "successes: {results:?}");
        assert_eq!(refused.len(), 35);
        for (status, body) in refused {
            let err = assert_error(*status, body, 400, "activation_limit_reached");
            assert_eq!(err.message, "This key has reached its activation limit for product premium");
        }
        let pid = p.partner_id.to_string();
        let acts = app.activations(&["--partner", &pid]);
        assert_eq!(live(&acts, "premium"), 5, "{acts:?}");
        assert_eq!(acts.len(), 5, "no stray activations: {acts:?}");
    }

    async fn concurrent_identical_provisions_make_one_activation(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        for (n, site) in [(2, "pair.example"), (20, "crowd.example")] {
            let url = format!("https://{site}");
            let fields = [("siteurl", url.as_str()), ("local_user", "admin"), ("plan", "premium")];
            let results = join_all((0..n).map(|_| app.provision(&p.token, &fields))).await;
            for (status, body) in &results {
                assert_eq!(*status, 200, "{body}\nlog:\n{}", app.logs());
                assert!(decode::<ProvisionResponse>(body).success, "{body}");
            }
            let acts = app.activations(&["--site", site]);
            assert_eq!(acts.len(), 1, "{n} concurrent: {acts:?}");
            assert_eq!(live(&acts, "premium"), 1);
        }
    }

    async fn concurrent_partners_on_one_site_one_wins(db: Db) {
        let app = TestApp::spawn(db).await;
        let mut partners = Vec::new();
        for i in 0..8 {
            partners.push(app.partner(&format!("P{i}")).await);
        }
        let fields = [("siteurl", "https://contested.example"), ("local_user", "admin"), ("plan", "premium")];
        let results = join_all(partners.iter().map(|p| app.provision(&p.token, &fields))).await;
        let ok = results.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(ok, 1, "{results:?}");
        for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
            assert_error(*status, body, 400, "product_owned_by_another_partner");
        }
        let acts = app.activations(&["--site", "contested.example"]);
        assert_eq!(acts.len(), 1, "{acts:?}");
    }
}
