//! The dashboard's reads: [`STATEMENT_COUNT`] statements, always the same list in the same
//! order, run as one D1 batch. Each is scoped by `org_id` and the window; each applies the
//! `service`/`namespace` filters (docs/dashboard.md §1: "The filters apply to every section").
//!
//! | # | Reads | Feeds |
//! |---|---|---|
//! | [`BUCKETS`] | `log_hourly` by hour | timeline, stats, heatmap |
//! | [`FLOWS`] | `log_hourly` by (service, type) | Sankey service → type links, service totals |
//! | [`SOURCES`] | `log_source_daily` cuts, `log_source_hours`, `log_source_hourly` | Sankey top-10 sources → services |
//! | [`ATTACKERS`] | `log_attack_daily` cuts, `log_attack_hours`/`log_attack_hourly`, `log_attacker_ips`/`log_attackers`, `alerts`, `events` | topAttackers, stats.attackSources |
//! | [`LOGS`] | `items` (raw lines and events) newest first, `LIMIT log_limit` | logs |
//! | [`IAM`] | IAM changes of `logs` and `events` newest first, `LIMIT iam_limit` | iamChanges |
//! | [`ANOMALIES`] | `alerts` by rank then newest, `LIMIT anomaly_limit` | anomalies |
//! | [`ANOMALY_COUNTS`] | `alerts` by severity | threatDistribution, stats |
//!
//! **The current hour.** Rollups hold whole hours; the window ends at `end` inside the last
//! hour. Items of that hour stamped after `end` (Loki accepts up to 10 min in the future) are
//! read from the items (`ts > end AND ts < next_hour`, through `logs_org_ts` and
//! `events_org_created`; normally no rows) and subtracted, so every aggregate counts exactly the
//! items in `[start, end]`.
//!
//! **Where the items are.** Raw lines are `logs` rows; an event's item is held in its `events`
//! row (migrations/0019_events_stored_once.sql). Reads go through the view `items`, whose bounds
//! SQLite carries into both tables' indexes (the logs list merges the two newest-first scans),
//! except the IAM list, which names each table's partial index (`crate::logs::items`).
//!
//! **Top 10 without a scan** (sources and attackers). Ranking every IP of the window by its
//! count would read one rollup row per (hour, IP, service): hundreds of thousands at a million
//! items a day. Instead, Fagin's threshold algorithm over the daily rollups:
//! 1. For each UTC day the window touches and each (service, namespace) with items in it (a
//!    *cut*), the [`TOP_CUT`] largest daily counts (an index range read). Their IPs are the
//!    candidates; the smallest of them is the cut's threshold τ (0 when the cut has fewer
//!    rows, as then every IP of the cut is a candidate).
//! 2. The candidates' exact window counts come from the hourly rollups (index range reads):
//!    the narrow ones (`log_source_hours` for the folded hours, `log_attack_hours`: one row per
//!    hour and IP) without a filter, the per-(service, namespace) ones with a filter.
//! 3. Any other IP has, in every cut, a daily count ≤ τ, and its window count is at most its
//!    daily counts summed, so at most B = Σ τ. If the 10th candidate's count is > B (or there
//!    are fewer than 10 and B = 0), the top 10 are proven.
//! 4. Otherwise (flat distributions, or windows of a few hours) the statement falls back to a
//!    pass over the hourly rollup of the window: its hour range is made empty when step 3
//!    succeeded, so the fallback costs nothing then. Either way the result is exact.
//!
//! **Results.** Each statement returns a single row whose `rows` column is a JSON array of its
//! rows (see [`as_json`]): the assembly parses it, and re-sorts every list it relies on.

use super::params::{DashboardQuery, Window, DAY_MS, HOUR_MS};
use crate::analytics::events::NAMED_CONDITION;
use crate::api::sql::{SqlParam, Statement};
use crate::logs::items::{event_column, ITEMS};
use crate::logs::rollups::{FOLDED, HOSTILE_SQL};
use crate::logs::LOG_COLUMNS;

/// Rows taken from each daily cut of the threshold algorithm.
pub const TOP_CUT: usize = 50;

/// Statement positions in the batch.
pub const BUCKETS: usize = 0;
pub const FLOWS: usize = 1;
pub const SOURCES: usize = 2;
pub const ATTACKERS: usize = 3;
pub const LOGS: usize = 4;
pub const IAM: usize = 5;
pub const ANOMALIES: usize = 6;
pub const ANOMALY_COUNTS: usize = 7;
/// How many statements [`statements`] returns (always).
pub const STATEMENT_COUNT: usize = 8;

/// Alert severity rank for ordering: critical first.
const RANK_ORDER: &str =
    "CASE a.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END";

/// The log item that triggered an alert (its `service`/`namespace` are the anomaly's): an event
/// by its UUID (`le`, the item its `events` row holds), or a raw line (`l`) by
/// `<row id>-<unix seconds>`, checked against the row's time so a stale id never picks another
/// row. At most one of the two is found; [`TRIGGER_SERVICE`] and [`TRIGGER_NAMESPACE`] are its.
const TRIGGER_ITEM: &str = "LEFT JOIN logs AS l ON l.id = (CASE WHEN length(a.trigger_event_id) = 36 THEN NULL \
ELSE CAST(substr(a.trigger_event_id, 1, instr(a.trigger_event_id, '-') - 1) AS INTEGER) END) \
AND l.org_id = a.org_id AND l.event_id IS NULL \
AND l.ts / 1000 = CAST(substr(a.trigger_event_id, instr(a.trigger_event_id, '-') + 1) AS INTEGER) \
LEFT JOIN events AS le ON le.id = (CASE WHEN length(a.trigger_event_id) = 36 THEN a.trigger_event_id END) \
AND le.org_id = a.org_id AND le.item_type IS NOT NULL";

