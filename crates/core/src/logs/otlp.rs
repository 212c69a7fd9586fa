//! OTLP/HTTP logs (docs/dashboard.md §7.6): an `ExportLogsServiceRequest`, as JSON or binary
//! protobuf, becomes the Loki push's streams, so both sources take one path to storage.
//!
//! * one stream per `scopeLogs`; its labels are the resource's attributes, with the
//!   semantic-convention names edgesoc reads mapped: `service.name` → `service`,
//!   `service.namespace` / `k8s.namespace.name` → `namespace`, `host.name` → `host`,
//!   `k8s.pod.name` → `pod`;
//! * one entry per log record: the time is `timeUnixNano`, else `observedTimeUnixNano`, else
//!   now; the line is the body (a string as is, anything else as its JSON); the record's
//!   attributes and its severity (`level`) are the entry's structured metadata, with the
//!   client address, user, HTTP method and status attributes renamed to the keys of §7.3.
//!
//! Limits are the push's: 4 MiB after decompression, 10,000 records, 32 attributes per label
//! set or record (further attributes are not kept).

use super::push::{PushEntry, PushStream};
use super::{Encoding, Format, MAX_ENTRIES, MAX_LABELS, MAX_STREAMS};
use crate::api::error::ApiError;
use crate::time::UnixMs;
use serde_json::{Map, Value};

mod wire;

pub use wire::response_body;

/// The records of an export as push streams, and how many records the export held.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OtlpLogs {
    pub streams: Vec<PushStream>,
    pub records: usize,
}

/// One attribute value, whichever encoding it came in.
#[derive(Debug, Clone, PartialEq)]
enum Any {
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<Any>),
    KvList(Vec<(String, Any)>),
    Empty,
}

impl Any {
    /// The value as JSON: scalars as themselves, bytes as base64 (the OTLP/JSON spelling),
    /// lists and maps as arrays and objects.
    fn to_json(&self) -> Value {
        use base64::Engine as _;
        match self {
            Any::Str(s) => Value::String(s.clone()),
            Any::Bool(b) => Value::Bool(*b),
            Any::Int(i) => Value::from(*i),
            Any::Double(d) => serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number),
            Any::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Any::Array(a) => Value::Array(a.iter().map(Any::to_json).collect()),
            Any::KvList(kv) => Value::Object(
                kv.iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect::<Map<_, _>>(),
            ),
            Any::Empty => Value::Null,
        }
    }

    /// The value as a line or label: a string as is, anything else as its JSON text.
    fn to_text(&self) -> String {
        match self {
            Any::Str(s) => s.clone(),
            Any::Empty => String::new(),
            other => other.to_json().to_string(),
        }
    }
}

/// One log record, decoded.
#[derive(Debug, Clone, PartialEq, Default)]
struct Record {
    time_ns: u64,
    observed_ns: u64,
    severity_number: i32,
    severity_text: String,
    body: Option<Any>,
    attributes: Vec<(String, Any)>,
    event_name: String,
    /// Hex, empty when absent.
    trace_id: String,
    span_id: String,
}

/// One `scopeLogs`, with its resource's attributes.
#[derive(Debug, Clone, PartialEq, Default)]
struct Scope {
    resource: Vec<(String, Any)>,
    records: Vec<Record>,
}

/// Checks `Content-Type` and `Content-Encoding` as the Loki push does
/// ([`super::check_headers`]: JSON or `application/x-protobuf`, optionally gzip), except that
/// OTLP's protobuf is never snappy-compressed.
pub fn check_headers(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
) -> Result<(Format, Encoding), ApiError> {
    if content_encoding.is_some_and(|c| c.to_ascii_lowercase().contains("snappy")) {
        return Err(ApiError::unsupported_media_type(
            "Content-Encoding snappy is not an OTLP encoding: send gzip or no encoding",
        ));
    }
    super::check_headers(content_type, content_encoding)
}

