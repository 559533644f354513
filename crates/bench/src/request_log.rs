//! What recording the request log (SPEC §9, issue 15) costs status and
//! provision: the same scenarios, in one run, against three servers on
//! fresh SQLite databases seeded alike: the log off (the default), on
//! (`--request-log`), and the sandbox (`--sandbox`: the log plus the test
//! clock, which reads its offset once per request). Part of a full run
//! (`--no-request-log-cost` skips it), or alone with `--request-log-cost`.
//!
//! A cheaper log could be bought by dropping entries, so each mode also
//! reports what the log recorded against what was sent, and the server's
//! count of entries dropped because the queue was full.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hyper::Method;

use crate::load::{self, Kind};
use crate::report::Row;
use crate::run::{measure, plan, progress};
use crate::seed::{self, Backend, STATUS_PREFIX};
use crate::server::{self, Server};
use crate::{Args, Settings};

/// The servers compared, by name and extra `serve` flags; off first, the
/// base of the ratios.
const MODES: [(&str, &[&str]); 3] = [
    ("off", &[]),
    ("--request-log", &["--request-log"]),
    ("--sandbox", &["--sandbox"]),
];

/// One scenario's row under each mode, in [`MODES`] order.
pub struct Cost {
    pub kind: Kind,
    pub rows: Vec<Row>,
}

/// What one mode's log recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCheck {
    /// Requests under `/rest` the windows sent, warm-up included.
    pub sent: u64,
    /// The log's `total` of requests under `/rest` once its writer caught
    /// up; `None` with the log off.
    pub entries: Option<u64>,
    /// `jpstart_request_log_dropped_total` at the end.
    pub dropped: Option<u64>,
}

/// The whole comparison.
pub struct RequestLogCost {
    pub conns: usize,
    pub status_sites: u64,
    pub costs: Vec<Cost>,
    pub checks: Vec<LogCheck>,
    pub elapsed: Duration,
    pub load_before: String,
    pub load_after: String,
}

/// The scenarios compared: status and provision, those of `--scenarios`.
pub fn kinds(settings: &Settings) -> Vec<Kind> {
    [Kind::Status, Kind::Provision]
        .into_iter()
        .filter(|k| settings.scenarios.contains(k))
        .collect()
}

/// Runs the comparison on `kinds(settings)`, one server per mode in turn.
pub async fn run(args: &Args, settings: &Settings, dir: &Path) -> Result<RequestLogCost, String> {
    let started = Instant::now();
    let conns = settings.connections[0];
    let mut costs: Vec<Cost> = kinds(settings)
        .into_iter()
        .map(|kind| Cost {
            kind,
            rows: Vec::new(),
        })
        .collect();
    if costs.is_empty() {
        return Err("the request log cost needs status or provision in --scenarios".into());
    }
    let load_before = crate::report::loadavg();
    let mut checks = Vec::new();
    for (i, (name, flags)) in MODES.iter().enumerate() {
        let url = format!("sqlite://{}", dir.join(format!("log-{i}.db")).display());
        let creds = server::create_partner(&args.jpstart, &url).await?;
        progress(&format!("request log {name}: seeding"));
        seed::seed(
            Backend::Sqlite,
            &url,
            creds.key_id,
            STATUS_PREFIX,
            settings.status_sites,
        )
        .await
        .map_err(|e| format!("seeding: {e}"))?;
        let log = dir.join(format!("server-log-{i}.log"));
        let srv = Server::start_with(&args.jpstart, &url, &log, flags).await?;
        let result = async {
            let plan = plan(&srv, &creds, settings.status_sites, 0).await?;
            let mut sent = 0;
            for cost in &mut costs {
                progress(&format!(
                    "request log {name}: {} × {conns}",
                    cost.kind.name()
                ));
                let row = measure(&srv, &plan, cost.kind, conns, settings).await;
                sent += row.sent;
                cost.rows.push(row);
            }
            check(srv.addr, &plan.bearer, creds.partner_id, sent, i > 0).await
        }
        .await;
        match result {
            Ok(c) => checks.push(c),
            Err(e) => return Err(format!("{e}\nserver log:\n{}", srv.log_tail())),
        }
        srv.stop().await;
    }
    Ok(RequestLogCost {
        conns,
        status_sites: settings.status_sites,
        costs,
        checks,
        elapsed: started.elapsed(),
        load_before,
        load_after: crate::report::loadavg(),
    })
}

/// Reads what the log recorded (waiting for its background writer, which
/// batches) and what it dropped.
async fn check(
    addr: SocketAddr,
    bearer: &str,
    partner: i64,
    sent: u64,
    logging: bool,
) -> Result<LogCheck, String> {
    // Only the windows' requests: not the token request, nor these reads.
    let path = format!("/wpcom/v2/jetpack-partners/{partner}/requests?per_page=1&path=/rest");
    let mut entries = None;
    for _ in 0..20 {
        let (status, body) = crate::webhooks::call(addr, Method::GET, &path, bearer, None).await?;
        let total = match (status, logging) {
            (200, true) => serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["total"].as_u64())
                .ok_or_else(|| format!("request log answer without a total: {body}"))?,
            (404, false) if body.contains("request_log_off") => break,
            _ => return Err(format!("GET {path} answered {status}: {body}")),
        };
        let settled = entries == Some(total);
        entries = Some(total);
        if total >= sent || settled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (status, body) = load::once(addr, Method::GET, "/metrics", None).await?;
    if status != 200 {
        return Err(format!("GET /metrics answered {status}"));
    }
    Ok(LogCheck {
        sent,
        entries,
        dropped: metric(&body, "jpstart_request_log_dropped"),
    })
}

