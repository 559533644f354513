//! `/portal/`: the overview, a chart of the partner's activations (new and
//! live per day, month or year, from the summary function the reporting
//! endpoint answers with, [`crate::domain::summary`]), for every key of
//! the partner together or one key.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use jpstart_types::PartnerId;

use super::chart::{self, Chart, Period};
use super::{chosen_key, key_options, last, pairs, query_string, refused, KeyOption};
use crate::app::state::AppState;
use crate::domain::calendar::Scale;
use crate::domain::{summary, ApiError};
use crate::portal::{render, Nav, PortalUser};
use crate::reporting::scale_param;
use crate::store::KeyRecord;

#[derive(askama::Template)]
#[template(path = "data/overview.html")]
struct OverviewPage {
    title: String,
    nav: Nav,
    partner_id: PartnerId,
    /// The selector, shown when the partner has several keys.
    keys: Vec<KeyOption>,
    scale: &'static str,
    scales: Vec<ScaleLink>,
    periods: Vec<Period>,
    chart: Chart,
    svg_title: String,
    svg_desc: String,
    width: String,
    height: String,
}

struct ScaleLink {
    label: &'static str,
    href: String,
    current: bool,
}

const SCALES: [(Scale, &str); 3] = [
    (Scale::Day, "day"),
    (Scale::Month, "month"),
    (Scale::Year, "year"),
];

fn scale_name(scale: Scale) -> &'static str {
    SCALES
        .iter()
        .find(|(s, _)| *s == scale)
        .map_or("month", |(_, n)| n)
}

/// `GET /portal/[?key=N|all][&scale=day|month|year]`.
pub async fn show(
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
) -> Result<OverviewPage, ApiError> {
    let pairs = pairs(query);
    let scale = scale_param(last(&pairs, "scale"))?;
    let chosen = chosen_key(state, user, last(&pairs, "key")).await?;
    let keys = state.store.keys(Some(user.partner_id)).await?;
    let shown: Vec<&KeyRecord> = match &chosen {
        Some(k) => vec![k],
        None => keys.iter().collect(),
    };
    // The summary is a function of a history: the partner's is its keys'.
    let mut history = Vec::new();
    for k in shown {
        history.extend(state.store.key_history(k.id).await?);
    }
    let periods: Vec<Period> = summary::summary(&history, scale, state.clock.now())
        .into_iter()
        .map(|p| Period {
            label: p.label,
            new: p.new,
            total: p.total,
        })
        .collect();
    let key_param = chosen
        .as_ref()
        .map_or("all".to_string(), |k| k.id.to_string());
    let name = scale_name(scale);
    let scales = SCALES
        .iter()
        .map(|(s, n)| ScaleLink {
            label: n,
            href: format!(
                "/portal/{}",
                query_string([("key", key_param.as_str()), ("scale", *n)])
            ),
            current: *s == scale,
        })
        .collect();
    let (svg_title, svg_desc) = describe(&periods, name, chosen.as_ref());
    Ok(OverviewPage {
        title: "Overview".into(),
        nav: user.nav("overview"),
        partner_id: user.partner_id,
        keys: if keys.len() > 1 {
            key_options(&keys, chosen.as_ref().map(|k| k.id))
        } else {
            Vec::new()
        },
        scale: name,
        scales,
        chart: chart::chart(&periods),
        periods,
        svg_title,
        svg_desc,
        width: format!("{}", chart::WIDTH),
        height: format!("{}", chart::HEIGHT),
    })
}

/// The chart's accessible title and description.
fn describe(periods: &[Period], scale: &str, key: Option<&KeyRecord>) -> (String, String) {
    let whose = key.map_or("every key".to_string(), |k| format!("key #{}", k.id));
    let span = match (periods.first(), periods.last()) {
        (Some(a), Some(b)) if a.label != b.label => format!(", {} to {}", a.label, b.label),
        (Some(a), _) => format!(", {}", a.label),
        _ => String::new(),
    };
    let most_new = periods.iter().map(|p| p.new).max().unwrap_or(0);
    let most_live = periods.iter().map(|p| p.total).max().unwrap_or(0);
    (
        format!("Activations per {scale} of {whose}{span}"),
        format!(
            "Bars: new activations in each {scale} (at most {most_new}). \
             Line: activations live at the end of each {scale} (at most {most_live}). \
             The table below the chart lists every {scale}."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_names_the_span_and_the_peaks() {
        let p = |label: &str, new, total| Period {
            label: label.into(),
            new,
            total,
        };
        let (t, d) = describe(&[p("2026-01", 3, 3), p("2026-02", 5, 7)], "month", None);
        assert_eq!(t, "Activations per month of every key, 2026-01 to 2026-02");
        assert!(d.contains("at most 5") && d.contains("at most 7"), "{d}");
        let (t, _) = describe(&[p("2026", 1, 1)], "year", None);
        assert_eq!(t, "Activations per year of every key, 2026");
        assert_eq!(scale_name(Scale::Day), "day");
    }
}