/// The service of the alert's trigger item ([`TRIGGER_ITEM`]); NULL without one.
const TRIGGER_SERVICE: &str = "coalesce(l.service, le.item_service, le.category)";
/// The namespace of the alert's trigger item ([`TRIGGER_ITEM`]); NULL without one.
const TRIGGER_NAMESPACE: &str =
    "coalesce(l.namespace, le.item_namespace, CASE WHEN le.id IS NOT NULL THEN 'litesoc' END)";

/// ` AND {alias}service = :service AND {alias}namespace = :namespace` for the filters given.
fn filters(q: &DashboardQuery, alias: &str) -> String {
    let mut s = String::new();
    if q.service.is_some() {
        s.push_str(&format!(" AND {alias}service = :service"));
    }
    if q.namespace.is_some() {
        s.push_str(&format!(" AND {alias}namespace = :namespace"));
    }
    s
}

/// The filters over the alert's trigger item ([`TRIGGER_ITEM`]).
fn trigger_filters(q: &DashboardQuery) -> String {
    let mut s = String::new();
    if q.service.is_some() {
        s.push_str(&format!(" AND {TRIGGER_SERVICE} = :service"));
    }
    if q.namespace.is_some() {
        s.push_str(&format!(" AND {TRIGGER_NAMESPACE} = :namespace"));
    }
    s
}

/// Whether the statements read the rollups keyed by (service, namespace): with a filter, and
/// always when pivoted (their stand-ins, [`PIVOT_TABLES`], have those keys).
fn has_filters(q: &DashboardQuery) -> bool {
    q.service.is_some() || q.namespace.is_some() || q.pivoted()
}

/// Where the statements read items: the view, or when pivoted the pivot's own items (`pv`).
fn items(q: &DashboardQuery) -> &'static str {
    if q.pivoted() {
        "pv"
    } else {
        ITEMS
    }
}

/// A pivot's items: those of the window's hours (the rollups' whole hours, so the current
/// hour's future-stamped items too) from the address and/or by the user, materialized once for
/// the statement. Each table is read through its window index (`logs_org_ts`,
/// `events_org_created`), named so the planner never trades the window for a full scan;
/// `hostile` is [`HOSTILE_SQL`], the expression the rollups use.
fn pivot_items(q: &DashboardQuery) -> String {
    let only = |col: &dyn Fn(&str) -> String| {
        let mut s = String::new();
        if q.source_ip.is_some() {
            s.push_str(&format!(" AND {} = :source_ip", col("source_ip")));
        }
        if q.user.is_some() {
            s.push_str(&format!(" AND {} = :user", col("user")));
        }
        s
    };
    // The stored columns of a log item, with its id; not the message (up to 8 KiB a line).
    let columns: Vec<&str> = std::iter::once("id")
        .chain(LOG_COLUMNS.iter().copied().filter(|c| *c != "message"))
        .collect();
    let logs = columns.join(", ");
    let events: Vec<String> = columns
        .iter()
        .map(|c| format!("{} AS {c}", event_column(c, "")))
        .collect();
    format!(
        "pv AS MATERIALIZED (SELECT u.*, {HOSTILE_SQL} AS hostile FROM (\
         SELECT {logs} FROM logs INDEXED BY logs_org_ts \
         WHERE org_id = :org AND ts >= :start AND ts < :next_hour{} \
         UNION ALL SELECT {} FROM events INDEXED BY events_org_created \
         WHERE org_id = :org AND created_at >= :start AND created_at < :next_hour \
         AND item_type IS NOT NULL{}) AS u)",
        only(&|c| c.to_string()),
        events.join(", "),
        only(&|c| event_column(c, "")),
    )
}

/// Stand-ins for the rollups the filtered statements read, over the pivot's items (`pv`),
/// under the rollups' own names and columns (the rollup upserts of
/// crates/core/src/logs/rollups.rs, one row per item where the statements only sum; grouped
/// where the top-10 cuts rank rows), so the same statements answer for a pivot.
const PIVOT_TABLES: &str = "\
log_hourly AS (SELECT org_id, hour, service, namespace, type, 1 AS n, \
  level IN ('critical', 'error') AS critical, level = 'warning' AS warnings, hostile FROM pv), \
log_source_hourly AS (SELECT org_id, hour, service, namespace, \
  coalesce(source_ip, 'unknown') AS source, 1 AS n FROM pv), \
log_source_daily AS (SELECT org_id, hour - hour % 86400000 AS day, service, namespace, \
  coalesce(source_ip, 'unknown') AS source, count(*) AS n FROM pv GROUP BY 1, 2, 3, 4, 5), \
log_attack_hourly AS (SELECT org_id, source_ip, hour, service, namespace, 1 AS n, ts AS last_ts, \
  geo, CASE WHEN geo IS NOT NULL THEN ts END AS geo_ts FROM pv WHERE hostile = 1), \
log_attack_daily AS (SELECT org_id, hour - hour % 86400000 AS day, service, namespace, source_ip, \
  count(*) AS n FROM pv WHERE hostile = 1 GROUP BY 1, 2, 3, 4, 5), \
log_attackers AS (SELECT org_id, source_ip, service, namespace, ts AS last_ts FROM pv \
  WHERE hostile = 1)";

