//! The portal's data pages (SPEC §8, issue 14): the partner's activations
//! table (never another partner's row; key, product, state and date
//! filters; order and paging), a site's events as one partner sees them,
//! and a key's secret rotation (the secret replaced and the key's tokens
//! revoked, in one transaction).

use jpstart_server::domain::ActivationState;
use jpstart_server::store::portal_pages::PortalActivationQuery;

use crate::*;

contract!(
    partner_table_filters_and_pages,
    site_events_are_the_partners_own,
    rotation_replaces_the_secret_and_revokes_tokens
);

fn query(partner: PartnerId) -> PortalActivationQuery {
    PortalActivationQuery {
        partner_id: partner,
        key_id: None,
        products: Vec::new(),
        states: Vec::new(),
        activated_after: None,
        activated_before: None,
        limit: 20,
        offset: 0,
    }
}

async fn partner_table_filters_and_pages(fx: Fx) {
    let (partner, key) = fx.key(&[]).await;
    let sub = fx.key_of(partner, Some(key), &[("jetpack-scan", 5)]).await;
    let (_, other) = fx.key(&[]).await;
    fx.provision(key, "https://a.example", Some("premium"), T0)
        .await
        .unwrap();
    fx.store
        .connect_site(&by_url("https://a.example"), ts(T0 + 10))
        .await
        .unwrap()
        .unwrap();
    fx.provision(key, "https://b.example", Some("personal"), T0 + 20)
        .await
        .unwrap();
    fx.provision(sub, "https://c.example", Some("jetpack-scan"), T0 + 30)
        .await
        .unwrap();
    fx.provision(other, "https://d.example", Some("premium"), T0 + 40)
        .await
        .unwrap();
    fx.cancel(key, by_url("https://b.example"), None, false, T0 + 50)
        .await
        .unwrap();
    let s = &fx.store;

    // Every key of the partner (the sub-key too), never the other's.
    let all = s.portal_activations(&query(partner)).await.unwrap();
    assert_eq!(all.total, 3);
    let urls: Vec<&str> = all.rows.iter().map(|r| r.site_url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://c.example",
            "https://b.example",
            "https://a.example"
        ]
    );
    let one = s
        .portal_activations(&PortalActivationQuery {
            key_id: Some(sub),
            ..query(partner)
        })
        .await
        .unwrap();
    assert_eq!(one.total, 1);
    // A key of another partner, named under this partner: nothing.
    let foreign = s
        .portal_activations(&PortalActivationQuery {
            key_id: Some(other),
            ..query(partner)
        })
        .await
        .unwrap();
    assert_eq!((foreign.total, foreign.rows.len()), (0, 0));

    let cancelled = s
        .portal_activations(&PortalActivationQuery {
            states: vec![ActivationState::Cancelled],
            ..query(partner)
        })
        .await
        .unwrap();
    assert_eq!(cancelled.total, 1);
    assert_eq!(cancelled.rows[0].site_url, "https://b.example");
    let live = s
        .portal_activations(&PortalActivationQuery {
            states: vec![ActivationState::Active, ActivationState::Pending],
            products: vec![slug("premium"), slug("jetpack-scan")],
            ..query(partner)
        })
        .await
        .unwrap();
    assert_eq!(live.total, 2);
    // Only a (once) activated one matches a date filter.
    let after = s
        .portal_activations(&PortalActivationQuery {
            activated_after: Some(ts(T0)),
            ..query(partner)
        })
        .await
        .unwrap();
    assert_eq!(after.total, 1);
    assert_eq!(after.rows[0].site_url, "https://a.example");
    let before = s
        .portal_activations(&PortalActivationQuery {
            activated_before: Some(ts(T0 + 10)),
            ..query(partner)
        })
        .await
        .unwrap();
    assert_eq!(before.total, 0);

    // Pages: the total stays, the rows move on; past the end is empty.
    let page2 = s
        .portal_activations(&PortalActivationQuery {
            limit: 2,
            offset: 2,
            ..query(partner)
        })
        .await
        .unwrap();
    assert_eq!(page2.total, 3);
    assert_eq!(page2.rows.len(), 1);
    assert_eq!(page2.rows[0].site_url, "https://a.example");
    let past = s
        .portal_activations(&PortalActivationQuery {
            offset: 10,
            ..query(partner)
        })
        .await
        .unwrap();
    assert_eq!((past.total, past.rows.len()), (3, 0));
}

