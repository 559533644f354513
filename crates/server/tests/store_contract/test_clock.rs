//! The test clock's offset kept in the database: forward only, and every
//! move counted even when several land at once.

use crate::*;

contract!(test_clock_offset_moves_forward_only);

async fn test_clock_offset_moves_forward_only(fx: Fx) {
    let s = &fx.store;
    assert_eq!(s.clock_offset().await.unwrap(), 0, "no move yet");
    assert_eq!(s.advance_clock_offset(DAY).await.unwrap(), DAY);
    assert_eq!(s.advance_clock_offset(0).await.unwrap(), DAY);
    assert!(matches!(
        s.advance_clock_offset(-1).await,
        Err(StoreError::Config(_))
    ));

    // Concurrent advances all count (one statement each, no lost update).
    let moves = (0..10).map(|_| s.advance_clock_offset(5));
    for r in futures_util::future::join_all(moves).await {
        r.unwrap();
    }
    assert_eq!(s.clock_offset().await.unwrap(), DAY + 50);

    // Setting: back is refused (and reports where it stands), forward is not.
    assert_eq!(s.raise_clock_offset(DAY).await.unwrap(), Err(DAY + 50));
    assert_eq!(s.raise_clock_offset(-5).await.unwrap(), Err(DAY + 50));
    assert_eq!(s.raise_clock_offset(DAY + 50).await.unwrap(), Ok(DAY + 50));
    assert_eq!(s.raise_clock_offset(2 * DAY).await.unwrap(), Ok(2 * DAY));
    assert_eq!(s.clock_offset().await.unwrap(), 2 * DAY);
}
