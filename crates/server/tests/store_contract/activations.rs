//! Sites and activations: provision and cancel outcomes, limits and
//! uniqueness under concurrency, connection, expiry, filters, grants.

use crate::*;

contract!(
    provision_outcomes,
    limits_hold_under_concurrency,
    identical_concurrent_provisions_make_one_activation,
    refusals_in_a_group_undo_only_themselves,
    family_and_own_limits_hold_under_concurrency,
    cancel_outcomes,
    site_connect_and_expiry,
    activation_filters_and_grants,
);

async fn provision_outcomes(fx: Fx) {
    let (_, key) = fx.key(&[]).await;
    let (_, other) = fx.key(&[]).await;
    let url = "https://one.example";
    let first = fx.provision(key, url, Some("personal"), T0).await.unwrap();
    let a = first.activation.clone().unwrap();
    assert!(a.created && a.pending && a.superseded.is_none());
    assert!(!first.connected);
    assert_eq!(first.identifier, ident(url));

    // The same again: nothing new.
    let again = fx
        .provision(key, url, Some("personal"), T0 + 1)
        .await
        .unwrap();
    assert_eq!(again.blog_id, first.blog_id);
    let b = again.activation.unwrap();
    assert_eq!((b.id, b.created), (a.id, false));

    // An upgrade supersedes; a downgrade is refused; another partner is refused.
    let up = fx
        .provision(key, url, Some("premium"), T0 + 2)
        .await
        .unwrap()
        .activation
        .unwrap();
    assert_eq!(up.superseded, Some(a.id));
    assert_eq!(
        fx.provision(key, url, Some("personal"), T0 + 3)
            .await
            .unwrap_err(),
        ErrorCode::PlanDowngradeDisallowed
    );
    assert_eq!(
        fx.provision(other, url, Some("professional"), T0 + 3)
            .await
            .unwrap_err(),
        ErrorCode::ProductOwnedByAnotherPartner
    );
    assert_eq!(
        fx.provision(key, url, Some("jetpack-scan"), T0 + 3)
            .await
            .unwrap_err(),
        ErrorCode::ProductAlreadyIncluded
    );
    assert_eq!(
        fx.provision(key, url, Some("no-such-plan"), T0 + 3)
            .await
            .unwrap_err(),
        ErrorCode::InvalidPlan
    );

    // By blog id: the site must exist.
    let mut req = fx.request(key, url, Some("premium"), T0 + 4).await.unwrap();
    req.site = ProvisionSite::BlogId(first.blog_id);
    let by_id = fx.run(&req).await.unwrap();
    assert_eq!(by_id.activation.unwrap().id, up.id);
    req.site = ProvisionSite::BlogId(BlogId::new(first.blog_id.get() + 1000).unwrap());
    assert_eq!(fx.run(&req).await.unwrap_err(), ErrorCode::InvalidBlog);

    // Registration without a product; blog ids are not burnt by repeats.
    let two = fx
        .provision(key, "https://two.example", None, T0)
        .await
        .unwrap();
    assert!(two.activation.is_none());
    assert_eq!(two.blog_id.get(), first.blog_id.get() + 1);

    let history = fx
        .states(ActivationFilter {
            site: Some(by_url(url)),
            ..Default::default()
        })
        .await;
    assert_eq!(
        history,
        [
            ("personal".into(), "superseded".into()),
            ("premium".into(), "pending".into())
        ]
    );
}

