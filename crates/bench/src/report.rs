//! The results and their markdown: machine, floors, the scenario matrix
//! with every figure as a ratio to its floor, scaling, the cost comparisons
//! (webhooks, request log), and the goals of issue 17 (`targets`).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::load::Kind;
use crate::seed::{Backend, FloorResult};
use crate::Settings;

pub const BEGIN: &str = "<!-- bench:begin -->";
pub const END: &str = "<!-- bench:end -->";

/// The insert floor's figures: measured before and after the scenarios
/// (the disk's sync rate drifts with whatever else the machine does); the
/// ratios use both windows together.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    pub rate: f64,
    pub rate_before: f64,
    pub rate_after: Option<f64>,
    pub p50_us: u64,
    pub p99_us: u64,
}

impl Floor {
    pub fn new(before: &FloorResult, after: Option<&FloorResult>) -> Floor {
        let mut hist = before.hist.clone();
        let (mut count, mut secs) = (before.count, before.window.as_secs_f64());
        if let Some(a) = after {
            let _ = hist.add(&a.hist);
            count += a.count;
            secs += a.window.as_secs_f64();
        }
        Floor {
            rate: count as f64 / secs.max(f64::MIN_POSITIVE),
            rate_before: before.rate(),
            rate_after: after.map(FloorResult::rate),
            p50_us: hist.value_at_quantile(0.5),
            p99_us: hist.value_at_quantile(0.99),
        }
    }
}

/// One scenario at one connection count.
#[derive(Debug)]
pub struct Row {
    pub kind: Kind,
    pub conns: usize,
    pub rate: f64,
    pub ok: u64,
    /// Requests sent, warm-up included.
    pub sent: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub cpu_us_per_req: Option<f64>,
    pub peak_rss_kib: Option<u64>,
    pub errors: u64,
    pub first_error: Option<String>,
    pub exhausted: bool,
}

impl Row {
    pub fn failed(&self) -> bool {
        self.errors > 0 || self.ok == 0
    }
}

pub struct BackendReport {
    pub backend: Backend,
    pub insert_floor: Floor,
    pub status_sites: u64,
    pub cancel_pool: u64,
    pub rows: Vec<Row>,
}

impl BackendReport {
    pub fn row(&self, kind: Kind, conns: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.kind == kind && r.conns == conns)
    }
}

pub struct ScaleRow {
    pub size: u64,
    pub seed_time: Duration,
    pub db_bytes: u64,
    pub status: Row,
    pub provision: Row,
}

pub struct Report {
    pub machine: Machine,
    pub settings: Settings,
    pub backends: Vec<BackendReport>,
    pub scaling: Vec<ScaleRow>,
    /// Provision with a webhook endpoint vs none (issue 16).
    pub webhooks: Option<crate::webhooks::WebhookRow>,
    /// Status and provision with the request log off, on, and the sandbox
    /// (issue 15).
    pub request_log: Option<crate::request_log::RequestLogCost>,
    pub elapsed: Duration,
    pub load_after: String,
}

impl Report {
    /// Any scenario with errors or without a single completed request, or
    /// a cost comparison that did not measure what it compares.
    pub fn failed(&self) -> bool {
        self.backends
            .iter()
            .flat_map(|b| b.rows.iter())
            .chain(self.scaling.iter().flat_map(|s| [&s.status, &s.provision]))
            .any(Row::failed)
            || self.webhooks.as_ref().is_some_and(|w| w.failed())
            || self.request_log.as_ref().is_some_and(|r| r.failed())
    }