/// Replaces each `:name` placeholder with `?N` and binds the named values, so each statement
/// binds exactly the parameters it uses: the used names are numbered in the order of
/// `values` (so `:org`, listed first, is always `?1`). Placeholders inside string literals are
/// left alone. An unknown name binds NULL (the unit tests forbid it).
fn bind(sql: &str, values: &[(&str, SqlParam)]) -> Statement {
    // (byte range of the placeholder, name), in text order.
    let mut found: Vec<(usize, usize)> = Vec::new();
    let bytes = sql.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\'' {
            in_string = !in_string;
        }
        let starts_name = !in_string
            && c == b':'
            && bytes.get(i + 1).is_some_and(|b| b.is_ascii_lowercase())
            && (i == 0 || bytes[i - 1] != b':');
        if starts_name {
            let end = bytes[i + 1..]
                .iter()
                .position(|b| !(b.is_ascii_lowercase() || *b == b'_'))
                .map_or(bytes.len(), |p| i + 1 + p);
            found.push((i, end));
            i = end;
        } else {
            i += 1;
        }
    }
    let position = |name: &str| values.iter().position(|(k, _)| *k == name);
    let mut used: Vec<&str> = found.iter().map(|&(s, e)| &sql[s + 1..e]).collect();
    used.sort_by_key(|name| (position(name).unwrap_or(usize::MAX), *name));
    used.dedup();
    let params = used
        .iter()
        .map(|name| position(name).map_or(SqlParam::Null, |p| values[p].1.clone()))
        .collect();
    let mut out = String::with_capacity(sql.len());
    let mut last = 0;
    for &(s, e) in &found {
        let n = used.iter().position(|u| *u == &sql[s + 1..e]).unwrap_or(0) + 1;
        out.push_str(&sql[last..s]);
        out.push_str(&format!("?{n}"));
        last = e;
    }
    out.push_str(&sql[last..]);
    (out, params)
}

/// The fixed list of reads for `org` over `w` (see the module doc for each one's role).
pub fn statements(q: &DashboardQuery, w: &Window, org: &str) -> Vec<Statement> {
    let num = |v: i64| SqlParam::Number(v as f64);
    let (first_day, last_day) = w.days();
    let mut values = vec![
        ("org", SqlParam::Text(org.to_string())),
        ("start", num(w.start.0)),
        ("end", num(w.end.0)),
        ("last_hour", num(w.last_hour())),
        ("next_hour", num(w.last_hour() + HOUR_MS)),
        ("first_day", num(first_day)),
        ("last_day", num(last_day)),
    ];
    if let Some(s) = &q.service {
        values.push(("service", SqlParam::Text(s.clone())));
    }
    if let Some(n) = &q.namespace {
        values.push(("namespace", SqlParam::Text(n.clone())));
    }
    if let Some(ip) = &q.source_ip {
        values.push(("source_ip", SqlParam::Text(ip.clone())));
    }
    if let Some(u) = &q.user {
        values.push(("user", SqlParam::Text(u.clone())));
    }
    let sqls = [
        as_json(buckets_sql(q), &BUCKET_COLUMNS),
        as_json(flows_sql(q), &["service", "type", "n"]),
        as_json(
            sources_sql(q),
            &["source", "total", "service", "n", "proven"],
        ),
        as_json(attackers_sql(q), &ATTACKER_COLUMNS),
        as_json(logs_sql(q), &LOG_ITEM_COLUMNS),
        as_json(
            iam_sql(q),
            &["id", "ts", "user", "action", "resource", "service"],
        ),
        as_json(anomalies_sql(q), &ANOMALY_ROW_COLUMNS),
        as_json(anomaly_counts_sql(q), &["severity", "n"]),
    ];
    if q.pivoted() {
        // One statement, so the pivot's items are read once: a column per section.
        let columns: Vec<String> = sqls
            .iter()
            .enumerate()
            .map(|(i, sql)| format!("({sql}) AS s{i}"))
            .collect();
        let sql = format!(
            "WITH {}, {PIVOT_TABLES} SELECT {}",
            pivot_items(q),
            columns.join(", ")
        );
        return vec![bind(&sql, &values)];
    }
    sqls.iter().map(|sql| bind(sql, &values)).collect()
}

const BUCKET_COLUMNS: [&str; 7] = [
    "hour", "total", "critical", "warnings", "failed", "iam", "hostile",
];
const ATTACKER_COLUMNS: [&str; 9] = [
    "ip",
    "attackers",
    "proven",
    "attacks",
    "services",
    "last_ts",
    "geo",
    "worst",
    "blocked",
];
/// The columns of a log item the dashboard reads (the items hold more, see
/// `crate::logs::LOG_COLUMNS`).
const LOG_ITEM_COLUMNS: [&str; 16] = [
    "id",
    "ts",
    "type",
    "action",
    "level",
    "service",
    "namespace",
    "source_ip",
    "user",
    "hostname",
    "target_ip",
    "geo",
    "device",
    "vpn",
    "status_code",
    "event_id",
];
const ANOMALY_ROW_COLUMNS: [&str; 13] = [
    "id",
    "created_at",
    "severity",
    "alert_type",
    "title",
    "description",
    "actor_id",
    "source_ip",
    "status",
    "confidence",
    "evidence",
    "service",
    "namespace",
];

/// The statement's rows as one JSON array in one row (`rows`). Handing D1's result rows to the
/// Worker costs a JS→Rust conversion per field (about 2 µs each in workerd), 35 µs per log
/// item; one text value per statement costs one conversion and a fast parse. The array's order
/// is not relied on: the assembly sorts every list itself.
fn as_json(sql: String, columns: &[&str]) -> String {
    let fields: Vec<String> = columns.iter().map(|c| format!("'{c}', r.{c}")).collect();
    format!(
        "SELECT json_group_array(json_object({})) AS rows FROM ({sql}) AS r",
        fields.join(", ")
    )
}

/// Future-stamped items of the current hour: items to subtract.
fn future(q: &DashboardQuery) -> String {
    format!(
        "FROM {} WHERE org_id = :org AND ts > :end AND ts < :next_hour{}",
        items(q),
        filters(q, "")
    )
}

/// Rollup rows of the window's hours.
fn hourly(q: &DashboardQuery) -> String {
    format!(
        "FROM log_hourly WHERE org_id = :org AND hour >= :start AND hour <= :last_hour{}",
        filters(q, "")
    )
}

