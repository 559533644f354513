//! The contract of the [`Store`] trait, run against every backend.
//!
//! Each test opens the store directly (`jpstart_server::store::open`) on a
//! fresh SQLite file and, when `JPSTART_TEST_POSTGRES_URL` names a
//! PostgreSQL server, on a fresh database there; both must answer alike.

// Tests may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use std::time::Duration;

use jpstart_server::clock::Timestamp;
use jpstart_server::domain::rules::CancelTarget;
use jpstart_server::domain::{ApiError, Catalogue, ErrorCode};
use jpstart_server::store::{
    self, ActivationFilter, Backend, CancelRequest, NewKey, ProvisionRequest, ProvisionSite, Store,
    StoreError,
};
use jpstart_types::{ActivationId, BlogId, KeyId, PartnerId, ProductSlug, SiteIdentifier, SiteRef};
use tempfile::TempDir;

use jpstart_testkit::{with_database, PgDatabase, POSTGRES_ENV};
const T0: i64 = 1_700_000_000_000;
const DAY: i64 = 86_400_000;

/// A time given in milliseconds since the epoch.
fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// One store on a database of its own.
struct Fx {
    store: Arc<dyn Store>,
    cat: Catalogue,
    _dir: Option<TempDir>,
    _pg: Option<PgDatabase>,
}

impl Fx {
    async fn sqlite() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("contract.db").display());
        let store = store::open(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        Fx {
            store,
            cat: Catalogue::builtin(),
            _dir: Some(dir),
            _pg: None,
        }
    }

    async fn postgres() -> Option<Fx> {
        let db = PgDatabase::create("jpstart_contract").await?;
        let url = db.url().to_string();
        let store = store::open(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        Some(Fx {
            store,
            cat: Catalogue::builtin(),
            _dir: None,
            _pg: Some(db),
        })
    }

    /// A partner with one key (limits `SLUG=N`).
    async fn key(&self, limits: &[(&str, i64)]) -> (PartnerId, KeyId) {
        let partner = self.store.create_partner("Contract", ts(T0)).await.unwrap();
        let key = self.key_of(partner, None, limits).await;
        (partner, key)
    }

    async fn key_of(
        &self,
        partner: PartnerId,
        parent: Option<KeyId>,
        limits: &[(&str, i64)],
    ) -> KeyId {
        let new = NewKey {
            partner_id: partner,
            parent_key_id: parent,
            name: "k".into(),
            secret_digest: vec![7; 32],
            test: false,
            limits: limits.iter().map(|(s, n)| (slug(s), *n)).collect(),
        };
        self.store.create_key(&new, ts(T0)).await.unwrap()
    }

    /// Provisions `product` to the site at `url` by `key` at `now`. The
    /// plan is resolved here, as the handler does at the edge: a slug the
    /// catalogue does not know is `invalid_plan` without reaching the store.
    async fn provision(
        &self,
        key: KeyId,
        url: &str,
        product: Option<&str>,
        now: i64,
    ) -> Result<store::ProvisionOutcome, ErrorCode> {
        let req = self.request(key, url, product, now).await?;
        self.run(&req).await
    }

    /// Runs a provision request; a refusal as its catalogued code.
    async fn run(&self, req: &ProvisionRequest) -> Result<store::ProvisionOutcome, ErrorCode> {
        self.store
            .provision(req)
            .await
            .unwrap()
            .map_err(|e| ApiError::from(e).code)
    }

    /// A product resolved from the catalogue, as the edge does.
    fn resolved(&self, slug: &str) -> jpstart_server::domain::ResolvedProduct {
        self.cat
            .resolve(&ProductSlug::parse(slug).unwrap())
            .unwrap()
    }

    /// The provision request the handler would build.
    async fn request(
        &self,
        key: KeyId,
        url: &str,
        product: Option<&str>,
        now: i64,
    ) -> Result<ProvisionRequest, ErrorCode> {
        let product = match product {
            None => None,
            Some(p) => Some(
                ProductSlug::parse(p)
                    .ok()
                    .and_then(|s| self.cat.resolve(&s))
                    .ok_or(ErrorCode::InvalidPlan)?,
            ),
        };
        let partner_id = self.store.key(key).await.unwrap().unwrap().partner_id;
        Ok(ProvisionRequest {
            key_id: key,
            partner_id,
            site: ProvisionSite::Url {
                identifier: ident(url),
                url: url.to_string(),
            },
            local_user: Some("admin".into()),
            product,
            force_register: false,
            force_connect: false,
            partner_tracking_id: Some("track-1".into()),
            now: ts(now),
            pending_ttl: Duration::from_millis(DAY.unsigned_abs()),
            auth_link_digest: rand::random::<[u8; 32]>().to_vec(),
        })
    }

    async fn cancel(
        &self,
        key: KeyId,
        site: SiteRef,
        product: Option<&str>,
        all: bool,
        now: i64,
    ) -> Result<Vec<ActivationId>, ErrorCode> {
        // Resolved as the handler does: an unknown slug never reaches the store.
        let product = match product {
            None => None,
            Some(p) => Some(
                ProductSlug::parse(p)
                    .ok()
                    .filter(|s| self.cat.product(s).is_some())
                    .ok_or(ErrorCode::InvalidPlan)?,
            ),
        };
        let target = match product {
            _ if all => CancelTarget::All,
            None => CancelTarget::PlansFamily(self.cat.plans_slugs()),
            Some(slug) => CancelTarget::Product(slug),
        };
        let req = CancelRequest {
            key_id: key,
            site,
            target,
            now: ts(now),
        };
        self.store
            .cancel(&req)
            .await
            .unwrap()
            .map(|o| o.cancelled.iter().map(|c| c.id).collect())
            .map_err(|e| ApiError::from(e).code)
    }

    async fn states(&self, filter: ActivationFilter) -> Vec<(String, String)> {
        self.store
            .activations(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.product.to_string(), a.state.to_string()))
            .collect()
    }
}

