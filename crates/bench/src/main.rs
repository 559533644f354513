//! `jpstart-bench`: load benchmarks of the real jpstart server over loopback,
//! every figure also a ratio to a floor measured in the same run.
//!
//! ```text
//! cargo build --release -p jpstart -p jpstart-bench
//! target/release/jpstart-bench --write docs/BENCHMARKS.md
//! ```
//!
//! See `docs/BENCHMARKS.md` for what is measured and why.

mod load;
mod report;
mod reporting;
mod request_log;
mod run;
mod seed;
mod server;
mod targets;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Benchmarks the jpstart server (release build) on a temporary database.
/// Only 127.0.0.1 is ever contacted.
#[derive(Debug, Parser)]
#[command(
    name = "jpstart-bench",
    after_help = "Example:\n  cargo build --release -p jpstart -p jpstart-bench\n  target/release/jpstart-bench --write docs/BENCHMARKS.md"
)]
pub struct Args {
    /// The server binary to benchmark.
    #[arg(long, default_value = "target/release/jpstart")]
    pub jpstart: PathBuf,
    /// A smoke run of under a minute: short windows, one scale.
    #[arg(long)]
    pub quick: bool,
    /// Measured window of each scenario, in milliseconds (default 6000,
    /// --quick 1000).
    #[arg(long)]
    pub duration_ms: Option<u64>,
    /// Unmeasured warm-up before each window, in milliseconds (default 1000,
    /// --quick 250).
    #[arg(long)]
    pub warmup_ms: Option<u64>,
    /// Concurrent connections of each scenario (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    pub connections: Vec<usize>,
    /// Scenarios of the matrix (comma-separated: token, status, provision,
    /// cancel, mixed); the hello-world floor always runs.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "token,status,provision,cancel,mixed"
    )]
    pub scenarios: Vec<String>,
    /// Activations in the database for the scaling runs (comma-separated;
    /// k and M suffixes; "none" to skip). Default 10k,100k,1M (seeding
    /// 1M takes about half a minute); --quick 10k.
    #[arg(long, value_delimiter = ',')]
    pub scale: Option<Vec<String>>,
    /// Seeded sites with a live activation for the scenario matrix.
    #[arg(long, default_value_t = 10_000)]
    pub status_sites: u64,
    /// Also benchmark PostgreSQL: a fresh database is created in this
    /// cluster (and dropped afterwards).
    #[arg(long, env = "JPSTART_BENCH_POSTGRES_URL")]
    pub postgres_url: Option<String>,
    /// Skip the SQLite matrix (PostgreSQL only, with --postgres-url).
    #[arg(long)]
    pub no_sqlite: bool,
    /// Skip the webhook comparison (provision with an endpoint vs none; it
    /// runs only when provision is in --scenarios).
    #[arg(long)]
    pub no_webhooks: bool,
    /// Skip the request log's cost (status and provision with the log off,
    /// with --request-log and with --sandbox), part of a full run.
    #[arg(long, conflicts_with = "request_log_cost")]
    pub no_request_log_cost: bool,
    /// Write the report into this markdown file, between the
    /// `<!-- bench:begin -->` and `<!-- bench:end -->` markers (text
    /// outside them is kept).
    #[arg(long)]
    pub write: Option<PathBuf>,
    /// Run only the reporting scenario (the activations list of one key) at
    /// these sizes (comma-separated, k and M suffixes, e.g. 10k,1M) and
    /// print its markdown section.
    #[arg(long, value_delimiter = ',', value_name = "SIZES")]
    pub reporting: Option<Vec<String>>,
    /// Run only the request log's cost (status and provision with the log
    /// off, with --request-log and with --sandbox) and print its section
    /// (not written into --write's file).
    #[arg(long)]
    pub request_log_cost: bool,
    /// Directory for the temporary databases (default: the system's
    /// temporary directory). Must be a real disk for meaningful syncs.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Settings after defaults are applied.
