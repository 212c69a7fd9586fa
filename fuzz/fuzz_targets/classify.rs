//! The log classifier (docs/dashboard.md §3–§7): `tokenize`, `classify_with_action`,
//! `extract_fields`, `classify_event`, `LogLevel::normalize`, `StreamLabels::from_labels`.
//!
//! Input: fields separated by 0x1F — `line`, `structured` (a JSON object, else absent),
//! `method`, `status` (decimal, else two raw bytes), `event_name`, `metadata.message`,
//! `level`. Only the line is needed; a plain log line is a valid seed.
//!
//! Checks, beyond "no panic":
//! * tokens are non-empty, with no ASCII uppercase or ASCII non-alphanumeric character, and
//!   `tokenize(a, b) == tokenize("a b", "")`;
//! * `classify_with_action` agrees with `classify` and `iam_action`; the action is set exactly
//!   for `iam_change` (also for `classify_event` and `ExtractedFields::classify`);
//! * `extract_fields` never returns an IP that does not parse, or one not in canonical form;
//!   status in 100–599; text fields trimmed and non-empty; the message is trimmed, and is the
//!   whole trimmed line for plain text; the `vpn` token sets `vpn`;
//! * `normalize` is case-, whitespace-insensitive and a fixed point on canonical names.
#![no_main]

use edgesoc_core::logs::classify::{
    classify, classify_event, classify_with_action, extract_fields, iam_action, tokenize,
    IamAction, LineFormat, LogLevel, LogType,
};
use edgesoc_core::logs::{StreamLabels, MAX_LABEL_BYTES};
use edgesoc_fuzz::{field, fields};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::net::IpAddr;

fuzz_target!(|data: &[u8]| {
    let f = fields(data);
    let line = field(&f, 0).unwrap_or_default();
    let structured: Option<Map<String, Value>> = f
        .get(1)
        .and_then(|b| serde_json::from_slice::<Map<String, Value>>(b).ok());
    let method = field(&f, 2).unwrap_or_default();
    let status = f.get(3).and_then(|b| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<u16>().ok())
            .or_else(|| (b.len() >= 2).then(|| u16::from_le_bytes([b[0], b[1]])))
    });
    let event_name = field(&f, 4).unwrap_or_else(|| line.clone());
    let meta_message = field(&f, 5);
    let level = field(&f, 6).unwrap_or_else(|| line.clone());

    check_tokens(&method, &line);
    check_classify(&method, &line, status);
    check_classify(&line, &method, status);

    let ex = extract_fields(&line, structured.as_ref());
    for ip in [&ex.ip, &ex.target_ip].into_iter().flatten() {
        let parsed: IpAddr = ip
            .parse()
            .unwrap_or_else(|_| panic!("extract_fields returned a non-IP {ip:?}"));
        assert_eq!(parsed, parsed.to_canonical(), "non-canonical IP {ip:?}");
        assert_eq!(&parsed.to_string(), ip, "non-canonical spelling {ip:?}");
    }
    if let Some(s) = ex.status {
        assert!((100..=599).contains(&s), "status {s}");
    }
    for (what, v) in [
        ("user", &ex.user),
        ("method", &ex.method),
        ("resource", &ex.resource),
        ("geo", &ex.geo),
        ("hostname", &ex.hostname),
        ("device", &ex.device),
    ] {
        if let Some(v) = v {
            assert!(!v.is_empty() && v.trim() == v, "{what} {v:?}");
        }
    }
    assert_eq!(ex.message.trim(), ex.message, "untrimmed message");
    match ex.format {
        LineFormat::Plain => assert_eq!(ex.message, line.trim()),
        LineFormat::Json => assert!(line.trim_start().starts_with('{')),
        LineFormat::Logfmt => {}
    }
    if tokenize("", &ex.message).iter().any(|t| t == "vpn") {
        assert_eq!(ex.vpn, Some(true));
    }
    let (t, a) = ex.classify();
    assert_eq!(a.is_some(), t == LogType::IamChange);

    let (t, a) = classify_event(&event_name, meta_message.as_deref());
    assert_eq!(
        a.is_some(),
        t == LogType::IamChange,
        "classify_event({event_name:?}) = {t:?}, {a:?}"
    );

    let l = LogLevel::normalize(&level);
    assert_eq!(LogLevel::normalize(&level.to_ascii_uppercase()), l);
    assert_eq!(LogLevel::normalize(&format!(" {level}\t")), l);
    assert_eq!(LogLevel::normalize(l.as_str()), l);
    assert_eq!(LogLevel::parse(l.as_str()), Some(l));

    if let Some(labels) = &structured {
        let s = StreamLabels::from_labels(labels);
        for v in [&s.service, &s.namespace] {
            assert!(!v.is_empty() && v.len() <= MAX_LABEL_BYTES, "label {v:?}");
        }
        for v in [&s.hostname, &s.device].into_iter().flatten() {
            assert!(!v.is_empty() && v.len() <= MAX_LABEL_BYTES, "label {v:?}");
        }
    }
});

fn check_tokens(a: &str, b: &str) {
    let tokens = tokenize(a, b);
    for t in &tokens {
        assert!(!t.is_empty(), "empty token from {a:?} {b:?}");
        assert!(
            t.bytes()
                .all(|c| !c.is_ascii() || c.is_ascii_lowercase() || c.is_ascii_digit()),
            "token {t:?} from {a:?} {b:?}"
        );
    }
    assert_eq!(tokenize(&format!("{a} {b}"), ""), tokens);
}

fn check_classify(method: &str, msg: &str, status: Option<u16>) {
    let (t, a) = classify_with_action(method, msg, status);
    assert_eq!(t, classify(method, msg, status));
    assert_eq!(a.is_some(), t == LogType::IamChange);
    if let Some(a) = a {
        assert_eq!(a, iam_action(method, msg));
        assert_eq!(IamAction::parse(a.as_str()), Some(a));
    }
    assert_eq!(LogType::parse(t.as_str()), Some(t));
}
