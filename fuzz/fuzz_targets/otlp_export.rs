//! `POST /v1/logs` (docs/dashboard.md §7.6), the pure pipeline of the handler: `parse_export`
//! (OTLP/JSON or protobuf) → `build_line_rows` → `LineRows::rejected` → `response_body`.
//!
//! Input: the first byte picks the encoding (`p` protobuf, anything else JSON); the body follows.
//!
//! Checks, beyond "no panic": errors are 400 (with details) or 413; a parsed export has between
//! 1 and 10,000 records, all in its streams; rows + rejected = records; every row is inside
//! `[cutoff, now + 10 min]`; a label is at most 256 bytes and the message at most 8 KiB; the
//! response decodes back to what was rejected (JSON) or is empty exactly when nothing was.
#![no_main]

use edgesoc_core::access::ids::OrgId;
use edgesoc_core::logs::otlp::{parse_export, response_body};
use edgesoc_core::logs::{build_line_rows, Format, MAX_ENTRIES, MAX_FUTURE_MS, MAX_LABEL_BYTES, MAX_LINE_BYTES};
use edgesoc_core::time::UnixMs;
use edgesoc_fuzz::check_error;
use libfuzzer_sys::fuzz_target;

const NOW: UnixMs = UnixMs(1_796_613_108_188);
const CUTOFF: UnixMs = UnixMs(1_796_613_108_188 - 7 * 86_400_000);

fuzz_target!(|data: &[u8]| {
    let Some((&flag, body)) = data.split_first() else { return };
    let format = if flag == b'p' { Format::Protobuf } else { Format::Json };
    let export = match parse_export(format, body, NOW) {
        Ok(export) => export,
        Err(e) => {
            check_error(&e, &[400, 413]);
            return;
        }
    };
    assert!((1..=MAX_ENTRIES).contains(&export.records));
    let entries: usize = export.streams.iter().map(|s| s.entries.len()).sum();
    assert_eq!(entries, export.records);
    let built = build_line_rows(&export.streams, &OrgId("org_fuzz".into()), NOW, CUTOFF);
    let rejected = built.rejected(CUTOFF);
    assert_eq!(built.rows.len() + rejected.count, export.records);
    for row in &built.rows {
        assert!(row.ts >= CUTOFF.0 && row.ts <= NOW.0 + MAX_FUTURE_MS);
        assert!(row.service.len() <= MAX_LABEL_BYTES && row.namespace.len() <= MAX_LABEL_BYTES);
        assert!(row.message.len() <= MAX_LINE_BYTES);
    }
    let out = response_body(format, &rejected);
    match format {
        Format::Json => {
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let count = v["partialSuccess"]["rejectedLogRecords"].as_str().map(|s| s.parse::<usize>().unwrap());
            assert_eq!(count.unwrap_or(0), rejected.count);
        }
        Format::Protobuf => assert_eq!(out.is_empty(), rejected.count == 0),
    }
});
