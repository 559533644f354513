//! Reporting reads (SPEC §8): a key's activations page (order, paging,
//! filters, total) and its history.

use jpstart_server::domain::ActivationState;
use jpstart_server::store::ActivationQuery;

use crate::*;

contract!(
    activations_page_order_paging_and_filters,
    key_history_is_the_keys_own
);

fn query(key: KeyId) -> ActivationQuery {
    ActivationQuery {
        key_id: key,
        products: Vec::new(),
        activated_after: None,
        activated_before: None,
        limit: 20,
        offset: 0,
    }
}

/// Site A: personal (activated by the connection at T0+10), upgraded to
/// premium at T0+20; site B: premium at T0+20 too (same creation time:
/// ordered by id), pending for ever; site C: scan by another key.
async fn fixture(fx: &Fx) -> (KeyId, KeyId) {
    let (partner, key) = fx.key(&[]).await;
    let sub = fx.key_of(partner, Some(key), &[("jetpack-scan", 5)]).await;
    fx.provision(key, "https://a.example", Some("personal"), T0)
        .await
        .unwrap();
    fx.store
        .connect_site(&by_url("https://a.example"), ts(T0 + 10))
        .await
        .unwrap()
        .unwrap();
    fx.provision(key, "https://a.example", Some("premium"), T0 + 20)
        .await
        .unwrap();
    fx.provision(key, "https://b.example", Some("premium"), T0 + 20)
        .await
        .unwrap();
    fx.provision(sub, "https://c.example", Some("jetpack-scan"), T0 + 30)
        .await
        .unwrap();
    (key, sub)
}

async fn activations_page_order_paging_and_filters(fx: Fx) {
    let (key, sub) = fixture(&fx).await;
    let page = fx.store.report_activations(&query(key)).await.unwrap();
    assert_eq!(page.total, 3);
    let seen: Vec<(String, String, ActivationState)> = page
        .rows
        .iter()
        .map(|r| (r.site_url.clone(), r.product.to_string(), r.state))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "https://b.example".into(),
                "premium".into(),
                ActivationState::Pending
            ),
            (
                "https://a.example".into(),
                "premium".into(),
                ActivationState::Active
            ),
            (
                "https://a.example".into(),
                "personal".into(),
                ActivationState::Superseded
            ),
        ]
    );
    assert!(
        page.rows[0].id > page.rows[1].id,
        "same creation time: id descending"
    );
    let a = &page.rows[2];
    assert_eq!(a.key_id, key);
    assert_eq!(a.created_at, ts(T0));
    assert_eq!(a.activated_at, Some(ts(T0 + 10)));
    assert_eq!(a.ended_at, Some(ts(T0 + 20)));
    assert_eq!(a.site_created_at, ts(T0));
    assert_eq!(a.local_user.as_deref(), Some("admin"));
    assert_eq!(a.wpcom_user_id, None);
    assert_eq!(page.rows[0].activated_at, None);

    // Paging: the total stays, past the end is empty.
    let mut q = query(key);
    q.limit = 2;
    let first = fx.store.report_activations(&q).await.unwrap();
    q.offset = 2;
    let second = fx.store.report_activations(&q).await.unwrap();
    assert_eq!((first.total, first.rows.len()), (3, 2));
    assert_eq!((second.total, second.rows.len()), (3, 1));
    assert_eq!(second.rows[0].id, page.rows[2].id);
    q.offset = 100;
    let past = fx.store.report_activations(&q).await.unwrap();
    assert_eq!((past.total, past.rows.len()), (3, 0));
    q.limit = 0;
    q.offset = 0;
    assert_eq!(fx.store.report_activations(&q).await.unwrap().total, 3);

    // Products.
    let mut q = query(key);
    q.products = vec![slug("personal"), slug("jetpack-scan")];
    let only = fx.store.report_activations(&q).await.unwrap();
    assert_eq!(
        (only.total, only.rows[0].product.to_string()),
        (1, "personal".into())
    );

    // Dates: strictly after / before; never activated matches neither.
    let mut q = query(key);
    q.activated_after = Some(ts(T0 + 10));
    let after = fx.store.report_activations(&q).await.unwrap();
    assert_eq!(after.total, 1);
    assert_eq!(after.rows[0].product.to_string(), "premium");
    q.activated_after = Some(ts(0));
    assert_eq!(fx.store.report_activations(&q).await.unwrap().total, 2);
    let mut q = query(key);
    q.activated_before = Some(ts(T0 + 20));
    let before = fx.store.report_activations(&q).await.unwrap();
    assert_eq!(before.total, 1);
    assert_eq!(before.rows[0].product.to_string(), "personal");
    q.activated_before = Some(ts(T0 + 1_000_000));
    q.activated_after = Some(ts(T0 - 1));
    assert_eq!(fx.store.report_activations(&q).await.unwrap().total, 2);

    // The sub-key has a list of its own.
    let subs = fx.store.report_activations(&query(sub)).await.unwrap();
    assert_eq!(subs.total, 1);
    assert_eq!(subs.rows[0].product.to_string(), "jetpack-scan");
    let none = fx
        .store
        .report_activations(&query(KeyId::new(9999)))
        .await
        .unwrap();
    assert_eq!((none.total, none.rows.len()), (0, 0));
}

async fn key_history_is_the_keys_own(fx: Fx) {
    let (key, sub) = fixture(&fx).await;
    let h = fx.store.key_history(key).await.unwrap();
    let seen: Vec<(String, ActivationState)> =
        h.iter().map(|e| (e.product.to_string(), e.state)).collect();
    assert_eq!(
        seen,
        [
            ("personal".into(), ActivationState::Superseded),
            ("premium".into(), ActivationState::Active),
            ("premium".into(), ActivationState::Pending),
        ]
    );
    assert_eq!(h[0].activated_at, Some(ts(T0 + 10)));
    assert_eq!(h[0].ended_at, Some(ts(T0 + 20)));
    assert_eq!(h[2].expires_at, Some(ts(T0 + 20 + DAY)));
    assert_eq!(h[0].blog_id, h[1].blog_id);
    assert_eq!(fx.store.key_history(sub).await.unwrap().len(), 1);
    assert!(fx
        .store
        .key_history(KeyId::new(9999))
        .await
        .unwrap()
        .is_empty());
}