async fn site_events_are_the_partners_own(fx: Fx) {
    let (partner, key) = fx.key(&[]).await;
    let (other_partner, other) = fx.key(&[]).await;
    fx.provision(key, "https://shared.example", Some("jetpack-scan"), T0)
        .await
        .unwrap();
    fx.provision(
        other,
        "https://shared.example",
        Some("jetpack-anti-spam"),
        T0 + 5,
    )
    .await
    .unwrap();
    fx.store
        .connect_site(&by_url("https://shared.example"), ts(T0 + 10))
        .await
        .unwrap()
        .unwrap();
    fx.cancel(
        key,
        by_url("https://shared.example"),
        Some("jetpack-scan"),
        false,
        T0 + 20,
    )
    .await
    .unwrap();
    let blog = fx
        .store
        .site(&by_url("https://shared.example"), ts(T0 + 30))
        .await
        .unwrap()
        .unwrap()
        .blog_id;

    let mine = fx.store.site_events(blog, partner).await.unwrap();
    let seen: Vec<(Option<&str>, &str, &str)> = mine
        .iter()
        .map(|e| {
            (
                e.from_state.as_deref(),
                e.to_state.as_str(),
                e.product.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (None, "pending", "jetpack-scan"),
            (Some("pending"), "active", "jetpack-scan"),
            (Some("active"), "cancelled", "jetpack-scan"),
        ]
    );
    assert!(mine.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(mine.iter().all(|e| e.key_id == Some(key)));
    let theirs = fx.store.site_events(blog, other_partner).await.unwrap();
    assert!(
        theirs
            .iter()
            .all(|e| e.product.as_str() == "jetpack-anti-spam"),
        "{theirs:?}"
    );
    assert_eq!(theirs.len(), 2);
}

async fn rotation_replaces_the_secret_and_revokes_tokens(fx: Fx) {
    let (partner, key) = fx.key(&[]).await;
    let sub = fx.key_of(partner, Some(key), &[]).await;
    let s = &fx.store;
    s.insert_token(b"rot-a", key, "jetpack-partner", ts(T0))
        .await
        .unwrap();
    s.insert_token(b"rot-b", key, "jetpack-partner", ts(T0))
        .await
        .unwrap();
    s.insert_token(b"rot-sub", sub, "jetpack-partner", ts(T0))
        .await
        .unwrap();
    s.revoke_token(b"rot-b", ts(T0 + 1)).await.unwrap();

    let rotated = s
        .rotate_key_secret(key, &[9; 32], ts(T0 + 10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rotated.revoked_tokens, 1,
        "the live one; the revoked one stays revoked"
    );
    assert_eq!(
        s.key(key).await.unwrap().unwrap().secret_digest,
        vec![9; 32]
    );
    assert!(s.token(b"rot-a").await.unwrap().is_none());
    // Its sub-keys keep their own secrets and tokens.
    assert_eq!(
        s.key(sub).await.unwrap().unwrap().secret_digest,
        vec![7; 32]
    );
    assert!(s.token(b"rot-sub").await.unwrap().is_some());
    // A token issued after the rotation works.
    s.insert_token(b"rot-c", key, "jetpack-partner", ts(T0 + 20))
        .await
        .unwrap();
    assert!(s.token(b"rot-c").await.unwrap().is_some());
    assert_eq!(
        s.rotate_key_secret(KeyId::new(999_999), &[1; 32], ts(T0))
            .await
            .unwrap(),
        None
    );
}
