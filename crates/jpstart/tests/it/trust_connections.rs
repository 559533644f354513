//! Issue 12, finding 9 (SPEC §11): idle sockets cannot starve the listener.
//! A per-address cap refuses one address's extra connections at once; at
//! the global cap (and when the process runs out of descriptors) the oldest
//! idle connection makes room, so a prompt client is still served.
//!
//! Loopback has a whole /8: the tests open the attacker's sockets from
//! 127.0.0.1 or 127.0.1.x and the honest client from 127.0.0.2.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use reqwest::Method;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::common::*;

fn server_addr(app: &TestApp) -> SocketAddr {
    app.base.strip_prefix("http://").unwrap().parse().unwrap()
}

/// A connection from `from` that sends nothing.
async fn idle_socket(app: &TestApp, from: IpAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(server_addr(app)).await.unwrap()
}

/// Whether the server closed `s` within `limit` (end of stream or reset).
async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(limit, s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// A client whose connections come from `from`, new for every request.
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap()
}

async fn healthz(app: &TestApp, client: &reqwest::Client) -> Result<u16, String> {
    let res = client
        .request(Method::GET, app.url("/healthz"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(res.status().as_u16())
}

both_backends! {
    async fn one_address_cannot_hold_more_than_its_share(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default()
            .arg("--max-connections-per-address").arg("10")
            // Not the header timeout: the cap must close them.
            .arg("--header-timeout").arg("60s")).await;
        let p = app.partner("Host A").await;
        let (status, body) = app
            .provision(&p.token, &[("siteurl", "https://a.example"), ("local_user", "admin"), ("plan", "premium")])
            .await;
        assert_eq!(status, 200, "{body}");
        let attacker: IpAddr = "127.0.0.1".parse().unwrap();
        let mut held = Vec::new();
        for _ in 0..60 {
            held.push(idle_socket(&app, attacker).await);
        }
        let mut closed = 0;
        for s in &mut held {
            closed += usize::from(closed_within(s, Duration::from_millis(300)).await);
        }
        // At most 10 stay open (one may be the client pool's own connection).
        assert!(closed >= 50 && held.len() - closed <= 10, "the ones beyond the cap of 10 are closed at once: {closed} closed");
        // A new request from the same address is refused quickly...
        let start = Instant::now();
        let refused = healthz(&app, &client_from("127.0.0.1")).await;
        assert!(refused.is_err(), "{refused:?}");
        assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
        // ...while another address is served.
        let other = client_from("127.0.0.2");
        assert_eq!(healthz(&app, &other).await, Ok(200));
        let res = other.get(app.url("/rest/v1.4/jpphp/a.example/status")).bearer_auth(&p.token).send().await.unwrap();
        assert_eq!(res.status(), 200, "the API answers");
        // The attacker's sockets gone, the address is served again.
        drop(held);
        let deadline = Instant::now() + Duration::from_secs(5);
        while healthz(&app, &client_from("127.0.0.1")).await != Ok(200) {
            assert!(Instant::now() < deadline, "127.0.0.1 is served again");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_do_not_starve_a_server_short_of_descriptors() {
    // The attack: few descriptors, more idle sockets than fit, each
    // from its own address so that no per-address cap applies. Defaults.
    let app = TestApp::spawn_with(
        Db::sqlite(),
        Opts::default()
            .shell("ulimit -n 64")
            .arg("--header-timeout")
            .arg("60s"),
    )
    .await;
    let mut held = Vec::new();
    for i in 1..=150u8 {
        held.push(idle_socket(&app, IpAddr::from([127, 0, 1, i])).await);
    }
    // The cap was lowered to fit the descriptors, and said so.
    app.wait_for_log("open-file limit").await;
    let honest = client_from("127.0.0.2");
    for round in 0..5 {
        let start = Instant::now();
        assert_eq!(
            healthz(&app, &honest).await,
            Ok(200),
            "round {round}\n{}",
            app.logs()
        );
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }
    // A write still goes through (the database has its descriptors).
    let p = app.partner("Host A").await;
    let (status, body) = app
        .provision(
            &p.token,
            &[
                ("siteurl", "https://fd.example"),
                ("local_user", "admin"),
                ("plan", "premium"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    drop(held);
}
