//! `GET /logs` and `GET /logs/:id` (docs/api.md §5.12): the raw lines as received, with what
//! was extracted from them, newest first. Every statement starts from `org_id = ?1 AND ts >=
//! cutoff`, so no filter reaches another organisation's lines or lines past retention.
//!
//! A page reads at most [`MAX_SCANNED`] lines of the window, newest first through `logs_org_ts`,
//! and keeps those that pass the filters: however rare the matches, a request's cost is bounded.
//! When the scan ends before the page is full, the page says `has_more` and its cursor resumes
//! after the last line scanned, so a client walking the cursor sees every match exactly once
//! (a page may then hold fewer lines than `limit`, or none).

use super::classify::LogType;
use super::item_id;
use crate::api::cursor::{Cursor, CursorKey};
use crate::api::error::ApiError;
use crate::api::params::{aliased, ip_param, parse_limit, parse_time_bound};
use crate::api::sql::{SqlParam, Statement};
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::{json, Value};

/// `/logs` page size bounds.
pub const LOGS_DEFAULT_LIMIT: u32 = 50;
pub const LOGS_MAX_LIMIT: u32 = 200;
/// Most lines one page reads (index entries and rows); see the module doc.
pub const MAX_SCANNED: u32 = 5000;
/// Longest `q` (text contained in the line).
pub const MAX_CONTAINS_CHARS: usize = 200;

/// The columns a line is read with.
const COLUMNS: &str = "l.id, l.org_id, l.ts, l.type, l.action, l.level, l.service, l.namespace, \
    l.source_ip, l.user, l.hostname, l.target_ip, l.geo, l.city, l.latitude, l.longitude, l.asn, l.vpn, \
    l.is_tor, l.is_proxy, l.is_datacenter, l.threat_score, l.device, l.status_code, l.resource, \
    l.parser, l.message";

/// A parsed, validated `GET /logs` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogQuery {
    pub limit: u32,
    pub log_type: Option<LogType>,
    pub source_ip: Option<String>,
    pub user: Option<String>,
    pub service: Option<String>,
    pub namespace: Option<String>,
    /// Text the line contains, compared without ASCII case.
    pub contains: Option<String>,
    pub from: Option<UnixMs>,
    pub to: Option<UnixMs>,
    /// Lines strictly after this position (`ts`, row id), newest-first order.
    pub cursor: Option<Cursor>,
}

impl LogQuery {
    /// Parses the query string pairs of `GET /logs`; `cursors` opens the `cursor` parameter.
    pub fn parse(params: &[(String, String)], cursors: &CursorKey) -> Result<LogQuery, ApiError> {
        let text = |names: &[&str]| -> Result<Option<String>, ApiError> {
            Ok(aliased(params, names)?.map(|s| s.trim().to_string()))
        };
        let log_type = text(&["type"])?
            .map(|t| {
                LogType::parse(&t).ok_or_else(|| {
                    ApiError::invalid(
                        "type",
                        "must be login_failure, login_success, iam_change, network_scan or network_event",
                    )
                })
            })
            .transpose()?;
        let source_ip = text(&["source_ip", "ip"])?
            .map(|ip| ip_param("source_ip", &ip))
            .transpose()?;
        let contains = text(&["q", "contains"])?;
        if contains
            .as_ref()
            .is_some_and(|q| q.chars().count() > MAX_CONTAINS_CHARS)
        {
            return Err(ApiError::invalid(
                "q",
                format!("must be at most {MAX_CONTAINS_CHARS} characters"),
            ));
        }
        let cursor = aliased(params, &["cursor"])?
            .map(|c| cursors.decode(c))
            .transpose()?;
        if cursor
            .as_ref()
            .is_some_and(|c| c.id.parse::<i64>().is_err())
        {
            return Err(ApiError::invalid("cursor", "is not a cursor of this list"));
        }
        Ok(LogQuery {
            limit: parse_limit(
                aliased(params, &["limit"])?,
                LOGS_DEFAULT_LIMIT,
                LOGS_MAX_LIMIT,
            )?,
            log_type,
            source_ip,
            user: text(&["user", "actor_id"])?,
            service: text(&["service"])?,
            namespace: text(&["namespace"])?,
            contains,
            from: aliased(params, &["from", "start_date"])?
                .map(|s| parse_time_bound("from", s, false))
                .transpose()?,
            to: aliased(params, &["to", "end_date"])?
                .map(|s| parse_time_bound("to", s, true))
                .transpose()?,
            cursor,
        })
    }

