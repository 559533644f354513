//! `POST /rest/v1.3/jpphp/user` (upstream: host-partner-documentation,
//! users/user-creation.md) and automatic account creation at provision
//! (jetpack/automatic-account-creation-connection.md); SPEC §5 "Also part
//! of the system".

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use jpstart_types::params::non_empty;
use jpstart_types::users::{UserCreated, UserParams};
use jpstart_types::wire::ProvisionResponse;
use jpstart_types::BlogId;

use crate::app::state::AppState;
use crate::auth::Caller;
use crate::domain::users::{language, username_base, Email, ProductType};
use crate::domain::{AccountRefusal, ApiError, ErrorCode};
use crate::rest::rejects::errors_of;
use crate::rest::{operation, ApiVersion, Endpoint, Help, Params, Rest};
use crate::secrets;
use crate::store::{AutoAccount, NewWpcomUser, ProvisionOutcome, UserOrigin};

/// Answered by the handler itself, in upstream's order: the allow-list,
/// then the parameters.
const HANDLER: &[ErrorCode] = &[
    ErrorCode::Forbidden,
    ErrorCode::InvalidInputNoEmail,
    ErrorCode::InvalidInputNoProductId,
    ErrorCode::InvalidInputUnknownProductId,
];

/// `user`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![Endpoint {
        operations: vec![operation!(create_user)],
        methods: |_| post(create_user),
        rest: Some(Rest {
            min: ApiVersion::V1_3,
            max: None,
            help: Help {
                description: "Creates a WordPress.com account, for partners the operator allowed to (`jpstart admin partner allow-user-creation`).",
                versions: "1.3+",
                authentication: "Bearer token (scope jetpack-partner)",
                parameters: &[
                    ("email", "required: the new account's e-mail address"),
                    (
                        "product_type",
                        "required (also accepted as product_id): jetpack or woocommerce",
                    ),
                    ("language", "optional ISO 639 code, e.g. en, pt-br"),
                ],
                response: &[
                    ("success", "true"),
                    (
                        "bearer_token",
                        "the new account's access token (shown only here)",
                    ),
                ],
            },
            errors: errors_of(&create_user)
                .with(HANDLER)
                .with(AccountRefusal::CODES),
        }),
    }]
}

/// `POST /rest/v1.3/jpphp/user`: checks in the order of upstream's error
/// table (allow-list, e-mail, product), then creates the account and its
/// token in one transaction; only the token's digest is stored.
#[utoipa::path(
    post,
    path = "/rest/v1.3/jpphp/user",
    tag = "jpphp",
    security(("bearer" = [])),
    request_body(
        description = "Any of the four body formats; body parameters win over the query string.",
        content(
            (UserParams = "application/x-www-form-urlencoded"),
            (UserParams = "multipart/form-data"),
            (UserParams = "application/json"),
        )
    ),
    responses((status = 200, description = "The account was created.", body = UserCreated)),
)]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Params(p): Params<UserParams>,
) -> Result<Json<UserCreated>, ApiError> {
    let (name, allowed) = state
        .store
        .user_creation_allowed(caller.partner_id)
        .await?
        .unwrap_or_default();
    if !allowed {
        return Err(ApiError::with_arg(
            ErrorCode::Forbidden,
            format!("{name} is not whitelisted for allowing user creation."),
        ));
    }
    let raw = non_empty(&p.email).ok_or(ErrorCode::InvalidInputNoEmail)?;
    let email = Email::parse(raw).map_err(|why| ApiError {
        code: ErrorCode::InvalidInputNoEmail,
        message: format!("email is not an e-mail address: {why}."),
    })?;
    let product = p.product().ok_or(ErrorCode::InvalidInputNoProductId)?;
    let product = ProductType::parse(product).ok_or(ErrorCode::InvalidInputUnknownProductId)?;
    let token = secrets::generate();
    let user = NewWpcomUser {
        email: email.as_str().to_string(),
        email_key: email.key(),
        username_base: username_base(&email),
        product_type: Some(product.as_str().to_string()),
        language: p.language.as_deref().and_then(language),
        origin: UserOrigin::Api,
        partner_id: Some(caller.partner_id),
        token_digest: Some(secrets::digest(&token)),
        now: state.clock.now(),
    };
    let created = state
        .store
        .create_wpcom_user(&user)
        .await?
        .map_err(ApiError::from)?;
    tracing::info!(
        key_id = caller.key_id.get(),
        user_id = created.id,
        username = %created.username,
        "account created"
    );
    Ok(Json(UserCreated {
        success: true,
        bearer_token: token,
    }))
}

/// The provision handler's hook for automatic account creation: with a
/// `wpcom_user_email` of no account, from a partner allowed to create
/// accounts (and allowed to change the site, SPEC §11), the account is
/// created, the site connected for the partner, and the response says so:
/// `auth_required` false, `next_url` the site, `access_token` the account's
/// token. When a prerequisite is not met, or the step fails, the provision
/// answers as it would have (upstream: "the API will attempt to continue
/// provisioning disregard the automatically created account").
pub async fn after_provision(
    state: &AppState,
    caller: &Caller,
    outcome: &ProvisionOutcome,
    wpcom_user_email: Option<&str>,
    response: &mut ProvisionResponse,
) {
    let Some(token) = auto_account(state, caller, outcome.blog_id, wpcom_user_email).await else {
        return;
    };
    response.auth_required = false;
    response.next_url = site_url(&outcome.url);
    response.access_token = Some(token);
}

async fn auto_account(
    state: &AppState,
    caller: &Caller,
    blog_id: BlogId,
    email: Option<&str>,
) -> Option<String> {
    let email = Email::parse(email?.trim()).ok()?;
    let token = secrets::generate();
    let req = AutoAccount {
        partner_id: caller.partner_id,
        key_id: caller.key_id,
        blog_id,
        user: NewWpcomUser {
            email: email.as_str().to_string(),
            email_key: email.key(),
            username_base: username_base(&email),
            product_type: Some(ProductType::Jetpack.as_str().to_string()),
            language: None,
            origin: UserOrigin::Provision,
            partner_id: Some(caller.partner_id),
            token_digest: Some(secrets::digest(&token)),
            now: state.clock.now(),
        },
    };
    match state.store.auto_account(&req).await {
        Ok(Some(out)) => {
            tracing::info!(
                key_id = caller.key_id.get(),
                %blog_id,
                user_id = out.user.id,
                activated = ?out.activated,
                "account created and site connected at provision"
            );
            Some(token)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, %blog_id, "automatic account creation failed; provisioned without it");
            None
        }
    }
}

/// The site's own URL, as registered (`https://` when it had no scheme).
pub fn site_url(url: &str) -> String {
    let base = url.trim().trim_end_matches('/');
    if base.contains("://") {
        base.to_string()
    } else {
        format!("https://{base}")
    }
}

#[cfg(test)]
mod tests {
    use super::site_url;

    #[test]
    fn site_urls() {
        assert_eq!(site_url("http://example.com/"), "http://example.com");
        assert_eq!(site_url("example.com/demo"), "https://example.com/demo");
    }
}
