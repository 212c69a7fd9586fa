//! One SQL statement per [`Part`], answering many reads at once. The reads travel as one
//! JSON parameter, `[[group, org, key, since, until], …]`, and each answers with one row,
//! `{g, rows}`, whose `rows` is a JSON array text: one JS→Rust value per read instead of one
//! per column of every row. Each read is a range scan of one key, on an index named with
//! `INDEXED BY`: without statistics the planner may otherwise pick `(org_id, created_at)`, which
//! matches the ORDER BY but walks the whole organisation. The reads of one kind of row (failed
//! logins, rate-limit events, successful logins) use partial indexes that hold only that kind
//! (`migrations/0016_lean_indexes.sql`); SQLite uses one only when the query repeats the index's
//! `WHERE` term literally, so each read writes its kind as a literal, and `INDEXED BY` makes a
//! statement fail rather than walk the table should the two ever differ.

use super::Part;
use crate::api::sql::{SqlParam, Statement};
use crate::logs::items::{event_column, event_ip_key, event_key_equals, event_user_key};
use crate::time::UnixMs;

/// One read: `part` for `key` (an IP or an actor id) of `org`, in `[since, until]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub part: Part,
    pub org: String,
    pub key: String,
    pub since: UnixMs,
    pub until: UnixMs,
    /// The id of the newest event the read is for (at `until`): sightings stop at it, so rows
    /// stamped the same millisecond but ordered after it take no room in the per-value bound.
    pub until_id: String,
}

/// The reads as a CTE `g(gid, org, k, since, until, until_id)`.
const GROUPS: &str = "WITH g AS (SELECT json_extract(value, '$[0]') AS gid, json_extract(value, '$[1]') AS org, \
    json_extract(value, '$[2]') AS k, json_extract(value, '$[3]') AS since, json_extract(value, '$[4]') AS until, \
    json_extract(value, '$[5]') AS until_id FROM json_each(?1))";

/// Failed logins from the dashboard log items, which hold both `auth.login_failed` events and
/// raw `login_failure` lines (docs/api.md §10.2: brute force counts both), as
/// `[id, at, peer]`. Ids are the items' ids: the event UUID, or `<row id>-<unix seconds>` for a
/// line; `peer` is the item's `peer` (the user when keyed by IP, the IP when keyed by user).
/// Newest first (ties by item id). Raw lines and events are read apart, each on its partial
/// index of failed logins (migrations/0016_lean_indexes.sql, 0019_events_stored_once.sql), the
/// newest `limit` of each, and merged.
fn failed_logins(by: FailedKey, limit: usize) -> String {
    let (column, peer, logs_index, events_index, key) = match by {
        FailedKey::Ip => (
            "source_ip",
            "user",
            "logs_login_failure_ip",
            "events_login_failure_ip",
            event_ip_key(""),
        ),
        FailedKey::User => (
            "user",
            "source_ip",
            "logs_login_failure_user",
            "events_login_failure_user",
            event_user_key(""),
        ),
    };
    format!(
        "SELECT json_group_array(json_array(event_id, at, peer)) FROM (SELECT * FROM (SELECT coalesce(event_id, \
         id || '-' || (ts / 1000)) AS event_id, ts AS at, id AS rid, {peer} AS peer FROM logs INDEXED BY {logs_index} \
         WHERE org_id = g.org AND type = 'login_failure' AND {column} = g.k AND ts >= g.since AND ts <= g.until \
         ORDER BY ts DESC, id DESC LIMIT {limit}) UNION ALL SELECT * FROM (SELECT id AS event_id, created_at AS at, \
         rowid AS rid, {epeer} AS peer FROM events INDEXED BY {events_index} WHERE org_id = g.org \
         AND item_type = 'login_failure' AND {ekey} AND created_at >= g.since AND created_at <= g.until \
         ORDER BY created_at DESC, rowid DESC LIMIT {limit}) ORDER BY at DESC, rid DESC LIMIT {limit})",
        epeer = event_column(peer, ""),
        ekey = event_key_equals(&key, "g.k"),
    )
}

/// The key of a read of failed logins.
#[derive(Clone, Copy)]
enum FailedKey {
    Ip,
    User,
}

/// Events of one name for an IP or an actor as `[id, at, peer]`, newest first.
fn occurrences(column: &str, peer: &str, index: &str, name: &str, limit: usize) -> String {
    format!(
        "SELECT json_group_array(json_array(id, created_at, {peer})) FROM (SELECT id, created_at, {peer} FROM events \
         INDEXED BY {index} WHERE org_id = g.org AND {column} = g.k AND event_name = '{name}' AND created_at >= g.since \
         AND created_at <= g.until ORDER BY created_at DESC LIMIT {limit})"
    )
}

/// The successful login lines of user `g.k` between `from` and `g.until` (both SQL) that a
/// format parser read, on their partial index (migrations/0027_log_logins.sql): the identity
/// reads below take them with the actor's events, a line's user being the actor
/// (docs/dashboard.md §7.4).
fn login_lines(from: &str) -> String {
    format!(
        "FROM logs INDEXED BY logs_login_success_user WHERE org_id = g.org AND type = 'login_success' \
         AND parser IS NOT NULL AND user IS NOT NULL AND user = g.k AND ts >= {from} AND ts <= g.until"
    )
}

/// A line's item id (`crate::logs::item_id`) in SQL.
const LINE_ID: &str = "id || '-' || (ts / 1000)";

