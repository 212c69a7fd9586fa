//! The dashboard's rollups of the log items (migrations/0007_log_rollups.sql and 0009, read by
//! crates/core/src/analytics/dashboard/sql.rs), kept by the code that stores the items: each
//! insert of a JSON array of rows is preceded, in the same batch, by one grouped upsert per
//! rollup table, so a rollup row is written once per batch however many items it counts
//! (migrations/0017_batched_rollups.sql replaced the per-row triggers). The purge removes whole
//! buckets (crates/core/src/retention.rs), never decrements.
//!
//! Idempotent like the insert: an event's item whose event is already stored (a redelivered queue
//! message: its id is in `events`, which holds the item with the event since
//! migrations/0019_events_stored_once.sql) is left out of every sum, so it counts only when the
//! insert that follows really stores it. Raw lines have no `event_id` and always count.

use crate::api::sql::{SqlParam, Statement};

/// Whether an item is hostile (docs/dashboard.md §3.5), over the columns `source_ip`, `type`,
/// `event_name` and `status_code`: the same expression as the generated column `logs.hostile`
/// (migrations/0007_log_rollups.sql) and the events' `hostile` in the view `items`
/// (migrations/0019_events_stored_once.sql), so the rollups agree with the items the dashboard
/// reads.
pub const HOSTILE_SQL: &str = "CASE WHEN source_ip IS NOT NULL \
    AND ((source_ip NOT GLOB '*[^0-9.]*' AND source_ip GLOB '[0-9]*.[0-9]*.[0-9]*.[0-9]*' \
          AND source_ip NOT GLOB '*.*.*.*.*' AND source_ip NOT GLOB '127.*' AND source_ip <> '0.0.0.0') \
      OR (source_ip GLOB '*:*' AND source_ip NOT GLOB '*[^0-9A-Fa-f:.]*' \
          AND lower(source_ip) NOT IN ('::', '::1', '0:0:0:0:0:0:0:0', '0:0:0:0:0:0:0:1', '::ffff:0.0.0.0') \
          AND lower(source_ip) NOT GLOB '::ffff:127.*')) \
    AND (type IN ('login_failure', 'network_scan') \
      OR event_name IN ('authz.access_denied', 'security.suspicious_activity', 'security.rate_limit_exceeded', \
                        'security.ip_blocked', 'security.brute_force_detected') \
      OR (event_name IS NULL AND status_code IN (401, 403, 429))) \
  THEN 1 ELSE 0 END";

/// The rows of the JSON array bound to `?1` that the insert will store, as `r` (the rollup
/// columns, `pos` = the row's index in the array) and `h` (`r` with `hostile`).
fn staged() -> String {
    let col = |c: &str| format!("json_extract(value, '$.{c}') AS {c}");
    let cols = [
        "org_id",
        "ts",
        "hour",
        "type",
        "level",
        "service",
        "namespace",
        "source_ip",
        "geo",
        "status_code",
        "event_name",
    ]
    .map(col)
    .join(", ");
    format!(
        "WITH r AS MATERIALIZED (SELECT {cols}, key AS pos FROM json_each(?1) \
         WHERE json_extract(value, '$.event_id') IS NULL \
         OR NOT EXISTS (SELECT 1 FROM events WHERE id = json_extract(value, '$.event_id'))), \
         h AS MATERIALIZED (SELECT *, {HOSTILE_SQL} AS hostile FROM r) "
    )
}

/// The day bucket (start of the UTC day, ms) of an hour bucket.
const DAY_OF_HOUR: &str = "hour - hour % 86400000";

/// The later of a stored and an incoming `(geo, geo_ts)`: the geo of the latest hostile item that
/// has one (ties: the later insert wins). `what` is `geo` or `geo_ts`.
fn latest_geo(what: &str) -> String {
    format!(
        "{what} = CASE WHEN excluded.geo IS NOT NULL AND (geo_ts IS NULL OR excluded.geo_ts >= geo_ts) \
         THEN excluded.{what} ELSE {what} END"
    )
}

