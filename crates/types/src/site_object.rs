//! The reporting site object (SPEC §8): one activation as upstream's
//! `jetpack/reporting-endpoints/activations-list.md` names its fields, with
//! jpstart's `product_slug` and `state` beside them. The activations list
//! (§8) and the activation webhooks (§10) answer with it.

use serde::{Deserialize, Serialize};

/// One activation, as the reporting endpoints and webhooks show it.
/// Datetimes are `YYYY-MM-DD HH:MM:SS` in UTC, or `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteObject {
    /// The activation's id.
    pub id: i64,
    /// The key that provisioned it; `null` for an operator's grant.
    pub jetpack_partner_key_id: Option<i64>,
    pub wpcom_blog_id: i64,
    /// The WordPress.com account connected to the site, when jpstart knows one.
    pub wpcom_user_id: Option<i64>,
    /// The site's local user given at provision.
    pub external_user_id: Option<String>,
    /// The numeric WordPress.com product id ([`product_id`]).
    pub product_id: Option<i64>,
    pub created_on: String,
    pub activated_on: Option<String>,
    pub cancelled_on: Option<String>,
    /// Disputes do not exist in jpstart: always `null`.
    pub disputed_on: Option<String>,
    /// When the site was first registered.
    pub site_registered: Option<String>,
    pub site_url: String,
    pub site_name: Option<String>,
    pub site_icon: Option<String>,
    /// Always equal to `product_id`, as upstream says.
    pub current_product_id: Option<i64>,
    pub product_slug: String,
    /// `pending`, `active`, `cancelled`, `superseded` or `expired`.
    pub state: String,
}

/// The WordPress.com product id of a built-in catalogue slug (the ids the
/// real service's store uses for these Jetpack products); `None` for a slug
/// an operator added.
pub fn product_id(slug: &str) -> Option<i64> {
    Some(match slug {
        "premium" => 2000,
        "professional" => 2001,
        "free" => 2002,
        "personal" => 2005,
        "jetpack-backup-daily" => 2100,
        "jetpack-backup-realtime" => 2102,
        "jetpack-scan" => 2106,
        "jetpack-anti-spam" => 2110,
        _ => return None,
    })
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC), the
/// reporting format.
pub fn datetime(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes() {
        assert_eq!(datetime(0), "1970-01-01 00:00:00");
        assert_eq!(datetime(1_385_139_152_000), "2013-11-22 16:52:32");
        assert_eq!(datetime(951_782_400_999), "2000-02-29 00:00:00");
        assert_eq!(datetime(1_798_761_599_000), "2026-12-31 23:59:59");
    }

    #[test]
    fn product_ids() {
        assert_eq!(product_id("premium"), Some(2000));
        assert_eq!(product_id("jetpack-scan"), Some(2106));
        assert_eq!(product_id("made-up"), None);
    }
}
