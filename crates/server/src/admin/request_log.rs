//! The operator's side of the request log (SPEC §9): `jpstart admin
//! requests`, every partner's entries and those that named no key.

use jpstart_types::requests::AdminLoggedRequest;
use jpstart_types::{KeyId, PartnerId};

use super::{Admin, AdminError};
use crate::store::RequestLogFilter;

/// Entries printed when `--limit` is not given.
pub const DEFAULT_REQUESTS_LIMIT: i64 = 100;

impl Admin {
    /// The newest `limit` entries (of a partner, of a key), newest first.
    pub async fn requests(
        &self,
        partner: Option<i64>,
        key: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Vec<AdminLoggedRequest>, AdminError> {
        let limit = limit.unwrap_or(DEFAULT_REQUESTS_LIMIT);
        if limit < 1 {
            return Err(AdminError::Invalid("--limit must be at least 1".into()));
        }
        let filter = RequestLogFilter {
            partner: partner.map(PartnerId::new),
            key: key.map(KeyId::new),
            limit,
            ..RequestLogFilter::default()
        };
        let (_, records) = self.store.requests(&filter).await?;
        Ok(records
            .iter()
            .map(|r| AdminLoggedRequest {
                partner_id: r.entry.partner_id.and_then(|p| u64::try_from(p.get()).ok()),
                request: crate::request_log::shown(r),
            })
            .collect())
    }
}
