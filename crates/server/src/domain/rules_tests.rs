use super::*;
use crate::domain::ApiError;
use crate::domain::ErrorCode;

const ME: KeyId = KeyId::new(1);
const OTHER: KeyId = KeyId::new(2);

pub(crate) fn live(id: i64, slug: &str, key: Option<KeyId>) -> LiveActivation {
    let cat = Catalogue::builtin();
    let product = ProductSlug::parse(slug).unwrap();
    LiveActivation {
        id: ActivationId::new(id),
        family: cat.resolve(&product).unwrap().family,
        product,
        key_id: key,
        partner_id: key.map(|k| PartnerId::new(k.get())),
        state: ActivationState::Active,
        created_at: Timestamp::EPOCH,
        partner_tracking_id: None,
    }
}

fn resolved(slug: &str) -> ResolvedProduct {
    Catalogue::builtin()
        .resolve(&ProductSlug::parse(slug).unwrap())
        .unwrap()
}

fn decide(site: &[LiveActivation], slug: &str) -> Result<ProductDecision, ErrorCode> {
    product_rules(site, ME, &resolved(slug)).map_err(|e| ApiError::from(e).code)
}

fn id(n: i64) -> ActivationId {
    ActivationId::new(n)
}

#[test]
fn provision_rules_in_order() {
    use ProductDecision::*;
    assert_eq!(decide(&[], "premium"), Ok(Create { supersede: None }));
    assert_eq!(
        decide(&[live(7, "premium", Some(ME))], "premium"),
        Ok(AlreadyLive {
            activation_id: id(7)
        })
    );
    assert_eq!(
        decide(&[live(7, "premium", Some(OTHER))], "premium"),
        Err(ErrorCode::ProductOwnedByAnotherPartner)
    );
    assert_eq!(
        decide(&[live(7, "professional", Some(ME))], "premium"),
        Err(ErrorCode::PlanDowngradeDisallowed)
    );
    assert_eq!(
        decide(&[live(7, "professional", Some(OTHER))], "premium"),
        Err(ErrorCode::PlanDowngradeDisallowed)
    );
    assert_eq!(
        decide(&[live(7, "premium", Some(ME))], "jetpack-scan"),
        Err(ErrorCode::ProductAlreadyIncluded)
    );
    assert_eq!(
        decide(&[live(7, "premium", Some(ME))], "jetpack-backup-daily"),
        Err(ErrorCode::ProductAlreadyIncluded)
    );
    assert_eq!(
        decide(&[live(7, "premium", Some(ME))], "jetpack-backup-realtime"),
        Ok(Create { supersede: None })
    );
    assert_eq!(
        decide(&[live(7, "professional", Some(ME))], "jetpack-backup-daily"),
        Err(ErrorCode::ProductAlreadyIncluded)
    );
    assert_eq!(
        decide(&[live(7, "premium", Some(ME))], "professional"),
        Ok(Create {
            supersede: Some(id(7))
        })
    );
    assert_eq!(
        decide(&[live(7, "personal", Some(OTHER))], "premium"),
        Err(ErrorCode::ProductOwnedByAnotherPartner)
    );
    assert_eq!(
        decide(&[live(7, "jetpack-scan", Some(ME))], "premium"),
        Ok(Create { supersede: None })
    );
}

#[test]
fn refusals_name_the_products() {
    let r = product_rules(
        &[live(7, "premium", Some(ME))],
        ME,
        &resolved("jetpack-scan"),
    );
    assert_eq!(
        r,
        Err(ProvisionRefusal::AlreadyIncluded {
            product: ProductSlug::parse("jetpack-scan").unwrap(),
            holder: ProductSlug::parse("premium").unwrap(),
        })
    );
    let r = product_rules(
        &[live(7, "personal", Some(OTHER))],
        ME,
        &resolved("premium"),
    );
    assert_eq!(
        r,
        Err(ProvisionRefusal::OwnedByAnotherPartner(
            ProductSlug::parse("personal").unwrap()
        ))
    );
}

