//! The portal's CSV exports (SPEC §8: a plain GET link whose URL names
//! `csv`, answering `text/csv` with a header row and one row per record).
//!
//! Cells are quoted by the `csv` crate (commas, quotes, line breaks), and
//! every cell that a spreadsheet would read as a formula — starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return (OWASP's list) — gets a
//! leading `'`, so that a site URL or name a partner's customer chose
//! cannot run in the partner's spreadsheet (CSV injection).

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// `cell` as a spreadsheet reads it as text.
pub fn guard(cell: &str) -> Cow<'_, str> {
    match cell.bytes().next() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// Builds a CSV document, header first.
pub struct Csv {
    writer: csv::Writer<Vec<u8>>,
}

impl Csv {
    pub fn new(header: &[&str]) -> Result<Csv, csv::Error> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(header)?;
        Ok(Csv { writer })
    }

    /// One record, each cell guarded.
    pub fn row<I, S>(&mut self, cells: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let guarded: Vec<String> = cells
            .into_iter()
            .map(|c| guard(c.as_ref()).into_owned())
            .collect();
        self.writer.write_record(&guarded)
    }

    /// The document as a download named `filename` (ours: letters, digits,
    /// `-`, `_` and `.`).
    pub fn into_response(self, filename: &str) -> Response {
        let body = match self.writer.into_inner() {
            Ok(body) => body,
            Err(e) => return crate::portal::internal(e.error()),
        };
        let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
        (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                ),
                (header::CONTENT_DISPOSITION, disposition),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            body,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text() {
        for (cell, out) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1", "'+1"),
            ("-1+2", "'-1+2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("https://a.example/=x", "https://a.example/=x"),
            ("", ""),
            ("42", "42"),
        ] {
            assert_eq!(guard(cell), out, "{cell:?}");
        }
    }

    #[test]
    fn rows_are_quoted_and_guarded() {
        let mut csv = Csv::new(&["a", "b"]).unwrap();
        csv.row(["x,y", "=1+1"]).unwrap();
        csv.row(["say \"hi\"", "line\nbreak"]).unwrap();
        let body = String::from_utf8(csv.writer.into_inner().unwrap()).unwrap();
        assert_eq!(
            body,
            "a,b\n\"x,y\",'=1+1\n\"say \"\"hi\"\"\",\"line\nbreak\"\n"
        );
    }
}
