//! The server under test: the real `jpstart` binary started as an operator
//! would, plus its CPU time and memory read from `/proc`.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The key a PostgreSQL server needs (64 hex digits); bench data only.
pub const BENCH_SECRET_KEY: &str =
    "62656e63682d6f6e6c792d6b65792d6e6f742d666f722d70726f64756374696f";

/// A running `jpstart serve --bench-routes`, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
    log: PathBuf,
}

impl Server {
    /// Starts the server on 127.0.0.1 (any free port) and waits for its
    /// one stdout line with the address. Its log goes to `log`.
    pub async fn start(bin: &Path, db_url: &str, log: &Path) -> Result<Server, String> {
        Self::start_with(bin, db_url, log, &[]).await
    }

    /// [`Server::start`] with more `serve` flags (`--sandbox`).
    pub async fn start_with(
        bin: &Path,
        db_url: &str,
        log: &Path,
        extra: &[&str],
    ) -> Result<Server, String> {
        let log_file = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--bench-routes"])
            // The token scenario measures issuing, not the abuse limits
            // (docs/OPERATIONS.md), which would cap it at 10/s per client.
            .args([
                "--token-rate-limit",
                "0",
                "--token-rate-limit-per-address",
                "0",
            ])
            // Nor the write rate per key (20/s by default), which would
            // measure refusals: raised far above any scenario, still checked.
            .args(["--write-rate-limit", "1000000/s:1000000"])
            // Nor the cap on live tokens per key (100): the token scenario
            // mints thousands, and would evict the token the later
            // scenarios use.
            .args(["--tokens-per-key", "0"])
            // Nor the cap on connections per address (128): every
            // connection of the load generator comes from 127.0.0.1, and
            // `--connections` may ask for more.
            .args(["--max-connections-per-address", "0"])
            .args(extra)
            .arg("--database-url")
            .arg(db_url)
            .env("JPSTART_SECRET_KEY", BENCH_SECRET_KEY)
            .env_remove("JPSTART_SECRET_KEY_FILE")
            .env_remove("JPSTART_LISTEN")
            .env_remove("JPSTART_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(120), lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            _ => return Err(format!("the server did not start; its log:\n{}", tail(log))),
        };
        let addr = line
            .strip_prefix("jpstart listening on http://")
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .ok_or_else(|| format!("unexpected first line from the server: {line:?}"))?;
        if !addr.ip().is_loopback() {
            return Err(format!("the server listens on {addr}, not on loopback"));
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server {
            child,
            addr,
            pid,
            log: log.to_path_buf(),
        })
    }

    /// The end of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Reads utime + stime of a process from `/proc/PID/stat`.
pub fn cpu_us(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 1_000_000 / clock_ticks())
}

/// Peak resident memory (VmHWM) in KiB since start or the last reset.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// Resets the peak (VmHWM) to the current RSS (`clear_refs` 5), so that
/// each scenario reports its own peak.
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `sysconf(_SC_CLK_TCK)`, read once through `getconf` (the crate forbids
/// unsafe code, so no libc call); 100 on every Linux we know.
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// `jpstart admin --database-url URL ARGS`: the JSON it printed.
pub async fn admin(bin: &Path, db_url: &str, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(bin)
        .arg("admin")
        .arg("--database-url")
        .arg(db_url)
        .args(args)
        .env("JPSTART_SECRET_KEY", BENCH_SECRET_KEY)
        .env_remove("JPSTART_DATABASE_URL")
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "jpstart admin {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("jpstart admin printed no JSON: {e}"))
}

/// The partner key the benchmark works with.
pub struct Credentials {
    pub partner_id: i64,
    pub key_id: i64,
    pub client_id: String,
    pub client_secret: String,
}

/// `jpstart admin partner create`: a partner and its first key.
pub async fn create_partner(bin: &Path, db_url: &str) -> Result<Credentials, String> {
    let v = admin(
        bin,
        db_url,
        &["partner", "create", "--name", "Bench Hosting"],
    )
    .await?;
    let field = |k: &str| {
        v[k].as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("partner create: no {k} in {v}"))
    };
    Ok(Credentials {
        partner_id: v["partner_id"]
            .as_i64()
            .ok_or_else(|| format!("partner create: no partner_id in {v}"))?,
        key_id: v["key_id"]
            .as_i64()
            .ok_or_else(|| format!("partner create: no key_id in {v}"))?,
        client_id: field("client_id")?,
        client_secret: field("client_secret")?,
    })
}