    pub fn markdown(&self) -> String {
        let mut o = String::new();
        let m = &self.machine;
        let s = &self.settings;
        let _ = writeln!(o, "### Run of {} (commit `{}`)\n", m.date, m.commit);
        let _ = writeln!(
            o,
            "- Machine: {} × {}, {} memory, {}; {}.",
            m.cores, m.cpu, m.memory, m.os, m.server_version
        );
        let _ = writeln!(
            o,
            "- Load average before the run: {}; after: {}. (1.0 = one busy core; anything else running on the machine competes with the server and the load generator.)",
            m.load_before, self.load_after
        );
        let _ = writeln!(
            o,
            "- Each scenario: {} ms warm-up, then {} ms measured; closed loop over persistent HTTP/1.1 connections to 127.0.0.1. Whole run: {:.0} s.",
            s.warmup.as_millis(),
            s.duration.as_millis(),
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            o,
            "- Ratios (×) compare with the floor of the same run and backend at the same connection count: hello-world for token, status and mixed; the raw insert for provision and cancel. For req/s higher is better, for latency and CPU lower is better.\n"
        );
        for b in &self.backends {
            self.backend_section(&mut o, b);
        }
        if !self.scaling.is_empty() {
            self.scaling_section(&mut o);
        }
        if let Some(w) = &self.webhooks {
            w.markdown(&mut o);
        }
        if let Some(r) = &self.request_log {
            r.markdown(&mut o);
        }
        self.targets_section(&mut o);
        o
    }