async fn limits_hold_under_concurrency(fx: Fx) {
    let (partner, key) = fx.key(&[("premium", 5)]).await;
    let fx = Arc::new(fx);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let fx = fx.clone();
        tasks.push(tokio::spawn(async move {
            fx.provision(key, &format!("https://c{i}.example"), Some("premium"), T0)
                .await
        }));
    }
    let mut won = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(_) => won.push(format!("https://c{i}.example")),
            Err(code) => assert_eq!(code, ErrorCode::ActivationLimitReached),
        }
    }
    assert_eq!(won.len(), 5);
    // A sub-key may provision only what it has a limit for.
    let sub = fx.key_of(partner, Some(key), &[]).await;
    let req = fx
        .request(sub, "https://sub.example", Some("premium"), T0)
        .await
        .unwrap();
    assert_eq!(
        fx.run(&req).await.unwrap_err(),
        ErrorCode::ActivationLimitReached
    );
    // A cancel frees a place.
    assert_eq!(
        fx.cancel(key, by_url(&won[0]), None, false, T0 + 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(fx
        .provision(key, "https://c-new.example", Some("premium"), T0 + 2)
        .await
        .is_ok());
    assert_eq!(
        fx.provision(key, "https://c-new2.example", Some("premium"), T0 + 2)
            .await
            .unwrap_err(),
        ErrorCode::ActivationLimitReached
    );
}

/// Concurrent provisions share a transaction on SQLite (group commit): a
/// refused one between accepted ones must leave them all in place.
async fn refusals_in_a_group_undo_only_themselves(fx: Fx) {
    let (_, key) = fx.key(&[]).await;
    let (_, other) = fx.key(&[]).await;
    for i in 0..15 {
        let url = format!("https://held{i}.example");
        fx.provision(other, &url, Some("premium"), T0)
            .await
            .unwrap();
    }
    let fx = Arc::new(fx);
    let mut tasks = Vec::new();
    for i in 0..30 {
        let fx = fx.clone();
        tasks.push(tokio::spawn(async move {
            let url = if i % 2 == 0 {
                format!("https://mine{i}.example")
            } else {
                format!("https://held{}.example", i / 2)
            };
            (i, fx.provision(key, &url, Some("premium"), T0 + 1).await)
        }));
    }
    for t in tasks {
        let (i, out) = t.await.unwrap();
        if i % 2 == 0 {
            assert!(out.unwrap().activation.unwrap().created, "provision {i}");
        } else {
            assert_eq!(out.unwrap_err(), ErrorCode::ProductOwnedByAnotherPartner);
        }
    }
    let mine = fx
        .states(ActivationFilter {
            key_id: Some(key),
            ..Default::default()
        })
        .await;
    assert_eq!(mine.len(), 15, "every accepted provision is there, once");
    let theirs = fx
        .states(ActivationFilter {
            key_id: Some(other),
            ..Default::default()
        })
        .await;
    assert_eq!(theirs.len(), 15, "the refused ones changed nothing");
}

/// Provisions lock only the key rows whose limits apply; each limit must
/// still be exact: a parent's over its whole family, a sub-key's own, and
/// none at all for a product no limit covers.
async fn family_and_own_limits_hold_under_concurrency(fx: Fx) {
    let (partner, parent) = fx.key(&[("premium", 3)]).await;
    let mut subs = Vec::new();
    for _ in 0..3 {
        subs.push(
            fx.key_of(
                partner,
                Some(parent),
                &[("premium", 5), ("jetpack-backup-daily", 2)],
            )
            .await,
        );
    }
    let fx = Arc::new(fx);
    let mut tasks = Vec::new();
    for (n, &sub) in subs.iter().enumerate() {
        for i in 0..8 {
            for product in ["premium", "jetpack-backup-daily"] {
                let fx = fx.clone();
                let url = format!("https://f{n}-{i}-{product}.example");
                tasks.push(tokio::spawn(async move {
                    (
                        sub,
                        product,
                        fx.provision(sub, &url, Some(product), T0).await,
                    )
                }));
            }
        }
    }
    let mut won: std::collections::HashMap<(KeyId, &str), usize> = Default::default();
    for t in tasks {
        let (sub, product, out) = t.await.unwrap();
        match out {
            Ok(_) => *won.entry((sub, product)).or_default() += 1,
            Err(code) => assert_eq!(code, ErrorCode::ActivationLimitReached),
        }
    }
    let premium: usize = subs
        .iter()
        .map(|s| won.get(&(*s, "premium")).copied().unwrap_or(0))
        .sum();
    assert_eq!(premium, 3, "the parent's limit holds over the family");
    for s in &subs {
        let backups = won.get(&(*s, "jetpack-backup-daily")).copied().unwrap_or(0);
        assert_eq!(backups, 2, "each sub-key's own limit holds");
    }
}

async fn identical_concurrent_provisions_make_one_activation(fx: Fx) {
    let (_, key) = fx.key(&[]).await;
    let fx = Arc::new(fx);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let fx = fx.clone();
        tasks.push(tokio::spawn(async move {
            fx.provision(key, "https://same.example", Some("premium"), T0)
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    for t in tasks {
        created += usize::from(t.await.unwrap().activation.unwrap().created);
    }
    assert_eq!(created, 1);
    assert_eq!(fx.states(ActivationFilter::default()).await.len(), 1);
}

async fn cancel_outcomes(fx: Fx) {
    let (_, key) = fx.key(&[]).await;
    let (_, other) = fx.key(&[]).await;
    let url = "https://cancel.example";
    let p = fx.provision(key, url, Some("premium"), T0).await.unwrap();
    let id = p.activation.unwrap().id;
    fx.provision(key, url, Some("jetpack-backup-realtime"), T0)
        .await
        .unwrap();
    assert_eq!(
        fx.cancel(other, by_url(url), None, false, T0 + 1)
            .await
            .unwrap_err(),
        ErrorCode::IncorrectPartnerKey
    );
    assert_eq!(
        fx.cancel(key, by_url(url), Some("nope"), false, T0 + 1)
            .await
            .unwrap_err(),
        ErrorCode::InvalidPlan
    );
    // Exactly once: the second cancel finds nothing.
    assert_eq!(
        fx.cancel(key, by_url(url), None, false, T0 + 1)
            .await
            .unwrap(),
        [id]
    );
    assert!(fx
        .cancel(key, by_url(url), None, false, T0 + 2)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        fx.cancel(key, SiteRef::BlogId(p.blog_id), None, true, T0 + 3)
            .await
            .unwrap()
            .len(),
        1
    );
    // Unknown: a domain is "nothing to cancel", a blog id an error.
    assert!(fx
        .cancel(key, by_url("https://never.example"), None, false, T0)
        .await
        .unwrap()
        .is_empty());
    let missing = BlogId::new(p.blog_id.get() + 1000).unwrap();
    assert_eq!(
        fx.cancel(key, SiteRef::BlogId(missing), None, false, T0)
            .await
            .unwrap_err(),
        ErrorCode::InvalidBlog
    );
    // Granted products are not the partner's to cancel.
    fx.store
        .grant(&ident(url), url, &fx.resolved("premium"), ts(T0 + 4))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        fx.cancel(key, by_url(url), None, false, T0 + 5)
            .await
            .unwrap_err(),
        ErrorCode::NotJpsPlan
    );
}

async fn site_connect_and_expiry(fx: Fx) {
    let (partner, key) = fx.key(&[]).await;
    assert!(fx
        .store
        .site(&by_url("https://none.example"), ts(T0))
        .await
        .unwrap()
        .is_none());
    let url = "https://site.example";
    let p = fx.provision(key, url, Some("premium"), T0).await.unwrap();
    let id = p.activation.unwrap().id;
    let state = fx
        .store
        .site(&SiteRef::BlogId(p.blog_id), ts(T0 + 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (state.connected, state.has_backup_credentials),
        (false, false)
    );
    assert_eq!(state.live.len(), 1);
    let live = &state.live[0];
    assert_eq!(
        (live.id, live.is_pending(), live.key_id, live.partner_id),
        (id, true, Some(key), Some(partner))
    );
    assert_eq!(live.partner_tracking_id.as_deref(), Some("track-1"));
    // Past its expiry a pending activation is not live, even before the sweep.
    assert!(fx
        .store
        .site(&by_url(url), ts(T0 + DAY))
        .await
        .unwrap()
        .unwrap()
        .live
        .is_empty());
    assert_eq!(fx.store.expire_pending(ts(T0 + DAY)).await.unwrap(), 1);
    assert_eq!(
        fx.store.expire_pending(ts(T0 + DAY)).await.unwrap(),
        0,
        "expired once"
    );
    assert_eq!(
        fx.states(ActivationFilter::default()).await,
        [("premium".into(), "expired".into())]
    );

    // Connecting activates what is pending, once.
    let p = fx
        .provision(key, url, Some("premium"), T0 + DAY + 1)
        .await
        .unwrap();
    let id = p.activation.unwrap().id;
    let c = fx
        .store
        .connect_site(&by_url(url), ts(T0 + DAY + 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.activated.as_slice(), c.was_connected),
        ([id].as_slice(), false)
    );
    let c = fx
        .store
        .connect_site(&by_url(url), ts(T0 + DAY + 3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.activated.len(), c.was_connected), (0, true));
    assert!(fx
        .store
        .connect_site(&by_url("https://none.example"), ts(T0))
        .await
        .unwrap()
        .is_none());
    let state = fx
        .store
        .site(&by_url(url), ts(T0 + 10 * DAY))
        .await
        .unwrap()
        .unwrap();
    assert!(
        state.connected && !state.live[0].is_pending(),
        "active does not expire"
    );
    // Connected site: a new product is active at once.
    let scan = fx
        .provision(key, url, Some("jetpack-backup-realtime"), T0 + DAY + 4)
        .await
        .unwrap();
    assert!(!scan.activation.unwrap().pending);
}

async fn activation_filters_and_grants(fx: Fx) {
    let (p1, k1) = fx.key(&[]).await;
    let k1b = fx.key_of(p1, None, &[]).await;
    let (p2, k2) = fx.key(&[]).await;
    fx.provision(k1, "https://f1.example", Some("premium"), T0)
        .await
        .unwrap();
    fx.provision(k1b, "https://f2.example", Some("personal"), T0)
        .await
        .unwrap();
    fx.provision(k2, "https://f3.example", Some("professional"), T0)
        .await
        .unwrap();
    let g = fx
        .store
        .grant(
            &ident("https://f4.example"),
            "https://f4.example",
            &fx.resolved("premium"),
            ts(T0),
        )
        .await
        .unwrap()
        .unwrap();
    let again = fx
        .store
        .grant(
            &ident("https://f4.example"),
            "https://f4.example",
            &fx.resolved("premium"),
            ts(T0),
        )
        .await
        .unwrap();
    assert_eq!(
        ApiError::from(again.unwrap_err()).code,
        ErrorCode::ProductOwnedByAnotherPartner
    );

    let fxr = &fx;
    let products = |f| async move {
        fxr.states(f)
            .await
            .into_iter()
            .map(|(p, _)| p)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        products(ActivationFilter::default()).await,
        ["premium", "personal", "professional", "premium"]
    );
    assert_eq!(
        products(ActivationFilter {
            partner_id: Some(p1),
            ..Default::default()
        })
        .await,
        ["premium", "personal"]
    );
    assert_eq!(
        products(ActivationFilter {
            key_id: Some(k1b),
            ..Default::default()
        })
        .await,
        ["personal"]
    );
    assert_eq!(
        products(ActivationFilter {
            partner_id: Some(p2),
            key_id: Some(k1),
            ..Default::default()
        })
        .await,
        Vec::<String>::new()
    );
    let all = fx
        .store
        .activations(&ActivationFilter {
            site: Some(by_url("https://f4.example")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (
            all[0].id,
            all[0].key_id,
            all[0].partner_id,
            all[0].state.as_str()
        ),
        (g, None, None, "active")
    );
    let f3 = fx
        .store
        .site(&by_url("https://f3.example"), ts(T0))
        .await
        .unwrap()
        .unwrap();
    let by_id = fx
        .store
        .activations(&ActivationFilter {
            site: Some(SiteRef::BlogId(f3.blog_id)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_id[0].product, slug("professional"));
    assert_eq!(by_id[0].partner_tracking_id.as_deref(), Some("track-1"));
}