#[derive(Debug, Clone)]
pub struct Settings {
    pub duration: Duration,
    pub warmup: Duration,
    pub connections: Vec<usize>,
    pub scales: Vec<u64>,
    pub status_sites: u64,
    pub scenarios: Vec<load::Kind>,
}

impl Args {
    fn settings(&self) -> Result<Settings, String> {
        let duration = self
            .duration_ms
            .unwrap_or(if self.quick { 1000 } else { 6000 });
        let warmup = self
            .warmup_ms
            .unwrap_or(if self.quick { 250 } else { 1000 });
        let default_scale: &[&str] = if self.quick {
            &["10k"]
        } else {
            &["10k", "100k", "1M"]
        };
        let scales = match &self.scale {
            Some(list) => list
                .iter()
                .filter(|s| !s.trim().eq_ignore_ascii_case("none") && !s.trim().is_empty())
                .map(|s| parse_count(s))
                .collect::<Result<Vec<_>, _>>()?,
            None => default_scale
                .iter()
                .map(|s| parse_count(s))
                .collect::<Result<Vec<_>, _>>()?,
        };
        if self.connections.is_empty() || self.connections.contains(&0) {
            return Err("--connections: give one or more counts above 0".into());
        }
        let mut scenarios = vec![load::Kind::Hello];
        for name in &self.scenarios {
            let kind = load::Kind::ALL
                .into_iter()
                .find(|k| k.key() == name.trim())
                .ok_or_else(|| format!("--scenarios: unknown scenario {name:?}"))?;
            if !scenarios.contains(&kind) {
                scenarios.push(kind);
            }
        }
        Ok(Settings {
            scenarios,
            duration: Duration::from_millis(duration.max(1)),
            warmup: Duration::from_millis(warmup),
            connections: self.connections.clone(),
            scales,
            status_sites: self.status_sites.max(1),
        })
    }
}

/// `10k` → 10 000, `1M` → 1 000 000, `2500` → 2500.
fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1_000),
        Some('m' | 'M') => (&t[..t.len() - 1], 1_000_000),
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("--scale: {s:?} is not a count like 10k, 100k or 1M"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("jpstart-bench: {e}");
            return ExitCode::from(2);
        }
    };
    if !args.jpstart.is_file() {
        eprintln!(
            "jpstart-bench: no server binary at {}. Build it first:\n  cargo build --release -p jpstart\n(or pass --jpstart PATH)",
            args.jpstart.display()
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("jpstart-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(sizes) = &args.reporting {
        return runtime.block_on(reporting::only(&args, &settings, sizes));
    }
    if args.request_log_cost {
        return runtime.block_on(request_log_cost(&args, &settings));
    }
    match runtime.block_on(run::all(&args, &settings)) {
        Ok(report) => {
            let text = report.markdown();
            println!("{text}");
            if let Some(path) = &args.write {
                if let Err(e) = report::write_into(path, &text) {
                    eprintln!("jpstart-bench: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                eprintln!("jpstart-bench: wrote {}", path.display());
            }
            if report.failed() {
                eprintln!("jpstart-bench: some scenarios had errors (see the table)");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("jpstart-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--request-log-cost`: the comparison alone, printed (not written).
async fn request_log_cost(args: &Args, settings: &Settings) -> ExitCode {
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = match tempfile::Builder::new()
        .prefix("jpstart-bench-")
        .tempdir_in(&base)
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("jpstart-bench: cannot make a temporary directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    match request_log::run(args, settings, dir.path()).await {
        Ok(cost) => {
            let mut text = String::new();
            cost.markdown(&mut text);
            println!("{text}");
            if cost.failed() {
                eprintln!("jpstart-bench: the comparison had errors (see the table)");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("jpstart-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("1M"), Ok(1_000_000));
        assert_eq!(parse_count(" 2500 "), Ok(2500));
        assert!(parse_count("0").is_err());
        assert!(parse_count("ten").is_err());
    }
}
