//! A reference model of the history reads: stored events in memory, answered the way each
//! part's SQL does, and the history one event's own reads would give. Unit tests and the
//! `history_reads` fuzz target drive [`super::HistoryReads`] against it and compare.

use super::{needs, Answer, HistoryReads, Need, Part, Read, MAX_PER_VALUE};
use crate::api::sql::Statement;
use crate::detect::{
    history_request, is_failed_login, DetectionConfig, DetectionEvent, History, HistoryRequest,
    RATE_LIMIT_NAME, SUCCESSFUL_LOGIN_NAME,
};
use crate::limits::plan::Plan;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One stored event and its organisation.
#[derive(Debug, Clone)]
pub struct Stored {
    pub org: String,
    pub event: DetectionEvent,
}

/// The key a part's read matches `e` on, when `e` is in that part's slice of the tables.
fn key_of(part: Part, e: &DetectionEvent) -> Option<&str> {
    let failed = is_failed_login(&e.event_name);
    let limited = e.event_name == RATE_LIMIT_NAME;
    match part {
        Part::IpFailedLogins if failed => e.source_ip.as_deref(),
        Part::ActorFailedLogins if failed => e.actor_id.as_deref(),
        Part::IpRateLimits if limited => e.source_ip.as_deref(),
        Part::ActorRateLimits if limited => e.actor_id.as_deref(),
        Part::ActorLogins if e.event_name == SUCCESSFUL_LOGIN_NAME => e.actor_id.as_deref(),
        Part::ActorCountries | Part::ActorDevices | Part::ActorPrior => e.actor_id.as_deref(),
        _ => None,
    }
}

/// The other side of `e` for a counting part: its actor when keyed by IP, else its IP.
fn peer_of(part: Part, e: &DetectionEvent) -> Option<&str> {
    match part {
        Part::IpFailedLogins | Part::IpRateLimits => e.actor_id.as_deref(),
        _ => e.source_ip.as_deref(),
    }
}

fn value_of(part: Part, e: &DetectionEvent) -> Option<String> {
    match part {
        Part::ActorCountries => e.country.as_ref().map(|c| c.to_ascii_uppercase()),
        _ => e.device.clone(),
    }
}

/// The rows (a JSON array text) `read` returns from `table` with row bound `limit`.
pub fn answer(table: &[Stored], read: &Read, limit: usize) -> String {
    let mut rows: Vec<&DetectionEvent> = table
        .iter()
        .filter(|s| s.org == read.org && key_of(read.part, &s.event) == Some(read.key.as_str()))
        .map(|s| &s.event)
        .filter(|e| e.created_at <= read.until)
        .collect();
    if read.part == Part::ActorPrior {
        rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let out: Vec<Value> = rows
            .iter()
            .take(2)
            .map(|e| json!([e.id, e.created_at.0]))
            .collect();
        return Value::Array(out).to_string();
    }
    rows.retain(|e| e.created_at >= read.since);
    if matches!(read.part, Part::ActorCountries | Part::ActorDevices) {
        rows.retain(|e| e.created_at < read.until || e.id <= read.until_id);
    }
    rows.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let out: Vec<Value> = match read.part {
        Part::ActorCountries | Part::ActorDevices => {
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            rows.iter()
                .filter_map(|e| Some((value_of(read.part, e)?, e)))
                .filter(|(v, _)| {
                    let n = seen.entry(v.clone()).or_default();
                    *n += 1;
                    *n <= limit
                })
                .take(super::MAX_SIGHTING_ROWS)
                .map(|(v, e)| json!([v, e.created_at.0, e.id]))
                .collect()
        }
        Part::ActorLogins => rows
            .iter()
            .take(limit)
            .map(|e| {
                json!({"id": e.id, "event_name": e.event_name, "actor_id": e.actor_id,
                    "user_ip": e.source_ip, "created_at": e.created_at.0, "latitude": e.latitude,
                    "longitude": e.longitude, "country_code": e.country, "city": e.city,
                    "timezone": e.timezone, "asn": e.asn, "asn_org": e.asn_org,
                    "is_vpn": u8::from(e.is_vpn), "is_tor": u8::from(e.is_tor),
                    "is_proxy": u8::from(e.is_proxy), "is_datacenter": u8::from(e.is_datacenter),
                    "metadata": json!({"device_id": e.device}).to_string()})
            })
            .collect(),
        _ => rows
            .iter()
            .take(limit)
            .map(|e| json!([e.id, e.created_at.0, peer_of(read.part, e)]))
            .collect(),
    };
    Value::Array(out).to_string()
}

/// The history `event`'s own reads of `table` give: per-event windows, the per-event bounds.
pub fn per_event(
    table: &[Stored],
    org: &str,
    event: &DetectionEvent,
    req: &HistoryRequest,
) -> History {
    let mut h = History::default();
    for (part, key, since) in needs(event, req) {
        let read = Read {
            part,
            org: org.into(),
            key: key.into(),
            since,
            until: event.created_at,
            until_id: event.id.clone(),
        };
        let text = answer(table, &read, part.limit(1).max(MAX_PER_VALUE));
        let need = Need {
            event: 0,
            part,
            key: key.into(),
            since,
        };
        if let Ok(a) = Answer::parse(part, &text) {
            a.fill(event, &need, usize::MAX, &mut h);
        }
    }
    h
}

/// Runs every round of `batch`'s reads (each event with its organisation, on `plan` and the
/// default configuration) against `table`: the histories, and the statements of each round.
pub fn run(
    table: &[Stored],
    batch: &[(DetectionEvent, String)],
    plan: Plan,
) -> Result<(Vec<History>, Vec<Vec<Statement>>), serde_json::Error> {
    let config = DetectionConfig::default();
    let items = batch
        .iter()
        .map(|(e, org)| (e.clone(), org.clone(), history_request(e, plan, &config)))
        .collect();
    let mut reads = HistoryReads::new(items);
    let mut rounds = Vec::new();
    loop {
        let statements = reads.statements();
        if statements.is_empty() {
            break;
        }
        let rows = reads.answer_with(|read, limit| answer(table, read, limit));
        rounds.push(statements);
        reads.absorb(rows)?;
    }
    let histories = reads.into_histories().into_iter().map(|(_, h)| h).collect();
    Ok((histories, rounds))
}
