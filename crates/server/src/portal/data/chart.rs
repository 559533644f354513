//! The overview's chart of activations (SPEC §8), as pure geometry: from
//! the summary's periods (`new` and `total` each) to the coordinates of an
//! inline SVG the template draws. No JavaScript, no drawing library.
//!
//! Two panels share the periods' x axis: the live **total** at the end of
//! each period as a line (upper panel) and the **new** activations of each
//! period as bars (lower panel), each on its own scale from 0 to a round
//! maximum, so that a few hundred new a month stay visible beside
//! thousands live. Every period gets a bar (zero high when nothing was
//! created), so there are as many bars as periods.
//!
//! Coordinates are formatted here (one decimal), so the template only
//! prints strings; values are in user units of a `viewBox` of
//! [`WIDTH`] × [`HEIGHT`].

/// The drawing's size in user units (the SVG scales to its container).
pub const WIDTH: f64 = 800.0;
pub const HEIGHT: f64 = 330.0;

const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
/// The total's panel, top to bottom.
const TOTAL_TOP: f64 = 24.0;
const TOTAL_BOTTOM: f64 = 174.0;
/// The new activations' panel.
const NEW_TOP: f64 = 206.0;
const NEW_BOTTOM: f64 = 294.0;
/// The baseline of the period labels.
const LABEL_Y: f64 = 314.0;
/// At most this many period labels under the axis.
const MAX_LABELS: usize = 8;
/// A bar's share of its period's width.
const BAR_SHARE: f64 = 0.7;

/// One period of the summary, as the chart reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub label: String,
    pub new: u64,
    pub total: u64,
}

/// Everything the template draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// One per period, oldest first.
    pub bars: Vec<Bar>,
    /// The total's line: `x,y` pairs separated by spaces (SVG `points`).
    pub line: String,
    /// One per period: the line's vertices (a single period has no line).
    pub dots: Vec<Dot>,
    /// Grid lines with their values, of each panel.
    pub total_ticks: Vec<Tick>,
    pub new_ticks: Vec<Tick>,
    pub labels: Vec<Label>,
    /// The panels' captions' baselines, and the axis' left edge.
    pub total_caption_y: String,
    pub new_caption_y: String,
    pub left: String,
    pub right: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    /// The tooltip (`<title>`): period and both numbers.
    pub tip: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dot {
    pub cx: String,
    pub cy: String,
    pub tip: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub y: String,
    pub value: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub x: String,
    pub y: String,
    pub text: String,
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

/// The smallest of 1, 2, 5 × 10ⁿ at least `v` (and at least 1): a round
/// top for an axis.
pub fn nice_ceiling(v: u64) -> u64 {
    let mut magnitude: u64 = 1;
    loop {
        for m in [1, 2, 5] {
            let candidate = magnitude.saturating_mul(m);
            if candidate >= v {
                return candidate;
            }
        }
        if magnitude > u64::MAX / 10 {
            return u64::MAX;
        }
        magnitude *= 10;
    }
}

/// Every how many periods a label goes under the axis.
fn label_step(n: usize) -> usize {
    n.div_ceil(MAX_LABELS).max(1)
}

/// The height of `value` in a panel `span` high whose top is `max`.
fn scaled(value: u64, max: u64, span: f64) -> f64 {
    // Counts are far below 2^53: exact as f64.
    (value as f64 / max.max(1) as f64) * span
}

/// The chart of `periods` (oldest first).
pub fn chart(periods: &[Period]) -> Chart {
    let n = periods.len();
    let band = (WIDTH - LEFT - RIGHT) / n.max(1) as f64;
    let total_max = nice_ceiling(periods.iter().map(|p| p.total).max().unwrap_or(0));
    let new_max = nice_ceiling(periods.iter().map(|p| p.new).max().unwrap_or(0));
    let centre = |i: usize| LEFT + (i as f64 + 0.5) * band;
    let tip = |p: &Period| format!("{}: {} new, {} live", p.label, p.new, p.total);
    let bars = periods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let h = scaled(p.new, new_max, NEW_BOTTOM - NEW_TOP);
            Bar {
                x: fmt(centre(i) - band * BAR_SHARE / 2.0),
                y: fmt(NEW_BOTTOM - h),
                width: fmt(band * BAR_SHARE),
                height: fmt(h),
                tip: tip(p),
            }
        })
        .collect();
    let dots: Vec<Dot> = periods
        .iter()
        .enumerate()
        .map(|(i, p)| Dot {
            cx: fmt(centre(i)),
            cy: fmt(TOTAL_BOTTOM - scaled(p.total, total_max, TOTAL_BOTTOM - TOTAL_TOP)),
            tip: tip(p),
        })
        .collect();
    let line = dots
        .iter()
        .map(|d| format!("{},{}", d.cx, d.cy))
        .collect::<Vec<_>>()
        .join(" ");
    let step = label_step(n);
    let labels = periods
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0)
        .map(|(i, p)| Label {
            x: fmt(centre(i)),
            y: fmt(LABEL_Y),
            text: p.label.clone(),
        })
        .collect();
    Chart {
        bars,
        line,
        dots,
        total_ticks: ticks(total_max, TOTAL_TOP, TOTAL_BOTTOM),
        new_ticks: ticks(new_max, NEW_TOP, NEW_BOTTOM),
        labels,
        total_caption_y: fmt(TOTAL_TOP - 8.0),
        new_caption_y: fmt(NEW_TOP - 8.0),
        left: fmt(LEFT),
        right: fmt(WIDTH - RIGHT),
    }
}

