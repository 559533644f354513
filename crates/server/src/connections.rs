//! Caps on open connections, so that idle sockets cannot starve the
//! listener (issue 12, finding 9; SPEC §11).
//!
//! Every accepted connection takes a [`Ticket`] from the [`Registry`]:
//! - one address (IPv6: its /64) holding [`ConnLimits::per_address`]
//!   connections gets no more: the new one is closed at once;
//! - at [`ConnLimits::max`] the oldest idle connection (no request in
//!   flight, typically one that never sent anything) is closed to make room,
//!   so a prompt client is served even while idle sockets fill the table; if
//!   every connection is busy, the new one is closed.
//!
//! A connection is busy from the moment its request reaches the service
//! until the response body has been written ([`Busy`]), so a connection is
//! never closed under a request it is answering.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::Notify;

use crate::throttle::address_bucket;

/// How many connections may be open (`0`: no per-address cap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    pub max: usize,
    pub per_address: usize,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its address already holds its share.
    PerAddress,
    /// The table is full of busy connections.
    Full,
}

/// The open connections, oldest first.
pub struct Registry {
    limits: ConnLimits,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// Ids grow with time, so the first idle entry is the oldest idle one.
    open: BTreeMap<u64, Entry>,
    per_address: HashMap<IpAddr, usize>,
}

struct Entry {
    address: IpAddr,
    shared: Arc<Shared>,
}

/// What a connection's task and the registry both see.
#[derive(Default)]
struct Shared {
    /// Requests in flight on the connection.
    busy: AtomicUsize,
    /// Signalled when the registry closes the connection to make room.
    evicted: Notify,
}

impl Registry {
    pub fn new(limits: ConnLimits) -> Arc<Self> {
        Arc::new(Registry {
            limits,
            state: Mutex::new(State::default()),
        })
    }

    pub fn limits(&self) -> ConnLimits {
        self.limits
    }

    /// Open connections now.
    pub fn len(&self) -> usize {
        self.lock().open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent across a panic (every change is one
        // step), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a connection from `peer`, closing the oldest idle one when
    /// the table is full.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Ticket, Refused> {
        let address = address_bucket(peer);
        let mut state = self.lock();
        let held = state.per_address.get(&address).copied().unwrap_or(0);
        if self.limits.per_address > 0 && held >= self.limits.per_address {
            return Err(Refused::PerAddress);
        }
        if state.open.len() >= self.limits.max && !state.evict_oldest_idle() {
            return Err(Refused::Full);
        }
        let id = state.next_id;
        state.next_id += 1;
        let shared = Arc::new(Shared::default());
        state.open.insert(
            id,
            Entry {
                address,
                shared: shared.clone(),
            },
        );
        *state.per_address.entry(address).or_insert(0) += 1;
        Ok(Ticket {
            id,
            registry: self.clone(),
            shared,
        })
    }

    /// Closes the oldest idle connection, if there is one (the process is
    /// out of descriptors: one freed lets the listener accept again).
    pub fn evict_oldest_idle(&self) -> bool {
        self.lock().evict_oldest_idle()
    }
}

impl State {
    fn evict_oldest_idle(&mut self) -> bool {
        let idle = self
            .open
            .iter()
            .find(|(_, e)| e.shared.busy.load(Ordering::SeqCst) == 0)
            .map(|(id, _)| *id);
        let Some(entry) = idle.and_then(|id| self.open.remove(&id)) else {
            return false;
        };
        self.release(entry.address);
        entry.shared.evicted.notify_one();
        true
    }

    fn release(&mut self, address: IpAddr) {
        if let Some(n) = self.per_address.get_mut(&address) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&address);
            }
        }
    }
}

/// One admitted connection; dropping it frees its place.
pub struct Ticket {
    id: u64,
    registry: Arc<Registry>,
    shared: Arc<Shared>,
}

impl Ticket {
    /// Resolves when the registry closed this connection to make room.
    pub async fn evicted(&self) {
        self.shared.evicted.notified().await
    }

