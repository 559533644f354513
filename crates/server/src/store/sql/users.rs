//! WordPress.com accounts, the partner allow-list, automatic account
//! creation and the mail outbox, on both backends (the
//! [`Store`](super::super::Store) methods delegate here).
//!
//! An account's address is unique by the database (`email_key`, the address
//! lowercased, has a unique index), and so is its username: an insert that
//! loses a race does nothing (`ON CONFLICT DO NOTHING`) and is told apart by
//! looking the address up in the same transaction.

use jpstart_types::SiteRef;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::rows::{actor, event};
use super::{live_at, SqlStore, Tx};
use crate::domain::rules::PartnerId;
use crate::domain::users::username_candidate;
use crate::domain::{ApiError, ErrorCode};
use crate::store::users::*;
use crate::store::{RuleResult, StoreError};

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
        created_by_partner: r.try_get("created_by_partner")?,
        created_at: r.try_get("created_at")?,
    })
}

fn mail_from_row(r: &AnyRow) -> Result<OutboxMail, StoreError> {
    Ok(OutboxMail {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        to: r.try_get("recipient")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        partner_id: r.try_get("partner_id")?,
        created_at: r.try_get("created_at")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        sent_at: r.try_get("sent_at")?,
        failed_at: r.try_get("failed_at")?,
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
        .bind(partner)
        .fetch_optional(self.read())
        .await?;
        row.map(|r| Ok((r.try_get("name")?, r.try_get::<i64, _>("n")? > 0)))
            .transpose()
    }

    pub(super) async fn set_user_creation_impl(
        &self,
        partner: PartnerId,
        allowed: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if sqlx::query("SELECT id FROM partners WHERE id = $1")
            .bind(partner)
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let q = if allowed {
            sqlx::query("INSERT INTO partner_user_creation (partner_id, allowed_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(partner)
                .bind(now)
        } else {
            sqlx::query("DELETE FROM partner_user_creation WHERE partner_id = $1").bind(partner)
        };
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn create_wpcom_user_impl(
        &self,
        user: &NewWpcomUser,
    ) -> RuleResult<WpcomUser> {
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                let out = self.insert_user(&mut tx, user, None).await?;
                if out.is_ok() {
                    tx.commit().await?;
                } else {
                    tx.rollback().await?;
                }
                Ok::<_, StoreError>(out)
            }
            .await
        )
    }

    /// Inserts the account (and its token) in the caller's transaction.
    async fn insert_user(
        &self,
        tx: &mut Tx,
        user: &NewWpcomUser,
        blog_id: Option<i64>,
    ) -> RuleResult<WpcomUser> {
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
                .bind(user.partner_id)
                .bind(user.now)
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
                return Ok(Err(ApiError::new(ErrorCode::UserExists)));
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
            .bind(user.now)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Ok(Err(ApiError::new(ErrorCode::ErrorAccessToken)));
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
                .bind(req.partner_id)
                .fetch_optional(&mut **tx)
                .await?;
        if allowed.is_none() {
            return Ok(None);
        }
        let Some(site) = self.lock_site(tx, &SiteRef::BlogId(req.blog_id)).await? else {
            return Ok(None);
        };
        let now = req.user.now;
        self.expire_site(tx, site.blog_id, now).await?;
        // SPEC §11: a partner may change a site's connection only when no
        // other partner holds a live activation there.
        let other = format!(
            "SELECT a.id FROM activations a JOIN keys k ON k.id = a.key_id \
             WHERE a.blog_id = $1 AND k.partner_id <> $2 AND {}",
            live_at("$3")
        );
        let held = sqlx::query(&other)
            .bind(site.blog_id)
            .bind(req.partner_id)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?;
        if held.is_some() {
            return Ok(None);
        }
        let user = match self.insert_user(tx, &req.user, Some(site.blog_id)).await? {
            Ok(u) => u,
            Err(_) => return Ok(None),
        };
        let activated = self
            .connect_for_partner(tx, site.blog_id, req.partner_id, req.key_id, now)
            .await?;
        Ok(Some(AutoAccountOutcome {
            user,
            activated,
            was_connected: site.connected,
        }))
    }

    /// Connects the site for one partner, as its approval would: its pending
    /// activations there become active and its links of the site are used.
    async fn connect_for_partner(
        &self,
        tx: &mut Tx,
        blog_id: i64,
        partner: PartnerId,
        key: i64,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        sqlx::query("UPDATE sites SET connected = 1, connected_at = $2 WHERE blog_id = $1 AND connected = 0")
            .bind(blog_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        let rows = sqlx::query(
            "UPDATE activations SET state = 'active', activated_at = $2, expires_at = NULL \
             WHERE blog_id = $1 AND state = 'pending' \
             AND key_id IN (SELECT id FROM keys WHERE partner_id = $3) RETURNING id",
        )
        .bind(blog_id)
        .bind(now)
        .bind(partner)
        .fetch_all(&mut **tx)
        .await?;
        let mut activated = Vec::new();
        for r in rows {
            let id: i64 = r.try_get("id")?;
            event(tx, id, Some("pending"), "active", now, &actor(key)).await?;
            activated.push(id);
        }
        activated.sort_unstable();
        sqlx::query(
            "UPDATE auth_links SET used_at = $2 WHERE blog_id = $1 AND used_at IS NULL \
             AND key_id IN (SELECT id FROM keys WHERE partner_id = $3)",
        )
        .bind(blog_id)
        .bind(now)
        .bind(partner)
        .execute(&mut **tx)
        .await?;
        Ok(activated)
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
        .bind(m.partner_id)
        .bind(m.now)
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
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        let due = sqlx::query(
            "SELECT id, next_attempt_at FROM mail_outbox \
             WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now)
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
                .bind(lease_until)
                .fetch_optional(&self.pools.write)
                .await?;
            if let Some(row) = row {
                claimed.push(mail_from_row(&row)?);
            }
        }
        Ok(claimed)
    }

    pub(super) async fn mail_sent_impl(&self, id: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE mail_outbox SET sent_at = $2, last_error = NULL WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pools.write)
            .await?;
        Ok(())
    }

    pub(super) async fn mail_failed_impl(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let q = match retry_at {
            Some(at) => sqlx::query(
                "UPDATE mail_outbox SET last_error = $2, next_attempt_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(error)
            .bind(at),
            None => {
                sqlx::query("UPDATE mail_outbox SET last_error = $2, failed_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(error)
                    .bind(now)
            }
        };
        q.execute(&self.pools.write).await?;
        Ok(())
    }
}