/// 0, half and the top of a panel (the half only when it is whole).
fn ticks(max: u64, top: f64, bottom: f64) -> Vec<Tick> {
    let mut values = vec![0, max];
    if max.is_multiple_of(2) {
        values.insert(1, max / 2);
    }
    values
        .into_iter()
        .map(|v| Tick {
            y: fmt(bottom - scaled(v, max, bottom - top)),
            value: v,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn periods(values: &[(u64, u64)]) -> Vec<Period> {
        values
            .iter()
            .enumerate()
            .map(|(i, (new, total))| Period {
                label: format!("2026-{:02}", i + 1),
                new: *new,
                total: *total,
            })
            .collect()
    }

    fn num(s: &str) -> f64 {
        s.parse().unwrap()
    }

    #[test]
    fn round_tops() {
        for (v, top) in [
            (0, 1),
            (1, 1),
            (2, 2),
            (3, 5),
            (5, 5),
            (6, 10),
            (10, 10),
            (11, 20),
            (199, 200),
            (201, 500),
            (4_000, 5_000),
            (u64::MAX, u64::MAX),
        ] {
            assert_eq!(nice_ceiling(v), top, "{v}");
        }
    }

    #[test]
    fn no_periods_no_marks() {
        let c = chart(&[]);
        assert!(c.bars.is_empty() && c.dots.is_empty() && c.labels.is_empty());
        assert_eq!(c.line, "");
        // The axes still have their 0 and top.
        assert_eq!(c.new_ticks.first().map(|t| t.value), Some(0));
    }

    #[test]
    fn one_bar_per_period_scaled_to_a_round_top() {
        let c = chart(&periods(&[(4, 4), (0, 3), (10, 12)]));
        assert_eq!(c.bars.len(), 3);
        assert_eq!(c.dots.len(), 3);
        // new: top 10; the panel is 88 high.
        let h: Vec<f64> = c.bars.iter().map(|b| num(&b.height)).collect();
        assert_eq!(h, [35.2, 0.0, 88.0]);
        // Bars stand on the panel's bottom.
        for b in &c.bars {
            assert!(
                (num(&b.y) + num(&b.height) - NEW_BOTTOM).abs() < 0.11,
                "{b:?}"
            );
        }
        // total: top 20; 12 of 20 in a 150 high panel is 90 above its bottom.
        assert_eq!(num(&c.dots[2].cy), TOTAL_BOTTOM - 90.0);
        assert_eq!(c.line.split(' ').count(), 3);
        assert_eq!(c.bars[1].tip, "2026-02: 0 new, 3 live");
        let ticks: Vec<u64> = c.new_ticks.iter().map(|t| t.value).collect();
        assert_eq!(ticks, [0, 5, 10]);
        let ticks: Vec<u64> = chart(&periods(&[(1, 1)]))
            .new_ticks
            .iter()
            .map(|t| t.value)
            .collect();
        assert_eq!(ticks, [0, 1]);
    }

    #[test]
    fn bars_go_left_to_right_without_overlap() {
        let c = chart(&periods(&[(1, 1); 12]));
        for pair in c.bars.windows(2) {
            assert!(num(&pair[0].x) + num(&pair[0].width) < num(&pair[1].x));
        }
    }

    #[test]
    fn at_most_eight_labels_first_period_always() {
        for n in [1, 7, 8, 9, 31, 365] {
            let c = chart(&periods(&vec![(1, 1); n]));
            assert!(c.labels.len() <= MAX_LABELS, "{n}");
            assert_eq!(c.labels[0].text, "2026-01");
        }
    }

    proptest! {
        /// Whatever the numbers, every mark is inside the drawing and
        /// inside its own panel.
        #[test]
        fn marks_stay_inside(values in proptest::collection::vec((0u64..1_000_000, 0u64..1_000_000), 0..400)) {
            let c = chart(&periods(&values));
            prop_assert_eq!(c.bars.len(), values.len());
            for b in &c.bars {
                let (x, y, w, h) = (num(&b.x), num(&b.y), num(&b.width), num(&b.height));
                prop_assert!(x >= LEFT - 0.1 && x + w <= WIDTH - RIGHT + 0.1);
                prop_assert!(y >= NEW_TOP - 0.1 && h >= 0.0 && y + h <= NEW_BOTTOM + 0.1);
            }
            for d in &c.dots {
                let cy = num(&d.cy);
                prop_assert!((TOTAL_TOP - 0.1..=TOTAL_BOTTOM + 0.1).contains(&cy));
            }
        }
    }
}
