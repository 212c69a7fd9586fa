//! The stored event: a validated event plus everything the server assigns. It is the queue
//! message body and, through `json_each`, the D1 row, so one serde shape serves both.

use crate::access::ids::{EventId, OrgId};
use crate::api::sql::{SqlParam, Statement, EVENT_COLUMNS, MAX_BOUND_JSON_BYTES};
use crate::ingest::catalogue::{lookup, Severity};
use crate::ingest::NewEvent;
use crate::time::UnixMs;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Location and network intelligence for an event; every field unknown (`None`) by default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    pub country_code: Option<String>,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub is_vpn: Option<bool>,
    pub is_tor: Option<bool>,
    pub is_proxy: Option<bool>,
    pub is_datacenter: Option<bool>,
    pub threat_score: Option<u8>,
    /// `{network, location}` as the API returns it.
    pub forensics: Option<Value>,
}

/// One event as queued and stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub id: EventId,
    pub org_id: OrgId,
    pub event_name: String,
    pub category: String,
    pub severity: Severity,
    pub instant_alert: bool,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub user_ip: Option<String>,
    /// The caller's `CF-Connecting-IP`.
    pub server_ip: Option<String>,
    #[serde(flatten)]
    pub enrichment: Enrichment,
    pub metadata: Map<String, Value>,
    /// Server-assigned receive time.
    pub created_at: UnixMs,
}

impl EventRecord {
    /// Assigns the server's view of a validated event: id, severity, category, time.
    pub fn assign(
        new: NewEvent,
        org: &OrgId,
        id: EventId,
        created_at: UnixMs,
        server_ip: Option<String>,
    ) -> Self {
        let spec = lookup(&new.event_name);
        let category = new
            .event_name
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
        EventRecord {
            id,
            org_id: org.clone(),
            category,
            severity: spec.severity,
            instant_alert: spec.instant_alert.is_some(),
            event_name: new.event_name,
            actor_id: new.actor_id,
            actor_email: new.actor_email,
            user_ip: new.user_ip,
            server_ip,
            enrichment: Enrichment::default(),
            metadata: new.metadata,
            created_at,
        }
    }
}

/// The two tables' largest row ids, as SQL arguments to `max`.
macro_rules! largest_item_ids {
    () => {
        "coalesce((SELECT max(rowid) FROM events), 0), coalesce((SELECT max(id) FROM logs), 0)"
    };
}

/// The row id a statement gives the first new row of `events` or `logs`, less one: the larger of
/// the two tables' largest. Events and raw lines are numbered from one sequence, as when events'
/// log items were `logs` rows (migrations/0019_events_stored_once.sql), so log items at the same
/// millisecond keep their order, `ts DESC, id DESC`, across the two tables. Never below the
/// rollups' mark: where the newest items were deleted (an organisation moved away, everything
/// purged), new ones must still be numbered past what the rollups count.
pub const NEXT_ITEM_ID_BASE: &str = concat!(
    "(SELECT max(",
    largest_item_ids!(),
    ", coalesce((SELECT upto FROM rollup_marks WHERE org_id = ''), 0)))"
);

/// The largest item id stored (0 with none): what the rollups' catch-up counts up to.
pub const MAX_ITEM_ID: &str = concat!("(SELECT max(", largest_item_ids!(), "))");

