//! The write paths as they were before migrations/0019_events_stored_once.sql, to fill a database
//! the way a running installation was filled before it: each event in `events` (the columns of
//! migrations/0001_init.sql) and again in `logs` as its log item, numbered with the raw lines by
//! `logs` alone. `rollups`: the code kept the rollups (migrations 0017–0018), checking `logs`
//! for an event's item already stored; without, the triggers before 0017 did.

use crate::api::sql::{SqlParam, Statement, MAX_BOUND_JSON_BYTES};
use crate::ingest::record::{json_array_chunks, EventRecord};
use crate::logs::rollups::HOSTILE_SQL;
use crate::logs::{event_row, LogRow};
use crate::runtime::Db;
use crate::testing::{run, SqliteDb};

/// Before 0020: adds the records of the JSON array bound to `?1` that are not stored yet to the hourly
/// counts per (organisation, event name, severity) that `GET /events` totals read
/// (migrations/0006_event_counts.sql): one grouped upsert, run just before the insert.
const COUNT_EVENTS_SQL: &str = "INSERT INTO event_counts (org_id, hour, event_name, severity, n) \
SELECT json_extract(value, '$.org_id'), json_extract(value, '$.created_at') / 3600000, \
json_extract(value, '$.event_name'), json_extract(value, '$.severity'), count(*) FROM json_each(?1) \
WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = json_extract(value, '$.id')) GROUP BY 1, 2, 3, 4 \
ON CONFLICT (org_id, hour, event_name, severity) DO UPDATE SET n = n + excluded.n";

/// The events insert before 0019.
const INSERT_EVENTS_SQL: &str = "INSERT OR IGNORE INTO events (id, org_id, event_name, category, severity, \
instant_alert, actor_id, actor_email, user_ip, server_ip, country_code, city, latitude, longitude, \
is_vpn, is_tor, is_proxy, is_datacenter, threat_score, forensics, metadata, created_at) \
SELECT json_extract(value, '$.id'), json_extract(value, '$.org_id'), json_extract(value, '$.event_name'), \
json_extract(value, '$.category'), json_extract(value, '$.severity'), json_extract(value, '$.instant_alert'), \
json_extract(value, '$.actor_id'), json_extract(value, '$.actor_email'), json_extract(value, '$.user_ip'), \
json_extract(value, '$.server_ip'), json_extract(value, '$.country_code'), json_extract(value, '$.city'), \
json_extract(value, '$.latitude'), json_extract(value, '$.longitude'), json_extract(value, '$.is_vpn'), \
json_extract(value, '$.is_tor'), json_extract(value, '$.is_proxy'), json_extract(value, '$.is_datacenter'), \
json_extract(value, '$.threat_score'), json(json_extract(value, '$.forensics')), \
json(json_extract(value, '$.metadata')), json_extract(value, '$.created_at') FROM json_each(?1)";

/// The `logs` insert before 0019: SQLite numbers the rows (the largest `logs` id plus one).
const INSERT_LOGS_SQL: &str = "INSERT OR IGNORE INTO logs (org_id, ts, hour, type, action, level, \
service, namespace, source_ip, user, hostname, target_ip, geo, device, vpn, status_code, resource, message, \
event_id, event_name) SELECT json_extract(value, '$.org_id'), json_extract(value, '$.ts'), \
json_extract(value, '$.hour'), json_extract(value, '$.type'), json_extract(value, '$.action'), \
json_extract(value, '$.level'), json_extract(value, '$.service'), json_extract(value, '$.namespace'), \
json_extract(value, '$.source_ip'), json_extract(value, '$.user'), json_extract(value, '$.hostname'), \
json_extract(value, '$.target_ip'), json_extract(value, '$.geo'), json_extract(value, '$.device'), \
json_extract(value, '$.vpn'), json_extract(value, '$.status_code'), json_extract(value, '$.resource'), \
json_extract(value, '$.message'), json_extract(value, '$.event_id'), json_extract(value, '$.event_name') \
FROM json_each(?1)";

/// The rollup upserts before 0020, run before each chunk's insert: the chunk's items, less an
/// event's item that `logs` already holds (before 0019).
fn upserts(chunk: &str) -> Vec<Statement> {
    let col = |c: &str| format!("json_extract(value, '$.{c}') AS {c}");
    let cols = crate::logs::rollups::SOURCE_COLUMNS.map(col).join(", ");
    let staged = format!(
        "WITH r AS MATERIALIZED (SELECT {cols}, key AS pos FROM json_each(?1) \
         WHERE json_extract(value, '$.event_id') IS NULL \
         OR NOT EXISTS (SELECT 1 FROM logs WHERE event_id = json_extract(value, '$.event_id'))), \
         h AS MATERIALIZED (SELECT *, {HOSTILE_SQL} AS hostile FROM r) "
    );
    crate::logs::rollups::grouped_upserts(&staged, &[SqlParam::Text(chunk.to_string())], false)
}

/// The statements storing log items (raw lines, or events' items) before 0019, each chunk's
/// rollup upserts first when the code kept them.
fn item_statements(rows: &[&LogRow], rollups: bool, returning: bool) -> Vec<Statement> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&&LogRow> = rows
        .iter()
        .filter(|r| r.event_id.as_ref().is_none_or(|id| seen.insert(id)))
        .collect();
    let mut out = Vec::new();
    let insert = if returning {
        // What the push returned then (its schema has no location columns).
        format!("{INSERT_LOGS_SQL} RETURNING id, ts, type, source_ip, user")
    } else {
        INSERT_LOGS_SQL.to_string()
    };
    for chunk in json_array_chunks(&unique, MAX_BOUND_JSON_BYTES).expect("serialisable") {
        if rollups {
            out.extend(upserts(&chunk));
        }
        out.push((insert.clone(), vec![SqlParam::Text(chunk)]));
    }
    out
}

/// Stores raw lines as the Loki push did before 0019; the rows `RETURNING` gave back.
pub fn store_lines(db: &SqliteDb, rows: &[LogRow], rollups: bool) -> Vec<Vec<serde_json::Value>> {
    let rows: Vec<&LogRow> = rows.iter().collect();
    run(db.batch(&item_statements(&rows, rollups, true))).expect("lines stored")
}

/// Stores events as the queue consumer did before 0019: the events, then their log items.
pub fn store_events(db: &SqliteDb, records: &[EventRecord], rollups: bool) {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&EventRecord> = records.iter().filter(|r| seen.insert(&r.id)).collect();
    let mut statements = Vec::new();
    for chunk in json_array_chunks(&unique, MAX_BOUND_JSON_BYTES).expect("serialisable") {
        for sql in [COUNT_EVENTS_SQL, INSERT_EVENTS_SQL] {
            if rollups || sql == INSERT_EVENTS_SQL {
                statements.push((sql.to_string(), vec![SqlParam::Text(chunk.clone())]));
            }
        }
    }
    let items: Vec<LogRow> = records.iter().map(event_row).collect();
    let items: Vec<&LogRow> = items.iter().collect();
    statements.extend(item_statements(&items, rollups, false));
    run(db.batch(&statements)).expect("events stored");
}
