//! `/portal/activations`: the partner's activations, newest first, with
//! filters (key, plans, state, activated after/before), paging, and the
//! same selection as CSV (`/portal/activations.csv`, every page).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use jpstart_types::site_object::SiteObject;
use jpstart_types::ProductSlug;

use super::export::Csv;
use super::{chosen_key, key_options, last, pairs, query_string, refused, KeyOption};
use crate::app::state::AppState;
use crate::clock::Timestamp;
use crate::domain::{ActivationState, ApiError, ErrorCode};
use crate::portal::{internal, render, Nav, PortalUser};
use crate::reporting::{list_params, site_object};
use crate::store::portal_pages::PortalActivationQuery;
use crate::store::KeyRecord;

/// Rows a CSV export reads per query.
const EXPORT_BATCH: u32 = 1000;

/// The table's filters, parsed, and as they were given (to fill the form
/// and the links again).
struct Filters {
    key: Option<KeyRecord>,
    plans: Vec<ProductSlug>,
    states: Vec<ActivationState>,
    after: Option<Timestamp>,
    before: Option<Timestamp>,
    after_text: String,
    before_text: String,
    page: u32,
    per_page: u32,
}

impl Filters {
    async fn parse(
        state: &AppState,
        user: &PortalUser,
        query: Option<&str>,
    ) -> Result<Filters, ApiError> {
        let pairs = pairs(query);
        let key = chosen_key(state, user, last(&pairs, "key")).await?;
        let list = list_params(&pairs, &state.catalogue)?;
        let mut states = Vec::new();
        for (_, v) in pairs.iter().filter(|(k, _)| k == "state") {
            let s = ActivationState::parse(v.trim()).ok_or_else(|| {
                ApiError::with_arg(
                    ErrorCode::RestInvalidParam,
                    "state (pending, active, cancelled, superseded or expired)",
                )
            })?;
            if !states.contains(&s) {
                states.push(s);
            }
        }
        Ok(Filters {
            key,
            plans: list.plans,
            states,
            after: list.activated_after,
            before: list.activated_before,
            after_text: last(&pairs, "activated_after").unwrap_or_default().into(),
            before_text: last(&pairs, "activated_before").unwrap_or_default().into(),
            page: list.page,
            per_page: list.per_page,
        })
    }

    fn query(&self, user: &PortalUser, limit: u32, offset: u64) -> PortalActivationQuery {
        PortalActivationQuery {
            partner_id: user.partner_id,
            key_id: self.key.as_ref().map(|k| k.id),
            products: self.plans.clone(),
            states: self.states.clone(),
            activated_after: self.after,
            activated_before: self.before,
            limit,
            offset,
        }
    }

    /// The filters as query pairs (without the page).
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if let Some(k) = &self.key {
            p.push(("key", k.id.to_string()));
        }
        p.extend(self.plans.iter().map(|s| ("plans", s.to_string())));
        p.extend(
            self.states
                .iter()
                .map(|s| ("state", s.as_str().to_string())),
        );
        if !self.after_text.is_empty() {
            p.push(("activated_after", self.after_text.clone()));
        }
        if !self.before_text.is_empty() {
            p.push(("activated_before", self.before_text.clone()));
        }
        p
    }

    /// A link to this selection's page `page`.
    fn page_link(&self, page: u32) -> String {
        let mut p = self.pairs();
        p.push(("per_page", self.per_page.to_string()));
        p.push(("page", page.to_string()));
        format!(
            "/portal/activations{}",
            query_string(p.iter().map(|(k, v)| (*k, v.as_str())))
        )
    }

    fn csv_link(&self) -> String {
        let p = self.pairs();
        format!(
            "/portal/activations.csv{}",
            query_string(p.iter().map(|(k, v)| (*k, v.as_str())))
        )
    }
}

#[derive(askama::Template)]
#[template(path = "data/activations.html")]
struct ActivationsPage {
    title: String,
    nav: Nav,
    keys: Vec<KeyOption>,
    plans: Vec<Choice>,
    states: Vec<Choice>,
    after: String,
    before: String,
    per_page: u32,
    rows: Vec<Row>,
    total: u64,
    page: u32,
    pages: u64,
    prev: Option<String>,
    next: Option<String>,
    csv: String,
}

/// A checkbox of the filter form.
struct Choice {
    value: String,
    checked: bool,
}

