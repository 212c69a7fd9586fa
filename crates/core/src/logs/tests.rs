//! Tests for the Loki push path: headers, bounded gzip, the push format and its limits, the
//! §7.1 label rules, row building and the event → log item mapping.

use super::*;
use crate::access::ids::{EventId, OrgId};
use crate::api::error::ErrorCode;
use crate::ingest::record::EventRecord;
use crate::ingest::NewEvent;
use crate::logs::classify::{IamAction, LogLevel, LogType};
use crate::time::UnixMs;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Map, Value};
use std::io::Write;

/// 2026-01-30T09:15:00Z, the §7.1 example's first timestamp.
const NOW: UnixMs = UnixMs(1_769_764_500_000);
const DAY: i64 = 86_400_000;

fn org() -> OrgId {
    OrgId("org_1".into())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn push(v: &Value) -> Vec<PushStream> {
    parse_push(v.to_string().as_bytes()).unwrap()
}

fn code(r: Result<impl std::fmt::Debug, crate::ApiError>) -> (u16, ErrorCode) {
    let e = r.unwrap_err();
    (e.status(), e.code)
}

// ---- headers ------------------------------------------------------------------------------

#[test]
fn json_or_absent_content_type_is_accepted() {
    for ct in [
        None,
        Some(""),
        Some("application/json"),
        Some("Application/JSON; charset=utf-8"),
    ] {
        assert_eq!(
            check_headers(ct, None).unwrap(),
            (Format::Json, Encoding::Identity),
            "{ct:?}"
        );
    }
}

#[test]
fn protobuf_is_accepted_snappy_or_not_and_other_content_types_are_415() {
    for (ct, ce) in [
        ("application/x-protobuf", None),
        ("application/protobuf", Some("snappy")),
        ("Application/X-Protobuf", Some("identity")),
    ] {
        assert_eq!(
            check_headers(Some(ct), ce).unwrap(),
            (Format::Protobuf, Encoding::Identity),
            "{ct}"
        );
    }
    assert_eq!(
        check_headers(Some("application/x-protobuf"), Some("gzip")).unwrap(),
        (Format::Protobuf, Encoding::Gzip)
    );
    for ct in ["text/plain", "application/x-www-form-urlencoded"] {
        let e = check_headers(Some(ct), None).unwrap_err();
        assert_eq!(
            (e.status(), e.code),
            (415, ErrorCode::UnsupportedMediaType),
            "{ct}"
        );
        assert_eq!(e.body()["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
    }
    let e = check_headers(Some("application/json"), Some("snappy")).unwrap_err();
    assert_eq!(e.status(), 415, "snappy is the protobuf push's, not JSON's");
}

#[test]
fn a_push_with_no_entry_is_400_in_either_format() {
    for body in [
        &br#"{"streams":[]}"#[..],
        br#"{"streams":[{"stream":{"job":"x"}}]}"#,
        br#"{"streams":[{"stream":{"job":"x"},"values":[]}]}"#,
    ] {
        let e = parse_body(Format::Json, body).unwrap_err();
        assert_eq!(
            (e.status(), e.details[0].field.as_str()),
            (400, "streams"),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let empty = snap::raw::Encoder::new().compress_vec(&[]).unwrap();
    assert_eq!(
        parse_body(Format::Protobuf, &empty).unwrap_err().status(),
        400
    );
}

#[test]
fn the_older_json_push_of_python_logging_loki_is_read() {
    let body = br#"{"streams":[{"labels":"{application=\"app\", logger=\"root\", severity=\"error\"}","entries":[{"ts":"2026-01-30T09:15:00.123000+00:00","line":"Failed password for admin from 203.0.113.9 port 22"}]}]}"#;
    let s = parse_body(Format::Json, body).unwrap();
    assert_eq!(s[0].labels["application"], "app");
    assert_eq!(s[0].entries[0].ts.0 % 1000, 123);
    assert!(s[0].entries[0].line.starts_with("Failed password"));
    let bad = br#"{"streams":[{"labels":"application=app","entries":[{"ts":"1","line":"x"}]}]}"#;
    assert_eq!(parse_body(Format::Json, bad).unwrap_err().status(), 400);
}

#[test]
fn gzip_is_the_only_encoding() {
    for ce in ["gzip", "GZIP", " x-gzip ", "identity, gzip"] {
        assert_eq!(
            check_headers(None, Some(ce)).unwrap().1,
            Encoding::Gzip,
            "{ce}"
        );
    }
    for ce in ["", "identity", "Identity"] {
        assert_eq!(
            check_headers(None, Some(ce)).unwrap().1,
            Encoding::Identity,
            "{ce}"
        );
    }
    for ce in ["snappy", "deflate", "br", "zstd", "gzip, gzip", "gzip, br"] {
        let e = check_headers(Some("application/json"), Some(ce)).unwrap_err();
        assert_eq!(e.status(), 415, "{ce}");
        assert!(e.message.contains(ce), "{}", e.message);
    }
}

// ---- body decoding ------------------------------------------------------------------------

#[test]
fn identity_bodies_pass_through_up_to_the_limit() {
    assert_eq!(
        decode_body(b"abc".to_vec(), Encoding::Identity, 3).unwrap(),
        b"abc"
    );
    assert_eq!(
        code(decode_body(b"abcd".to_vec(), Encoding::Identity, 3)),
        (413, ErrorCode::PayloadTooLarge)
    );
}

#[test]
fn gzip_round_trips_including_concatenated_members() {
    let body = br#"{"streams":[]}"#;
    assert_eq!(
        decode_body(gzip(body), Encoding::Gzip, MAX_BODY_BYTES).unwrap(),
        body
    );
    let mut two = gzip(b"hello ");
    two.extend(gzip(b"world"));
    assert_eq!(
        decode_body(two, Encoding::Gzip, 100).unwrap(),
        b"hello world"
    );
    // Exactly at the limit is fine.
    assert_eq!(
        decode_body(gzip(&[b'x'; 64]), Encoding::Gzip, 64)
            .unwrap()
            .len(),
        64
    );
}

#[test]
fn invalid_gzip_is_400() {
    for bad in [b"{\"streams\":[]}".to_vec(), vec![0x1f, 0x8b, 0x08], {
        let mut g = gzip(b"some data here");
        let n = g.len();
        g[n - 6] ^= 0xff; // corrupt the CRC
        g
    }] {
        assert_eq!(
            code(decode_body(bad, Encoding::Gzip, MAX_BODY_BYTES)),
            (400, ErrorCode::ValidationError)
        );
    }
}

#[test]
fn a_gzip_bomb_stops_at_the_limit() {
    // 16 MiB of zeros squeezes into ~16 KiB; inflating must stop just past 4 MiB.
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..16 {
        enc.write_all(&chunk).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let e = decode_body(bomb.clone(), Encoding::Gzip, MAX_BODY_BYTES).unwrap_err();
    assert_eq!((e.status(), e.code), (413, ErrorCode::PayloadTooLarge));
    assert!(e.message.contains("4194304"), "{}", e.message);
    // The same bomb split across many members is bounded too.
    let mut members = Vec::new();
    for _ in 0..8 {
        members.extend_from_slice(&bomb);
    }
    assert_eq!(code(decode_body(members, Encoding::Gzip, 1 << 20)).0, 413);
    // One byte over a small limit is already refused.
    assert_eq!(
        code(decode_body(gzip(&[b'x'; 65]), Encoding::Gzip, 64)).0,
        413
    );
}

// ---- push format --------------------------------------------------------------------------

fn contract_example() -> Value {
    json!({"streams":[{"stream":{"service":"auth-service","namespace":"prod","pod":"auth-7d9f"},
        "values":[["1769764500000000000","{\"level\":\"error\",\"msg\":\"failed login\",\"user\":\"admin\",\"ip\":\"203.0.113.45\",\"status\":401}"],
                  ["1769764560000000000","sshd: Failed password for invalid user oracle from 198.51.100.9 port 50122"]]}]})
}

#[test]
fn the_contract_example_parses() {
    let streams = push(&contract_example());
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].labels["service"], "auth-service");
    let e = &streams[0].entries;
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].ts, UnixMs(1_769_764_500_000));
    assert_eq!(e[1].ts, UnixMs(1_769_764_560_000));
    assert!(e[1].line.starts_with("sshd:"));
    assert_eq!(e[0].structured, None);
}

#[test]
fn timestamps_nanos_numbers_and_rfc3339() {
    let streams = push(&json!({"streams":[{"stream":{},"values":[
        ["1769764500123456789","a"],
        [1769764500123456789u64,"b"],
        [1.7697645e18,"c"],
        ["2026-01-30T09:15:00.5Z","d"],
        ["2026-01-30T10:15:00+01:00","e"],
        ["-1500000","f"]
    ]}]}));
    let ts: Vec<i64> = streams[0].entries.iter().map(|e| e.ts.0).collect();
    assert_eq!(
        ts,
        [
            1_769_764_500_123,
            1_769_764_500_123,
            1_769_764_500_000,
            1_769_764_500_500,
            1_769_764_500_000,
            -2
        ]
    );
    // Absurd magnitudes saturate instead of failing (they are dropped as out of bounds).
    let far = push(&json!({"streams":[{"values":[["99999999999999999999999999999999","x"]]}]}));
    assert_eq!(far[0].entries[0].ts, UnixMs(i64::MAX));
}

#[test]
fn structured_metadata_and_tolerated_shapes() {
    let streams = push(&json!({"extra":1,"streams":[
        {"stream":{"app":"api"},"values":[["1","line",{"trace_id":"t1","user":"bob"}],["2","x",null]],"other":[]},
        {"values":[]},
        {"stream":null}
    ]}));
    assert_eq!(streams.len(), 3);
    assert_eq!(
        streams[0].entries[0].structured,
        Some(obj(json!({"trace_id":"t1","user":"bob"})))
    );
    assert_eq!(streams[0].entries[1].structured, None);
    assert!(streams[1].labels.is_empty() && streams[2].entries.is_empty());
    assert!(push(&json!({"streams":[]})).is_empty());
}

#[test]
fn malformed_pushes_are_400_naming_the_entry() {
    let cases = [
        (
            json!({"streams":[{"values":[["1","ok"],["x","bad ts"]]}]}),
            "streams[0].values[1]",
        ),
        (
            json!({"streams":[{"values":[]},{"values":[["1",42]]}]}),
            "streams[1].values[0]",
        ),
        (
            json!({"streams":[{"values":[["1"]]}]}),
            "streams[0].values[0]",
        ),
        (
            json!({"streams":[{"values":[["1","a",{},4]]}]}),
            "streams[0].values[0]",
        ),
        (
            json!({"streams":[{"values":["1 a"]}]}),
            "streams[0].values[0]",
        ),
        (
            json!({"streams":[{"values":[["1","a","meta"]]}]}),
            "streams[0].values[0]",
        ),
        (
            json!({"streams":[{"values":[[true,"a"]]}]}),
            "streams[0].values[0]",
        ),
    ];
    for (body, field) in cases {
        let e = parse_push(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.status(), 400, "{body}");
        assert_eq!(e.details[0].field, field, "{body}");
    }
    for body in [
        &b"not json"[..],
        b"[]",
        b"{}",
        br#"{"streams":{}}"#,
        br#"{"streams":[{"stream":"x"}]}"#,
        br#"{"streams":[]} trailing"#,
        b"",
    ] {
        let e = parse_push(body).unwrap_err();
        assert_eq!((e.status(), e.details[0].field.as_str()), (400, "body"));
    }
}

fn entries_body(per_stream: &[usize]) -> String {
    let streams: Vec<Value> = per_stream
        .iter()
        .map(|n| json!({"stream":{},"values":vec![json!(["1","x"]); *n]}))
        .collect();
    json!({ "streams": streams }).to_string()
}

#[test]
fn ten_thousand_entries_pass_one_more_is_413() {
    assert_eq!(
        parse_push(entries_body(&[MAX_ENTRIES]).as_bytes()).unwrap()[0]
            .entries
            .len(),
        MAX_ENTRIES
    );
    assert_eq!(
        parse_push(entries_body(&[6000, 4000, 0]).as_bytes())
            .unwrap()
            .len(),
        3
    );
    for split in [
        vec![MAX_ENTRIES + 1],
        vec![5000, 5001],
        vec![MAX_ENTRIES, 1],
        vec![20_000],
    ] {
        let e = parse_push(entries_body(&split).as_bytes()).unwrap_err();
        assert_eq!(
            (e.status(), e.code),
            (413, ErrorCode::PayloadTooLarge),
            "{split:?}"
        );
        assert!(e.message.contains("10000"), "{}", e.message);
    }
}

// ---- labels (§7.1) ------------------------------------------------------------------------

fn labels(v: Value) -> StreamLabels {
    StreamLabels::from_labels(&obj(v))
}

#[test]
fn service_label_precedence() {
    assert_eq!(
        labels(json!({"job":"j","app":"a","service_name":"sn","service":"s"})).service,
        "s"
    );
    assert_eq!(
        labels(json!({"job":"j","app":"a","service_name":"sn"})).service,
        "sn"
    );
    assert_eq!(labels(json!({"job":"j","app":"a"})).service, "a");
    assert_eq!(
        labels(json!({"job":"j","application":"py-app","app":"a"})).service,
        "a"
    );
    assert_eq!(
        labels(json!({"job":"j","application":"py-app"})).service,
        "py-app",
        "python-logging-loki's application tag"
    );
    assert_eq!(labels(json!({"job":"j"})).service, "j");
    assert_eq!(labels(json!({})).service, "unknown");
    // Empty values are not "present".
    assert_eq!(labels(json!({"service":" ","job":"j"})).service, "j");
}

#[test]
fn namespace_label_or_default() {
    assert_eq!(labels(json!({"namespace":"prod"})).namespace, "prod");
    assert_eq!(labels(json!({"ns":"prod"})).namespace, "default");
}

#[test]
fn hostname_label_precedence() {
    assert_eq!(
        labels(json!({"hostname":"h","host":"o","pod":"p"}))
            .hostname
            .as_deref(),
        Some("p")
    );
    assert_eq!(
        labels(json!({"hostname":"h","host":"o"}))
            .hostname
            .as_deref(),
        Some("o")
    );
    assert_eq!(
        labels(json!({"hostname":"h"})).hostname.as_deref(),
        Some("h")
    );
    assert_eq!(labels(json!({})).hostname, None);
}

#[test]
fn level_label_precedence_and_normalisation() {
    let l = |v| labels(v).level;
    assert_eq!(
        l(json!({"detected_level":"debug","severity":"warn","level":"ERR"})),
        Some(LogLevel::Error)
    );
    assert_eq!(
        l(json!({"detected_level":"debug","severity":"warn"})),
        Some(LogLevel::Warning)
    );
    assert_eq!(
        l(json!({"detected_level":"fatal"})),
        Some(LogLevel::Critical)
    );
    assert_eq!(l(json!({"level":"whatever"})), Some(LogLevel::Info));
    assert_eq!(l(json!({})), None);
}

#[test]
fn label_values_are_bounded() {
    let long = "é".repeat(MAX_LABEL_BYTES);
    let s = labels(json!({"service": long})).service;
    assert!(s.len() <= MAX_LABEL_BYTES && s.len() >= MAX_LABEL_BYTES - 1);
    assert!(s.chars().all(|c| c == 'é'));
    assert_eq!(labels(json!({"service": 42})).service, "42");
}

// ---- rows ---------------------------------------------------------------------------------

fn rows_of(v: &Value) -> LineRows {
    build_line_rows(&push(v), &org(), NOW, NOW.minus_days(30))
}

#[test]
fn contract_example_rows() {
    let out = rows_of(&contract_example());
    assert_eq!(out.rows.len(), 2);
    let [a, b] = [&out.rows[0], &out.rows[1]];
    assert_eq!(
        *a,
        LogRow {
            org_id: "org_1".into(),
            ts: 1_769_764_500_000,
            hour: 1_769_763_600_000,
            log_type: LogType::LoginFailure,
            action: None,
            level: LogLevel::Error,
            service: "auth-service".into(),
            namespace: "prod".into(),
            source_ip: Some("203.0.113.45".into()),
            user: Some("admin".into()),
            hostname: Some("auth-7d9f".into()),
            target_ip: None,
            geo: None,
            device: None,
            vpn: None,
            detail: Default::default(),
            status_code: Some(401),
            resource: None,
            message: r#"{"level":"error","msg":"failed login","user":"admin","ip":"203.0.113.45","status":401}"#.into(),
            event_id: None,
            event_name: None,
        }
    );
    assert_eq!(b.log_type, LogType::LoginFailure);
    assert_eq!(b.source_ip.as_deref(), Some("198.51.100.9"));
    // The sshd parser (§7.5) reads the account tried.
    assert_eq!((b.user.as_deref(), b.status_code), (Some("oracle"), None));
    assert_eq!(b.level, LogLevel::Info);
    assert_eq!(
        (b.service.as_str(), b.namespace.as_str()),
        ("auth-service", "prod")
    );
    let v = serde_json::to_value(a).unwrap();
    assert_eq!(v["type"], "login_failure");
    assert_eq!(v["level"], "error");
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut cols = LOG_COLUMNS.to_vec();
    keys.sort_unstable();
    cols.sort_unstable();
    assert_eq!(keys, cols, "the JSON keys are the insert's columns");
}

#[test]
fn level_comes_from_the_line_then_the_label_then_the_status() {
    let mk = |lbl: Value, line: &str| {
        let l = StreamLabels::from_labels(&obj(lbl));
        let e = PushEntry {
            ts: NOW,
            line: line.into(),
            structured: None,
        };
        line_row(&org(), &l, &e).0.level
    };
    assert_eq!(
        mk(json!({"level":"debug"}), r#"{"level":"warn","msg":"x"}"#),
        LogLevel::Warning
    );
    assert_eq!(
        mk(json!({"level":"debug"}), r#"{"msg":"x","status":503}"#),
        LogLevel::Debug
    );
    assert_eq!(
        mk(json!({}), r#"{"msg":"x","status":503}"#),
        LogLevel::Error
    );
    assert_eq!(
        mk(json!({}), r#"{"msg":"x","status":404}"#),
        LogLevel::Warning
    );
    assert_eq!(mk(json!({}), "plain"), LogLevel::Info);
}

#[test]
fn hostname_label_wins_device_field_wins() {
    let l = StreamLabels::from_labels(&obj(json!({"host":"label-host","device":"label-dev"})));
    let e = PushEntry {
        ts: NOW,
        line: r#"{"msg":"x","hostname":"field-host","device":"field-dev"}"#.into(),
        structured: None,
    };
    let (r, _) = line_row(&org(), &l, &e);
    assert_eq!(
        (r.hostname.as_deref(), r.device.as_deref()),
        (Some("label-host"), Some("field-dev"))
    );
    let e = PushEntry {
        ts: NOW,
        line: r#"{"msg":"x","hostname":"field-host"}"#.into(),
        structured: None,
    };
    let (r, _) = line_row(&org(), &StreamLabels::from_labels(&Map::new()), &e);
    assert_eq!(r.hostname.as_deref(), Some("field-host"));
    let (r, _) = line_row(&org(), &l, &e);
    assert_eq!(r.device.as_deref(), Some("label-dev"));
}

#[test]
fn structured_metadata_fills_fields() {
    let out = rows_of(&json!({"streams":[{"stream":{"app":"web"},"values":[
        ["1769764500000000000","GET /admin denied", {"client_ip":"203.0.113.7","user":"eve","status":"403","geo":"DE","vpn":"true"}]
    ]}]}));
    let r = &out.rows[0];
    assert_eq!(r.source_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(r.user.as_deref(), Some("eve"));
    assert_eq!(r.status_code, Some(403));
    assert_eq!((r.geo.as_deref(), r.vpn), (Some("DE"), Some(true)));
    assert_eq!(r.level, LogLevel::Warning);
    assert_eq!(r.service, "web");
}

#[test]
fn types_actions_and_fields_per_line_format() {
    let out = rows_of(&json!({"streams":[{"stream":{"job":"gcp"},"values":[
        ["1769764500000000000", r#"{"protoPayload":{"methodName":"SetIamPolicy","authenticationInfo":{"principalEmail":"ops@example.com"},"resourceName":"projects/p1","requestMetadata":{"callerIp":"198.51.100.20"}}}"#],
        ["1769764500000000000", r#"{"msg":"attached policy AdminAccess to role deploy","user":"ci"}"#],
        ["1769764500000000000", "level=warn msg=\"port scan detected\" src_ip=192.0.2.10 dst_ip=10.0.0.5"],
        ["1769764500000000000", r#"203.0.113.9 - - [30/Jan/2026:09:15:00 +0000] "GET /index.html HTTP/1.1" 200 512"#],
        ["1769764500000000000", "user alice authenticated via vpn from 2001:db8::1"]
    ]}]}));
    let r = &out.rows;
    // The GCP audit parser (§7.5): SetIamPolicy attaches a policy.
    assert_eq!(
        (r[0].log_type, r[0].action),
        (LogType::IamChange, Some(IamAction::PolicyAttached))
    );
    assert_eq!(r[0].user.as_deref(), Some("ops@example.com"));
    assert_eq!(r[0].source_ip.as_deref(), Some("198.51.100.20"));
    assert_eq!(r[0].resource.as_deref(), Some("projects/p1"));
    assert_eq!(
        (r[1].log_type, r[1].action),
        (LogType::IamChange, Some(IamAction::PolicyAttached))
    );
    assert_eq!((r[2].log_type, r[2].action), (LogType::NetworkScan, None));
    assert_eq!(r[2].target_ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(r[2].level, LogLevel::Warning);
    assert_eq!(
        (r[3].log_type, r[3].status_code),
        (LogType::NetworkEvent, Some(200))
    );
    assert_eq!(r[3].source_ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(
        (r[4].log_type, r[4].vpn),
        (LogType::LoginSuccess, Some(true))
    );
    assert_eq!(r[4].source_ip.as_deref(), Some("2001:db8::1"));
    assert!(r
        .iter()
        .all(|r| r.service == "gcp" && r.namespace == "default" && r.hostname.is_none()));
}

#[test]
fn known_formats_store_their_type_user_and_ip() {
    let trail = json!({"eventVersion": "1.09", "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin", "sourceIPAddress": "203.0.113.61",
        "userIdentity": {"type": "IAMUser", "userName": "dana"},
        "responseElements": {"ConsoleLogin": "Failure"}});
    let out = rows_of(&json!({"streams":[{"stream":{"job":"mixed"},"values":[
        ["1769764500000000000", "Dec  7 02:58:35 bastion-1 sshd[4121]: Invalid user oracle from 198.51.100.9 port 22"],
        ["1769764500000000000", "sshd[4121]: Accepted publickey for deploy from 2001:db8::77 port 51514 ssh2"],
        ["1769764500000000000", "sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id"],
        ["1769764500000000000", r#"198.51.100.23 - - [07/Dec/2026:10:01:02 +0000] "GET /portfolio HTTP/1.1" 200 512 "-" "curl""#],
        ["1769764500000000000", trail.to_string()],
        ["1769764500000000000", r#"{"level":"info","msg":"auth backend error 503 upstream timed out"}"#]
    ]}]}));
    let got: Vec<_> = out
        .rows
        .iter()
        .map(|r| {
            (
                r.log_type,
                r.action,
                r.user.as_deref(),
                r.source_ip.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                LogType::LoginFailure,
                None,
                Some("oracle"),
                Some("198.51.100.9")
            ),
            (
                LogType::LoginSuccess,
                None,
                Some("deploy"),
                Some("2001:db8::77")
            ),
            (
                LogType::IamChange,
                Some(IamAction::RoleEscalated),
                Some("alice"),
                None
            ),
            (LogType::NetworkEvent, None, None, Some("198.51.100.23")),
            (
                LogType::LoginFailure,
                None,
                Some("dana"),
                Some("203.0.113.61")
            ),
            (LogType::NetworkEvent, None, None, None),
        ]
    );
    assert_eq!(out.rows[2].resource.as_deref(), Some("root: /usr/bin/id"));
    assert_eq!(out.rows[3].resource.as_deref(), Some("/portfolio"));
    assert_eq!(out.rows[3].status_code, Some(200));
    // The stored message is still the whole line.
    assert!(out.rows[0]
        .message
        .starts_with("Dec  7 02:58:35 bastion-1 sshd[4121]: "));
}

#[test]
fn long_lines_are_truncated_at_a_char_boundary_before_reading() {
    // 3-byte characters so 8 KiB falls inside one.
    let long = format!("Failed password from 203.0.113.1 {}", "€".repeat(4000));
    assert!(long.len() > MAX_LINE_BYTES);
    let out = rows_of(&json!({"streams":[{"values":[["1769764500000000000", long]]}]}));
    assert_eq!(out.truncated, 1);
    let r = &out.rows[0];
    assert!(r.message.len() <= MAX_LINE_BYTES && r.message.len() > MAX_LINE_BYTES - 3);
    assert!(long.starts_with(&r.message));
    assert_eq!(r.log_type, LogType::LoginFailure);
    // A JSON line cut short is no longer JSON: it is read as plain text.
    let json_line = format!(r#"{{"msg":"{}","user":"x"}}"#, "a".repeat(MAX_LINE_BYTES));
    let out = rows_of(&json!({"streams":[{"values":[["1769764500000000000", json_line]]}]}));
    assert_eq!(out.rows[0].user, None);
    assert_eq!(truncate_utf8("abc", 3), ("abc", false));
    assert_eq!(truncate_utf8("aé", 2), ("a", true));
}

#[test]
fn entries_outside_the_time_bounds_are_dropped() {
    let cutoff = NOW.minus_days(7);
    let ns = |ms: i64| (i128::from(ms) * 1_000_000).to_string();
    let body = json!({"streams":[{"values":[
        [ns(cutoff.0 - 1), "too old"],
        [ns(cutoff.0), "exactly the cutoff"],
        [ns(NOW.0 - DAY), "yesterday"],
        [ns(NOW.0 + MAX_FUTURE_MS), "exactly ten minutes ahead"],
        [ns(NOW.0 + MAX_FUTURE_MS + 1), "too far ahead"],
        ["0", "epoch"],
        [ns(NOW.0), "   "]
    ]}]});
    let out = build_line_rows(&push(&body), &org(), NOW, cutoff);
    let kept: Vec<&str> = out.rows.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        kept,
        [
            "exactly the cutoff",
            "yesterday",
            "exactly ten minutes ahead"
        ]
    );
    assert_eq!(
        (out.dropped_old, out.dropped_future, out.dropped_empty),
        (2, 1, 1)
    );
}

#[test]
fn structured_metadata_fields_are_capped() {
    let huge = "u".repeat(3 * MAX_FIELD_BYTES);
    let out = rows_of(&json!({"streams":[{"values":[
        ["1769764500000000000", "something happened", {"user": huge, "resource": huge, "geo": huge, "device": huge, "hostname": huge}]
    ]}]}));
    let r = &out.rows[0];
    for v in [&r.user, &r.resource, &r.geo, &r.device, &r.hostname] {
        assert_eq!(v.as_deref().map(str::len), Some(MAX_FIELD_BYTES));
    }
    let e = event_row(&event("x.y", json!({"service": huge, "resource": huge})));
    assert_eq!(e.service.len(), MAX_LABEL_BYTES);
    assert_eq!(e.resource.map(|s| s.len()), Some(MAX_FIELD_BYTES));
}

#[test]
fn ids_and_hour_buckets() {
    assert_eq!(item_id(124, 1_706_616_060_999), "124-1706616060");
    assert_eq!(hour_bucket(1_769_764_500_000), 1_769_763_600_000);
    assert_eq!(hour_bucket(1_769_763_600_000), 1_769_763_600_000);
}

#[test]
fn insert_statements_chunk_and_return_on_request() {
    let out = rows_of(
        &json!({"streams":[{"values":vec![json!(["1769764500000000000","Failed password from 203.0.113.1"]); 50]}]}),
    );
    let all = insert_statements(&out.rows, false, 2_000).unwrap();
    // One insert per chunk, nothing else (the rollups catch up from the stored items).
    assert!(all.len() > 1);
    assert!(all.iter().all(|(sql, _)| sql == INSERT_LOGS_SQL));
    let total: usize = all
        .iter()
        .map(|(_, p)| match &p[0] {
            crate::api::sql::SqlParam::Text(t) => {
                serde_json::from_str::<Vec<Value>>(t).unwrap().len()
            }
            _ => 0,
        })
        .sum();
    assert_eq!(total, 50);
    let ret = insert_statements(&out.rows, true, 1_000_000).unwrap();
    assert_eq!(ret.len(), 1);
    assert!(ret[0].0.ends_with(RETURNING));
    for col in LOG_COLUMNS {
        assert!(INSERT_LOGS_SQL.contains(&format!("'$.{col}'")), "{col}");
    }
    assert!(insert_statements(&[], false, 1000).unwrap().is_empty());
}

// ---- events as log items (§3.1, §6) -------------------------------------------------------

fn event(name: &str, metadata: Value) -> EventRecord {
    let mut r = EventRecord::assign(
        NewEvent {
            event_name: name.into(),
            actor_id: Some("alice".into()),
            actor_email: None,
            user_ip: Some("203.0.113.50".into()),
            metadata: obj(metadata),
        },
        &org(),
        EventId::new_v4(),
        NOW,
        None,
    );
    r.enrichment.country_code = Some("GB".into());
    r.enrichment.is_vpn = Some(false);
    r
}

#[test]
fn standard_events_map_per_section_6() {
    let r = event("auth.login_failed", json!({}));
    let row = event_row(&r);
    assert_eq!(
        row,
        LogRow {
            org_id: "org_1".into(),
            ts: NOW.0,
            hour: hour_bucket(NOW.0),
            log_type: LogType::LoginFailure,
            action: None,
            level: LogLevel::Warning,
            service: "auth".into(),
            namespace: "litesoc".into(),
            source_ip: Some("203.0.113.50".into()),
            user: Some("alice".into()),
            hostname: None,
            target_ip: None,
            geo: Some("GB".into()),
            device: None,
            vpn: Some(false),
            detail: Default::default(),
            status_code: None,
            resource: Some("auth.login_failed".into()),
            message: "auth.login_failed".into(),
            event_id: Some(r.id.to_string()),
            event_name: Some("auth.login_failed".into()),
        }
    );
    let role = event_row(&event("authz.role_changed", json!({"new_role":"admin"})));
    assert_eq!(
        (role.log_type, role.action),
        (LogType::IamChange, Some(IamAction::RoleEscalated))
    );
    assert_eq!(role.level, LogLevel::Critical);
    assert_eq!(role.resource.as_deref(), Some("admin"));
    let logout = event_row(&event("auth.logout", json!({})));
    assert_eq!(
        (logout.log_type, logout.action, logout.level),
        (LogType::NetworkEvent, None, LogLevel::Info)
    );
}

#[test]
fn event_metadata_feeds_the_item() {
    let r = event(
        "billing.invoice_paid",
        json!({"service":"billing-api","namespace":"prod","hostname":"web-1","target_ip":"10.0.0.9",
               "device":"iphone","status_code":201,"resource":"inv_1","target":"t","message":"port scan from partner"}),
    );
    let row = event_row(&r);
    assert_eq!(
        (row.service.as_str(), row.namespace.as_str()),
        ("billing-api", "prod")
    );
    assert_eq!(row.hostname.as_deref(), Some("web-1"));
    assert_eq!(row.target_ip.as_deref(), Some("10.0.0.9"));
    assert_eq!(row.device.as_deref(), Some("iphone"));
    assert_eq!(row.status_code, Some(201));
    assert_eq!(row.resource.as_deref(), Some("inv_1"));
    // A custom event is classified by §4 on its name plus metadata.message.
    assert_eq!(row.log_type, LogType::NetworkScan);
    assert_eq!(row.message, "billing.invoice_paid: port scan from partner");
    assert_eq!(row.level, LogLevel::Info);

    let odd = event_row(&event(
        "auth.login_success",
        json!({"service":"","status_code":"abc","target":"acct_9"}),
    ));
    assert_eq!(odd.service, "auth");
    assert_eq!(odd.status_code, None);
    assert_eq!(odd.resource.as_deref(), Some("acct_9"));
    assert_eq!(
        event_row(&event("x.y", json!({"status_code":"404"}))).status_code,
        Some(404)
    );
    assert_eq!(
        event_row(&event("x.y", json!({"status_code":99}))).status_code,
        None
    );

    let mut anon = event("auth.login_failed", json!({}));
    (anon.actor_id, anon.user_ip, anon.enrichment.is_vpn) = (None, Some("  ".into()), None);
    let row = event_row(&anon);
    assert_eq!((row.user, row.source_ip, row.vpn), (None, None, None));
}

// ---- brute force from lines -----------------------------------------------------------------

mod brute_force {
    use super::super::detect::*;
    use super::*;
    use crate::alerts::suppress::Suppressions;
    use crate::alerts::DEDUP_WINDOW_MS;
    use crate::detect::{DetectionConfig, Occurrence};
    use crate::ingest::catalogue::AlertType;
    use crate::limits::plan::Plan;
    use std::collections::BTreeSet;

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;

    fn line(row: i64, offset: i64, ip: &str, user: Option<&str>) -> FailedLine {
        let at = NOW.0 + offset;
        FailedLine {
            id: item_id(row, at),
            at: UnixMs(at),
            ip: Some(ip.into()),
            user: user.map(Into::into),
        }
    }

    /// The history a query would return when the store holds exactly `lines` (and `extra`).
    fn history(lines: &[FailedLine], extra: &[(&str, &str, i64)]) -> (KeyHistory, KeyHistory) {
        let mut ip = Vec::new();
        let mut user = Vec::new();
        for l in lines {
            if let Some(i) = &l.ip {
                ip.push(json!({"event_id": l.id, "at": l.at.0 as f64, "k": i}));
            }
            if let Some(u) = &l.user {
                user.push(json!({"event_id": l.id, "at": l.at.0 as f64, "k": u}));
            }
        }
        for (id, ipk, offset) in extra {
            ip.push(json!({"event_id": id, "at": (NOW.0 + offset) as f64, "k": ipk}));
        }
        (assemble(ip).unwrap(), assemble(user).unwrap())
    }

    fn run(lines: &[FailedLine], extra: &[(&str, &str, i64)]) -> LineAlerts {
        let (ip, user) = history(lines, extra);
        candidates(lines, &ip, &user, Plan::Free, &DetectionConfig::default())
    }

    #[test]
    fn returned_rows_become_lines() {
        let row = |t: &str, ip: Value, user: Value| json!({"id": 124.0, "ts": 1_706_616_060_999.0, "type": t, "source_ip": ip, "user": user});
        let l = FailedLine::from_returned(&row("login_failure", json!("203.0.113.1"), Value::Null))
            .unwrap();
        assert_eq!(l.id, "124-1706616060");
        assert_eq!((l.ip.as_deref(), l.user), (Some("203.0.113.1"), None));
        let l =
            FailedLine::from_returned(&row("login_failure", Value::Null, json!("root"))).unwrap();
        assert_eq!((l.ip, l.user.as_deref()), (None, Some("root")));
        assert!(
            FailedLine::from_returned(&row("login_failure", Value::Null, Value::Null)).is_none()
        );
        assert!(FailedLine::from_returned(&row(
            "login_success",
            json!("203.0.113.1"),
            Value::Null
        ))
        .is_none());
        assert!(FailedLine::from_returned(&json!({"id": "x"})).is_none());
    }

    #[test]
    fn five_lines_from_one_ip_raise_one_alert_four_do_not() {
        let lines: Vec<_> = (0..5)
            .map(|i| line(i + 1, i * 10_000, "198.51.100.9", None))
            .collect();
        assert!(run(&lines[..4], &[]).candidates.is_empty());
        let out = run(&lines, &[]);
        assert_eq!(out.candidates.len(), 1);
        let (c, trigger) = &out.candidates[0];
        assert_eq!(c.alert_type, AlertType::BruteForceAttack);
        assert_eq!(c.dedup_key, "ip:198.51.100.9");
        let ev = &c.evidence;
        assert_eq!(
            (
                &ev["count"],
                &ev["threshold"],
                &ev["window_minutes"],
                &ev["key"]
            ),
            (&json!(5), &json!(5), &json!(5), &json!("ip"))
        );
        let ids: Vec<&str> = lines.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(
            ev["event_ids"],
            json!(ids),
            "every line behind the alert, oldest first"
        );
        assert_eq!(
            ev["source_ips"],
            json!([{"ip": "198.51.100.9", "count": 5}])
        );
        assert_eq!(c.trigger_event_id, lines[4].id);
        assert_eq!(trigger, &lines[4]);
        assert_eq!(c.confidence, 70);
        let writes = alert_statements(&org(), &out, &Suppressions::none(), NOW);
        assert_eq!(writes.dropped_folds, 0);
        let stmts = writes.statements;
        assert_eq!(stmts.len(), 3);
        assert!(stmts.iter().all(|(_, p)| match &p[0] {
            crate::api::sql::SqlParam::Text(t) => t.contains(r#""org":"org_1""#),
            _ => false,
        }));
    }

    #[test]
    fn lines_outside_the_window_do_not_count() {
        let lines: Vec<_> = (0..5)
            .map(|i| line(i + 1, i * 2 * MIN, "198.51.100.9", None))
            .collect();
        assert!(
            run(&lines, &[]).candidates.is_empty(),
            "8 minutes apart end to end"
        );
    }

    #[test]
    fn events_in_the_history_count_too() {
        // Three auth.login_failed events (UUID ids) already stored, then two lines.
        let lines = vec![
            line(10, 0, "203.0.113.5", None),
            line(11, 1000, "203.0.113.5", None),
        ];
        let extra = [
            ("e-1", "203.0.113.5", -MIN),
            ("e-2", "203.0.113.5", -2 * MIN),
            ("e-3", "203.0.113.5", -3 * MIN),
        ];
        let out = run(&lines, &extra);
        assert_eq!(out.candidates.len(), 1);
        assert_eq!(out.candidates[0].0.evidence["count"], 5);
        assert_eq!(out.candidates[0].1, lines[1]);
    }

    #[test]
    fn a_long_burst_keeps_first_and_last_per_span() {
        // 30 failures, one every 10 s: qualifying from the 5th; one span.
        let lines: Vec<_> = (0..30)
            .map(|i| line(i + 1, i * 10_000, "198.51.100.9", None))
            .collect();
        let out = run(&lines, &[]);
        let ids: Vec<&str> = out
            .candidates
            .iter()
            .map(|(c, _)| c.trigger_event_id.as_str())
            .collect();
        assert_eq!(ids, [lines[4].id.as_str(), lines[29].id.as_str()]);
        assert_eq!(out.folded.len(), 24);
        assert!(
            out.folded.iter().all(|(c, _)| *c == 0),
            "they join the first's alert"
        );
        assert_eq!(out.candidates[1].0.evidence["count"], 30);
        assert_eq!(out.candidates[1].0.confidence, 99);
        // Every qualifying line is an occurrence, as 26 events would be on the event path.
        let writes = alert_statements(&org(), &out, &Suppressions::none(), NOW);
        let folds = written_folds(&writes.statements);
        assert_eq!(folds.len(), 1);
        let ids: Vec<&str> = folds[0]["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let expected: Vec<&str> = lines[4..].iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, expected, "oldest first, each once");
        assert_eq!(
            folds[0]["evidence"]["count"], 30,
            "the last line's evidence"
        );
    }

    #[test]
    fn a_new_span_after_the_dedup_window_opens_a_new_alert() {
        let mut lines: Vec<_> = (0..5)
            .map(|i| line(i + 1, i * 1000, "198.51.100.9", None))
            .collect();
        lines.extend((0..5).map(|i| line(i + 10, 90 * MIN + i * 1000, "198.51.100.9", None)));
        let out = run(&lines, &[]);
        let ids: Vec<&str> = out
            .candidates
            .iter()
            .map(|(c, _)| c.trigger_event_id.as_str())
            .collect();
        assert_eq!(ids, [lines[4].id.as_str(), lines[9].id.as_str()]);
    }

    #[test]
    fn accounts_are_keyed_by_user_with_their_own_threshold() {
        // Ten failures against one user from ten IPs over 50 minutes.
        let lines: Vec<_> = (0..10)
            .map(|i| {
                line(
                    i + 1,
                    i * 5 * MIN,
                    &format!("203.0.113.{}", i + 1),
                    Some("root"),
                )
            })
            .collect();
        let out = run(&lines, &[]);
        assert_eq!(out.candidates.len(), 1);
        let c = &out.candidates[0].0;
        assert_eq!(c.dedup_key, "actor:root");
        assert_eq!(c.evidence["key"], "account");
        assert_eq!(c.evidence["count"], 10);
    }

    #[test]
    fn both_rules_on_one_line_give_two_candidates() {
        let lines: Vec<_> = (0..10)
            .map(|i| line(i + 1, i * 1000, "198.51.100.9", Some("root")))
            .collect();
        let out = run(&lines, &[]);
        let keys: Vec<&str> = out
            .candidates
            .iter()
            .map(|(c, _)| c.dedup_key.as_str())
            .collect();
        assert_eq!(keys, ["ip:198.51.100.9", "ip:198.51.100.9", "actor:root"]);
        assert_eq!(out.candidates[1].1, lines[9]);
        assert_eq!(out.candidates[2].1, lines[9]);
    }

    /// Every fold the statements write, layer after layer.
    fn written_folds(stmts: &[crate::api::sql::Statement]) -> Vec<Value> {
        crate::alerts::folds(stmts).concat()
    }

    #[test]
    fn every_alerting_key_of_a_push_is_written() {
        // 40 IPs, each with a burst of 5: 40 keys alert (first == last line: one candidate each).
        // The old per-push cap of 32 candidates dropped 8 of them.
        let mut lines = Vec::new();
        for ip in 0..40 {
            for i in 0..5 {
                lines.push(line(
                    ip * 10 + i + 1,
                    i * 1000,
                    &format!("198.51.100.{ip}"),
                    None,
                ));
            }
        }
        let out = run(&lines, &[]);
        assert_eq!(out.candidates.len(), 40);
        let writes = alert_statements(&org(), &out, &Suppressions::none(), NOW);
        assert_eq!(writes.dropped_folds, 0);
        assert!(writes.statements.len() <= MAX_ALERT_STATEMENTS);
        let keys: BTreeSet<String> = written_folds(&writes.statements)
            .iter()
            .map(|f| f["key"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(keys.len(), 40);
    }

    #[test]
    fn a_push_over_the_write_budget_keeps_each_keys_newest_spans() {
        // One IP bursting once every two hours, 40 times: 40 spans of one key, each in its own
        // layer of three statements. The budget keeps the newest ten, still written oldest first.
        const SPANS: i64 = 40;
        let mut lines = Vec::new();
        for span in 0..SPANS {
            for i in 0..5 {
                lines.push(line(
                    span * 10 + i + 1,
                    span * 2 * HOUR + i * 1000,
                    "198.51.100.7",
                    None,
                ));
            }
        }
        let out = run(&lines, &[]);
        assert_eq!(out.candidates.len(), SPANS as usize);
        let writes = alert_statements(&org(), &out, &Suppressions::none(), NOW);
        assert_eq!(writes.statements.len(), MAX_ALERT_STATEMENTS);
        let kept = (MAX_ALERT_STATEMENTS / 3) as i64;
        assert_eq!(writes.dropped_folds, (SPANS - kept) as usize);
        let starts: Vec<i64> = written_folds(&writes.statements)
            .iter()
            .map(|f| f["since"].as_i64().unwrap() + DEDUP_WINDOW_MS)
            .collect();
        // A span opens on its burst's fifth line, the first to reach the threshold.
        let expected: Vec<i64> = (SPANS - kept..SPANS)
            .map(|span| lines[(span * 5 + 4) as usize].at.0)
            .collect();
        assert_eq!(starts, expected);
    }

    #[test]
    fn lines_without_keys_are_ignored_and_history_queries_are_org_scoped() {
        let keyless = FailedLine {
            id: "1-1".into(),
            at: NOW,
            ip: Some("unknown".into()),
            user: None,
        };
        assert!(history_statements(
            "org_1",
            std::slice::from_ref(&keyless),
            &DetectionConfig::default()
        )
        .is_empty());
        assert!(history_statements("org_1", &[], &DetectionConfig::default()).is_empty());
        let lines = vec![
            line(1, 0, "198.51.100.9", Some("root")),
            line(2, 3 * MIN, "198.51.100.9", None),
        ];
        let stmts = history_statements("org_1", &lines, &DetectionConfig::default());
        let kinds: Vec<KeyKind> = stmts.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, [KeyKind::Ip, KeyKind::User]);
        let (sql, params) = &stmts[0].1;
        assert!(
            sql.contains("org_id = ?1") && sql.contains("source_ip = j.value"),
            "{sql}"
        );
        assert_eq!(
            params[1],
            crate::api::sql::SqlParam::Number((NOW.0 - 5 * MIN) as f64)
        );
        assert_eq!(
            params[2],
            crate::api::sql::SqlParam::Number((NOW.0 + 3 * MIN) as f64)
        );
        assert_eq!(
            params[3],
            crate::api::sql::SqlParam::Text(r#"["198.51.100.9"]"#.into())
        );
        assert_eq!(
            stmts[1].1 .1[1],
            crate::api::sql::SqlParam::Number((NOW.0 - 60 * MIN) as f64)
        );
        assert!(run(&[keyless], &[]).candidates.is_empty());
    }

    #[test]
    fn assemble_sorts_and_dedups() {
        let h = assemble(vec![
            json!({"event_id":"b","at":2.0,"k":"x"}),
            json!({"event_id":"a","at":1.0,"k":"x"}),
            json!({"event_id":"a","at":1.0,"k":"x"}),
        ])
        .unwrap();
        assert_eq!(
            h["x"],
            [
                Occurrence {
                    event_id: "a".into(),
                    at: UnixMs(1),
                    peer: None
                },
                Occurrence {
                    event_id: "b".into(),
                    at: UnixMs(2),
                    peer: None
                }
            ]
        );
        assert!(assemble(vec![json!({"x":1})]).is_err());
    }
}

mod amplification_limits {
    use super::super::push::parse_push;
    use super::super::{MAX_LABELS, MAX_STREAMS};

    #[test]
    fn too_many_streams_is_413_not_a_memory_bill() {
        // ~1.4 million empty streams fit in 4 MiB; the stream cap stops the parse early.
        let body = format!(
            r#"{{"streams":[{}]}}"#,
            vec!["{}"; MAX_STREAMS + 1].join(",")
        );
        let err = parse_push(body.as_bytes()).unwrap_err();
        assert_eq!(err.status(), 413, "{}", err.message);
        assert!(err.message.contains("streams"), "{}", err.message);
        let ok = format!(r#"{{"streams":[{}]}}"#, ["{}"; 10].join(","));
        assert_eq!(parse_push(ok.as_bytes()).unwrap().len(), 10);
    }

    #[test]
    fn too_many_labels_is_413_and_non_string_values_are_skipped() {
        let labels: Vec<String> = (0..=MAX_LABELS).map(|i| format!(r#""l{i}":"v""#)).collect();
        let body = format!(
            r#"{{"streams":[{{"stream":{{{}}},"values":[]}}]}}"#,
            labels.join(",")
        );
        let err = parse_push(body.as_bytes()).unwrap_err();
        assert_eq!(err.status(), 413, "{}", err.message);
        assert!(err.message.contains("labels"), "{}", err.message);
        let mixed = r#"{"streams":[{"stream":{"service":"api","n":5,"o":{"deep":[1,2]},"z":null},"values":[]},{"stream":null}]}"#;
        let streams = parse_push(mixed.as_bytes()).unwrap();
        assert_eq!(streams.len(), 2);
    }
}

#[test]
fn rejected_entries_are_counted_and_named_by_reason() {
    use crate::logs::{LineRows, Rejected};
    assert_eq!(LineRows::default().rejected(UnixMs(0)), Rejected::default());
    let rows = LineRows {
        rows: vec![],
        dropped_old: 2,
        dropped_future: 1,
        dropped_empty: 0,
        dropped_excess: 4,
        files: 1,
        records: 0,
        truncated: 0,
    };
    let r = rows.rejected(UnixMs(1_769_731_200_000));
    assert_eq!(r.count, 7);
    assert_eq!(
        r.message,
        "7 of 7 entries were not stored: 2 older than the retention cutoff \
         2026-01-30T00:00:00Z, 1 more than 10 minutes in the future, 4 CloudTrail records \
         beyond the 10000 a push may hold; the other 0 were stored"
    );
}

#[test]
fn a_cloudtrail_file_pushed_as_one_line_is_stored_as_its_records_at_their_own_times() {
    let record = |time: &str, result: &str, ip: &str| {
        json!({"eventVersion": "1.09", "eventTime": time, "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin", "sourceIPAddress": ip, "userAgent": "Mozilla/5.0",
            "userIdentity": {"type": "IAMUser", "userName": "dana"},
            "responseElements": {"ConsoleLogin": result}})
    };
    let file = json!({"Records": [
        record("2026-01-30T09:10:00Z", "Failure", "203.0.113.61"),
        record("2026-01-30T09:11:00Z", "Success", "203.0.113.61"),
        record("2025-01-30T09:11:00Z", "Success", "203.0.113.62"),
    ]});
    let body = json!({"streams": [{"stream": {"service": "cloudtrail"},
        "values": [[format!("{}000000", NOW.0), file.to_string()], [format!("{}000000", NOW.0), "an ordinary line"]]}]});
    let out = build_line_rows(&push(&body), &org(), NOW, UnixMs(NOW.0 - 30 * DAY));
    let rows: Vec<(i64, LogType, Option<&str>)> = out
        .rows
        .iter()
        .map(|r| (r.ts, r.log_type, r.source_ip.as_deref()))
        .collect();
    assert_eq!(
        rows,
        [
            (
                1_769_764_200_000,
                LogType::LoginFailure,
                Some("203.0.113.61")
            ),
            (
                1_769_764_260_000,
                LogType::LoginSuccess,
                Some("203.0.113.61")
            ),
            (NOW.0, LogType::NetworkEvent, None),
        ]
    );
    assert!(out.rows[..2]
        .iter()
        .all(|r| r.user.as_deref() == Some("dana") && r.detail.parser == Some("cloudtrail")));
    assert_eq!(out.dropped_old, 1, "the year-old record is past the cutoff");
    assert_eq!((out.files, out.records), (1, 3));
    assert!(out
        .rejected(UnixMs(NOW.0 - 30 * DAY))
        .message
        .starts_with("1 of 4 entries were not stored"));
}
