//! Tests for §7.3 field extraction (JSON, logfmt, plain text, structured metadata).

use super::extract::{common_log_status, first_ip_literal, parse_ip_field};
use super::*;
use serde_json::{json, Map, Value};
use std::net::IpAddr;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

// ---- the two §7.1 example lines -----------------------------------------------------------

#[test]
fn contract_example_json_line() {
    let line =
        r#"{"level":"error","msg":"failed login","user":"admin","ip":"203.0.113.45","status":401}"#;
    let f = extract_fields(line, None);
    assert_eq!(
        f,
        ExtractedFields {
            format: LineFormat::Json,
            message: "failed login".into(),
            level: Some(LogLevel::Error),
            ip: Some("203.0.113.45".into()),
            user: Some("admin".into()),
            status: Some(401),
            ..Default::default()
        }
    );
    assert_eq!(f.classify(), (LogType::LoginFailure, None));
}

#[test]
fn contract_example_plain_line() {
    let line = "sshd: Failed password for invalid user oracle from 198.51.100.9 port 50122";
    let f = extract_fields(line, None);
    // The sshd parser (§7.5) reads the user and the auth method as well as the IP.
    let parsed = Recognised {
        user: Some("oracle".into()),
        ip: Some("198.51.100.9".into()),
        method: Some("password".into()),
        ..Recognised::new("sshd", LogType::LoginFailure)
    };
    assert_eq!(
        f,
        ExtractedFields {
            format: LineFormat::Plain,
            message: line.into(),
            ip: Some("198.51.100.9".into()),
            user: Some("oracle".into()),
            method: Some("password".into()),
            parsed: Some(parsed),
            ..Default::default()
        }
    );
    assert_eq!(f.classify(), (LogType::LoginFailure, None));
    assert_eq!(
        f.level.unwrap_or_else(|| LogLevel::from_status(f.status)),
        LogLevel::Info
    );
}

// ---- JSON lines ---------------------------------------------------------------------------

#[test]
fn json_first_key_present_wins_for_every_field() {
    let line = json!({
        "message": "second", "msg": "first", "log": "third",
        "severity": "warn", "lvl": "debug", "level": "CRIT",
        "client_ip": "198.51.100.2", "ip": "198.51.100.1",
        "username": "second", "user": "first",
        "methodName": "second", "method": "POST",
        "statusCode": 500, "status_code": "404",
        "resourceName": "second", "resource": "projects/p1",
        "country": "FR", "geo": "DE", "country_code": "US",
        "host": "h2", "hostname": "h1", "pod": "p3",
        "dest_ip": "192.0.2.2", "target_ip": "192.0.2.1",
        "device": "iPhone",
        "vpn": true
    })
    .to_string();
    let f = extract_fields(&line, None);
    assert_eq!(
        f,
        ExtractedFields {
            format: LineFormat::Json,
            message: "first".into(),
            level: Some(LogLevel::Critical),
            ip: Some("198.51.100.1".into()),
            user: Some("first".into()),
            method: Some("POST".into()),
            status: Some(404),
            resource: Some("projects/p1".into()),
            geo: Some("DE".into()),
            hostname: Some("h1".into()),
            target_ip: Some("192.0.2.1".into()),
            device: Some("iPhone".into()),
            vpn: Some(true),
            parsed: None,
        }
    );
}

#[test]
fn json_later_keys_are_used_when_earlier_ones_are_missing() {
    let line = json!({
        "textPayload": "tp", "lvl": "trace", "sourceIp": "2001:db8::9",
        "actor": "svc", "http_method": "DELETE", "statusCode": "503",
        "country_code": "JP", "pod": "api-1", "dst_ip": "10.0.0.3"
    })
    .to_string();
    let f = extract_fields(&line, None);
    assert_eq!(f.message, "tp");
    assert_eq!(f.level, Some(LogLevel::Debug));
    assert_eq!(f.ip.as_deref(), Some("2001:db8::9"));
    assert_eq!(f.user.as_deref(), Some("svc"));
    assert_eq!(f.method.as_deref(), Some("DELETE"));
    assert_eq!(f.status, Some(503));
    assert_eq!(f.geo.as_deref(), Some("JP"));
    assert_eq!(f.hostname.as_deref(), Some("api-1"));
    assert_eq!(f.target_ip.as_deref(), Some("10.0.0.3"));
}

