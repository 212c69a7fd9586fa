//! OTLP exports become push streams: labels from the resource, entries from the records, the
//! semantic-convention attributes under the keys §7.3 reads.

use super::*;
use crate::access::ids::OrgId;
use crate::logs::classify::{LogLevel, LogType};
use crate::logs::{build_line_rows, Rejected};

const NOW: UnixMs = UnixMs(1_769_764_800_000);

/// The shape `@opentelemetry/exporter-logs-otlp-http` sends (JSON).
fn sdk_export() -> serde_json::Value {
    serde_json::json!({"resourceLogs": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "auth-api"}},
            {"key": "host.name", "value": {"stringValue": "web-1"}},
            {"key": "telemetry.sdk.language", "value": {"stringValue": "nodejs"}}
        ], "droppedAttributesCount": 0},
        "scopeLogs": [{
            "scope": {"name": "auth", "version": "1.0.0"},
            "logRecords": [{
                "timeUnixNano": "1769764500123000000",
                "observedTimeUnixNano": "1769764500124000000",
                "severityNumber": 17,
                "severityText": "ERROR",
                "body": {"stringValue": "Failed password for root from 203.0.113.7"},
                "attributes": [
                    {"key": "client.address", "value": {"stringValue": "203.0.113.7"}},
                    {"key": "enduser.id", "value": {"stringValue": "root"}},
                    {"key": "http.response.status_code", "value": {"intValue": 401}}
                ],
                "droppedAttributesCount": 0,
                "flags": 1,
                "traceId": "5b8efff798038103d269b633813fc60c",
                "spanId": "eee19b7ec3c1b174"
            }]
        }]
    }]})
}

fn parse_json(v: &serde_json::Value) -> Result<OtlpLogs, ApiError> {
    parse_export(Format::Json, v.to_string().as_bytes(), NOW)
}

