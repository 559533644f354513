//! Issue 3: every activation state change is written to the append-only
//! event log, read here straight from the test's database.

use jpstart_types::wire::{AdminActivation, CancelResponse};
use sqlx::Row;

use crate::authorize::{approve, page, pending};
use crate::common::*;
use crate::pending_expiry::eventually;
use crate::rawdb;

/// (activation, from, to, actor) of every event, in order.
type Event = (i64, Option<String>, String, String);

async fn events(db: &Db) -> Vec<Event> {
    let mut conn = rawdb::connect(db).await;
    sqlx::query("SELECT activation_id, from_state, to_state, actor, at FROM events ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r.get::<i64, _>("at") > 0);
            (
                r.get("activation_id"),
                r.get("from_state"),
                r.get("to_state"),
                r.get("actor"),
            )
        })
        .collect()
}

fn ev(id: i64, from: Option<&str>, to: &str, actor: &str) -> Event {
    (
        id,
        from.map(str::to_string),
        to.to_string(),
        actor.to_string(),
    )
}

fn id_of(list: &[AdminActivation], site: &str, product: &str) -> i64 {
    let a = list
        .iter()
        .find(|a| a.site == site && a.product == product)
        .unwrap_or_else(|| panic!("{site}/{product} not in {list:?}"));
    i64::try_from(a.id).unwrap()
}

both_backends! {
    async fn one_event_per_transition_and_no_rewriting_history(db: Db) {
        // On the test clock: the expiry step without waiting 14 days.
        let app = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let p = app.partner("Host").await;
        let key = format!("key:{}", p.key_id);
        let (site, other) = ("events.example", "expires.example");

        // provision → pending
        pending(&app, &p.token, "https://events.example", "personal").await;
        // supersede: pending personal → superseded, premium → pending
        let link = pending(&app, &p.token, "https://events.example", "premium").await;
        // approve: pending → active
        let (status, _, _) = page(approve(&link, None).await).await;
        assert_eq!(status, 303);
        // cancel: active → cancelled
        let (status, body) = app.cancel(&p.token, site, &[]).await;
        assert!(ok::<CancelResponse>(status, &body).success, "{status} {body}");
        // expire: pending → expired
        pending(&app, &p.token, "https://expires.example", "jetpack-scan").await;
        app.advance_clock("15d");
        eventually("the short-lived activation expires", || async {
            let list = app.activations(&["--site", other]);
            (list[0].state == "expired").then_some(())
        })
        .await;

        let list = app.activations(&[]);
        let personal = id_of(&list, site, "personal");
        let premium = id_of(&list, site, "premium");
        let scan = id_of(&list, other, "jetpack-scan");
        let mut log = events(&app.db).await;
        let want = vec![
            ev(personal, None, "pending", &key),
            ev(personal, Some("pending"), "superseded", &key),
            ev(premium, None, "pending", &key),
            ev(premium, Some("pending"), "active", "site-owner"),
            ev(premium, Some("active"), "cancelled", &key),
            ev(scan, None, "pending", &key),
            ev(scan, Some("pending"), "expired", "system"),
        ];
        // Compared per activation (a stable sort keeps each one's order):
        // a supersede and the new activation are one step, either order.
        log.sort_by_key(|e| e.0);
        assert_eq!(log, want);
        // Each transition matches the activation's final state.
        for (id, state) in [(personal, "superseded"), (premium, "cancelled"), (scan, "expired")] {
            let row = list.iter().find(|a| i64::try_from(a.id).unwrap() == id).unwrap();
            assert_eq!(row.state, state, "{row:?}");
        }

        // The log is append-only: the database refuses to rewrite or delete it.
        let mut conn = rawdb::connect(&app.db).await;
        let update = sqlx::query("UPDATE events SET to_state = 'active' WHERE activation_id = $1")
            .bind(scan)
            .execute(&mut conn)
            .await;
        let err = update.expect_err("UPDATE on events must fail").to_string();
        assert!(err.contains("append-only"), "{err}");
        let delete = sqlx::query("DELETE FROM events").execute(&mut conn).await;
        let err = delete.expect_err("DELETE on events must fail").to_string();
        assert!(err.contains("append-only"), "{err}");
        drop(conn);
        let mut after = events(&app.db).await;
        after.sort_by_key(|e| e.0);
        assert_eq!(after, want, "the log changed");
    }
}
