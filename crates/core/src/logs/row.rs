//! Dashboard log items as stored (`logs` table, migrations/0004_logs.sql): built once at
//! ingestion from a raw line (§7) or a LiteSOC event (§3.1, §6), never reclassified.

use super::push::{PushEntry, PushStream};
use super::{MAX_FIELD_BYTES, MAX_FUTURE_MS, MAX_LABEL_BYTES, MAX_LINE_BYTES};
use crate::access::ids::OrgId;
use crate::api::sql::{SqlParam, Statement};
use crate::ingest::record::{json_array_chunks, EventRecord};
use crate::logs::classify::parsers::split_cloudtrail_file;
use crate::logs::classify::{
    classify_event, event_log_level, extract_fields, IamAction, LogLevel, LogType,
};
use crate::time::UnixMs;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

const HOUR_MS: i64 = 3_600_000;

/// `_metadata.service` of a raw line without a service label (§3.1).
pub const DEFAULT_SERVICE: &str = "unknown";
/// `_metadata.namespace` of a raw line without a `namespace` label (§3.1).
pub const DEFAULT_NAMESPACE: &str = "default";
/// `_metadata.namespace` of an event without `metadata.namespace` (§3.1).
pub const EVENT_NAMESPACE: &str = "litesoc";

/// One log item: a `logs` row (a raw line), or the item of an event, which its `events` row
/// holds (migrations/0019_events_stored_once.sql). Serialised as the JSON object that
/// [`INSERT_LOGS_SQL`] and the events' insert (`crate::ingest::record::insert_statements`) read
/// with `json_extract`, so the field names are the column names of `logs` and of the view `items`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRow {
    pub org_id: String,
    /// The item's time, Unix ms: the entry's timestamp, or the event's `created_at`.
    pub ts: i64,
    /// Start of the UTC hour containing `ts`, Unix ms (timeline and heatmap buckets).
    pub hour: i64,
    #[serde(rename = "type")]
    pub log_type: LogType,
    /// Only for `iam_change`.
    pub action: Option<IamAction>,
    /// `_metadata.severity`: a log level.
    pub level: LogLevel,
    pub service: String,
    pub namespace: String,
    /// The extracted IP (lines) or `user_ip` (events); `None` renders as `"unknown"`.
    pub source_ip: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub target_ip: Option<String>,
    pub geo: Option<String>,
    pub device: Option<String>,
    pub vpn: Option<bool>,
    /// What a raw line carries beyond its dashboard item (never an event's: the event holds its
    /// own), left out of the JSON where unknown.
    #[serde(flatten)]
    pub detail: LineDetail,
    pub status_code: Option<u16>,
    /// What an IAM change acted on (§3.3): what a format parser read or a `resource` field
    /// (lines; an access line's path, too), or
    /// `metadata.resource` → `target` → `new_role` → the event name (events).
    pub resource: Option<String>,
    /// The raw line, truncated to 8 KiB (lines); the event name, plus `metadata.message` when
    /// it is a string (events).
    pub message: String,
    /// The event's UUID (events only): the item id, and the idempotency key of a redelivery.
    pub event_id: Option<String>,
    /// The event name (events only). `None` marks a raw line.
    pub event_name: Option<String>,
}

/// Where a raw line's address is and what its network is (enrichment, Pro and above:
/// `super::enrich`), and which format parser read it: what identity detection measures a login
/// line by (`super::logins`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LineDetail {
    /// The located address's coordinates and city.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// The address's network and threat score, as an event's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_tor: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_proxy: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_datacenter: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threat_score: Option<u8>,
    /// The format parser that read the line (§7.5), `None` when the keyword rules classified it:
    /// only a parser's login feeds the identity rules (`super::logins`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parser: Option<&'static str>,
}

/// The columns of `logs` written by [`INSERT_LOGS_SQL`], in order, after `id`.
pub const LOG_COLUMNS: [&str; 20] = [
    "org_id",
    "ts",
    "hour",
    "type",
    "action",
    "level",
    "service",
    "namespace",
    "source_ip",
    "user",
    "hostname",
    "target_ip",
    "geo",
    "device",
    "vpn",
    "status_code",
    "resource",
    "message",
    "event_id",
    "event_name",
];

