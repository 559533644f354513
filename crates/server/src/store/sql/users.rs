//! WordPress.com accounts, the partner allow-list, automatic account
//! creation and the mail outbox, on both backends (the
//! [`Store`](super::super::Store) methods delegate here).
//!
//! An account's address is unique by the database (`email_key`, the address
//! lowercased, has a unique index), and so is its username: an insert that
//! loses a race does nothing (`ON CONFLICT DO NOTHING`) and is told apart by
//! looking the address up in the same transaction.

use jpstart_types::{PartnerId, SiteRef};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::rows::time;
use super::{SqlStore, Tx};
use crate::clock::Timestamp;
use crate::domain::users::{decide_auto_account, username_candidate};
use crate::domain::{AccountRefusal, Actor};
use crate::store::users::*;
use crate::store::StoreError;

/// Usernames tried in sequence (`jane`, `jane2`, ...) before random suffixes.
const SEQUENTIAL_USERNAMES: u32 = 8;
const RANDOM_USERNAMES: u32 = 8;

const USER_COLUMNS: &str =
    "id, email, username, product_type, language, origin, created_by_partner, created_at";

const MAIL_COLUMNS: &str = "id, kind, recipient, subject, body, partner_id, created_at, attempts, \
     next_attempt_at, sent_at, failed_at, last_error";

fn user_from_row(r: &AnyRow) -> Result<WpcomUser, StoreError> {
    Ok(WpcomUser {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        username: r.try_get("username")?,
        product_type: r.try_get("product_type")?,
        language: r.try_get("language")?,
        origin: r.try_get("origin")?,
        created_by_partner: r
            .try_get::<Option<i64>, _>("created_by_partner")?
            .map(PartnerId::new),
        created_at: Timestamp::from_millis(r.try_get("created_at")?),
    })
}

fn mail_from_row(r: &AnyRow) -> Result<OutboxMail, StoreError> {
    Ok(OutboxMail {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        to: r.try_get("recipient")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        partner_id: r
            .try_get::<Option<i64>, _>("partner_id")?
            .map(PartnerId::new),
        created_at: Timestamp::from_millis(r.try_get("created_at")?),
        attempts: r.try_get("attempts")?,
        next_attempt_at: Timestamp::from_millis(r.try_get("next_attempt_at")?),
        sent_at: time(r, "sent_at")?,
        failed_at: time(r, "failed_at")?,
        last_error: r.try_get("last_error")?,
    })
}

/// The `n`-th username to try.
fn candidate(base: &str, n: u32) -> String {
    if n < SEQUENTIAL_USERNAMES {
        username_candidate(base, n)
    } else {
        // Past a few taken names, a random suffix finds a free one at once.
        username_candidate(base, rand::random_range(SEQUENTIAL_USERNAMES..1_000_000))
    }
}

impl SqlStore {
    pub(super) async fn user_creation_allowed_impl(
        &self,
        partner: PartnerId,
    ) -> Result<Option<(String, bool)>, StoreError> {
        let row = sqlx::query(
            "SELECT p.name, (SELECT COUNT(*) FROM partner_user_creation u WHERE u.partner_id = p.id) AS n \
             FROM partners p WHERE p.id = $1",
        )
        .bind(partner.get())
        .fetch_optional(self.read())
        .await?;
        row.map(|r| Ok((r.try_get("name")?, r.try_get::<i64, _>("n")? > 0)))
            .transpose()
    }