fn buckets_sql(q: &DashboardQuery) -> String {
    format!(
        "SELECT hour, sum(n) AS total, sum(critical) AS critical, sum(warnings) AS warnings, \
         sum(failed) AS failed, sum(iam) AS iam, sum(hostile) AS hostile FROM (\
         SELECT hour, n, critical, warnings, CASE WHEN type = 'login_failure' THEN n ELSE 0 END AS failed, \
         CASE WHEN type = 'iam_change' THEN n ELSE 0 END AS iam, hostile {hourly} \
         UNION ALL SELECT hour, -1, -(level IN ('critical', 'error')), -(level = 'warning'), \
         -(type = 'login_failure'), -(type = 'iam_change'), -hostile {future}) \
         GROUP BY hour ORDER BY hour",
        hourly = hourly(q),
        future = future(q),
    )
}

fn flows_sql(q: &DashboardQuery) -> String {
    format!(
        "SELECT service, type, sum(n) AS n FROM (SELECT service, type, n {hourly} \
         UNION ALL SELECT service, type, -1 {future}) \
         GROUP BY service, type HAVING sum(n) > 0 ORDER BY service, type",
        hourly = hourly(q),
        future = future(q),
    )
}

/// The threshold-algorithm preamble shared by sources and attackers: `days`, `combos`,
/// `cuts` (each a JSON object `{"k": [keys], "c": count, "m": min count}`), `cand` and
/// `bound`. `daily` is the daily rollup, `key` its key column.
fn cuts(q: &DashboardQuery, daily: &str, key: &str, hostile_only: bool) -> String {
    let hostile = if hostile_only { " AND hostile > 0" } else { "" };
    format!(
        "days(d) AS (SELECT :first_day UNION ALL SELECT d + {DAY_MS} FROM days WHERE d < :last_day), \
         combos AS (SELECT DISTINCT service, namespace {hourly}{hostile}), \
         cuts AS MATERIALIZED (SELECT (SELECT json_object('k', json_group_array(t.{key}), 'c', count(*), 'm', min(t.n)) \
           FROM (SELECT x.{key}, x.n FROM {daily} AS x WHERE x.org_id = :org AND x.day = days.d \
           AND x.service = combos.service AND x.namespace = combos.namespace \
           ORDER BY x.n DESC LIMIT {TOP_CUT}) AS t) AS cut FROM days, combos), \
         cand AS MATERIALIZED (SELECT DISTINCT j.value AS k FROM cuts, json_each(cuts.cut, '$.k') AS j), \
         bound AS MATERIALIZED (SELECT coalesce(sum(CASE WHEN cut ->> '$.c' < {TOP_CUT} THEN 0 \
           ELSE cut ->> '$.m' END), 0) AS b FROM cuts)",
        hourly = hourly(q),
    )
}

/// `proven`: whether the candidates' top 10 (`ranked`, by `total`) is the true top 10.
const PROVEN: &str = "proven AS MATERIALIZED (SELECT CASE WHEN (SELECT count(*) FROM ranked) < 10 \
THEN (SELECT b FROM bound) = 0 ELSE (SELECT min(total) FROM ranked) > (SELECT b FROM bound) END AS ok)";

/// The hour range of a fallback pass: empty once the candidates are proven.
const FALLBACK_HOURS: &str =
    "hour >= :start AND hour <= (SELECT CASE WHEN ok THEN :start - 1 ELSE :last_hour END FROM proven)";

/// Rows `(source, total, service, n, proven)`: the top 10 sources by item count (ties by
/// source), each with its per-service counts (> 0), biggest source first. Unfiltered, the
/// ranking reads the narrow `log_source_hours` (one row per hour and source) for the folded
/// hours and `log_source_hourly` for the rest; with a filter, `log_source_hourly`, which has the
/// service and namespace. The links of the 10 winners always come from `log_source_hourly`.
fn sources_sql(q: &DashboardQuery) -> String {
    let f = filters(q, "");
    let totals = |range: &str, cand: bool| {
        let only_cand = if cand {
            " AND source IN (SELECT k FROM cand)"
        } else {
            ""
        };
        // The candidates' rows by source (the planner, seeing a second bound on the hour, may
        // otherwise read the window by hour); the fallback's window by hour.
        let narrow = if cand {
            "log_source_hours INDEXED BY log_source_hours_by_source"
        } else {
            "log_source_hours"
        };
        let sums = if has_filters(q) {
            format!(
                "SELECT source, sum(n) AS n FROM log_source_hourly WHERE org_id = :org{only_cand} \
                 AND {range}{f} GROUP BY source"
            )
        } else {
            format!(
                "SELECT source, sum(n) AS n FROM (SELECT source, n FROM {narrow} \
                 WHERE org_id = :org{only_cand} AND {range} AND hour < {FOLDED} \
                 UNION ALL SELECT source, n FROM log_source_hourly WHERE org_id = :org{only_cand} \
                 AND {range} AND hour >= {FOLDED}) GROUP BY source"
            )
        };
        format!(
            "SELECT h.source, h.n - coalesce((SELECT sum(f.n) FROM fut AS f WHERE f.source = h.source), 0) AS total \
             FROM ({sums}) AS h"
        )
    };
    let rank = |from: &str| {
        format!(
            "SELECT source, total FROM {from} WHERE total > 0 ORDER BY total DESC, source LIMIT 10"
        )
    };
    format!(
        "WITH RECURSIVE {cuts}, \
         fut AS MATERIALIZED (SELECT coalesce(source_ip, 'unknown') AS source, service, count(*) AS n \
           {future} GROUP BY 1, 2), \
         exact AS MATERIALIZED ({exact}), \
         ranked AS MATERIALIZED ({ranked}), \
         {PROVEN}, \
         full AS MATERIALIZED ({full}), \
         full_ranked AS MATERIALIZED ({full_ranked}), \
         top AS MATERIALIZED (SELECT source, total FROM ranked WHERE (SELECT ok FROM proven) \
           UNION ALL SELECT source, total FROM full_ranked), \
         links AS MATERIALIZED (SELECT h.source, h.service, h.n - coalesce(f.n, 0) AS n FROM (\
           SELECT source, service, sum(n) AS n FROM log_source_hourly WHERE org_id = :org \
           AND source IN (SELECT source FROM top) AND hour >= :start AND hour <= :last_hour{f} \
           GROUP BY source, service) AS h \
           LEFT JOIN fut AS f ON f.source = h.source AND f.service = h.service) \
         SELECT top.source, top.total, links.service, links.n, (SELECT ok FROM proven) AS proven \
         FROM top JOIN links ON links.source = top.source WHERE links.n > 0 \
         ORDER BY top.total DESC, top.source, links.service",
        cuts = cuts(q, "log_source_daily", "source", false),
        future = future(q),
        exact = totals("hour >= :start AND hour <= :last_hour", true),
        ranked = rank("exact"),
        full = totals(FALLBACK_HOURS, false),
        full_ranked = rank("full"),
    )
}

