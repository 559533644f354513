//! Domain refusals: why a unit of work was not done, one enum per unit.
//! Each maps to its catalogued [`ApiError`] here and nowhere else, and
//! lists every code it can produce (`CODES`), from which an endpoint's
//! documented errors can be derived.

use jpstart_types::{BlogId, ProductSlug};

use super::errors::{ApiError, ErrorCode};
use super::holder::SiteChange;
use super::limits::AboveParent;

/// The holder rule refused a change to a site another partner holds
/// ([`super::holder::may_change_site`]): 403 `forbidden`, the one code of
/// every refusal to touch another partner's resources (SPEC §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotHolder(pub SiteChange);

impl NotHolder {
    pub const CODES: &'static [ErrorCode] = &[ErrorCode::Forbidden];

    /// The reason, as the refusal's message (and `ssh_error`/`ftp_error`
    /// at provision).
    pub fn message(self) -> String {
        format!(
            "Another partner holds a live activation on this site, so only it may change {}.",
            self.0.describe()
        )
    }
}

impl From<NotHolder> for ApiError {
    fn from(r: NotHolder) -> Self {
        ApiError::with_arg(ErrorCode::Forbidden, r.message())
    }
}

/// Why a provision (by URL or by blog id) was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProvisionRefusal {
    /// `partner-provision` for a blog id jpstart does not know.
    UnknownBlog(String),
    /// The product (or one of its family) is live from another key.
    OwnedByAnotherPartner(ProductSlug),
    /// A higher tier of the same family is live.
    Downgrade,
    /// A live product of another family (`holder`) already includes it.
    AlreadyIncluded {
        product: ProductSlug,
        holder: ProductSlug,
    },
    /// The key's live activations of the product fill its limit.
    LimitReached(ProductSlug),
    /// `force_connect`/`force_register` on a site another partner holds.
    NotHolder(NotHolder),
}

impl From<NotHolder> for ProvisionRefusal {
    fn from(r: NotHolder) -> Self {
        ProvisionRefusal::NotHolder(r)
    }
}

impl ProvisionRefusal {
    pub const CODES: &'static [ErrorCode] = &[
        ErrorCode::InvalidBlog,
        ErrorCode::ProductOwnedByAnotherPartner,
        ErrorCode::PlanDowngradeDisallowed,
        ErrorCode::ProductAlreadyIncluded,
        ErrorCode::ActivationLimitReached,
        ErrorCode::Forbidden,
    ];
}

impl From<ProvisionRefusal> for ApiError {
    fn from(r: ProvisionRefusal) -> Self {
        match r {
            ProvisionRefusal::UnknownBlog(id) => ApiError::with_arg(ErrorCode::InvalidBlog, id),
            ProvisionRefusal::OwnedByAnotherPartner(slug) => {
                ApiError::with_arg(ErrorCode::ProductOwnedByAnotherPartner, slug)
            }
            ProvisionRefusal::Downgrade => ApiError::new(ErrorCode::PlanDowngradeDisallowed),
            ProvisionRefusal::AlreadyIncluded { product, holder } => {
                ApiError::with_args(ErrorCode::ProductAlreadyIncluded, &[&product, &holder])
            }
            ProvisionRefusal::LimitReached(slug) => {
                ApiError::with_arg(ErrorCode::ActivationLimitReached, slug)
            }
            ProvisionRefusal::NotHolder(r) => r.into(),
        }
    }
}

/// Why a partner-cancel was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelRefusal {
    UnknownBlog(BlogId),
    /// The activation was granted by the operator, not the partner API.
    NotPartnerProvisioned,
    /// The activation belongs to another key.
    OtherKey,
}

impl CancelRefusal {
    pub const CODES: &'static [ErrorCode] = &[
        ErrorCode::InvalidBlog,
        ErrorCode::NotJpsPlan,
        ErrorCode::IncorrectPartnerKey,
    ];
}

impl From<CancelRefusal> for ApiError {
    fn from(r: CancelRefusal) -> Self {
        match r {
            CancelRefusal::UnknownBlog(id) => ApiError::with_arg(ErrorCode::InvalidBlog, id),
            CancelRefusal::NotPartnerProvisioned => ApiError::new(ErrorCode::NotJpsPlan),
            CancelRefusal::OtherKey => ApiError::new(ErrorCode::IncorrectPartnerKey),
        }
    }
}

/// Why the operator's grant was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantRefusal {
    /// The site already has a live product of the family.
    FamilyTaken { family: String },
}

impl GrantRefusal {
    pub const CODES: &'static [ErrorCode] = &[ErrorCode::ProductOwnedByAnotherPartner];
}

impl From<GrantRefusal> for ApiError {
    fn from(r: GrantRefusal) -> Self {
        match r {
            GrantRefusal::FamilyTaken { family } => ApiError::with_arg(
                ErrorCode::ProductOwnedByAnotherPartner,
                format!("a live {family} product"),
            ),
        }
    }
}

/// Why `partner-keys/new` was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubKeyRefusal {
    /// One level of resale: a sub-key cannot create keys.
    ParentIsSubKey,
    /// The partner has its most sub-keys (SPEC §11).
    TooMany { max: u32 },
    /// A limit above the parent key's.
    AboveParent(AboveParent),
}

impl SubKeyRefusal {
    pub const CODES: &'static [ErrorCode] = &[ErrorCode::Forbidden, ErrorCode::InvalidLimit];
}

