//! LogQL parsing, and Loki's answers computed on real SQLite from stored lines.

use super::logql::{parse, Expr, FilterOp, MatchOp};
use super::query::*;
use super::*;
use crate::access::ids::OrgId;
use crate::logs::{build_line_rows, insert_statements, PushEntry, PushStream};
use crate::runtime::Db;
use crate::testing::{run, SqliteDb};
use serde_json::{json, Value};

const T0: i64 = 1_769_764_500_000;
const MIN: i64 = 60_000;
const ORG: &str = "org_loki";

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn parses_the_supported_logql_and_refuses_the_rest_with_400s() {
    let Expr::Log(sel) = parse(r#"{service="api", level=~"err.*" , type!="network_event"} |= "failed" != `debug` |~ "root|admin" | drop __error__"#).unwrap() else {
        panic!("a log query")
    };
    assert_eq!(sel.matchers.len(), 3);
    assert_eq!(sel.matchers[1].op, MatchOp::Re);
    assert!(
        sel.matchers[1].matches("error") && !sel.matchers[1].matches("xerror"),
        "anchored"
    );
    let ops: Vec<FilterOp> = sel.filters.iter().map(|f| f.op).collect();
    assert_eq!(
        ops,
        [FilterOp::Contains, FilterOp::NotContains, FilterOp::Re]
    );
    assert!(
        sel.filters[2].passes("user admin") && !sel.filters[0].passes("Failed"),
        "case-sensitive |="
    );

    let Expr::Metric(m) =
        parse(r#"sum by (service, type) (count_over_time({namespace="prod"}[5m]))"#).unwrap()
    else {
        panic!("a metric query")
    };
    assert_eq!(
        (m.range_ms, m.sum_by.clone()),
        (
            300_000,
            Some(vec!["service".to_string(), "type".to_string()])
        )
    );
    let Expr::Metric(m) = parse(r#"sum(rate({service="api"} |= "x" [1m])) by (level)"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(m.sum_by, Some(vec!["level".to_string()]));
    assert!(matches!(parse("vector(1)+vector(1)").unwrap(), Expr::Vector(v) if v == 2.0));
    // Grafana's logs volume query.
    assert!(parse(
        r#"sum by (level, detected_level) (count_over_time({service="api"} | drop __error__[1m]))"#
    )
    .is_ok());

    for bad in [
        "",
        "{}",
        r#"{service=""}"#,
        r#"{service=~".*"}"#,
        r#"{service="a""#,
        r#"{service="a"} | json"#,
        r#"sum without (level) (count_over_time({service="a"}[1m]))"#,
        r#"avg_over_time({service="a"}[1m])"#,
        r#"count_over_time({service="a"}[0s])"#,
        r#"count_over_time({service="a"}[soon])"#,
        r#"{service=~"("}"#,
        r#"{service="a"} extra"#,
    ] {
        let e = parse(bad).err().unwrap_or_else(|| panic!("{bad:?} parsed"));
        assert_eq!(e.status(), 400, "{bad:?}");
    }
}

#[test]
fn durations_and_times_read_as_loki_and_grafana_write_them() {
    assert_eq!(parse_duration_ms("1h30m"), Some(5_400_000));
    assert_eq!(parse_duration_ms("60000ms"), Some(60_000));
    assert_eq!(parse_duration_ms("15"), Some(15_000));
    assert_eq!(parse_duration_ms("1.5"), Some(1_500));
    assert_eq!(parse_duration_ms("5x"), None);
    assert_eq!(parse_time("t", "1769764500000000000").unwrap(), UnixMs(T0));
    assert_eq!(parse_time("t", "1769764500.5").unwrap(), UnixMs(T0 + 500));
    assert_eq!(
        parse_time("t", "1769764500").unwrap(),
        UnixMs(T0),
        "10 digits: seconds"
    );
    assert_eq!(parse_time("t", "2026-01-30T09:15:00Z").unwrap(), UnixMs(T0));
    assert_eq!(parse_time("t", "yesterday").unwrap_err().status(), 400);
}

/// Stores lines of `org`: `(minutes after T0, service, line)`.
fn store(db: &SqliteDb, org: &str, lines: &[(i64, &str, &str)]) {
    for (min, service, line) in lines {
        let stream = PushStream {
            labels: serde_json::from_value(json!({"service": service, "namespace": "prod"}))
                .unwrap(),
            entries: vec![PushEntry {
                ts: UnixMs(T0 + min * MIN),
                line: (*line).into(),
                structured: None,
            }],
        };
        let rows = build_line_rows(
            &[stream],
            &OrgId(org.into()),
            UnixMs(T0 + 600 * MIN),
            UnixMs(0),
        )
        .rows;
        run(db.batch(&insert_statements(&rows, false, 1_000_000).unwrap())).unwrap();
    }
}

fn sample() -> SqliteDb {
    let db = SqliteDb::migrated();
    store(
        &db,
        ORG,
        &[
            (
                0,
                "sshd",
                "sshd[1]: Failed password for root from 203.0.113.5 port 22 ssh2",
            ),
            (
                1,
                "sshd",
                "sshd[1]: Failed password for admin from 203.0.113.5 port 22 ssh2",
            ),
            (
                2,
                "sshd",
                "sshd[2]: Accepted publickey for deploy from 198.51.100.7 port 22 ssh2",
            ),
            (3, "api", r#"{"level":"error","msg":"upstream timeout"}"#),
            (
                7,
                "sshd",
                "sshd[3]: Failed password for root from 198.51.100.9 port 22 ssh2",
            ),
        ],
    );
    store(
        &db,
        "org_other",
        &[(
            1,
            "sshd",
            "sshd[9]: Failed password for root from 203.0.113.5 port 22 ssh2",
        )],
    );
    db
}

/// Runs `query_range` (or `query`) with `pairs` on `db`: the answer.
fn ask(db: &SqliteDb, pairs: &[(&str, &str)], instant: bool) -> Value {
    let q =
        QueryRequest::parse(&params(pairs), UnixMs(T0 + 600 * MIN), UnixMs(0), instant).unwrap();
    let rows = match q.statement(ORG).unwrap() {
        Some((sql, p)) => db.rows(&sql, &p),
        None => vec![],
    };
    q.answer(rows).unwrap()
}

fn ns(min: i64) -> String {
    ((T0 + min * MIN) * 1_000_000).to_string()
}

#[test]
fn a_log_query_returns_the_organisations_matching_lines_as_streams() {
    let db = sample();
    let range = [("start", ns(-1)), ("end", ns(10))];
    let pairs = |q: &'static str, extra: &[(&'static str, &'static str)]| {
        let mut p: Vec<(&str, String)> = vec![("query", q.to_string())];
        p.extend(range.iter().map(|(k, v)| (*k, v.clone())));
        p.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        p
    };
    let run_q = |p: Vec<(&str, String)>| {
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ask(&db, &p, false)
    };
    let a = run_q(pairs(
        r#"{service="sshd", type="login_failure"} |= "root""#,
        &[],
    ));
    assert_eq!(a["status"], "success");
    assert_eq!(a["data"]["resultType"], "streams");
    let result = a["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{a}");
    assert_eq!(
        result[0]["stream"],
        json!({"service": "sshd", "namespace": "prod", "type": "login_failure", "level": "info"})
    );
    let values = result[0]["values"].as_array().unwrap();
    assert_eq!(
        values.len(),
        2,
        "the other organisation's root failure is not here"
    );
    assert_eq!(values[0][0], ns(7), "newest first");
    assert!(values[0][1].as_str().unwrap().contains("198.51.100.9"));

    let fwd = run_q(pairs(
        r#"{service=~"ssh.*"} |~ "Failed password for (root|admin)""#,
        &[("direction", "forward"), ("limit", "2")],
    ));
    let vals: Vec<&str> = fwd["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v[0].as_str().unwrap())
        })
        .collect();
    assert_eq!(vals, [ns(0), ns(1)], "oldest first, at most the limit");
    let none = run_q(pairs(r#"{team="blue"}"#, &[]));
    assert_eq!(
        none["data"]["result"],
        json!([]),
        "a label edgesoc does not have matches nothing"
    );
}

#[test]
fn metric_queries_count_per_step_and_sum_by_labels() {
    let db = sample();
    let (start, end) = (ns(0), ns(8));
    let a = ask(
        &db,
        &[
            (
                "query",
                r#"sum by (service) (count_over_time({namespace="prod"}[2m]))"#,
            ),
            ("start", &start),
            ("end", &end),
            ("step", "120s"),
        ],
        false,
    );
    assert_eq!(a["data"]["resultType"], "matrix");
    let by: std::collections::BTreeMap<String, Vec<(f64, String)>> = a["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"]["service"].as_str().unwrap().to_string(),
                s["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| (v[0].as_f64().unwrap(), v[1].as_str().unwrap().to_string()))
                    .collect(),
            )
        })
        .collect();
    let at = |min: i64| (T0 + min * MIN) as f64 / 1000.0;
    // Points at 0, 2, 4, 6, 8 min, each counting (t - 2m, t]: sshd lines at 0, 1, 2, 7.
    assert_eq!(
        by["sshd"],
        vec![
            (at(0), "1".into()),
            (at(2), "2".into()),
            (at(8), "1".into())
        ]
    );
    assert_eq!(by["api"], vec![(at(4), "1".into())]);

    let rate = ask(
        &db,
        &[
            ("query", r#"rate({service="sshd"} |= "Failed" [2m])"#),
            ("time", &ns(2)),
        ],
        true,
    );
    assert_eq!(rate["data"]["resultType"], "vector");
    let r = &rate["data"]["result"][0];
    assert_eq!(
        r["value"][1], "0.008333333333333333",
        "one failure in (0, 2m]: 1/120 s"
    );
    assert_eq!(r["metric"]["type"], "login_failure");

    let health = ask(
        &db,
        &[("query", "vector(1)+vector(1)"), ("time", "4000000000")],
        true,
    );
    assert_eq!(
        health,
        json!({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [4_000_000_000.0, "2"]}]}})
    );
}