    pub(super) async fn set_user_creation_impl(
        &self,
        partner: PartnerId,
        allowed: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if sqlx::query("SELECT id FROM partners WHERE id = $1")
            .bind(partner.get())
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let q = if allowed {
            sqlx::query("INSERT INTO partner_user_creation (partner_id, allowed_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(partner.get())
                .bind(now.as_millis())
        } else {
            sqlx::query("DELETE FROM partner_user_creation WHERE partner_id = $1")
                .bind(partner.get())
        };
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Inserts the account (and its token) in the caller's transaction.
    pub(super) async fn insert_user(
        &self,
        tx: &mut Tx,
        user: &NewWpcomUser,
        blog_id: Option<i64>,
    ) -> Result<Result<WpcomUser, AccountRefusal>, StoreError> {
        let sql = format!(
            "INSERT INTO wpcom_users (email, email_key, username, product_type, language, origin, created_by_partner, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING {USER_COLUMNS}"
        );
        let mut created = None;
        for n in 0..SEQUENTIAL_USERNAMES + RANDOM_USERNAMES {
            let row = sqlx::query(&sql)
                .bind(user.email.as_str())
                .bind(user.email_key.as_str())
                .bind(candidate(&user.username_base, n))
                .bind(user.product_type.as_deref())
                .bind(user.language.as_deref())
                .bind(user.origin.as_str())
                .bind(user.partner_id.map(PartnerId::get))
                .bind(user.now.as_millis())
                .fetch_optional(&mut **tx)
                .await?;
            if let Some(r) = row {
                created = Some(user_from_row(&r)?);
                break;
            }
            let taken = sqlx::query("SELECT id FROM wpcom_users WHERE email_key = $1")
                .bind(user.email_key.as_str())
                .fetch_optional(&mut **tx)
                .await?;
            if taken.is_some() {
                return Ok(Err(AccountRefusal::Exists));
            }
        }
        let Some(created) = created else {
            return Err(StoreError::Corrupt(format!(
                "no free username for {:?}",
                user.username_base
            )));
        };
        if let Some(digest) = &user.token_digest {
            let n = sqlx::query(
                "INSERT INTO wpcom_user_tokens (hash, user_id, blog_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(digest.clone())
            .bind(created.id)
            .bind(blog_id)
            .bind(user.now.as_millis())
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Ok(Err(AccountRefusal::TokenNotStored));
            }
        }
        Ok(Ok(created))
    }

    pub(super) async fn wpcom_users_impl(
        &self,
        email_key: Option<&str>,
    ) -> Result<Vec<WpcomUser>, StoreError> {
        let rows = match email_key {
            Some(k) => {
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM wpcom_users WHERE email_key = $1 ORDER BY id"
                );
                sqlx::query(&sql).bind(k).fetch_all(self.read()).await?
            }
            None => {
                let sql = format!("SELECT {USER_COLUMNS} FROM wpcom_users ORDER BY id");
                sqlx::query(&sql).fetch_all(self.read()).await?
            }
        };
        rows.iter().map(user_from_row).collect()
    }

    pub(super) async fn auto_account_impl(
        &self,
        req: &AutoAccount,
    ) -> Result<Option<AutoAccountOutcome>, StoreError> {
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                let out = self.auto_account_in_tx(&mut tx, req).await?;
                if out.is_some() {
                    tx.commit().await?;
                } else {
                    tx.rollback().await?;
                }
                Ok::<_, StoreError>(out)
            }
            .await
        )
    }

    async fn auto_account_in_tx(
        &self,
        tx: &mut Tx,
        req: &AutoAccount,
    ) -> Result<Option<AutoAccountOutcome>, StoreError> {
        let allowed =
            sqlx::query("SELECT partner_id FROM partner_user_creation WHERE partner_id = $1")
                .bind(req.partner_id.get())
                .fetch_optional(&mut **tx)
                .await?;
        if allowed.is_none() {
            return Ok(None);
        }
        let Some(site) = self.lock_site(tx, &SiteRef::BlogId(req.blog_id)).await? else {
            return Ok(None);
        };
        let now = req.user.now;
        self.expire_in_tx(tx, Some(site.blog_id), now).await?;
        let live = self.live_in_tx(tx, site.blog_id, now).await?;
        let Some(transitions) = decide_auto_account(req.partner_id, &live, now) else {
            return Ok(None);
        };
        let user = match self.insert_user(tx, &req.user, Some(site.blog_id)).await? {
            Ok(u) => u,
            Err(_) => return Ok(None),
        };
        sqlx::query("UPDATE sites SET connected = 1, connected_at = $2 WHERE blog_id = $1 AND connected = 0")
            .bind(site.blog_id)
            .bind(now.as_millis())
            .execute(&mut **tx)
            .await?;
        if !site.connected {
            let kind = jpstart_types::webhooks::EventType::SiteConnected;
            super::webhooks::on_site_event(tx, site.blog_id, kind, Some(req.partner_id), now)
                .await?;
        }
        let mut activated = Vec::new();
        for t in &transitions {
            self.apply_transition(tx, t, Actor::Key(req.key_id)).await?;
            activated.push(t.id);
        }
        activated.sort_unstable();
        // As its approval would: the partner's links to the site are used up.
        sqlx::query(
            "UPDATE auth_links SET used_at = $2 WHERE blog_id = $1 AND used_at IS NULL \
             AND key_id IN (SELECT id FROM keys WHERE partner_id = $3)",
        )
        .bind(site.blog_id)
        .bind(now.as_millis())
        .bind(req.partner_id.get())
        .execute(&mut **tx)
        .await?;
        Ok(Some(AutoAccountOutcome {
            user,
            activated,
            was_connected: site.connected,
        }))
    }

    pub(super) async fn enqueue_mail_impl(&self, m: &NewMail) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO mail_outbox (kind, recipient, subject, body, partner_id, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(m.mail.kind)
        .bind(m.mail.to.as_str())
        .bind(m.mail.subject.as_str())
        .bind(m.mail.body.as_str())
        .bind(m.partner_id.map(PartnerId::get))
        .bind(m.now.as_millis())
        .fetch_one(&self.pools.write)
        .await?;
        Ok(row.try_get("id")?)
    }

    pub(super) async fn outbox_impl(&self, f: &MailFilter) -> Result<Vec<OutboxMail>, StoreError> {
        let rows = match &f.to {
            Some(to) => {
                let sql = format!(
                    "SELECT {MAIL_COLUMNS} FROM mail_outbox WHERE LOWER(recipient) = $1 ORDER BY id"
                );
                sqlx::query(&sql)
                    .bind(to.to_lowercase())
                    .fetch_all(self.read())
                    .await?
            }
            None => {
                let sql = format!("SELECT {MAIL_COLUMNS} FROM mail_outbox ORDER BY id");
                sqlx::query(&sql).fetch_all(self.read()).await?
            }
        };
        rows.iter().map(mail_from_row).collect()
    }

    pub(super) async fn claim_mail_impl(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        let due = sqlx::query(
            "SELECT id, next_attempt_at FROM mail_outbox \
             WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now.as_millis())
        .bind(limit)
        .fetch_all(self.read())
        .await?;
        let claim = format!(
            "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $3 \
             WHERE id = $1 AND next_attempt_at = $2 AND sent_at IS NULL AND failed_at IS NULL \
             RETURNING {MAIL_COLUMNS}"
        );
        let mut claimed = Vec::new();
        for r in due {
            let id: i64 = r.try_get("id")?;
            let seen: i64 = r.try_get("next_attempt_at")?;
            // Conditional on the due time read: of two senders, one wins.
            let row = sqlx::query(&claim)
                .bind(id)
                .bind(seen)
                .bind(lease_until.as_millis())
                .fetch_optional(&self.pools.write)
                .await?;
            if let Some(row) = row {
                claimed.push(mail_from_row(&row)?);
            }
        }
        Ok(claimed)
    }

    pub(super) async fn mail_sent_impl(&self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE mail_outbox SET sent_at = $2, last_error = NULL WHERE id = $1")
            .bind(id)
            .bind(now.as_millis())
            .execute(&self.pools.write)
            .await?;
        Ok(())
    }

    pub(super) async fn mail_failed_impl(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let q = match retry_at {
            Some(at) => sqlx::query(
                "UPDATE mail_outbox SET last_error = $2, next_attempt_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(error)
            .bind(at.as_millis()),
            None => {
                sqlx::query("UPDATE mail_outbox SET last_error = $2, failed_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(error)
                    .bind(now.as_millis())
            }
        };
        q.execute(&self.pools.write).await?;
        Ok(())
    }
}
