//! Incidents: losses the service owns up to instead of only logging them. Today one kind: a
//! queue message this Worker produced that its consumer cannot decode (accepted events that
//! will never be stored). Each is recorded once per message (`migrations/0013_incidents.sql`),
//! its events are refunded to the monthly quota, and `GET /health` shows the organisation its
//! incidents.

use crate::access::ids::{EventId, OrgId};
use crate::api::sql::{SqlParam, Statement};
use crate::runtime::{Db, Limiter};
use crate::time::UnixMs;
use crate::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

/// The kind recorded for a message the consumer cannot decode.
pub const UNDECODABLE_MESSAGE: &str = "undecodable_message";
/// Event ids kept per incident (the count is always exact).
pub const MAX_EVENT_IDS: usize = 100;
/// Longest error text kept.
pub const MAX_DETAIL_CHARS: usize = 500;
/// Incidents listed in `GET /health`, newest first.
pub const RECENT: u32 = 5;

/// One incident, before it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The queue message id: an incident is recorded once per message, however often the
    /// queue delivers it.
    pub id: String,
    pub kind: &'static str,
    /// `None` when not even the organisation could be read from the message.
    pub org: Option<OrgId>,
    pub events: usize,
    pub event_ids: Vec<String>,
    /// The month (`YYYY-MM`) the events were accepted in, for the quota refund.
    pub month: Option<String>,
    pub detail: String,
}

/// The parts of a message that are read even when the message as a whole does not decode.
/// serde_json skips unknown fields without a depth limit, so nesting cannot hide these.
#[derive(Deserialize)]
struct Salvage {
    #[serde(default)]
    events: Vec<SalvagedEvent>,
}

#[derive(Deserialize)]
struct SalvagedEvent {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    org_id: Option<String>,
    #[serde(default)]
    created_at: Option<i64>,
}

impl Incident {
    /// An undecodable message: `text` is its body (`None` when it was not text at all) and
    /// `error` why it failed. Whatever can still be read of it is kept.
    pub fn undecodable(message_id: &str, text: Option<&str>, error: &str) -> Incident {
        let salvaged = text
            .and_then(|t| serde_json::from_str::<Salvage>(t).ok())
            .map_or_else(Vec::new, |s| s.events);
        let org = salvaged.iter().find_map(|e| e.org_id.clone()).map(OrgId);
        let month = salvaged
            .iter()
            .find_map(|e| e.created_at)
            .map(|t| UnixMs(t).month().key());
        let event_ids = salvaged
            .iter()
            .filter_map(|e| e.id.as_deref().and_then(EventId::parse))
            .take(MAX_EVENT_IDS)
            .map(|id| id.to_string())
            .collect();
        Incident {
            id: message_id.to_string(),
            kind: UNDECODABLE_MESSAGE,
            org,
            events: salvaged.len(),
            event_ids,
            month,
            detail: error.chars().take(MAX_DETAIL_CHARS).collect(),
        }
    }

    /// Records the incident once per message id, then reads back whether its events were
    /// already refunded: two statements for one D1 batch; the second returns `{refunded}`.
    pub fn record_statements(&self, now: UnixMs) -> [Statement; 2] {
        let org = self.org.as_ref().map_or("", |o| o.0.as_str());
        [
            (
                "INSERT OR IGNORE INTO incidents (id, org_id, kind, events, event_ids, detail, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                    .into(),
                vec![
                    SqlParam::Text(self.id.clone()),
                    SqlParam::Text(org.into()),
                    SqlParam::Text(self.kind.into()),
                    SqlParam::Number(self.events as f64),
                    SqlParam::Text(json!(self.event_ids).to_string()),
                    SqlParam::Text(self.detail.clone()),
                    SqlParam::Number(now.0 as f64),
                ],
            ),
            (
                "SELECT refunded FROM incidents WHERE id = ?1".into(),
                vec![SqlParam::Text(self.id.clone())],
            ),
        ]
    }

    /// Marks the incident's events as given back to the quota.
    pub fn refunded_statement(&self) -> Statement {
        (
            "UPDATE incidents SET refunded = 1 WHERE id = ?1".into(),
            vec![SqlParam::Text(self.id.clone())],
        )
    }
}

impl Incident {
    /// The log line for the operator.
    pub fn describe(&self) -> String {
        format!(
            "INCIDENT {}: message {} of organisation {} with {} events {:?}: {}",
            self.kind,
            self.id,
            self.org.as_ref().map_or("(unknown)", |o| o.0.as_str()),
            self.events,
            self.event_ids,
            self.detail
        )
    }
}

