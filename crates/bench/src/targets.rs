//! The goals of issue 17, each computed from the run's own measurements as
//! a ratio to the floor of the same run and backend, plus the scaling and
//! memory targets of issue 7 that still say something. A goal whose
//! scenario, connection count or backend was not in the run is "not run",
//! never met.

use std::fmt::Write as _;

use crate::load::Kind;
use crate::report::{BackendReport, ScaleRow};
use crate::seed::Backend;

/// What the run says of one goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    NotRun,
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "**missed**",
            Verdict::NotRun => "not run",
        }
    }
}

/// One row of the targets table.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    pub what: String,
    pub measured: String,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy)]
enum Measure {
    Rate,
    P99,
}

#[derive(Debug, Clone, Copy)]
enum Against {
    Hello,
    InsertFloor,
}

#[derive(Debug, Clone, Copy)]
enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

impl Bound {
    fn holds(self, v: f64) -> bool {
        match self {
            Bound::AtLeast(b) => v >= b,
            Bound::AtMost(b) => v <= b,
        }
    }
}

/// A goal of issue 17: `kind`'s `measure` on `backend`, divided by the same
/// measure of `against`, within `bound` at every count of `conns`.
struct Spec {
    backend: Backend,
    kind: Kind,
    measure: Measure,
    against: Against,
    conns: &'static [usize],
    bound: Bound,
}

/// The table of issue 17, in its order.
#[rustfmt::skip]
const GOALS: [Spec; 8] = [
    spec(Backend::Sqlite, Kind::Status, Measure::Rate, Against::Hello, &[16, 64], Bound::AtLeast(0.5)),
    spec(Backend::Sqlite, Kind::Status, Measure::P99, Against::Hello, &[64], Bound::AtMost(2.0)),
    spec(Backend::Sqlite, Kind::Provision, Measure::Rate, Against::InsertFloor, &[16, 64], Bound::AtLeast(1.0)),
    spec(Backend::Sqlite, Kind::Mixed, Measure::Rate, Against::Hello, &[64], Bound::AtLeast(0.25)),
    spec(Backend::Sqlite, Kind::Mixed, Measure::P99, Against::Hello, &[64], Bound::AtMost(8.0)),
    spec(Backend::Postgres, Kind::Status, Measure::Rate, Against::Hello, &[16], Bound::AtLeast(0.3)),
    spec(Backend::Postgres, Kind::Provision, Measure::Rate, Against::InsertFloor, &[16], Bound::AtLeast(1.0)),
    spec(Backend::Postgres, Kind::Mixed, Measure::P99, Against::Hello, &[64], Bound::AtMost(12.0)),
];

const fn spec(
    backend: Backend,
    kind: Kind,
    measure: Measure,
    against: Against,
    conns: &'static [usize],
    bound: Bound,
) -> Spec {
    Spec {
        backend,
        kind,
        measure,
        against,
        conns,
        bound,
    }
}

impl Spec {
    fn what(&self) -> String {
        let m = match self.measure {
            Measure::Rate => "req/s",
            Measure::P99 => "p99",
        };
        let floor = match self.against {
            Against::Hello => format!("hello-world {m}"),
            Against::InsertFloor => "insert floor".to_string(),
        };
        let bound = match self.bound {
            Bound::AtLeast(b) => format!("≥ {b:.2}"),
            Bound::AtMost(b) => format!("≤ {b:.1}"),
        };
        let conns: Vec<String> = self.conns.iter().map(usize::to_string).collect();
        format!(
            "{}: {} {m} {bound} × {floor} ({} conns)",
            self.backend.name(),
            self.kind.name(),
            conns.join(" and ")
        )
    }

