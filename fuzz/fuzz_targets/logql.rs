//! Loki's read requests (docs/dashboard.md §7.7): LogQL parsing, the request parameters, the
//! statement built and the answer made from rows.
//!
//! Input: query-string pairs `key=value` separated by 0x1F (`query`, `start`, `end`, `time`,
//! `step`, `limit`, `direction`), then, after a 0x1E, rows as a JSON array.
//!
//! Checks, beyond "no panic": a parsed request's statement numbers its parameters `?1`…`?n`
//! with exactly `n` bound; a constant needs no statement; every answer is Loki's success
//! envelope with a known `resultType`.
#![no_main]

use edgesoc_core::logs::loki::query::QueryRequest;
use edgesoc_core::time::UnixMs;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (head, rows) = match data.iter().position(|b| *b == 0x1E) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let params: Vec<(String, String)> = head
        .split(|b| *b == 0x1F)
        .filter_map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            let (k, v) = text.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect();
    let rows: Vec<Value> = serde_json::from_slice(rows).unwrap_or_default();
    let now = UnixMs(1_769_764_500_000);
    for instant in [false, true] {
        let Ok(q) = QueryRequest::parse(&params, now, UnixMs(now.0 - 30 * 86_400_000), instant) else {
            continue;
        };
        let Ok(statement) = q.statement("org_fuzz") else { continue };
        if let Some((sql, bound)) = &statement {
            for n in 1..=bound.len() {
                assert!(sql.contains(&format!("?{n}")), "?{n} unused in {sql}");
            }
            assert!(!sql.contains(&format!("?{}", bound.len() + 1)), "unbound parameter in {sql}");
        }
        if let Ok(answer) = q.answer(rows.clone()) {
            assert_eq!(answer["status"], "success");
            let kind = answer["data"]["resultType"].as_str().unwrap_or_default();
            assert!(["streams", "matrix", "vector"].contains(&kind), "{answer}");
        }
    }
});