/// The grouped upserts that add the items of the JSON array bound to `?1` (a chunk of raw lines,
/// [`super::insert_statements`], or of events with their items,
/// `crate::ingest::record::insert_statements`) to every rollup. Run them before that chunk's
/// insert, in the same batch.
pub fn upserts(chunk: &str) -> Vec<Statement> {
    let with = staged();
    let source = "coalesce(source_ip, 'unknown')";
    // Inside a group, the latest item with a geo: ts, then position, then the geo itself.
    let geo_key = "max(CASE WHEN geo IS NOT NULL THEN printf('%015d%09d', ts, pos) || geo END)";
    let sql = [
        format!(
            "{with}INSERT INTO log_hourly (org_id, hour, service, namespace, type, n, critical, warnings, hostile) \
             SELECT org_id, hour, service, namespace, type, count(*), sum(level IN ('critical', 'error')), \
             sum(level = 'warning'), sum(hostile) FROM h WHERE true GROUP BY org_id, hour, service, namespace, type \
             ON CONFLICT (org_id, hour, service, namespace, type) DO UPDATE SET n = n + excluded.n, \
             critical = critical + excluded.critical, warnings = warnings + excluded.warnings, \
             hostile = hostile + excluded.hostile"
        ),
        format!(
            "{with}INSERT INTO log_source_hourly (org_id, hour, service, namespace, source, n) \
             SELECT org_id, hour, service, namespace, {source}, count(*) FROM h WHERE true \
             GROUP BY org_id, hour, service, namespace, {source} \
             ON CONFLICT (org_id, hour, service, namespace, source) DO UPDATE SET n = n + excluded.n"
        ),
        format!(
            "{with}INSERT INTO log_source_hours (org_id, hour, source, n) \
             SELECT org_id, hour, {source}, count(*) FROM h WHERE true GROUP BY org_id, hour, {source} \
             ON CONFLICT (org_id, hour, source) DO UPDATE SET n = n + excluded.n"
        ),
        format!(
            "{with}INSERT INTO log_source_daily (org_id, day, service, namespace, source, n) \
             SELECT org_id, {DAY_OF_HOUR}, service, namespace, {source}, count(*) FROM h WHERE true \
             GROUP BY org_id, {DAY_OF_HOUR}, service, namespace, {source} \
             ON CONFLICT (org_id, day, service, namespace, source) DO UPDATE SET n = n + excluded.n"
        ),
        format!(
            "{with}INSERT INTO log_attack_hourly (org_id, source_ip, hour, service, namespace, n, last_ts, geo, geo_ts) \
             SELECT org_id, source_ip, hour, service, namespace, count(*), max(ts), substr({geo_key}, 25), \
             CAST(substr({geo_key}, 1, 15) AS INTEGER) FROM h WHERE hostile = 1 \
             GROUP BY org_id, source_ip, hour, service, namespace \
             ON CONFLICT (org_id, source_ip, hour, service, namespace) DO UPDATE SET {geo}, {geo_ts}, \
             last_ts = max(last_ts, excluded.last_ts), n = n + excluded.n",
            geo = latest_geo("geo"),
            geo_ts = latest_geo("geo_ts"),
        ),
        format!(
            "{with}INSERT INTO log_attack_hours (org_id, source_ip, hour, n, last_ts) \
             SELECT org_id, source_ip, hour, count(*), max(ts) FROM h WHERE hostile = 1 \
             GROUP BY org_id, source_ip, hour \
             ON CONFLICT (org_id, source_ip, hour) DO UPDATE SET last_ts = max(last_ts, excluded.last_ts), \
             n = n + excluded.n"
        ),
        format!(
            "{with}INSERT INTO log_attack_daily (org_id, day, service, namespace, source_ip, n) \
             SELECT org_id, {DAY_OF_HOUR}, service, namespace, source_ip, count(*) FROM h WHERE hostile = 1 \
             GROUP BY org_id, {DAY_OF_HOUR}, service, namespace, source_ip \
             ON CONFLICT (org_id, day, service, namespace, source_ip) DO UPDATE SET n = n + excluded.n"
        ),
        format!(
            "{with}INSERT INTO log_attackers (org_id, source_ip, service, namespace, last_ts) \
             SELECT org_id, source_ip, service, namespace, max(ts) FROM h WHERE hostile = 1 \
             GROUP BY org_id, source_ip, service, namespace \
             ON CONFLICT (org_id, source_ip, service, namespace) DO UPDATE SET last_ts = max(last_ts, excluded.last_ts) \
             WHERE excluded.last_ts > last_ts"
        ),
        format!(
            "{with}INSERT INTO log_attacker_ips (org_id, source_ip, last_ts) \
             SELECT org_id, source_ip, max(ts) FROM h WHERE hostile = 1 GROUP BY org_id, source_ip \
             ON CONFLICT (org_id, source_ip) DO UPDATE SET last_ts = max(last_ts, excluded.last_ts) \
             WHERE excluded.last_ts > last_ts"
        ),
    ];
    sql.into_iter()
        .map(|s| (s, vec![SqlParam::Text(chunk.to_string())]))
        .collect()
}

/// Recomputes every rollup of organisation `?1` from its stored items (the view `items`: raw
/// lines and events) and `event_counts` from its events: what the rollups must equal, for tests and for benchmarks that seed rows
/// directly. Statements separated by `;` lines.
pub const REBUILD_SQL: &str = include_str!("rollups_rebuild.sql");

/// [`REBUILD_SQL`] as statements binding `org`.
pub fn rebuild_statements(org: &str) -> Vec<Statement> {
    REBUILD_SQL
        .split(";\n")
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !s.trim().is_empty())
        .map(|s| (s, vec![SqlParam::Text(org.to_string())]))
        .collect()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "rollups_tests.rs"]
mod tests;
