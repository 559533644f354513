//! WordPress.com accounts, automatic account creation and the mail outbox
//! (issue 13).

use jpstart_server::domain::users::Mail;
use jpstart_server::domain::AccountRefusal;
use jpstart_server::store::{AutoAccount, MailFilter, NewMail, NewWpcomUser, UserOrigin};

use crate::*;

contract!(
    accounts_are_unique_by_address,
    auto_account_connects_for_one_partner,
    outbox_claims_are_leases
);

fn user(email: &str, partner: Option<PartnerId>, digest: Option<Vec<u8>>) -> NewWpcomUser {
    NewWpcomUser {
        email: email.into(),
        email_key: email.to_lowercase(),
        username_base: "jane".into(),
        product_type: Some("jetpack".into()),
        language: None,
        origin: UserOrigin::Api,
        partner_id: partner,
        token_digest: digest,
        now: ts(T0),
    }
}

async fn accounts_are_unique_by_address(fx: Fx) {
    let s = &fx.store;
    let (partner, _) = fx.key(&[]).await;
    assert_eq!(
        s.user_creation_allowed(partner).await.unwrap(),
        Some(("Contract".into(), false))
    );
    assert!(s.set_user_creation(partner, true, ts(T0)).await.unwrap());
    assert!(
        s.set_user_creation(partner, true, ts(T0)).await.unwrap(),
        "idempotent"
    );
    assert_eq!(
        s.user_creation_allowed(partner).await.unwrap(),
        Some(("Contract".into(), true))
    );
    assert!(!s
        .set_user_creation(PartnerId::new(partner.get() + 1000), true, ts(T0))
        .await
        .unwrap());
    assert_eq!(
        s.user_creation_allowed(PartnerId::new(partner.get() + 1000))
            .await
            .unwrap(),
        None
    );

    let a = s
        .create_wpcom_user(&user("Jane@x.example", Some(partner), Some(vec![1; 32])))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (a.username.as_str(), a.email.as_str(), a.created_by_partner),
        ("jane", "Jane@x.example", Some(partner))
    );
    let again = s
        .create_wpcom_user(&user("JANE@X.EXAMPLE", None, Some(vec![2; 32])))
        .await
        .unwrap();
    assert_eq!(again.unwrap_err(), AccountRefusal::Exists);
    // Another address, the same username base: a suffix.
    let b = s
        .create_wpcom_user(&user("jane@y.example", None, None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.username, "jane2");
    // A token digest already taken: error_access_token, and no account.
    let c = s
        .create_wpcom_user(&user("c@x.example", None, Some(vec![1; 32])))
        .await
        .unwrap();
    assert_eq!(c.unwrap_err(), AccountRefusal::TokenNotStored);
    let all = s.wpcom_users(None).await.unwrap();
    assert_eq!(
        all.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(),
        ["Jane@x.example", "jane@y.example"]
    );
    assert_eq!(
        s.wpcom_users(Some("jane@x.example")).await.unwrap().len(),
        1
    );
    assert!(s.set_user_creation(partner, false, ts(T0)).await.unwrap());
    assert_eq!(
        s.user_creation_allowed(partner).await.unwrap(),
        Some(("Contract".into(), false))
    );
}

async fn auto_account_connects_for_one_partner(fx: Fx) {
    let s = &fx.store;
    let (acme, acme_key) = fx.key(&[]).await;
    let (other, other_key) = fx.key(&[]).await;
    let out = fx
        .provision(acme_key, "https://auto.example", Some("premium"), T0)
        .await
        .unwrap();
    assert!(!out.connected);
    let req = |partner, key, email: &str, digest: u8| AutoAccount {
        partner_id: partner,
        key_id: key,
        blog_id: out.blog_id,
        user: NewWpcomUser {
            origin: UserOrigin::Provision,
            ..user(email, Some(partner), Some(vec![digest; 32]))
        },
    };
    // Not allowed yet: nothing happens.
    assert_eq!(
        s.auto_account(&req(acme, acme_key, "o@auto.example", 1))
            .await
            .unwrap(),
        None
    );
    s.set_user_creation(acme, true, ts(T0)).await.unwrap();
    s.set_user_creation(other, true, ts(T0)).await.unwrap();
    // Another partner may not change a site Acme holds.
    assert_eq!(
        s.auto_account(&req(other, other_key, "o@auto.example", 2))
            .await
            .unwrap(),
        None
    );
    let done = s
        .auto_account(&req(acme, acme_key, "o@auto.example", 3))
        .await
        .unwrap()
        .unwrap();
    assert!(!done.was_connected);
    assert_eq!(done.activated.len(), 1);
    assert_eq!(done.user.origin, "provision");
    let site = s
        .site(&SiteRef::BlogId(out.blog_id), ts(T0))
        .await
        .unwrap()
        .unwrap();
    assert!(site.connected && !site.live[0].is_pending());
    // The address has an account now.
    assert_eq!(
        s.auto_account(&req(acme, acme_key, "O@auto.example", 4))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.wpcom_users(None).await.unwrap().len(), 1);
}

async fn outbox_claims_are_leases(fx: Fx) {
    let s = &fx.store;
    let mail = |to: &str| NewMail {
        mail: Mail {
            kind: "magic_link",
            to: to.into(),
            subject: "S".into(),
            body: "B".into(),
        },
        partner_id: None,
        now: ts(T0),
    };
    let a = s.enqueue_mail(&mail("a@x.example")).await.unwrap();
    let b = s.enqueue_mail(&mail("B@x.example")).await.unwrap();
    let claimed = s.claim_mail(ts(T0), ts(T0 + 1000), 10).await.unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|m| (m.id, m.attempts))
            .collect::<Vec<_>>(),
        [(a, 1), (b, 1)]
    );
    // Leased: another sender gets nothing until the lease runs out.
    assert!(s
        .claim_mail(ts(T0 + 500), ts(T0 + 1500), 10)
        .await
        .unwrap()
        .is_empty());
    s.mail_sent(a, ts(T0 + 10)).await.unwrap();
    s.mail_failed(b, "421 try later", Some(ts(T0 + 5000)), ts(T0 + 10))
        .await
        .unwrap();
    assert!(s
        .claim_mail(ts(T0 + 2000), ts(T0 + 3000), 10)
        .await
        .unwrap()
        .is_empty());
    let again = s
        .claim_mail(ts(T0 + 5000), ts(T0 + 6000), 10)
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(),
        [(b, 2)]
    );
    s.mail_failed(b, "550 no such user", None, ts(T0 + 5001))
        .await
        .unwrap();
    let all = s.outbox(&MailFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|m| m.status()).collect::<Vec<_>>(),
        ["sent", "failed"]
    );
    assert_eq!(all[1].last_error.as_deref(), Some("550 no such user"));
    let to_b = s
        .outbox(&MailFilter {
            to: Some("b@X.example".into()),
        })
        .await
        .unwrap();
    assert_eq!(to_b.len(), 1);
    assert!(
        s.claim_mail(ts(T0 + 99_999), ts(T0 + 100_000), 10)
            .await
            .unwrap()
            .is_empty(),
        "sent and failed mail is never claimed"
    );
}
