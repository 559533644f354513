//! Storage behind one trait.
//!
//! [`Store`] is what the rest of the server sees. Its operations are whole
//! units of work: each runs in one database transaction, loads what a
//! decision needs under its locks, asks a pure function of
//! [`crate::domain`] for a plan or a refusal, applies the plan, and either
//! commits everything or nothing. The store never builds an API error nor
//! reads the catalogue: products come resolved ([`ResolvedProduct`]) and
//! refusals go back as domain values.
//!
//! One implementation, [`sql::SqlStore`], serves both backends: the
//! queries are written once in the subset of SQL both speak, and the few
//! places where the dialects differ (how a write transaction starts, row
//! locks, migrations) live in [`dialect`]. On PostgreSQL every statement
//! goes through sqlx's `Any` driver. On an SQLite file the hot units (token
//! lookup, status, provision, cancel, token issue) run whole on a native
//! rusqlite connection, their writes committed in groups (`sql/native.rs`),
//! through the same unit code (`sql/exec.rs`); the rest goes through sqlx.
//! Uniqueness and limits are enforced by the database itself: a partial
//! unique index allows one live activation per site and family, and a
//! provision that a limit applies to counts it under that limit's key row
//! (SQLite: its write transactions exclude each other; PostgreSQL:
//! `SELECT ... FOR NO KEY UPDATE` on the key and site rows, see
//! [`Backend::for_update`]); one no limit applies to takes no key lock. A
//! PostgreSQL transaction aborted as a deadlock victim or by a
//! serialization failure is run again a bounded number of times ([`retry`]).
//! Nothing kept in a server's memory is authoritative, so several servers
//! can share one PostgreSQL database (docs/SCALING.md); [`copy`] moves an
//! SQLite database there.
//!
//! The global lock order, which every unit of work follows so that two
//! cannot deadlock: key(s) → partner → site(s). Keys: a sub-key's parent
//! before the sub-key (a provision locks the family's head when the head
//! has a limit for the product, and a sub-key's own row for its own limit,
//! so that each limit is counted exactly); the partner row only when
//! creating a sub-key (the per-partner cap); sites in
//! blog id order when a unit takes several.

pub mod copy;
pub mod dialect;
mod error;
mod files;
mod migrate;
mod ops;
pub mod portal;
pub mod portal_pages;
mod reporting;
mod request_log;
#[macro_use]
pub mod retry;
pub mod sql;
mod test_clock;
mod types;
mod users;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use jpstart_types::{ActivationId, BlogId, KeyId, PartnerId, ProductSlug, SiteIdentifier, SiteRef};

pub use dialect::Backend;
pub use error::{Decided, StoreError};
pub use request_log::*;

pub use reporting::*;
pub use types::*;
pub use users::*;
pub use webhooks::*;

use crate::clock::Timestamp;
use crate::domain::credentials::Kind as CredentialKind;
use crate::domain::invoices::HistoryEntry;
use crate::domain::rules::KeyUsage;
use crate::domain::{
    AccountRefusal, CancelRefusal, CredentialsRefusal, GrantRefusal, LinkRefusal, ProvisionRefusal,
    ResolvedProduct, SubKeyRefusal,
};