    /// The page's statement for `org`: up to `limit + 1` matching lines as rows of [`LineRow`]
    /// columns, then one row `{scanned, last_ts, last_id}` saying how far the scan went.
    pub fn page_sql(&self, org: &str, cutoff: UnixMs) -> Statement {
        let lower = self.from.map_or(cutoff, |from| from.max(cutoff));
        let upper = self.to.unwrap_or(UnixMs(i64::MAX / 2));
        let mut params = vec![
            SqlParam::Text(org.into()),
            SqlParam::Number(lower.0 as f64),
            SqlParam::Number(upper.0 as f64),
        ];
        let mut after = String::new();
        if let Some(c) = &self.cursor {
            params.push(SqlParam::Number(c.created_at.0 as f64));
            params.push(SqlParam::Number(c.id.parse::<i64>().unwrap_or(0) as f64));
            after = format!(
                " AND (ts < ?{a} OR (ts = ?{a} AND id < ?{b}))",
                a = params.len() - 1,
                b = params.len()
            );
        }
        let mut filters = String::new();
        let mut filter = |sql: &str, value: String| {
            params.push(SqlParam::Text(value));
            filters.push_str(&format!(" AND {sql}?{}", params.len()));
        };
        if let Some(t) = self.log_type {
            filter("l.type = ", t.as_str().to_string());
        }
        for (column, value) in [
            ("source_ip", &self.source_ip),
            ("user", &self.user),
            ("service", &self.service),
            ("namespace", &self.namespace),
        ] {
            if let Some(v) = value {
                filter(&format!("l.{column} = "), v.clone());
            }
        }
        if let Some(q) = &self.contains {
            filter("instr(lower(l.message), lower(", q.clone());
            filters.push_str(")) > 0");
        }
        let sql = format!(
            "WITH s AS MATERIALIZED (SELECT id, ts FROM logs INDEXED BY logs_org_ts WHERE org_id = ?1 \
             AND ts >= ?2 AND ts <= ?3{after} ORDER BY ts DESC, id DESC LIMIT {MAX_SCANNED}) \
             SELECT * FROM (SELECT {COLUMNS}, NULL AS scanned FROM s JOIN logs AS l ON l.id = s.id \
             WHERE l.org_id = ?1{filters} ORDER BY l.ts DESC, l.id DESC LIMIT {more}) \
             UNION ALL SELECT {nulls}, (SELECT count(*) FROM s) AS scanned",
            more = self.limit + 1,
            nulls = trailer_columns(),
        );
        (sql, params)
    }
}

