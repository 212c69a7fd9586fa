//! Identity detection from raw login lines (docs/dashboard.md §7.4): a stored `login_success`
//! line that a format parser read (§7.5: sshd's `Accepted …`, a CloudTrail `ConsoleLogin`, an
//! Okta session start, …) and that names a user is judged as an `auth.login_success` event of
//! that actor would be —
//! account compromise on every plan; suspicious network, impossible travel, geo anomaly and new
//! device on Pro and above — by the queue consumer's batch detection
//! ([`crate::detect::batch::detect_triggers`]), against a history that holds the actor's events
//! and login lines alike (`crate::detect::history`). The line's own timestamp is its clock, so
//! a replayed backfill is judged in its own time.
//!
//! Where it came from is what the push's enrichment found ([`super::enrich`], Pro and above):
//! country, coordinates, city, ASN and the network flags.

use super::StoredLine;
use crate::access::ids::{EventId, OrgId};
use crate::detect::batch::{detect_triggers, Trigger};
use crate::detect::{DetectionEvent, SUCCESSFUL_LOGIN_NAME};
use crate::ingest::record::{Enrichment, EventRecord};
use crate::ingest::NewEvent;
use crate::intel::NetworkLists;
use crate::limits::plan::Plan;
use crate::logs::classify::LogType;
use crate::runtime::Db;
use crate::time::UnixMs;
use serde_json::{Map, Value};

/// Most login lines of one push judged: the newest. Their history reads are one statement per
/// kind of read however many there are; the bound keeps each statement's parameter and the
/// alert writes of one push small. The caller logs how many were left unjudged.
pub const MAX_LOGIN_LINES: usize = 250;

/// A stored successful login line, as detection sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginLine {
    /// What the rules see: an `auth.login_success` of the line's user, whose id is the line's
    /// item id (`<row id>-<unix seconds>`), so its own row in the history is recognised.
    pub event: DetectionEvent,
    /// What its alerts are written from (location and flags for the alert's metadata,
    /// suppressions matched on it).
    pub record: EventRecord,
}

impl LoginLine {
    /// `None` unless `line` is a `login_success` a format parser read, naming a user. The
    /// keyword rules' successes are guesses (any line saying `auth` is one): no login to measure
    /// travel or novelty from.
    pub fn from_stored(line: &StoredLine, org: &OrgId) -> Option<LoginLine> {
        if line.log_type != LogType::LoginSuccess || line.parser.is_none() {
            return None;
        }
        let user = line.user.as_ref().filter(|u| !u.trim().is_empty())?;
        let mut metadata = Map::new();
        if let Some(device) = &line.device {
            metadata.insert("user_agent".into(), Value::String(device.clone()));
        }
        let mut record = EventRecord::assign(
            NewEvent {
                event_name: SUCCESSFUL_LOGIN_NAME.into(),
                actor_id: Some(user.clone()),
                actor_email: None,
                user_ip: line.source_ip.clone(),
                metadata,
            },
            org,
            EventId::new_v4(),
            UnixMs(line.ts),
            None,
        );
        record.enrichment = Enrichment {
            country_code: line.geo.clone(),
            city: line.city.clone(),
            latitude: line.latitude,
            longitude: line.longitude,
            is_vpn: line.vpn,
            is_tor: line.is_tor,
            is_proxy: line.is_proxy,
            is_datacenter: line.is_datacenter,
            ..Enrichment::default()
        };
        let mut event = DetectionEvent::from_record(&record);
        event.id = line.item_id();
        event.asn = line.asn;
        Some(LoginLine { event, record })
    }
}

/// Runs the rules over `lines` of one push (an organisation on `plan`) and stores their alerts
/// with their deliveries planned. Judges the newest [`MAX_LOGIN_LINES`]; answers how many older
/// ones it left out.
pub async fn detect_logins<D: Db>(
    db: &D,
    plan: Plan,
    lines: &[LoginLine],
    lists: &NetworkLists,
    now: UnixMs,
) -> Result<usize, String> {
    let mut newest: Vec<&LoginLine> = lines.iter().collect();
    newest
        .sort_by(|a, b| (b.event.created_at, &b.event.id).cmp(&(a.event.created_at, &a.event.id)));
    let left_out = newest.len().saturating_sub(MAX_LOGIN_LINES);
    newest.truncate(MAX_LOGIN_LINES);
    let triggers = newest
        .into_iter()
        .map(|line| Trigger {
            event: line.event.clone(),
            record: &line.record,
            plan,
        })
        .collect();
    detect_triggers(db, triggers, lists, now).await?;
    Ok(left_out)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "logins_tests.rs"]
mod tests;