/// The value of an unlabelled counter in Prometheus text (`NAME_total` or
/// `NAME`).
fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let series = series.trim();
            if series == name || series.strip_suffix("_total") == Some(name) {
                value.trim().parse::<f64>().ok()
            } else {
                None
            }
        })
        .map(|v| v as u64)
}

impl RequestLogCost {
    /// Any window with errors or none completed, or a log that recorded
    /// nothing (the comparison would not measure the log).
    pub fn failed(&self) -> bool {
        self.costs.iter().flat_map(|c| &c.rows).any(Row::failed)
            || self
                .checks
                .iter()
                .skip(1)
                .any(|c| c.entries.unwrap_or(0) == 0)
    }

    /// The report's section.
    pub fn markdown(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "#### Request log cost (SQLite, {} connections)\n\nStatus and provision against three servers in turn, each on a fresh SQLite database seeded alike ({} sites with a live activation): the request log off (the default), on (`--request-log`), and the sandbox (`--sandbox`: the log plus the test clock, whose offset is read once per request). × off compares with the server without the log. Whole comparison: {:.0} s; load average before: {}, after: {}.\n",
            self.conns,
            self.status_sites,
            self.elapsed.as_secs_f64(),
            self.load_before,
            self.load_after
        );
        let _ = writeln!(
            o,
            "| scenario | mode | req/s | × off | p50 ms | p99 ms | × off | server CPU µs/req | × off | errors |"
        );
        let _ = writeln!(o, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for cost in &self.costs {
            let Some(off) = cost.rows.first() else {
                continue;
            };
            for (row, (mode, _)) in cost.rows.iter().zip(MODES) {
                let _ = writeln!(
                    o,
                    "| {} | {mode} | {:.0} | {} | {:.2} | {:.2} | {} | {} | {} | {} |",
                    cost.kind.name(),
                    row.rate,
                    ratio(Some(row.rate), Some(off.rate)),
                    row.p50_us as f64 / 1000.0,
                    row.p99_us as f64 / 1000.0,
                    ratio(Some(row.p99_us as f64), Some(off.p99_us as f64)),
                    row.cpu_us_per_req
                        .map_or("–".to_string(), |c| format!("{c:.0}")),
                    ratio(row.cpu_us_per_req, off.cpu_us_per_req),
                    row.errors,
                );
            }
        }
        let _ = writeln!(
            o,
            "\n| mode | requests sent (warm-up included) | log entries under /rest | entries dropped (queue full) |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|");
        for (c, (mode, _)) in self.checks.iter().zip(MODES) {
            let _ = writeln!(
                o,
                "| {mode} | {} | {} | {} |",
                c.sent,
                c.entries
                    .map_or("– (log off)".to_string(), |n| n.to_string()),
                c.dropped.map_or("–".to_string(), |n| n.to_string())
            );
        }
        o.push('\n');
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_row;

    fn cost(entries: [Option<u64>; 3], errors: u64) -> RequestLogCost {
        let rows = |kind, rate: f64| {
            (0..3)
                .map(|i| Row {
                    errors: if i == 2 { errors } else { 0 },
                    ..sample_row(kind, 16, rate * (1.0 - 0.1 * i as f64), 5.0)
                })
                .collect()
        };
        RequestLogCost {
            conns: 16,
            status_sites: 100,
            costs: vec![
                Cost {
                    kind: Kind::Status,
                    rows: rows(Kind::Status, 5000.0),
                },
                Cost {
                    kind: Kind::Provision,
                    rows: rows(Kind::Provision, 500.0),
                },
            ],
            checks: entries
                .iter()
                .map(|&entries| LogCheck {
                    sent: 2000,
                    entries,
                    dropped: Some(0),
                })
                .collect(),
            elapsed: Duration::from_secs(9),
            load_before: "0.1".into(),
            load_after: "0.2".into(),
        }
    }

    #[test]
    fn side_by_side_rows_and_checks() {
        let c = cost([None, Some(2000), Some(2000)], 0);
        assert!(!c.failed());
        let mut o = String::new();
        c.markdown(&mut o);
        assert!(o.contains("| status v1.4 | off | 5000 | 1.00× |"), "{o}");
        assert!(
            o.contains("| status v1.4 | --sandbox | 4000 | 0.80× |"),
            "{o}"
        );
        assert!(
            o.contains("| provision | --request-log | 450 | 0.90× |"),
            "{o}"
        );
        assert!(o.contains("| off | 2000 | – (log off) | 0 |"), "{o}");
        assert!(o.contains("| --sandbox | 2000 | 2000 | 0 |"), "{o}");
    }

    #[test]
    fn errors_or_an_empty_log_fail() {
        assert!(cost([None, Some(2000), Some(2000)], 1).failed());
        assert!(cost([None, Some(0), Some(2000)], 0).failed());
        assert!(cost([None, Some(2000), None], 0).failed());
    }

    #[test]
    fn reads_a_counter() {
        let text = "# HELP jpstart_request_log_dropped Entries dropped.\n\
                    # TYPE jpstart_request_log_dropped counter\n\
                    jpstart_request_log_dropped_total 7\n\
                    jpstart_request_log_dropped_other_total 9\n";
        assert_eq!(metric(text, "jpstart_request_log_dropped"), Some(7));
        assert_eq!(metric("x_total 1\n", "jpstart_request_log_dropped"), None);
    }
}