/// One row with `ip` NULL carrying `attackers` (stats.attackSources) and `proven`, then one
/// row per top-10 attacker: `ip, attacks, services, last_ts, geo, worst, blocked`.
/// Unfiltered, the ranking and the count read the narrow `log_attack_hours` and
/// `log_attacker_ips`; with a filter, `log_attack_hourly` and `log_attackers`, which have the
/// service and namespace. The winners' services and country come from `log_attack_hourly`.
fn attackers_sql(q: &DashboardQuery) -> String {
    let filtered = has_filters(q);
    let f = filters(q, "");
    let fl = trigger_filters(q);
    let (hours_table, keys_table) = if filtered {
        ("log_attack_hourly", "log_attackers")
    } else {
        ("log_attack_hours", "log_attacker_ips")
    };
    // When some hostile item of the current hour is stamped after `end` (`skew`), that hour's
    // rollup rows may describe it (their last_ts, their geo), so the hour's latest items are
    // read from the items instead (`cur`: one pass over the hour, empty otherwise).
    let not_skewed = "(hour < :last_hour OR NOT (SELECT skewed FROM skew))";
    let totals = |range: &str, cand: bool| {
        let only_cand = if cand {
            " AND source_ip IN (SELECT k FROM cand)"
        } else {
            ""
        };
        format!(
            "SELECT h.ip, h.n - coalesce((SELECT sum(f.n) FROM fut AS f WHERE f.ip = h.ip), 0) AS total, \
             max(coalesce(h.last_ts, 0), coalesce((SELECT max(c.last_ts) FROM cur AS c WHERE c.ip = h.ip), 0)) AS last_ts \
             FROM (SELECT source_ip AS ip, sum(n) AS n, max(CASE WHEN {not_skewed} THEN last_ts END) AS last_ts \
             FROM {hours_table} WHERE org_id = :org{only_cand} AND {range}{f} GROUP BY source_ip) AS h"
        )
    };
    let rank = |from: &str| {
        format!(
            "SELECT ip, total, last_ts FROM {from} WHERE total > 0 \
             ORDER BY total DESC, last_ts DESC, ip LIMIT 10"
        )
    };
    let anomalies = if filtered {
        format!("FROM alerts AS a {TRIGGER_ITEM}")
    } else {
        "FROM alerts AS a".to_string()
    };
    // A key whose latest hostile item is after `end` counts only if it also has one inside.
    let inside = if filtered {
        format!(
            "(SELECT coalesce(sum(a.n), 0) FROM log_attack_hourly AS a WHERE a.org_id = :org \
             AND a.source_ip = k.source_ip AND a.hour >= :start AND a.hour <= :last_hour \
             AND a.service = k.service AND a.namespace = k.namespace) \
             > (SELECT count(*) FROM {} AS i WHERE i.org_id = :org AND i.ts > :end AND i.ts < :next_hour \
             AND i.source_ip = k.source_ip AND i.service = k.service AND i.namespace = k.namespace AND i.hostile = 1)",
            items(q)
        )
    } else {
        format!(
            "(SELECT coalesce(sum(a.n), 0) FROM log_attack_hours AS a WHERE a.org_id = :org \
             AND a.source_ip = k.source_ip AND a.hour >= :start AND a.hour <= :last_hour) \
             > (SELECT count(*) FROM {ITEMS} AS i WHERE i.org_id = :org AND i.ts > :end AND i.ts < :next_hour \
             AND i.source_ip = k.source_ip AND i.hostile = 1)"
        )
    };
    format!(
        "WITH RECURSIVE {cuts}, \
         fut AS MATERIALIZED (SELECT source_ip AS ip, service, count(*) AS n {future} AND hostile = 1 \
           GROUP BY 1, 2), \
         skew AS MATERIALIZED (SELECT EXISTS (SELECT 1 FROM fut) AS skewed), \
         cur AS MATERIALIZED (SELECT source_ip AS ip, service, max(ts) AS last_ts, \
           max(CASE WHEN geo IS NOT NULL THEN printf('%015d', ts) || geo END) AS geo FROM {items} \
           WHERE org_id = :org AND ts >= :last_hour \
           AND ts <= (SELECT CASE WHEN skewed THEN :end ELSE :last_hour - 1 END FROM skew) \
           AND hostile = 1{f} GROUP BY 1, 2), \
         exact AS MATERIALIZED ({exact}), \
         ranked AS MATERIALIZED ({ranked}), \
         {PROVEN}, \
         full AS MATERIALIZED ({full}), \
         full_ranked AS MATERIALIZED ({full_ranked}), \
         top AS MATERIALIZED (SELECT * FROM ranked WHERE (SELECT ok FROM proven) \
           UNION ALL SELECT * FROM full_ranked), \
         details AS MATERIALIZED (SELECT w.ip, sum(w.n > 0) AS services, \
           nullif(substr(max(w.geo), 16), '') AS geo FROM (\
           SELECT a.ip, a.service, a.n - coalesce(f.n, 0) AS n, \
             max(coalesce(a.geo, ''), coalesce(c.geo, '')) AS geo FROM (\
             SELECT source_ip AS ip, service, sum(n) AS n, \
               max(CASE WHEN geo_ts IS NOT NULL AND {not_skewed} THEN printf('%015d', geo_ts) || geo END) AS geo \
             FROM log_attack_hourly WHERE org_id = :org AND source_ip IN (SELECT ip FROM top) \
             AND hour >= :start AND hour <= :last_hour{f} GROUP BY source_ip, service) AS a \
           LEFT JOIN fut AS f ON f.ip = a.ip AND f.service = a.service \
           LEFT JOIN cur AS c ON c.ip = a.ip AND c.service = a.service) AS w GROUP BY w.ip), \
         worst AS MATERIALIZED (SELECT a.source_ip AS ip, max(CASE a.severity WHEN 'critical' THEN 4 \
           WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END) AS r {anomalies} \
           WHERE {alert_window} AND a.source_ip IN (SELECT ip FROM top){fl} GROUP BY a.source_ip), \
         blocked AS MATERIALIZED (SELECT DISTINCT b.ip FROM (\
           SELECT trim(user_ip) AS ip FROM events INDEXED BY events_org_name_created WHERE org_id = :org \
             AND event_name = 'security.ip_blocked' AND {NAMED_CONDITION} AND created_at >= :start AND created_at <= :end \
           UNION ALL SELECT trim(json_extract(metadata, '$.ip')) FROM events INDEXED BY events_org_name_created \
             WHERE org_id = :org AND event_name = 'security.ip_blocked' AND {NAMED_CONDITION} \
             AND created_at >= :start AND created_at <= :end) AS b \
           WHERE b.ip IN (SELECT ip FROM top)), \
         attackers AS (SELECT count(DISTINCT k.source_ip) AS n FROM {keys_table} AS k \
           WHERE k.org_id = :org AND k.last_ts >= :start{fk} AND (k.last_ts <= :end OR {inside})) \
         SELECT NULL AS ip, (SELECT n FROM attackers) AS attackers, (SELECT ok FROM proven) AS proven, \
           NULL AS attacks, NULL AS services, NULL AS last_ts, NULL AS geo, NULL AS worst, NULL AS blocked \
         UNION ALL SELECT top.ip, NULL, NULL, top.total, details.services, top.last_ts, details.geo, \
           worst.r, EXISTS (SELECT 1 FROM blocked WHERE blocked.ip = top.ip) \
         FROM top LEFT JOIN details ON details.ip = top.ip LEFT JOIN worst ON worst.ip = top.ip",
        cuts = cuts(q, "log_attack_daily", "source_ip", true),
        future = future(q),
        exact = totals("hour >= :start AND hour <= :last_hour", true),
        ranked = rank("exact"),
        full = totals(FALLBACK_HOURS, false),
        full_ranked = rank("full"),
        fk = filters(q, "k."),
        alert_window = alert_window(q),
        items = items(q),
    )
}