/// Inserts every row of the JSON array bound to `?1`, raw lines, numbered in the array's order
/// from the one sequence of `logs` and `events` row ids
/// (`crate::ingest::record::NEXT_ITEM_ID_BASE`). `OR IGNORE` on `event_id` (UNIQUE) would make
/// an item with an event id a no-op the second time; the code stores events' items with their
/// events now, never here.
pub const INSERT_LOGS_SQL: &str = "INSERT OR IGNORE INTO logs (id, org_id, ts, hour, type, action, level, \
service, namespace, source_ip, user, hostname, target_ip, geo, device, vpn, status_code, resource, message, \
event_id, event_name, latitude, longitude, city, parser, asn, is_tor, is_proxy, is_datacenter, threat_score) SELECT (SELECT max(coalesce((SELECT max(rowid) FROM events), 0), \
coalesce((SELECT max(id) FROM logs), 0), coalesce((SELECT upto FROM rollup_marks WHERE org_id = ''), 0))) + key + 1, json_extract(value, '$.org_id'), json_extract(value, '$.ts'), \
json_extract(value, '$.hour'), json_extract(value, '$.type'), json_extract(value, '$.action'), \
json_extract(value, '$.level'), json_extract(value, '$.service'), json_extract(value, '$.namespace'), \
json_extract(value, '$.source_ip'), json_extract(value, '$.user'), json_extract(value, '$.hostname'), \
json_extract(value, '$.target_ip'), json_extract(value, '$.geo'), json_extract(value, '$.device'), \
json_extract(value, '$.vpn'), json_extract(value, '$.status_code'), json_extract(value, '$.resource'), \
json_extract(value, '$.message'), json_extract(value, '$.event_id'), json_extract(value, '$.event_name'), \
json_extract(value, '$.latitude'), json_extract(value, '$.longitude'), json_extract(value, '$.city'), \
json_extract(value, '$.parser'), json_extract(value, '$.asn'), json_extract(value, '$.is_tor'), \
json_extract(value, '$.is_proxy'), json_extract(value, '$.is_datacenter'), json_extract(value, '$.threat_score') \
FROM json_each(?1)";

/// What `RETURNING` gives back for each inserted row when asked (see [`insert_statements`]):
/// what detection needs to pick the stored login lines and key them (brute force over failures,
/// `super::detect`), and to judge a success where it came from (`super::logins`).
pub const RETURNING: &str =
    " RETURNING id, ts, type, source_ip, user, geo, latitude, longitude, city, vpn, device, parser, asn, \
     is_tor, is_proxy, is_datacenter";

/// One stored line as [`RETURNING`] gives it back (numbers arrive as JavaScript's doubles).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StoredLine {
    #[serde(deserialize_with = "integer")]
    pub id: i64,
    #[serde(deserialize_with = "integer")]
    pub ts: i64,
    #[serde(rename = "type")]
    pub log_type: LogType,
    pub source_ip: Option<String>,
    pub user: Option<String>,
    pub geo: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub city: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    pub vpn: Option<bool>,
    pub device: Option<String>,
    pub parser: Option<String>,
    #[serde(default, deserialize_with = "asn")]
    pub asn: Option<u32>,
    #[serde(default, deserialize_with = "flag")]
    pub is_tor: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    pub is_proxy: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    pub is_datacenter: Option<bool>,
}

fn asn<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.and_then(crate::intel::ipdb::asn_number))
}

fn integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(f64::deserialize(d)? as i64)
}

/// SQLite's integer for a flag.
fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.map(|v| v != 0.0))
}

impl StoredLine {
    /// A row of `INSERT … RETURNING` ([`RETURNING`]); `None` for any other shape.
    pub fn from_returned(row: &Value) -> Option<StoredLine> {
        StoredLine::deserialize(row).ok()
    }

    /// The line's item id, `<row id>-<unix seconds>` ([`item_id`]).
    pub fn item_id(&self) -> String {
        item_id(self.id, self.ts)
    }
}

/// The statements storing raw lines `rows`: an insert per JSON array of at most about
/// `max_bytes`. With `returning`, each returns the [`RETURNING`] columns of every row it
/// inserted. (Events' items are stored with their events,
/// `crate::ingest::record::insert_statements`; the rollups catch up from both,
/// [`super::rollups::catch_up`].)
pub fn insert_statements(
    rows: &[LogRow],
    returning: bool,
    max_bytes: usize,
) -> Result<Vec<Statement>, serde_json::Error> {
    let sql = if returning {
        format!("{INSERT_LOGS_SQL}{RETURNING}")
    } else {
        INSERT_LOGS_SQL.to_string()
    };
    let mut out = Vec::new();
    for chunk in json_array_chunks(rows, max_bytes)? {
        out.push((sql.clone(), vec![SqlParam::Text(chunk)]));
    }
    Ok(out)
}

/// The dashboard id of a raw line: `<row id>-<unix seconds>` (§2, the seed's id style).
pub fn item_id(row_id: i64, ts_ms: i64) -> String {
    format!("{row_id}-{}", ts_ms.div_euclid(1000))
}

