//! Reading the input CSV: the header is checked once (unknown or missing
//! columns stop the run before any request), each row is parsed on its own
//! (a bad row becomes a `malformed` result, never an abort).

use std::path::Path;

use jpstart_types::params::{non_empty, ProvisionParams};
use jpstart_types::{SiteIdentifier, SiteRef};
use sha2::{Digest, Sha256};

use crate::partner::Failure;

/// Which bulk command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Provision,
    Cancel,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Provision => "provision",
            Kind::Cancel => "cancel",
        }
    }

    /// The columns a file may have: the API's parameter names.
    fn known(self) -> &'static [&'static str] {
        match self {
            Kind::Provision => &[
                "siteurl",
                "local_user",
                "local_username",
                "plan",
                "force_register",
                "force_connect",
                "onboarding",
                "wpcom_user_id",
                "wpcom_user_email",
                "partner_tracking_id",
                "partner-tracking-id",
                "ssh_user",
                "ssh_pass",
                "ssh_private_key",
                "ssh_host",
                "ssh_port",
                "ftp_user",
                "ftp_pass",
                "ftp_host",
                "ftp_port",
            ],
            Kind::Cancel => &["site", "plan", "cancel-all", "cancel_all"],
        }
    }

    fn required(self) -> &'static [&'static [&'static str]] {
        match self {
            Kind::Provision => &[&["siteurl"], &["local_user", "local_username"]],
            Kind::Cancel => &[&["site"]],
        }
    }
}

/// Columns whose values are secrets: never copied into the results file.
pub const SECRET_COLUMNS: &[&str] = &["ssh_pass", "ssh_private_key", "ftp_pass"];

/// What one row asks for.
#[derive(Debug, Clone)]
pub enum Job {
    Provision(Box<ProvisionParams>),
    Cancel {
        site: SiteRef,
        plan: Option<String>,
        all: bool,
    },
}

/// One data row of the input.
#[derive(Debug, Clone)]
pub struct Row {
    /// The line the record starts on (the header is line 1).
    pub line: u64,
    /// A digest of the row's fields: with the line, the row's identity for
    /// `--resume` (an edited row is a new row).
    pub hash: String,
    pub fields: Vec<String>,
    /// The request, or why the row cannot be sent.
    pub job: Result<Job, String>,
}

/// The input file: header and rows.
pub struct Input {
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

/// Reads and checks the whole file.
pub fn read(path: &Path, kind: Kind) -> Result<Input, Failure> {
    let usage = |msg: String| Failure::Usage(format!("{}: {msg}", path.display()));
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| usage(e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| usage(format!("unreadable header: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    check_header(&header, kind).map_err(usage)?;
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let fields: Vec<String> = record.iter().map(str::to_string).collect();
                let job = if fields.len() != header.len() {
                    Err(format!(
                        "expected {} fields, found {}",
                        header.len(),
                        fields.len()
                    ))
                } else {
                    parse_job(kind, &header, &fields)
                };
                rows.push(Row {
                    line,
                    hash: row_hash(&fields),
                    fields,
                    job,
                });
            }
            Err(e) => {
                // Unreadable (e.g. not UTF-8): reported as its own row; the
                // reader goes on with the next record.
                let line = e.position().map_or(0, |p| p.line());
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(usage(e.to_string()));
                }
                rows.push(Row {
                    line,
                    hash: row_hash(&[]),
                    fields: Vec::new(),
                    job: Err(format!("unreadable row: {e}")),
                });
            }
        }
    }
    Ok(Input { header, rows })
}