/// `sql` (a statement over the window newest first, `ORDER BY ts DESC, id DESC` without a limit)
/// filtered by the query's service and namespace, its first `limit` rows. Unfiltered, the limit
/// goes inside, where each table's newest-first scan stops at it. Filtered, the filter stays
/// outside the merged scan (a subquery with a `LIMIT` keeps SQLite from pushing it into the two
/// tables' arms): pushed in, the arm of the table with no match for the filter (raw lines of a
/// service that sends no events, or the other way round) would walk its whole window before the
/// merge could answer its first row; outside, the merged scan walks newest first until it has
/// `limit` matches, as one table's scan did.
fn newest(q: &DashboardQuery, columns: &str, sql: String, limit: u32) -> String {
    if has_filters(q) {
        format!(
            "SELECT {columns} FROM ({sql} LIMIT -1) AS r WHERE true{} LIMIT {limit}",
            filters(q, "")
        )
    } else {
        format!("{sql} LIMIT {limit}")
    }
}

/// The newest items of the window: the view merges the newest-first scans of `logs_org_ts` and
/// `events_org_created`, stopping at the limit. Filtered, the merged scan carries only what the
/// filter and the order need, and the chosen items are then read by row id from their table: a
/// filtered list may pass over thousands of other items, and each column carried through the
/// merge costs on every one of them ([`newest`] says why the filter stays outside the merge).
fn logs_sql(q: &DashboardQuery) -> String {
    let columns = LOG_ITEM_COLUMNS.join(", ");
    let window = "org_id = :org AND ts >= :start AND ts <= :end";
    if q.pivoted() {
        return format!(
            "SELECT {columns} FROM pv WHERE {window}{} ORDER BY ts DESC, id DESC LIMIT {}",
            filters(q, ""),
            q.log_limit
        );
    }
    if !has_filters(q) {
        return format!(
            "SELECT {columns} FROM {ITEMS} WHERE {window} ORDER BY ts DESC, id DESC LIMIT {}",
            q.log_limit
        );
    }
    let pick = newest(
        q,
        "id, event_id IS NOT NULL AS ev",
        format!(
            "SELECT id, ts, event_id, service, namespace FROM {ITEMS} WHERE {window} \
             ORDER BY ts DESC, id DESC"
        ),
        q.log_limit,
    );
    let event_columns: Vec<String> = LOG_ITEM_COLUMNS
        .iter()
        .map(|c| format!("{} AS {c}", event_column(c, "")))
        .collect();
    format!(
        "WITH pick AS MATERIALIZED ({pick}) \
         SELECT {columns} FROM logs WHERE id IN (SELECT id FROM pick WHERE NOT ev) \
         UNION ALL SELECT {} FROM events WHERE rowid IN (SELECT id FROM pick WHERE ev)",
        event_columns.join(", ")
    )
}