/// Records `incident` and refunds its events to its organisation's quota, once however often
/// the message is delivered. An error means the message must not be acked: it comes back and
/// the report is retried.
pub async fn report<D: Db, L: Limiter>(
    db: &D,
    limiter_for: &dyn Fn(&OrgId) -> Result<L, ApiError>,
    incident: &Incident,
    now: UnixMs,
) -> Result<(), String> {
    let rows = db
        .batch(&incident.record_statements(now))
        .await
        .map_err(|e| e.to_string())?;
    let refunded = rows
        .get(1)
        .and_then(|r| r.first())
        .and_then(|r| r["refunded"].as_f64())
        .is_some_and(|r| r > 0.0);
    let (Some(org), Some(month)) = (&incident.org, &incident.month) else {
        return Ok(()); // nothing to refund to
    };
    if refunded || incident.events == 0 {
        return Ok(());
    }
    let limiter = limiter_for(org).map_err(|e| e.to_string())?;
    limiter
        .refund(incident.events as u64, month)
        .await
        .map_err(|e| e.to_string())?;
    db.batch(&[incident.refunded_statement()])
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The organisation's incidents for `GET /health`: totals over retention and the newest few.
/// Both name `incidents_org_at`: with statistics of a small table SQLite would rather scan every
/// organisation's incidents (crates/core/src/api/list_plans_tests.rs).
pub fn health_statements(org: &OrgId, cutoff: UnixMs) -> [Statement; 2] {
    let params = vec![
        SqlParam::Text(org.0.clone()),
        SqlParam::Number(cutoff.0 as f64),
    ];
    [
        (
            "SELECT count(*) AS total, coalesce(sum(events), 0) AS events \
             FROM incidents INDEXED BY incidents_org_at WHERE org_id = ?1 AND at >= ?2"
                .into(),
            params.clone(),
        ),
        (
            format!(
                "SELECT kind, events, event_ids, detail, at FROM incidents \
                 INDEXED BY incidents_org_at WHERE org_id = ?1 AND at >= ?2 \
                 ORDER BY at DESC LIMIT {RECENT}"
            ),
            params,
        ),
    ]
}

/// `incidents` of `GET /health` from the rows of [`health_statements`].
pub fn health_view(totals: &[Value], recent: &[Value]) -> Value {
    let number = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0) as u64;
    let totals = totals.first().cloned().unwrap_or(Value::Null);
    let recent: Vec<Value> = recent
        .iter()
        .map(|r| {
            let ids: Value = r["event_ids"]
                .as_str()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_else(|| json!([]));
            json!({
                "kind": r["kind"],
                "at": UnixMs(number(r, "at") as i64).iso_millis(),
                "events": number(r, "events"),
                "event_ids": ids,
                "detail": r["detail"],
            })
        })
        .collect();
    json!({
        "total": number(&totals, "total"),
        "events": number(&totals, "events"),
        "recent": recent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID_A: &str = "6ba7b810-9dad-41d1-80b4-00c04fd430c8";
    const ID_B: &str = "6ba7b811-9dad-41d1-80b4-00c04fd430c8";

    #[test]
    fn an_undecodable_message_still_names_its_organisation_events_and_month() {
        // Nesting past serde_json's limit does not stop the salvage.
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let text = format!(
            r#"{{"v":2,"events":[{{"id":"{ID_A}","org_id":"org_x","created_at":1769764500000,"metadata":{deep}}},{{"id":"{ID_B}","org_id":"org_x","created_at":1769764500000}}]}}"#
        );
        let i = Incident::undecodable("msg-1", Some(&text), "recursion limit exceeded");
        assert_eq!(i.org, Some(OrgId("org_x".into())));
        assert_eq!((i.events, i.event_ids.len()), (2, 2));
        assert_eq!(i.event_ids[0], ID_A);
        assert_eq!(i.month.as_deref(), Some("2026-01"));
        assert_eq!(i.kind, UNDECODABLE_MESSAGE);
    }

    #[test]
    fn garbage_is_still_an_incident_without_an_organisation() {
        for text in [None, Some(""), Some("not json"), Some(r#"{"events":7}"#)] {
            let i = Incident::undecodable("m", text, &"x".repeat(2000));
            assert_eq!((i.org.clone(), i.events, i.month.clone()), (None, 0, None));
            assert_eq!(i.detail.chars().count(), MAX_DETAIL_CHARS);
            let [(insert, params), _] = i.record_statements(UnixMs(5));
            assert!(insert.starts_with("INSERT OR IGNORE INTO incidents"));
            assert_eq!(params[1], SqlParam::Text(String::new()));
        }
    }

    #[test]
    fn health_reads_are_scoped_to_the_organisation_and_retention() {
        for (sql, params) in health_statements(&OrgId("org_a".into()), UnixMs(7)) {
            assert!(sql.contains("WHERE org_id = ?1 AND at >= ?2"), "{sql}");
            assert_eq!(
                params,
                vec![SqlParam::Text("org_a".into()), SqlParam::Number(7.0)]
            );
        }
        let view = health_view(
            &[json!({"total": 2.0, "events": 30.0})],
            &[
                json!({"kind": UNDECODABLE_MESSAGE, "events": 25.0, "event_ids": format!("[\"{ID_A}\"]"), "detail": "x", "at": 1_769_764_500_000.0}),
            ],
        );
        assert_eq!(view["total"], 2);
        assert_eq!(view["events"], 30);
        assert_eq!(view["recent"][0]["event_ids"][0], ID_A);
        assert_eq!(view["recent"][0]["at"], "2026-01-30T09:15:00.000Z");
        assert_eq!(
            health_view(&[], &[]),
            json!({"total": 0, "events": 0, "recent": []})
        );
    }
}
