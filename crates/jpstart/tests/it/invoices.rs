//! Issue 14, SPEC §8: a key's invoices over HTTP — past (closed) months
//! and the upcoming one, across month boundaries driven by the test clock
//! (no sleeping), cancelled and provisioned again within a month, upgrades,
//! pending never billed, and a test key always 0.

use jpstart_types::reporting::Invoice;

use crate::common::*;
use crate::reporting::{activate, get, provision};

fn path(p: &Partner, tail: &str) -> String {
    format!(
        "/wpcom/v2/jetpack-partners/{}/key/{}/stripe/{tail}",
        p.partner_id, p.key_id
    )
}

async fn past(app: &TestApp, p: &Partner) -> Vec<Invoice> {
    let (status, body) = get(app, &p.token, &path(p, "invoices")).await;
    ok(status, &body)
}

async fn upcoming(app: &TestApp, p: &Partner) -> Invoice {
    let (status, body) = get(app, &p.token, &path(p, "upcoming-invoice")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys(&body),
        [
            "id",
            "period_start",
            "period_end",
            "currency",
            "lines",
            "total",
            "status"
        ]
    );
    if let Some(line) = body["lines"].get(0) {
        assert_eq!(
            keys(line),
            [
                "product_slug",
                "product_id",
                "quantity",
                "unit_amount",
                "amount"
            ]
        );
    }
    decode(&body)
}

/// `(slug, quantity, amount)` of each line; checks the lines sum to the total.
fn lines(inv: &Invoice) -> Vec<(String, u64, u64)> {
    assert_eq!(
        inv.lines.iter().map(|l| l.amount).sum::<u64>(),
        inv.total,
        "{inv:?}"
    );
    for l in &inv.lines {
        assert_eq!(l.amount, l.quantity * l.unit_amount, "{inv:?}");
    }
    inv.lines
        .iter()
        .map(|l| (l.product_slug.clone(), l.quantity, l.amount))
        .collect()
}

fn line(slug: &str, quantity: u64, amount: u64) -> (String, u64, u64) {
    (slug.to_string(), quantity, amount)
}

/// The same history for a billed and a test key: January, premium on
/// a.example; February, cancelled and provisioned again (billed once), a
/// pending scan on b.example that is never approved; March, upgraded to
/// professional (both tiers billed in March).
async fn history(app: &TestApp, p: &Partner, prefix: &str) {
    let a = format!("{prefix}a.example");
    app.admin(&["clock", "set", "2030-01-10T00:00:00Z"])
        .unwrap();
    activate(app, &p.token, &a, "premium").await;
    app.admin(&["clock", "set", "2030-02-05T00:00:00Z"])
        .unwrap();
    app.cancel_ok(&p.token, &a, &[]).await;
    app.admin(&["clock", "set", "2030-02-06T00:00:00Z"])
        .unwrap();
    activate(app, &p.token, &a, "premium").await;
    provision(app, &p.token, &format!("{prefix}b.example"), "jetpack-scan").await;
    app.admin(&["clock", "set", "2030-03-02T00:00:00Z"])
        .unwrap();
    activate(app, &p.token, &a, "professional").await;
}

both_backends! {
    async fn invoices_follow_the_months(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let p = app.partner("Host").await;
        // Nothing provisioned: no past invoices, an empty upcoming one.
        assert!(past(&app, &p).await.is_empty());
        let empty = upcoming(&app, &p).await;
        assert_eq!((empty.total, empty.lines.len(), empty.status.as_str()), (0, 0, "upcoming"));

        app.admin(&["clock", "set", "2030-01-10T00:00:00Z"]).unwrap();
        activate(&app, &p.token, "a.example", "premium").await;
        let jan = upcoming(&app, &p).await;
        assert_eq!(jan.id, format!("in_{}_203001", p.key_id));
        assert_eq!(
            (jan.period_start.as_str(), jan.period_end.as_str(), jan.currency.as_str()),
            ("2030-01-01 00:00:00", "2030-02-01 00:00:00", "usd")
        );
        assert_eq!(lines(&jan), [line("premium", 1, 900)]);
        assert_eq!(jan.lines[0].product_id, 2000);
        assert!(past(&app, &p).await.is_empty(), "January is not over");

        app.admin(&["clock", "set", "2030-02-05T00:00:00Z"]).unwrap();
        app.cancel_ok(&p.token, "a.example", &[]).await;
        app.admin(&["clock", "set", "2030-02-06T00:00:00Z"]).unwrap();
        activate(&app, &p.token, "a.example", "premium").await;
        provision(&app, &p.token, "b.example", "jetpack-scan").await;
        let feb = upcoming(&app, &p).await;
        assert_eq!(lines(&feb), [line("premium", 1, 900)], "re-provisioned: billed once; pending: never");
        let closed = past(&app, &p).await;
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].id.as_str(), closed[0].status.as_str()), (format!("in_{}_203001", p.key_id).as_str(), "closed"));
        assert_eq!(lines(&closed[0]), [line("premium", 1, 900)]);

        app.admin(&["clock", "set", "2030-03-02T00:00:00Z"]).unwrap();
        activate(&app, &p.token, "a.example", "professional").await;
        let mar = upcoming(&app, &p).await;
        assert_eq!(lines(&mar), [line("premium", 1, 900), line("professional", 1, 2900)]);
        assert_eq!(mar.total, 3800);
        let closed = past(&app, &p).await;
        let months: Vec<&str> = closed.iter().map(|i| i.period_start.as_str()).collect();
        assert_eq!(months, ["2030-02-01 00:00:00", "2030-01-01 00:00:00"], "newest first");
        assert_eq!(lines(&closed[0]), [line("premium", 1, 900)]);

        // Months later: every closed month is there, without gaps.
        app.admin(&["clock", "set", "2030-06-15T00:00:00Z"]).unwrap();
        let closed = past(&app, &p).await;
        let months: Vec<&str> = closed.iter().map(|i| &i.period_start[..7]).collect();
        assert_eq!(months, ["2030-05", "2030-04", "2030-03", "2030-02", "2030-01"]);
        assert_eq!(lines(&closed[0]), [line("professional", 1, 2900)]);
        assert_eq!(closed[2].total, 3800);
        assert!(closed.iter().all(|i| i.status == "closed"));
    }

    async fn a_test_key_is_never_billed(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let billed = app.partner("Host").await;
        let test = app.key(billed.partner_id, &["--test"]).await;
        history(&app, &billed, "").await;
        // The test key's sites are its own: a key cannot provision a site
        // another partner holds, but the same partner's keys share nothing here.
        app.admin(&["clock", "set", "2030-03-03T00:00:00Z"]).unwrap();
        activate(&app, &test.token, "t.example", "premium").await;
        app.admin(&["clock", "set", "2030-05-01T00:00:00Z"]).unwrap();
        let closed = past(&app, &test).await;
        assert_eq!(closed.len(), 2, "March and April");
        for inv in closed.iter().chain([&upcoming(&app, &test).await]) {
            assert_eq!(inv.total, 0, "{inv:?}");
            assert_eq!(lines(inv), [line("premium", 1, 0)]);
            assert_eq!(inv.lines[0].unit_amount, 0);
        }
        // The billed key's own are unaffected.
        let totals: Vec<u64> = past(&app, &billed).await.iter().map(|i| i.total).collect();
        assert_eq!(totals, [2900, 3800, 900, 900]);
    }
}
