//! Partner keys: `partner-keys/verify` (used by the Jetpack plugin before it
//! provisions) and `partner-keys/new` (a reseller's sub-key).

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use jpstart_types::params::PartnerKeyNewParams;
use jpstart_types::wire::{limit_slug, PartnerKeyCreated, Success};
use jpstart_types::{KeyId, OrderedMap, ProductSlug, SecretString};

use crate::app::state::AppState;
use crate::auth::Caller;
use crate::domain::lifecycle;
use crate::domain::limits::{self, SUB_KEY_DEFAULT_LIMIT};
use crate::domain::{ApiError, Catalogue, ErrorCode, SubKeyRefusal};
use crate::rest::rejects::errors_of;
use crate::rest::{operation, ApiVersion, Endpoint, Help, Params, Rest};
use crate::secrets;
use crate::store::NewSubKey;
use crate::writer::Writer;

/// Longest key name accepted, in characters.
pub const MAX_KEY_NAME: usize = 200;

/// Refused while parsing the name and the limits, before the unit of work.
const NEW_KEY_PARSE: &[ErrorCode] = &[ErrorCode::InvalidKeyName, ErrorCode::InvalidLimit];

/// `partner-keys/verify` and `partner-keys/new`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![
        Endpoint {
            operations: vec![operation!(verify)],
            methods: |_| post(verify).get(verify),
            rest: Some(Rest {
                min: ApiVersion::V1_3,
                max: None,
                help: Help {
                    description: "Checks that the bearer token is a valid partner token.",
                    versions: "1.3+",
                    authentication: "Bearer token (scope jetpack-partner)",
                    parameters: &[],
                    response: &[("success", "true")],
                },
                errors: errors_of(&verify),
            }),
        },
        Endpoint {
            operations: vec![operation!(new_key)],
            methods: |_| post(new_key),
            rest: Some(Rest {
                min: ApiVersion::V1_3,
                max: None,
                help: Help {
                    description: "Creates a sub-key of the calling key (same partner). The sub-key may provision only the products it is given a limit above 0 for. Sub-keys cannot create keys.",
                    versions: "1.3+",
                    authentication: "Bearer token (scope jetpack-partner) of a key without a parent",
                    parameters: &[
                        ("name", "required: the new key's name"),
                        (
                            "allowed_{slug}_plans",
                            "live activations of product {slug} the key may hold (whole number up to 1000000 and up to the calling key's own limit for {slug}; absent: 0)",
                        ),
                    ],
                    response: &[
                        ("id", "the key id (number)"),
                        ("name", "the name given"),
                        (
                            "allowed_{slug}_plans",
                            "one per product of the catalogue but the baseline (free), in catalogue order; the limit as a string",
                        ),
                        ("notes", "null"),
                        ("client_id", "the OAuth2 client id (string)"),
                        ("client_secret", "the OAuth2 client secret: shown only in this response"),
                    ],
                },
                errors: errors_of(&new_key).with(NEW_KEY_PARSE).with(SubKeyRefusal::CODES),
            }),
        },
    ]
}

/// `POST /rest/v1.3/jpphp/partner-keys/verify`: 200 for a valid partner token.
#[utoipa::path(
    post,
    path = "/rest/v1.3/jpphp/partner-keys/verify",
    tag = "jpphp",
    security(("bearer" = [])),
    responses((status = 200, description = "The token is a valid partner token.", body = Success)),
)]
pub async fn verify(_caller: Caller) -> Json<Success> {
    Json(Success { success: true })
}

/// `POST /rest/v1.3/jpphp/partner-keys/new` (upstream:
/// host-partner-documentation, jetpack/plan-provisioning.md, "partner-keys").
#[utoipa::path(
    post,
    path = "/rest/v1.3/jpphp/partner-keys/new",
    tag = "jpphp",
    security(("bearer" = [])),
    request_body(
        description = "Any of the four body formats; body parameters win over the query string.",
        content(
            (PartnerKeyNewParams = "application/x-www-form-urlencoded"),
            (PartnerKeyNewParams = "multipart/form-data"),
            (PartnerKeyNewParams = "application/json"),
        )
    ),
    responses((status = 200, description = "The new sub-key; its secret is shown only here.", body = PartnerKeyCreated)),
)]
pub async fn new_key(
    State(state): State<AppState>,
    Writer(caller): Writer,
    Params(p): Params<PartnerKeyNewParams>,
) -> Result<Json<PartnerKeyCreated>, ApiError> {
    // Refused before the parameters are read, as before; the store decides
    // again under the parent's lock (`lifecycle::decide_sub_key`).
    lifecycle::may_create_keys(caller.is_sub_key)?;
    let created = create_sub_key(&state, caller.key_id, p.name.as_deref(), p.rest.iter()).await?;
    Ok(Json(PartnerKeyCreated {
        id: created.id.get().unsigned_abs(),
        name: created.name,
        limits: OrderedMap(
            created
                .limits
                .into_iter()
                .map(|(slug, n)| (slug.to_string(), n.unsigned_abs()))
                .collect(),
        ),
        notes: None,
        client_id: created.id.to_string(),
        client_secret: SecretString::new(created.secret),
    }))
}

