//! The request log's rows (SPEC §9): batches in one statement or many,
//! filters, newest-first paging with the total, pruning by time.

use crate::*;
use jpstart_server::store::{NewLoggedRequest, RequestLogFilter};

contract!(request_log_inserts_filters_pages_and_prunes);

fn entry(i: i64, key: Option<(PartnerId, KeyId)>, path: &str, status: u16) -> NewLoggedRequest {
    NewLoggedRequest {
        time: ts(T0 + i * 1000),
        partner_id: key.map(|k| k.0),
        key_id: key.map(|k| k.1),
        method: "GET".into(),
        path: path.into(),
        status,
        error_code: (status >= 400).then(|| "invalid_blog".to_string()),
        latency_ms: i,
        params: format!("{{\"i\":\"{i}\"}}"),
        response: "null".into(),
    }
}

async fn request_log_inserts_filters_pages_and_prunes(fx: Fx) {
    let s = &fx.store;
    let (p1, k1) = fx.key(&[]).await;
    let k2 = fx.key_of(p1, Some(k1), &[]).await;
    let (p2, k3) = fx.key(&[]).await;
    // More rows than one INSERT statement carries; equal times too.
    let mut batch: Vec<NewLoggedRequest> = (0..120)
        .map(|i| {
            entry(
                i,
                Some((p1, if i % 2 == 0 { k1 } else { k2 })),
                "/rest/v1.4/jpphp/a/status",
                200,
            )
        })
        .collect();
    batch.push(entry(
        119,
        Some((p1, k1)),
        "/rest/v1.3/jpphp/provision",
        400,
    ));
    batch.push(entry(5, Some((p2, k3)), "/rest/v1.3/jpphp/provision", 200));
    batch.push(entry(6, None, "/oauth2/token", 400));
    s.insert_requests(&batch).await.unwrap();
    s.insert_requests(&[]).await.unwrap();

    let read = |f: RequestLogFilter| async move { s.requests(&f).await.unwrap() };
    let all = RequestLogFilter {
        limit: 1000,
        ..Default::default()
    };
    let (total, rows) = read(all.clone()).await;
    assert_eq!(total, 123);
    assert_eq!(rows.len(), 123);
    // Newest first: time, then id, descending.
    assert!(rows
        .windows(2)
        .all(|w| (w[0].entry.time, w[0].id) > (w[1].entry.time, w[1].id)));
    assert_eq!(rows[0].entry.path, "/rest/v1.3/jpphp/provision");
    let stored = rows.iter().find(|r| r.entry.key_id.is_none()).unwrap();
    assert_eq!(stored.entry, batch[122]);

    let of = |partner, key, status, path: Option<&str>, offset, limit| RequestLogFilter {
        partner,
        key,
        status,
        path_prefix: path.map(str::to_string),
        offset,
        limit,
    };
    assert_eq!(read(of(Some(p1), None, None, None, 0, 10)).await.0, 121);
    assert_eq!(read(of(Some(p2), None, None, None, 0, 10)).await.0, 1);
    assert_eq!(read(of(Some(p1), Some(k2), None, None, 0, 10)).await.0, 60);
    assert_eq!(read(of(Some(p1), None, Some(400), None, 0, 10)).await.0, 1);
    assert_eq!(read(of(None, None, Some(400), None, 0, 10)).await.0, 2);
    assert_eq!(
        read(of(None, None, None, Some("/rest/v1.3/"), 0, 10))
            .await
            .0,
        2
    );
    assert_eq!(
        read(of(None, None, None, Some("/REST"), 0, 10)).await.0,
        0,
        "case-sensitive"
    );
    assert_eq!(
        read(of(None, None, None, Some("/rest/v1.4/jpphp/a%"), 0, 10))
            .await
            .0,
        0,
        "no wildcards"
    );
    // Pages: disjoint, in order, the total on each.
    let (t, page1) = read(of(Some(p1), None, None, None, 0, 50)).await;
    let (t2, page3) = read(of(Some(p1), None, None, None, 100, 50)).await;
    assert_eq!((t, t2), (121, 121));
    assert_eq!((page1.len(), page3.len()), (50, 21));
    assert!(page1.last().unwrap().entry.time > page3[0].entry.time);

    // Pruning: strictly before the time given.
    assert_eq!(s.prune_requests(ts(T0 + 10 * 1000)).await.unwrap(), 12);
    let (total, rows) = read(all).await;
    assert_eq!(total, 111);
    assert!(rows.iter().all(|r| r.entry.time >= ts(T0 + 10 * 1000)));
    assert_eq!(s.prune_requests(ts(T0)).await.unwrap(), 0);
}
