//! The benchmark tool works end to end: a very short run of every scenario
//! against the real server binary completes requests without errors and
//! produces the table. No timing is asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

/// The `jpstart` binary of this workspace, built by `cargo test --workspace`
/// (for its own integration tests) or by `cargo build -p jpstart`.
fn server_binary() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_jpstart-bench"));
    let profile_dir = bench.parent().expect("target/<profile>");
    let bin = profile_dir.join("jpstart");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p jpstart` (or `cargo test --workspace`) first",
        bin.display()
    );
    bin
}

#[test]
fn smoke_run_produces_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("BENCH.md");
    let out = Command::new(env!("CARGO_BIN_EXE_jpstart-bench"))
        .arg("--jpstart")
        .arg(server_binary())
        .args(["--duration-ms", "300", "--warmup-ms", "50"])
        .args(["--connections", "2,4", "--scale", "500"])
        .args(["--status-sites", "200"])
        .arg("--dir")
        .arg(dir.path())
        .arg("--write")
        .arg(&out_file)
        .env_remove("JPSTART_BENCH_POSTGRES_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let written = std::fs::read_to_string(&out_file).unwrap();
    assert!(written.contains("<!-- bench:begin -->"), "{written}");
    for kind in [
        "hello (floor)",
        "token issue",
        "status v1.4",
        "provision",
        "cancel",
        "mixed 80/15/5",
    ] {
        for conns in [2, 4] {
            let row = stdout
                .lines()
                .find(|l| l.starts_with(&format!("| {kind} | {conns} |")))
                .unwrap_or_else(|| panic!("no row for {kind} × {conns}:\n{stdout}"));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let rate: f64 = cells[3].parse().unwrap();
            assert!(rate > 0.0, "{row}");
            assert_eq!(cells[cells.len() - 2], "0", "errors in {row}");
        }
    }
    assert!(stdout.contains("#### Scaling"), "{stdout}");
    assert!(stdout.contains("| 500 |"), "{stdout}");
    assert!(stdout.contains("#### Webhooks"), "{stdout}");
    assert!(stdout.contains("#### Request log cost"), "{stdout}");
    assert!(stdout.contains("| status v1.4 | --sandbox |"), "{stdout}");
    assert!(stdout.contains("#### Goals (issue 17)"), "{stdout}");
    // No PostgreSQL, connections 2 and 4, no 1M: every goal is not run,
    // none is met.
    assert!(stdout.contains("0 met, 0 missed, 10 not run."), "{stdout}");
    assert!(written.contains("#### Goals (issue 17)"), "{written}");
}