fn check_header(header: &[String], kind: Kind) -> Result<(), String> {
    let known = kind.known();
    if let Some(bad) = header.iter().find(|h| !known.contains(&h.as_str())) {
        return Err(format!(
            "unknown column {bad:?} for bulk {}; known columns: {}",
            kind.name(),
            known.join(",")
        ));
    }
    for names in kind.required() {
        if !header.iter().any(|h| names.contains(&h.as_str())) {
            return Err(format!("the column {:?} is required", names[0]));
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(format!("the column {dup:?} appears twice"));
    }
    Ok(())
}

fn parse_job(kind: Kind, header: &[String], fields: &[String]) -> Result<Job, String> {
    // Empty cells are absent parameters.
    let map: serde_json::Map<String, serde_json::Value> = header
        .iter()
        .zip(fields)
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.trim().to_string())))
        .collect();
    match kind {
        Kind::Provision => {
            let p: ProvisionParams = serde_json::from_value(serde_json::Value::Object(map))
                .map_err(|e| e.to_string())?;
            let url = non_empty(&p.siteurl).ok_or("siteurl is empty")?;
            SiteIdentifier::from_url(url).map_err(|e| format!("siteurl: {e}"))?;
            p.local_user().ok_or("local_user is empty")?;
            Ok(Job::Provision(Box::new(p)))
        }
        Kind::Cancel => {
            let get = |k: &str| map.get(k).and_then(|v| v.as_str());
            let site = get("site").ok_or("site is empty")?;
            let site = jpstart_client::parse_site(site).map_err(|e| e.to_string())?;
            let all = get("cancel-all")
                .or_else(|| get("cancel_all"))
                .is_some_and(jpstart_types::truthy::is_truthy);
            Ok(Job::Cancel {
                site,
                plan: get("plan").map(str::to_string),
                all,
            })
        }
    }
}

/// First 16 hex digits of the SHA-256 of the fields, unit-separated.
pub fn row_hash(fields: &[String]) -> String {
    let mut h = Sha256::new();
    for f in fields {
        h.update(f.as_bytes());
        h.update([0x1f]);
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headers() {
        assert!(check_header(&header(&["siteurl", "local_user", "plan"]), Kind::Provision).is_ok());
        assert!(check_header(&header(&["siteurl", "local_username"]), Kind::Provision).is_ok());
        let typo = check_header(&header(&["site_url", "local_user"]), Kind::Provision);
        assert!(typo.unwrap_err().contains("site_url"));
        assert!(check_header(&header(&["siteurl"]), Kind::Provision).is_err());
        assert!(check_header(
            &header(&["siteurl", "local_user", "siteurl"]),
            Kind::Provision
        )
        .is_err());
        assert!(check_header(&header(&["site", "cancel-all"]), Kind::Cancel).is_ok());
        assert!(check_header(&header(&["plan"]), Kind::Cancel).is_err());
    }

    #[test]
    fn jobs() {
        let h = header(&["siteurl", "local_user", "plan", "force_register"]);
        let row = |v: &[&str]| parse_job(Kind::Provision, &h, &header(v));
        match row(&["https://example.com", " admin ", "premium", "TRUE"]).unwrap() {
            Job::Provision(p) => {
                assert_eq!(p.local_user(), Some("admin"));
                assert!(p.force_register.get());
            }
            other => panic!("{other:?}"),
        }
        assert!(row(&["", "admin", "premium", ""]).is_err());
        assert!(row(&["https://exa mple.com", "admin", "", ""]).is_err());
        assert!(row(&["https://example.com", "", "", ""]).is_err());

        let h = header(&["site", "plan", "cancel_all"]);
        match parse_job(
            Kind::Cancel,
            &h,
            &header(&["https://Example.com/x/", "", "1"]),
        )
        .unwrap()
        {
            Job::Cancel { site, plan, all } => {
                assert_eq!(site.to_string(), "example.com::x");
                assert_eq!((plan, all), (None, true));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_job(Kind::Cancel, &h, &header(&["0", "", ""])).is_err());
    }

    #[test]
    fn hashes_tell_rows_apart() {
        let a = row_hash(&header(&["a,b", "c"]));
        assert_eq!(a.len(), 16);
        assert_eq!(a, row_hash(&header(&["a,b", "c"])));
        assert_ne!(a, row_hash(&header(&["a", "b,c"])));
    }
}