/// The `events` columns that hold an event's dashboard log item (`crate::logs::event_row`), each
/// with its value from `item` (the item's column, as SQL) and `event` (the event's own): a
/// column is NULL where the item's value is the event's own (migrations/0019_events_stored_once.sql
/// describes each), so most events store little beyond their type.
fn item_columns(
    item: impl Fn(&str) -> String,
    event: impl Fn(&str) -> String,
) -> Vec<(&'static str, String)> {
    let own_or_none = |i: &str, e: &str| {
        format!(
            "CASE WHEN {} IS {} THEN NULL ELSE coalesce({}, '') END",
            item(i),
            event(e),
            item(i)
        )
    };
    vec![
        ("item_type", item("type")),
        ("item_action", item("action")),
        (
            "item_level",
            format!(
                "nullif({}, CASE {} WHEN 'critical' THEN 'critical' WHEN 'high' THEN 'error' \
                 WHEN 'medium' THEN 'warning' WHEN 'warning' THEN 'warning' ELSE 'info' END)",
                item("level"),
                event("severity")
            ),
        ),
        (
            "item_service",
            format!("nullif({}, {})", item("service"), event("category")),
        ),
        (
            "item_namespace",
            format!("nullif({}, 'litesoc')", item("namespace")),
        ),
        ("item_ip", own_or_none("source_ip", "user_ip")),
        ("item_user", own_or_none("user", "actor_id")),
        ("item_hostname", item("hostname")),
        ("item_target_ip", item("target_ip")),
        ("item_geo", own_or_none("geo", "country_code")),
        ("item_device", item("device")),
        ("item_status", item("status_code")),
        (
            "item_resource",
            format!("nullif({}, {})", item("resource"), event("event_name")),
        ),
        (
            "item_message",
            format!("nullif({}, {})", item("message"), event("event_name")),
        ),
    ]
}

/// Inserts every event of the JSON array bound to `?1` that is not stored yet (each object an
/// [`EventRecord`] with its log item's fields, see [`insert_statements`]) with its log item, row
/// ids following on from [`NEXT_ITEM_ID_BASE`] in the array's order; `OR IGNORE` on the event
/// id keeps a redelivered event a no-op.
fn insert_events_sql() -> String {
    let field = |c: &str| format!("json_extract(value, '$.{c}')");
    let own: Vec<String> = EVENT_COLUMNS
        .split(", ")
        .map(|c| match c {
            "forensics" | "metadata" => format!("json({})", field(c)),
            _ => field(c),
        })
        .collect();
    let items = item_columns(field, field);
    let names: Vec<&str> = items.iter().map(|(n, _)| *n).collect();
    let values: Vec<&str> = items.iter().map(|(_, v)| v.as_str()).collect();
    format!(
        "INSERT OR IGNORE INTO events (rowid, {}, {}) SELECT {NEXT_ITEM_ID_BASE} + row_number() OVER (ORDER BY key), \
         {}, {} FROM json_each(?1) WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = json_extract(value, '$.id'))",
        EVENT_COLUMNS,
        names.join(", "),
        own.join(", "),
        values.join(", "),
    )
}

/// An event as the consumer stores it: the record's fields and its dashboard log item's
/// (`crate::logs::event_row`; the item's `org_id` and `event_name` are the record's).
fn stored(r: &EventRecord) -> Result<Value, serde_json::Error> {
    let mut v = serde_json::to_value(r)?;
    if let (Value::Object(o), Value::Object(item)) =
        (&mut v, serde_json::to_value(crate::logs::event_row(r))?)
    {
        for (k, x) in item {
            o.entry(k).or_insert(x);
        }
    }
    Ok(v)
}

/// Stores records idempotently, each once, with its dashboard log item: per JSON array of at
/// most [`MAX_BOUND_JSON_BYTES`] (so D1's 100-parameter limit never applies, whatever the
/// count), one insert. (`event_counts` and the dashboard rollups catch up from the stored
/// rows, `crate::logs::rollups::catch_up`.) Each record carries its own `org_id`, stamped when
/// it was accepted. A record whose id came earlier in `records` is left out (stored once).
pub fn insert_statements(records: &[EventRecord]) -> Result<Vec<Statement>, serde_json::Error> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<Value> = records
        .iter()
        .filter(|r| seen.insert(&r.id))
        .map(stored)
        .collect::<Result<_, _>>()?;
    let insert = insert_events_sql();
    let mut out = Vec::new();
    for chunk in json_array_chunks(&unique, MAX_BOUND_JSON_BYTES)? {
        out.push((insert.clone(), vec![SqlParam::Text(chunk)]));
    }
    Ok(out)
}