impl From<SubKeyRefusal> for ApiError {
    fn from(r: SubKeyRefusal) -> Self {
        match r {
            SubKeyRefusal::ParentIsSubKey => ApiError::with_arg(
                ErrorCode::Forbidden,
                "A sub-key cannot create keys; use the key it was created with.",
            ),
            SubKeyRefusal::TooMany { max } => ApiError::with_arg(
                ErrorCode::Forbidden,
                format!(
                    "This partner already has {max} sub-keys, the most it may have; ask the operator to raise the limit."
                ),
            ),
            SubKeyRefusal::AboveParent(a) => ApiError::with_arg(
                ErrorCode::InvalidLimit,
                format!(
                    "allowed_{}_plans={} is above the calling key's own limit of {} for {}: a sub-key cannot exceed its parent",
                    a.product, a.asked, a.parent_max, a.product
                ),
            ),
        }
    }
}

/// Why backup credentials were not stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialsRefusal {
    UnknownBlog(BlogId),
    /// Another partner holds the site.
    NotHolder(NotHolder),
}

impl CredentialsRefusal {
    pub const CODES: &'static [ErrorCode] = &[ErrorCode::InvalidBlog, ErrorCode::Forbidden];
}

impl From<NotHolder> for CredentialsRefusal {
    fn from(r: NotHolder) -> Self {
        CredentialsRefusal::NotHolder(r)
    }
}

impl From<CredentialsRefusal> for ApiError {
    fn from(r: CredentialsRefusal) -> Self {
        match r {
            CredentialsRefusal::UnknownBlog(id) => ApiError::with_arg(ErrorCode::InvalidBlog, id),
            CredentialsRefusal::NotHolder(r) => r.into(),
        }
    }
}

/// Why an account was not created (issue 13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountRefusal {
    /// The address has an account, whatever its case.
    Exists,
    /// The token handed out with the account could not be stored.
    TokenNotStored,
}

impl AccountRefusal {
    pub const CODES: &'static [ErrorCode] = &[ErrorCode::UserExists, ErrorCode::ErrorAccessToken];
}

impl From<AccountRefusal> for ApiError {
    fn from(r: AccountRefusal) -> Self {
        match r {
            AccountRefusal::Exists => ApiError::new(ErrorCode::UserExists),
            AccountRefusal::TokenNotStored => ApiError::new(ErrorCode::ErrorAccessToken),
        }
    }
}

/// Why an authorization link cannot be used. Answered as HTML pages by
/// the authorization page (404 unknown, 410 used or expired), not as API
/// errors, so it has no catalogued codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRefusal {
    Unknown,
    Used,
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(s: &str) -> ProductSlug {
        ProductSlug::parse(s).unwrap()
    }

    #[test]
    fn each_refusal_maps_to_a_code_it_lists() {
        let blog = BlogId::new(9).unwrap();
        let cases: Vec<(ApiError, &[ErrorCode])> = vec![
            (
                ProvisionRefusal::UnknownBlog("9".into()).into(),
                ProvisionRefusal::CODES,
            ),
            (
                ProvisionRefusal::OwnedByAnotherPartner(slug("premium")).into(),
                ProvisionRefusal::CODES,
            ),
            (ProvisionRefusal::Downgrade.into(), ProvisionRefusal::CODES),
            (
                ProvisionRefusal::AlreadyIncluded {
                    product: slug("jetpack-scan"),
                    holder: slug("premium"),
                }
                .into(),
                ProvisionRefusal::CODES,
            ),
            (
                ProvisionRefusal::LimitReached(slug("premium")).into(),
                ProvisionRefusal::CODES,
            ),
            (
                CancelRefusal::UnknownBlog(blog).into(),
                CancelRefusal::CODES,
            ),
            (
                CancelRefusal::NotPartnerProvisioned.into(),
                CancelRefusal::CODES,
            ),
            (CancelRefusal::OtherKey.into(), CancelRefusal::CODES),
            (
                GrantRefusal::FamilyTaken {
                    family: "jetpack-plans".into(),
                }
                .into(),
                GrantRefusal::CODES,
            ),
            (SubKeyRefusal::ParentIsSubKey.into(), SubKeyRefusal::CODES),
            (
                SubKeyRefusal::TooMany { max: 3 }.into(),
                SubKeyRefusal::CODES,
            ),
            (
                SubKeyRefusal::AboveParent(AboveParent {
                    product: slug("premium"),
                    asked: 2,
                    parent_max: 1,
                })
                .into(),
                SubKeyRefusal::CODES,
            ),
            (
                CredentialsRefusal::UnknownBlog(blog).into(),
                CredentialsRefusal::CODES,
            ),
            (AccountRefusal::Exists.into(), AccountRefusal::CODES),
            (AccountRefusal::TokenNotStored.into(), AccountRefusal::CODES),
            (
                ProvisionRefusal::NotHolder(NotHolder(SiteChange::Connection)).into(),
                ProvisionRefusal::CODES,
            ),
            (
                CredentialsRefusal::NotHolder(NotHolder(SiteChange::Credentials)).into(),
                CredentialsRefusal::CODES,
            ),
        ];
        for (err, codes) in cases {
            assert!(codes.contains(&err.code), "{err} not in {codes:?}");
        }
        let e: ApiError = ProvisionRefusal::LimitReached(slug("premium")).into();
        assert_eq!(
            e.message,
            "This key has reached its activation limit for product premium"
        );
    }
}
