//! Partner users, portal sessions, OAuth apps, authorization codes and
//! users' reporting tokens (SPEC §8), on both backends.
//!
//! A user's address is unique by the database (`email_key` has a unique
//! index): an insert that loses a race does nothing (`ON CONFLICT DO
//! NOTHING`) and is refused as a taken address. Disabling a user revokes
//! its sessions and tokens in the same transaction; every lookup also
//! checks the user's flag, so a disabled user is refused on the very next
//! request even by a row revoked a moment later.

use jpstart_types::PartnerId;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::rows::flag;
use super::{SqlStore, Tx};
use crate::clock::Timestamp;
use crate::domain::partner_users::redirect_matches;
use crate::store::portal::*;
use crate::store::{Decided, StoreError};

const USER_COLUMNS: &str = "u.id, u.partner_id, u.email, u.name, u.disabled, u.created_at";
const APP_COLUMNS: &str = "id, partner_id, user_id, name, redirect_uri, secret_hash, created_at";

fn user_from_row(r: &AnyRow) -> Result<PartnerUser, StoreError> {
    Ok(PartnerUser {
        id: r.try_get("id")?,
        partner_id: PartnerId::new(r.try_get("partner_id")?),
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        disabled: flag(r, "disabled")?,
        created_at: Timestamp::from_millis(r.try_get("created_at")?),
    })
}

fn app_from_row(r: &AnyRow) -> Result<OAuthApp, StoreError> {
    Ok(OAuthApp {
        id: r.try_get("id")?,
        partner_id: PartnerId::new(r.try_get("partner_id")?),
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        redirect_uri: r.try_get("redirect_uri")?,
        secret_digest: r.try_get("secret_hash")?,
        created_at: Timestamp::from_millis(r.try_get("created_at")?),
    })
}

