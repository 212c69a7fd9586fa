//! The by-id statement ([`by_id_sql`]) of `GET /events/:id` and `GET /alerts/:id` on real
//! SQLite with every migration applied: two organisations' rows, each organisation reads only
//! its own, and only inside its retention (the cutoff's own millisecond included).

use super::*;
use crate::access::ids::{EventId, OrgId};
use crate::ingest::record::EventRecord;
use crate::ingest::NewEvent;
use crate::testing::{store, SqliteDb};
use serde_json::Map;

const T: i64 = 1_769_764_500_000;

fn event(n: u128, org: &str, at: i64) -> EventRecord {
    EventRecord::assign(
        NewEvent {
            event_name: "auth.login_failed".into(),
            actor_id: Some("u1".into()),
            actor_email: None,
            user_ip: Some("203.0.113.9".into()),
            metadata: Map::new(),
        },
        &OrgId(org.into()),
        EventId(uuid::Uuid::from_u128(n)),
        UnixMs(at),
        None,
    )
}

fn alert(db: &SqliteDb, id: &str, org: &str, at: i64) {
    db.exec(
        "INSERT INTO alerts (id, org_id, alert_type, severity, status, title, description, dedup_key, \
         metadata, created_at, updated_at) VALUES (?1, ?2, 'brute_force_attack', 'high', 'open', 't', 'd', \
         'ip:203.0.113.9', '{}', ?3, ?3)",
        &[
            SqlParam::Text(id.into()),
            SqlParam::Text(org.into()),
            SqlParam::Number(at as f64),
        ],
    );
}

/// The ids `org` reads by id with retention `cutoff`, of `ids` in `table`.
fn readable(db: &SqliteDb, table: &str, org: &str, ids: &[String], cutoff: i64) -> Vec<String> {
    ids.iter()
        .filter_map(|id| {
            let (sql, params) = by_id_sql(table, org, id, UnixMs(cutoff));
            let rows = db.rows(&sql, &params);
            assert!(rows.len() <= 1, "{sql}");
            let row = rows.first()?;
            assert_eq!(row["org_id"], org, "{sql}");
            Some(row["id"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn by_id_binds_the_organisation_and_the_cutoff() {
    for table in ["events", "alerts"] {
        let (sql, params) = by_id_sql(table, "org_a", "some-id", UnixMs(T));
        let columns = if table == "events" {
            EVENT_COLUMNS
        } else {
            "*"
        };
        assert_eq!(
            sql,
            format!(
                "SELECT {columns} FROM {table} WHERE id = ?1 AND org_id = ?2 AND created_at >= ?3"
            )
        );
        assert_eq!(
            params,
            [
                SqlParam::Text("some-id".into()),
                SqlParam::Text("org_a".into()),
                SqlParam::Number(T as f64)
            ]
        );
        assert_eq!(max_placeholder(&sql), params.len());
    }
}

#[test]
fn by_id_returns_only_the_callers_rows_inside_retention() {
    let db = SqliteDb::migrated();
    // Per organisation: one row a millisecond before the cutoff, one at it, one after it.
    let cutoff = T - 86_400_000;
    let times = [cutoff - 1, cutoff, cutoff + 1];
    let mut records = Vec::new();
    for (o, org) in ["org_a", "org_b"].into_iter().enumerate() {
        for (i, at) in times.into_iter().enumerate() {
            records.push(event((o * 10 + i) as u128 + 1, org, at));
            alert(&db, &format!("{org}-alert-{i}"), org, at);
        }
    }
    store(&db, &records);
    let event_ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
    let alert_ids: Vec<String> = ["org_a", "org_b"]
        .iter()
        .flat_map(|org| (0..3).map(move |i| format!("{org}-alert-{i}")))
        .collect();

    // Each organisation reads its own rows at and after the cutoff, never the other's; an
    // organisation with no rows reads nothing, whatever the id.
    for (table, ids) in [("events", &event_ids), ("alerts", &alert_ids)] {
        assert_eq!(
            readable(&db, table, "org_a", ids, cutoff),
            ids[1..3],
            "{table}"
        );
        assert_eq!(
            readable(&db, table, "org_b", ids, cutoff),
            ids[4..6],
            "{table}"
        );
        assert!(readable(&db, table, "org_c", ids, 0).is_empty(), "{table}");
    }
}
