//! `POST /loki/api/v1/push` (docs/dashboard.md §7), the whole pure pipeline of the handler:
//! `check_headers` → `decode_body` → `parse_body` (JSON or protobuf) → `build_line_rows` → `insert_statements`
//! → (`RETURNING` rows) `FailedLine::from_returned` → `history_statements` / `assemble` /
//! `candidates` → `alert_statements`.
//!
//! Input: `<Content-Type>|<Content-Encoding>|<flags>` on the first line, the body after it.
//! An empty header field is an absent header. Flags: `z` = the harness gzips the body itself
//! (and decodes as gzip), so JSON mutations reach the parser through the gzip path; `m` = as
//! two concatenated gzip members; `s` = a 512-byte decompression limit instead of 64 KiB; `p` =
//! the decoded body is a protobuf `PushRequest` the harness snappy-compresses (Promtail's form).
//! Without `z` the body goes to the decoder as sent, so raw (garbage) gzip is fuzzed too.
//!
//! Checks, beyond "no panic":
//! * header errors are 415; gzip is chosen only when the header names it;
//! * the decoder returns the body unchanged (identity, or the harness's own gzip) when it is
//!   within the limit, else 413; fuzzer-made gzip is ≤ limit, or a 400/413;
//! * a parsed push has ≤ 10,000 entries and at least one; errors are 400 (with details) or 413;
//! * rows + dropped entries = entries; every row is inside `[cutoff, now + 10 min]`, in its
//!   hour bucket; the action is set exactly for `iam_change`; message ≤ 8 KiB and trimmed;
//!   labels ≤ 256 bytes and fields ≤ 1 KiB; IPs parse and are canonical; status in 100–599;
//! * the insert statements bind every row exactly once; detection keeps ≤ 32 candidates.
#![no_main]

