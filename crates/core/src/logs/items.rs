//! Where the log items are (migrations/0019_events_stored_once.sql): raw lines in `logs`, each
//! event's item in the event's own `events` row, and both in the view `items`, column for
//! column. A read whose bounds SQLite carries into both tables' indexes reads the view; a read
//! that names its indexes (`INDEXED BY`, which a view cannot take) reads the two tables in two
//! arms, the events' one through [`event_column`], the view's own definition of each column.

/// The view of every log item, raw lines and events, with the columns of `logs`.
pub const ITEMS: &str = "items";

/// The key of `events_login_failure_ip` over the events row `a` (`""` or e.g. `"e."`): the
/// item's address, or `''` when it has none although the event has a `user_ip` (a blank one).
pub fn event_ip_key(a: &str) -> String {
    format!("coalesce({a}item_ip, {a}user_ip)")
}

/// The key of `events_login_failure_user` over the events row `a`: the item's user, or `''`
/// when it has none although the event has an `actor_id`.
pub fn event_user_key(a: &str) -> String {
    format!("coalesce({a}item_user, {a}actor_id)")
}

/// What `items` shows as column `column` (a `logs` column) for the event in the `events` row
/// `a` (`""` or e.g. `"e."`).
pub fn event_column(column: &str, a: &str) -> String {
    match column {
        "id" => format!("{a}rowid"),
        "org_id" => format!("{a}org_id"),
        "ts" => format!("{a}created_at"),
        "hour" => format!("{a}created_at - {a}created_at % 3600000"),
        "type" => format!("{a}item_type"),
        "action" => format!("{a}item_action"),
        "level" => format!(
            "coalesce({a}item_level, CASE {a}severity WHEN 'critical' THEN 'critical' \
             WHEN 'high' THEN 'error' WHEN 'medium' THEN 'warning' WHEN 'warning' THEN 'warning' \
             ELSE 'info' END)"
        ),
        "service" => format!("coalesce({a}item_service, {a}category)"),
        "namespace" => format!("coalesce({a}item_namespace, 'litesoc')"),
        "source_ip" => format!("nullif({}, '')", event_ip_key(a)),
        "user" => format!("nullif({}, '')", event_user_key(a)),
        "hostname" => format!("{a}item_hostname"),
        "target_ip" => format!("{a}item_target_ip"),
        "geo" => format!("nullif(coalesce({a}item_geo, {a}country_code), '')"),
        "device" => format!("{a}item_device"),
        "vpn" => format!("{a}is_vpn"),
        "status_code" => format!("{a}item_status"),
        "resource" => format!("coalesce({a}item_resource, {a}event_name)"),
        "message" => format!("coalesce({a}item_message, {a}event_name)"),
        "event_id" => format!("{a}id"),
        "event_name" => format!("{a}event_name"),
        other => panic!("not a log item column: {other}"),
    }
}

/// `key = nullif(value, '')` for an events key ([`event_ip_key`], [`event_user_key`]): the
/// events whose item has `value` as its address or user, through the key's index. An item's
/// address or user is never `''` (that means none), so `''` finds nothing, as in `logs`.
pub fn event_key_equals(key: &str, value: &str) -> String {
    format!("{key} = nullif({value}, '')")
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "items_tests.rs"]
mod tests;