/// The trailer row's columns: the oldest scanned line's `id` and `ts`, the rest NULL.
fn trailer_columns() -> String {
    COLUMNS
        .split(',')
        .map(|c| match c.trim() {
            "l.id" => "(SELECT id FROM s ORDER BY ts, id LIMIT 1)".to_string(),
            "l.ts" => "(SELECT ts FROM s ORDER BY ts, id LIMIT 1)".to_string(),
            other => format!("NULL AS {}", other.trim_start_matches("l.")),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statement reading line `raw_id` (`<row id>-<unix seconds>`, its item id) of `org`, or
/// `None` when `raw_id` is no item id (the caller answers 404, as for another's).
pub fn line_sql(org: &str, raw_id: &str, cutoff: UnixMs) -> Option<Statement> {
    let (row, secs) = raw_id.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(row) || !digits(secs) {
        return None;
    }
    let (row, secs): (i64, i64) = (row.parse().ok()?, secs.parse().ok()?);
    Some((
        format!(
            "SELECT {COLUMNS} FROM logs AS l WHERE l.id = ?1 AND l.org_id = ?2 AND l.ts >= ?3 \
             AND l.event_id IS NULL AND l.ts / 1000 = ?4"
        ),
        vec![
            SqlParam::Number(row as f64),
            SqlParam::Text(org.into()),
            SqlParam::Number(cutoff.0 as f64),
            SqlParam::Number(secs as f64),
        ],
    ))
}

/// One line as read by [`LogQuery::page_sql`] or [`line_sql`] (numbers arrive as doubles).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LineRow {
    pub id: Option<f64>,
    pub org_id: Option<String>,
    pub ts: Option<f64>,
    #[serde(rename = "type")]
    pub log_type: Option<String>,
    pub action: Option<String>,
    pub level: Option<String>,
    pub service: Option<String>,
    pub namespace: Option<String>,
    pub source_ip: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub target_ip: Option<String>,
    pub geo: Option<String>,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub asn: Option<f64>,
    pub vpn: Option<f64>,
    pub is_tor: Option<f64>,
    pub is_proxy: Option<f64>,
    pub is_datacenter: Option<f64>,
    pub threat_score: Option<f64>,
    pub device: Option<String>,
    pub status_code: Option<f64>,
    pub resource: Option<String>,
    pub parser: Option<String>,
    pub message: Option<String>,
    /// Set on the page's trailer row only.
    #[serde(default)]
    pub scanned: Option<f64>,
}

impl LineRow {
    fn position(&self) -> Option<Cursor> {
        Some(Cursor {
            created_at: UnixMs(self.ts? as i64),
            id: (self.id? as i64).to_string(),
        })
    }

    /// The API object (docs/api.md §5.12). `redact` (Free) hides location and network
    /// intelligence, as on events.
    pub fn to_api(&self, redact: bool) -> Value {
        let (id, ts) = (self.id.unwrap_or(0.0) as i64, self.ts.unwrap_or(0.0) as i64);
        let flag = |v: Option<f64>| v.map(|v| v != 0.0);
        let int = |v: Option<f64>| v.map(|v| v as i64);
        let mut out = json!({
            "id": item_id(id, ts),
            "org_id": self.org_id,
            "timestamp": UnixMs(ts).iso_millis(),
            "type": self.log_type,
            "action": self.action,
            "level": self.level,
            "service": self.service,
            "namespace": self.namespace,
            "source_ip": self.source_ip,
            "user": self.user,
            "hostname": self.hostname,
            "target_ip": self.target_ip,
            "device": self.device,
            "status_code": int(self.status_code),
            "resource": self.resource,
            "parser": self.parser,
            "message": self.message,
            "geo": self.geo,
            "location": {"city": self.city, "latitude": self.latitude, "longitude": self.longitude},
            "network": {"asn": int(self.asn), "is_vpn": flag(self.vpn), "is_tor": flag(self.is_tor),
                "is_proxy": flag(self.is_proxy), "is_datacenter": flag(self.is_datacenter)},
            "threat_score": int(self.threat_score),
        });
        if redact {
            for key in ["geo", "location", "network", "threat_score"] {
                out[key] = Value::Null;
            }
        }
        out
    }
}

/// One page of lines: the rows of [`LogQuery::page_sql`] made into `data` and `pagination`
/// (`limit`, `has_more`, `next_cursor`, `scanned`; no total, which would read every match).
pub fn page(
    rows: Vec<LineRow>,
    q: &LogQuery,
    cursors: &CursorKey,
    redact: bool,
) -> (Vec<Value>, Value) {
    let (mut lines, trailer): (Vec<LineRow>, Vec<LineRow>) =
        rows.into_iter().partition(|r| r.scanned.is_none());
    let trailer = trailer.into_iter().next();
    let scanned = trailer.as_ref().and_then(|t| t.scanned).unwrap_or(0.0) as u32;
    let full = lines.len() > q.limit as usize;
    lines.truncate(q.limit as usize);
    let next = if full {
        lines.last().and_then(LineRow::position)
    } else if scanned >= MAX_SCANNED {
        // The scan stopped before the window's end: resume after its last line.
        trailer.as_ref().and_then(LineRow::position)
    } else {
        None
    };
    let data = lines.iter().map(|l| l.to_api(redact)).collect();
    let pagination = json!({
        "limit": q.limit,
        "has_more": next.is_some(),
        "next_cursor": next.map(|c| cursors.encode(&c)),
        "scanned": scanned,
    });
    (data, pagination)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "read_tests.rs"]
mod tests;
