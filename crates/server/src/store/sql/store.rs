//! The [`Store`] operations of [`SqlStore`]: each delegates to its unit
//! in the module of its aggregate (or, on an SQLite file, runs that unit
//! on the native writer).

use async_trait::async_trait;
use jpstart_types::{ActivationId, BlogId, KeyId, PartnerId, ProductSlug, SiteIdentifier, SiteRef};

use super::super::dialect::Backend;
use super::super::{
    portal, reporting::*, types::*, users::*, webhooks::*, Decided, Store, StoreError,
};
use super::super::{LoggedRequestRecord, NewLoggedRequest, RequestLogFilter};
use crate::clock::Timestamp;
use crate::domain::credentials::Kind as CredentialKind;
use crate::domain::invoices::HistoryEntry;
use crate::domain::rules::KeyUsage;
use crate::domain::{
    AccountRefusal, CancelRefusal, CredentialsRefusal, GrantRefusal, LinkRefusal, ProvisionRefusal,
    ResolvedProduct, SubKeyRefusal,
};

use super::{exec, SqlStore};

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.read()).await?;
        Ok(())
    }

    async fn create_partner(&self, name: &str, now: Timestamp) -> Result<PartnerId, StoreError> {
        self.create_partner_impl(name, now).await
    }

    async fn create_key(&self, key: &NewKey, now: Timestamp) -> Result<KeyId, StoreError> {
        self.create_key_impl(key, now).await
    }

    async fn create_sub_key(
        &self,
        key: &NewSubKey,
        now: Timestamp,
    ) -> Decided<KeyId, SubKeyRefusal> {
        self.create_sub_key_impl(key, now).await
    }

    async fn key(&self, key: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.key_impl(key).await
    }

    async fn set_key_disabled(&self, key: KeyId, disabled: bool) -> Result<bool, StoreError> {
        self.set_key_disabled_impl(key, disabled).await
    }

    async fn key_limits(&self, key: KeyId) -> Result<Vec<(ProductSlug, i64)>, StoreError> {
        self.key_limits_impl(key).await
    }

    async fn key_live_counts(
        &self,
        key: KeyId,
        now: Timestamp,
    ) -> Result<Vec<(ProductSlug, i64)>, StoreError> {
        self.key_live_counts_impl(key, now).await
    }

    async fn key_usage(&self, key: KeyId, now: Timestamp) -> Result<KeyUsage, StoreError> {
        self.key_usage_impl(key, now).await
    }

    async fn keys(&self, partner: Option<PartnerId>) -> Result<Vec<KeyRecord>, StoreError> {
        self.keys_impl(partner).await
    }

    async fn add_partner_redirect(
        &self,
        partner: PartnerId,
        prefix: &str,
    ) -> Result<bool, StoreError> {
        self.add_partner_redirect_impl(partner, prefix).await
    }

    async fn partner_redirects(&self, partner: PartnerId) -> Result<Vec<String>, StoreError> {
        self.partner_redirects_impl(partner).await
    }

    async fn insert_token(
        &self,
        digest: &[u8],
        key: KeyId,
        scope: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.insert_token_impl(digest, key, scope, now).await
    }

    async fn issue_token(
        &self,
        digest: &[u8],
        key: KeyId,
        scope: &str,
        now: Timestamp,
        cap: u32,
    ) -> Result<u64, StoreError> {
        self.issue_token_impl(digest, key, scope, now, cap).await
    }

    async fn touch_token(&self, digest: &[u8], now: Timestamp) -> Result<(), StoreError> {
        self.touch_token_impl(digest, now).await
    }

    async fn token(&self, digest: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        self.token_impl(digest).await
    }

    async fn revoke_token(&self, digest: &[u8], now: Timestamp) -> Result<bool, StoreError> {
        self.revoke_token_impl(digest, now).await
    }

    async fn revoke_key_tokens(&self, key: KeyId, now: Timestamp) -> Result<u64, StoreError> {
        self.revoke_key_tokens_impl(key, now).await
    }

    async fn provision(
        &self,
        req: &ProvisionRequest,
    ) -> Decided<ProvisionOutcome, ProvisionRefusal> {
        if let Some(native) = &self.native {
            let (units, req) = (self.units, req.clone());
            return native
                .decide(move |e| exec::run_ready(units.provision_in_tx(e, &req)))
                .await;
        }
        in_write_tx!(self, |tx| self.provision_in_tx(&mut tx, req).await)
    }

    async fn cancel(&self, req: &CancelRequest) -> Decided<CancelOutcome, CancelRefusal> {
        if let Some(native) = &self.native {
            let (units, req) = (self.units, req.clone());
            return native
                .decide(move |e| exec::run_ready(units.cancel_in_tx(e, &req)))
                .await;
        }
        in_write_tx!(self, |tx| self.cancel_in_tx(&mut tx, req).await)
    }

    async fn site(&self, site: &SiteRef, now: Timestamp) -> Result<Option<SiteState>, StoreError> {
        self.site_impl(site, now).await
    }

    async fn token_and_site(
        &self,
        digest: &[u8],
        site: &SiteRef,
        now: Timestamp,
    ) -> Result<(Option<TokenRecord>, Option<SiteState>), StoreError> {
        self.token_and_site_impl(digest, site, now).await
    }

    async fn connect_site(
        &self,
        site: &SiteRef,
        now: Timestamp,
    ) -> Result<Option<ConnectOutcome>, StoreError> {
        self.connect_site_impl(site, now).await
    }

    async fn expire_pending(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.expire_pending_impl(now).await
    }

    async fn grant(
        &self,
        site: &SiteIdentifier,
        url: &str,
        product: &ResolvedProduct,
        now: Timestamp,
    ) -> Decided<ActivationId, GrantRefusal> {
        in_write_tx!(self, |tx| self
            .grant_in_tx(&mut tx, site, url, product, now)
            .await)
    }

    async fn activations(
        &self,
        filter: &ActivationFilter,
    ) -> Result<Vec<ActivationRecord>, StoreError> {
        self.activations_impl(filter).await
    }

    async fn set_credentials(
        &self,
        blog: BlogId,
        partner: PartnerId,
        kind: CredentialKind,
        sealed: &[u8],
        now: Timestamp,
    ) -> Decided<(), CredentialsRefusal> {
        in_write_tx!(self, |tx| self
            .set_credentials_in_tx(&mut tx, blog, partner, kind, sealed, now)
            .await)
    }

    async fn insert_auth_link(
        &self,
        digest: &[u8],
        blog: BlogId,
        key: KeyId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.insert_auth_link_impl(digest, blog, key, now, expires_at)
            .await
    }

    async fn auth_link(&self, digest: &[u8]) -> Result<Option<AuthLink>, StoreError> {
        self.auth_link_impl(digest).await
    }

    async fn use_auth_link(
        &self,
        digest: &[u8],
        now: Timestamp,
    ) -> Decided<(AuthLink, ConnectOutcome), LinkRefusal> {
        in_write_tx!(self, |tx| self
            .use_auth_link_in_tx(&mut tx, digest, now)
            .await)
    }

    async fn live_by_product(&self, now: Timestamp) -> Result<Vec<(String, i64)>, StoreError> {
        self.live_by_product_impl(now.as_millis()).await
    }

    async fn backup(&self, path: &std::path::Path) -> Result<(), StoreError> {
        self.backup_impl(path).await
    }

    async fn clock_offset(&self) -> Result<i64, StoreError> {
        self.clock_offset_impl().await
    }

    async fn advance_clock_offset(&self, by_ms: i64) -> Result<i64, StoreError> {
        self.advance_clock_offset_impl(by_ms).await
    }

    async fn raise_clock_offset(&self, offset_ms: i64) -> Result<Result<i64, i64>, StoreError> {
        self.raise_clock_offset_impl(offset_ms).await
    }

    async fn user_creation_allowed(
        &self,
        partner: PartnerId,
    ) -> Result<Option<(String, bool)>, StoreError> {
        self.user_creation_allowed_impl(partner).await
    }

    async fn set_user_creation(
        &self,
        partner: PartnerId,
        allowed: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.set_user_creation_impl(partner, allowed, now).await
    }

    async fn create_wpcom_user(&self, user: &NewWpcomUser) -> Decided<WpcomUser, AccountRefusal> {
        in_write_tx!(self, |tx| self.insert_user(&mut tx, user, None).await)
    }

    async fn wpcom_users(&self, email_key: Option<&str>) -> Result<Vec<WpcomUser>, StoreError> {
        self.wpcom_users_impl(email_key).await
    }

    async fn auto_account(
        &self,
        req: &AutoAccount,
    ) -> Result<Option<AutoAccountOutcome>, StoreError> {
        self.auto_account_impl(req).await
    }

    async fn enqueue_mail(&self, mail: &NewMail) -> Result<i64, StoreError> {
        self.enqueue_mail_impl(mail).await
    }

    async fn outbox(&self, filter: &MailFilter) -> Result<Vec<OutboxMail>, StoreError> {
        self.outbox_impl(filter).await
    }

    async fn claim_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        self.claim_mail_impl(now, lease_until, limit).await
    }

    async fn mail_sent(&self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        self.mail_sent_impl(id, now).await
    }

    async fn mail_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.mail_failed_impl(id, error, retry_at, now).await
    }

    // --- sandbox (SPEC §9) ---

    async fn sandbox_flaky_hit(
        &self,
        key_id: KeyId,
        site: &SiteIdentifier,
    ) -> Result<i64, StoreError> {
        self.sandbox_flaky_hit_impl(key_id, site).await
    }

    // --- request log (SPEC §9) ---

    async fn insert_requests(&self, batch: &[NewLoggedRequest]) -> Result<(), StoreError> {
        self.insert_requests_impl(batch).await
    }

    async fn requests(
        &self,
        filter: &RequestLogFilter,
    ) -> Result<(u64, Vec<LoggedRequestRecord>), StoreError> {
        self.requests_impl(filter).await
    }

    async fn prune_requests(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.prune_requests_impl(before).await
    }

    // --- webhooks (SPEC §10) ---

    async fn create_webhook(
        &self,
        webhook: &NewWebhook,
        seal: &(dyn Fn(i64) -> Vec<u8> + Send + Sync),
    ) -> Result<Option<WebhookRecord>, StoreError> {
        self.create_webhook_impl(webhook, seal).await
    }

    async fn webhooks(&self, partner: PartnerId) -> Result<Vec<WebhookRecord>, StoreError> {
        self.webhooks_impl(partner).await
    }

    async fn delete_webhook(
        &self,
        partner: PartnerId,
        id: i64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.delete_webhook_impl(partner, id, now).await
    }

    async fn webhook_deliveries(
        &self,
        partner: PartnerId,
        endpoint: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Option<Vec<DeliveryRecord>>, StoreError> {
        self.deliveries_impl(partner, endpoint, limit, offset).await
    }

    async fn replay_delivery(
        &self,
        partner: PartnerId,
        endpoint: i64,
        delivery: i64,
        now: Timestamp,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.replay_impl(partner, endpoint, delivery, now).await
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.claim_deliveries_impl(now, lease_until, limit).await
    }

    async fn record_attempts(
        &self,
        attempts: &[(ClaimedDelivery, Attempt)],
        now: Timestamp,
    ) -> Result<Vec<bool>, StoreError> {
        self.record_attempts_impl(attempts, now).await
    }

    async fn webhook_queue(&self) -> Result<WebhookQueue, StoreError> {
        self.webhook_queue_impl().await
    }

    async fn set_monitor_url(
        &self,
        partner: PartnerId,
        url: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.set_monitor_url_impl(partner, url, now).await
    }

    async fn monitor_site(
        &self,
        site: &SiteRef,
        now: Timestamp,
    ) -> Result<Option<MonitorSite>, StoreError> {
        self.monitor_site_impl(site, now).await
    }

    async fn set_monitor_quiet(
        &self,
        partner: PartnerId,
        blog: BlogId,
        until: Timestamp,
    ) -> Result<(), StoreError> {
        self.set_monitor_quiet_impl(partner, blog, until).await
    }

    // --- reporting (SPEC §8) ---

    async fn report_activations(
        &self,
        query: &ActivationQuery,
    ) -> Result<ActivationPage, StoreError> {
        self.report_activations_impl(query).await
    }

    async fn key_history(&self, key: KeyId) -> Result<Vec<HistoryEntry>, StoreError> {
        self.key_history_impl(key).await
    }

    // --- Partner users and the portal (SPEC §8, issue 14) ---

    async fn create_partner_user(
        &self,
        user: &portal::NewPartnerUser,
    ) -> Decided<portal::PartnerUser, portal::PartnerUserRefusal> {
        in_write_tx!(self, |tx| self
            .create_partner_user_in_tx(&mut tx, user)
            .await)
    }

    async fn partner_users(
        &self,
        partner: Option<PartnerId>,
    ) -> Result<Vec<portal::PartnerUser>, StoreError> {
        self.partner_users_impl(partner).await
    }

    async fn partner_user(&self, id: i64) -> Result<Option<portal::PartnerUser>, StoreError> {
        self.partner_user_impl(id).await
    }

    async fn partner_user_login(
        &self,
        email_key: &str,
    ) -> Result<Option<portal::PartnerUserLogin>, StoreError> {
        self.partner_user_login_impl(email_key).await
    }

    async fn set_partner_user_disabled(
        &self,
        id: i64,
        disabled: bool,
        now: Timestamp,
    ) -> Result<Option<portal::UserDisabled>, StoreError> {
        self.set_partner_user_disabled_impl(id, disabled, now).await
    }

    async fn insert_session(
        &self,
        digest: &[u8],
        user_id: i64,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.insert_session_impl(digest, user_id, now, expires_at)
            .await
    }

    async fn session(
        &self,
        digest: &[u8],
        now: Timestamp,
    ) -> Result<Option<portal::SessionRecord>, StoreError> {
        self.session_impl(digest, now).await
    }

    async fn revoke_session(&self, digest: &[u8], now: Timestamp) -> Result<bool, StoreError> {
        self.revoke_session_impl(digest, now).await
    }

    async fn create_oauth_app(
        &self,
        app: &portal::NewOAuthApp,
    ) -> Result<portal::OAuthApp, StoreError> {
        self.create_oauth_app_impl(app).await
    }

    async fn oauth_app(&self, id: i64) -> Result<Option<portal::OAuthApp>, StoreError> {
        self.oauth_app_impl(id).await
    }

    async fn oauth_apps(&self, partner: PartnerId) -> Result<Vec<portal::OAuthApp>, StoreError> {
        self.oauth_apps_impl(partner).await
    }

    async fn insert_auth_code(&self, code: &portal::NewAuthCode) -> Result<(), StoreError> {
        self.insert_auth_code_impl(code).await
    }

    async fn exchange_code(
        &self,
        exchange: &portal::CodeExchange,
    ) -> Decided<portal::ExchangedCode, portal::CodeRefusal> {
        in_write_tx!(self, |tx| self.exchange_code_in_tx(&mut tx, exchange).await)
    }

    async fn issue_user_token(
        &self,
        digest: &[u8],
        user_id: i64,
        now: Timestamp,
    ) -> Decided<(), ()> {
        in_write_tx!(self, |tx| self
            .issue_user_token_in_tx(&mut tx, digest, user_id, now)
            .await)
    }

    async fn user_token(
        &self,
        digest: &[u8],
    ) -> Result<Option<portal::UserTokenRecord>, StoreError> {
        self.user_token_impl(digest).await
    }

    async fn revoke_user_token(&self, digest: &[u8], now: Timestamp) -> Result<bool, StoreError> {
        self.revoke_user_token_impl(digest, now).await
    }

    async fn revoke_code_token(
        &self,
        code_digest: &[u8],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.revoke_code_token_impl(code_digest, now).await
    }

    // --- the portal's data pages (SPEC §8, issue 14) ---

    async fn portal_activations(
        &self,
        query: &super::super::portal_pages::PortalActivationQuery,
    ) -> Result<ActivationPage, StoreError> {
        self.portal_activations_impl(query).await
    }

    async fn site_events(
        &self,
        blog: BlogId,
        partner: PartnerId,
    ) -> Result<Vec<super::super::portal_pages::ActivationEvent>, StoreError> {
        self.site_events_impl(blog, partner).await
    }

    async fn rotate_key_secret(
        &self,
        key: KeyId,
        secret_digest: &[u8],
        now: Timestamp,
    ) -> Result<Option<super::super::portal_pages::Rotated>, StoreError> {
        self.rotate_key_secret_impl(key, secret_digest, now).await
    }
}