/// IAM changes, newest first, through the partial indexes that hold only `iam_change` items:
/// `logs_iam_ts` (raw lines) and `events_iam` (events). SQLite uses one only when the query
/// repeats its `WHERE` literally; each gives its arm in `ts DESC, id DESC` order (the row id
/// ends every index entry), so the two merge up to the limit.
fn iam_sql(q: &DashboardQuery) -> String {
    if q.pivoted() {
        return format!(
            "SELECT id, ts, user, action, resource, service FROM pv WHERE org_id = :org \
             AND type = 'iam_change' AND ts >= :start AND ts <= :end{} ORDER BY ts DESC, id DESC LIMIT {}",
            filters(q, ""),
            q.iam_limit
        );
    }
    let e = |c: &str| event_column(c, "");
    newest(
        q,
        "id, ts, user, action, resource, service",
        format!(
            "SELECT id, ts, user, action, resource, service, namespace FROM logs INDEXED BY logs_iam_ts \
             WHERE org_id = :org AND type = 'iam_change' AND ts >= :start AND ts <= :end \
             UNION ALL SELECT {} AS id, {} AS ts, {} AS user, {} AS action, {} AS resource, {} AS service, \
             {} AS namespace FROM events INDEXED BY events_iam \
             WHERE org_id = :org AND item_type = 'iam_change' AND created_at >= :start AND created_at <= :end \
             ORDER BY ts DESC, id DESC",
            e("id"),
            e("ts"),
            e("user"),
            e("action"),
            e("resource"),
            e("service"),
            e("namespace"),
        ),
        q.iam_limit,
    )
}

/// The alerts of the window: those whose activity (`created_at`) or whose raising (`raised_at`,
/// migrations/0028_alerts_raised_at.sql) falls in it, so a late log line's alert reaches the
/// recent views; each side is a range of its own index. Suppressed alerts (docs/api.md §12.2)
/// are not threats the dashboard shows or counts; `anomaly_status` keeps only the statuses
/// asked for, and a pivot the alerts naming its address or user.
fn alert_window(q: &DashboardQuery) -> String {
    let mut pivot = String::new();
    if q.source_ip.is_some() {
        pivot.push_str(" AND a.source_ip = :source_ip");
    }
    if q.user.is_some() {
        pivot.push_str(" AND a.actor_id = :user");
    }
    format!(
        "a.org_id = :org AND ((a.created_at >= :start AND a.created_at <= :end) \
         OR (a.raised_at >= :start AND a.raised_at <= :end)) AND a.suppressed_by IS NULL{}{pivot}",
        q.anomaly_status.condition()
    )
}

/// An anomaly's columns: the alert's, and its trigger item's service and namespace.
fn anomaly_columns() -> String {
    format!(
        "a.id, a.created_at, a.severity, a.alert_type, a.title, a.description, a.actor_id, \
         a.source_ip, a.status, json_extract(a.metadata, '$.confidence') AS confidence, \
         json_extract(a.metadata, '$.evidence') AS evidence, {TRIGGER_SERVICE} AS service, \
         {TRIGGER_NAMESPACE} AS namespace"
    )
}

/// Unfiltered, the limit is applied before the trigger items are looked up (at most
/// `anomaly_limit` lookups); filtered, the lookup decides which alerts count, so it comes first.
fn anomalies_sql(q: &DashboardQuery) -> String {
    let window = alert_window(q);
    let order = format!("{RANK_ORDER}, a.created_at DESC, a.id DESC");
    let limit = q.anomaly_limit;
    if has_filters(q) {
        format!(
            "SELECT {} FROM alerts AS a {TRIGGER_ITEM} WHERE {window}{} \
             ORDER BY {order} LIMIT {limit}",
            anomaly_columns(),
            trigger_filters(q)
        )
    } else {
        format!(
            "SELECT {} FROM (SELECT * FROM alerts AS a WHERE {window} \
             ORDER BY {order} LIMIT {limit}) AS a {TRIGGER_ITEM} ORDER BY {order}",
            anomaly_columns()
        )
    }
}