#[test]
fn an_sdk_json_export_becomes_one_stream_and_a_classified_row() {
    let logs = parse_json(&sdk_export()).unwrap();
    assert_eq!(logs.records, 1);
    let s = &logs.streams[0];
    assert_eq!(s.labels["service"], "auth-api");
    assert_eq!(s.labels["host"], "web-1");
    let e = &s.entries[0];
    assert_eq!(e.ts, UnixMs(1_769_764_500_123));
    assert_eq!(e.line, "Failed password for root from 203.0.113.7");
    let meta = e.structured.as_ref().unwrap();
    assert_eq!(meta["level"], "ERROR");
    assert_eq!(meta["client_ip"], "203.0.113.7");
    assert_eq!(meta["status"], 401);
    assert_eq!(meta["trace_id"], "5b8efff798038103d269b633813fc60c");

    let rows = build_line_rows(&logs.streams, &OrgId("org".into()), NOW, UnixMs(0)).rows;
    assert_eq!(rows[0].log_type, LogType::LoginFailure);
    assert_eq!(rows[0].source_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(rows[0].user.as_deref(), Some("root"));
    assert_eq!(rows[0].service, "auth-api");
    assert_eq!(rows[0].hostname.as_deref(), Some("web-1"));
    assert_eq!(rows[0].level, LogLevel::Error);
    assert_eq!(rows[0].status_code, Some(401));
}

#[test]
fn the_same_export_as_protobuf_decodes_the_same() {
    let body = wire::tests_support::proto_export();
    let logs = parse_export(Format::Protobuf, &body, NOW).unwrap();
    let json = parse_json(&sdk_export()).unwrap();
    assert_eq!(logs.streams[0].labels["service"], "auth-api");
    assert_eq!(logs.streams[0].entries, json.streams[0].entries);
}

#[test]
fn a_structured_body_becomes_a_json_line_the_extractor_reads() {
    let mut v = sdk_export();
    v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["body"] = serde_json::json!({
        "kvlistValue": {"values": [
            {"key": "msg", "value": {"stringValue": "user login"}},
            {"key": "ip", "value": {"stringValue": "198.51.100.4"}},
            {"key": "ok", "value": {"boolValue": true}}
        ]}
    });
    let logs = parse_json(&v).unwrap();
    let line: serde_json::Value = serde_json::from_str(&logs.streams[0].entries[0].line).unwrap();
    assert_eq!(
        line,
        serde_json::json!({"msg": "user login", "ip": "198.51.100.4", "ok": true})
    );
    let rows = build_line_rows(&logs.streams, &OrgId("org".into()), NOW, UnixMs(0)).rows;
    assert_eq!(
        rows[0].source_ip.as_deref(),
        Some("198.51.100.4"),
        "the body's own ip wins"
    );
}

#[test]
fn times_fall_back_to_the_observed_time_then_to_now() {
    let mut v = sdk_export();
    let r = &mut v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    r["timeUnixNano"] = "0".into();
    assert_eq!(
        parse_json(&v).unwrap().streams[0].entries[0].ts,
        UnixMs(1_769_764_500_124)
    );
    let r = &mut v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    r.as_object_mut().unwrap().remove("observedTimeUnixNano");
    assert_eq!(parse_json(&v).unwrap().streams[0].entries[0].ts, NOW);
}

#[test]
fn snake_case_names_numbers_as_numbers_and_severity_numbers_are_read() {
    let v = serde_json::json!({"resource_logs": [{"scope_logs": [{"log_records": [{
        "time_unix_nano": 1769764500000000000u64,
        "severity_number": 13,
        "body": {"string_value": "disk nearly full"}
    }]}]}]});
    let logs = parse_json(&v).unwrap();
    let e = &logs.streams[0].entries[0];
    assert_eq!(e.ts, UnixMs(1_769_764_500_000));
    assert_eq!(e.line, "disk nearly full");
    assert_eq!(e.structured.as_ref().unwrap()["level"], "warn");
    assert!(logs.streams[0].labels.is_empty());
}

#[test]
fn an_export_that_holds_no_record_or_is_not_an_export_is_400() {
    for body in [
        serde_json::json!({}),
        serde_json::json!({"resourceLogs": []}),
        serde_json::json!({"resourceLogs": [{"scopeLogs": [{"logRecords": []}]}]}),
    ] {
        let e = parse_json(&body).unwrap_err();
        assert_eq!(e.status(), 400, "{body}");
    }
    assert_eq!(
        parse_export(Format::Json, b"[1,2]", NOW)
            .unwrap_err()
            .status(),
        400
    );
    assert_eq!(
        parse_export(Format::Json, b"not json", NOW)
            .unwrap_err()
            .status(),
        400
    );
    assert_eq!(
        parse_export(Format::Protobuf, &[0xff; 16], NOW)
            .unwrap_err()
            .status(),
        400
    );
    // An empty protobuf message is a valid, empty export: still nothing to store.
    assert_eq!(
        parse_export(Format::Protobuf, b"", NOW)
            .unwrap_err()
            .status(),
        400
    );
}

#[test]
fn more_records_than_a_push_may_hold_is_413() {
    let record = serde_json::json!({"body": {"stringValue": "x"}});
    let v = serde_json::json!({"resourceLogs": [{"scopeLogs": [{
        "logRecords": vec![record; MAX_ENTRIES + 1]
    }]}]});
    assert_eq!(parse_json(&v).unwrap_err().status(), 413);
}

#[test]
fn the_response_reports_rejected_records_in_the_request_encoding() {
    assert_eq!(response_body(Format::Json, &Rejected::default()), b"{}");
    let rejected = Rejected {
        count: 2,
        message: "2 records older than the retention cutoff".into(),
        stored: 0,
    };
    let json: serde_json::Value =
        serde_json::from_slice(&response_body(Format::Json, &rejected)).unwrap();
    assert_eq!(json["partialSuccess"]["rejectedLogRecords"], "2");
    assert_eq!(json["partialSuccess"]["errorMessage"], rejected.message);
    assert!(response_body(Format::Protobuf, &Rejected::default()).is_empty());
    let pb = wire::tests_support::decode_response(&response_body(Format::Protobuf, &rejected));
    assert_eq!(pb, (2, rejected.message.clone()));
}
