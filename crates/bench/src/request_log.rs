//! `jpstart-bench --request-log-cost`: what recording the request log
//! (SPEC §9) costs status and provision. The same scenarios, in one run,
//! against three servers on fresh SQLite databases seeded alike: the log
//! off (the default), on (`--request-log`), and the sandbox (`--sandbox`:
//! the log plus the test clock, which reads its offset once per request).

use std::path::Path;
use std::time::Instant;

use crate::load::Kind;
use crate::report::Row;
use crate::seed::{self, Backend, STATUS_PREFIX};
use crate::server::{self, Server};
use crate::{Args, Settings};

/// The servers compared, by name and extra `serve` flags.
const MODES: [(&str, &[&str]); 3] = [
    ("off", &[]),
    ("--request-log", &["--request-log"]),
    ("--sandbox", &["--sandbox"]),
];

/// One scenario's row under each mode, in [`MODES`] order.
pub struct Cost {
    pub kind: Kind,
    pub conns: usize,
    pub rows: Vec<Row>,
}

/// Runs the comparison and returns its markdown section.
pub async fn run(args: &Args, settings: &Settings, dir: &Path) -> Result<String, String> {
    let started = Instant::now();
    let conns = settings.connections[0];
    let mut costs: Vec<Cost> = [Kind::Status, Kind::Provision]
        .into_iter()
        .map(|kind| Cost {
            kind,
            conns,
            rows: Vec::new(),
        })
        .collect();
    let load_before = crate::report::loadavg();
    for (i, (name, flags)) in MODES.iter().enumerate() {
        let url = format!("sqlite://{}", dir.join(format!("log-{i}.db")).display());
        let creds = server::create_partner(&args.jpstart, &url).await?;
        eprintln!("jpstart-bench: request log {name}: seeding");
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
        let plan = crate::run::plan(&srv, &creds, settings.status_sites, 0).await?;
        for cost in &mut costs {
            eprintln!(
                "jpstart-bench: request log {name}: {} × {conns}",
                cost.kind.name()
            );
            let row = crate::run::measure(&srv, &plan, cost.kind, conns, settings).await;
            cost.rows.push(row);
        }
        srv.stop().await;
    }
    Ok(markdown(&costs, settings, &load_before, started.elapsed()))
}

fn markdown(
    costs: &[Cost],
    settings: &Settings,
    load_before: &str,
    elapsed: std::time::Duration,
) -> String {
    let mut out = String::from("### Request log cost (SQLite)\n\n");
    out.push_str(&format!(
        "- Each scenario: {} ms warm-up, then {} ms measured; {} seeded sites; \
         one server per mode, in turn, on a fresh database. Whole comparison: {} s.\n",
        settings.warmup.as_millis(),
        settings.duration.as_millis(),
        settings.status_sites,
        elapsed.as_secs()
    ));
    out.push_str(&format!(
        "- Load average before: {load_before}; after: {}.\n\n",
        crate::report::loadavg()
    ));
    out.push_str("| scenario | conns | mode | req/s | × off | p50 ms | p99 ms | server CPU µs/req | × off | errors |\n");
    out.push_str("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for cost in costs {
        let Some(off) = cost.rows.first() else {
            continue;
        };
        for (row, (mode, _)) in cost.rows.iter().zip(MODES) {
            let cpu = |r: &Row| r.cpu_us_per_req;
            out.push_str(&format!(
                "| {} | {} | {mode} | {:.0} | {} | {:.2} | {:.2} | {} | {} | {} |\n",
                cost.kind.name(),
                cost.conns,
                row.rate,
                ratio(Some(row.rate), Some(off.rate)),
                row.p50_us as f64 / 1000.0,
                row.p99_us as f64 / 1000.0,
                cpu(row).map_or("–".to_string(), |c| format!("{c:.0}")),
                ratio(cpu(row), cpu(off)),
                row.errors,
            ));
        }
    }
    out
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_string(),
    }
}
