//! The query string (docs/dashboard.md §1) and the window it resolves to.

use crate::api::error::ApiError;
use crate::api::params::aliased;
use crate::time::UnixMs;

pub(crate) const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 86_400_000;

pub const DEFAULT_HOURS: u32 = 24;
pub const MAX_HOURS: u32 = 168;
pub const DEFAULT_LOG_LIMIT: u32 = 500;
pub const MAX_LOG_LIMIT: u32 = 5000;
pub const DEFAULT_ANOMALY_LIMIT: u32 = 50;
pub const MAX_ANOMALY_LIMIT: u32 = 200;
pub const DEFAULT_IAM_LIMIT: u32 = 20;
pub const MAX_IAM_LIMIT: u32 = 200;

/// A parsed `GET /ui/mock-data` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardQuery {
    /// Requested hours, clamped to 1–168 (retention is applied by [`Window::new`]).
    pub hours: u32,
    pub log_limit: u32,
    pub anomaly_limit: u32,
    pub iam_limit: u32,
    /// Exact match on the item's service (`_metadata.service`).
    pub service: Option<String>,
    /// Exact match on the item's namespace (`_metadata.namespace`).
    pub namespace: Option<String>,
}

impl Default for DashboardQuery {
    fn default() -> Self {
        DashboardQuery {
            hours: DEFAULT_HOURS,
            log_limit: DEFAULT_LOG_LIMIT,
            anomaly_limit: DEFAULT_ANOMALY_LIMIT,
            iam_limit: DEFAULT_IAM_LIMIT,
            service: None,
            namespace: None,
        }
    }
}

/// An integer parameter, clamped to `min..=max`. An empty value is the default; anything that
/// is not an optionally signed run of digits is a 400 naming the parameter. Integers too large
/// for i64 saturate (they are still integers, just far out of range).
fn int_param(
    params: &[(String, String)],
    name: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ApiError> {
    let Some(raw) = aliased(params, &[name])? else {
        return Ok(default);
    };
    let t = raw.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(name, "must be an integer"));
    }
    let n: i64 = t.parse().unwrap_or(if t.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    });
    Ok(n.clamp(i64::from(min), i64::from(max)) as u32)
}

/// A filter value: used exactly as given (an exact match), absent when empty.
fn filter_param(params: &[(String, String)], name: &str) -> Result<Option<String>, ApiError> {
    Ok(aliased(params, &[name])?.map(str::to_string))
}

impl DashboardQuery {
    /// Parses the query-string pairs. Limits are clamped to their ranges (0 is a valid limit:
    /// the array is then empty, while every count is still computed).
    pub fn parse(params: &[(String, String)]) -> Result<DashboardQuery, ApiError> {
        Ok(DashboardQuery {
            hours: int_param(params, "hours", DEFAULT_HOURS, 1, MAX_HOURS)?,
            log_limit: int_param(params, "log_limit", DEFAULT_LOG_LIMIT, 0, MAX_LOG_LIMIT)?,
            anomaly_limit: int_param(
                params,
                "anomaly_limit",
                DEFAULT_ANOMALY_LIMIT,
                0,
                MAX_ANOMALY_LIMIT,
            )?,
            iam_limit: int_param(params, "iam_limit", DEFAULT_IAM_LIMIT, 0, MAX_IAM_LIMIT)?,
            service: filter_param(params, "service")?,
            namespace: filter_param(params, "namespace")?,
        })
    }
}

/// The window actually served (see the module doc): `[start, end]`, `start` on the hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// `floor_hour(end) − hours`: the first bucket's hour.
    pub start: UnixMs,
    /// Now, truncated to the second (the response's second precision).
    pub end: UnixMs,
    pub hours: u32,
}

impl Window {
    /// The window for `requested` hours at `now`, never reaching before `cutoff` (the plan's
    /// retention): at most the whole hours between `cutoff` and `floor_hour(now)`, and at
    /// least 1.
    pub fn new(requested: u32, now: UnixMs, cutoff: UnixMs) -> Window {
        let end = now.0 - now.0.rem_euclid(1000);
        let last_hour = end.div_euclid(HOUR_MS) * HOUR_MS;
        let room = (last_hour - cutoff.0)
            .div_euclid(HOUR_MS)
            .clamp(1, i64::from(MAX_HOURS)) as u32;
        let hours = requested.clamp(1, MAX_HOURS).min(room);
        Window {
            start: UnixMs(last_hour - i64::from(hours) * HOUR_MS),
            end: UnixMs(end),
            hours,
        }
    }

    /// The start of the last (current) bucket: `floor_hour(end)`.
    pub fn last_hour(&self) -> i64 {
        self.end.0.div_euclid(HOUR_MS) * HOUR_MS
    }

    /// The bucket hours, oldest first: `hours + 1` of them.
    pub fn buckets(&self) -> impl Iterator<Item = i64> {
        let start = self.start.0;
        (0..=i64::from(self.hours)).map(move |i| start + i * HOUR_MS)
    }

    /// The UTC days the window touches, as their first millisecond: `(first, last)`.
    pub fn days(&self) -> (i64, i64) {
        let day = |t: i64| t.div_euclid(DAY_MS) * DAY_MS;
        (day(self.start.0), day(self.last_hour()))
    }
}
