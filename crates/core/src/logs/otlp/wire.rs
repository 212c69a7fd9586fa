//! The two OTLP encodings of `ExportLogsServiceRequest` and its response: binary protobuf
//! (prost, the field numbers of opentelemetry-proto's `logs/v1` and `common/v1`) and OTLP/JSON
//! (lowerCamelCase names, snake_case accepted too; 64-bit integers as strings or numbers; ids
//! as hex; bytes as base64). Unknown fields are ignored, as both encodings require.

use super::{Any, Record, Scope};
use crate::api::error::ApiError;
use crate::logs::Format;
use crate::logs::Rejected;
use prost::Message;
use serde::Deserialize;

// ---- protobuf ----

#[derive(Clone, PartialEq, Message)]
struct PbRequest {
    #[prost(message, repeated, tag = "1")]
    resource_logs: Vec<PbResourceLogs>,
}

#[derive(Clone, PartialEq, Message)]
struct PbResourceLogs {
    #[prost(message, optional, tag = "1")]
    resource: Option<PbResource>,
    #[prost(message, repeated, tag = "2")]
    scope_logs: Vec<PbScopeLogs>,
}

#[derive(Clone, PartialEq, Message)]
struct PbResource {
    #[prost(message, repeated, tag = "1")]
    attributes: Vec<PbKeyValue>,
}

#[derive(Clone, PartialEq, Message)]
struct PbScopeLogs {
    #[prost(message, repeated, tag = "2")]
    log_records: Vec<PbLogRecord>,
}

#[derive(Clone, PartialEq, Message)]
struct PbLogRecord {
    #[prost(fixed64, tag = "1")]
    time_unix_nano: u64,
    #[prost(int32, tag = "2")]
    severity_number: i32,
    #[prost(string, tag = "3")]
    severity_text: String,
    #[prost(message, optional, tag = "5")]
    body: Option<PbAnyValue>,
    #[prost(message, repeated, tag = "6")]
    attributes: Vec<PbKeyValue>,
    #[prost(bytes = "vec", tag = "9")]
    trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "10")]
    span_id: Vec<u8>,
    #[prost(fixed64, tag = "11")]
    observed_time_unix_nano: u64,
    #[prost(string, tag = "12")]
    event_name: String,
}

#[derive(Clone, PartialEq, Message)]
struct PbKeyValue {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(message, optional, tag = "2")]
    value: Option<PbAnyValue>,
}