fn anomaly_counts_sql(q: &DashboardQuery) -> String {
    let window = alert_window(q);
    if has_filters(q) {
        format!(
            "SELECT a.severity, count(*) AS n FROM alerts AS a {TRIGGER_ITEM} WHERE {window}{} \
             GROUP BY a.severity",
            trigger_filters(q)
        )
    } else {
        format!(
            "SELECT a.severity, count(*) AS n FROM alerts AS a WHERE {window} GROUP BY a.severity"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::sql::max_placeholder;
    use crate::time::UnixMs;

    fn query(service: Option<&str>, namespace: Option<&str>) -> DashboardQuery {
        DashboardQuery {
            service: service.map(str::to_string),
            namespace: namespace.map(str::to_string),
            ..DashboardQuery::default()
        }
    }

    fn window() -> Window {
        // 2026-01-30T09:15:00.123Z, Pro retention.
        Window::new(
            24,
            UnixMs(1_769_764_500_123),
            UnixMs(1_769_764_500_123 - 30 * DAY_MS),
        )
    }

    #[test]
    fn named_placeholders_become_numbered_in_the_order_of_the_values() {
        let (sql, params) = bind(
            "SELECT ':not_me', :b, :a, :b FROM t WHERE x = :a",
            &[
                ("a", SqlParam::Number(1.0)),
                ("b", SqlParam::Text("two".into())),
                ("unused", SqlParam::Null),
            ],
        );
        assert_eq!(sql, "SELECT ':not_me', ?2, ?1, ?2 FROM t WHERE x = ?1");
        assert_eq!(
            params,
            vec![SqlParam::Number(1.0), SqlParam::Text("two".into())]
        );
    }

    #[test]
    fn every_statement_is_org_and_window_scoped_and_binds_exactly_what_it_uses() {
        for (s, n) in [
            (None, None),
            (Some("auth-service"), None),
            (None, Some("prod")),
            (Some("auth-service"), Some("prod")),
        ] {
            let q = query(s, n);
            let stmts = statements(&q, &window(), "org_a");
            assert_eq!(stmts.len(), STATEMENT_COUNT);
            for (i, (sql, params)) in stmts.iter().enumerate() {
                assert_eq!(max_placeholder(sql), params.len(), "statement {i}: {sql}");
                assert!(params.len() <= 100, "D1's parameter limit");
                assert!(
                    !params.contains(&SqlParam::Null),
                    "unknown name in {i}: {sql}"
                );
                assert!(!sql.contains(" :"), "unreplaced placeholder in {i}: {sql}");
                assert_eq!(params[0], SqlParam::Text("org_a".into()), "{i} org first");
                assert!(sql.contains("org_id = ?1"), "{i} org-scoped: {sql}");
                assert!(
                    params.contains(&SqlParam::Number(window().start.0 as f64)),
                    "{i} window-scoped"
                );
                for (name, value) in [("service", s), ("namespace", n)] {
                    if let Some(v) = value {
                        let at = params.iter().position(|p| *p == SqlParam::Text(v.into()));
                        let at = at.unwrap_or_else(|| panic!("{i} filters on {name}: {sql}")) + 1;
                        assert!(sql.contains(&format!(" = ?{at}")), "{i}: {sql}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_pivot_is_one_statement_over_its_own_items() {
        let q = DashboardQuery {
            source_ip: Some("203.0.113.7".into()),
            user: Some("alice".into()),
            service: Some("web".into()),
            ..DashboardQuery::default()
        };
        let stmts = statements(&q, &window(), "org_a");
        assert_eq!(stmts.len(), 1, "the pivot's items are read once");
        let (sql, params) = &stmts[0];
        assert_eq!(max_placeholder(sql), params.len());
        assert!(!params.contains(&SqlParam::Null), "{sql}");
        assert_eq!(params[0], SqlParam::Text("org_a".into()));
        for v in ["203.0.113.7", "alice", "web"] {
            assert!(params.contains(&SqlParam::Text(v.into())), "binds {v}");
        }
        assert!(sql.starts_with("WITH pv AS MATERIALIZED"), "{sql}");
        assert!(
            sql.len() < 100_000,
            "D1's statement length limit: {}",
            sql.len()
        );
        for index in [
            "logs INDEXED BY logs_org_ts",
            "events INDEXED BY events_org_created",
        ] {
            assert_eq!(sql.matches(index).count(), 1, "{index}");
        }
        for i in 0..STATEMENT_COUNT {
            assert!(sql.contains(&format!(") AS s{i}")), "section {i}");
        }
        // Outside the pivot's items, only alerts and blocked addresses are read.
        assert!(!sql.contains("FROM items"), "{sql}");
        assert!(sql.contains("a.source_ip = ?") && sql.contains("a.actor_id = ?"));
    }

    #[test]
    fn only_the_three_lists_read_raw_rows_with_a_limit() {
        let q = DashboardQuery {
            log_limit: 7,
            iam_limit: 0,
            anomaly_limit: 3,
            ..DashboardQuery::default()
        };
        let stmts = statements(&q, &window(), "o");
        assert!(stmts[LOGS]
            .0
            .ends_with("ORDER BY ts DESC, id DESC LIMIT 7) AS r"));
        assert!(stmts[IAM].0.ends_with("LIMIT 0) AS r"));
        assert!(stmts[ANOMALIES].0.contains("LIMIT 3"));
        for (sql, _) in &stmts {
            assert!(
                sql.starts_with("SELECT json_group_array(json_object("),
                "one JSON array per statement: {sql}"
            );
        }
        for i in [BUCKETS, FLOWS] {
            assert!(stmts[i].0.contains("FROM log_hourly"), "{i}");
        }
        assert!(stmts[SOURCES].0.contains("FROM log_source_daily"));
        assert!(stmts[ATTACKERS].0.contains("FROM log_attack_daily"));
        // Item reads in the aggregates are only the current hour's future-stamped items
        // (bounded by :end and :next_hour) and the trigger-item lookups.
        for i in [BUCKETS, FLOWS, SOURCES] {
            assert!(!stmts[i].0.contains("FROM logs"), "{i}");
            let parts: Vec<&str> = stmts[i].0.split("FROM items ").skip(1).collect();
            assert!(!parts.is_empty(), "{i}");
            for part in parts {
                assert!(part.contains("ts > ?"), "{i}: {part}");
            }
        }
    }

    #[test]
    fn the_window_parameters() {
        let w = window();
        let stmts = statements(&DashboardQuery::default(), &w, "o");
        let (sql, params) = &stmts[BUCKETS];
        assert!(sql.contains("hour >= ?2 AND hour <= ?4"), "{sql}");
        assert_eq!(params[1], SqlParam::Number(1_769_677_200_000.0)); // 2026-01-29T09:00Z
        assert_eq!(params[2], SqlParam::Number(1_769_764_500_000.0)); // end, to the second
        assert_eq!(params[3], SqlParam::Number(1_769_763_600_000.0)); // 09:00Z today
        assert_eq!(params[4], SqlParam::Number(1_769_767_200_000.0)); // 10:00Z
        let (days, params) = &stmts[SOURCES];
        assert!(days.contains(&format!("LIMIT {TOP_CUT}")));
        assert!(params.contains(&SqlParam::Number(1_769_644_800_000.0))); // 2026-01-29
        assert!(params.contains(&SqlParam::Number(1_769_731_200_000.0))); // 2026-01-30
    }
}
