//! Exports (docs/api.md §5.13): `GET /events/export`, `GET /alerts/export` and `GET /logs/export`
//! answer a part of their list as NDJSON (one API object a line) or CSV, newest first, with the
//! list's filters. A part holds at most a bounded number of rows; `X-Next-Cursor` names the next
//! part, so a large range is fetched part by part, each a bounded read, and a client always
//! knows how far it got.

use crate::api::error::ApiError;
use crate::api::params::aliased;
use serde_json::Value;

/// Rows of one part of an events or alerts export.
pub const EXPORT_ROWS: u32 = 1000;
/// Rows of one part of a log export (a line may be 8 KiB).
pub const LOG_EXPORT_ROWS: u32 = 500;

/// The columns of each export's CSV, in order: the API object's keys (nested objects as JSON).
pub const EVENT_COLUMNS: [&str; 19] = [
    "id",
    "org_id",
    "created_at",
    "event_name",
    "category",
    "severity",
    "actor_id",
    "actor_email",
    "user_ip",
    "country_code",
    "city",
    "latitude",
    "longitude",
    "is_vpn",
    "is_tor",
    "is_proxy",
    "is_datacenter",
    "threat_score",
    "metadata",
];
pub const ALERT_COLUMNS: [&str; 17] = [
    "id",
    "org_id",
    "created_at",
    "updated_at",
    "alert_type",
    "severity",
    "status",
    "title",
    "description",
    "source_ip",
    "actor_id",
    "trigger_event_id",
    "resolution_type",
    "resolved_at",
    "resolved_by",
    "suppressed_by",
    "metadata",
];
pub const LOG_COLUMNS: [&str; 21] = [
    "id",
    "org_id",
    "timestamp",
    "type",
    "action",
    "level",
    "service",
    "namespace",
    "source_ip",
    "user",
    "hostname",
    "target_ip",
    "device",
    "status_code",
    "resource",
    "parser",
    "geo",
    "location",
    "network",
    "threat_score",
    "message",
];

/// An export's format, by its `format` parameter (default NDJSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Ndjson,
    Csv,
}

impl ExportFormat {
    pub fn parse(params: &[(String, String)]) -> Result<ExportFormat, ApiError> {
        match aliased(params, &["format"])?.map(str::trim) {
            None | Some("ndjson") => Ok(ExportFormat::Ndjson),
            Some("csv") => Ok(ExportFormat::Csv),
            Some(_) => Err(ApiError::invalid("format", "must be ndjson or csv")),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Csv => "csv",
        }
    }

    /// The body of `rows` (API objects): a line each, or a CSV of `columns` with a header.
    pub fn body(self, rows: &[Value], columns: &[&str]) -> String {
        match self {
            ExportFormat::Ndjson => rows.iter().map(|r| format!("{r}\n")).collect(),
            ExportFormat::Csv => csv(rows, columns),
        }
    }
}

/// One CSV cell, RFC 4180 quoted. A cell a spreadsheet would read as a formula (`=`, `+`, `-`,
/// `@`, tab, carriage return first) is prefixed with `'`.
pub fn csv_cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

/// CSV of `rows` with a header line of `columns`: strings as they are, numbers and booleans
/// written out, null empty, objects and arrays as JSON.
pub fn csv(rows: &[Value], columns: &[&str]) -> String {
    let mut out = columns.join(",");
    out.push_str("\r\n");
    for row in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match row.get(*c) {
                None | Some(Value::Null) => csv_cell(""),
                Some(Value::String(s)) => csv_cell(s),
                Some(other) => csv_cell(&other.to_string()),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn formats_by_parameter() {
        assert_eq!(ExportFormat::parse(&[]).unwrap(), ExportFormat::Ndjson);
        let csv = ExportFormat::parse(&params(&[("format", "csv")])).unwrap();
        assert_eq!(
            (csv.content_type(), csv.extension()),
            ("text/csv; charset=utf-8", "csv")
        );
        assert_eq!(
            ExportFormat::parse(&params(&[("format", "xml")]))
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn bodies_hold_every_row_and_csv_quotes_and_guards_cells() {
        let rows = vec![
            json!({"id": "a", "n": 3, "ok": true, "meta": {"k": "v,\"w\""}, "none": null}),
            json!({"id": "=HYPERLINK(\"x\")", "n": -1.5}),
        ];
        let nd = ExportFormat::Ndjson.body(&rows, &[]);
        let back: Vec<Value> = nd
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, rows);
        assert_eq!(
            csv(&rows, &["id", "n", "ok", "meta", "none", "absent"]),
            "id,n,ok,meta,none,absent\r\n\
             \"a\",\"3\",\"true\",\"{\"\"k\"\":\"\"v,\\\"\"w\\\"\"\"\"}\",\"\",\"\"\r\n\
             \"'=HYPERLINK(\"\"x\"\")\",\"'-1.5\",\"\",\"\",\"\",\"\"\r\n"
        );
    }
}