fn slug(s: &str) -> ProductSlug {
    ProductSlug::parse(s).unwrap()
}

fn ident(url: &str) -> SiteIdentifier {
    SiteIdentifier::from_url(url).unwrap()
}

fn by_url(url: &str) -> SiteRef {
    SiteRef::Identifier(ident(url))
}

impl jpstart_testkit::Backends for Fx {
    const SUITE: &'static str = "store contract tests";

    async fn sqlite() -> Fx {
        Fx::sqlite().await
    }

    async fn postgres() -> Option<Fx> {
        Fx::postgres().await
    }
}

/// The PostgreSQL half of a test did not run (see
/// [`jpstart_testkit::postgres_skipped`]).
fn postgres_skipped() {
    jpstart_testkit::postgres_skipped(<Fx as jpstart_testkit::Backends>::SUITE);
}

/// Runs each named `async fn name(fx: Fx)` on both backends, as
/// `name::sqlite` and `name::postgres` (see [`jpstart_testkit::both_backends!`]).
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        jpstart_testkit::both_backends!(crate::Fx => fns $($name),*);
    };
}

// After the macro: modules see only the macros defined above them.
mod accounts;
mod activations;
mod portal;
mod portal_pages;
mod reporting;
mod request_log;
mod sandbox;
mod test_clock;
mod users;
mod webhooks;

#[tokio::test]
async fn unsupported_scheme_is_refused_clearly() {
    let err = store::open("mysql://root@127.0.0.1/jpstart")
        .await
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(
        msg.contains("unsupported database URL")
            && msg.contains("sqlite://")
            && msg.contains("postgres://"),
        "{msg}"
    );
}

#[tokio::test]
async fn missing_postgres_database_is_not_created() {
    let Some(admin_url) = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty()) else {
        return postgres_skipped();
    };
    let name = format!("jpstart_typo_{}", rand::random::<u64>());
    let err = store::open(&with_database(&admin_url, &name))
        .await
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("database \"{name}\" does not exist"))
            && msg.contains("never creates"),
        "{msg}"
    );
    use sqlx::Connection;
    let mut conn = sqlx::postgres::PgConnection::connect(&admin_url)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 0, "the database was created");
}

/// A deadlock between a store transaction and another session: PostgreSQL
/// aborts one of them, and when it is the store's, the store runs it again
/// (see `store::retry`) instead of failing the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_victim_is_run_again() {
    use sqlx::Connection;
    let Some(db) = PgDatabase::create("jpstart_contract").await else {
        return postgres_skipped();
    };
    let url = db.url().to_string();
    let fx = Fx {
        store: store::open(&url).await.unwrap(),
        cat: Catalogue::builtin(),
        _dir: None,
        _pg: Some(db),
    };
    let (_, key) = fx.key(&[]).await;
    let a1 = fx
        .provision(key, "https://d1.example", Some("premium"), T0)
        .await
        .unwrap();
    let a2 = fx
        .provision(key, "https://d2.example", Some("premium"), T0)
        .await
        .unwrap();
    let (a1, a2) = (a1.activation.unwrap().id, a2.activation.unwrap().id);

    // Another session holds a2; the sweep locks a1 and waits for a2.
    let mut other = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
    let mut watch = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("UPDATE activations SET partner_tracking_id = 'held' WHERE id = $1")
        .bind(a2.get())
        .execute(&mut other)
        .await
        .unwrap();
    let store = fx.store.clone();
    let sweep = tokio::spawn(async move { store.expire_pending(ts(T0 + DAY)).await });
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query LIKE 'UPDATE activations SET state%'",
        )
        .fetch_one(&mut watch)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    // Now the other session wants a1: a cycle. PostgreSQL aborts the
    // transaction that has waited longest (after deadlock_timeout): the sweep.
    let second = sqlx::query("UPDATE activations SET partner_tracking_id = 'held' WHERE id = $1")
        .bind(a1.get())
        .execute(&mut other)
        .await;
    match second {
        Ok(_) => sqlx::query("COMMIT").execute(&mut other).await.unwrap(),
        // This session was the victim instead: nothing to retry for the store.
        Err(_) => sqlx::query("ROLLBACK").execute(&mut other).await.unwrap(),
    };
    let expired = sweep
        .await
        .unwrap()
        .expect("the sweep succeeds on a later try");
    assert_eq!(expired, 2);
    assert_eq!(
        fx.states(ActivationFilter::default()).await,
        [
            ("premium".into(), "expired".into()),
            ("premium".into(), "expired".into())
        ]
    );
}