#[test]
fn cancel_targets_by_request() {
    let cat = Catalogue::builtin();
    let site = [
        live(1, "premium", Some(ME)),
        live(2, "jetpack-backup-realtime", Some(OTHER)),
        live(3, "jetpack-scan", None),
    ];
    let slug = |s: &str| ProductSlug::parse(s).unwrap();
    let c = |t: CancelTarget| cancel_targets(&site, ME, &t).map_err(|e| ApiError::from(e).code);
    assert_eq!(
        c(CancelTarget::PlansFamily(cat.plans_slugs())),
        Ok(vec![id(1)])
    );
    assert_eq!(
        c(CancelTarget::Product(slug("jetpack-backup-realtime"))),
        Err(ErrorCode::IncorrectPartnerKey)
    );
    assert_eq!(
        c(CancelTarget::Product(slug("jetpack-scan"))),
        Err(ErrorCode::NotJpsPlan)
    );
    assert_eq!(
        c(CancelTarget::Product(slug("jetpack-anti-spam"))),
        Ok(vec![])
    );
    assert_eq!(c(CancelTarget::All), Ok(vec![id(1)]));
    // `plan` names one product: another tier of the live one is not it
    // (docs/COMPATIBILITY.md, "Cancellation and status").
    assert_eq!(c(CancelTarget::Product(slug("professional"))), Ok(vec![]));
    assert_eq!(
        cancel_targets(&[], ME, &CancelTarget::All).unwrap(),
        Vec::<ActivationId>::new()
    );
    // Another key's activations are never swept up by cancel-all.
    assert_eq!(
        cancel_targets(&site, OTHER, &CancelTarget::All).unwrap(),
        vec![id(2)]
    );
}

#[test]
fn upgrade_paths_of_the_issue() {
    let cat = Catalogue::builtin();
    let get = |site: &[LiveActivation], fam: &str, usage: &KeyUsage| {
        upgrade_paths(&cat, site, ME, usage)
            .into_iter()
            .find(|(f, _)| f == fam)
            .unwrap()
            .1
    };
    let any = KeyUsage::default();
    assert_eq!(
        get(&[], "jetpack-plans", &any),
        ["personal", "premium", "professional"]
    );
    assert_eq!(
        get(&[], "jetpack-backup", &any),
        ["jetpack-backup-daily", "jetpack-backup-realtime"]
    );
    let premium = [live(1, "premium", Some(ME))];
    assert_eq!(get(&premium, "jetpack-plans", &any), ["professional"]);
    assert_eq!(
        get(&premium, "jetpack-backup", &any),
        ["jetpack-backup-realtime"]
    );
    assert!(get(&premium, "jetpack-scan", &any).is_empty());
    assert!(get(&premium, "jetpack-anti-spam", &any).is_empty());
}

#[test]
fn upgrade_paths_follow_the_limits() {
    let cat = Catalogue::builtin();
    let slug = |s: &str| ProductSlug::parse(s).unwrap();
    let usage = KeyUsage {
        is_sub_key: true,
        limits: vec![(slug("premium"), 2), (slug("professional"), 1)],
        live: vec![(slug("professional"), 1)],
        parent: None,
    };
    let plans = upgrade_paths(&cat, &[], ME, &usage)
        .into_iter()
        .find(|(f, _)| f == "jetpack-plans")
        .unwrap()
        .1;
    assert_eq!(plans, ["premium"]);
    // The parent's premium budget is used up by the family: none offered.
    let usage = KeyUsage {
        parent: Some(ParentUsage {
            limits: vec![(slug("premium"), 3)],
            live: vec![(slug("premium"), 3)],
        }),
        ..usage
    };
    let plans = upgrade_paths(&cat, &[], ME, &usage)
        .into_iter()
        .find(|(f, _)| f == "jetpack-plans")
        .unwrap()
        .1;
    assert!(plans.is_empty(), "{plans:?}");
}
