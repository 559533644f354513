//! The sandbox's flaky-site counter: per key and site, every hit counted
//! once even when several land at once.

use crate::*;

contract!(sandbox_flaky_hits_count_per_key_and_site);

async fn sandbox_flaky_hits_count_per_key_and_site(fx: Fx) {
    let s = &fx.store;
    let site = SiteIdentifier::parse("flaky-2.jpstart.test").unwrap();
    let other = SiteIdentifier::parse("flaky-2.jpstart.test::shop").unwrap();
    let (k1, k2) = (KeyId::new(1), KeyId::new(2));
    assert_eq!(s.sandbox_flaky_hit(k1, &site).await.unwrap(), 1);
    assert_eq!(s.sandbox_flaky_hit(k1, &site).await.unwrap(), 2);
    assert_eq!(s.sandbox_flaky_hit(k2, &site).await.unwrap(), 1, "per key");
    assert_eq!(
        s.sandbox_flaky_hit(k1, &other).await.unwrap(),
        1,
        "per site"
    );

    // Concurrent hits: each gets its own count, none lost.
    let hits = (0..10).map(|_| s.sandbox_flaky_hit(k2, &other));
    let mut got: Vec<i64> = futures_util::future::join_all(hits)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    got.sort_unstable();
    assert_eq!(got, (1..=10).collect::<Vec<_>>());
}
