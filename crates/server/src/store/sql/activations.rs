//! Activations: provision, cancel, the operator's grant, expiry, and the
//! operator's listing. Each unit loads its context under the key → site
//! locks, asks [`crate::domain`], and applies the plan.

use std::sync::LazyLock;

use jpstart_types::{ActivationId, KeyId, PartnerId, SiteRef};

use super::exec::{query, Exec, Pool};
use super::links::{insert_link, reissue_link};
use super::rows::{
    blog_id, event, ident, live_from_row, live_query, site_key, slug, state, time, SiteKey, SiteRow,
};
use super::{live_at, SqlStore, Units};
use crate::clock::Timestamp;
use crate::domain::lifecycle::{self, PendingActivation, Transition};
use crate::domain::provision::{
    self, ActivationPlan, NewActivation, ProvisionContext, ProvisionPlan, SiteReset,
};
use crate::domain::rules::LiveActivation;
use crate::domain::{
    ActivationState, Actor, CancelRefusal, GrantRefusal, ProvisionRefusal, ResolvedProduct,
};
use crate::store::types::*;
use crate::store::{Backend, StoreError};

/// How many rows a key's activation counter is spread over.
const COUNTER_SHARDS: i64 = 16;

impl Units {
    /// Applies the expiry sweep ([`lifecycle::decide_expiry`]) to one site's
    /// pending activations, or to every site's.
    pub(super) async fn expire_in_tx(
        &self,
        tx: &mut impl Exec,
        blog_id: Option<i64>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let base =
            "SELECT id, expires_at FROM activations WHERE state = 'pending' AND expires_at <= $1";
        let rows = match blog_id {
            Some(b) => {
                let sql = format!("{base} AND blog_id = $2 ORDER BY id");
                query(&sql)
                    .bind(now.as_millis())
                    .bind(b)
                    .fetch_all(&mut *tx)
                    .await?
            }
            None => {
                let sql = format!("{base} ORDER BY id");
                query(&sql)
                    .bind(now.as_millis())
                    .fetch_all(&mut *tx)
                    .await?
            }
        };
        let pending = rows
            .iter()
            .map(|r| {
                Ok(PendingActivation {
                    id: ActivationId::new(r.try_get("id")?),
                    expires_at: Timestamp::from_millis(r.try_get("expires_at")?),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut n = 0;
        for t in lifecycle::decide_expiry(&pending, now) {
            if self.try_transition(tx, &t, Actor::System).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    pub(super) async fn live_in_tx(
        &self,
        tx: &mut impl Exec,
        blog_id: i64,
        now: Timestamp,
    ) -> Result<Vec<LiveActivation>, StoreError> {
        let sql = live_query(&live_at("$2"));
        let rows = query(&sql)
            .bind(blog_id)
            .bind(now.as_millis())
            .fetch_all(&mut *tx)
            .await?;
        rows.iter().map(live_from_row).collect()
    }

    /// Writes one state change of a live activation and its event. The row
    /// is under its site's lock, so it must still be in `t.from`.
    pub(super) async fn apply_transition(
        &self,
        tx: &mut impl Exec,
        t: &Transition,
        actor: Actor,
    ) -> Result<(), StoreError> {
        if self.try_transition(tx, t, actor).await? {
            Ok(())
        } else {
            Err(StoreError::Corrupt(format!(
                "activation {} changed under a lock",
                t.id
            )))
        }
    }

    /// As [`Self::apply_transition`], but a row no longer in `t.from` is
    /// left alone (`false`): the sweep may meet one a concurrent
    /// transaction has just changed.
    async fn try_transition(
        &self,
        tx: &mut impl Exec,
        t: &Transition,
        actor: Actor,
    ) -> Result<bool, StoreError> {
        let set = match t.to {
            ActivationState::Active => "activated_at = $3, expires_at = NULL",
            _ => "ended_at = $3",
        };
        let sql = format!("UPDATE activations SET state = $2, {set} WHERE id = $1 AND state = $4");
        let changed = query(&sql)
            .bind(t.id.get())
            .bind(t.to.as_str())
            .bind(t.at.as_millis())
            .bind(t.from.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        event(tx, t.id, Some(t.from), t.to, t.at, actor).await?;
        Ok(true)
    }
}

impl SqlStore {
    pub(super) async fn expire_pending_impl(&self, now: Timestamp) -> Result<u64, StoreError> {
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                // Every change to a site's activations holds the site's row
                // lock (cancel and provision read the live set, then update
                // it). Without it, the sweep could expire an activation a
                // cancel had just read as live, and the cancel would fail.
                // Sites are locked in blog id order so that two sweeps cannot
                // deadlock; the set of rows to expire can only shrink
                // meanwhile, since new pending rows expire after `now`.
                if self.backend == crate::store::Backend::Postgres {
                    let sql = format!(
                        "SELECT blog_id FROM sites WHERE blog_id IN \
                         (SELECT blog_id FROM activations WHERE state = 'pending' AND expires_at <= $1) \
                         ORDER BY blog_id{}",
                        self.backend.for_update()
                    );
                    query(&sql).bind(now.as_millis()).fetch_all(&mut *tx).await?;
                }
                let n = self.expire_in_tx(&mut tx, None, now).await?;
                tx.commit().await?;
                Ok::<_, StoreError>(n)
            }
            .await
        )
    }
}

impl Units {
    /// The provision unit: lock key → site, load, [`provision::decide`], apply.
    pub(super) async fn provision_in_tx(
        &self,
        tx: &mut impl Exec,
        req: &ProvisionRequest,
    ) -> Result<Result<ProvisionOutcome, ProvisionRefusal>, StoreError> {
        // Lock in the global order: the key rows the product's limits need
        // (only those, parent first: see `limit_uses`), then the site.
        // Concurrent provisions counting one limit serialise on its key's
        // row, concurrent provisions to one site on the site's row.
        let product = req.product.as_ref().map(|p| &p.slug);
        let limits = self.limit_uses(tx, req.key_id, product, req.now).await?;
        let site = match &req.site {
            ProvisionSite::Url { identifier, url } => {
                self.register_site(tx, identifier, url, req.local_user.as_deref(), req.now)
                    .await?
            }
            ProvisionSite::BlogId(id) => self
                .lock_site(tx, &SiteRef::BlogId(*id))
                .await?
                .map(|s| (s, false)),
        };
        let Some((site, created)) = site else {
            let shown = match &req.site {
                ProvisionSite::BlogId(id) => id.to_string(),
                ProvisionSite::Url { identifier, .. } => identifier.to_string(),
            };
            return Ok(Err(provision::site_missing(shown)));
        };
        // A site this transaction created has nothing to expire or hold.
        let live = if created {
            Vec::new()
        } else {
            self.expire_in_tx(tx, Some(site.blog_id), req.now).await?;
            self.live_in_tx(tx, site.blog_id, req.now).await?
        };
        let ctx = ProvisionContext {
            caller: req.key_id,
            partner: req.partner_id,
            connected: site.connected,
            force_register: req.force_register,
            force_connect: req.force_connect,
            live: &live,
            limits: &limits,
            now: req.now,
            pending_ttl: req.pending_ttl,
        };
        let plan = match provision::decide(&ctx, req.product.as_ref()) {
            Ok(plan) => plan,
            Err(refusal) => return Ok(Err(refusal)),
        };
        self.apply_provision(tx, req, &site, created, &plan)
            .await
            .map(Ok)
    }

    async fn apply_provision(
        &self,
        tx: &mut impl Exec,
        req: &ProvisionRequest,
        site: &SiteRow,
        created: bool,
        plan: &ProvisionPlan,
    ) -> Result<ProvisionOutcome, StoreError> {
        if let Some(reset) = plan.reset {
            query("UPDATE sites SET connected = 0, connected_at = NULL, registration = registration + $2 WHERE blog_id = $1")
                .bind(site.blog_id)
                .bind(i64::from(reset.new_registration))
                .execute(&mut *tx)
                .await?;
            if site.connected {
                let kind = jpstart_types::webhooks::EventType::SiteDisconnected;
                super::webhooks::on_site_event(
                    tx,
                    site.blog_id,
                    kind,
                    Some(req.partner_id),
                    req.now,
                )
                .await?;
            }
        }
        // A fresh registration takes the URL given (checked, SPEC §11), so
        // that no URL stored before URLs were checked outlives it.
        let mut url = site.url.clone();
        if let (
            Some(SiteReset {
                new_registration: true,
            }),
            ProvisionSite::Url { url: given, .. },
        ) = (plan.reset, &req.site)
        {
            query("UPDATE sites SET url = $2 WHERE blog_id = $1")
                .bind(site.blog_id)
                .bind(given.as_str())
                .execute(&mut *tx)
                .await?;
            url = given.clone();
        }
        if let Some(user) = &req.local_user {
            query("UPDATE sites SET local_user = $2 WHERE blog_id = $1")
                .bind(site.blog_id)
                .bind(user.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let activation = match (&plan.activation, &req.product) {
            (Some(ActivationPlan::AlreadyLive { id, state }), _) => Some(ProvisionedActivation {
                id: *id,
                pending: *state == ActivationState::Pending,
                created: false,
                superseded: None,
            }),
            (Some(ActivationPlan::Create(new)), Some(product)) => {
                Some(self.create_activation(tx, req, site, product, new).await?)
            }
            _ => None,
        };
        let blog = site.blog_id()?;
        if let Some(expires_at) = plan.link_expires_at {
            let digest = &req.auth_link_digest;
            if created {
                // A new site has no earlier link to replace.
                insert_link(tx, digest, blog, req.key_id, req.now, expires_at).await?;
            } else {
                reissue_link(tx, digest, blog, req.key_id, req.now, expires_at).await?;
            }
        }
        Ok(ProvisionOutcome {
            blog_id: blog,
            identifier: site.identifier()?,
            url,
            connected: plan.connected,
            link_issued: plan.link_expires_at.is_some(),
            activation,
        })
    }

    async fn create_activation(
        &self,
        tx: &mut impl Exec,
        req: &ProvisionRequest,
        site: &SiteRow,
        product: &ResolvedProduct,
        new: &NewActivation,
    ) -> Result<ProvisionedActivation, StoreError> {
        let actor = Actor::Key(req.key_id);
        if let Some((old, from)) = new.supersede {
            let t = Transition {
                id: old,
                from,
                to: ActivationState::Superseded,
                at: req.now,
            };
            self.apply_transition(tx, &t, actor).await?;
        }
        let id = self
            .insert_activation(tx, req, site, product, new, actor)
            .await?;
        if let Some((old, _)) = new.supersede {
            query("UPDATE activations SET superseded_by = $2 WHERE id = $1")
                .bind(old.get())
                .bind(id.get())
                .execute(&mut *tx)
                .await?;
        }
        Ok(ProvisionedActivation {
            id,
            pending: new.state == ActivationState::Pending,
            created: true,
            superseded: new.supersede.map(|(old, _)| old),
        })
    }

    /// Inserts the activation, counts it on one of the key's counter rows
    /// (migration 11, so that one key's provisions rarely share a lock) and
    /// appends its event. On PostgreSQL the three are one statement (one
    /// round trip instead of three); SQLite, which cannot write in a `WITH`,
    /// runs them one by one. Either way the event reaches the webhook
    /// outbox ([`super::webhooks::on_activation_event`]).
    async fn insert_activation(
        &self,
        tx: &mut impl Exec,
        req: &ProvisionRequest,
        site: &SiteRow,
        product: &ResolvedProduct,
        new: &NewActivation,
        actor: Actor,
    ) -> Result<ActivationId, StoreError> {
        const ACTIVATION: &str =
            "INSERT INTO activations (blog_id, key_id, product, family, state, \
             partner_tracking_id, created_at, activated_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
        static ALL_IN_ONE: LazyLock<String> = LazyLock::new(|| {
            format!(
                "WITH a AS ({ACTIVATION}), \
                 c AS (INSERT INTO key_activation_counts (key_id, shard, n) \
                 SELECT $2, a.id % {COUNTER_SHARDS}, 1 FROM a \
                 ON CONFLICT (key_id, shard) DO UPDATE SET n = key_activation_counts.n + 1), \
                 e AS (INSERT INTO events (activation_id, from_state, to_state, at, actor) \
                 SELECT a.id, NULL, $5, $7, $10 FROM a) \
                 SELECT id FROM a"
            )
        });
        let postgres = self.backend == Backend::Postgres;
        let q = query(if postgres {
            ALL_IN_ONE.as_str()
        } else {
            ACTIVATION
        })
        .bind(site.blog_id)
        .bind(req.key_id.get())
        .bind(product.slug.as_str())
        .bind(product.family.as_str())
        .bind(new.state.as_str())
        .bind(req.partner_tracking_id.clone())
        .bind(req.now.as_millis())
        .bind(new.activated_at.map(Timestamp::as_millis))
        .bind(new.expires_at.map(Timestamp::as_millis));
        let q = if postgres {
            q.bind(actor.to_string())
        } else {
            q
        };
        let id = ActivationId::new(q.fetch_one(&mut *tx).await?.try_get("id")?);
        if postgres {
            super::webhooks::on_activation_event(tx, id, new.state, req.now).await?;
            return Ok(id);
        }
        query(
            "INSERT INTO key_activation_counts (key_id, shard, n) VALUES ($1, $2, 1) \
             ON CONFLICT (key_id, shard) DO UPDATE SET n = key_activation_counts.n + 1",
        )
        .bind(req.key_id.get())
        .bind(id.get() % COUNTER_SHARDS)
        .execute(&mut *tx)
        .await?;
        event(tx, id, None, new.state, req.now, actor).await?;
        Ok(id)
    }

    /// The cancel unit: lock the site, load, [`lifecycle::decide_cancel`], apply.
    pub(super) async fn cancel_in_tx(
        &self,
        tx: &mut impl Exec,
        req: &CancelRequest,
    ) -> Result<Result<CancelOutcome, CancelRefusal>, StoreError> {
        let site = self.lock_site(tx, &req.site).await?;
        let live = match &site {
            Some(s) => {
                self.expire_in_tx(tx, Some(s.blog_id), req.now).await?;
                Some(self.live_in_tx(tx, s.blog_id, req.now).await?)
            }
            None => None,
        };
        let plan = match lifecycle::decide_cancel(
            &req.site,
            live.as_deref(),
            req.key_id,
            &req.target,
            req.now,
        ) {
            Ok(plan) => plan,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let (Some(site), Some(live)) = (site, live) else {
            return Ok(Ok(CancelOutcome {
                cancelled: Vec::new(),
            }));
        };
        let mut cancelled = Vec::new();
        for t in &plan {
            self.apply_transition(tx, t, Actor::Key(req.key_id)).await?;
            let Some(a) = live.iter().find(|a| a.id == t.id) else {
                continue;
            };
            cancelled.push(CancelledRecord {
                id: a.id,
                blog_id: site.blog_id()?,
                identifier: site.identifier()?,
                product: a.product.clone(),
                was_pending: a.is_pending(),
                created_at: a.created_at,
                partner_tracking_id: a.partner_tracking_id.clone(),
            });
        }
        Ok(Ok(CancelOutcome { cancelled }))
    }
}

impl SqlStore {
    /// The operator's grant: register, lock, load, [`lifecycle::decide_grant`], apply.
    pub(super) async fn grant_in_tx(
        &self,
        tx: &mut impl Exec,
        site: &jpstart_types::SiteIdentifier,
        url: &str,
        product: &ResolvedProduct,
        now: Timestamp,
    ) -> Result<Result<ActivationId, GrantRefusal>, StoreError> {
        query("INSERT INTO sites (identifier, url, created_at) VALUES ($1, $2, $3) ON CONFLICT (identifier) DO NOTHING")
            .bind(site.as_str())
            .bind(url)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
        let Some(row) = self
            .lock_site(tx, &SiteRef::Identifier(site.clone()))
            .await?
        else {
            return Err(StoreError::NotFound(format!("site {site}")));
        };
        self.expire_in_tx(tx, Some(row.blog_id), now).await?;
        let live = self.live_in_tx(tx, row.blog_id, now).await?;
        if let Err(refusal) = lifecycle::decide_grant(&live, &product.family) {
            return Ok(Err(refusal));
        }
        let id: i64 = query(
            "INSERT INTO activations (blog_id, key_id, product, family, state, created_at, activated_at) \
             VALUES ($1, NULL, $2, $3, $4, $5, $5) RETURNING id",
        )
        .bind(row.blog_id)
        .bind(product.slug.as_str())
        .bind(product.family.as_str())
        .bind(ActivationState::Active.as_str())
        .bind(now.as_millis())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let id = ActivationId::new(id);
        event(tx, id, None, ActivationState::Active, now, Actor::Operator).await?;
        Ok(Ok(id))
    }

    pub(super) async fn activations_impl(
        &self,
        filter: &ActivationFilter,
    ) -> Result<Vec<ActivationRecord>, StoreError> {
        let mut sql = String::from(
            "SELECT a.id, a.blog_id, s.identifier, a.product, a.state, a.key_id, k.partner_id, a.created_at, \
             a.activated_at, a.ended_at, a.partner_tracking_id \
             FROM activations a JOIN sites s ON s.blog_id = a.blog_id LEFT JOIN keys k ON k.id = a.key_id WHERE 1 = 1",
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let site = filter.site.as_ref().map(site_key);
        if let Some((column, _)) = &site {
            sql += &format!(" AND s.{column} = {}", next());
        }
        if filter.partner_id.is_some() {
            sql += &format!(" AND k.partner_id = {}", next());
        }
        if filter.key_id.is_some() {
            sql += &format!(" AND a.key_id = {}", next());
        }
        sql += " ORDER BY a.id";
        let mut q = query(&sql);
        if let Some((_, value)) = site {
            q = match value {
                SiteKey::Id(id) => q.bind(id),
                SiteKey::Text(s) => q.bind(s),
            };
        }
        if let Some(p) = filter.partner_id {
            q = q.bind(p.get());
        }
        if let Some(k) = filter.key_id {
            q = q.bind(k.get());
        }
        let rows = q.fetch_all(&mut Pool(self.read())).await?;
        rows.iter()
            .map(|r| {
                Ok(ActivationRecord {
                    id: ActivationId::new(r.try_get("id")?),
                    blog_id: blog_id(r.try_get("blog_id")?)?,
                    identifier: ident(r.try_get("identifier")?)?,
                    product: slug(r.try_get("product")?)?,
                    state: state(&r.try_get::<String, _>("state")?)?,
                    key_id: r.try_get::<Option<i64>, _>("key_id")?.map(KeyId::new),
                    partner_id: r
                        .try_get::<Option<i64>, _>("partner_id")?
                        .map(PartnerId::new),
                    created_at: Timestamp::from_millis(r.try_get("created_at")?),
                    activated_at: time(r, "activated_at")?,
                    ended_at: time(r, "ended_at")?,
                    partner_tracking_id: r.try_get("partner_tracking_id")?,
                })
            })
            .collect()
    }
}