#[test]
fn label_values_and_series_come_from_the_organisations_lines_in_the_range() {
    let db = sample();
    let w = Window {
        start: UnixMs(T0 - MIN),
        end: UnixMs(T0 + 10 * MIN),
    };
    let (sql, p) = label_sets_statement(ORG, None, &w).unwrap();
    let rows = db.rows(&sql, &p);
    assert_eq!(
        values_answer("service", rows.clone(), None),
        json!({"status": "success", "data": ["api", "sshd"]})
    );
    assert_eq!(
        values_answer("detected_level", rows.clone(), None)["data"],
        json!(["error", "info"])
    );
    assert_eq!(values_answer("team", rows.clone(), None)["data"], json!([]));
    let sels = parse_matches(&params(&[("match[]", r#"{type="login_success"}"#)])).unwrap();
    assert_eq!(
        series_answer(rows, &sels)["data"],
        json!([{"level": "info", "namespace": "prod", "service": "sshd", "type": "login_success"}])
    );
    assert_eq!(parse_matches(&[]).unwrap_err().status(), 400);
    assert_eq!(labels_answer()["data"][3], "service");
}

#[test]
fn requests_out_of_bounds_are_400s_naming_the_parameter() {
    let now = UnixMs(T0);
    for (pairs, field) in [
        (vec![], "query"),
        (vec![("query", r#"{service="a"}"#), ("limit", "0")], "limit"),
        (
            vec![("query", r#"{service="a"}"#), ("direction", "up")],
            "direction",
        ),
        (
            vec![
                ("query", r#"count_over_time({service="a"}[1m])"#),
                ("step", "1ms"),
                ("start", "0"),
            ],
            "step",
        ),
        (
            vec![("query", r#"count_over_time({service="a"} |~ "x" [1m])"#)],
            "query",
        ),
        (
            vec![
                ("query", r#"{service="a"}"#),
                ("start", "2026-02-01T00:00:00Z"),
                ("end", "2026-01-01T00:00:00Z"),
            ],
            "start",
        ),
    ] {
        let e = QueryRequest::parse(&params(&pairs), now, UnixMs(0), false).unwrap_err();
        assert_eq!(e.status(), 400, "{pairs:?}");
        assert!(format!("{e:?}").contains(field), "{pairs:?}: {e:?}");
    }
    let e = QueryRequest::parse(
        &params(&[("query", r#"{service="a"}"#)]),
        now,
        UnixMs(0),
        true,
    )
    .unwrap_err();
    assert_eq!(e.status(), 400, "instant log query");
}