use edgesoc_core::logs::classify::{IamAction, LogType};
use edgesoc_core::alerts::suppress::{Matcher, Suppression, Suppressions};
use edgesoc_core::detect::DetectionConfig;
use edgesoc_core::access::ids::OrgId;
use edgesoc_core::logs::detect::{self as ldetect, FailedLine, KeyHistory, KeyKind};
use edgesoc_core::logs::{
    build_line_rows, check_headers, decode_body, insert_statements, parse_body, Encoding, Format, LogRow,
    MAX_ENTRIES, MAX_FIELD_BYTES, MAX_FUTURE_MS, MAX_LABEL_BYTES, MAX_LINE_BYTES,
};
use edgesoc_core::limits::plan::Plan;
use edgesoc_core::api::sql::SqlParam;
use edgesoc_core::time::UnixMs;
use edgesoc_fuzz::{check_error, check_statement};
use flate2::write::GzEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::io::Write;
use std::net::IpAddr;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// `UnixMs` is documented to stay within ±2^53 (D1 and JSON numbers).
const MAX_SAFE_MS: i64 = 1 << 53;
const MAX_INSERT_JSON_BYTES: usize = 1_500_000;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn header(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

fuzz_target!(|data: &[u8]| {
    let (control, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let control = String::from_utf8_lossy(control);
    let mut parts = control.splitn(3, '|');
    let (content_type, content_encoding) = (header(parts.next()), header(parts.next()));
    let flags = parts.next().unwrap_or("");

    // 1. headers
    let (format, encoding) = match check_headers(content_type, content_encoding) {
        Ok((format, enc)) => {
            if enc == Encoding::Gzip {
                assert!(
                    content_encoding.is_some_and(|c| c.to_ascii_lowercase().contains("gzip")),
                    "gzip from {content_encoding:?}"
                );
            }
            (format, enc)
        }
        Err(e) => {
            check_error(&e, &[415]);
            (Format::Json, Encoding::Identity)
        }
    };

    // 2. body
    let limit = if flags.contains('s') { 512 } else { 64 * 1024 };
    let own_gzip = flags.contains('z') || flags.contains('m');
    let (raw, encoding) = if flags.contains('m') {
        let (a, b) = body.split_at(body.len() / 2);
        ([gzip(a), gzip(b)].concat(), Encoding::Gzip)
    } else if own_gzip {
        (gzip(body), Encoding::Gzip)
    } else {
        (body.to_vec(), encoding)
    };
    let raw_len = raw.len();
    let decoded = match decode_body(raw, encoding, limit) {
        Ok(out) => {
            assert!(
                out.len() <= limit,
                "{} bytes over the limit {limit}",
                out.len()
            );
            if own_gzip || encoding == Encoding::Identity {
                assert_eq!(out, body, "the decoder changed the body");
            }
            out
        }
        Err(e) => {
            check_error(&e, &[400, 413]);
            if own_gzip || encoding == Encoding::Identity {
                assert_eq!(e.status(), 413, "{e:?}");
                assert!(
                    body.len() > limit,
                    "{}-byte body refused: {e:?}",
                    body.len()
                );
            }
            if encoding == Encoding::Identity {
                assert!(raw_len > limit);
            }
            // The rest of the pipeline still sees the bytes, for coverage.
            body.to_vec()
        }
    };

    // 3. push
    // 3. streams: with flag `p` the decoded bytes are a protobuf message, snappy-compressed here
    // as Promtail does, so the fuzzer reaches prost's decoder and the label-set parser.
    let parsed = if flags.contains('p') {
        let framed = snap::raw::Encoder::new().compress_vec(&decoded).expect("snappy compresses");
        parse_body(Format::Protobuf, &framed)
    } else {
        parse_body(format, &decoded)
    };
    let streams = match parsed {
        Ok(s) => {
            assert!(s.iter().any(|s| !s.entries.is_empty()), "a push with no entry was accepted");
            s
        }
        Err(e) => {
            check_error(&e, &[400, 413]);
            return;
        }
    };
    let entries: usize = streams.iter().map(|s| s.entries.len()).sum();
    assert!(entries <= MAX_ENTRIES, "{entries} entries");

    // 4. rows. `now` follows the first entry (clamped to the documented ±2^53 range) so fuzzed
    // timestamps land inside the window instead of all being dropped.
    let first_ts = streams
        .iter()
        .flat_map(|s| s.entries.first())
        .map(|e| e.ts.0)
        .next()
        .unwrap_or(1_769_764_500_000);
    let now = UnixMs(first_ts.clamp(0, MAX_SAFE_MS));
    let cutoff = UnixMs(now.0 - 90 * DAY_MS);
    let org = OrgId("org_fuzz".into());
    let built = build_line_rows(&streams, &org, now, cutoff);
    assert_eq!(
        built.rows.len() + built.dropped_old + built.dropped_future + built.dropped_empty,
        entries - built.files + built.records,
        "rows and drops do not add up"
    );
    assert!(built.rows.len() <= MAX_ENTRIES, "{} rows", built.rows.len());
    assert!(built.truncated <= built.rows.len());
    for row in &built.rows {
        check_row(row, &org, now, cutoff);
    }

    // 5. insert statements: every row bound once to an insert, as JSON the SQL can read (the
    //    rollups catch up from the stored rows later, so nothing else binds them).
    let statements = insert_statements(&built.rows, true, MAX_INSERT_JSON_BYTES).unwrap();
    let mut bound = 0;
    for st in &statements {
        check_statement(st);
        let [SqlParam::Text(json)] = st.1.as_slice() else {
            panic!("each statement binds one JSON text: {:?}", st.1);
        };
        let arr: Vec<Value> = serde_json::from_str(json).unwrap();
        assert!(st.0.starts_with("INSERT OR IGNORE INTO logs"), "an insert: {}", st.0);
        bound += arr.len();
    }
    assert_eq!(bound, built.rows.len(), "rows bound != rows built");

    // 6. detection over what `RETURNING id, ts, type, source_ip, user` gives back.
    let returned: Vec<Value> = built
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({"id": i + 1, "ts": r.ts, "type": r.log_type.as_str(),
                   "source_ip": r.source_ip, "user": r.user})
        })
        .collect();
    let lines: Vec<FailedLine> = returned
        .iter()
        .filter_map(FailedLine::from_returned)
        .collect();
    let expected = built
        .rows
        .iter()
        .filter(|r| {
            r.log_type == LogType::LoginFailure && (r.source_ip.is_some() || r.user.is_some())
        })
        .count();
    assert_eq!(lines.len(), expected, "failure lines lost or invented");
    if lines.is_empty() {
        return;
    }
    let config = DetectionConfig::default();
    let (mut by_ip, mut by_user) = (KeyHistory::new(), KeyHistory::new());
    for (kind, st) in ldetect::history_statements(&org.0, &lines, &config) {
        check_statement(&st);
        // The store returns the lines themselves (they were inserted first).
        let rows: Vec<Value> = lines
            .iter()
            .filter_map(|l| {
                let k = match kind {
                    KeyKind::Ip => l.ip.as_ref(),
                    KeyKind::User => l.user.as_ref(),
                }?;
                Some(json!({"event_id": l.id, "at": l.at.0, "k": k}))
            })
            .collect();
        let history = ldetect::assemble(rows).unwrap();
        match kind {
            KeyKind::Ip => by_ip = history,
            KeyKind::User => by_user = history,
        }
    }
    let alerts = ldetect::candidates(&lines, &by_ip, &by_user, Plan::Enterprise, &config);
    // The first line's address suppressed: its alerts fold apart from the others'.
    let mut suppressions = Suppressions::none();
    if let Some(ip) = lines.iter().find_map(|l| l.ip.as_deref()?.parse().ok()) {
        suppressions.add(
            &org.0,
            Suppression {
                id: "sup_fuzz".into(),
                matcher: Matcher::Ip(ip),
                alert_types: None,
                expires_at: None,
            },
        );
    }
    let writes = ldetect::alert_statements(&org, &alerts, &suppressions, now);
    assert!(writes.statements.len() <= ldetect::MAX_ALERT_STATEMENTS);
    for st in writes.statements {
        check_statement(&st);
    }
});

