//! The dashboard's rollups of the log items (migrations/0007_log_rollups.sql and 0009, read by
//! crates/core/src/analytics/dashboard/sql.rs) and the hourly event counts `GET /events` totals
//! read (`event_counts`), caught up from the stored rows rather than written with them
//! (migrations/0020_rollups_caught_up.sql): they count every item and event whose id is at most
//! the mark `rollup_marks.upto` (items are numbered in the order stored,
//! `crate::ingest::record::NEXT_ITEM_ID_BASE`), and a catch-up adds the items stored since in
//! one grouped upsert per rollup table. A rollup row is then written once per catch-up however
//! many items it counts, so the writes follow the keys an interval touches, not the items. The
//! narrow `log_source_hours` is summed from `log_source_hourly` once an hour has closed
//! ([`fold`]), so its writes follow the keys an hour touches.
//!
//! Writers append a catch-up to their insert batch, run only when the mark is older than
//! [`CATCH_UP_EVERY_MS`] or [`CATCH_UP_BACKLOG`] items behind; the dashboard's read batch and
//! each `GET /events` page start with one that always runs, so what they show counts every
//! stored row (up to
//! [`CATCH_UP_ROUND`] at a time). Exact under concurrency and redelivery: a catch-up is one
//! transaction that moves the mark past exactly the items it counted, and a redelivered event
//! stores no item. The purge removes whole buckets (crates/core/src/retention.rs), never
//! decrements.

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

/// The columns every rollup upsert reads from its source `h`, one row per item.
pub(crate) const SOURCE_COLUMNS: [&str; 11] = [
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
];

/// The item id of the mark's next catch-up, at most: the larger of the two tables' largest ids.
const TOP: &str = crate::ingest::record::MAX_ITEM_ID;

/// How often, at most, a writer's batch catches the rollups up (the dashboard catches up on
/// every read, so this bounds its work, not what it shows).
pub const CATCH_UP_EVERY_MS: i64 = 10 * 60 * 1000;

/// Items behind the mark at which a writer catches up whatever the time.
pub const CATCH_UP_BACKLOG: i64 = 20_000;

/// Items one catch-up counts at most (its upserts each read that many rows of the items).
pub const CATCH_UP_ROUND: i64 = 50_000;

/// The tag a catch-up's statements start with, so a meter can tell their cost apart.
const CATCH_UP_TAG: &str = "/* rollup catch-up */ ";

/// Whether `sql` is one of [`catch_up`]'s statements.
pub fn is_catch_up(sql: &str) -> bool {
    sql.starts_with(CATCH_UP_TAG)
}

/// The mark's row: the items every organisation's rollups count.
const FLOOR: &str = "org_id = ''";

/// When a catch-up runs, over `?1` = now (ms) and `?2` = the interval (ms): items are waiting
/// and the interval is 0, the mark is older than the interval, or the backlog is long.
fn due() -> String {
    format!(
        "{FLOOR} AND {TOP} > upto \
         AND (?2 <= 0 OR at <= ?1 - ?2 OR {TOP} - upto >= {CATCH_UP_BACKLOG})"
    )
}

/// The source of a catch-up: the items after the mark, up to a round, less those of an
/// organisation whose rollups were recomputed past it (`rollup_marks` rows other than the
/// floor, written by [`REBUILD_SQL`]). Empty when the catch-up is not due.
fn since_mark() -> String {
    let cols = SOURCE_COLUMNS.map(|c| format!("i.{c}")).join(", ");
    format!(
        "WITH {}, h AS MATERIALIZED (SELECT {cols}, i.id AS pos, i.hostile FROM items i WHERE {}) ",
        bounds(),
        in_round("i.id", "i")
    )
}

/// `b`: the round's bounds, `lo` (the mark) and `hi`; no row when no catch-up is due.
fn bounds() -> String {
    format!(
        "b AS MATERIALIZED (SELECT upto AS lo, min({TOP}, upto + {CATCH_UP_ROUND}) AS hi \
         FROM rollup_marks WHERE {})",
        due()
    )
}

/// Whether the row `t` numbered `id` is in the round: past the mark, up to `hi`, and past its
/// organisation's own mark.
fn in_round(id: &str, t: &str) -> String {
    format!(
        "{id} > (SELECT lo FROM b) AND {id} <= (SELECT hi FROM b) \
         AND {id} > coalesce((SELECT upto FROM rollup_marks m WHERE m.org_id = {t}.org_id), 0)"
    )
}

/// The hourly counts per (organisation, event name, severity) that `GET /events` totals read
/// (migrations/0006_event_counts.sql), over every event of the round (items or not).
fn count_events() -> String {
    format!(
        "WITH {}, e AS MATERIALIZED (SELECT ev.org_id, ev.created_at, ev.event_name, ev.severity \
         FROM events ev WHERE {}) \
         INSERT INTO event_counts (org_id, hour, event_name, severity, n) \
         SELECT org_id, created_at / 3600000, event_name, severity, count(*) FROM e WHERE true \
         GROUP BY 1, 2, 3, 4 ON CONFLICT (org_id, hour, event_name, severity) DO UPDATE SET n = n + excluded.n",
        bounds(),
        in_round("ev.rowid", "ev")
    )
}

/// A writer's catch-up of every organisation's rollups as of `now`, if one is due (see [`due`];
/// an interval of 0 makes it due whenever items wait): the grouped upserts, the [`fold`] of the
/// hours closed by `now` into `log_source_hours`, then the mark moved past the items they counted and
/// the organisations' own marks it passed dropped. Append it to a batch, or run it alone: it
/// returns no rows.
pub fn catch_up(now: i64, every_ms: i64) -> Vec<Statement> {
    catch_up_with(now, every_ms, true)
}