    /// Marks a request in flight until the returned guard drops.
    pub fn busy(&self) -> Busy {
        self.busy_handle().busy()
    }

    /// For the connection's service, which outlives no borrow.
    pub fn busy_handle(&self) -> BusyHandle {
        BusyHandle(self.shared.clone())
    }
}

/// Marks requests in flight on one connection (see [`Ticket::busy`]).
#[derive(Clone)]
pub struct BusyHandle(Arc<Shared>);

impl BusyHandle {
    pub fn busy(&self) -> Busy {
        self.0.busy.fetch_add(1, Ordering::SeqCst);
        Busy(self.0.clone())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.registry.lock();
        if let Some(entry) = state.open.remove(&self.id) {
            state.release(entry.address);
        }
    }
}

/// A request in flight (see [`Ticket::busy`]).
pub struct Busy(Arc<Shared>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its connection busy until it is written.
pub struct TrackedBody {
    inner: axum::body::Body,
    _busy: Busy,
}

impl TrackedBody {
    pub fn new(inner: axum::body::Body, busy: Busy) -> Self {
        TrackedBody { inner, _busy: busy }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The most connections the open-file limit leaves room for: the soft
/// `RLIMIT_NOFILE` less a reserve for the database pool, the listener, log
/// and key files (at least 32 descriptors, an eighth of a large limit).
/// `None` when the limit is unknown or unlimited.
pub fn descriptor_budget() -> Option<usize> {
    #[cfg(unix)]
    {
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current?;
        let soft = usize::try_from(soft).ok()?;
        let reserve = (soft / 8).max(32);
        Some(soft.saturating_sub(reserve).max(1))
    }
    #[cfg(not(unix))]
    None
}

/// Whether an `accept` error means the process or system is out of
/// descriptors or buffers (back off and free one), rather than one failed
/// handshake (go on at once).
pub fn is_resource_exhaustion(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        matches!(
            Errno::from_io_error(e),
            Some(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_address_cap_refuses_the_extra_connection() {
        let r = Registry::new(ConnLimits {
            max: 100,
            per_address: 2,
        });
        let a1 = r.admit(ip("192.0.2.1")).unwrap();
        let _a2 = r.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(r.admit(ip("192.0.2.1")).err(), Some(Refused::PerAddress));
        // Another address has its own share; the same /64 does not.
        assert!(r.admit(ip("192.0.2.2")).is_ok());
        let _b1 = r.admit(ip("2001:db8::1")).unwrap();
        let _b2 = r.admit(ip("2001:db8::2")).unwrap();
        assert_eq!(r.admit(ip("2001:db8::3")).err(), Some(Refused::PerAddress));
        drop(a1);
        assert!(
            r.admit(ip("192.0.2.1")).is_ok(),
            "a closed connection frees its place"
        );
    }

    #[tokio::test]
    async fn a_full_table_evicts_the_oldest_idle_connection() {
        let r = Registry::new(ConnLimits {
            max: 3,
            per_address: 0,
        });
        let oldest = r.admit(ip("192.0.2.1")).unwrap();
        let busy = r.admit(ip("192.0.2.2")).unwrap();
        let guard = busy.busy();
        let idle = r.admit(ip("192.0.2.3")).unwrap();
        // Full: the oldest idle one goes (not the busy one).
        let _new = r.admit(ip("192.0.2.4")).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), oldest.evicted())
            .await
            .unwrap();
        assert_eq!(r.len(), 3);
        let newer = r.admit(ip("192.0.2.5")).unwrap();
        idle.evicted().await;
        // Every connection busy: the new one is refused.
        let _g4 = _new.busy();
        let _g5 = newer.busy();
        assert_eq!(r.admit(ip("192.0.2.7")).err(), Some(Refused::Full));
        drop(guard);
        assert!(r.admit(ip("192.0.2.7")).is_ok(), "an idle connection again");
    }
}