#[test]
fn json_unusable_values_count_as_absent() {
    let line = json!({
        "msg": null, "message": "  ", "log": "real",
        "level": 50, "severity": "", "lvl": "notice",
        "ip": "unknown", "client_ip": "-", "remote_addr": "203.0.113.7:51234",
        "user": {"id": 1}, "username": "", "user_name": 42,
        "status": 700, "status_code": "abc", "statusCode": " 302 ",
        "resource": ["a"], "resourceName": "bucket"
    })
    .to_string();
    let f = extract_fields(&line, None);
    assert_eq!(f.message, "real");
    assert_eq!(f.level, Some(LogLevel::Info));
    assert_eq!(f.ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(f.user.as_deref(), Some("42"));
    assert_eq!(f.status, Some(302));
    assert_eq!(f.resource.as_deref(), Some("bucket"));
}

#[test]
fn json_status_bounds() {
    for (value, expected) in [
        (json!(100), Some(100)),
        (json!(599), Some(599)),
        (json!(99), None),
        (json!(600), None),
        (json!(-401), None),
        (json!(401.0), None),
        (json!("401"), Some(401)),
        (json!("4O1"), None),
        (json!("+401"), None),
        (json!(true), None),
    ] {
        let line = json!({ "status": value }).to_string();
        assert_eq!(extract_fields(&line, None).status, expected, "{line}");
    }
}

#[test]
fn json_gcp_audit_record_uses_nested_proto_payload_paths() {
    let line = json!({
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "authenticationInfo": {"principalEmail": "alice@example.com"},
            "requestMetadata": {"callerIp": "203.0.113.20", "callerSuppliedUserAgent": "gcloud"},
            "methodName": "SetIamPolicy",
            "resourceName": "projects/demo",
            "authorizationInfo": [{"permission": "resourcemanager.projects.setIamPolicy"}]
        },
        "severity": "NOTICE",
        "logName": "projects/demo/logs/cloudaudit.googleapis.com%2Factivity"
    })
    .to_string();
    let f = extract_fields(&line, None);
    assert_eq!(f.format, LineFormat::Json);
    assert_eq!(f.message, "");
    assert_eq!(f.user.as_deref(), Some("alice@example.com"));
    assert_eq!(f.ip.as_deref(), Some("203.0.113.20"));
    assert_eq!(f.method.as_deref(), Some("SetIamPolicy"));
    assert_eq!(f.resource.as_deref(), Some("projects/demo"));
    assert_eq!(f.level, Some(LogLevel::Info));
    // The GCP audit parser (§7.5): SetIamPolicy attaches a policy.
    assert_eq!(
        f.classify(),
        (LogType::IamChange, Some(IamAction::PolicyAttached))
    );
    assert_eq!(f.parsed.map(|p| p.parser), Some("gcp_audit"));
}

#[test]
fn json_flat_keys_win_over_nested_paths_and_literal_dotted_keys_work() {
    let line = json!({
        "methodName": "CreateRole",
        "protoPayload": {"methodName": "DeleteRole"}
    })
    .to_string();
    let f = extract_fields(&line, None);
    assert_eq!(f.method.as_deref(), Some("CreateRole"));
    assert_eq!(
        f.classify(),
        (LogType::IamChange, Some(IamAction::ResourceCreated))
    );

    let line = json!({"protoPayload.methodName": "AttachRolePolicy"}).to_string();
    assert_eq!(
        extract_fields(&line, None).method.as_deref(),
        Some("AttachRolePolicy")
    );

    // A nested path through a non-object stops quietly.
    let line = json!({"protoPayload": "flat"}).to_string();
    assert_eq!(extract_fields(&line, None).method, None);
}

