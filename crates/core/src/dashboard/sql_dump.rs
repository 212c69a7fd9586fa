//! The statements as JSON, for `bench/dashboard.mjs` (which runs `EXPLAIN QUERY PLAN` on exactly
//! the SQL the Worker sends). Not a behaviour test: with `EDGESOC_DASHBOARD_SQL_OUT` set it
//! writes `{"window": {...}, "statements": [{"sql", "params"}]}` for the query described by
//! `EDGESOC_DASHBOARD_SQL_SPEC` (`{"org", "now", "cutoff", "hours", "service"?, "namespace"?}`);
//! without it, it only checks that the dump is well-formed.
//!
//! `CARGO_TARGET_DIR=… EDGESOC_DASHBOARD_SQL_OUT=/tmp/s.json EDGESOC_DASHBOARD_SQL_SPEC='{…}' \
//!  cargo test -q -p edgesoc-core --lib dashboard::sql_dump`

use super::{statements, DashboardQuery, Window};
use crate::query::SqlParam;
use crate::time::UnixMs;
use serde_json::{json, Value};

fn dump(spec: &Value) -> Value {
    let text = |k: &str| spec[k].as_str().map(str::to_string);
    let q = DashboardQuery {
        hours: spec["hours"].as_u64().unwrap_or(24) as u32,
        service: text("service"),
        namespace: text("namespace"),
        ..DashboardQuery::default()
    };
    let now = UnixMs(spec["now"].as_i64().unwrap_or(0));
    let w = Window::new(q.hours, now, UnixMs(spec["cutoff"].as_i64().unwrap_or(0)));
    let org = spec["org"].as_str().unwrap_or("org");
    let list: Vec<Value> = statements(&q, &w, org)
        .into_iter()
        .map(|(sql, params)| {
            let params: Vec<Value> = params
                .into_iter()
                .map(|p| match p {
                    SqlParam::Text(t) => json!(t),
                    SqlParam::Number(n) => json!(n),
                    SqlParam::Null => Value::Null,
                })
                .collect();
            json!({ "sql": sql, "params": params })
        })
        .collect();
    json!({
        "window": { "start": w.start.0, "end": w.end.0, "hours": w.hours },
        "statements": list,
    })
}

#[test]
fn statements_as_json() {
    let spec = std::env::var("EDGESOC_DASHBOARD_SQL_SPEC")
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_else(|| json!({"org": "o", "now": 1_769_764_500_123_i64, "hours": 24}));
    let out = dump(&spec);
    assert_eq!(
        out["statements"].as_array().map(Vec::len),
        Some(super::STATEMENT_COUNT)
    );
    if let Ok(path) = std::env::var("EDGESOC_DASHBOARD_SQL_OUT") {
        std::fs::write(path, out.to_string()).expect("writing the statements");
    }
}