    /// The measure and its floor at `conns`, and whether every window
    /// behind them was clean; `None` when either was not run.
    fn point(&self, b: &BackendReport, conns: usize) -> Option<(f64, f64, bool)> {
        let row = b.row(self.kind, conns)?;
        let value = match self.measure {
            Measure::Rate => row.rate,
            Measure::P99 => row.p99_us as f64,
        };
        let (floor, floor_clean) = match (self.measure, self.against) {
            (Measure::Rate, Against::Hello) => {
                let h = b.row(Kind::Hello, conns)?;
                (h.rate, !h.failed())
            }
            (Measure::P99, Against::Hello) => {
                let h = b.row(Kind::Hello, conns)?;
                (h.p99_us as f64, !h.failed())
            }
            (Measure::Rate, Against::InsertFloor) => (b.insert_floor.rate, true),
            (Measure::P99, Against::InsertFloor) => (b.insert_floor.p99_us as f64, true),
        };
        Some((value, floor, floor_clean && !row.failed()))
    }

    fn goal(&self, backends: &[BackendReport]) -> Goal {
        let what = self.what();
        let Some(b) = backends.iter().find(|b| b.backend == self.backend) else {
            return Goal {
                what,
                measured: format!("not run ({} not in this run)", self.backend.name()),
                verdict: Verdict::NotRun,
            };
        };
        let mut parts = Vec::new();
        let (mut missed, mut absent) = (false, false);
        for &c in self.conns {
            let Some((value, floor, clean)) = self.point(b, c) else {
                absent = true;
                parts.push(format!("not run at {c} conns"));
                continue;
            };
            let r = if floor > 0.0 { value / floor } else { f64::NAN };
            // A window with errors measured refusals or breakage, not work.
            let valid = clean && r.is_finite();
            missed |= !valid || !self.bound.holds(r);
            parts.push(format!(
                "{r:.2} at {c} conns ({}){}",
                self.absolute(value, floor),
                if valid { "" } else { ", with errors" }
            ));
        }
        let verdict = match (missed, absent) {
            (true, _) => Verdict::Missed,
            (false, true) => Verdict::NotRun,
            (false, false) => Verdict::Met,
        };
        Goal {
            what,
            measured: parts.join(", "),
            verdict,
        }
    }

    fn absolute(&self, value: f64, floor: f64) -> String {
        match (self.measure, self.against) {
            (Measure::Rate, Against::InsertFloor) => {
                format!("{value:.0} req/s ÷ {floor:.0} rows/s")
            }
            (Measure::Rate, Against::Hello) => format!("{value:.0} ÷ {floor:.0} req/s"),
            (Measure::P99, _) => format!("{:.2} ÷ {:.2} ms", value / 1000.0, floor / 1000.0),
        }
    }
}

/// Every goal of the run, in the order of the table.
pub fn goals(backends: &[BackendReport], scaling: &[ScaleRow]) -> Vec<Goal> {
    let mut out: Vec<Goal> = GOALS.iter().map(|s| s.goal(backends)).collect();
    out.push(scaling_goal(scaling));
    out.push(memory_goal(scaling));
    out
}

/// Issue 7: status at 1M activations within 1.2× of at 10k.
fn scaling_goal(scaling: &[ScaleRow]) -> Goal {
    let what = "SQLite: status at 1M activations within 1.2× of at 10k (p50 latency, req/s)".into();
    let small = scaling.iter().find(|s| s.size == 10_000);
    let big = scaling.iter().find(|s| s.size == 1_000_000);
    let (Some(a), Some(b)) = (small, big) else {
        return Goal {
            what,
            measured: "not run (needs 10k and 1M in --scale)".into(),
            verdict: Verdict::NotRun,
        };
    };
    let p50 = b.status.p50_us as f64 / a.status.p50_us.max(1) as f64;
    let rate = b.status.rate / a.status.rate.max(f64::MIN_POSITIVE);
    let ok = p50 <= 1.2 && rate >= 1.0 / 1.2 && b.status.errors == 0 && b.status.ok > 0;
    Goal {
        what,
        measured: format!("p50 {p50:.2}× and req/s {rate:.2}× those at 10k"),
        verdict: if ok { Verdict::Met } else { Verdict::Missed },
    }
}