#[derive(Clone, PartialEq, Message)]
struct PbAnyValue {
    #[prost(oneof = "PbValue", tags = "1, 2, 3, 4, 5, 6, 7")]
    value: Option<PbValue>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum PbValue {
    #[prost(string, tag = "1")]
    String(String),
    #[prost(bool, tag = "2")]
    Bool(bool),
    #[prost(int64, tag = "3")]
    Int(i64),
    #[prost(double, tag = "4")]
    Double(f64),
    #[prost(message, tag = "5")]
    Array(PbArray),
    #[prost(message, tag = "6")]
    KvList(PbKvList),
    #[prost(bytes = "vec", tag = "7")]
    Bytes(Vec<u8>),
}

#[derive(Clone, PartialEq, Message)]
struct PbArray {
    #[prost(message, repeated, tag = "1")]
    values: Vec<PbAnyValue>,
}

#[derive(Clone, PartialEq, Message)]
struct PbKvList {
    #[prost(message, repeated, tag = "1")]
    values: Vec<PbKeyValue>,
}

#[derive(Clone, PartialEq, Message)]
struct PbResponse {
    #[prost(message, optional, tag = "1")]
    partial_success: Option<PbPartialSuccess>,
}

#[derive(Clone, PartialEq, Message)]
struct PbPartialSuccess {
    #[prost(int64, tag = "1")]
    rejected_log_records: i64,
    #[prost(string, tag = "2")]
    error_message: String,
}

fn pb_any(v: Option<PbAnyValue>) -> Any {
    match v.and_then(|v| v.value) {
        None => Any::Empty,
        Some(PbValue::String(s)) => Any::Str(s),
        Some(PbValue::Bool(b)) => Any::Bool(b),
        Some(PbValue::Int(i)) => Any::Int(i),
        Some(PbValue::Double(d)) => Any::Double(d),
        Some(PbValue::Bytes(b)) => Any::Bytes(b),
        Some(PbValue::Array(a)) => {
            Any::Array(a.values.into_iter().map(|v| pb_any(Some(v))).collect())
        }
        Some(PbValue::KvList(kv)) => Any::KvList(pb_pairs(kv.values)),
    }
}

fn pb_pairs(kvs: Vec<PbKeyValue>) -> Vec<(String, Any)> {
    kvs.into_iter()
        .map(|kv| (kv.key, pb_any(kv.value)))
        .collect()
}

/// Decodes a binary protobuf export (400 naming the decoder's complaint when it is not one).
pub(super) fn decode_proto(body: &[u8]) -> Result<Vec<Scope>, ApiError> {
    let req = PbRequest::decode(body).map_err(|e| {
        ApiError::invalid(
            "body",
            format!("is not an OTLP ExportLogsServiceRequest: {e}"),
        )
    })?;
    let mut scopes = Vec::new();
    for rl in req.resource_logs {
        let resource = pb_pairs(rl.resource.map(|r| r.attributes).unwrap_or_default());
        for sl in rl.scope_logs {
            let records = sl
                .log_records
                .into_iter()
                .map(|r| Record {
                    time_ns: r.time_unix_nano,
                    observed_ns: r.observed_time_unix_nano,
                    severity_number: r.severity_number,
                    severity_text: r.severity_text,
                    body: r.body.map(|b| pb_any(Some(b))),
                    attributes: pb_pairs(r.attributes),
                    event_name: r.event_name,
                    trace_id: hex::encode(r.trace_id),
                    span_id: hex::encode(r.span_id),
                })
                .collect();
            scopes.push(Scope {
                resource: resource.clone(),
                records,
            });
        }
    }
    Ok(scopes)
}

// ---- JSON ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonRequest {
    #[serde(default, alias = "resource_logs")]
    resource_logs: Option<Vec<JsonResourceLogs>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonResourceLogs {
    #[serde(default)]
    resource: Option<JsonAttributes>,
    #[serde(default, alias = "scope_logs")]
    scope_logs: Option<Vec<JsonScopeLogs>>,
}

#[derive(Deserialize)]
struct JsonAttributes {
    #[serde(default)]
    attributes: Option<Vec<JsonKeyValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonScopeLogs {
    #[serde(default, alias = "log_records")]
    log_records: Option<Vec<JsonLogRecord>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonLogRecord {
    #[serde(default, alias = "time_unix_nano")]
    time_unix_nano: Option<Num>,
    #[serde(default, alias = "observed_time_unix_nano")]
    observed_time_unix_nano: Option<Num>,
    #[serde(default, alias = "severity_number")]
    severity_number: Option<Num>,
    #[serde(default, alias = "severity_text")]
    severity_text: Option<String>,
    #[serde(default)]
    body: Option<JsonAny>,
    #[serde(default)]
    attributes: Option<Vec<JsonKeyValue>>,
    #[serde(default, alias = "trace_id")]
    trace_id: Option<String>,
    #[serde(default, alias = "span_id")]
    span_id: Option<String>,
    #[serde(default, alias = "event_name")]
    event_name: Option<String>,
}

#[derive(Deserialize)]
struct JsonKeyValue {
    key: String,
    #[serde(default)]
    value: Option<JsonAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonAny {
    #[serde(default, alias = "string_value")]
    string_value: Option<String>,
    #[serde(default, alias = "bool_value")]
    bool_value: Option<bool>,
    #[serde(default, alias = "int_value")]
    int_value: Option<Num>,
    #[serde(default, alias = "double_value")]
    double_value: Option<f64>,
    #[serde(default, alias = "array_value")]
    array_value: Option<JsonValues<JsonAny>>,
    #[serde(default, alias = "kvlist_value")]
    kvlist_value: Option<JsonValues<JsonKeyValue>>,
    #[serde(default, alias = "bytes_value")]
    bytes_value: Option<String>,
}

#[derive(Deserialize)]
struct JsonValues<T> {
    #[serde(default = "Vec::new")]
    values: Vec<T>,
}

/// A 64-bit integer written as a JSON number or a decimal string (OTLP/JSON allows both).
#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    Unsigned(u64),
    Signed(i64),
    Text(String),
}

impl Num {
    fn as_u64(&self) -> u64 {
        match self {
            Num::Unsigned(n) => *n,
            Num::Signed(n) => u64::try_from(*n).unwrap_or(0),
            Num::Text(s) => s.trim().parse().unwrap_or(0),
        }
    }

    fn as_i64(&self) -> i64 {
        match self {
            Num::Unsigned(n) => i64::try_from(*n).unwrap_or(i64::MAX),
            Num::Signed(n) => *n,
            Num::Text(s) => s.trim().parse().unwrap_or(0),
        }
    }
}

fn json_any(v: Option<JsonAny>) -> Any {
    use base64::Engine as _;
    let Some(v) = v else { return Any::Empty };
    if let Some(s) = v.string_value {
        Any::Str(s)
    } else if let Some(b) = v.bool_value {
        Any::Bool(b)
    } else if let Some(i) = v.int_value {
        Any::Int(i.as_i64())
    } else if let Some(d) = v.double_value {
        Any::Double(d)
    } else if let Some(a) = v.array_value {
        Any::Array(a.values.into_iter().map(|v| json_any(Some(v))).collect())
    } else if let Some(kv) = v.kvlist_value {
        Any::KvList(json_pairs(Some(kv.values)))
    } else if let Some(b) = v.bytes_value {
        base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map_or(Any::Str(b), Any::Bytes)
    } else {
        Any::Empty
    }
}

fn json_pairs(kvs: Option<Vec<JsonKeyValue>>) -> Vec<(String, Any)> {
    kvs.unwrap_or_default()
        .into_iter()
        .map(|kv| (kv.key, json_any(kv.value)))
        .collect()
}

/// Decodes an OTLP/JSON export (400 naming serde's complaint when it is not one).
pub(super) fn decode_json(body: &[u8]) -> Result<Vec<Scope>, ApiError> {
    let req: JsonRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            "body",
            format!("is not an OTLP/JSON ExportLogsServiceRequest: {e}"),
        )
    })?;
    let mut scopes = Vec::new();
    for rl in req.resource_logs.unwrap_or_default() {
        let resource = json_pairs(rl.resource.and_then(|r| r.attributes));
        for sl in rl.scope_logs.unwrap_or_default() {
            let records = sl
                .log_records
                .unwrap_or_default()
                .into_iter()
                .map(|r| Record {
                    time_ns: r.time_unix_nano.map_or(0, |n| n.as_u64()),
                    observed_ns: r.observed_time_unix_nano.map_or(0, |n| n.as_u64()),
                    severity_number: r
                        .severity_number
                        .map_or(0, |n| i32::try_from(n.as_i64()).unwrap_or(0)),
                    severity_text: r.severity_text.unwrap_or_default(),
                    body: r.body.map(|b| json_any(Some(b))),
                    attributes: json_pairs(r.attributes),
                    event_name: r.event_name.unwrap_or_default(),
                    trace_id: r.trace_id.unwrap_or_default(),
                    span_id: r.span_id.unwrap_or_default(),
                })
                .collect();
            scopes.push(Scope {
                resource: resource.clone(),
                records,
            });
        }
    }
    Ok(scopes)
}