    fn backend_section(&self, o: &mut String, b: &BackendReport) {
        let f = b.insert_floor;
        let _ = writeln!(o, "#### {}\n", b.backend.name());
        let _ = writeln!(
            o,
            "Database: {} seeded sites with a live activation (status), {} more seeded activations to cancel; provision registers a new site per request.\n",
            b.status_sites, b.cancel_pool
        );
        let _ = writeln!(
            o,
            "Insert floor (one row per transaction, one writer, same durability): **{:.0} rows/s** ({:.0} before the scenarios, {} after), p50 {} ms, p99 {} ms.\n",
            f.rate,
            f.rate_before,
            f.rate_after.map_or("–".into(), |r| format!("{r:.0}")),
            ms(f.p50_us),
            ms(f.p99_us)
        );
        let _ = writeln!(
            o,
            "| scenario | conns | req/s | × floor | p50 ms | × floor | p99 ms | × floor | server CPU µs/req | × floor | peak RSS MiB | errors |"
        );
        let _ = writeln!(
            o,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &b.rows {
            let hello = b.row(Kind::Hello, r.conns);
            let (rate_f, p50_f, p99_f, cpu_f) = match r.kind {
                Kind::Hello => (None, None, None, None),
                Kind::Provision | Kind::Cancel => (
                    Some(f.rate),
                    Some(f.p50_us as f64),
                    Some(f.p99_us as f64),
                    None,
                ),
                _ => (
                    hello.map(|h| h.rate),
                    hello.map(|h| h.p50_us as f64),
                    hello.map(|h| h.p99_us as f64),
                    hello.and_then(|h| h.cpu_us_per_req),
                ),
            };
            let _ = writeln!(
                o,
                "| {}{} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.kind.name(),
                if r.exhausted { " (pool ran out)" } else { "" },
                r.conns,
                r.rate,
                ratio(r.rate, rate_f),
                ms(r.p50_us),
                ratio(r.p50_us as f64, p50_f),
                ms(r.p99_us),
                ratio(r.p99_us as f64, p99_f),
                r.cpu_us_per_req.map_or("–".into(), |c| format!("{c:.0}")),
                match (r.cpu_us_per_req, cpu_f) {
                    (Some(c), f) => ratio(c, f),
                    (None, _) => "–".into(),
                },
                mib(r.peak_rss_kib),
                errors(r),
            );
        }
        o.push('\n');
    }

    fn scaling_section(&self, o: &mut String) {
        let conns = self.settings.connections[0];
        let _ = writeln!(
            o,
            "#### Scaling (SQLite, {conns} connections)\n\nA fresh database per size, seeded directly (sites, activations, events) before the server starts. × base compares with the smallest size.\n"
        );
        let _ = writeln!(
            o,
            "| activations | db MiB | seed s | status req/s | status p50 ms | × base | status p99 ms | × base | provision req/s | × base | peak RSS MiB | errors |"
        );
        let _ = writeln!(
            o,
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        let base = &self.scaling[0];
        for s in &self.scaling {
            let peak = s.status.peak_rss_kib.max(s.provision.peak_rss_kib);
            let _ = writeln!(
                o,
                "| {} | {:.0} | {:.1} | {:.0} | {} | {} | {} | {} | {:.0} | {} | {} | {} |",
                s.size,
                s.db_bytes as f64 / 1048576.0,
                s.seed_time.as_secs_f64(),
                s.status.rate,
                ms(s.status.p50_us),
                ratio(s.status.p50_us as f64, Some(base.status.p50_us as f64)),
                ms(s.status.p99_us),
                ratio(s.status.p99_us as f64, Some(base.status.p99_us as f64)),
                s.provision.rate,
                ratio(s.provision.rate, Some(base.provision.rate)),
                mib(peak),
                s.status.errors + s.provision.errors,
            );
        }
        o.push('\n');
    }

    fn targets_section(&self, o: &mut String) {
        let goals = crate::targets::goals(&self.backends, &self.scaling);
        crate::targets::markdown(o, &goals);
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("–".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn ratio(v: f64, floor: Option<f64>) -> String {
    match floor {
        Some(f) if f > 0.0 => format!("{:.2}×", v / f),
        _ => "–".into(),
    }
}

fn errors(r: &Row) -> String {
    match (&r.first_error, r.errors, r.ok) {
        (_, 0, 0) => "no requests".into(),
        (_, 0, _) => "0".into(),
        (Some(e), n, _) => format!("{n}: {}", e.replace('|', "/").replace('\n', " ")),
        (None, n, _) => n.to_string(),
    }
}

/// What the run ran on.
pub struct Machine {
    pub date: String,
    pub commit: String,
    pub cores: usize,
    pub cpu: String,
    pub memory: String,
    pub os: String,
    pub server_version: String,
    pub load_before: String,
}

impl Machine {
    pub fn probe(bin: &Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cores = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or("unknown".into(), |kb| {
                format!("{:.1} GiB", kb / 1024.0 / 1024.0)
            });
        let os_name = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| "Linux".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let commit = command("git", &["rev-parse", "--short", "HEAD"]);
        let dirty = !command("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
        Machine {
            date: command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            commit: if dirty {
                format!("{commit} + uncommitted changes")
            } else {
                commit
            },
            cores,
            cpu,
            memory,
            os: format!("{os_name}, Linux {}", kernel.trim()),
            server_version: command(&bin.display().to_string(), &["--version"]),
            load_before: loadavg(),
        }
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn command(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Replaces the text between the markers of `path` (creating the file, or
/// appending the markers, when missing) with `text`.
pub fn write_into(path: &Path, text: &str) -> std::io::Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let block = format!("{BEGIN}\n{}\n{END}", text.trim_end());
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{block}{}", &old[..b], &old[e + END.len()..]),
        _ if old.is_empty() => format!("# Benchmarks\n\n{block}\n"),
        _ => format!("{}\n\n{block}\n", old.trim_end()),
    };
    std::fs::write(path, new)
}

/// A clean window of `kind` (1000 requests, no errors), for tests.
#[cfg(test)]
pub fn sample_row(kind: Kind, conns: usize, rate: f64, p99_ms: f64) -> Row {
    Row {
        kind,
        conns,
        rate,
        ok: 1000,
        sent: 1000,
        p50_us: 100,
        p99_us: (p99_ms * 1000.0) as u64,
        cpu_us_per_req: None,
        peak_rss_kib: Some(20 * 1024),
        errors: 0,
        first_error: None,
        exhausted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_between_markers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("B.md");
        write_into(&p, "one").expect("write");
        let t = std::fs::read_to_string(&p).expect("read");
        assert!(t.starts_with("# Benchmarks\n\n<!-- bench:begin -->\none\n<!-- bench:end -->"));
        std::fs::write(&p, format!("intro\n{BEGIN}\nold\n{END}\nfindings\n")).expect("write");
        write_into(&p, "two").expect("write");
        let t = std::fs::read_to_string(&p).expect("read");
        assert_eq!(t, format!("intro\n{BEGIN}\ntwo\n{END}\nfindings\n"));
    }
}
