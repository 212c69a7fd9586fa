//! Ingestion: a `/collect` body becomes validated events ([`body`]), records with ids and
//! server-assigned severity ([`record`], [`catalogue`]), and packed queue messages
//! ([`message`]) — all in [`accept`]. The queue consumer ([`consume`]) decodes, enriches,
//! stores exactly once and detects. A request too large for one queue send commits through a
//! hold token ([`hold`]); a message the consumer cannot decode is an [`incidents`] record, not
//! a log line. (The limiter round that admits and enqueues a request is `crate::limits::round`.)

pub mod agents;
pub mod body;
pub mod catalogue;
pub mod consume;
pub mod hold;
pub mod incidents;
pub mod message;
pub mod record;
pub mod webhooks;

pub use body::{
    parse_collect_body, NewEvent, MAX_ACTOR_EMAIL, MAX_ACTOR_ID, MAX_BATCH, MAX_BODY_BYTES,
    MAX_EVENT_BYTES, MAX_EVENT_NAME, MAX_METADATA_DEPTH, MAX_USER_IP,
};

use crate::access::ids::{EventId, OrgId};
use crate::api::error::ApiError;
use crate::intel::enrichment::{cf_snapshot, source, Source};
use crate::limits::plan::Plan;
use crate::time::UnixMs;
use message::{pack_request, Packed};
use record::EventRecord;
use serde_json::Value;

/// One `/collect` request, accepted: the ids it answers with and the queue messages that carry
/// its events (with a hold token when they need more than one send, see `crate::ingest::hold`).
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub ids: Vec<EventId>,
    pub messages: Vec<Packed>,
    pub hold: Option<String>,
}

/// Validates a `/collect` body and turns it into queue messages: ids and receive time assigned
/// once, here. `cf` is read only when some event describes the caller (the consumer locates
/// those from it). Every body accepted here decodes, event for event, in the consumer
/// (`message::QueueMessage::parse`); the `accepted_bodies_decode_unchanged` property test and
/// the `collect_body` fuzz target hold that.
pub fn accept(
    body: &[u8],
    org: &OrgId,
    plan: Plan,
    now: UnixMs,
    caller_ip: Option<String>,
    cf: impl FnOnce() -> Value,
) -> Result<Accepted, ApiError> {
    accept_events(parse_collect_body(body)?, org, plan, now, caller_ip, cf)
}

/// [`accept`] after parsing: validated events (a `/collect` body's, or a webhook's records,
/// [`webhooks`]) become records and packed queue messages.
pub fn accept_events(
    events: Vec<NewEvent>,
    org: &OrgId,
    plan: Plan,
    now: UnixMs,
    caller_ip: Option<String>,
    cf: impl FnOnce() -> Value,
) -> Result<Accepted, ApiError> {
    // One receive time for the request; ids ascending in request order, so the rules' order
    // (time, then id: `crate::detect::precedes`) keeps the request's own order.
    let mut ids: Vec<EventId> = (0..events.len()).map(|_| EventId::new_v4()).collect();
    ids.sort();
    let records: Vec<EventRecord> = events
        .into_iter()
        .zip(ids)
        .map(|(e, id)| EventRecord::assign(e, org, id, now, caller_ip.clone()))
        .collect();
    let describes_caller = records.iter().any(|r| {
        matches!(
            source(r.user_ip.as_deref(), r.server_ip.as_deref()),
            Source::Cf(_)
        )
    });
    let cf = if describes_caller {
        cf_snapshot(&cf())
    } else {
        Value::Null
    };
    // Serializing validated JSON values cannot fail; should it, nothing is accepted.
    let (messages, hold) = pack_request(&records, plan, &cf).map_err(|_| ApiError::internal())?;
    Ok(Accepted {
        ids: records.iter().map(|r| r.id).collect(),
        messages,
        hold,
    })
}