/// Groups serialized items, in order, so that each group has at most `max_items` items and at
/// most `max_bytes` bytes in all (a single larger item still gets a group of its own). Used for
/// queue `sendBatch` calls and for D1 statements that bind one JSON array.
pub fn group_by_size<T: AsRef<str>>(items: &[T], max_items: usize, max_bytes: usize) -> Vec<&[T]> {
    let mut groups = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let len = item.as_ref().len();
        if i > start && (i - start == max_items || bytes + len > max_bytes) {
            groups.push(&items[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += len;
    }
    if start < items.len() {
        groups.push(&items[start..]);
    }
    groups
}

/// Serializes items into JSON arrays of at most about `max_bytes` each, in order, so each array
/// can be bound as one parameter and expanded by SQLite's `json_each`.
pub fn json_array_chunks<T: Serialize>(
    items: &[T],
    max_bytes: usize,
) -> Result<Vec<String>, serde_json::Error> {
    Ok(json_array_groups(items, usize::MAX, max_bytes)?
        .into_iter()
        .map(|(array, _)| array)
        .collect())
}

/// Serializes items into JSON arrays of at most `max_items` items and about `max_bytes` bytes
/// each (a single larger item still gets an array of its own), in order; each array comes with
/// how many items it holds. Every item is serialized once.
pub fn json_array_groups<T: Serialize>(
    items: &[T],
    max_items: usize,
    max_bytes: usize,
) -> Result<Vec<(String, usize)>, serde_json::Error> {
    // Each item costs its length plus one separator; the brackets cost two per array.
    let with_sep: Vec<String> = items
        .iter()
        .map(|i| serde_json::to_string(i).map(|s| s + ","))
        .collect::<Result<_, _>>()?;
    Ok(
        group_by_size(&with_sep, max_items, max_bytes.saturating_sub(2))
            .into_iter()
            .map(|g| (format!("[{}]", g.concat().trim_end_matches(',')), g.len()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EventRecord {
        let new = NewEvent {
            event_name: "authz.role_changed".into(),
            actor_id: Some("u1".into()),
            actor_email: None,
            user_ip: Some("203.0.113.5".into()),
            metadata: Map::new(),
        };
        EventRecord::assign(
            new,
            &OrgId("org_1".into()),
            EventId::new_v4(),
            UnixMs(1_769_764_500_123),
            Some("198.51.100.1".into()),
        )
    }

    #[test]
    fn assign_sets_server_fields() {
        let r = sample();
        assert_eq!(r.category, "authz");
        assert_eq!(r.severity, Severity::Critical);
        assert!(r.instant_alert);
        assert_eq!(r.server_ip.as_deref(), Some("198.51.100.1"));
    }

    #[test]
    fn chunks_respect_the_byte_bound_and_keep_every_item() {
        let items: Vec<u32> = (0..1000).collect();
        let chunks = json_array_chunks(&items, 100).unwrap();
        assert!(chunks.iter().all(|c| c.len() <= 100));
        let back: Vec<u32> = chunks
            .iter()
            .flat_map(|c| serde_json::from_str::<Vec<u32>>(c).unwrap())
            .collect();
        assert_eq!(back, items);
        assert!(json_array_chunks::<u32>(&[], 100).unwrap().is_empty());
        // An item larger than the bound still travels, alone.
        let big = vec!["x".repeat(50), "y".into()];
        assert_eq!(json_array_chunks(&big, 10).unwrap().len(), 2);
    }

    #[test]
    fn groups_respect_item_and_byte_bounds() {
        let items: Vec<String> = (0..250).map(|i| format!("{i:03}")).collect(); // 3 bytes each
        let g = group_by_size(&items, 100, usize::MAX);
        assert_eq!(
            g.iter().map(|g| g.len()).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
        let g = group_by_size(&items, 100, 30);
        assert!(g.iter().all(|g| g.len() == 10));
        assert_eq!(g.concat(), items);
        assert!(group_by_size::<String>(&[], 10, 10).is_empty());
    }
}
