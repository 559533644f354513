//! Partner users, sessions, OAuth apps, codes and user tokens (issue 14).

use jpstart_server::store::portal::*;

use crate::*;

contract!(
    partner_users_are_unique_by_address,
    sessions_expire_and_die_with_their_user,
    codes_are_spent_once_with_their_token
);

fn new_user(partner: PartnerId, email: &str) -> NewPartnerUser {
    NewPartnerUser {
        partner_id: partner,
        email: email.into(),
        email_key: email.to_lowercase(),
        name: "Jane".into(),
        password_hash: "$argon2id$stand-in".into(),
        now: ts(T0),
    }
}

async fn partner_users_are_unique_by_address(fx: Fx) {
    let s = &fx.store;
    let (partner, _) = fx.key(&[]).await;
    let jane = s
        .create_partner_user(&new_user(partner, "Jane@x.example"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(jane.email, "Jane@x.example");
    assert!(!jane.disabled);
    assert_eq!(
        s.create_partner_user(&new_user(partner, "jane@X.example"))
            .await
            .unwrap(),
        Err(PartnerUserRefusal::EmailTaken)
    );
    assert_eq!(
        s.create_partner_user(&new_user(
            PartnerId::new(partner.get() + 1000),
            "b@x.example"
        ))
        .await
        .unwrap(),
        Err(PartnerUserRefusal::NoPartner)
    );
    let login = s
        .partner_user_login("jane@x.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(login.user, jane);
    assert_eq!(login.password_hash, "$argon2id$stand-in");
    assert!(s
        .partner_user_login("nobody@x.example")
        .await
        .unwrap()
        .is_none());
    let (other, _) = fx.key(&[]).await;
    s.create_partner_user(&new_user(other, "bob@x.example"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.partner_users(None).await.unwrap().len(), 2);
    assert_eq!(
        s.partner_users(Some(partner)).await.unwrap(),
        vec![jane.clone()]
    );
    assert_eq!(s.partner_user(jane.id).await.unwrap(), Some(jane.clone()));
    assert_eq!(s.partner_user(jane.id + 1000).await.unwrap(), None);
    assert_eq!(
        s.set_partner_user_disabled(jane.id + 1000, true, ts(T0))
            .await
            .unwrap(),
        None
    );
}

async fn sessions_expire_and_die_with_their_user(fx: Fx) {
    let s = &fx.store;
    let (partner, _) = fx.key(&[]).await;
    let jane = s
        .create_partner_user(&new_user(partner, "jane@x.example"))
        .await
        .unwrap()
        .unwrap();
    let (a, b) = (vec![1u8; 32], vec![2u8; 32]);
    s.insert_session(&a, jane.id, ts(T0), ts(T0 + DAY))
        .await
        .unwrap();
    s.insert_session(&b, jane.id, ts(T0), ts(T0 + DAY))
        .await
        .unwrap();
    let rec = s.session(&a, ts(T0 + 1)).await.unwrap().unwrap();
    assert_eq!(rec.user, jane);
    assert_eq!(rec.expires_at, ts(T0 + DAY));
    assert!(
        s.session(&a, ts(T0 + DAY)).await.unwrap().is_none(),
        "expired"
    );
    assert!(s.revoke_session(&a, ts(T0 + 2)).await.unwrap());
    assert!(!s.revoke_session(&a, ts(T0 + 3)).await.unwrap(), "once");
    assert!(s.session(&a, ts(T0 + 4)).await.unwrap().is_none());
    assert!(s.session(&b, ts(T0 + 4)).await.unwrap().is_some());

    let t = vec![3u8; 32];
    assert_eq!(
        s.issue_user_token(&t, jane.id, ts(T0)).await.unwrap(),
        Ok(())
    );
    let rec = s.user_token(&t).await.unwrap().unwrap();
    assert_eq!((rec.user_id, rec.partner_id), (jane.id, partner));
    let out = s
        .set_partner_user_disabled(jane.id, true, ts(T0 + 5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((out.revoked_sessions, out.revoked_tokens), (1, 1));
    assert!(s.session(&b, ts(T0 + 6)).await.unwrap().is_none());
    assert!(s.user_token(&t).await.unwrap().is_none());
    assert_eq!(
        s.issue_user_token(&[4u8; 32], jane.id, ts(T0))
            .await
            .unwrap(),
        Err(())
    );
    // Enabled again: what was revoked stays revoked.
    let out = s
        .set_partner_user_disabled(jane.id, false, ts(T0 + 7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((out.revoked_sessions, out.revoked_tokens), (0, 0));
    assert!(s.session(&b, ts(T0 + 8)).await.unwrap().is_none());
    assert!(s.user_token(&t).await.unwrap().is_none());
    let u = vec![5u8; 32];
    s.issue_user_token(&u, jane.id, ts(T0))
        .await
        .unwrap()
        .unwrap();
    assert!(s.revoke_user_token(&u, ts(T0 + 9)).await.unwrap());
    assert!(s.user_token(&u).await.unwrap().is_none());
}

async fn codes_are_spent_once_with_their_token(fx: Fx) {
    let s = &fx.store;
    let (partner, _) = fx.key(&[]).await;
    let jane = s
        .create_partner_user(&new_user(partner, "jane@x.example"))
        .await
        .unwrap()
        .unwrap();
    let app = |name: &str| NewOAuthApp {
        partner_id: partner,
        user_id: jane.id,
        name: name.into(),
        redirect_uri: "http://127.0.0.1:3210".into(),
        secret_digest: vec![9u8; 32],
        now: ts(T0),
    };
    let one = s.create_oauth_app(&app("One")).await.unwrap();
    let two = s.create_oauth_app(&app("Two")).await.unwrap();
    assert_eq!(s.oauth_app(one.id).await.unwrap(), Some(one.clone()));
    assert_eq!(
        s.oauth_apps(partner).await.unwrap(),
        vec![one.clone(), two.clone()]
    );
    let code = |d: u8| NewAuthCode {
        digest: vec![d; 32],
        app_id: one.id,
        user_id: jane.id,
        redirect_uri: "http://127.0.0.1:3210".into(),
        now: ts(T0),
        expires_at: ts(T0 + 600_000),
    };
    s.insert_auth_code(&code(1)).await.unwrap();
    let x = |d: u8, app_id: i64, uri: &str, at: i64, token: u8| CodeExchange {
        code_digest: vec![d; 32],
        app_id,
        redirect_uri: uri.into(),
        token_digest: vec![token; 32],
        now: ts(at),
    };
    let uri = "http://127.0.0.1:3210";
    let refused =
        |r: Result<Result<ExchangedCode, CodeRefusal>, StoreError>| r.unwrap().unwrap_err();
    assert_eq!(
        refused(s.exchange_code(&x(1, two.id, uri, T0, 10)).await),
        CodeRefusal::Unknown
    );
    assert_eq!(
        refused(
            s.exchange_code(&x(1, one.id, "http://127.0.0.1:3211", T0, 10))
                .await
        ),
        CodeRefusal::RedirectMismatch
    );
    assert_eq!(
        refused(s.exchange_code(&x(7, one.id, uri, T0, 10)).await),
        CodeRefusal::Unknown
    );
    assert!(
        s.user_token(&[10u8; 32]).await.unwrap().is_none(),
        "refusals store no token"
    );
    let done = s
        .exchange_code(&x(1, one.id, uri, T0 + 1, 10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((done.user_id, done.partner_id), (jane.id, partner));
    assert!(s.user_token(&[10u8; 32]).await.unwrap().is_some());
    assert_eq!(
        refused(s.exchange_code(&x(1, one.id, uri, T0 + 2, 11)).await),
        CodeRefusal::Used
    );
    // The token the spent code bought, and no other token of the user.
    s.issue_user_token(&[20u8; 32], jane.id, ts(T0 + 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        s.revoke_code_token(&[1u8; 32], ts(T0 + 3)).await.unwrap(),
        1
    );
    assert!(s.user_token(&[10u8; 32]).await.unwrap().is_none());
    assert!(s.user_token(&[20u8; 32]).await.unwrap().is_some());
    assert_eq!(
        s.revoke_code_token(&[1u8; 32], ts(T0 + 4)).await.unwrap(),
        0
    );
    s.insert_auth_code(&code(2)).await.unwrap();
    assert_eq!(
        refused(s.exchange_code(&x(2, one.id, uri, T0 + 600_000, 12)).await),
        CodeRefusal::Expired
    );
    s.insert_auth_code(&code(3)).await.unwrap();
    s.set_partner_user_disabled(jane.id, true, ts(T0))
        .await
        .unwrap();
    assert_eq!(
        refused(s.exchange_code(&x(3, one.id, uri, T0 + 1, 13)).await),
        CodeRefusal::UserDisabled
    );
}
