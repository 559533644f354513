//! `GET /rest/v1.1/sites/{site_or_blog_id}` (upstream:
//! host-partner-documentation, jetpack/determining-connection-status.md;
//! SPEC §5 "Also part of the system"): the public facts about a site, no
//! authentication. A connected site has `"jetpack":true`; a known site that
//! is not connected answers the same without the key.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::Json;
use jpstart_types::users::{SiteInfo, SiteLinks, SiteLogo, SiteMeta};
use jpstart_types::SiteRef;

use crate::app::state::AppState;
use crate::domain::{ApiError, ErrorCode};
use crate::rest::rejects::{errors_of, Rejects};
use crate::rest::{operation, ApiVersion, Endpoint, Help, Rest};
use crate::store::SiteState;

/// `sites/{site_or_blog_id}`.
pub fn endpoints() -> Vec<Endpoint<AppState>> {
    vec![Endpoint {
        operations: vec![operation!(site)],
        methods: |_| get(site),
        rest: Some(Rest {
            min: ApiVersion(1, 1),
            max: None,
            help: Help {
                description: "A site's public information; `jetpack` is true only for a site connected to WordPress.com. No authentication.",
                versions: "1.1+",
                authentication: "none",
                parameters: &[(
                    "site_or_blog_id (path)",
                    "a blog id, or the site's address without scheme (example.com, example.com::demo)",
                )],
                response: &[
                    ("ID", "the blog id"),
                    (
                        "name, description",
                        "the site's title (its address: jpstart stores no title) and tagline (empty)",
                    ),
                    ("URL", "the site's URL as registered"),
                    ("jetpack", "true, present only when the site is connected"),
                    (
                        "subscribers_count, logo, is_following, meta",
                        "as upstream; jpstart has no followers, logo or posts",
                    ),
                ],
            },
            // Whatever does not name a known site is `unknown_blog`.
            errors: errors_of(&site).with(&[ErrorCode::UnknownBlog]),
        }),
    }]
}

/// The path's site, unparsed: unlike [`crate::rest::SitePath`], a segment
/// that names no site is answered as an unknown one (`unknown_blog`), as
/// upstream's public endpoint does. Only a segment that is not UTF-8 is
/// rejected here (`invalid_site`, as everywhere).
pub struct AnySite(pub String);

impl<S: Send + Sync> FromRequestParts<S> for AnySite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(segment)) => Ok(AnySite(segment)),
            Err(_) => Err(ApiError::with_arg(
                ErrorCode::InvalidSite,
                "The site in the path",
            )),
        }
    }
}

impl Rejects for AnySite {
    const ERRORS: &'static [ErrorCode] = &[ErrorCode::InvalidSite];
}

/// `GET /rest/v1.1/sites/{site_or_blog_id}`.
#[utoipa::path(
    get,
    path = "/rest/v1.1/sites/{site_or_blog_id}",
    tag = "wpcom",
    params(("site_or_blog_id" = String, Path, description = "A blog id (digits) or a site identifier (example.com::demo).", example = "example.com"),),
    responses((status = 200, description = "The site is known; `jetpack` tells whether it is connected.", body = SiteInfo)),
)]
pub async fn site(
    State(state): State<AppState>,
    AnySite(segment): AnySite,
) -> Result<Json<SiteInfo>, ApiError> {
    let unknown = || ApiError::new(ErrorCode::UnknownBlog);
    let site = SiteRef::parse(&segment).map_err(|_| unknown())?;
    let found = state
        .store
        .site(&site, state.clock.now())
        .await?
        .ok_or_else(unknown)?;
    Ok(Json(info(&found, &state.public_url)))
}

fn info(s: &SiteState, public_url: &str) -> SiteInfo {
    let url = super::users::site_url(&s.url);
    let name = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let own = format!("{public_url}/rest/v1.1/sites/{}", s.blog_id);
    SiteInfo {
        id: s.blog_id.get(),
        name: name.to_string(),
        description: String::new(),
        url: url.clone(),
        jetpack: s.connected.then_some(true),
        subscribers_count: 0,
        logo: SiteLogo {
            id: 0,
            sizes: Vec::new(),
            url: String::new(),
        },
        is_following: false,
        meta: SiteMeta {
            links: SiteLinks {
                help: format!("{own}/help"),
                posts: format!("{own}/posts/"),
                comments: format!("{own}/comments/"),
                xmlrpc: format!("{url}/xmlrpc.php"),
                self_: own,
            },
        },
    }
}
