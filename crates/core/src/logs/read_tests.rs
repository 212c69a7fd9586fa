//! `GET /logs` and `GET /logs/:id` on real SQLite with every migration: filters, the bounded
//! scan and its cursor, other organisations, retention and the plan's redaction.

use super::*;
use crate::access::ids::OrgId;
use crate::api::error::ErrorCode;
use crate::logs::{build_line_rows, insert_statements, PushEntry, PushStream};
use crate::runtime::Db;
use crate::testing::{run, SqliteDb};

const T0: i64 = 1_769_764_500_000;
const ORG: &str = "org_read";
const OTHER: &str = "org_other";

fn cursors() -> CursorKey {
    CursorKey::new("secret", ORG, "logs")
}

/// Stores `lines` of `org` (service `svc`), the i-th at `T0 - i s`: the first is the newest.
fn store(db: &SqliteDb, org: &str, svc: &str, lines: &[&str]) {
    let stream = PushStream {
        labels: serde_json::from_value(json!({"service": svc, "namespace": "prod"})).unwrap(),
        entries: lines
            .iter()
            .enumerate()
            .map(|(i, l)| PushEntry {
                ts: UnixMs(T0 - i as i64 * 1000),
                line: (*l).into(),
                structured: None,
            })
            .collect(),
    };
    let rows = build_line_rows(&[stream], &OrgId(org.into()), UnixMs(T0), UnixMs(0)).rows;
    for chunk in rows.chunks(2000) {
        run(db.batch(&insert_statements(chunk, false, 1_000_000).unwrap())).unwrap();
    }
}

fn query(pairs: &[(&str, &str)]) -> Result<LogQuery, ApiError> {
    let params: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    LogQuery::parse(&params, &cursors())
}

/// One page of `q` for ORG: the lines' messages and the pagination.
fn read(db: &SqliteDb, q: &LogQuery, redact: bool) -> (Vec<Value>, Value) {
    let (sql, params) = q.page_sql(ORG, UnixMs(0));
    let rows: Vec<LineRow> = db
        .rows(&sql, &params)
        .into_iter()
        .map(|r| serde_json::from_value(r).unwrap())
        .collect();
    page(rows, q, &cursors(), redact)
}

fn messages(data: &[Value]) -> Vec<&str> {
    data.iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect()
}

/// Every page of `pairs`, following the cursor: the messages in order, and the page count.
fn walk(db: &SqliteDb, pairs: &[(&str, &str)]) -> (Vec<String>, usize) {
    let mut q = query(pairs).unwrap();
    let (mut all, mut pages) = (Vec::new(), 0);
    loop {
        let (data, pagination) = read(db, &q, false);
        pages += 1;
        all.extend(messages(&data).into_iter().map(String::from));
        let Some(next) = pagination["next_cursor"].as_str() else {
            assert_eq!(pagination["has_more"], false);
            return (all, pages);
        };
        q.cursor = Some(cursors().decode(next).unwrap());
    }
}

fn sample(db: &SqliteDb) {
    store(
        db,
        ORG,
        "bastion",
        &[
            "sshd[1]: Accepted publickey for deploy from 203.0.113.10 port 22 ssh2",
            "sshd[2]: Failed password for root from 198.51.100.7 port 22 ssh2",
            r#"{"msg":"Payment FAILED for order 42","user":"carol","ip":"203.0.113.10"}"#,
            "port scan detected from 198.51.100.7",
        ],
    );
    store(
        db,
        OTHER,
        "bastion",
        &["sshd[3]: Failed password for root from 198.51.100.7 port 22 ssh2"],
    );
}

#[test]
fn lines_come_newest_first_with_what_was_extracted_and_only_the_organisations_own() {
    let db = SqliteDb::migrated();
    sample(&db);
    let (data, pagination) = read(&db, &query(&[]).unwrap(), false);
    assert_eq!(data.len(), 4, "never the other organisation's line");
    let first = &data[0];
    assert_eq!(first["timestamp"], UnixMs(T0).iso_millis());
    assert_eq!(
        (
            &first["type"],
            &first["user"],
            &first["source_ip"],
            &first["parser"]
        ),
        (
            &json!("login_success"),
            &json!("deploy"),
            &json!("203.0.113.10"),
            &json!("sshd")
        )
    );
    assert_eq!(
        (&first["service"], &first["namespace"]),
        (&json!("bastion"), &json!("prod"))
    );
    assert_eq!(first["org_id"], ORG);
    let id = first["id"].as_str().unwrap();
    assert!(id.ends_with(&format!("-{}", T0 / 1000)), "{id}");
    assert_eq!(
        pagination,
        json!({"limit": 50, "has_more": false, "next_cursor": null, "scanned": 4})
    );

    // By id: the same object; another organisation's, a wrong second or no item id is none.
    let (sql, params) = line_sql(ORG, id, UnixMs(0)).unwrap();
    let row: LineRow = serde_json::from_value(db.rows(&sql, &params).remove(0)).unwrap();
    assert_eq!(row.to_api(false), *first);
    let (sql, params) = line_sql(OTHER, id, UnixMs(0)).unwrap();
    assert!(db.rows(&sql, &params).is_empty());
    let wrong_second = format!("{}-{}", id.split('-').next().unwrap(), T0 / 1000 - 1);
    let (sql, params) = line_sql(ORG, &wrong_second, UnixMs(0)).unwrap();
    assert!(db.rows(&sql, &params).is_empty());
    let (sql, params) = line_sql(ORG, id, UnixMs(T0 + 1)).unwrap();
    assert!(db.rows(&sql, &params).is_empty(), "past retention");
    for bad in [
        "",
        "-",
        "12",
        "12-",
        "-12",
        "a-1",
        "1-b",
        "1-2-3",
        "0x1-2",
        " 1-2",
        "99999999999999999999-1",
    ] {
        assert!(line_sql(ORG, bad, UnixMs(0)).is_none(), "{bad:?}");
    }
}

