//! Issue 4: a cancellation that fails part way answers `invalid_input` and
//! leaves nothing half-done. The fault is real: a trigger installed in the
//! test's own database makes the server's second UPDATE fail.

use jpstart_types::wire::CancelResponse;
use serde_json::json;

use crate::common::*;
use crate::lifecycle::*;

both_backends! {
    async fn failure_in_the_middle_changes_nothing(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let site = "example.com::faulty";
        // Three live activations, cancelled in id order: personal, then scan.
        provision_ok(&app, &p.token, "example.com/faulty", "personal").await;
        provision_ok(&app, &p.token, "example.com/faulty", "jetpack-scan").await;
        app.admin(&["site", "connect", site]).unwrap();
        provision_ok(&app, &p.token, "example.com/faulty", "jetpack-backup-realtime").await;
        let before = activations(&app, site);
        let live = |app: &TestApp| states(app, site).iter().filter(|s| s.1 == "active").count();
        assert_eq!(live(&app), 3);
        let cancel_events = "SELECT COUNT(*) FROM events WHERE to_state = 'cancelled'";
        assert_eq!(count(&app.db, cancel_events).await, 0);

        let fault = inject(&app.db, Fault::CancelOf("jetpack-scan")).await;
        let (status, body) = app.cancel(&p.token, site, &[("cancel-all", "1")]).await;
        let err = assert_error(status, &body, 400, "invalid_input");
        assert_eq!(err.message, "Unable to delete subscription");
        // Everything as it was: rows (personal was updated before the fault,
        // and rolled back) and the event log.
        assert_eq!(activations(&app, site), before);
        assert_eq!(count(&app.db, cancel_events).await, 0);
        assert_eq!(app.status_ok(&p.token, site).await.products.len(), 3);
        // The cause is logged, never sent.
        assert!(!body.to_string().contains("injected"));
        // (stderr is read by another task: give it a moment.)
        let mut logged = false;
        for _ in 0..100 {
            logged = app.logs().contains("injected fault");
            if logged {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(logged, "{}", app.logs());

        // A single cancel that does not reach the fault still works ...
        let (_, body) = app.cancel(&p.token, site, &[("plan", "jetpack-backup-realtime")]).await;
        assert_eq!(body, json!({"success": true}));
        // ... one that does fails alone.
        let (status, body) = app.cancel(&p.token, site, &[("plan", "jetpack-scan")]).await;
        assert_error(status, &body, 400, "invalid_input");
        assert_eq!(count(&app.db, cancel_events).await, 1);

        // Repaired: the retry finishes the job.
        fault.remove(&app.db).await;
        let res = app.cancel_ok(&p.token, site, &[("cancel-all", "1")]).await;
        let cancelled: Vec<&str> = res.activations.iter().flatten().map(|a| a.product.as_str()).collect();
        assert_eq!(cancelled, ["personal", "jetpack-scan"]);
        assert_eq!(live(&app), 0);
        assert_eq!(count(&app.db, cancel_events).await, 3);
    }
}

both_backends! {
    /// The state change and its event are one transaction: when the event
    /// cannot be written, the activation stays live.
    async fn event_failure_undoes_the_state_change(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        provision_ok(&app, &p.token, "events.example", "premium").await;
        let fault = inject(&app.db, Fault::CancelEvent).await;
        for fields in [&[][..], &[("plan", "premium")][..], &[("cancel-all", "1")][..]] {
            let (status, body) = app.cancel(&p.token, "events.example", fields).await;
            assert_error(status, &body, 400, "invalid_input");
            assert_eq!(states(&app, "events.example")[0].1, "pending");
        }
        fault.remove(&app.db).await;
        let (_, body) = app.cancel(&p.token, "events.example", &[]).await;
        assert_eq!(body, json!({"success": true}));
        assert_eq!(count(&app.db, "SELECT COUNT(*) FROM events WHERE to_state = 'cancelled'").await, 1);
    }
}

both_backends! {
    /// Concurrent cancels of one activation: exactly one succeeds, one event.
    async fn concurrent_cancels_cancel_once(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        provision_ok(&app, &p.token, "race.example", "premium").await;
        provision_ok(&app, &p.token, "race.example", "jetpack-backup-realtime").await;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let fields: &[(&str, &str)] = if i % 2 == 0 { &[("cancel-all", "1")] } else { &[] };
                let req = app.post("/rest/v1.3/jpphp/race.example/partner-cancel", &p.token).form(fields);
                tokio::spawn(async move { json(req.send().await.unwrap()).await })
            })
            .collect();
        let mut cancelled = Vec::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            let res: CancelResponse = ok(status, &body);
            for a in res.activations.iter().chain(&res.pending_activations).flatten() {
                cancelled.push(a.product.clone());
            }
            if res.success && res.activations.is_none() {
                cancelled.push("premium".into());
            }
        }
        cancelled.sort();
        assert_eq!(cancelled, ["jetpack-backup-realtime", "premium"]);
        assert_eq!(count(&app.db, "SELECT COUNT(*) FROM events WHERE to_state = 'cancelled'").await, 2);
    }
}

both_backends! {
    /// The background expiry sweep must not slip in between a cancel's
    /// reading of the live activations and its update of them: a cancel that
    /// saw a pending activation still live cancels it, it does not fail.
    /// (PostgreSQL only: SQLite's write transactions exclude each other
    /// outright, and SQLite has no way to make a statement slow.)
    async fn expiry_sweep_waits_for_a_cancel(db: Db) {
        if db.backend == Backend::Sqlite {
            return;
        }
        let app = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let p = app.partner("Acme").await;
        provision_ok(&app, &p.token, "sweep.example", "personal").await;
        app.admin(&["site", "connect", "sweep.example"]).unwrap();
        // Dropping the connection makes the next product pending.
        provision_with(&app, &p.token, "sweep.example", "jetpack-scan", &[("force_connect", "1")]).await;
        // Writing the first cancel event (the active plan's) takes 3 s. A
        // second into it the clock moves past the scan's expiry (the cancel
        // started before: for it, the scan is live), and the sweep (every
        // second) runs meanwhile.
        execute(&app.db, "CREATE FUNCTION test_slow() RETURNS trigger LANGUAGE plpgsql AS \
            $$ BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$").await;
        execute(&app.db, "CREATE TRIGGER test_slow BEFORE INSERT ON events FOR EACH ROW \
            WHEN (NEW.to_state = 'cancelled' AND NEW.from_state = 'active') EXECUTE FUNCTION test_slow()").await;
        let cancel = app.cancel_ok(&p.token, "sweep.example", &[("cancel-all", "1")]);
        let move_clock = async {
            // Process timing: let the cancel reach its slow insert first.
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            app.advance_clock("15d");
        };
        let (res, ()) = tokio::join!(cancel, move_clock);
        assert_eq!(res.activations.as_ref().unwrap()[0].product, "personal", "{res:?}");
        assert_eq!(res.pending_activations.as_ref().unwrap()[0].product, "jetpack-scan", "{res:?}");
        assert_eq!(states(&app, "sweep.example"), [
            ("personal".into(), "cancelled".into(), Some(p.key_id)),
            ("jetpack-scan".into(), "cancelled".into(), Some(p.key_id)),
        ]);
    }
}