/// Issue 7: the server's peak RSS under 64 MiB with 1M activations.
fn memory_goal(scaling: &[ScaleRow]) -> Goal {
    let what = "SQLite: peak RSS < 64 MiB with 1M activations".into();
    let Some(b) = scaling.iter().find(|s| s.size == 1_000_000) else {
        return Goal {
            what,
            measured: "not run (needs 1M in --scale)".into(),
            verdict: Verdict::NotRun,
        };
    };
    match b.status.peak_rss_kib.max(b.provision.peak_rss_kib) {
        Some(k) => Goal {
            what,
            measured: format!("{:.1} MiB", k as f64 / 1024.0),
            verdict: if k < 64 * 1024 {
                Verdict::Met
            } else {
                Verdict::Missed
            },
        },
        None => Goal {
            what,
            measured: "not measured (no /proc/PID/status)".into(),
            verdict: Verdict::NotRun,
        },
    }
}

/// The section: the goals table and a count of each verdict.
pub fn markdown(o: &mut String, goals: &[Goal]) {
    let _ = writeln!(o, "#### Goals (issue 17)\n");
    let _ = writeln!(
        o,
        "Each ratio divides this run's measurement by the floor of the same run and backend at the same connection count (hello-world, or the insert floor for provision); the scaling and memory rows are issue 7's.\n"
    );
    let _ = writeln!(o, "| goal | measured | |");
    let _ = writeln!(o, "|---|---|---|");
    for g in goals {
        let _ = writeln!(o, "| {} | {} | {} |", g.what, g.measured, g.verdict.text());
    }
    let count = |v: Verdict| goals.iter().filter(|g| g.verdict == v).count();
    let _ = writeln!(
        o,
        "\n{} met, {} missed, {} not run.\n",
        count(Verdict::Met),
        count(Verdict::Missed),
        count(Verdict::NotRun)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{sample_row as row, Floor, Row};

    fn backend(backend: Backend, rows: Vec<Row>) -> BackendReport {
        BackendReport {
            backend,
            insert_floor: Floor {
                rate: 1000.0,
                rate_before: 1000.0,
                rate_after: Some(1000.0),
                p50_us: 150,
                p99_us: 300,
            },
            status_sites: 10,
            cancel_pool: 10,
            rows,
        }
    }

    /// SQLite at 16 and 64 connections: hello 10000 req/s, p99 1 ms.
    fn sqlite(status_rate: f64, status_p99: f64, provision: f64, mixed_p99: f64) -> BackendReport {
        let mut rows = Vec::new();
        for c in [16, 64] {
            rows.push(row(Kind::Hello, c, 10_000.0, 1.0));
            rows.push(row(Kind::Status, c, status_rate, status_p99));
            rows.push(row(Kind::Provision, c, provision, 20.0));
            rows.push(row(Kind::Mixed, c, 3000.0, mixed_p99));
        }
        backend(Backend::Sqlite, rows)
    }

    fn verdicts(goals: &[Goal]) -> Vec<Verdict> {
        goals.iter().map(|g| g.verdict).collect()
    }

    #[test]
    fn met_missed_and_not_run() {
        use Verdict::{Met, Missed, NotRun};
        // Status 0.60 and p99 1.5×, provision 1.2× the insert floor, mixed
        // 0.30 and p99 9× (the one missed); no PostgreSQL, no scaling.
        let goals = goals(&[sqlite(6000.0, 1.5, 1200.0, 9.0)], &[]);
        assert_eq!(
            verdicts(&goals),
            [Met, Met, Met, Met, Missed, NotRun, NotRun, NotRun, NotRun, NotRun]
        );
        assert_eq!(
            goals[0].measured,
            "0.60 at 16 conns (6000 ÷ 10000 req/s), 0.60 at 64 conns (6000 ÷ 10000 req/s)"
        );
        assert_eq!(goals[4].measured, "9.00 at 64 conns (9.00 ÷ 1.00 ms)");
        assert!(goals[5].measured.contains("PostgreSQL not in this run"));
        assert!(goals[8].what.contains("1M"));
        let mut text = String::new();
        markdown(&mut text, &goals);
        assert!(text.contains("#### Goals (issue 17)"));
        assert!(text.contains("4 met, 1 missed, 5 not run."));
        assert!(!text.contains("issue 7)"));
    }

    #[test]
    fn a_missing_scenario_or_count_is_not_run_never_met() {
        // --scenarios status --connections 16: only status at 16 measured.
        let b = backend(
            Backend::Sqlite,
            vec![
                row(Kind::Hello, 16, 10_000.0, 1.0),
                row(Kind::Status, 16, 6000.0, 1.5),
            ],
        );
        let goals = goals(&[b], &[]);
        assert_eq!(goals[0].verdict, Verdict::NotRun);
        assert!(goals[0].measured.ends_with("not run at 64 conns"));
        assert_eq!(goals[1].verdict, Verdict::NotRun);
        assert_eq!(
            goals[2].measured,
            "not run at 16 conns, not run at 64 conns"
        );
        // A miss at the count that ran is a miss, whatever did not run.
        let b = backend(
            Backend::Sqlite,
            vec![
                row(Kind::Hello, 16, 10_000.0, 1.0),
                row(Kind::Status, 16, 1000.0, 1.5),
            ],
        );
        assert_eq!(goals_of(b)[0].verdict, Verdict::Missed);
    }

    fn goals_of(b: BackendReport) -> Vec<Goal> {
        goals(&[b], &[])
    }

    #[test]
    fn a_window_with_errors_is_missed() {
        let mut b = sqlite(6000.0, 1.5, 1200.0, 2.0);
        for r in &mut b.rows {
            if r.kind == Kind::Provision {
                r.errors = 3;
            }
        }
        let goals = goals_of(b);
        assert_eq!(goals[2].verdict, Verdict::Missed);
        assert!(goals[2].measured.contains("with errors"));
        assert_eq!(goals[0].verdict, Verdict::Met);
        // So is one whose floor's window had errors.
        let mut b = sqlite(6000.0, 1.5, 1200.0, 2.0);
        b.rows[0].errors = 1;
        let goals = goals_of(b);
        assert_eq!(goals[0].verdict, Verdict::Missed);
        assert!(goals[0]
            .measured
            .starts_with("0.60 at 16 conns (6000 ÷ 10000 req/s), with errors"));
        assert_eq!(goals[1].verdict, Verdict::Met);
    }

    #[test]
    fn postgres_and_scaling_rows() {
        let mut pg = sqlite(3500.0, 5.0, 900.0, 11.0);
        pg.backend = Backend::Postgres;
        let scale = |size, p50_us, rate, rss_mib: u64| ScaleRow {
            size,
            seed_time: std::time::Duration::ZERO,
            db_bytes: 0,
            status: Row {
                p50_us,
                peak_rss_kib: Some(rss_mib * 1024),
                ..row(Kind::Status, 16, rate, 2.0)
            },
            provision: row(Kind::Provision, 16, 1000.0, 20.0),
        };
        let scaling = [
            scale(10_000, 1000, 10_000.0, 20),
            scale(1_000_000, 1100, 9000.0, 70),
        ];
        let goals = goals(&[sqlite(6000.0, 1.5, 1200.0, 2.0), pg], &scaling);
        use Verdict::{Met, Missed};
        // PostgreSQL: status 0.35 (met), provision 0.90 (missed), mixed p99
        // 11× (met); 1M: p50 1.10× and rate 0.90× (met), RSS 70 MiB (missed).
        assert_eq!(verdicts(&goals[5..]), [Met, Missed, Met, Met, Missed]);
        assert_eq!(goals[9].measured, "70.0 MiB");
    }
}
