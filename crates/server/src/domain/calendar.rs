//! UTC calendar arithmetic for reporting (SPEC §8): calendar months of the
//! invoices, the day/month/year periods of the activations summary, and the
//! `YYYY-MM-DD HH:MM:SS` datetimes of the reporting endpoints.
//!
//! Civil dates from day numbers by Howard Hinnant's `days_from_civil` /
//! `civil_from_days` algorithms (proleptic Gregorian calendar), so that no
//! date crate is needed for the few operations reporting makes.

use crate::clock::Timestamp;

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day number.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31, 1..=12).
    (year, day_u32(month), day_u32(day))
}

fn day_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(1)
}

/// A UTC calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i64,
    /// 1..=12
    month: u32,
}

impl Month {
    /// `None` unless `month` is 1..=12.
    pub fn new(year: i64, month: u32) -> Option<Month> {
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    /// The month `t` falls in.
    pub fn containing(t: Timestamp) -> Month {
        let (year, month, _) = civil_from_days(t.as_millis().div_euclid(MS_PER_DAY));
        Month { year, month }
    }

    pub fn year(self) -> i64 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    /// Its first instant.
    pub fn start(self) -> Timestamp {
        Timestamp::from_millis(days_from_civil(self.year, self.month, 1) * MS_PER_DAY)
    }

    /// The first instant of the next month (the end, exclusive).
    pub fn end(self) -> Timestamp {
        self.next().start()
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// `YYYY-MM`.
    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// The periods of the activations summary (`scale`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Day,
    Month,
    Year,
}

impl Scale {
    /// `day`, `month` or `year`.
    pub fn parse(text: &str) -> Option<Scale> {
        match text {
            "day" => Some(Scale::Day),
            "month" => Some(Scale::Month),
            "year" => Some(Scale::Year),
            _ => None,
        }
    }

    /// The first instant of the period `t` falls in.
    pub fn floor(self, t: Timestamp) -> Timestamp {
        let days = t.as_millis().div_euclid(MS_PER_DAY);
        let (y, m, _) = civil_from_days(days);
        let day = match self {
            Scale::Day => days,
            Scale::Month => days_from_civil(y, m, 1),
            Scale::Year => days_from_civil(y, 1, 1),
        };
        Timestamp::from_millis(day * MS_PER_DAY)
    }

    /// The first instant of the period after the one `t` falls in.
    pub fn next(self, t: Timestamp) -> Timestamp {
        let start = self.floor(t).as_millis();
        let (y, m, _) = civil_from_days(start.div_euclid(MS_PER_DAY));
        let ms = match self {
            Scale::Day => start + MS_PER_DAY,
            Scale::Month => Month { year: y, month: m }.end().as_millis(),
            Scale::Year => days_from_civil(y + 1, 1, 1) * MS_PER_DAY,
        };
        Timestamp::from_millis(ms)
    }

    /// The period's label: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
    pub fn label(self, t: Timestamp) -> String {
        let (y, m, d) = civil_from_days(t.as_millis().div_euclid(MS_PER_DAY));
        match self {
            Scale::Day => format!("{y:04}-{m:02}-{d:02}"),
            Scale::Month => format!("{y:04}-{m:02}"),
            Scale::Year => format!("{y:04}"),
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS`, UTC, to the second (rounded down): the datetime
/// format of the reporting endpoints.
pub fn datetime(t: Timestamp) -> String {
    let ms = t.as_millis();
    let (y, m, d) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let secs = ms.rem_euclid(MS_PER_DAY) / 1000;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_iso8601(text).unwrap()
    }

    #[test]
    fn datetimes() {
        assert_eq!(datetime(Timestamp::EPOCH), "1970-01-01 00:00:00");
        assert_eq!(
            datetime(at("2024-02-29T23:59:59.999Z")),
            "2024-02-29 23:59:59"
        );
        assert_eq!(
            datetime(Timestamp::from_millis(-MS_PER_DAY / 2)),
            "1969-12-31 12:00:00"
        );
    }

    #[test]
    fn months() {
        let m = Month::containing(at("2024-02-29T23:59:59Z"));
        assert_eq!(m.label(), "2024-02");
        assert_eq!(m.start(), at("2024-02-01T00:00:00Z"));
        assert_eq!(m.end(), at("2024-03-01T00:00:00Z"));
        assert_eq!(Month::new(2024, 12).unwrap().next().label(), "2025-01");
        assert_eq!(Month::new(2025, 1).unwrap().prev().label(), "2024-12");
        assert!(Month::new(2025, 13).is_none());
    }

    #[test]
    fn scales() {
        let t = at("2026-12-31T18:00:00Z");
        assert_eq!(Scale::Day.floor(t), at("2026-12-31"));
        assert_eq!(Scale::Day.next(t), at("2027-01-01"));
        assert_eq!(Scale::Month.next(t), at("2027-01-01"));
        assert_eq!(Scale::Year.floor(t), at("2026-01-01"));
        assert_eq!(Scale::Year.label(t), "2026");
        assert_eq!(Scale::Month.label(t), "2026-12");
        assert_eq!(Scale::Day.label(t), "2026-12-31");
        assert_eq!(Scale::parse("week"), None);
    }

    proptest::proptest! {
        /// Day numbers and civil dates agree both ways, and every instant
        /// lies in its month and its periods.
        #[test]
        fn round_trips(days in -800_000i64..800_000, ms in 0i64..MS_PER_DAY) {
            let (y, m, d) = civil_from_days(days);
            proptest::prop_assert_eq!(days_from_civil(y, m, d), days);
            let t = Timestamp::from_millis(days * MS_PER_DAY + ms);
            let month = Month::containing(t);
            proptest::prop_assert!(month.start() <= t && t < month.end());
            for s in [Scale::Day, Scale::Month, Scale::Year] {
                proptest::prop_assert!(s.floor(t) <= t && t < s.next(t));
            }
        }
    }
}
