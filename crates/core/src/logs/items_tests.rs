//! The view `items` against the code: each event's item, as the view shows it, is the item the
//! code computes for it (`crate::logs::event_row`), stored in the event's one row; the events'
//! arm that readers write ([`event_column`]) is the view's; `hostile` is
//! `crate::logs::rollups::HOSTILE_SQL` over the item's columns.

use super::*;
use crate::access::ids::{EventId, OrgId};
use crate::api::sql::SqlParam;
use crate::ingest::record::EventRecord;
use crate::ingest::NewEvent;
use crate::logs::rollups::HOSTILE_SQL;
use crate::logs::{event_row, LOG_COLUMNS};
use crate::testing::{store, SqliteDb};
use crate::time::UnixMs;
use serde_json::{json, Map, Value};

const T: i64 = 1_769_764_500_123;

/// Events of many shapes: names of every item type (custom ones classified by their words),
/// metadata that sets or leaves each item field, addresses and actors padded, blank or absent,
/// every severity's level.
fn records() -> Vec<EventRecord> {
    let names = [
        "auth.login_failed",
        "auth.login_success",
        "authz.role_changed",
        "admin.user_created",
        "authz.access_denied",
        "security.ip_blocked",
        "security.rate_limit_exceeded",
        "data.export",
        "custom.login_failed_attempt",
        "billing.invoice_paid",
    ];
    let ips = [
        None,
        Some("203.0.113.7"),
        Some(" 203.0.113.7 "),
        Some(""),
        Some("   "),
        Some("2001:db8::1"),
        Some("127.0.0.1"),
        Some("[REDACTED]"),
    ];
    let actors = [None, Some("bob"), Some(" bob "), Some("")];
    let metadata = [
        json!({}),
        json!({"service": "web", "namespace": "prod", "hostname": "h1", "device": "ios",
               "target_ip": "10.0.0.1", "status_code": 401, "resource": "repo", "message": "denied"}),
        json!({"service": " ", "namespace": "litesoc", "status_code": "429", "message": "  ",
               "target": "t", "new_role": "admin"}),
        json!({"status_code": 99, "message": 7, "namespace": 12}),
    ];
    let mut out = Vec::new();
    let mut n = 0u128;
    for (i, name) in names.iter().enumerate() {
        for (j, ip) in ips.iter().enumerate() {
            n += 1;
            let actor = actors[(i + j) % actors.len()];
            let meta = metadata[(i * 3 + j) % metadata.len()].clone();
            let mut r = EventRecord::assign(
                NewEvent {
                    event_name: name.to_string(),
                    actor_id: actor.map(str::to_string),
                    actor_email: None,
                    user_ip: ip.map(str::to_string),
                    metadata: meta.as_object().cloned().unwrap_or_default(),
                },
                &OrgId("org_a".into()),
                EventId(uuid::Uuid::from_u128(n)),
                UnixMs(T - n as i64 * 1000),
                None,
            );
            r.severity = crate::ingest::catalogue::Severity::ALL[(i + j) % 6];
            r.enrichment.country_code =
                [None, Some("DE"), Some(""), Some(" de ")][j % 4].map(str::to_string);
            r.enrichment.is_vpn = [None, Some(true), Some(false)][(i + j) % 3];
            out.push(r);
        }
    }
    out
}

fn filled() -> (SqliteDb, Vec<EventRecord>) {
    let db = SqliteDb::migrated();
    let records = records();
    store(&db, &records);
    (db, records)
}

#[test]
fn each_event_is_one_row_holding_the_item_the_code_computes() {
    let (db, records) = filled();
    assert_eq!(
        db.count("SELECT count(*) FROM events", &[]),
        records.len() as i64
    );
    assert_eq!(db.count("SELECT count(*) FROM logs", &[]), 0, "no copy");
    let columns = LOG_COLUMNS.join(", ");
    for r in &records {
        let id = SqlParam::Text(r.id.to_string());
        let rows = db.rows(
            &format!("SELECT {columns} FROM {ITEMS} WHERE event_id = ?1"),
            &[id],
        );
        assert_eq!(rows.len(), 1, "{}", r.id);
        let mut want = serde_json::to_value(event_row(r)).unwrap();
        // SQLite's integers for booleans; the level, type and action as their spellings.
        if let Some(v) = want["vpn"].as_bool() {
            want["vpn"] = json!(i64::from(v));
        }
        assert_eq!(rows[0], want, "{}", r.id);
    }
}

