//! The list and single envelopes (docs/api.md §9.2, §9.3, §5.8): `meta`, sealed cursors, and
//! whether the caller's plan redacts enrichment.

use crate::access::tenant::Tenant;
use crate::api::cursor::{Cursor, CursorKey};
use crate::time::UnixMs;
use serde_json::{json, Value};

/// `meta` of both envelopes.
pub fn meta(tenant: &Tenant, now: UnixMs, max_limit: Option<u32>) -> Value {
    let mut m = json!({
        "plan": tenant.plan.reported(),
        "retention_days": tenant.limits.retention_days,
        "cutoff_date": tenant.cutoff(now).iso_millis(),
        "redacted": redacts(tenant),
    });
    if let Some(max) = max_limit {
        m["max_limit"] = max.into();
    }
    m
}

/// Free-plan responses hide GeoIP and network intelligence.
pub fn redacts(tenant: &Tenant) -> bool {
    !tenant.plan.is_pro_or_above()
}

/// A row that knows its keyset position, so a page can hand out the next cursor.
pub trait Keyed {
    fn cursor(&self) -> Cursor;
}

/// One page as read from D1 (up to `limit + 1` rows: the extra one only says "there is more").
pub struct Page<T> {
    pub rows: Vec<T>,
    pagination: Value,
}

impl<T: Keyed> Page<T> {
    /// Trims the probe row and works out `has_more` and `next_cursor`. With offsets `has_more`
    /// is the contract's `offset + data.length < total`; with a cursor it is the probe.
    pub fn new(
        mut rows: Vec<T>,
        limit: u32,
        offset: u32,
        total: u64,
        cursor_mode: bool,
        cursors: &CursorKey,
    ) -> Page<T> {
        let probed_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let offset = if cursor_mode { 0 } else { offset };
        let has_more = if cursor_mode {
            probed_more
        } else {
            u64::from(offset) + (rows.len() as u64) < total
        };
        let next_cursor = if has_more {
            rows.last().map(|r| cursors.encode(&r.cursor()))
        } else {
            None
        };
        let pagination = json!({
            "total": total, "limit": limit, "offset": offset, "has_more": has_more, "next_cursor": next_cursor,
        });
        Page { rows, pagination }
    }

    /// The list envelope around the rendered rows; `pagination` is always present.
    /// The cursor of the page after this one, when there is one.
    pub fn next_cursor(&self) -> Option<&str> {
        self.pagination["next_cursor"].as_str()
    }

    pub fn envelope(&self, data: Vec<Value>, meta: Value) -> Value {
        json!({ "success": true, "data": data, "pagination": self.pagination, "meta": meta })
    }
}

/// The single-object envelope.
pub fn single_envelope(data: Value, meta: Value) -> Value {
    json!({ "success": true, "data": data, "meta": meta })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::ids::OrgId;
    use crate::analytics::event_row::{sample as row, EventRow};
    use crate::limits::plan::Plan;

    #[test]
    fn envelopes() {
        let t = Tenant {
            org_id: OrgId("o".into()),
            org_name: "n".into(),
            plan: Plan::Free,
            limits: Plan::Free.default_limits(),
            key: None,
            scopes: crate::access::scope::Scopes::ALL,
            origins: Vec::new(),
            session: None,
            person: None,
            shard: crate::shards::ShardName::primary(),
            moving: false,
        };
        let m = meta(&t, UnixMs(1_769_764_500_123), Some(200));
        assert_eq!(
            m,
            json!({"plan":"free","retention_days":7,"cutoff_date":"2026-01-23T09:15:00.123Z","redacted":true,"max_limit":200})
        );
        let rows = |n: usize| {
            (0..n)
                .map(|i| {
                    let mut r = row();
                    r.id = format!("00000000-0000-4000-8000-00000000000{i}");
                    r
                })
                .collect::<Vec<_>>()
        };
        let render = |p: &Page<EventRow>| {
            p.envelope(p.rows.iter().map(|r| json!(r.id)).collect(), m.clone())
        };
        let key = CursorKey::new("s", "o", "events");
        let mid = Page::new(rows(3), 2, 2, 5, false, &key);
        assert_eq!(mid.rows.len(), 2, "the probe row is trimmed");
        let l = render(&mid);
        assert_eq!(l["pagination"]["has_more"], json!(true));
        assert_eq!(
            (
                l["pagination"]["total"].clone(),
                l["pagination"]["offset"].clone()
            ),
            (json!(5), json!(2))
        );
        let next = key
            .decode(l["pagination"]["next_cursor"].as_str().unwrap())
            .unwrap();
        assert_eq!(next.id, mid.rows[1].id);
        let last = render(&Page::new(rows(1), 2, 4, 5, false, &key));
        assert_eq!(
            (
                last["pagination"]["has_more"].clone(),
                last["pagination"]["next_cursor"].clone()
            ),
            (json!(false), Value::Null)
        );
        let by_cursor = render(&Page::new(rows(2), 2, 40, 99, true, &key));
        assert_eq!(
            (
                by_cursor["pagination"]["has_more"].clone(),
                by_cursor["pagination"]["offset"].clone()
            ),
            (json!(false), json!(0))
        );
        let empty = render(&Page::new(Vec::<EventRow>::new(), 50, 0, 0, false, &key));
        assert_eq!(
            empty["pagination"],
            json!({"total":0,"limit":50,"offset":0,"has_more":false,"next_cursor":null})
        );
        assert_eq!(empty["data"], json!([]));
        assert_eq!(single_envelope(json!({"id":1}), m)["success"], json!(true));
    }
}
