//! Query-string parameters every list endpoint shares: page size and offset with the
//! contract's clamping, time bounds, and parameters with several accepted names.

use crate::api::error::ApiError;
use crate::time::UnixMs;
use chrono::{DateTime, NaiveDate};
use std::num::IntErrorKind;

/// Deepest `offset` honoured: larger ones are read as this (OFFSET scans stay bounded).
pub const MAX_OFFSET: u32 = 1_000_000;

/// An integer of any size, saturated to `i64` (so `99999999999999999999` clamps like `999999`);
/// `None` when the text is not an integer at all.
fn saturating_int(raw: &str) -> Option<i64> {
    match raw.trim().parse::<i64>() {
        Ok(n) => Some(n),
        Err(e) => match e.kind() {
            IntErrorKind::PosOverflow => Some(i64::MAX),
            IntErrorKind::NegOverflow => Some(i64::MIN),
            _ => None,
        },
    }
}

/// Parses `limit` with the contract's clamping: above max → max, below 1 → 1, non-integer → 400.
pub fn parse_limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match raw {
        None => Ok(default),
        Some(s) => {
            let n = saturating_int(s)
                .ok_or_else(|| ApiError::invalid("limit", "must be an integer"))?;
            Ok(n.clamp(1, i64::from(max)) as u32)
        }
    }
}

/// Parses `offset`: a non-negative integer, clamped to [`MAX_OFFSET`].
pub fn parse_offset(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw.map(saturating_int) {
        None => Ok(0),
        Some(Some(n)) if n >= 0 => Ok(n.min(i64::from(MAX_OFFSET)) as u32),
        Some(_) => Err(ApiError::invalid(
            "offset",
            "must be a non-negative integer",
        )),
    }
}

/// A bound from an ISO-8601 timestamp or a bare `YYYY-MM-DD`; a bare date is the start of that
/// UTC day, or with `end_of_day` its last millisecond.
pub fn parse_time_bound(field: &str, raw: &str, end_of_day: bool) -> Result<UnixMs, ApiError> {
    let s = raw.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(UnixMs(dt.timestamp_millis()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let start = d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or_default();
        return Ok(UnixMs(if end_of_day {
            start + 86_400_000 - 1
        } else {
            start
        }));
    }
    Err(ApiError::invalid(
        field,
        "must be an ISO-8601 timestamp or a YYYY-MM-DD date",
    ))
}

/// An address filter: an IPv4 or IPv6 literal, in the canonical form the items store
/// (`::ffff:203.0.113.7` is `203.0.113.7`), or a 400 naming `field`.
pub fn ip_param(field: &str, raw: &str) -> Result<String, ApiError> {
    raw.trim()
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.to_canonical().to_string())
        .map_err(|_| ApiError::invalid(field, "must be an IPv4 or IPv6 address"))
}

/// Looks a parameter up by its first present alias; two different values for aliases → 400.
pub fn aliased<'a>(
    params: &'a [(String, String)],
    names: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    let mut found: Option<(&str, &str)> = None;
    for (k, v) in params {
        if let Some(name) = names.iter().find(|n| *n == k) {
            match found {
                Some((other, prev)) if prev != v => {
                    return Err(ApiError::invalid(
                        *name,
                        format!(
                            "conflicts with {other}; give one of {} or make them equal",
                            names.join(" / ")
                        ),
                    ))
                }
                _ => found = Some((name, v.as_str())),
            }
        }
    }
    Ok(found.map(|(_, v)| v).filter(|v| !v.trim().is_empty()))
}