/// The start of the UTC hour containing `ts_ms`.
pub fn hour_bucket(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// `s` cut to at most `max` bytes at a character boundary, and whether it was cut.
pub fn truncate_utf8(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

/// A field value cut to [`MAX_FIELD_BYTES`] (structured metadata is not bounded by the line).
fn capped(v: Option<String>) -> Option<String> {
    v.map(|s| match truncate_utf8(&s, MAX_FIELD_BYTES) {
        (_, false) => s,
        (cut, true) => cut.to_string(),
    })
}

/// A label or metadata value as text: a non-empty trimmed string, or a number or boolean
/// written out; truncated to [`MAX_LABEL_BYTES`].
fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then(|| truncate_utf8(&s, MAX_LABEL_BYTES).0.to_string())
}

/// The first of `keys` present in `map` with a usable value.
fn first(map: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| map.get(*k).and_then(text))
}

/// What a stream's labels contribute to each of its rows (§7.1 "Labels", §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamLabels {
    /// `service` → `service_name` → `app` → `application` (python-logging-loki's tag) → `job`,
    /// else `unknown`.
    pub service: String,
    /// `namespace`, else `default`.
    pub namespace: String,
    /// `pod` → `host` → `hostname`; wins over a hostname field of the line.
    pub hostname: Option<String>,
    /// `level` → `severity` → `detected_level`, normalised; used when the line gives no level.
    pub level: Option<LogLevel>,
    /// `device`; used when the line has no device field.
    pub device: Option<String>,
}

impl StreamLabels {
    /// Reads the labels; the first present label of each list wins, where "present" means a
    /// non-empty value. Label values are truncated to [`MAX_LABEL_BYTES`].
    pub fn from_labels(labels: &Map<String, Value>) -> Self {
        StreamLabels {
            service: first(
                labels,
                &["service", "service_name", "app", "application", "job"],
            )
            .unwrap_or_else(|| DEFAULT_SERVICE.into()),
            namespace: first(labels, &["namespace"]).unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
            hostname: first(labels, &["pod", "host", "hostname"]),
            level: first(labels, &["level", "severity", "detected_level"])
                .map(|l| LogLevel::normalize(&l)),
            device: first(labels, &["device"]),
        }
    }
}

/// The row of one entry (already inside the time bounds), and whether its line was truncated.
///
/// * type/action: the format parser's (§7.5), else §4/§5 over the line's method, message and
///   status;
/// * level: the line's level, else the stream's level label, else from the status (§7.3);
/// * hostname: the label, else a field (§3.1, `hostname`);
/// * device: a field, else the label (§3.1, `device`).
pub fn line_row(org: &OrgId, labels: &StreamLabels, entry: &PushEntry) -> (LogRow, bool) {
    let (line, truncated) = truncate_utf8(&entry.line, MAX_LINE_BYTES);
    let f = extract_fields(line, entry.structured.as_ref());
    let (log_type, action) = f.classify();
    let level = f
        .level
        .or(labels.level)
        .unwrap_or_else(|| LogLevel::from_status(f.status));
    let row = LogRow {
        org_id: org.0.clone(),
        ts: entry.ts.0,
        hour: hour_bucket(entry.ts.0),
        log_type,
        action,
        level,
        service: labels.service.clone(),
        namespace: labels.namespace.clone(),
        source_ip: f.ip,
        user: capped(f.user),
        hostname: labels.hostname.clone().or(capped(f.hostname)),
        target_ip: f.target_ip,
        geo: capped(f.geo),
        device: capped(f.device).or_else(|| labels.device.clone()),
        vpn: f.vpn,
        detail: LineDetail {
            parser: f.parsed.as_ref().map(|p| p.parser),
            ..LineDetail::default()
        },
        status_code: f.status,
        resource: capped(f.resource),
        message: line.trim().to_string(),
        event_id: None,
        event_name: None,
    };
    (row, truncated)
}

/// The rows of a push and what was left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineRows {
    pub rows: Vec<LogRow>,
    /// Entries older than the retention cutoff.
    pub dropped_old: usize,
    /// Entries more than 10 minutes in the future.
    pub dropped_future: usize,
    /// Entries whose line is empty or only whitespace: nothing to classify or show.
    pub dropped_empty: usize,
    /// Records of CloudTrail files beyond the [`super::MAX_ENTRIES`] rows a push may hold.
    pub dropped_excess: usize,
    /// Entries that were CloudTrail files, and the records read from them (stored or dropped
    /// for their time, not those beyond the bound): the rows and drops add up to the entries
    /// less the files plus their records.
    pub files: usize,
    pub records: usize,
    /// Lines cut to 8 KiB.
    pub truncated: usize,
}

