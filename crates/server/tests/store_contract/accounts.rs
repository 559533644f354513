//! Partners, keys, tokens, redirect prefixes, credentials, authorization links.

use jpstart_server::domain::credentials::Kind as CredentialKind;
use jpstart_server::domain::{CredentialsRefusal, LinkRefusal, SubKeyRefusal};
use jpstart_server::store::NewSubKey;

use crate::*;

contract!(
    partners_keys_and_tokens,
    sub_keys_under_their_parent,
    credentials_and_auth_links
);

async fn sub_keys_under_their_parent(fx: Fx) {
    let s = &fx.store;
    let (partner, key) = fx.key(&[]).await;
    let new = |parent| NewSubKey {
        parent,
        name: "reseller".into(),
        secret_digest: vec![3; 32],
        limits: vec![(slug("premium"), 2)],
        max_sub_keys: 100,
    };
    let sub = s.create_sub_key(&new(key), ts(T0)).await.unwrap().unwrap();
    let rec = s.key(sub).await.unwrap().unwrap();
    assert_eq!(
        (
            rec.partner_id,
            rec.parent_key_id,
            rec.name.as_str(),
            rec.test
        ),
        (partner, Some(key), "reseller", false)
    );
    assert_eq!(s.key_limits(sub).await.unwrap(), vec![(slug("premium"), 2)]);
    // One level of resale only; nothing is created.
    assert_eq!(
        s.create_sub_key(&new(sub), ts(T0)).await.unwrap(),
        Err(SubKeyRefusal::ParentIsSubKey)
    );
    assert!(matches!(
        s.create_sub_key(&new(KeyId::new(sub.get() + 1000)), ts(T0))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(s.key(KeyId::new(sub.get() + 1)).await.unwrap().is_none());
}

async fn partners_keys_and_tokens(fx: Fx) {
    let s = &fx.store;
    s.ping().await.unwrap();
    let (partner, key) = fx.key(&[("premium", 3)]).await;
    let sub = fx.key_of(partner, Some(key), &[("personal", 1)]).await;
    assert_ne!(key, sub);
    let rec = s.key(sub).await.unwrap().unwrap();
    assert_eq!(
        (rec.partner_id, rec.parent_key_id, rec.disabled, rec.test),
        (partner, Some(key), false, false)
    );
    assert_eq!(rec.secret_digest, vec![7; 32]);
    assert_eq!(s.key_limits(key).await.unwrap(), vec![(slug("premium"), 3)]);
    assert!(s.key(KeyId::new(sub.get() + 1000)).await.unwrap().is_none());

    // A key of an unknown partner: NotFound, nothing created.
    let orphan = NewKey {
        partner_id: PartnerId::new(partner.get() + 1000),
        parent_key_id: None,
        name: "x".into(),
        secret_digest: vec![1],
        test: true,
        limits: vec![],
    };
    assert!(matches!(
        s.create_key(&orphan, ts(T0)).await,
        Err(StoreError::NotFound(_))
    ));

    assert!(s.set_key_disabled(key, true).await.unwrap());
    assert!(s.key(key).await.unwrap().unwrap().disabled);
    assert!(s.set_key_disabled(key, false).await.unwrap());
    assert!(!s
        .set_key_disabled(KeyId::new(key.get() + 1000), true)
        .await
        .unwrap());

    // Tokens: digest in, key out; revocation one by one or per key.
    s.insert_token(b"digest-a", key, "jetpack-partner", ts(T0))
        .await
        .unwrap();
    s.insert_token(b"digest-b", key, "global", ts(T0))
        .await
        .unwrap();
    s.insert_token(b"digest-c", sub, "jetpack-partner", ts(T0))
        .await
        .unwrap();
    let t = s.token(b"digest-a").await.unwrap().unwrap();
    assert_eq!(
        (t.key_id, t.partner_id, t.scope.as_str(), t.disabled),
        (key, partner, "jetpack-partner", false)
    );
    assert_eq!(
        s.token(b"digest-c").await.unwrap().unwrap().parent_key_id,
        Some(key)
    );
    s.set_key_disabled(key, true).await.unwrap();
    assert!(
        s.token(b"digest-a").await.unwrap().unwrap().disabled,
        "a token shows its key disabled"
    );
    assert!(s.token(b"unknown").await.unwrap().is_none());
    assert!(s.revoke_token(b"digest-a", ts(T0)).await.unwrap());
    assert!(
        !s.revoke_token(b"digest-a", ts(T0)).await.unwrap(),
        "revoked once"
    );
    assert!(s.token(b"digest-a").await.unwrap().is_none());
    assert_eq!(s.revoke_key_tokens(key, ts(T0)).await.unwrap(), 1);
    assert!(s.token(b"digest-b").await.unwrap().is_none());
    assert!(
        s.token(b"digest-c").await.unwrap().is_some(),
        "another key's token survives"
    );

    // Redirect prefixes: set semantics, sorted, unknown partner refused.
    assert!(s
        .add_partner_redirect(partner, "https://b.example/")
        .await
        .unwrap());
    assert!(s
        .add_partner_redirect(partner, "https://a.example/")
        .await
        .unwrap());
    assert!(!s
        .add_partner_redirect(partner, "https://a.example/")
        .await
        .unwrap());
    assert_eq!(
        s.partner_redirects(partner).await.unwrap(),
        ["https://a.example/", "https://b.example/"]
    );
    assert!(matches!(
        s.add_partner_redirect(PartnerId::new(partner.get() + 1000), "https://x/")
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn credentials_and_auth_links(fx: Fx) {
    let (partner, key) = fx.key(&[]).await;
    let p = fx
        .provision(key, "https://auth.example", Some("premium"), T0)
        .await
        .unwrap();
    let blog = p.blog_id;
    let missing = BlogId::new(blog.get() + 1000).unwrap();
    assert_eq!(
        fx.store
            .set_credentials(missing, partner, CredentialKind::Ssh, b"sealed", ts(T0))
            .await
            .unwrap(),
        Err(CredentialsRefusal::UnknownBlog(missing))
    );
    assert_eq!(
        fx.store
            .set_credentials(blog, partner, CredentialKind::Ssh, b"sealed", ts(T0))
            .await
            .unwrap(),
        Ok(())
    );
    assert_eq!(
        fx.store
            .set_credentials(
                blog,
                partner,
                CredentialKind::Ssh,
                b"sealed again",
                ts(T0 + 1)
            )
            .await
            .unwrap(),
        Ok(()),
        "upsert"
    );
    assert!(
        fx.store
            .site(&SiteRef::BlogId(blog), ts(T0))
            .await
            .unwrap()
            .unwrap()
            .has_backup_credentials
    );

    fx.store
        .insert_auth_link(b"link-1", blog, key, ts(T0), ts(T0 + 100))
        .await
        .unwrap();
    fx.store
        .insert_auth_link(b"link-2", blog, key, ts(T0), ts(T0 + 100))
        .await
        .unwrap();
    let link = fx.store.auth_link(b"link-1").await.unwrap().unwrap();
    assert_eq!(
        (link.blog_id, link.key_id, link.partner_id, link.used),
        (blog, key, partner, false)
    );
    // Returned in any state, with its expiry, so that the page can tell
    // an expired link (410) from an unknown one (404).
    assert_eq!(link.expires_at, ts(T0 + 100));
    assert_eq!(
        fx.store
            .use_auth_link(b"link-1", ts(T0 + 100))
            .await
            .unwrap()
            .err(),
        Some(LinkRefusal::Expired),
        "expired"
    );
    assert_eq!(
        fx.store.use_auth_link(b"nope", ts(T0)).await.unwrap().err(),
        Some(LinkRefusal::Unknown)
    );
    assert!(fx.store.auth_link(b"nope").await.unwrap().is_none());

    let (used, c) = fx
        .store
        .use_auth_link(b"link-1", ts(T0 + 2))
        .await
        .unwrap()
        .unwrap();
    assert!(p.link_issued, "the provision issued its own link");
    assert_eq!(used.blog_id, blog);
    assert_eq!(c.activated, [p.activation.unwrap().id]);
    assert_eq!(
        fx.store
            .use_auth_link(b"link-1", ts(T0 + 3))
            .await
            .unwrap()
            .err(),
        Some(LinkRefusal::Used),
        "used once"
    );
    assert_eq!(
        fx.store
            .use_auth_link(b"link-2", ts(T0 + 3))
            .await
            .unwrap()
            .err(),
        Some(LinkRefusal::Used),
        "every link of the site is used"
    );
    assert!(fx.store.auth_link(b"link-2").await.unwrap().unwrap().used);
    assert!(
        fx.store
            .site(&SiteRef::BlogId(blog), ts(T0 + 3))
            .await
            .unwrap()
            .unwrap()
            .connected
    );
}