/// The storage the server runs on. See the module docs.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Succeeds when the database answers (readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    // --- Partners and keys ---

    async fn create_partner(&self, name: &str, now: Timestamp) -> Result<PartnerId, StoreError>;

    /// Creates a key of an existing partner (`NotFound` otherwise); the
    /// operator's action, no rules apply.
    async fn create_key(&self, key: &NewKey, now: Timestamp) -> Result<KeyId, StoreError>;

    /// Creates a sub-key under its parent, locked, by
    /// [`crate::domain::lifecycle::decide_sub_key`]. `NotFound` for an
    /// unknown parent.
    async fn create_sub_key(
        &self,
        key: &NewSubKey,
        now: Timestamp,
    ) -> Decided<KeyId, SubKeyRefusal>;

    async fn key(&self, key: KeyId) -> Result<Option<KeyRecord>, StoreError>;

    /// Returns whether the key exists.
    async fn set_key_disabled(&self, key: KeyId, disabled: bool) -> Result<bool, StoreError>;

    /// The key's per-product limits, in no particular order.
    async fn key_limits(&self, key: KeyId) -> Result<Vec<(ProductSlug, i64)>, StoreError>;

    /// How many live activations (as of `now`, by the same predicate as the
    /// provision limit check) the key has per product; products with none
    /// are absent.
    async fn key_live_counts(
        &self,
        key: KeyId,
        now: Timestamp,
    ) -> Result<Vec<(ProductSlug, i64)>, StoreError>;

    /// The key's limits and its parent's with the live counts each is
    /// checked against (a key's limit is a budget for it and its
    /// sub-keys), as the upgrade paths ask [`KeyUsage::may_add`]. Read
    /// without locks: a hint; provisioning counts again under its locks.
    async fn key_usage(&self, key: KeyId, now: Timestamp) -> Result<KeyUsage, StoreError>;

    /// Every key, or every key of one partner, in id order.
    async fn keys(&self, partner: Option<PartnerId>) -> Result<Vec<KeyRecord>, StoreError>;

    async fn add_partner_redirect(
        &self,
        partner: PartnerId,
        prefix: &str,
    ) -> Result<bool, StoreError>;

    async fn partner_redirects(&self, partner: PartnerId) -> Result<Vec<String>, StoreError>;

    // --- Tokens (stored as SHA-256 digests) ---

    async fn insert_token(
        &self,
        digest: &[u8],
        key: KeyId,
        scope: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Issues a token for a partner's request: beyond `cap` live tokens of
    /// the key (0: no cap) the least recently used are revoked, in the same
    /// transaction, exactly under concurrency
    /// ([`crate::domain::bounds::tokens_to_evict`]). Returns how many.
    async fn issue_token(
        &self,
        digest: &[u8],
        key: KeyId,
        scope: &str,
        now: Timestamp,
        cap: u32,
    ) -> Result<u64, StoreError>;

    /// Records that a token was used now (the caller checks
    /// [`crate::domain::bounds::needs_touch`] first).
    async fn touch_token(&self, digest: &[u8], now: Timestamp) -> Result<(), StoreError>;

    /// The key behind an unrevoked token.
    async fn token(&self, digest: &[u8]) -> Result<Option<TokenRecord>, StoreError>;

    /// Revokes one token; returns whether an unrevoked token matched.
    async fn revoke_token(&self, digest: &[u8], now: Timestamp) -> Result<bool, StoreError>;

    /// Revokes every token of a key; returns how many.
    async fn revoke_key_tokens(&self, key: KeyId, now: Timestamp) -> Result<u64, StoreError>;

    // --- Sites and activations ---

    /// Registers the site if needed and applies
    /// [`crate::domain::provision::decide`].
    async fn provision(
        &self,
        req: &ProvisionRequest,
    ) -> Decided<ProvisionOutcome, ProvisionRefusal>;

    /// Applies [`crate::domain::lifecycle::decide_cancel`]. A store failure
    /// part way leaves nothing changed.
    async fn cancel(&self, req: &CancelRequest) -> Decided<CancelOutcome, CancelRefusal>;

    /// A site with its live activations as of `now`.
    async fn site(&self, site: &SiteRef, now: Timestamp) -> Result<Option<SiteState>, StoreError>;

    /// [`Store::token`] and [`Store::site`] in one read, the whole load of
    /// a status request: one statement (one round trip) on PostgreSQL,
    /// one hop on SQLite. Never cached (SPEC §11).
    async fn token_and_site(
        &self,
        digest: &[u8],
        site: &SiteRef,
        now: Timestamp,
    ) -> Result<(Option<TokenRecord>, Option<SiteState>), StoreError>;

    /// The operator's connect: connects a site and activates every pending
    /// activation on it, in one transaction. `None` for an unknown site.
    async fn connect_site(
        &self,
        site: &SiteRef,
        now: Timestamp,
    ) -> Result<Option<ConnectOutcome>, StoreError>;

    /// Marks pending activations whose time ran out as `expired`.
    async fn expire_pending(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// Grants a product outside the partner API (operator action): it counts
    /// as live but cannot be cancelled by a partner (`not_jps_plan`).
    async fn grant(
        &self,
        site: &SiteIdentifier,
        url: &str,
        product: &ResolvedProduct,
        now: Timestamp,
    ) -> Decided<ActivationId, GrantRefusal>;

    async fn activations(
        &self,
        filter: &ActivationFilter,
    ) -> Result<Vec<ActivationRecord>, StoreError>;

    /// Stores sealed (encrypted) credentials of a kind for a registered
    /// site, for a key of `partner`, by
    /// [`crate::domain::lifecycle::decide_credentials`] (the holder rule).
    async fn set_credentials(
        &self,
        blog: BlogId,
        partner: PartnerId,
        kind: CredentialKind,
        sealed: &[u8],
        now: Timestamp,
    ) -> Decided<(), CredentialsRefusal>;

    // --- Authorization links ---

    async fn insert_auth_link(
        &self,
        digest: &[u8],
        blog: BlogId,
        key: KeyId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// A link whatever its state (its validity is
    /// [`crate::domain::lifecycle::link_validity`]). `None`: unknown.
    async fn auth_link(&self, digest: &[u8]) -> Result<Option<AuthLink>, StoreError>;

    /// Uses a link: connects its site and activates the pending activations
    /// of the link's partner (every key of it) in one transaction, and marks
    /// that partner's links of the site used. Refused for an unknown, used
    /// or expired link.
    async fn use_auth_link(
        &self,
        digest: &[u8],
        now: Timestamp,
    ) -> Decided<(AuthLink, ConnectOutcome), LinkRefusal>;

    // --- Operations ---

    /// Live (pending or active) activations per product, by product slug.
    async fn live_by_product(&self, now: Timestamp) -> Result<Vec<(String, i64)>, StoreError>;

    /// Writes a consistent copy of the whole database to a new file while
    /// the server keeps serving (SQLite `VACUUM INTO`). PostgreSQL refuses:
    /// `pg_dump` is the tool there.
    async fn backup(&self, path: &std::path::Path) -> Result<(), StoreError>;

    // --- WordPress.com accounts and mail (issue 13) ---

    /// The partner's name and whether the operator allowed it to create
    /// accounts. `None`: no such partner.
    async fn user_creation_allowed(
        &self,
        partner: PartnerId,
    ) -> Result<Option<(String, bool)>, StoreError>;

    /// Allows or forbids a partner to create accounts; `false`: no such partner.
    async fn set_user_creation(
        &self,
        partner: PartnerId,
        allowed: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Creates an account, and its token when one is given, in one
    /// transaction. Refused when the address has an account, whatever its
    /// case, or when the token could not be stored (nothing is created).
    async fn create_wpcom_user(&self, user: &NewWpcomUser) -> Decided<WpcomUser, AccountRefusal>;

    /// Accounts, oldest first; with `email_key`, only that (lowercased) address's.
    async fn wpcom_users(&self, email_key: Option<&str>) -> Result<Vec<WpcomUser>, StoreError>;

    /// Automatic account creation, by
    /// [`crate::domain::users::decide_auto_account`]: when the partner is
    /// allowed to create accounts, the address has none, and the holder
    /// rule lets the partner change the site's connection, creates the account
    /// with its token and connects the site for the partner (its pending
    /// activations there become active, its links are used up), in one
    /// transaction. `None` when a prerequisite is not met; then nothing
    /// changed.
    async fn auto_account(
        &self,
        req: &AutoAccount,
    ) -> Result<Option<AutoAccountOutcome>, StoreError>;

    /// Puts a message in the outbox, due at once; returns its id.
    async fn enqueue_mail(&self, mail: &NewMail) -> Result<i64, StoreError>;

    /// The outbox, oldest first.
    async fn outbox(&self, filter: &MailFilter) -> Result<Vec<OutboxMail>, StoreError>;

    /// Claims up to `limit` messages due at `now` for one delivery attempt
    /// each: their attempt count goes up and they are not due again before
    /// `lease_until`, so another sender on the same database skips them.
    async fn claim_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<OutboxMail>, StoreError>;

    /// Records a delivery.
    async fn mail_sent(&self, id: i64, now: Timestamp) -> Result<(), StoreError>;

    /// Records a failed attempt: due again at `retry_at`, or given up
    /// (`None`).
    async fn mail_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    // --- The test clock (crate::clock, SPEC §9) ---

    /// The offset of the test clock kept in the database, in milliseconds
    /// (0 until moved). Only servers in test-clock mode apply it.
    async fn clock_offset(&self) -> Result<i64, StoreError>;

    /// Adds `by_ms` (not negative: refused) to the kept offset in one
    /// statement; returns the new offset.
    async fn advance_clock_offset(&self, by_ms: i64) -> Result<i64, StoreError>;

    /// Sets the kept offset to `offset_ms` unless that would move the clock
    /// back: `Ok(new offset)`, or `Err(current offset)`, left as it was.
    async fn raise_clock_offset(&self, offset_ms: i64) -> Result<Result<i64, i64>, StoreError>;

    // --- sandbox (SPEC §9) ---

    /// Counts one request of `key_id` to the flaky site `site` and returns
    /// how many there have been, this one included (1 for the first), in
    /// one statement: every server on the database counts alike.
    async fn sandbox_flaky_hit(
        &self,
        key_id: KeyId,
        site: &SiteIdentifier,
    ) -> Result<i64, StoreError>;

    // --- request log (SPEC §9) ---

    /// Inserts a batch of logged requests in one transaction.
    async fn insert_requests(&self, batch: &[NewLoggedRequest]) -> Result<(), StoreError>;

    /// The requests matching `filter`, newest first, and how many match
    /// in all (paging aside).
    async fn requests(
        &self,
        filter: &RequestLogFilter,
    ) -> Result<(u64, Vec<LoggedRequestRecord>), StoreError>;

    /// Deletes the requests logged before `before`; how many.
    async fn prune_requests(&self, before: Timestamp) -> Result<u64, StoreError>;

    // --- webhooks (SPEC §10) ---

    /// Registers an endpoint; its secret, sealed by `seal(id)` for the id
    /// assigned, is stored in the same transaction. `None`: the partner
    /// has `max_endpoints` already. `NotFound`: no such partner.
    async fn create_webhook(
        &self,
        webhook: &NewWebhook,
        seal: &(dyn Fn(i64) -> Vec<u8> + Send + Sync),
    ) -> Result<Option<WebhookRecord>, StoreError>;

    /// The partner's live endpoints, oldest first.
    async fn webhooks(&self, partner: PartnerId) -> Result<Vec<WebhookRecord>, StoreError>;

    /// Deletes a live endpoint of the partner (its pending deliveries are
    /// given up); `false`: none with this id.
    async fn delete_webhook(
        &self,
        partner: PartnerId,
        id: i64,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// An endpoint's deliveries, newest first. `None`: no live endpoint of
    /// the partner has this id.
    async fn webhook_deliveries(
        &self,
        partner: PartnerId,
        endpoint: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Option<Vec<DeliveryRecord>>, StoreError>;

    /// Makes a delivery due again now, with a fresh retry window. `None`:
    /// no such delivery of a live endpoint of the partner.
    async fn replay_delivery(
        &self,
        partner: PartnerId,
        endpoint: i64,
        delivery: i64,
        now: Timestamp,
    ) -> Result<Option<DeliveryRecord>, StoreError>;

    /// Claims up to `limit` due deliveries until `lease_until`, counting
    /// the attempt; servers sharing the database claim disjoint sets.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records attempts in one transaction, each only while its claim
    /// holds: whether each was recorded, in order.
    async fn record_attempts(
        &self,
        attempts: &[(ClaimedDelivery, Attempt)],
        now: Timestamp,
    ) -> Result<Vec<bool>, StoreError>;

    /// Pending deliveries and the oldest one's creation (metrics).
    async fn webhook_queue(&self) -> Result<WebhookQueue, StoreError>;

    /// Sets (or replaces) the partner's Monitor URL.
    async fn set_monitor_url(
        &self,
        partner: PartnerId,
        url: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// A site and the Monitor URLs of the partners holding a live
    /// activation on it. `None`: unknown site.
    async fn monitor_site(
        &self,
        site: &SiteRef,
        now: Timestamp,
    ) -> Result<Option<MonitorSite>, StoreError>;

    /// Records a quiet period a Monitor receiver asked for.
    async fn set_monitor_quiet(
        &self,
        partner: PartnerId,
        blog: BlogId,
        until: Timestamp,
    ) -> Result<(), StoreError>;

    // --- reporting (SPEC §8) ---

    /// One page of a key's own activations (not its sub-keys'), in every
    /// state, newest first (creation time, then id, both descending), and
    /// how many match the query in all. Index-backed: the cost follows the
    /// key's matching rows and the page, not the table.
    async fn report_activations(
        &self,
        query: &ActivationQuery,
    ) -> Result<ActivationPage, StoreError>;

    /// Every activation of a key (not its sub-keys'), oldest first: what
    /// [`crate::domain::invoices`] and [`crate::domain::summary`] compute
    /// from.
    async fn key_history(&self, key: KeyId) -> Result<Vec<HistoryEntry>, StoreError>;

    // --- Partner users and the portal (SPEC §8, issue 14) ---

    /// Creates a partner user; refused when the partner does not exist or
    /// the address has a user, whatever its case.
    async fn create_partner_user(
        &self,
        user: &portal::NewPartnerUser,
    ) -> Decided<portal::PartnerUser, portal::PartnerUserRefusal>;

    /// Every partner user, or every user of one partner, in id order.
    async fn partner_users(
        &self,
        partner: Option<PartnerId>,
    ) -> Result<Vec<portal::PartnerUser>, StoreError>;

    async fn partner_user(&self, id: i64) -> Result<Option<portal::PartnerUser>, StoreError>;

    /// The user of a (lowercased) address with its password hash.
    async fn partner_user_login(
        &self,
        email_key: &str,
    ) -> Result<Option<portal::PartnerUserLogin>, StoreError>;

    /// Disables (revoking every session and token of the user in the same
    /// transaction) or enables a user. `None`: no such user.
    async fn set_partner_user_disabled(
        &self,
        id: i64,
        disabled: bool,
        now: Timestamp,
    ) -> Result<Option<portal::UserDisabled>, StoreError>;

    async fn insert_session(
        &self,
        digest: &[u8],
        user_id: i64,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// A session that is unrevoked, unexpired at `now`, of an enabled user.
    async fn session(
        &self,
        digest: &[u8],
        now: Timestamp,
    ) -> Result<Option<portal::SessionRecord>, StoreError>;

    /// Revokes one session; whether an unrevoked one matched.
    async fn revoke_session(&self, digest: &[u8], now: Timestamp) -> Result<bool, StoreError>;

    async fn create_oauth_app(
        &self,
        app: &portal::NewOAuthApp,
    ) -> Result<portal::OAuthApp, StoreError>;

    async fn oauth_app(&self, id: i64) -> Result<Option<portal::OAuthApp>, StoreError>;

    /// A partner's OAuth apps, in id order.
    async fn oauth_apps(&self, partner: PartnerId) -> Result<Vec<portal::OAuthApp>, StoreError>;

    async fn insert_auth_code(&self, code: &portal::NewAuthCode) -> Result<(), StoreError>;

    /// Spends an authorization code of the app and stores the user token
    /// it buys, in one transaction; refused (nothing changed) for an
    /// unknown, used or expired code, another redirect URI, or a disabled
    /// user.
    async fn exchange_code(
        &self,
        exchange: &portal::CodeExchange,
    ) -> Decided<portal::ExchangedCode, portal::CodeRefusal>;

    /// Stores a reporting token for an enabled user (the portal's "API
    /// token"); `Ok(Err(()))`: unknown or disabled user.
    async fn issue_user_token(
        &self,
        digest: &[u8],
        user_id: i64,
        now: Timestamp,
    ) -> Decided<(), ()>;

    /// The user behind an unrevoked token, if the user is enabled.
    async fn user_token(
        &self,
        digest: &[u8],
    ) -> Result<Option<portal::UserTokenRecord>, StoreError>;

    async fn revoke_user_token(&self, digest: &[u8], now: Timestamp) -> Result<bool, StoreError>;

    /// Revokes the token a spent code bought (RFC 6749 §4.1.2: a code used
    /// twice may have been stolen); returns how many were revoked.
    async fn revoke_code_token(
        &self,
        code_digest: &[u8],
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    // --- the portal's data pages (SPEC §8, issue 14) ---

    /// One page of a partner's activations (every key of it, or one), in
    /// every state or the ones asked, newest first (creation time, then
    /// id, both descending), and how many match in all. Never a row of a
    /// key of another partner.
    async fn portal_activations(
        &self,
        query: &portal_pages::PortalActivationQuery,
    ) -> Result<ActivationPage, StoreError>;

    /// The state changes of the activations the partner's keys made on a
    /// site, oldest first (the append-only `events` table).
    async fn site_events(
        &self,
        blog: BlogId,
        partner: PartnerId,
    ) -> Result<Vec<portal_pages::ActivationEvent>, StoreError>;

    /// Replaces a key's secret and revokes every token of the key, in one
    /// transaction under the key's lock: after it, only the new secret
    /// gets a token and no token got with the old one works. `None`: no
    /// such key.
    async fn rotate_key_secret(
        &self,
        key: KeyId,
        secret_digest: &[u8],
        now: Timestamp,
    ) -> Result<Option<portal_pages::Rotated>, StoreError>;
}

/// Opens the store a database URL names, creating an SQLite file if needed
/// and running migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(sql::SqlStore::open(url).await?))
}