/// A reader's catch-up (the dashboard, `GET /events`): always due, and without the [`fold`],
/// which readers do not need (they read the hours not folded yet from the hourly rollups) and
/// which writers and the hourly cron run.
pub fn read_catch_up(now: i64) -> Vec<Statement> {
    catch_up_with(now, 0, false)
}

fn catch_up_with(now: i64, every_ms: i64, folding: bool) -> Vec<Statement> {
    let params = vec![
        SqlParam::Number(now as f64),
        SqlParam::Number(every_ms as f64),
    ];
    let mut out = grouped_upserts(&since_mark(), &params, true);
    if folding {
        out.extend(fold(now));
    }
    out.push((count_events(), params.clone()));
    out.push((
        format!(
            "UPDATE rollup_marks SET upto = min({TOP}, upto + {CATCH_UP_ROUND}), at = ?1 WHERE {}",
            due()
        ),
        params,
    ));
    out.push((
        format!(
            "DELETE FROM rollup_marks WHERE org_id <> '' \
             AND upto <= (SELECT upto FROM rollup_marks WHERE {FLOOR})"
        ),
        vec![],
    ));
    out.into_iter()
        .map(|(sql, params)| (format!("{CATCH_UP_TAG}{sql}"), params))
        .collect()
}

/// The day bucket (start of the UTC day, ms) of an hour bucket.
const DAY_OF_HOUR: &str = "hour - hour % 86400000";

/// The first hour (ms) the folded rollup does not count yet (migrations/0030_rollups_folded.sql):
/// `log_source_hours` counts exactly the items of the hours before it; the other rollups count
/// every item. Readers take the hours from it on from `log_source_hourly`.
pub const FOLDED: &str = "(SELECT hour FROM rollup_fold)";

/// Adds the hours from [`FOLDED`] up to the hour of `now` (ms) to `log_source_hours`, summed
/// from `log_source_hourly` once per hour, and moves the mark there: a row whose counter is in
/// the index the dashboard reads by is then written once per hour its address has items in
/// rather than at every catch-up, however often writers catch up. Nothing when no hour has
/// closed since. A catch-up's own items of those hours went into `log_source_hourly` first,
/// and any item of an earlier hour caught up later goes to `log_source_hours` directly
/// ([`grouped_upserts`]), so each item is counted once. Organisations are reached by a skip
/// scan of the hourly table's primary key, each one's hours by an index range (`CROSS JOIN`
/// keeps that order: with statistics the planner would otherwise walk the hourly table).
/// (The daily rollups are not folded: the dashboard ranks from their current day, which a fold
/// would leave to a read of the hourly rows of the hour under way, too slow at a million items
/// a day.)
fn fold(now: i64) -> Vec<Statement> {
    let params = vec![SqlParam::Number(now as f64)];
    let hi = "?1 - ?1 % 3600000";
    vec![
        (
            format!(
                "WITH RECURSIVE f AS MATERIALIZED (SELECT hour AS lo FROM rollup_fold WHERE hour < {hi}), \
                 o(id) AS (SELECT (SELECT min(org_id) FROM log_source_hourly) WHERE EXISTS (SELECT 1 FROM f) \
                   UNION ALL SELECT (SELECT min(org_id) FROM log_source_hourly WHERE org_id > o.id) FROM o \
                   WHERE o.id IS NOT NULL) \
                 INSERT INTO log_source_hours (org_id, hour, source, n) SELECT x.org_id, x.hour, x.source, sum(x.n) \
                 FROM o CROSS JOIN log_source_hourly AS x ON x.org_id = o.id AND x.hour >= (SELECT lo FROM f) \
                 AND x.hour < {hi} WHERE true GROUP BY 1, 2, 3 \
                 ON CONFLICT (org_id, hour, source) DO UPDATE SET n = n + excluded.n"
            ),
            params.clone(),
        ),
        (
            format!("UPDATE rollup_fold SET hour = {hi} WHERE hour < {hi}"),
            params,
        ),
    ]
}

/// The later of a stored and an incoming `(geo, geo_ts)`: the geo of the latest hostile item that
/// has one (ties: the later insert wins). `what` is `geo` or `geo_ts`.
fn latest_geo(what: &str) -> String {
    format!(
        "{what} = CASE WHEN excluded.geo IS NOT NULL AND (geo_ts IS NULL OR excluded.geo_ts >= geo_ts) \
         THEN excluded.{what} ELSE {what} END"
    )
}

/// The grouped upserts that add the items of `with` (a `WITH` clause defining `h`: the
/// [`SOURCE_COLUMNS`], `pos` ordering items stored in one upsert, and `hostile`) to every
/// rollup, each bound to `params`. With `folding`, `log_source_hours` gets only the items of the
/// hours before [`FOLDED`] ([`fold`] adds the rest); without, every item (the code before
/// migrations/0030_rollups_folded.sql, which tests replay).
pub(crate) fn grouped_upserts(with: &str, params: &[SqlParam], folding: bool) -> Vec<Statement> {
    let folded = if folding {
        format!("hour < {FOLDED}")
    } else {
        "true".to_string()
    };
    let source = "coalesce(source_ip, 'unknown')";
    // Inside a group, the latest item with a geo: ts, then position, then the geo itself.
    let geo_key = "max(CASE WHEN geo IS NOT NULL THEN printf('%015d%019d', ts, pos) || geo END)";
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
             SELECT org_id, hour, {source}, count(*) FROM h WHERE {folded} GROUP BY org_id, hour, {source} \
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
             SELECT org_id, source_ip, hour, service, namespace, count(*), max(ts), substr({geo_key}, 35), \
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
    sql.into_iter().map(|s| (s, params.to_vec())).collect()
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
