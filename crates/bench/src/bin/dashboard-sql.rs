//! Prints the dashboard's statements for one query as JSON, so `bench/dashboard.mjs` can run
//! `EXPLAIN QUERY PLAN` on exactly the SQL the Worker sends.
//!
//! `cargo run -q -p edgesoc-bench --bin dashboard-sql -- '{"org","now","cutoff","hours","service"?,"namespace"?}'`
//! writes `{"window": {start, end, hours}, "statements": [{sql, params}]}` to stdout.

use edgesoc_core::analytics::dashboard::{statements, DashboardQuery, Window};
use edgesoc_core::api::sql::SqlParam;
use edgesoc_core::time::UnixMs;
use serde_json::{json, Value};

fn main() {
    let spec: Value = std::env::args()
        .nth(1)
        .map(|s| serde_json::from_str(&s).expect("the spec is JSON"))
        .unwrap_or_else(|| json!({"org": "o", "now": 1_769_764_500_123_i64, "hours": 24}));
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
    let out = json!({
        "window": { "start": w.start.0, "end": w.end.0, "hours": w.hours },
        "statements": list,
    });
    println!("{out}");
}
