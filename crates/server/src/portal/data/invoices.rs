//! `/portal/invoices`: each key's upcoming invoice (the current month so
//! far) and its past ones, newest first, as the reporting endpoints
//! compute them ([`crate::reporting`]); and the same as CSV
//! (`/portal/invoices.csv`), one row per invoice line.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use jpstart_types::reporting::Invoice;

use super::export::Csv;
use super::{chosen_key, key_label, key_options, last, pairs, query_string, refused, KeyOption};
use crate::app::state::AppState;
use crate::domain::ApiError;
use crate::portal::{internal, render, Nav, PortalUser};
use crate::reporting::{past_invoices, upcoming_invoice};
use crate::store::KeyRecord;

/// One key's invoices, upcoming first.
struct KeyInvoices {
    key: KeyRecord,
    invoices: Vec<Invoice>,
}

/// The invoices of the key `key` names, or of every key of the partner.
async fn load(
    state: &AppState,
    user: &PortalUser,
    query: Option<&str>,
) -> Result<(Option<KeyRecord>, Vec<KeyRecord>, Vec<KeyInvoices>), ApiError> {
    let pairs = pairs(query);
    let chosen = chosen_key(state, user, last(&pairs, "key")).await?;
    let keys = state.store.keys(Some(user.partner_id)).await?;
    let shown: Vec<KeyRecord> = match &chosen {
        Some(k) => vec![k.clone()],
        None => keys.clone(),
    };
    let now = state.clock.now();
    let store = state.store.as_ref();
    let mut out = Vec::new();
    for key in shown {
        let mut invoices = vec![upcoming_invoice(store, &state.catalogue, &key, now).await?];
        invoices.extend(past_invoices(store, &state.catalogue, &key, now).await?);
        out.push(KeyInvoices { key, invoices });
    }
    Ok((chosen, keys, out))
}

#[derive(askama::Template)]
#[template(path = "data/invoices.html")]
struct InvoicesPage {
    title: String,
    nav: Nav,
    keys: Vec<KeyOption>,
    sections: Vec<Section>,
    csv: String,
}

struct Section {
    key_id: i64,
    label: String,
    invoices: Vec<InvoiceView>,
}

struct InvoiceView {
    id: String,
    month: String,
    status: String,
    lines: Vec<LineView>,
    total: String,
}

struct LineView {
    product: String,
    quantity: u64,
    unit: String,
    amount: String,
}

/// Cents as `12.34 USD`.
pub fn money(cents: u64, currency: &str) -> String {
    format!(
        "{}.{:02} {}",
        cents / 100,
        cents % 100,
        currency.to_ascii_uppercase()
    )
}

fn view(inv: &Invoice) -> InvoiceView {
    InvoiceView {
        id: inv.id.clone(),
        // `YYYY-MM-DD HH:MM:SS`: the month is its first seven characters.
        month: inv.period_start.chars().take(7).collect(),
        status: inv.status.clone(),
        lines: inv
            .lines
            .iter()
            .map(|l| LineView {
                product: l.product_slug.clone(),
                quantity: l.quantity,
                unit: money(l.unit_amount, &inv.currency),
                amount: money(l.amount, &inv.currency),
            })
            .collect(),
        total: money(inv.total, &inv.currency),
    }
}

/// `GET /portal/invoices[?key=N|all]`.
pub async fn page(
    State(state): State<AppState>,
    user: PortalUser,
    RawQuery(query): RawQuery,
) -> Response {
    let (chosen, keys, all) = match load(&state, &user, query.as_deref()).await {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    let key_param = chosen.as_ref().map(|k| k.id.to_string());
    let csv = format!(
        "/portal/invoices.csv{}",
        query_string(key_param.as_deref().map(|k| ("key", k)))
    );
    render(
        StatusCode::OK,
        &InvoicesPage {
            title: "Invoices".into(),
            nav: user.nav("invoices"),
            keys: key_options(&keys, chosen.as_ref().map(|k| k.id)),
            sections: all
                .iter()
                .map(|k| Section {
                    key_id: k.key.id.get(),
                    label: key_label(&k.key),
                    invoices: k.invoices.iter().map(view).collect(),
                })
                .collect(),
            csv,
        },
    )
}

const HEADER: &[&str] = &[
    "key_id",
    "invoice_id",
    "status",
    "period_start",
    "period_end",
    "currency",
    "product_slug",
    "product_id",
    "quantity",
    "unit_amount",
    "amount",
    "invoice_total",
];

/// The rows of one invoice: one per line; an invoice without lines has
/// one row with no product, so that every invoice appears.
fn records(key: &KeyRecord, inv: &Invoice) -> Vec<[String; 12]> {
    let row = |slug: &str, id: String, q: String, unit: String, amount: String| {
        [
            key.id.to_string(),
            inv.id.clone(),
            inv.status.clone(),
            inv.period_start.clone(),
            inv.period_end.clone(),
            inv.currency.clone(),
            slug.to_string(),
            id,
            q,
            unit,
            amount,
            inv.total.to_string(),
        ]
    };
    if inv.lines.is_empty() {
        let zero = || "0".to_string();
        return vec![row("", String::new(), zero(), zero(), zero())];
    }
    inv.lines
        .iter()
        .map(|l| {
            row(
                &l.product_slug,
                l.product_id.to_string(),
                l.quantity.to_string(),
                l.unit_amount.to_string(),
                l.amount.to_string(),
            )
        })
        .collect()
}

/// `GET /portal/invoices.csv[?key=N|all]`: amounts in integer cents.
pub async fn csv(
    State(state): State<AppState>,
    user: PortalUser,
    RawQuery(query): RawQuery,
) -> Response {
    let (_, _, all) = match load(&state, &user, query.as_deref()).await {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    let mut csv = match Csv::new(HEADER) {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    for k in &all {
        for inv in &k.invoices {
            for r in records(&k.key, inv) {
                if let Err(e) = csv.row(r) {
                    return internal(e);
                }
            }
        }
    }
    csv.into_response("invoices.csv")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_are_written_as_money() {
        assert_eq!(money(0, "usd"), "0.00 USD");
        assert_eq!(money(1999, "usd"), "19.99 USD");
        assert_eq!(money(100_005, "eur"), "1000.05 EUR");
    }
}