impl SqlStore {
    pub(super) async fn create_partner_user_in_tx(
        &self,
        tx: &mut Tx,
        user: &NewPartnerUser,
    ) -> Decided<PartnerUser, PartnerUserRefusal> {
        let partner = sqlx::query("SELECT id FROM partners WHERE id = $1")
            .bind(user.partner_id.get())
            .fetch_optional(&mut **tx)
            .await?;
        if partner.is_none() {
            return Ok(Err(PartnerUserRefusal::NoPartner));
        }
        let row = sqlx::query(
            "INSERT INTO partner_users (partner_id, email, email_key, name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(user.partner_id.get())
        .bind(&user.email)
        .bind(&user.email_key)
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.now.as_millis())
        .fetch_optional(&mut **tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err(PartnerUserRefusal::EmailTaken));
        };
        Ok(Ok(PartnerUser {
            id: row.try_get("id")?,
            partner_id: user.partner_id,
            email: user.email.clone(),
            name: user.name.clone(),
            disabled: false,
            created_at: user.now,
        }))
    }

    pub(super) async fn partner_users_impl(
        &self,
        partner: Option<PartnerId>,
    ) -> Result<Vec<PartnerUser>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM partner_users u WHERE ($1 = 0 OR u.partner_id = $1) ORDER BY u.id"
        );
        let rows = sqlx::query(&sql)
            .bind(partner.map_or(0, |p| p.get()))
            .fetch_all(self.read())
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub(super) async fn partner_user_impl(
        &self,
        id: i64,
    ) -> Result<Option<PartnerUser>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM partner_users u WHERE u.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.read())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub(super) async fn partner_user_login_impl(
        &self,
        email_key: &str,
    ) -> Result<Option<PartnerUserLogin>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM partner_users u WHERE u.email_key = $1"
        );
        let row = sqlx::query(&sql)
            .bind(email_key)
            .fetch_optional(self.read())
            .await?;
        row.map(|r| {
            Ok(PartnerUserLogin {
                user: user_from_row(&r)?,
                password_hash: r.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    /// Sets the flag; disabling also revokes every session and token of
    /// the user, in the same transaction. `None`: no such user.
    pub(super) async fn set_partner_user_disabled_impl(
        &self,
        id: i64,
        disabled: bool,
        now: Timestamp,
    ) -> Result<Option<UserDisabled>, StoreError> {
        retrying!(
            async {
                let mut tx = self.begin_write().await?;
                let n = sqlx::query("UPDATE partner_users SET disabled = $2 WHERE id = $1")
                    .bind(id)
                    .bind(i64::from(disabled))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 0 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let mut out = UserDisabled {
                    revoked_sessions: 0,
                    revoked_tokens: 0,
                };
                if disabled {
                    out.revoked_sessions = revoke_all(&mut tx, "portal_sessions", id, now).await?;
                    out.revoked_tokens =
                        revoke_all(&mut tx, "partner_user_tokens", id, now).await?;
                }
                tx.commit().await?;
                Ok::<_, StoreError>(Some(out))
            }
            .await
        )
    }

    pub(super) async fn insert_session_impl(
        &self,
        digest: &[u8],
        user_id: i64,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO portal_sessions (hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(digest.to_vec())
        .bind(user_id)
        .bind(now.as_millis())
        .bind(expires_at.as_millis())
        .execute(&self.pools.write)
        .await?;
        Ok(())
    }

    /// A session unrevoked, unexpired at `now`, of an enabled user.
    pub(super) async fn session_impl(
        &self,
        digest: &[u8],
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, s.expires_at FROM portal_sessions s \
             JOIN partner_users u ON u.id = s.user_id \
             WHERE s.hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.disabled = 0"
        );
        let row = sqlx::query(&sql)
            .bind(digest.to_vec())
            .bind(now.as_millis())
            .fetch_optional(self.read())
            .await?;
        row.map(|r| {
            Ok(SessionRecord {
                user: user_from_row(&r)?,
                expires_at: Timestamp::from_millis(r.try_get("expires_at")?),
            })
        })
        .transpose()
    }

    pub(super) async fn revoke_session_impl(
        &self,
        digest: &[u8],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE portal_sessions SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(digest.to_vec())
        .bind(now.as_millis())
        .execute(&self.pools.write)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub(super) async fn create_oauth_app_impl(
        &self,
        app: &NewOAuthApp,
    ) -> Result<OAuthApp, StoreError> {
        let row = sqlx::query(
            "INSERT INTO oauth_apps (partner_id, user_id, name, redirect_uri, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(app.partner_id.get())
        .bind(app.user_id)
        .bind(&app.name)
        .bind(&app.redirect_uri)
        .bind(app.secret_digest.clone())
        .bind(app.now.as_millis())
        .fetch_one(&self.pools.write)
        .await?;
        Ok(OAuthApp {
            id: row.try_get("id")?,
            partner_id: app.partner_id,
            user_id: app.user_id,
            name: app.name.clone(),
            redirect_uri: app.redirect_uri.clone(),
            secret_digest: app.secret_digest.clone(),
            created_at: app.now,
        })
    }

    pub(super) async fn oauth_app_impl(&self, id: i64) -> Result<Option<OAuthApp>, StoreError> {
        let sql = format!("SELECT {APP_COLUMNS} FROM oauth_apps WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.read())
            .await?;
        row.as_ref().map(app_from_row).transpose()
    }

    pub(super) async fn oauth_apps_impl(
        &self,
        partner: PartnerId,
    ) -> Result<Vec<OAuthApp>, StoreError> {
        let sql = format!("SELECT {APP_COLUMNS} FROM oauth_apps WHERE partner_id = $1 ORDER BY id");
        let rows = sqlx::query(&sql)
            .bind(partner.get())
            .fetch_all(self.read())
            .await?;
        rows.iter().map(app_from_row).collect()
    }

    pub(super) async fn insert_auth_code_impl(&self, code: &NewAuthCode) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_codes (hash, app_id, user_id, redirect_uri, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(code.digest.clone())
        .bind(code.app_id)
        .bind(code.user_id)
        .bind(&code.redirect_uri)
        .bind(code.now.as_millis())
        .bind(code.expires_at.as_millis())
        .execute(&self.pools.write)
        .await?;
        Ok(())
    }

    /// Spends a code and stores the token it buys, in one transaction; the
    /// code row is locked, so two requests with one code get one token.
    pub(super) async fn exchange_code_in_tx(
        &self,
        tx: &mut Tx,
        x: &CodeExchange,
    ) -> Decided<ExchangedCode, CodeRefusal> {
        let sql = format!(
            "SELECT c.app_id, c.user_id, c.redirect_uri, c.expires_at, c.used_at, u.partner_id, u.disabled \
             FROM oauth_codes c JOIN partner_users u ON u.id = c.user_id WHERE c.hash = $1{}",
            self.backend.for_update()
        );
        let Some(r) = sqlx::query(&sql)
            .bind(x.code_digest.clone())
            .fetch_optional(&mut **tx)
            .await?
        else {
            return Ok(Err(CodeRefusal::Unknown));
        };
        if r.try_get::<i64, _>("app_id")? != x.app_id {
            return Ok(Err(CodeRefusal::Unknown));
        }
        if r.try_get::<Option<i64>, _>("used_at")?.is_some() {
            return Ok(Err(CodeRefusal::Used));
        }
        if r.try_get::<i64, _>("expires_at")? <= x.now.as_millis() {
            return Ok(Err(CodeRefusal::Expired));
        }
        if !redirect_matches(&r.try_get::<String, _>("redirect_uri")?, &x.redirect_uri) {
            return Ok(Err(CodeRefusal::RedirectMismatch));
        }
        if flag(&r, "disabled")? {
            return Ok(Err(CodeRefusal::UserDisabled));
        }
        let user_id: i64 = r.try_get("user_id")?;
        sqlx::query("UPDATE oauth_codes SET used_at = $2 WHERE hash = $1")
            .bind(x.code_digest.clone())
            .bind(x.now.as_millis())
            .execute(&mut **tx)
            .await?;
        insert_user_token(tx, &x.token_digest, user_id, Some(x.app_id), x.now).await?;
        Ok(Ok(ExchangedCode {
            user_id,
            partner_id: PartnerId::new(r.try_get("partner_id")?),
        }))
    }

    /// A token for the user straight from the portal; `false` when the
    /// user is unknown or disabled (nothing stored).
    pub(super) async fn issue_user_token_in_tx(
        &self,
        tx: &mut Tx,
        digest: &[u8],
        user_id: i64,
        now: Timestamp,
    ) -> Decided<(), ()> {
        let enabled = sqlx::query("SELECT id FROM partner_users WHERE id = $1 AND disabled = 0")
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
        if enabled.is_none() {
            return Ok(Err(()));
        }
        insert_user_token(tx, digest, user_id, None, now).await?;
        Ok(Ok(()))
    }

    pub(super) async fn user_token_impl(
        &self,
        digest: &[u8],
    ) -> Result<Option<UserTokenRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.partner_id FROM partner_user_tokens t JOIN partner_users u ON u.id = t.user_id \
             WHERE t.hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0",
        )
        .bind(digest.to_vec())
        .fetch_optional(self.read())
        .await?;
        row.map(|r| {
            Ok(UserTokenRecord {
                user_id: r.try_get("id")?,
                partner_id: PartnerId::new(r.try_get("partner_id")?),
            })
        })
        .transpose()
    }

    pub(super) async fn revoke_user_token_impl(
        &self,
        digest: &[u8],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE partner_user_tokens SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(digest.to_vec())
        .bind(now.as_millis())
        .execute(&self.pools.write)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}

impl SqlStore {
    /// The token bought by a code is the one of its app and user created
    /// at the moment the code was spent (the same transaction's `now`).
    pub(super) async fn revoke_code_token_impl(
        &self,
        code_digest: &[u8],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let n = sqlx::query(
            "UPDATE partner_user_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND EXISTS \
             (SELECT 1 FROM oauth_codes c WHERE c.hash = $1 AND c.used_at IS NOT NULL \
              AND c.app_id = partner_user_tokens.app_id AND c.user_id = partner_user_tokens.user_id \
              AND c.used_at = partner_user_tokens.created_at)",
        )
        .bind(code_digest.to_vec())
        .bind(now.as_millis())
        .execute(&self.pools.write)
        .await?
        .rows_affected();
        Ok(n)
    }
}

async fn insert_user_token(
    tx: &mut Tx,
    digest: &[u8],
    user_id: i64,
    app_id: Option<i64>,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO partner_user_tokens (hash, user_id, app_id, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(digest.to_vec())
    .bind(user_id)
    .bind(app_id)
    .bind(now.as_millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Revokes every unrevoked row of a user in `table` (sessions or tokens).
async fn revoke_all(
    tx: &mut Tx,
    table: &str,
    user_id: i64,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let sql =
        format!("UPDATE {table} SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL");
    Ok(sqlx::query(&sql)
        .bind(user_id)
        .bind(now.as_millis())
        .execute(&mut **tx)
        .await?
        .rows_affected())
}
