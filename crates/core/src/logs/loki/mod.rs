//! Loki-compatible reads (docs/dashboard.md §7.7), so Grafana adds edgesoc as a Loki data source:
//! `labels`, `label/:name/values`, `series`, `query_range` and `query` under `/loki/api/v1/`,
//! over the organisation's raw lines. A line's stream is its labels `service`, `namespace`,
//! `type` (edgesoc's classification) and `level`; `detected_level` and `severity` name the level
//! too. Every read is organisation-scoped and bounded: the time range by retention, a log query
//! by [`MAX_SCANNED`] lines read, a metric query by [`MAX_POINTS`] points.
//!
//! Pure: [`logql`] parses, [`query`] turns a request into SQL and its rows into Loki's JSON.

pub mod logql;
pub mod query;

use crate::api::error::ApiError;
use crate::time::UnixMs;
use chrono::DateTime;

/// Most lines one log query reads (newest or oldest first, by `direction`).
pub const MAX_SCANNED: u32 = 20_000;
/// Most lines a log query returns (`limit`; Grafana's default is 1000).
pub const MAX_LIMIT: u32 = 5000;
/// Most points of one metric series (Loki's own bound).
pub const MAX_POINTS: i64 = 11_000;
/// Most buckets a metric query counts in SQL (the finest step that serves both `step` and the
/// range, over the whole interval).
pub const MAX_BUCKETS: i64 = 200_000;
/// Most distinct values `label/:name/values` and `series` read lines for.
pub const MAX_VALUE_SCAN: u32 = 50_000;

/// The labels of a line's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Label {
    Service,
    Namespace,
    Type,
    Level,
}

impl Label {
    /// The labels every stream has, as `labels` lists them.
    pub const NAMES: [&'static str; 6] = [
        "detected_level",
        "level",
        "namespace",
        "service",
        "severity",
        "type",
    ];
    pub const ALL: [Label; 4] = [Label::Service, Label::Namespace, Label::Type, Label::Level];

    /// A label name as queries use it (`detected_level` and `severity` are the level).
    pub fn parse(name: &str) -> Option<Label> {
        Some(match name {
            "service" | "service_name" => Label::Service,
            "namespace" => Label::Namespace,
            "type" => Label::Type,
            "level" | "detected_level" | "severity" => Label::Level,
            _ => return None,
        })
    }

    /// The stream label's name in answers, which is also the `logs` column holding it.
    pub fn name(self) -> &'static str {
        match self {
            Label::Service => "service",
            Label::Namespace => "namespace",
            Label::Type => "type",
            Label::Level => "level",
        }
    }
}

/// A duration as Loki and Prometheus write it (`90s`, `1h30m`, `250ms`, `2d`), or plain seconds
/// (`15`, `0.5`); `None` when it is neither.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return (0.0..1e12)
            .contains(&secs)
            .then(|| (secs * 1000.0).round() as i64);
    }
    let mut total: i64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 || digits > 12 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(ms)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// A time parameter, read as Loki reads it: an integer is Unix seconds up to 10 digits and
/// Unix nanoseconds beyond (as Grafana sends), a number with a `.` Unix seconds, else RFC 3339.
pub fn parse_time(field: &str, raw: &str) -> Result<UnixMs, ApiError> {
    let s = raw.trim();
    let bad = || {
        ApiError::invalid(
            field,
            "must be Unix nanoseconds, Unix seconds or an RFC 3339 time",
        )
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(UnixMs(t.timestamp_millis()));
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().map_err(|_| bad())?;
        return Ok(UnixMs(if digits.len() <= 10 {
            n.saturating_mul(1000)
        } else {
            n / 1_000_000
        }));
    }
    let secs: f64 = s.parse().map_err(|_| bad())?;
    if !secs.is_finite() || secs.abs() > 1e13 {
        return Err(bad());
    }
    Ok(UnixMs((secs * 1000.0).round() as i64))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