/// Builds every row of a push for `org`. Entries are kept when `cutoff <= ts <= now + 10 min`
/// (both ends inclusive); the rest are counted, not stored. A CloudTrail log file on one line is
/// its records, each a row at its own `eventTime` (docs/dashboard.md §7.5), up to
/// [`super::MAX_ENTRIES`] rows in all.
pub fn build_line_rows(
    streams: &[PushStream],
    org: &OrgId,
    now: UnixMs,
    cutoff: UnixMs,
) -> LineRows {
    let latest = now.0.saturating_add(MAX_FUTURE_MS);
    let mut out = LineRows::default();
    let keep = |out: &mut LineRows, labels: &StreamLabels, entry: &PushEntry| {
        if entry.ts < cutoff {
            out.dropped_old += 1;
        } else if entry.ts.0 > latest {
            out.dropped_future += 1;
        } else if entry.line.trim().is_empty() {
            out.dropped_empty += 1;
        } else {
            let (row, truncated) = line_row(org, labels, entry);
            out.truncated += usize::from(truncated);
            out.rows.push(row);
        }
    };
    for stream in streams {
        let labels = StreamLabels::from_labels(&stream.labels);
        for entry in &stream.entries {
            let room = super::MAX_ENTRIES.saturating_sub(out.rows.len());
            let Some((records, beyond)) = split_cloudtrail_file(&entry.line, room) else {
                keep(&mut out, &labels, entry);
                continue;
            };
            out.dropped_excess += beyond;
            out.files += 1;
            out.records += records.len();
            for (line, at) in records {
                let record = PushEntry {
                    ts: at.map_or(entry.ts, UnixMs),
                    line,
                    structured: entry.structured.clone(),
                };
                keep(&mut out, &labels, &record);
            }
        }
    }
    out
}

/// A metadata value as text (a non-empty trimmed string, or a number), truncated to
/// [`MAX_FIELD_BYTES`].
fn meta(r: &EventRecord, key: &str) -> Option<String> {
    capped(r.metadata.get(key).and_then(|v| match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }))
}

/// A metadata value used like a label (service, namespace), truncated to [`MAX_LABEL_BYTES`].
fn meta_label(r: &EventRecord, key: &str) -> Option<String> {
    meta(r, key).map(|s| truncate_utf8(&s, MAX_LABEL_BYTES).0.to_string())
}

/// `metadata.status_code` when it is an integer (or a string of digits) in 100–599.
fn meta_status(r: &EventRecord) -> Option<u16> {
    let n = match r.metadata.get("status_code")? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s)
            if !s.trim().is_empty() && s.trim().bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.trim().parse().ok()?
        }
        _ => return None,
    };
    u16::try_from(n).ok().filter(|n| (100..=599).contains(n))
}

/// The log item of a stored LiteSOC event (§3.1 "Events" column):
/// * type/action from §6 ([`classify_event`], with `metadata.message` for custom events);
/// * level from the event severity ([`event_log_level`]);
/// * service: `metadata.service`, else the category; namespace: `metadata.namespace`, else
///   `litesoc`;
/// * source_ip = `user_ip`, user = `actor_id`, geo = `country_code`, vpn = `is_vpn`;
/// * hostname, target_ip, device and status_code from `metadata`.
pub fn event_row(r: &EventRecord) -> LogRow {
    let message_meta = match r.metadata.get("message") {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let (log_type, action) = classify_event(&r.event_name, message_meta);
    let message = match message_meta.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => format!("{}: {m}", r.event_name),
        None => r.event_name.clone(),
    };
    let non_empty = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    LogRow {
        org_id: r.org_id.0.clone(),
        ts: r.created_at.0,
        hour: hour_bucket(r.created_at.0),
        log_type,
        action,
        level: event_log_level(r.severity),
        service: meta_label(r, "service").unwrap_or_else(|| r.category.clone()),
        namespace: meta_label(r, "namespace").unwrap_or_else(|| EVENT_NAMESPACE.into()),
        source_ip: non_empty(&r.user_ip),
        user: non_empty(&r.actor_id),
        hostname: meta(r, "hostname"),
        target_ip: meta(r, "target_ip"),
        geo: non_empty(&r.enrichment.country_code),
        device: meta(r, "device"),
        vpn: r.enrichment.is_vpn,
        detail: LineDetail::default(),
        status_code: meta_status(r),
        resource: meta(r, "resource")
            .or_else(|| meta(r, "target"))
            .or_else(|| meta(r, "new_role"))
            .or_else(|| Some(r.event_name.clone())),
        message: truncate_utf8(&message, MAX_LINE_BYTES).0.to_string(),
        event_id: Some(r.id.to_string()),
        event_name: Some(r.event_name.clone()),
    }
}
