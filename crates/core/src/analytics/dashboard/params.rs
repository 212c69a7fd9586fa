//! The query string (docs/dashboard.md §1) and the window it resolves to.

use crate::api::error::ApiError;
use crate::api::params::{aliased, ip_param, parse_time_bound};
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
/// The longest custom range (`start`/`end`), in hours: 90 days, Enterprise's retention. The
/// timeline stays hourly, so this bounds it to 2,161 buckets.
pub const MAX_RANGE_HOURS: u32 = 2160;

/// Which alerts are the page's anomalies (`anomaly_status`, docs/dashboard.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnomalyStatus {
    /// Every alert of the window, whatever its status (the contract's default).
    #[default]
    All,
    /// Open or acknowledged: the threats still to handle.
    Active,
    /// Exactly this status (`open`, `acknowledged`, `resolved` or `safe`).
    Only(&'static str),
}

impl AnomalyStatus {
    fn parse(raw: Option<&str>) -> Result<AnomalyStatus, ApiError> {
        Ok(match raw.map(str::trim) {
            None | Some("all") => AnomalyStatus::All,
            Some("active") => AnomalyStatus::Active,
            Some("open") => AnomalyStatus::Only("open"),
            Some("acknowledged") => AnomalyStatus::Only("acknowledged"),
            Some("resolved") => AnomalyStatus::Only("resolved"),
            Some("safe") => AnomalyStatus::Only("safe"),
            Some(_) => {
                return Err(ApiError::invalid(
                    "anomaly_status",
                    "must be all, active, open, acknowledged, resolved or safe",
                ))
            }
        })
    }

    /// The SQL condition on alert `a` (literals only), empty for [`AnomalyStatus::All`].
    pub(crate) fn condition(self) -> String {
        match self {
            AnomalyStatus::All => String::new(),
            AnomalyStatus::Active => " AND a.status IN ('open', 'acknowledged')".to_string(),
            AnomalyStatus::Only(s) => format!(" AND a.status = '{s}'"),
        }
    }
}

/// A custom range (`start`, and optionally `end`), as requested; [`DashboardQuery::window`]
/// bounds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: UnixMs,
    /// Absent: now.
    pub end: Option<UnixMs>,
}

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
    /// A pivot: only the items from this address (`source_ip`, canonical form) and the alerts
    /// naming it, in every section.
    pub source_ip: Option<String>,
    /// A pivot: only the items of this user and the alerts whose actor it is.
    pub user: Option<String>,
    /// Which alerts are anomalies (all by default).
    pub anomaly_status: AnomalyStatus,
    /// A custom range instead of the last `hours`.
    pub range: Option<Range>,
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
            source_ip: None,
            user: None,
            anomaly_status: AnomalyStatus::All,
            range: None,
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
            source_ip: aliased(params, &["source_ip", "ip"])?
                .map(|ip| ip_param("source_ip", ip))
                .transpose()?,
            user: filter_param(params, "user")?,
            anomaly_status: AnomalyStatus::parse(aliased(params, &["anomaly_status"])?)?,
            range: Range::parse(params)?,
        })
    }

    /// Whether the page is pivoted on an address or a user: its sections are then read from
    /// the window's matching items rather than from the rollups.
    pub fn pivoted(&self) -> bool {
        self.source_ip.is_some() || self.user.is_some()
    }

    /// The window served at `now` for a plan whose retention starts at `cutoff`: the last
    /// `hours`, or the custom range. A range that ends before retention begins holds nothing
    /// this plan keeps: a 400 naming `end`.
    pub fn window(&self, now: UnixMs, cutoff: UnixMs) -> Result<Window, ApiError> {
        match self.range {
            None => Ok(Window::new(self.hours, now, cutoff)),
            Some(r) if r.end.is_some_and(|e| e.0 <= cutoff.0) => Err(ApiError::invalid(
                "end",
                "is before this plan's retention: nothing of that time is kept",
            )),
            Some(r) => Ok(Window::range(r, now, cutoff)),
        }
    }
}

impl Range {
    /// `start` (and `end`): ISO-8601 timestamps or `YYYY-MM-DD` dates (an end date is its
    /// day's end). `end` without `start`, or an `end` not after `start`, is a 400.
    fn parse(params: &[(String, String)]) -> Result<Option<Range>, ApiError> {
        let start = aliased(params, &["start"])?
            .map(|v| parse_time_bound("start", v, false))
            .transpose()?;
        let end = aliased(params, &["end"])?
            .map(|v| parse_time_bound("end", v, true))
            .transpose()?;
        match (start, end) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(ApiError::invalid("end", "needs start")),
            (Some(s), Some(e)) if e <= s => Err(ApiError::invalid("end", "must be after start")),
            (Some(start), end) => Ok(Some(Range { start, end })),
        }
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

    /// A custom range: `end` is the requested end (at most now) to the second; `start` the
    /// requested start's hour, moved up to the first whole hour of retention, and at most
    /// [`MAX_RANGE_HOURS`] and at least one hour before `floor_hour(end)`.
    pub fn range(r: Range, now: UnixMs, cutoff: UnixMs) -> Window {
        let end = r.end.map_or(now.0, |e| e.0.min(now.0));
        let end = end - end.rem_euclid(1000);
        let last_hour = end.div_euclid(HOUR_MS) * HOUR_MS;
        let first_kept = cutoff.0.div_euclid(HOUR_MS) * HOUR_MS
            + if cutoff.0.rem_euclid(HOUR_MS) == 0 {
                0
            } else {
                HOUR_MS
            };
        let start = r.start.0.div_euclid(HOUR_MS) * HOUR_MS;
        let hours = ((last_hour - start.max(first_kept)).div_euclid(HOUR_MS))
            .clamp(1, i64::from(MAX_RANGE_HOURS));
        Window {
            start: UnixMs(last_hour - hours * HOUR_MS),
            end: UnixMs(end),
            hours: hours as u32,
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