struct Row {
    id: i64,
    blog_id: i64,
    site: String,
    product: String,
    state: String,
    key: String,
    created: String,
    activated: String,
    ended: String,
}

impl From<SiteObject> for Row {
    fn from(s: SiteObject) -> Self {
        Row {
            id: s.id,
            blog_id: s.wpcom_blog_id,
            site: s.site_name.unwrap_or(s.site_url),
            product: s.product_slug,
            state: s.state,
            key: opt(s.jetpack_partner_key_id.map(|k| format!("#{k}"))),
            created: s.created_on,
            activated: s.activated_on.unwrap_or_default(),
            ended: s.cancelled_on.unwrap_or_default(),
        }
    }
}

/// `GET /portal/activations`.
pub async fn page(
    State(state): State<AppState>,
    user: PortalUser,
    RawQuery(query): RawQuery,
) -> Response {
    match build(&state, &user, query.as_deref()).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => refused(e),
    }
}

async fn build(
    state: &AppState,
    user: &PortalUser,
    query: Option<&str>,
) -> Result<ActivationsPage, ApiError> {
    let f = Filters::parse(state, user, query).await?;
    let offset = u64::from(f.page - 1) * u64::from(f.per_page);
    let found = state
        .store
        .portal_activations(&f.query(user, f.per_page, offset))
        .await?;
    let keys = state.store.keys(Some(user.partner_id)).await?;
    let pages = found.total.div_ceil(u64::from(f.per_page)).max(1);
    let rows = found
        .rows
        .iter()
        .map(|r| Row::from(site_object(&state.catalogue, r)))
        .collect();
    Ok(ActivationsPage {
        title: "Activations".into(),
        nav: user.nav("activations"),
        keys: key_options(&keys, f.key.as_ref().map(|k| k.id)),
        plans: state
            .catalogue
            .products()
            .iter()
            .map(|p| Choice {
                value: p.slug.to_string(),
                checked: f.plans.contains(&p.slug),
            })
            .collect(),
        states: ActivationState::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().to_string(),
                checked: f.states.contains(s),
            })
            .collect(),
        after: f.after_text.clone(),
        before: f.before_text.clone(),
        per_page: f.per_page,
        rows,
        total: found.total,
        page: f.page,
        pages,
        prev: (f.page > 1).then(|| f.page_link(f.page - 1)),
        next: (u64::from(f.page) < pages).then(|| f.page_link(f.page + 1)),
        csv: f.csv_link(),
    })
}

/// The CSV's columns: the list endpoint's site object, flat.
const HEADER: &[&str] = &[
    "id",
    "jetpack_partner_key_id",
    "wpcom_blog_id",
    "site_url",
    "site_name",
    "product_slug",
    "product_id",
    "state",
    "created_on",
    "activated_on",
    "cancelled_on",
    "site_registered",
    "external_user_id",
    "wpcom_user_id",
];

/// An absent value as an empty cell.
fn opt(v: Option<impl ToString>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn record(s: SiteObject) -> [String; 14] {
    [
        s.id.to_string(),
        opt(s.jetpack_partner_key_id),
        s.wpcom_blog_id.to_string(),
        s.site_url,
        opt(s.site_name),
        s.product_slug,
        opt(s.product_id),
        s.state,
        s.created_on,
        opt(s.activated_on),
        opt(s.cancelled_on),
        opt(s.site_registered),
        opt(s.external_user_id),
        opt(s.wpcom_user_id),
    ]
}

/// `GET /portal/activations.csv`: every activation the same filters
/// select (paging ignored), one row each.
pub async fn csv(
    State(state): State<AppState>,
    user: PortalUser,
    RawQuery(query): RawQuery,
) -> Response {
    let f = match Filters::parse(&state, &user, query.as_deref()).await {
        Ok(f) => f,
        Err(e) => return refused(e),
    };
    let mut csv = match Csv::new(HEADER) {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    let mut offset = 0u64;
    loop {
        let batch = match state
            .store
            .portal_activations(&f.query(&user, EXPORT_BATCH, offset))
            .await
        {
            Ok(b) => b,
            Err(e) => return internal(e),
        };
        let n = batch.rows.len();
        for r in &batch.rows {
            if let Err(e) = csv.row(record(site_object(&state.catalogue, r))) {
                return internal(e);
            }
        }
        if n < EXPORT_BATCH as usize {
            break;
        }
        offset += u64::from(EXPORT_BATCH);
    }
    csv.into_response("activations.csv")
}