#[test]
fn json_message_heuristics_fill_a_missing_ip_and_status() {
    // Fluent Bit / Docker style: the real line is inside `log`.
    let line = json!({
        "log": "203.0.113.9 - - [30/Jan/2026:12:00:00 +0000] \"POST /login HTTP/1.1\" 401 12 \"-\" \"curl\"\n",
        "stream": "stdout"
    })
    .to_string();
    let f = extract_fields(&line, None);
    assert_eq!(f.ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(f.status, Some(401));
    // Explicit keys win over the heuristics.
    let line =
        json!({"log": "from 198.51.100.1 \"x\" 500", "ip": "192.0.2.5", "status": 200}).to_string();
    let f = extract_fields(&line, None);
    assert_eq!(f.ip.as_deref(), Some("192.0.2.5"));
    assert_eq!(f.status, Some(200));
}

#[test]
fn json_key_names_are_not_classified() {
    let line = json!({"role": "admin", "auth": "ok", "port": 22}).to_string();
    let f = extract_fields(&line, None);
    assert_eq!(f.message, "");
    assert_eq!(f.classify(), (LogType::NetworkEvent, None));
}

#[test]
fn broken_or_non_object_json_is_not_a_json_line() {
    // Truncated by the 8 KiB cut: read as plain text, which still finds the IP.
    let f = extract_fields(r#"{"msg":"failed login","ip":"203.0.113.45","stat"#, None);
    assert_eq!(f.format, LineFormat::Plain);
    assert_eq!(f.ip.as_deref(), Some("203.0.113.45"));
    assert_eq!(f.classify().0, LogType::LoginFailure);

    let f = extract_fields(r#"["failed", "login"]"#, None);
    assert_eq!(f.format, LineFormat::Plain);

    // Surrounding whitespace is ignored.
    let f = extract_fields("  {\"msg\":\"hi\"}\n", None);
    assert_eq!(f.format, LineFormat::Json);
    assert_eq!(f.message, "hi");
}

#[test]
fn ip_fields_accept_ports_brackets_lists_and_mapped_addresses() {
    for (value, expected) in [
        ("203.0.113.5", Some("203.0.113.5")),
        (" 203.0.113.5 ", Some("203.0.113.5")),
        ("203.0.113.5:5555", Some("203.0.113.5")),
        ("[2001:db8::5]:443", Some("2001:db8::5")),
        ("[2001:db8::5]", Some("2001:db8::5")),
        ("2001:DB8:0:0:0:0:0:5", Some("2001:db8::5")),
        ("::ffff:198.51.100.4", Some("198.51.100.4")),
        ("203.0.113.9, 10.0.0.1", Some("203.0.113.9")),
        ("unknown, 10.0.0.1", Some("10.0.0.1")),
        ("unknown", None),
        ("", None),
        ("example.com", None),
    ] {
        assert_eq!(
            parse_ip_field(value).map(|ip| ip.to_string()).as_deref(),
            expected,
            "{value:?}"
        );
    }
}

// ---- vpn ----------------------------------------------------------------------------------

#[test]
fn vpn_field_truthiness_and_message_token() {
    for (value, expected) in [
        (json!(true), Some(true)),
        (json!(false), Some(false)),
        (json!(1), Some(true)),
        (json!(0), Some(false)),
        (json!("TRUE"), Some(true)),
        (json!("yes"), Some(true)),
        (json!("on"), Some(true)),
        (json!("1"), Some(true)),
        (json!("no"), Some(false)),
        (json!("off"), Some(false)),
        (json!("maybe"), None),
        (json!(null), None),
    ] {
        let line = json!({"msg": "login", "vpn": value}).to_string();
        assert_eq!(extract_fields(&line, None).vpn, expected, "{line}");
    }
    // The token `vpn` in the message makes it true, even over a falsy field.
    let line = json!({"msg": "login via VPN gateway", "vpn": false}).to_string();
    assert_eq!(extract_fields(&line, None).vpn, Some(true));
    assert_eq!(
        extract_fields("Accepted password via vpn-gw-1", None).vpn,
        Some(true)
    );
    // Only the whole token counts.
    assert_eq!(extract_fields("openvpn restarted", None).vpn, None);
    assert_eq!(extract_fields("connection closed", None).vpn, None);
}

// ---- logfmt lines -------------------------------------------------------------------------

#[test]
fn logfmt_line_reads_the_same_keys() {
    let line = r#"ts=2026-01-30T12:00:00Z level=warn msg="failed login for admin" user=admin ip=203.0.113.45 status=401 host=auth-1 device="Pixel 8" vpn=true"#;
    let f = extract_fields(line, None);
    assert_eq!(
        f,
        ExtractedFields {
            format: LineFormat::Logfmt,
            message: "failed login for admin".into(),
            level: Some(LogLevel::Warning),
            ip: Some("203.0.113.45".into()),
            user: Some("admin".into()),
            status: Some(401),
            hostname: Some("auth-1".into()),
            device: Some("Pixel 8".into()),
            vpn: Some(true),
            ..Default::default()
        }
    );
    assert_eq!(f.classify(), (LogType::LoginFailure, None));
}

#[test]
fn logfmt_quoted_values_escapes_duplicates_and_empty_values() {
    let line = r#"msg="said \"role granted\"" user= username=bob user_name=carol user=dave"#;
    let f = extract_fields(line, None);
    assert_eq!(f.format, LineFormat::Logfmt);
    assert_eq!(f.message, r#"said "role granted""#);
    // `user=` is empty and so absent; the first `user` occurrence is kept, so `dave` is not seen.
    assert_eq!(f.user.as_deref(), Some("bob"));
    assert_eq!(
        f.classify(),
        (LogType::IamChange, Some(IamAction::PermissionChanged))
    );
}

#[test]
fn logfmt_method_and_dotted_keys() {
    let f = extract_fields(
        "protoPayload.methodName=google.iam.admin.v1.CreateRole protoPayload.resourceName=roles/x",
        None,
    );
    assert_eq!(f.format, LineFormat::Logfmt);
    assert_eq!(f.method.as_deref(), Some("google.iam.admin.v1.CreateRole"));
    assert_eq!(f.resource.as_deref(), Some("roles/x"));
    assert_eq!(
        f.classify(),
        (LogType::IamChange, Some(IamAction::ResourceCreated))
    );
}

#[test]
fn logfmt_without_message_key_has_an_empty_message_but_keeps_heuristics_off_keys() {
    let f = extract_fields(
        r#"at=info method=GET path="/login" fwd="203.0.113.8" status=200"#,
        None,
    );
    assert_eq!(f.format, LineFormat::Logfmt);
    assert_eq!(f.message, "");
    assert_eq!(f.method.as_deref(), Some("GET"));
    assert_eq!(f.status, Some(200));
    // `fwd` is not an IP key, and the empty message gives the heuristic nothing.
    assert_eq!(f.ip, None);
    assert_eq!(f.classify(), (LogType::NetworkEvent, None));
}

#[test]
fn prose_with_some_pairs_is_plain_text() {
    let line = "Failed login user=bob from 203.0.113.45";
    let f = extract_fields(line, None);
    assert_eq!(f.format, LineFormat::Plain);
    assert_eq!(f.message, line);
    assert_eq!(f.ip.as_deref(), Some("203.0.113.45"));
    assert_eq!(f.user, None);
    assert_eq!(f.classify(), (LogType::LoginFailure, None));

    let f = extract_fields(r#"msg="unterminated ip=1.2.3.4"#, None);
    assert_eq!(f.format, LineFormat::Plain);
    assert_eq!(f.ip.as_deref(), Some("1.2.3.4"));
}

// ---- plain text ---------------------------------------------------------------------------

#[test]
fn plain_ipv6_extraction() {
    let f = extract_fields(
        "Accepted publickey for bob from 2001:db8::1 port 22 ssh2",
        None,
    );
    assert_eq!(f.ip.as_deref(), Some("2001:db8::1"));

    for (text, expected) in [
        ("conn [2001:db8:0:0::7]:443 reset", ip("2001:db8::7")),
        ("from fe80::1%eth0 ok", ip("fe80::1")),
        ("client=2001:db8::2, retry", ip("2001:db8::2")),
        ("peer 2001:db8::3: closed", ip("2001:db8::3")),
        ("loopback ::1 only", ip("::1")),
        ("mapped ::ffff:203.0.113.1 seen", ip("203.0.113.1")),
    ] {
        assert_eq!(first_ip_literal(text), expected, "{text}");
    }
}

#[test]
fn plain_ipv4_extraction_and_first_literal_wins() {
    for (text, expected) in [
        ("from 198.51.100.9 port 22", ip("198.51.100.9")),
        ("connect to 198.51.100.9:8080 failed", ip("198.51.100.9")),
        ("blocked 203.0.113.4.", ip("203.0.113.4")),
        ("(203.0.113.4)", ip("203.0.113.4")),
        ("ip=203.0.113.4,", ip("203.0.113.4")),
        ("first 192.0.2.1 then 2001:db8::1", ip("192.0.2.1")),
        ("first 2001:db8::1 then 192.0.2.1", ip("2001:db8::1")),
        ("bad 999.1.1.1 then 192.0.2.8", ip("192.0.2.8")),
    ] {
        assert_eq!(first_ip_literal(text), expected, "{text}");
    }
}

#[test]
fn plain_text_without_an_ip() {
    for text in [
        "",
        "started at 12:30:45 on 2026-01-30",
        "separator :: here",
        "in cache::fetch and std::io",
        "version v1.2.3.4 installed",
        "release 1.2.3 ok",
        "mac 00:1a:2b:3c:4d:5e up",
        "octets 1.2.3.4.5 bad",
    ] {
        assert_eq!(first_ip_literal(text), None, "{text}");
    }
}

#[test]
fn plain_combined_log_line_gives_ip_and_status() {
    let line = r#"203.0.113.7 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#;
    let f = extract_fields(line, None);
    assert_eq!(f.format, LineFormat::Plain);
    assert_eq!(f.ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(f.status, Some(200));
    assert_eq!(f.level, None);
    assert_eq!(f.classify(), (LogType::NetworkEvent, None));

    let line = r#"2001:db8::4 - - [30/Jan/2026:12:00:00 +0000] "POST /wp-login.php HTTP/1.1" 403 0 "-" "python-requests/2.31""#;
    let f = extract_fields(line, None);
    assert_eq!(f.ip.as_deref(), Some("2001:db8::4"));
    assert_eq!(f.status, Some(403));
    assert_eq!(LogLevel::from_status(f.status), LogLevel::Warning);
    // The access-log parser (§7.5): a refused POST to a login path is a failed login (the §4
    // rules used to read `login` here as a success).
    assert_eq!(f.classify().0, LogType::LoginFailure);
    assert_eq!(f.resource.as_deref(), Some("/wp-login.php"));
}

#[test]
fn common_log_status_edge_cases() {
    for (text, expected) in [
        (r#""GET / HTTP/1.1" 404 0"#, Some(404)),
        (r#""GET / HTTP/1.1" 500"#, Some(500)),
        ("\"GET / HTTP/1.1\"\t301 0", Some(301)),
        (r#""GET /a\"b HTTP/1.1" 201 5"#, Some(201)),
        (r#""GET / HTTP/1.1"200 5"#, None),
        (r#""GET / HTTP/1.1" 2000 5"#, None),
        (r#""GET / HTTP/1.1" 20 5"#, None),
        (r#""GET / HTTP/1.1" 999 5"#, None),
        (r#""GET / HTTP/1.1" 099 5"#, None),
        (r#""GET / HTTP/1.1" - 5"#, None),
        (r#"status 200 without quotes"#, None),
        // An opening quote is not a closing one.
        (r#"x "200 y""#, None),
        // The first closing quote followed by a status wins.
        (r#""a" b "c" 302 "d" 404"#, Some(302)),
        ("unterminated \"", None),
    ] {
        assert_eq!(common_log_status(text), expected, "{text}");
    }
}

// ---- structured metadata ------------------------------------------------------------------

#[test]
fn structured_metadata_fills_fields_the_line_lacks() {
    let meta = obj(json!({
        "user": "meta-user", "ip": "10.0.0.9", "level": "error",
        "trace_id": "abc", "msg": "meta message", "device": "laptop"
    }));
    // JSON line: its own keys win, metadata fills the rest.
    let f = extract_fields(r#"{"msg":"line message","user":"line-user"}"#, Some(&meta));
    assert_eq!(f.message, "line message");
    assert_eq!(f.user.as_deref(), Some("line-user"));
    assert_eq!(f.ip.as_deref(), Some("10.0.0.9"));
    assert_eq!(f.level, Some(LogLevel::Error));
    assert_eq!(f.device.as_deref(), Some("laptop"));

    // A line's own key wins even when metadata has an *earlier* key of the same field.
    let f = extract_fields(r#"{"client_ip":"192.0.2.1"}"#, Some(&meta));
    assert_eq!(f.ip.as_deref(), Some("192.0.2.1"));

    // JSON/logfmt without a message key take the metadata's.
    let f = extract_fields("level=info user=x", Some(&meta));
    assert_eq!(f.message, "meta message");
    assert_eq!(f.level, Some(LogLevel::Info));
}

#[test]
fn structured_metadata_beats_plain_text_heuristics_but_not_the_line_as_message() {
    let meta = obj(json!({"ip": "10.0.0.9", "status": "502", "msg": "ignored", "user": "bob"}));
    let line = r#"198.51.100.3 - - [x] "GET /a HTTP/1.1" 200 1"#;
    let f = extract_fields(line, Some(&meta));
    assert_eq!(f.format, LineFormat::Plain);
    assert_eq!(f.message, line);
    assert_eq!(f.ip.as_deref(), Some("10.0.0.9"));
    assert_eq!(f.status, Some(502));
    assert_eq!(f.user.as_deref(), Some("bob"));

    // Without metadata the heuristics answer.
    let f = extract_fields(line, None);
    assert_eq!(f.ip.as_deref(), Some("198.51.100.3"));
    assert_eq!(f.status, Some(200));

    // Empty metadata changes nothing.
    assert_eq!(extract_fields(line, Some(&Map::new())), f);
}
