//! Progress on stderr: a bar on a terminal, one plain line per row
//! otherwise (logs and CI keep every line).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::results::RowResult;

pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    seen: u64,
}

impl Progress {
    pub fn new(total: u64, terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}  {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            total,
            seen: 0,
        }
    }

    /// Rows a previous run finished.
    pub fn skip(&mut self, n: u64) {
        self.seen += n;
        match &self.bar {
            Some(bar) => bar.inc(n),
            None if n > 0 => eprintln!("{n} rows already done (results file), skipped"),
            None => {}
        }
    }

    pub fn row(&mut self, line: u64, r: &RowResult) {
        self.seen += 1;
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                if !r.error_code.is_empty() {
                    bar.set_message(format!("line {line}: {}", r.error_code));
                }
            }
            None => eprintln!(
                "{}/{} line {line}: {}{}{}",
                self.seen,
                self.total,
                r.outcome.as_str(),
                if r.error_code.is_empty() { "" } else { " " },
                r.error_code
            ),
        }
    }

    /// A line that must stay visible (above the bar on a terminal).
    pub fn println(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.println(msg),
            None => eprintln!("{msg}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
