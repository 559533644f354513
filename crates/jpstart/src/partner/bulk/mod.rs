//! `jpstart bulk provision|cancel --csv FILE`: every row one request, at most
//! `--concurrency` in flight, each result appended to the results file as it
//! arrives, a summary on stderr at the end.
//!
//! Resumption relies on the API: provision is idempotent and a repeated
//! cancel answers `{"success":false}`, so a row whose request was in flight
//! when the run was killed (sent, but not recorded) is simply sent again.

mod progress;
mod results;
mod rows;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use futures_util::stream::{self, StreamExt};
use jpstart_client::{Client, Error};

use super::args::{BulkArgs, BulkCommand};
use super::{client, Failure};
use progress::Progress;
use results::{Outcome, RowResult};
use rows::{Job, Kind, Row};

/// Codes that say the credentials, not the row, are wrong: such a row is
/// not done and is sent again on `--resume`.
const AUTH_CODES: &[&str] = &[
    "authorization_required",
    "invalid_token",
    "partner_key_disabled",
    "invalid_scope",
];

pub async fn run(cmd: BulkCommand) -> Result<ExitCode, Failure> {
    let (kind, args) = match cmd {
        BulkCommand::Provision(a) => (Kind::Provision, a),
        BulkCommand::Cancel(a) => (Kind::Cancel, a),
    };
    let BulkArgs {
        api,
        csv,
        results: results_path,
        resume,
        concurrency,
    } = args;
    let input = rows::read(&csv, kind)?;
    let results_path = results_path.unwrap_or_else(|| {
        let mut p = csv.clone().into_os_string();
        p.push(".results.csv");
        PathBuf::from(p)
    });
    let client = client(&api, true)?;
    let (mut results, done) = results::open(&results_path, &input.header, resume)?;
    // Wrong credentials stop the run before any row is sent.
    client.access_token().await?;

    let total = input.rows.len() as u64;
    let (todo, skipped): (Vec<Row>, Vec<Row>) = input
        .rows
        .into_iter()
        .partition(|r| !done.contains(&(r.line, r.hash.clone())));
    let mut progress = Progress::new(total, std::io::stderr().is_terminal());
    progress.skip(skipped.len() as u64);

    let mut counts = Counts {
        skipped: skipped.len() as u64,
        ..Counts::default()
    };
    let mut outcomes = stream::iter(todo)
        .map(|row| {
            let client = client.clone();
            async move {
                let result = execute(&client, &row).await;
                (row, result)
            }
        })
        .buffer_unordered(concurrency as usize);
    while let Some((row, result)) = outcomes.next().await {
        if let Err(e) = results.write(&row, &result) {
            // Without the results file a resume would redo acknowledged
            // rows blindly: stop.
            progress.finish();
            eprintln!(
                "jpstart: cannot write {}: {e}; stopping",
                results_path.display()
            );
            return Ok(ExitCode::from(1));
        }
        if result.outcome == Outcome::Malformed {
            progress.println(&format!(
                "line {}: malformed row skipped: {}",
                row.line, result.message
            ));
        }
        counts.add(result.outcome);
        progress.row(row.line, &result);
    }
    progress.finish();
    eprintln!(
        "bulk {}: {} rows: {} ok, {} noop, {} error, {} failed, {} malformed, {} already done; results in {}",
        kind.name(),
        total,
        counts.ok,
        counts.noop,
        counts.error,
        counts.failed,
        counts.malformed,
        counts.skipped,
        results_path.display()
    );
    Ok(if counts.error + counts.failed + counts.malformed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Default)]
struct Counts {
    ok: u64,
    noop: u64,
    error: u64,
    failed: u64,
    malformed: u64,
    skipped: u64,
}

impl Counts {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Ok => self.ok += 1,
            Outcome::Noop => self.noop += 1,
            Outcome::Error => self.error += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Malformed => self.malformed += 1,
        }
    }
}

/// Sends one row (the client retries transient failures).
async fn execute(client: &Client, row: &Row) -> RowResult {
    let job = match &row.job {
        Ok(job) => job,
        Err(why) => {
            let mut r = RowResult::new(Outcome::Malformed);
            r.error_code = "malformed_row".into();
            r.message = why.clone();
            return r;
        }
    };
    match job {
        Job::Provision(p) => match client.provision(p).await {
            Ok(res) => {
                let mut r = RowResult::new(if res.success {
                    Outcome::Ok
                } else {
                    Outcome::Noop
                });
                r.auth_required = res.auth_required.to_string();
                r.next_url = res.next_url;
                r
            }
            Err(e) => failure(&e),
        },
        Job::Cancel { site, plan, all } => match client.cancel(site, plan.as_deref(), *all).await {
            Ok(res) if res.success => RowResult::new(Outcome::Ok),
            Ok(_) => RowResult::new(Outcome::Noop),
            Err(e) => failure(&e),
        },
    }
}

fn failure(e: &Error) -> RowResult {
    let auth = e.code().is_some_and(|c| AUTH_CODES.contains(&c));
    let outcome = if e.is_transient() || auth {
        Outcome::Failed
    } else {
        Outcome::Error
    };
    let mut r = RowResult::new(outcome);
    r.error_code = match e {
        Error::Api { code, .. } => code.clone(),
        Error::Transport(_) => "http_request_failed".into(),
        Error::Status { status, .. } => format!("http_{status}"),
        Error::Decode { .. } => "invalid_response".into(),
        _ => "client_error".into(),
    };
    r.message = match e {
        Error::Api { message, .. } => message.clone(),
        other => other.to_string(),
    };
    r
}