#[test]
fn every_filter_narrows_the_page() {
    let db = SqliteDb::migrated();
    sample(&db);
    let got = |pairs: &[(&str, &str)]| {
        let (data, _) = read(&db, &query(pairs).unwrap(), false);
        messages(&data)
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(got(&[("type", "login_failure")]).len(), 1);
    assert_eq!(got(&[("source_ip", "198.51.100.7")]).len(), 2);
    assert_eq!(got(&[("ip", "::ffff:198.51.100.7")]).len(), 2, "canonical");
    assert_eq!(got(&[("user", "carol")]).len(), 1);
    assert_eq!(
        got(&[("q", "payment failed")]).len(),
        1,
        "ASCII case ignored"
    );
    assert_eq!(got(&[("q", "%")]).len(), 0, "no pattern characters");
    assert_eq!(
        got(&[("service", "bastion"), ("namespace", "prod")]).len(),
        4
    );
    assert_eq!(got(&[("service", "other")]).len(), 0);
    assert_eq!(got(&[("to", &UnixMs(T0 - 2000).iso_millis())]).len(), 2);
    assert_eq!(got(&[("from", &UnixMs(T0 - 1000).iso_millis())]).len(), 2);
    assert_eq!(
        got(&[("type", "network_scan"), ("source_ip", "198.51.100.7")]),
        ["port scan detected from 198.51.100.7"]
    );
}

#[test]
fn the_cursor_walks_every_line_once_in_order_at_any_page_size() {
    let db = SqliteDb::migrated();
    let lines: Vec<String> = (0..7)
        .map(|i| format!("line {i} from 203.0.113.1"))
        .collect();
    store(
        &db,
        ORG,
        "s",
        &lines.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    for limit in ["1", "2", "3", "7", "200"] {
        let (all, _) = walk(&db, &[("limit", limit)]);
        assert_eq!(all, lines, "limit {limit}");
    }
}

#[test]
fn a_rare_match_costs_a_bounded_scan_per_page_and_the_cursor_still_finds_every_one() {
    let db = SqliteDb::migrated();
    let n = MAX_SCANNED as usize + 10;
    let lines: Vec<String> = (0..n)
        .map(|i| match i {
            0 | 7000.. => format!("needle {i}"),
            _ if i == n - 1 => format!("needle {i}"),
            _ => format!("hay {i}"),
        })
        .collect();
    store(
        &db,
        ORG,
        "s",
        &lines.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let q = query(&[("q", "needle")]).unwrap();
    let (data, pagination) = read(&db, &q, false);
    assert_eq!(messages(&data), ["needle 0"]);
    assert_eq!(pagination["scanned"], MAX_SCANNED);
    assert_eq!(
        pagination["has_more"], true,
        "the window goes on past the scan"
    );
    let (all, pages) = walk(&db, &[("q", "needle")]);
    assert_eq!(all, ["needle 0".to_string(), format!("needle {}", n - 1)]);
    assert_eq!(pages, 2);
    // The page reads its scan through the index and each line by row id, never the table.
    let (sql, params) = q.page_sql(ORG, UnixMs(0));
    let plan = db.plan(&sql, &params).join("\n");
    assert!(plan.contains("logs_org_ts"), "{plan}");
    assert!(
        !plan.contains("SCAN l") && !plan.contains("SCAN logs"),
        "{plan}"
    );
}

#[test]
fn free_sees_no_location_or_network_and_bad_parameters_are_400s_naming_them() {
    let db = SqliteDb::migrated();
    store(
        &db,
        ORG,
        "s",
        &[r#"{"msg":"login failed","ip":"203.0.113.1","country":"BE","vpn":true}"#],
    );
    let (pro, _) = read(&db, &query(&[]).unwrap(), false);
    assert_eq!(
        (&pro[0]["geo"], &pro[0]["network"]["is_vpn"]),
        (&json!("BE"), &json!(true))
    );
    let (free, _) = read(&db, &query(&[]).unwrap(), true);
    for key in ["geo", "location", "network", "threat_score"] {
        assert_eq!(free[0][key], Value::Null, "{key}");
    }
    let long = "x".repeat(MAX_CONTAINS_CHARS + 1);
    let other_list = CursorKey::new("secret", ORG, "events").encode(&Cursor {
        created_at: UnixMs(T0),
        id: "1".into(),
    });
    for (pairs, field) in [
        (vec![("type", "login")], "type"),
        (vec![("source_ip", "not-an-ip")], "source_ip"),
        (vec![("q", long.as_str())], "q"),
        (vec![("limit", "ten")], "limit"),
        (vec![("from", "yesterday")], "from"),
        (vec![("cursor", other_list.as_str())], "cursor"),
    ] {
        let e = query(&pairs).unwrap_err();
        assert_eq!(
            (e.status(), e.code),
            (400, ErrorCode::ValidationError),
            "{pairs:?}"
        );
        assert!(format!("{e:?}").contains(field), "{pairs:?}: {e:?}");
    }
}