fn canonical_ip(s: &str) {
    let ip: IpAddr = s.parse().unwrap_or_else(|_| panic!("not an IP: {s:?}"));
    assert_eq!(ip, ip.to_canonical(), "not canonical: {s:?}");
    assert_eq!(ip.to_string(), s, "not in canonical spelling: {s:?}");
}

fn check_row(r: &LogRow, org: &OrgId, now: UnixMs, cutoff: UnixMs) {
    assert_eq!(r.org_id, org.0);
    assert!(
        cutoff.0 <= r.ts && r.ts <= now.0 + MAX_FUTURE_MS,
        "row outside the window: {}",
        r.ts
    );
    assert!(
        r.hour % HOUR_MS == 0 && r.hour <= r.ts && r.ts - r.hour < HOUR_MS,
        "bad hour {} for {}",
        r.hour,
        r.ts
    );
    assert_eq!(
        r.action.is_some(),
        r.log_type == LogType::IamChange,
        "action {:?} with type {:?}",
        r.action,
        r.log_type
    );
    if let Some(a) = r.action {
        assert_eq!(IamAction::parse(a.as_str()), Some(a));
    }
    assert!(
        r.message.len() <= MAX_LINE_BYTES,
        "message of {} bytes",
        r.message.len()
    );
    assert_eq!(r.message.trim(), r.message, "untrimmed message");
    for (what, v) in [("service", &r.service), ("namespace", &r.namespace)] {
        assert!(!v.is_empty() && v.len() <= MAX_LABEL_BYTES, "{what} {v:?}");
    }
    for (what, v) in [
        ("hostname", &r.hostname),
        ("user", &r.user),
        ("geo", &r.geo),
        ("device", &r.device),
        ("resource", &r.resource),
    ] {
        if let Some(v) = v {
            assert!(!v.is_empty() && v.len() <= MAX_FIELD_BYTES, "{what} {v:?}");
        }
    }
    for ip in [&r.source_ip, &r.target_ip].into_iter().flatten() {
        canonical_ip(ip);
    }
    if let Some(s) = r.status_code {
        assert!((100..=599).contains(&s), "status {s}");
    }
    assert!(r.event_id.is_none() && r.event_name.is_none());
}
