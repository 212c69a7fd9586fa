//! Millisecond Unix time, its ISO-8601 spellings and calendar-month periods (UTC).
//! The core never reads a clock: callers inject `now`, so tests control time.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC. Kept within ±2^53 so it survives D1 and JSON numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixMs(pub i64);

const DAY_MS: i64 = 86_400_000;

impl UnixMs {
    fn datetime(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or_default()
    }

    /// `2026-01-30T09:15:00.123Z`: the API's timestamp format.
    pub fn iso_millis(self) -> String {
        self.datetime().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }

    /// `2026-01-30T09:15:00Z`: the dashboard's timestamp format.
    pub fn iso_seconds(self) -> String {
        self.datetime().format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// This instant minus whole days (the retention cutoff).
    pub fn minus_days(self, days: u32) -> UnixMs {
        UnixMs(self.0 - i64::from(days) * DAY_MS)
    }

    /// The calendar month (UTC) containing this instant.
    pub fn month(self) -> MonthPeriod {
        let d = self.datetime();
        MonthPeriod::new(d.year(), d.month())
    }
}

/// One UTC calendar month: the unit of the event quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthPeriod {
    year: i32,
    month: u32,
}

impl MonthPeriod {
    fn new(year: i32, month: u32) -> Self {
        MonthPeriod { year, month }
    }

    /// `2026-01`: the quota counter's key.
    pub fn key(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    fn first_day_ms(year: i32, month: u32) -> UnixMs {
        let date = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default();
        UnixMs(
            date.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp_millis(),
        )
    }

    /// First instant of the month.
    pub fn start(self) -> UnixMs {
        Self::first_day_ms(self.year, self.month)
    }

    /// First instant of the next month (exclusive end).
    pub fn end(self) -> UnixMs {
        if self.month == 12 {
            Self::first_day_ms(self.year + 1, 1)
        } else {
            Self::first_day_ms(self.year, self.month + 1)
        }
    }

    /// Whole seconds from `now` until the month ends, at least 1 (the quota's `Retry-After`).
    pub fn seconds_until_end(self, now: UnixMs) -> u64 {
        let ms = (self.end().0 - now.0).max(0);
        (ms as u64).div_ceil(1000).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_and_z() {
        assert_eq!(
            UnixMs(1_769_764_500_123).iso_millis(),
            "2026-01-30T09:15:00.123Z"
        );
        assert_eq!(
            UnixMs(1_769_764_500_123).iso_seconds(),
            "2026-01-30T09:15:00Z"
        );
        assert_eq!(UnixMs(0).iso_millis(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn month_boundaries_include_december_rollover() {
        let dec = UnixMs(1_798_761_600_000 - 1); // 2026-12-31T23:59:59.999Z
        let m = dec.month();
        assert_eq!(m.key(), "2026-12");
        assert_eq!(m.start().iso_millis(), "2026-12-01T00:00:00.000Z");
        assert_eq!(m.end().iso_millis(), "2027-01-01T00:00:00.000Z");
        assert_eq!(m.seconds_until_end(dec), 1);
    }

    #[test]
    fn leap_february_has_29_days() {
        let feb = UnixMs(1_709_251_200_000 - 1).month(); // 2024-02-29T23:59:59.999Z
        assert_eq!(feb.key(), "2024-02");
        assert_eq!(feb.end().0 - feb.start().0, 29 * DAY_MS);
    }

    #[test]
    fn cutoff_subtracts_whole_days() {
        assert_eq!(UnixMs(10 * DAY_MS).minus_days(7), UnixMs(3 * DAY_MS));
    }
}