/// Parses an export: errors are 400 for a body that is not an `ExportLogsServiceRequest` of
/// `format`, 413 for more than [`MAX_ENTRIES`] records or [`MAX_STREAMS`] scopes. A request
/// without a single record is a 400 (nothing would be stored).
pub fn parse_export(format: Format, body: &[u8], now: UnixMs) -> Result<OtlpLogs, ApiError> {
    let scopes = match format {
        Format::Json => wire::decode_json(body)?,
        Format::Protobuf => wire::decode_proto(body)?,
    };
    if scopes.len() > MAX_STREAMS {
        return Err(ApiError::payload_too_large(format!(
            "Export has more than {MAX_STREAMS} scopeLogs"
        )));
    }
    let records: usize = scopes.iter().map(|s| s.records.len()).sum();
    if records > MAX_ENTRIES {
        return Err(ApiError::payload_too_large(format!(
            "Export has more than {MAX_ENTRIES} log records"
        )));
    }
    if records == 0 {
        return Err(ApiError::invalid(
            "resourceLogs",
            format!(
                "hold no log records ({} scopeLogs): nothing would be stored",
                scopes.len()
            ),
        ));
    }
    let streams = scopes.into_iter().map(|s| stream(s, now)).collect();
    Ok(OtlpLogs { streams, records })
}

/// Resource attributes edgesoc reads as labels (§7.1), by their semantic-convention names.
const LABEL_NAMES: [(&str, &str); 5] = [
    ("service.name", "service"),
    ("service.namespace", "namespace"),
    ("k8s.namespace.name", "namespace"),
    ("host.name", "host"),
    ("k8s.pod.name", "pod"),
];

/// Record attributes renamed to the §7.3 keys (the first present wins there).
const FIELD_NAMES: [(&str, &str); 10] = [
    ("client.address", "client_ip"),
    ("source.address", "source_ip"),
    ("net.peer.ip", "client_ip"),
    ("http.client_ip", "client_ip"),
    ("enduser.id", "user"),
    ("user.name", "username"),
    ("http.request.method", "method"),
    ("http.method", "http_method"),
    ("http.response.status_code", "status"),
    ("http.status_code", "status_code"),
];

fn renamed(key: &str, table: &[(&str, &str)]) -> String {
    table
        .iter()
        .find(|(from, _)| *from == key)
        .map_or(key, |(_, to)| to)
        .to_string()
}

fn stream(scope: Scope, now: UnixMs) -> PushStream {
    let mut labels = Map::new();
    for (key, value) in scope.resource.iter().take(MAX_LABELS) {
        labels
            .entry(renamed(key, &LABEL_NAMES))
            .or_insert_with(|| Value::String(value.to_text()));
    }
    let entries = scope.records.into_iter().map(|r| entry(r, now)).collect();
    PushStream { labels, entries }
}

fn entry(r: Record, now: UnixMs) -> PushEntry {
    let ns = if r.time_ns != 0 {
        r.time_ns
    } else {
        r.observed_ns
    };
    let ts = if ns == 0 {
        now
    } else {
        UnixMs(i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX))
    };
    let mut line = r.body.as_ref().map(Any::to_text).unwrap_or_default();
    if line.trim().is_empty() {
        line = r.event_name.clone();
    }
    let mut structured = Map::new();
    if let Some(level) = severity(&r.severity_text, r.severity_number) {
        structured.insert("level".into(), Value::String(level));
    }
    for (key, id) in [("trace_id", &r.trace_id), ("span_id", &r.span_id)] {
        if !id.is_empty() {
            structured.insert(key.into(), Value::String(id.clone()));
        }
    }
    for (key, value) in r.attributes.iter().take(MAX_LABELS) {
        structured
            .entry(renamed(key, &FIELD_NAMES))
            .or_insert_with(|| match value {
                Any::Int(_) | Any::Bool(_) | Any::Double(_) => value.to_json(),
                other => Value::String(other.to_text()),
            });
    }
    PushEntry {
        ts,
        line,
        structured: (!structured.is_empty()).then_some(structured),
    }
}

/// The record's level: its severity text, else the name of its severity number's range
/// (1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–20 error, 21–24 fatal).
fn severity(text: &str, number: i32) -> Option<String> {
    if !text.trim().is_empty() {
        return Some(text.trim().to_string());
    }
    let name = match number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => return None,
    };
    Some(name.into())
}

#[cfg(test)]
mod tests;