/// The actor's successful logins, newest first, as objects (see `LoginRow`): among the actor's
/// events (an actor has few), filtered by name, and its login lines, the newest `limit` of each,
/// merged. A line knows its place, ASN and network flags (Pro and above), not its time zone or
/// its network's name.
fn logins(limit: usize) -> String {
    format!(
        "SELECT json_group_array(json_object('id', id, 'event_name', event_name, 'actor_id', actor_id, \
         'user_ip', user_ip, 'created_at', created_at, 'latitude', latitude, 'longitude', longitude, \
         'country_code', country_code, 'city', city, 'timezone', timezone, 'asn', asn, 'asn_org', asn_org, \
         'is_vpn', is_vpn, 'is_tor', is_tor, 'is_proxy', is_proxy, 'is_datacenter', is_datacenter, \
         'metadata', metadata)) FROM (SELECT * FROM (SELECT id, event_name, actor_id, user_ip, created_at, \
         latitude, longitude, country_code, city, json_extract(forensics, '$.location.timezone') AS timezone, \
         json_extract(forensics, '$.network.asn') AS asn, json_extract(forensics, '$.network.asn_org') AS asn_org, \
         is_vpn, is_tor, is_proxy, is_datacenter, metadata FROM events INDEXED BY events_org_actor_created \
         WHERE org_id = g.org AND actor_id = g.k AND event_name = '{name}' AND created_at >= g.since \
         AND created_at <= g.until ORDER BY created_at DESC, id DESC LIMIT {limit}) UNION ALL SELECT * FROM \
         (SELECT {LINE_ID}, '{name}', user, source_ip, ts, latitude, longitude, geo, city, NULL, asn, NULL, \
         vpn, is_tor, is_proxy, is_datacenter, json_object('user_agent', device) {lines} \
         ORDER BY ts DESC, id DESC LIMIT {limit}) \
         ORDER BY created_at DESC, id DESC LIMIT {limit})",
        name = crate::detect::SUCCESSFUL_LOGIN_NAME,
        lines = login_lines("g.since"),
    )
}

/// For each value among the actor's events and login lines up to the read's newest event (in
/// `created_at, id` order), its `per_value` newest sightings `[value, at, id]`, newest first;
/// `limit` rows in all. `expr` is the value of an event, `line_expr` of a line.
fn sightings(expr: &str, line_expr: &str, per_value: usize, limit: usize) -> String {
    format!(
        "SELECT json_group_array(json_array(value, at, id)) FROM (SELECT value, created_at AS at, id, \
         row_number() OVER (PARTITION BY value ORDER BY created_at DESC, id DESC) AS rn FROM \
         (SELECT {expr} AS value, created_at, id FROM events INDEXED BY events_org_actor_created WHERE org_id = g.org AND actor_id = g.k \
         AND created_at >= g.since AND created_at <= g.until UNION ALL SELECT {line_expr}, ts, {LINE_ID} {lines}) \
         WHERE value IS NOT NULL AND (created_at < g.until OR id <= g.until_id)) \
         WHERE rn <= {per_value} LIMIT {limit}",
        lines = login_lines("g.since"),
    )
}

/// The actor's two earliest events or login lines up to `until`: enough to tell, for any event
/// of the read, whether another came no later than it.
fn earliest_two() -> String {
    format!(
        "SELECT json_group_array(json_array(id, created_at)) FROM (SELECT * FROM (SELECT id, created_at \
         FROM events INDEXED BY events_org_actor_created WHERE org_id = g.org AND actor_id = g.k AND created_at <= g.until \
         ORDER BY created_at, id LIMIT 2) UNION ALL SELECT * FROM (SELECT {LINE_ID}, ts {lines} ORDER BY ts, id LIMIT 2) \
         ORDER BY created_at, id LIMIT 2)",
        lines = login_lines("-9223372036854775808"),
    )
}

/// The device of an event: `metadata.device_id`, else `metadata.user_agent`.
pub const DEVICE_EXPR: &str =
    "coalesce(json_extract(metadata, '$.device_id'), json_extract(metadata, '$.user_agent'))";

/// The statement answering `reads` (all of one `part`; `ids[i]` is the group id of `reads[i]`).
/// `limit` bounds the rows of each read (for sightings: per value; see [`Part::limit`]).
pub fn statement(part: Part, reads: &[(usize, &Read)], limit: usize) -> Statement {
    use crate::detect::RATE_LIMIT_NAME;
    let inner = match part {
        Part::IpFailedLogins => failed_logins(FailedKey::Ip, limit),
        Part::ActorFailedLogins => failed_logins(FailedKey::User, limit),
        Part::IpRateLimits => occurrences(
            "user_ip",
            "actor_id",
            "events_rate_limit_ip",
            RATE_LIMIT_NAME,
            limit,
        ),
        Part::ActorRateLimits => occurrences(
            "actor_id",
            "user_ip",
            "events_rate_limit_actor",
            RATE_LIMIT_NAME,
            limit,
        ),
        Part::ActorLogins => logins(limit),
        Part::ActorCountries => sightings(
            "upper(country_code)",
            "upper(geo)",
            limit,
            super::MAX_SIGHTING_ROWS,
        ),
        Part::ActorDevices => sightings(DEVICE_EXPR, "device", limit, super::MAX_SIGHTING_ROWS),
        Part::ActorPrior => earliest_two(),
    };
    let groups: Vec<serde_json::Value> = reads
        .iter()
        .map(|(gid, r)| serde_json::json!([gid, r.org, r.key, r.since.0, r.until.0, r.until_id]))
        .collect();
    (
        format!("{GROUPS} SELECT gid AS g, ({inner}) AS rows FROM g"),
        vec![SqlParam::Text(serde_json::Value::Array(groups).to_string())],
    )
}
