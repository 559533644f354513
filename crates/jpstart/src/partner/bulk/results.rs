//! The results file: one line per finished row, written and flushed as the
//! row finishes, so that a run killed at any point has recorded every row
//! the API acknowledged. `--resume` reads it back.
//!
//! Columns: `line,row_hash`, the input's columns (secrets replaced by
//! `***`), then `outcome,error_code,message,auth_required,next_url`.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::rows::{Row, SECRET_COLUMNS};
use crate::partner::Failure;

/// How a row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Done: provisioned, or cancelled.
    Ok,
    /// Done, nothing changed: a cancel with nothing to cancel
    /// (`{"success":false}`).
    Noop,
    /// Done: the API refused the row (its code is in `error_code`).
    Error,
    /// Not done: the network, a 5xx/429 after every retry, or the
    /// credentials failed. `--resume` sends it again.
    Failed,
    /// Done: the row could not be read or lacks a required value; it is
    /// sent again only once edited (its hash changes).
    Malformed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Noop => "noop",
            Outcome::Error => "error",
            Outcome::Failed => "failed",
            Outcome::Malformed => "malformed",
        }
    }

    fn done(s: &str) -> bool {
        matches!(s, "ok" | "noop" | "error" | "malformed")
    }
}

/// What one row produced.
#[derive(Debug, Clone)]
pub struct RowResult {
    pub outcome: Outcome,
    pub error_code: String,
    pub message: String,
    pub auth_required: String,
    pub next_url: String,
}

impl RowResult {
    pub fn new(outcome: Outcome) -> Self {
        RowResult {
            outcome,
            error_code: String::new(),
            message: String::new(),
            auth_required: String::new(),
            next_url: String::new(),
        }
    }
}

const TAIL: [&str; 5] = [
    "outcome",
    "error_code",
    "message",
    "auth_required",
    "next_url",
];

/// The open results file.
pub struct Results {
    writer: csv::Writer<File>,
    width: usize,
    secret: Vec<bool>,
}

/// Rows (line, hash) a previous run finished.
pub type Done = HashSet<(u64, String)>;

/// Opens the results file: a new one (refusing to overwrite one without
/// `--resume`), or the existing one to append to, with the rows it records
/// as done.
pub fn open(
    path: &Path,
    input_header: &[String],
    resume: bool,
) -> Result<(Results, Done), Failure> {
    let usage = |msg: String| Failure::Usage(format!("{}: {msg}", path.display()));
    let header: Vec<String> = ["line", "row_hash"]
        .iter()
        .map(|s| s.to_string())
        .chain(input_header.iter().cloned())
        .chain(TAIL.iter().map(|s| s.to_string()))
        .collect();
    let secret = input_header
        .iter()
        .map(|h| SECRET_COLUMNS.contains(&h.as_str()))
        .collect();
    let exists = path.exists();
    if exists && !resume {
        return Err(usage(
            "the results file exists: pass --resume to go on with that run, or remove it".into(),
        ));
    }
    let mut done = Done::new();
    let file = if exists {
        done = read_done(path, &header).map_err(usage)?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| usage(e.to_string()))?;
        // A run killed mid-write may have left half a line: start afresh on
        // the next one (the fragment is ignored when read back).
        if ends_without_newline(&mut file).map_err(|e| usage(e.to_string()))? {
            file.write_all(b"\n").map_err(|e| usage(e.to_string()))?;
        }
        file
    } else {
        File::create(path).map_err(|e| usage(e.to_string()))?
    };
    let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(file);
    if !exists {
        writer
            .write_record(&header)
            .and_then(|_| writer.flush().map_err(csv::Error::from))
            .map_err(|e| usage(e.to_string()))?;
    }
    Ok((
        Results {
            writer,
            width: input_header.len(),
            secret,
        },
        done,
    ))
}

fn ends_without_newline(file: &mut File) -> std::io::Result<bool> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

fn read_done(path: &Path, header: &[String]) -> Result<Done, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| e.to_string())?;
    let found: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(str::to_string)
        .collect();
    if found != header {
        return Err(format!(
            "its columns are not those of this input ({}); use another --results file",
            found.join(",")
        ));
    }
    let outcome_at = header.len() - TAIL.len();
    let mut done = Done::new();
    for record in reader.records() {
        // A torn last line of a killed run does not parse or is short: skip.
        let Ok(record) = record else { continue };
        if record.len() != header.len() {
            continue;
        }
        let (Some(line), Some(hash), Some(outcome)) =
            (record.get(0), record.get(1), record.get(outcome_at))
        else {
            continue;
        };
        let Ok(line) = line.parse::<u64>() else {
            continue;
        };
        // A failed row is not done; a later failure of a row does not
        // undo an earlier success.
        if Outcome::done(outcome) {
            done.insert((line, hash.to_string()));
        }
    }
    Ok(done)
}

impl Results {
    /// Appends one row's result and flushes it to the file.
    pub fn write(&mut self, row: &Row, result: &RowResult) -> std::io::Result<()> {
        let mut record: Vec<String> = Vec::with_capacity(self.width + 8);
        record.push(row.line.to_string());
        record.push(row.hash.clone());
        for i in 0..self.width {
            let value = row.fields.get(i).cloned().unwrap_or_default();
            let value = if self.secret[i] && !value.is_empty() {
                "***".to_string()
            } else {
                value
            };
            record.push(value);
        }
        record.extend([
            result.outcome.as_str().to_string(),
            result.error_code.clone(),
            result.message.clone(),
            result.auth_required.clone(),
            result.next_url.clone(),
        ]);
        self.writer.write_record(&record)?;
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: u64, fields: &[&str]) -> Row {
        let fields: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        Row {
            line,
            hash: super::super::rows::row_hash(&fields),
            fields,
            job: Err(String::new()),
        }
    }

    #[test]
    fn resume_reads_done_rows_and_survives_a_torn_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("r.csv");
        let header = vec!["siteurl".to_string(), "ssh_pass".to_string()];
        let (mut results, done) = open(&path, &header, false).expect("new file");
        assert!(done.is_empty());
        let (a, b, c) = (row(2, &["a", "pw"]), row(3, &["b", ""]), row(4, &["c", ""]));
        results
            .write(&a, &RowResult::new(Outcome::Ok))
            .expect("write");
        results
            .write(&b, &RowResult::new(Outcome::Failed))
            .expect("write");
        drop(results);
        // A run killed mid-write leaves half a line.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"4,abc,c").expect("torn write");
        drop(f);

        assert!(
            open(&path, &header, false).is_err(),
            "never overwritten without --resume"
        );
        let (mut results, done) = open(&path, &header, true).expect("resume");
        assert!(done.contains(&(2, a.hash.clone())));
        assert!(
            !done.contains(&(3, b.hash.clone())),
            "failed rows are not done"
        );
        assert_eq!(done.len(), 1);
        results
            .write(&c, &RowResult::new(Outcome::Ok))
            .expect("write");
        drop(results);
        let (_, done) = open(&path, &header, true).expect("resume again");
        assert!(
            done.contains(&(4, c.hash.clone())),
            "the row after the torn line reads back"
        );
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("pw"), "{text}");

        let other = vec!["site".to_string()];
        assert!(
            open(&path, &other, true).is_err(),
            "other columns: another file"
        );
    }
}