// ---- response ----

/// The `ExportLogsServiceResponse` in the request's encoding: `partial_success` unset when
/// every record was stored, else the count of rejected records and why.
pub fn response_body(format: Format, rejected: &Rejected) -> Vec<u8> {
    match format {
        Format::Protobuf => PbResponse {
            partial_success: (rejected.count > 0).then(|| PbPartialSuccess {
                rejected_log_records: i64::try_from(rejected.count).unwrap_or(i64::MAX),
                error_message: rejected.message.clone(),
            }),
        }
        .encode_to_vec(),
        Format::Json => {
            let body = if rejected.count > 0 {
                serde_json::json!({"partialSuccess": {
                    "rejectedLogRecords": rejected.count.to_string(),
                    "errorMessage": rejected.message,
                }})
            } else {
                serde_json::json!({})
            };
            body.to_string().into_bytes()
        }
    }
}

/// Builders for the tests: the SDK's export as protobuf, and a response decoded.
#[cfg(test)]
pub(super) mod tests_support {
    use super::*;

    fn kv(key: &str, value: PbValue) -> PbKeyValue {
        PbKeyValue {
            key: key.into(),
            value: Some(PbAnyValue { value: Some(value) }),
        }
    }

    /// `tests::sdk_export`, encoded as protobuf.
    pub fn proto_export() -> Vec<u8> {
        PbRequest {
            resource_logs: vec![PbResourceLogs {
                resource: Some(PbResource {
                    attributes: vec![
                        kv("service.name", PbValue::String("auth-api".into())),
                        kv("host.name", PbValue::String("web-1".into())),
                    ],
                }),
                scope_logs: vec![PbScopeLogs {
                    log_records: vec![PbLogRecord {
                        time_unix_nano: 1_769_764_500_123_000_000,
                        observed_time_unix_nano: 1_769_764_500_124_000_000,
                        severity_number: 17,
                        severity_text: "ERROR".into(),
                        body: Some(PbAnyValue {
                            value: Some(PbValue::String(
                                "Failed password for root from 203.0.113.7".into(),
                            )),
                        }),
                        attributes: vec![
                            kv("client.address", PbValue::String("203.0.113.7".into())),
                            kv("enduser.id", PbValue::String("root".into())),
                            kv("http.response.status_code", PbValue::Int(401)),
                        ],
                        trace_id: hex::decode("5b8efff798038103d269b633813fc60c").unwrap(),
                        span_id: hex::decode("eee19b7ec3c1b174").unwrap(),
                        event_name: String::new(),
                    }],
                }],
            }],
        }
        .encode_to_vec()
    }

    /// `(rejected_log_records, error_message)` of a protobuf response.
    pub fn decode_response(body: &[u8]) -> (i64, String) {
        let p = PbResponse::decode(body).unwrap().partial_success.unwrap();
        (p.rejected_log_records, p.error_message)
    }
}
