//! Webhooks (SPEC §10): registration with a cap, the outbox filled in the
//! transaction of a change, claims that exclude each other until their
//! lease runs out, attempts recorded only under their claim, replay.

use jpstart_server::store::{Attempt, AttemptNext, NewWebhook};
use jpstart_types::webhooks::{DeliveryStatus, EventType};

use crate::*;

contract!(webhook_registration_and_the_outbox);
contract!(webhook_claims_exclude_each_other);

fn new_hook(partner: PartnerId, events: &[EventType]) -> NewWebhook {
    NewWebhook {
        partner_id: partner,
        url: "https://hooks.example.com/x".into(),
        events: events.to_vec(),
        now: ts(T0),
        max_endpoints: 2,
    }
}

fn sealed(id: i64) -> Vec<u8> {
    format!("sealed-{id}").into_bytes()
}

async fn webhook_registration_and_the_outbox(fx: Fx) {
    let s = &fx.store;
    let (partner, key) = fx.key(&[]).await;
    let (other, other_key) = fx.key(&[]).await;
    let all = new_hook(partner, EventType::ALL);
    let a = s.create_webhook(&all, &sealed).await.unwrap().unwrap();
    let b = s
        .create_webhook(
            &new_hook(partner, &[EventType::ActivationCancelled]),
            &sealed,
        )
        .await
        .unwrap()
        .unwrap();
    // At the cap.
    assert!(s.create_webhook(&all, &sealed).await.unwrap().is_none());
    assert_eq!(s.webhooks(partner).await.unwrap().len(), 2);
    assert!(s.webhooks(other).await.unwrap().is_empty());

    // A pending provision: one delivery, to the endpoint that wants it.
    fx.provision(key, "https://hooked.example.com", Some("personal"), T0)
        .await
        .unwrap();
    fx.provision(other_key, "https://other.example.com", Some("personal"), T0)
        .await
        .unwrap();
    let log = s
        .webhook_deliveries(partner, a.id, 100, 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].kind, EventType::ActivationPending);
    assert_eq!(log[0].status, DeliveryStatus::Pending);
    assert!(log[0].event_id.starts_with("evt_"));
    assert!(s
        .webhook_deliveries(partner, b.id, 100, 0)
        .await
        .unwrap()
        .unwrap()
        .is_empty());
    // Another partner's endpoint is not found through this partner.
    assert!(s
        .webhook_deliveries(other, a.id, 100, 0)
        .await
        .unwrap()
        .is_none());
    assert_eq!(s.webhook_queue().await.unwrap().pending, 1);

    // Deleting gives up what is pending and hides the endpoint.
    assert!(!s.delete_webhook(other, a.id, ts(T0)).await.unwrap());
    assert!(s.delete_webhook(partner, a.id, ts(T0)).await.unwrap());
    assert!(!s.delete_webhook(partner, a.id, ts(T0)).await.unwrap());
    assert_eq!(s.webhook_queue().await.unwrap().pending, 0);
    assert!(s
        .webhook_deliveries(partner, a.id, 100, 0)
        .await
        .unwrap()
        .is_none());
    assert!(s.create_webhook(&all, &sealed).await.unwrap().is_some());
}

async fn webhook_claims_exclude_each_other(fx: Fx) {
    let s = &fx.store;
    let (partner, key) = fx.key(&[]).await;
    let hook = s
        .create_webhook(&new_hook(partner, EventType::ALL), &sealed)
        .await
        .unwrap()
        .unwrap();
    for i in 0..3 {
        fx.provision(
            key,
            &format!("https://c{i}.example.com"),
            Some("personal"),
            T0,
        )
        .await
        .unwrap();
    }
    let lease = ts(T0 + 30_000);
    let first = s.claim_deliveries(ts(T0), lease, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].secret_sealed, sealed(hook.id));
    assert_eq!(first[0].attempts, 1);
    assert!(first[0].body.contains("\"type\":\"activation.pending\""));
    // The rest, once; claimed ones stay out until the lease runs out.
    let second = s.claim_deliveries(ts(T0), lease, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert!(s
        .claim_deliveries(ts(T0 + 1), lease, 10)
        .await
        .unwrap()
        .is_empty());

    // An attempt is recorded under its claim only.
    let delivered = Attempt {
        status: Some(200),
        latency_ms: 5,
        error: None,
        next: AttemptNext::Delivered,
    };
    assert!(s
        .record_attempt(&first[0], &delivered, ts(T0 + 10))
        .await
        .unwrap());
    assert!(!s
        .record_attempt(&first[0], &delivered, ts(T0 + 10))
        .await
        .unwrap());
    let retry = Attempt {
        status: Some(500),
        latency_ms: 5,
        error: Some("answered 500".into()),
        next: AttemptNext::RetryAt(ts(T0 + 1_000)),
    };
    assert!(s
        .record_attempt(&first[1], &retry, ts(T0 + 10))
        .await
        .unwrap());
    assert!(s
        .claim_deliveries(ts(T0 + 999), lease, 10)
        .await
        .unwrap()
        .is_empty());
    let again = s.claim_deliveries(ts(T0 + 1_000), lease, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[1].id);
    assert_eq!(again[0].attempts, 2);

    // A claim that died with its server is taken again after its lease.
    let retaken = s
        .claim_deliveries(ts(T0 + 30_000), ts(T0 + 60_000), 10)
        .await
        .unwrap();
    let ids: Vec<i64> = retaken.iter().map(|d| d.id).collect();
    assert!(
        ids.contains(&second[0].id) && ids.contains(&first[1].id),
        "{ids:?}"
    );

    // Replay: a delivered one is pending again, due now.
    let replayed = s
        .replay_delivery(partner, hook.id, first[0].id, ts(T0 + 70_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replayed.status, DeliveryStatus::Pending);
    let due = s
        .claim_deliveries(ts(T0 + 70_000), ts(T0 + 99_000), 10)
        .await
        .unwrap();
    assert!(due.iter().any(|d| d.id == first[0].id));
    assert!(s
        .replay_delivery(partner, hook.id, 999_999, ts(T0))
        .await
        .unwrap()
        .is_none());
    let queue = s.webhook_queue().await.unwrap();
    assert_eq!(queue.pending, 3);
    assert_eq!(queue.oldest_pending, Some(ts(T0)));
}
