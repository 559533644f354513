use super::*;
use crate::domain::rules::tests::live;
use jpstart_types::{ProductSlug, SiteIdentifier};

const ME: KeyId = KeyId::new(1);
const OTHER: KeyId = KeyId::new(2);
const T: Timestamp = Timestamp::from_millis(5_000);

fn blog(n: u64) -> BlogId {
    BlogId::new(n).unwrap()
}

#[test]
fn cancel_of_an_unknown_site() {
    let by_id = SiteRef::BlogId(blog(4));
    assert_eq!(
        decide_cancel(&by_id, None, ME, &CancelTarget::All, T),
        Err(CancelRefusal::UnknownBlog(blog(4)))
    );
    let by_name = SiteRef::Identifier(SiteIdentifier::parse("nowhere.example").unwrap());
    assert_eq!(
        decide_cancel(&by_name, None, ME, &CancelTarget::All, T),
        Ok(vec![])
    );
}

#[test]
fn cancel_targets_keep_their_from_state() {
    let mut pending = live(2, "jetpack-scan", Some(ME));
    pending.state = ActivationState::Pending;
    let site = [
        live(1, "premium", Some(ME)),
        pending,
        live(3, "jetpack-backup-realtime", Some(OTHER)),
    ];
    let got = decide_cancel(
        &SiteRef::BlogId(blog(1)),
        Some(&site),
        ME,
        &CancelTarget::All,
        T,
    )
    .unwrap();
    let pairs: Vec<_> = got
        .iter()
        .map(|t| (t.id.get(), t.from, t.to, t.at))
        .collect();
    assert_eq!(
        pairs,
        [
            (1, ActivationState::Active, ActivationState::Cancelled, T),
            (2, ActivationState::Pending, ActivationState::Cancelled, T)
        ]
    );
    let one = CancelTarget::Product(ProductSlug::parse("jetpack-backup-realtime").unwrap());
    assert_eq!(
        decide_cancel(&SiteRef::BlogId(blog(1)), Some(&site), ME, &one, T),
        Err(CancelRefusal::OtherKey)
    );
}

#[test]
fn grant_needs_a_free_family() {
    let site = [live(1, "premium", Some(ME))];
    assert_eq!(
        decide_grant(&site, "jetpack-plans"),
        Err(GrantRefusal::FamilyTaken {
            family: "jetpack-plans".into()
        })
    );
    assert_eq!(decide_grant(&site, "jetpack-backup"), Ok(()));
}

#[test]
fn the_operator_activates_every_pending_one_a_link_its_partners() {
    let mut mine = live(1, "premium", Some(ME));
    mine.state = ActivationState::Pending;
    let mut theirs = live(2, "jetpack-backup-realtime", Some(OTHER));
    theirs.state = ActivationState::Pending;
    let site = [mine, theirs, live(3, "jetpack-scan", None)];
    let ids = |by| -> Vec<i64> {
        decide_connect(&site, by, T)
            .iter()
            .map(|t| t.id.get())
            .collect()
    };
    assert_eq!(ids(ConnectedBy::Operator), [1, 2]);
    // `live` gives key n the partner n.
    assert_eq!(ids(ConnectedBy::Link(PartnerId::new(ME.get()))), [1]);
    assert_eq!(ids(ConnectedBy::Link(PartnerId::new(OTHER.get()))), [2]);
    assert!(ids(ConnectedBy::Link(PartnerId::new(99))).is_empty());
}

#[test]
fn link_validity_expired_and_used() {
    let link = AuthLink {
        blog_id: blog(1),
        key_id: ME,
        partner_id: PartnerId::new(1),
        expires_at: T,
        used: false,
    };
    assert_eq!(link_validity(&link, Timestamp::from_millis(4_999)), Ok(()));
    assert_eq!(link_validity(&link, T), Err(LinkRefusal::Expired));
    let used = AuthLink { used: true, ..link };
    assert_eq!(
        link_validity(&used, Timestamp::from_millis(1)),
        Err(LinkRefusal::Used)
    );
    // Used wins over expired: the owner did approve with it.
    assert_eq!(link_validity(&used, T), Err(LinkRefusal::Used));
}

#[test]
fn expiry_ends_at_the_deadline() {
    let p = |id, ms| PendingActivation {
        id: ActivationId::new(id),
        expires_at: Timestamp::from_millis(ms),
    };
    let got = decide_expiry(&[p(1, 4_000), p(2, 5_000), p(3, 5_001)], T);
    let pairs: Vec<_> = got.iter().map(|t| (t.id.get(), t.at.as_millis())).collect();
    assert_eq!(pairs, [(1, 4_000), (2, 5_000)]);
    assert!(got.iter().all(|t| t.to == ActivationState::Expired));
}

#[test]
fn sub_keys_inherit_and_cannot_nest() {
    let parent = ParentKey {
        id: ME,
        partner_id: PartnerId::new(9),
        parent_key_id: None,
        test: true,
    };
    let ctx = |parent, sub_keys| SubKeyContext {
        parent,
        parent_limits: &[],
        asked: &[],
        sub_keys,
        max_sub_keys: 3,
    };
    assert_eq!(
        decide_sub_key(&ctx(parent, 2)),
        Ok(SubKeyPlan {
            partner_id: PartnerId::new(9),
            parent_key_id: ME,
            test: true
        })
    );
    let nested = ParentKey {
        parent_key_id: Some(OTHER),
        ..parent
    };
    assert_eq!(
        decide_sub_key(&ctx(nested, 0)),
        Err(SubKeyRefusal::ParentIsSubKey)
    );
    assert_eq!(
        decide_sub_key(&ctx(parent, 3)),
        Err(SubKeyRefusal::TooMany { max: 3 })
    );
}

#[test]
fn sub_keys_stay_within_the_parents_limits() {
    let premium = |n| vec![(ProductSlug::parse("premium").unwrap(), n)];
    let (parent_limits, asked) = (premium(1), premium(2));
    let ctx = SubKeyContext {
        parent: ParentKey {
            id: ME,
            partner_id: PartnerId::new(9),
            parent_key_id: None,
            test: false,
        },
        parent_limits: &parent_limits,
        asked: &asked,
        sub_keys: 0,
        max_sub_keys: 100,
    };
    assert!(matches!(
        decide_sub_key(&ctx),
        Err(SubKeyRefusal::AboveParent(_))
    ));
    let within = premium(1);
    assert!(decide_sub_key(&SubKeyContext {
        asked: &within,
        ..ctx
    })
    .is_ok());
    assert!(key_disabled(false, true) && key_disabled(true, false) && !key_disabled(false, false));
}

#[test]
fn credentials_need_a_site_and_the_holder_rule() {
    let me = PartnerId::new(ME.get());
    assert_eq!(decide_credentials(blog(2), Some(&[]), me), Ok(()));
    assert_eq!(
        decide_credentials(blog(2), None, me),
        Err(CredentialsRefusal::UnknownBlog(blog(2)))
    );
    let theirs = [live(1, "premium", Some(OTHER))];
    assert_eq!(
        decide_credentials(blog(2), Some(&theirs), me),
        Err(CredentialsRefusal::NotHolder(crate::domain::NotHolder(
            crate::domain::holder::SiteChange::Credentials
        )))
    );
    let both = [
        live(1, "premium", Some(OTHER)),
        live(2, "jetpack-scan", Some(ME)),
    ];
    assert_eq!(decide_credentials(blog(2), Some(&both), me), Ok(()));
}