/// A sub-key just created, its secret in the clear this once.
pub struct CreatedSubKey {
    pub id: KeyId,
    pub name: String,
    pub limits: Vec<(ProductSlug, i64)>,
    pub secret: String,
}

/// The unit of work of `partner-keys/new`, also the portal's (keys page):
/// the name and `allowed_{slug}_plans` limits checked, a secret made, the
/// key created under its parent's lock by the store
/// ([`lifecycle::decide_sub_key`]: one level, the partner's cap, limits
/// within the parent's).
pub async fn create_sub_key<'a>(
    state: &AppState,
    parent: KeyId,
    name: Option<&str>,
    params: impl Iterator<Item = (&'a String, &'a String)>,
) -> Result<CreatedSubKey, ApiError> {
    // One message for both cases: the catalogue has one template per code.
    let invalid_name = || ApiError::with_arg(ErrorCode::InvalidKeyName, MAX_KEY_NAME);
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(invalid_name)?;
    if name.chars().count() > MAX_KEY_NAME {
        return Err(invalid_name());
    }
    let limits = parse_limits(&state.catalogue, params)?;
    let secret = secrets::generate();
    let key = NewSubKey {
        parent,
        name: name.to_string(),
        secret_digest: secrets::digest(&secret),
        limits: limits.clone(),
        max_sub_keys: state.max_sub_keys,
    };
    let id = state
        .store
        .create_sub_key(&key, state.clock.now())
        .await??;
    tracing::info!(
        key_id = parent.get(),
        new_key_id = id.get(),
        "sub-key created"
    );
    Ok(CreatedSubKey {
        id,
        name: name.to_string(),
        limits,
        secret,
    })
}

/// Every product but the baseline, in catalogue order, with the limit an
/// `allowed_{slug}_plans` parameter gives it ([`SUB_KEY_DEFAULT_LIMIT`]
/// when absent). Any other
/// parameter starting with `allowed_` is `invalid_limit`: a typo must not
/// silently become a limit of 0.
pub fn parse_limits<'a>(
    cat: &Catalogue,
    params: impl Iterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<(ProductSlug, i64)>, ApiError> {
    let mut limits: Vec<(ProductSlug, i64)> = cat
        .products()
        .iter()
        .filter(|p| !p.baseline)
        .map(|p| (p.slug.clone(), SUB_KEY_DEFAULT_LIMIT))
        .collect();
    for (key, value) in params {
        if !key.starts_with("allowed_") {
            continue;
        }
        let invalid = |why: String| ApiError::with_arg(ErrorCode::InvalidLimit, why);
        let slug = limit_slug(key).ok_or_else(|| {
            invalid(format!(
                "{key} is not a limit: limits are named allowed_{{product}}_plans"
            ))
        })?;
        let slot = limits
            .iter_mut()
            .find(|(s, _)| s.as_str() == slug)
            .ok_or_else(|| {
                invalid(format!(
                    "{key}: {slug} is not a product a key can be limited on"
                ))
            })?;
        let text = value.trim();
        slot.1 = text
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| text.parse::<i64>().ok())
            .flatten()
            .filter(|n| limits::in_bound(*n))
            .ok_or_else(|| {
                invalid(format!(
                    "{key} must be a whole number from 0 to {}",
                    limits::MAX_LIMIT
                ))
            })?;
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Vec<(String, i64)>, String> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_limits(&Catalogue::builtin(), owned.iter().map(|(k, v)| (k, v)))
            .map(|v| v.into_iter().map(|(s, n)| (s.to_string(), n)).collect())
            .map_err(|e| format!("{}: {}", e.code, e.message))
    }

    #[test]
    fn limits_in_catalogue_order_default_zero() {
        let got = parse(&[("allowed_premium_plans", " 100 "), ("name", "x")]).unwrap();
        let slugs: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            slugs,
            [
                "jetpack-backup-daily",
                "jetpack-backup-realtime",
                "personal",
                "premium",
                "professional",
                "jetpack-scan",
                "jetpack-anti-spam"
            ]
        );
        assert_eq!(got[3], ("premium".to_string(), 100));
        assert!(got
            .iter()
            .filter(|(s, _)| s != "premium")
            .all(|(_, n)| *n == 0));
    }

    #[test]
    fn bad_limits_are_refused() {
        for (k, v) in [
            ("allowed_gold_plans", "1"),
            ("allowed_free_plans", "1"),
            ("allowed_premium", "1"),
            ("allowed__plans", "1"),
            ("allowed_premium_plans", "-1"),
            ("allowed_premium_plans", "+1"),
            ("allowed_premium_plans", "1.5"),
            ("allowed_premium_plans", ""),
            ("allowed_premium_plans", "99999999999999999999"),
            ("allowed_premium_plans", "9223372036854775807"),
            ("allowed_premium_plans", "1000001"),
        ] {
            let err = parse(&[(k, v)]).unwrap_err();
            assert!(err.starts_with("invalid_limit: "), "{k}={v}: {err}");
        }
    }
}