#[test]
fn the_events_arm_readers_write_is_the_views() {
    let (db, _) = filled();
    let mut all: Vec<&str> = vec!["id"];
    all.extend(LOG_COLUMNS);
    for column in all {
        let arm = db.rows(
            &format!(
                "SELECT {} AS v FROM events WHERE item_type IS NOT NULL ORDER BY rowid",
                event_column(column, "")
            ),
            &[],
        );
        let arm_aliased = db.rows(
            &format!(
                "SELECT {} AS v FROM events AS e WHERE e.item_type IS NOT NULL ORDER BY e.rowid",
                event_column(column, "e.")
            ),
            &[],
        );
        let view = db.rows(
            &format!("SELECT {column} AS v FROM {ITEMS} WHERE event_id IS NOT NULL ORDER BY id"),
            &[],
        );
        assert_eq!(arm, view, "{column}");
        assert_eq!(arm_aliased, view, "{column}");
    }
    // The index keys: the item's address and user, or '' for none where the event has one.
    let keys = db.rows(
        &format!(
            "SELECT nullif({}, '') AS a, nullif({}, '') AS b FROM events ORDER BY rowid",
            event_ip_key(""),
            event_user_key("")
        ),
        &[],
    );
    let view = db.rows(
        &format!("SELECT source_ip AS a, user AS b FROM {ITEMS} ORDER BY id"),
        &[],
    );
    assert_eq!(keys, view);
}

#[test]
fn an_events_hostile_is_the_expression_the_rollups_count() {
    let (db, _) = filled();
    let rows = db.rows(
        &format!(
            "SELECT hostile AS h, {HOSTILE_SQL} AS want FROM {ITEMS} WHERE event_id IS NOT NULL"
        ),
        &[],
    );
    assert!(rows.iter().any(|r| r["h"] == 1) && rows.iter().any(|r| r["h"] == 0));
    for r in rows {
        assert_eq!(r["h"], r["want"]);
    }
}

#[test]
fn most_events_store_nothing_of_their_item_but_its_type() {
    let db = SqliteDb::migrated();
    let plain = EventRecord::assign(
        NewEvent {
            event_name: "auth.login_failed".into(),
            actor_id: Some("bob".into()),
            actor_email: None,
            user_ip: Some("203.0.113.7".into()),
            metadata: Map::new(),
        },
        &OrgId("org_a".into()),
        EventId(uuid::Uuid::from_u128(1)),
        UnixMs(T),
        None,
    );
    store(&db, &[plain]);
    let row = &db.rows(
        "SELECT item_type, item_action, item_level, item_service, item_namespace, item_ip, item_user, \
         item_hostname, item_target_ip, item_geo, item_device, item_status, item_resource, item_message \
         FROM events",
        &[],
    )[0];
    let set: Vec<(&String, &Value)> = row
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| !v.is_null())
        .collect();
    assert_eq!(
        set,
        vec![(&"item_type".to_string(), &json!("login_failure"))]
    );
}

#[test]
fn raw_lines_and_events_are_numbered_from_one_sequence() {
    assert!(crate::logs::INSERT_LOGS_SQL.contains(crate::ingest::record::NEXT_ITEM_ID_BASE));
    let db = SqliteDb::migrated();
    let records = records();
    let line = |ts: i64| crate::logs::LogRow {
        org_id: "org_a".into(),
        ts,
        hour: crate::logs::hour_bucket(ts),
        log_type: crate::logs::classify::LogType::NetworkEvent,
        action: None,
        level: crate::logs::classify::LogLevel::Info,
        service: "web".into(),
        namespace: "prod".into(),
        source_ip: None,
        user: None,
        hostname: None,
        target_ip: None,
        geo: None,
        device: None,
        vpn: None,
        detail: Default::default(),
        status_code: None,
        resource: None,
        message: "GET /".into(),
        event_id: None,
        event_name: None,
    };
    let push = |n: i64| {
        let rows: Vec<_> = (0..n).map(|i| line(T + i)).collect();
        crate::testing::run(crate::runtime::Db::batch(
            &db,
            &crate::logs::insert_statements(&rows, false, 1 << 20).unwrap(),
        ))
        .unwrap();
    };
    push(3);
    store(&db, &records[..5]);
    push(2);
    store(&db, &records[..8]); // five redelivered: numbered once
    let ids = db.rows(
        &format!("SELECT id, event_id IS NULL AS line FROM {ITEMS} ORDER BY id"),
        &[],
    );
    let got: Vec<(i64, i64)> = ids
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), r["line"].as_i64().unwrap()))
        .collect();
    let want: Vec<(i64, i64)> = [1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0]
        .iter()
        .enumerate()
        .map(|(i, line)| (i as i64 + 1, *line))
        .collect();
    assert_eq!(got, want, "in the order stored, with no gap");
}
