//! Queue messages between `/collect` and the consumer. A request's events travel packed, a few
//! messages per request instead of one per event, together with the request's `cf` location so
//! the consumer can enrich them: the request path then does no D1 work for its events at all.
//! A message of another version is not decoded (an incident, `crate::ingest::incidents`).

use crate::ingest::record::{group_by_size, json_array_groups, EventRecord};
use crate::limits::plan::Plan;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::ops::Range;

/// Most events in one message. Bounds the consumer's work per message (a batch of 10 messages
/// is at most 250 events: one D1 batch and a few ms of CPU).
pub const MAX_EVENTS_PER_MESSAGE: usize = 25;
/// Largest message body. Queues accept 128 KB per message; an event is at most 32 KiB
/// (`ingest::MAX_EVENT_BYTES`), so any single event still fits alone.
pub const MAX_MESSAGE_BYTES: usize = 96 * 1024;
/// How much deeper a message nests an event's metadata than the event's own level 1: the
/// message object, its `events` array and the event object.
pub const MESSAGE_NESTING: usize = 3;
/// Queue `sendBatch` limits: 100 messages and 256 KB; keep headroom for per-message overhead.
pub const MAX_SEND_MESSAGES: usize = 100;
pub const MAX_SEND_BYTES: usize = 200 * 1024;

/// A message as read by the consumer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QueueMessage {
    pub v: u8,
    /// The events of one request (or part of one), not yet enriched.
    pub events: Vec<EventRecord>,
    /// The organisation's plan when the events were accepted: it gates behavioural detection.
    pub plan: Plan,
    /// The location fields of the accepting request's `cf` object
    /// ([`crate::intel::enrichment::cf_snapshot`]); `null` when no event describes the caller.
    #[serde(default)]
    pub cf: Value,
    /// The token of a split request ([`crate::ingest::hold`]): its events are stored only once the
    /// request has committed. Absent for requests sent in one `sendBatch`.
    #[serde(default)]
    pub hold: Option<String>,
}

/// What the consumer does with one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub events: Vec<EventRecord>,
    pub plan: Plan,
    pub cf: Value,
    /// See [`QueueMessage::hold`].
    pub hold: Option<String>,
}

impl QueueMessage {
    /// The current version, written by [`pack`].
    pub const VERSION: u8 = 2;

    /// Parses a message body; another version, an empty message or anything unreadable is an
    /// error (retrying cannot help).
    pub fn parse(text: &str) -> Result<Delivery, MessageError> {
        let m: QueueMessage =
            serde_json::from_str(text).map_err(|e| MessageError::Unreadable(e.to_string()))?;
        if m.v != Self::VERSION {
            return Err(MessageError::Version(m.v));
        }
        if m.events.is_empty() {
            return Err(MessageError::Empty);
        }
        Ok(Delivery {
            events: m.events,
            plan: m.plan,
            cf: m.cf,
            hold: m.hold,
        })
    }
}

/// The organisation a message body's events belong to (its first event's), read without
/// decoding the rest: what the consumer routes a message by (`crate::shards::route`). `None`
/// for a body that is not a message with events.
pub fn org_of(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Head {
        events: Vec<OrgOnly>,
    }
    #[derive(Deserialize)]
    struct OrgOnly {
        org_id: String,
    }
    let head: Head = serde_json::from_str(text).ok()?;
    head.events.into_iter().next().map(|e| e.org_id)
}

/// Why a message cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// Not a message of this shape (JSON errors, wrong types, nesting past the decoder's limit).
    Unreadable(String),
    /// A version this Worker does not read.
    Version(u8),
    /// A message without events.
    Empty,
}

impl std::fmt::Display for MessageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageError::Unreadable(e) => f.write_str(e),
            MessageError::Version(v) => write!(f, "unknown message version {v}"),
            MessageError::Empty => f.write_str("message carries no events"),
        }
    }
}

#[derive(Serialize)]
struct Header<'a> {
    v: u8,
    plan: Plan,
    cf: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    hold: Option<&'a str>,
}

/// One message body and how many events it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    pub body: String,
    pub events: usize,
}

impl AsRef<str> for Packed {
    fn as_ref(&self) -> &str {
        &self.body
    }
}

/// Packs one request's records into as few message bodies as the bounds allow, in order.
/// Each record is serialized once; the bodies are assembled around them.
pub fn pack(
    records: &[EventRecord],
    plan: Plan,
    cf: &Value,
) -> Result<Vec<Packed>, serde_json::Error> {
    pack_with(records, plan, cf, None)
}

/// Packs a request like [`pack`]; when its messages do not fit one `sendBatch`, packs them
/// again carrying a hold token (the first event's id), returned beside them: the request must
/// then commit it before answering (`crate::ingest::hold`).
pub fn pack_request(
    records: &[EventRecord],
    plan: Plan,
    cf: &Value,
) -> Result<(Vec<Packed>, Option<String>), serde_json::Error> {
    let bodies = pack(records, plan, cf)?;
    if fits_one_send(&bodies) {
        return Ok((bodies, None));
    }
    let hold = records.first().map(|r| r.id.to_string());
    Ok((pack_with(records, plan, cf, hold.as_deref())?, hold))
}

/// Whether one `sendBatch` can carry all of `bodies`.
pub fn fits_one_send(bodies: &[Packed]) -> bool {
    bodies.len() <= MAX_SEND_MESSAGES
        && bodies.iter().map(|p| p.body.len()).sum::<usize>() <= MAX_SEND_BYTES
}

fn pack_with(
    records: &[EventRecord],
    plan: Plan,
    cf: &Value,
    hold: Option<&str>,
) -> Result<Vec<Packed>, serde_json::Error> {
    let header = serde_json::to_string(&Header {
        v: QueueMessage::VERSION,
        plan,
        cf,
        hold,
    })?;
    // `{…header…,"events":` + array + `}`
    let open = header.strip_suffix('}').unwrap_or(&header);
    let head = format!("{open},\"events\":");
    let budget = MAX_MESSAGE_BYTES.saturating_sub(head.len() + 1);
    Ok(json_array_groups(records, MAX_EVENTS_PER_MESSAGE, budget)?
        .into_iter()
        .map(|(array, events)| Packed {
            body: format!("{head}{array}}}"),
            events,
        })
        .collect())
}

/// `sendBatch` chunks for several requests' messages sent one after another, as index ranges
/// into their concatenation: at most `max_messages` and `max_bytes` each, and cut only between
/// requests, so a request's messages are accepted or refused together. Only a request too large
/// for one chunk on its own is split (as `group_by_size` would).
pub fn send_chunks(
    requests: &[&[Packed]],
    max_messages: usize,
    max_bytes: usize,
) -> Vec<Range<usize>> {
    let mut chunks = Vec::new();
    let (mut start, mut end, mut bytes) = (0, 0, 0);
    for messages in requests.iter().filter(|m| !m.is_empty()) {
        let size: usize = messages.iter().map(|p| p.body.len()).sum();
        let fits_alone = messages.len() <= max_messages && size <= max_bytes;
        if end > start
            && (!fits_alone
                || end - start + messages.len() > max_messages
                || bytes + size > max_bytes)
        {
            chunks.push(start..end);
            (start, bytes) = (end, 0);
        }
        if fits_alone {
            end += messages.len();
            bytes += size;
        } else {
            for group in group_by_size(messages, max_messages, max_bytes) {
                chunks.push(end..end + group.len());
                end += group.len();
            }
            start = end;
        }
    }
    if end > start {
        chunks.push(start..end);
    }
    chunks
}

/// Events left unsent per request after a shared `sendBatch` sequence stopped after its first
/// `sent` messages. The requests' messages went out concatenated in order, so each request
/// knows exactly which of its events will be stored and refunds the rest.
pub fn unsent_events(requests: &[&[Packed]], sent: usize) -> Vec<usize> {
    let mut before = 0;
    requests
        .iter()
        .map(|messages| {
            let delivered = sent.saturating_sub(before).min(messages.len());
            before += messages.len();
            messages[delivered..].iter().map(|p| p.events).sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::ids::{EventId, OrgId};
    use crate::ingest::NewEvent;
    use crate::time::UnixMs;
    use serde_json::{json, Map};

    fn record(i: usize, metadata_bytes: usize) -> EventRecord {
        let mut metadata = Map::new();
        metadata.insert("pad".into(), Value::String("x".repeat(metadata_bytes)));
        EventRecord::assign(
            NewEvent {
                event_name: "auth.login_failed".into(),
                actor_id: Some(format!("u{i}")),
                actor_email: None,
                user_ip: Some("203.0.113.5".into()),
                metadata,
            },
            &OrgId("org_1".into()),
            EventId::new_v4(),
            UnixMs(1_769_764_500_000 + i as i64),
            Some("198.51.100.1".into()),
        )
    }

    #[test]
    fn packs_a_full_batch_into_few_messages_that_parse_back_in_order() {
        let records: Vec<EventRecord> = (0..100).map(|i| record(i, 10)).collect();
        let cf = json!({"country": "DE", "city": "Berlin"});
        let bodies = pack(&records, Plan::Pro, &cf).unwrap();
        assert_eq!(bodies.len(), 4);
        let mut back = Vec::new();
        for b in &bodies {
            assert!(b.body.len() <= MAX_MESSAGE_BYTES);
            let d = QueueMessage::parse(&b.body).unwrap();
            assert_eq!(d.events.len(), b.events);
            assert_eq!(d.plan, Plan::Pro);
            assert_eq!(d.cf, cf);
            back.extend(d.events);
            assert_eq!(
                org_of(&b.body).as_deref(),
                Some("org_1"),
                "routed by its organisation"
            );
        }
        assert_eq!(back, records);
        for not_one in [
            "",
            "{}",
            r#"{"events":[]}"#,
            r#"{"events":[{"id":1}]}"#,
            "[1]",
        ] {
            assert_eq!(org_of(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn only_a_request_too_large_for_one_send_is_held_and_every_message_carries_the_token() {
        let small: Vec<EventRecord> = (0..100).map(|i| record(i, 1000)).collect();
        let (bodies, hold) = pack_request(&small, Plan::Pro, &Value::Null).unwrap();
        assert!(hold.is_none() && fits_one_send(&bodies));
        assert!(bodies
            .iter()
            .all(|b| QueueMessage::parse(&b.body).unwrap().hold.is_none()));
        assert!(!bodies[0].body.contains("hold"), "no token field at all");

        let large: Vec<EventRecord> = (0..100).map(|i| record(i, 3000)).collect();
        assert!(!fits_one_send(
            &pack(&large, Plan::Pro, &Value::Null).unwrap()
        ));
        let (bodies, hold) = pack_request(&large, Plan::Pro, &Value::Null).unwrap();
        assert_eq!(hold, Some(large[0].id.to_string()));
        let mut back = Vec::new();
        for b in &bodies {
            assert!(b.body.len() <= MAX_MESSAGE_BYTES);
            let d = QueueMessage::parse(&b.body).unwrap();
            assert_eq!(d.hold, hold);
            back.extend(d.events);
        }
        assert_eq!(back, large);
        assert_eq!(
            pack_request(&[], Plan::Free, &Value::Null).unwrap(),
            (Vec::new(), None)
        );
    }

    #[test]
    fn the_byte_bound_splits_large_events_and_a_maximal_event_travels_alone() {
        let records: Vec<EventRecord> = (0..10).map(|i| record(i, 30 * 1024)).collect();
        let bodies = pack(&records, Plan::Free, &Value::Null).unwrap();
        assert!(bodies.iter().all(|b| b.body.len() <= MAX_MESSAGE_BYTES));
        assert!(bodies.len() >= 4);
        let n: usize = bodies
            .iter()
            .map(|b| QueueMessage::parse(&b.body).unwrap().events.len())
            .sum();
        assert_eq!(n, 10);
        assert!(pack(&[], Plan::Free, &Value::Null).unwrap().is_empty());
    }

    #[test]
    fn poison_messages_are_errors() {
        for bad in [
            "",
            "[]",
            r#"{"v":3,"events":[]}"#,
            r#"{"v":1,"event":{},"plan":"pro"}"#,
            r#"{"v":2,"events":[]}"#,
            r#"{"v":2,"events":[{"id":"nope"}]}"#,
        ] {
            assert!(
                matches!(QueueMessage::parse(bad), Err(MessageError::Unreadable(_))),
                "{bad}"
            );
        }
        let one = serde_json::to_string(&record(1, 1)).unwrap();
        let v3 = format!(r#"{{"v":3,"plan":"pro","events":[{one}]}}"#);
        assert_eq!(QueueMessage::parse(&v3), Err(MessageError::Version(3)));
        assert_eq!(
            QueueMessage::parse(r#"{"v":2,"plan":"pro","events":[]}"#),
            Err(MessageError::Empty)
        );
        assert!(
            QueueMessage::parse(&format!(r#"{{"v":2,"plan":"pro","events":[{one}]}}"#)).is_ok()
        );
    }
    fn packed(events: &[usize]) -> Vec<Packed> {
        events
            .iter()
            .map(|&n| Packed {
                body: String::new(),
                events: n,
            })
            .collect()
    }

    fn sized(bytes: &[usize]) -> Vec<Packed> {
        bytes
            .iter()
            .map(|&n| Packed {
                body: "x".repeat(n),
                events: 1,
            })
            .collect()
    }

    #[test]
    fn send_chunks_cut_only_between_requests() {
        let (a, b, c) = (sized(&[40, 40]), sized(&[30, 30, 30]), sized(&[10]));
        let all: [&[Packed]; 3] = [&a, &b, &c];
        assert_eq!(
            send_chunks(&all, 100, 1000),
            vec![0..6],
            "everything fits in one"
        );
        assert_eq!(
            send_chunks(&all, 4, 1000),
            [0..2, 2..6],
            "b would not fit beside a"
        );
        assert_eq!(send_chunks(&all, 100, 160), [0..2, 2..6], "by bytes too");
        assert_eq!(
            send_chunks(&all, 100, 170),
            [0..5, 5..6],
            "a limit reached exactly still fits"
        );
        assert_eq!(send_chunks(&all, 3, 1000), [0..2, 2..5, 5..6]);
        assert!(send_chunks(&[], 3, 10).is_empty());
        let empty = sized(&[]);
        assert_eq!(send_chunks(&[&empty, &c, &empty], 3, 10), vec![0..1]);
    }

    #[test]
    fn send_chunks_split_only_a_request_too_large_alone() {
        let (small, big, tail) = (sized(&[10]), sized(&[50, 50, 50]), sized(&[10, 10]));
        let all: [&[Packed]; 3] = [&small, &big, &tail];
        assert_eq!(send_chunks(&all, 100, 100), [0..1, 1..3, 3..4, 4..6]);
        assert_eq!(send_chunks(&all, 2, 1000), [0..1, 1..3, 3..4, 4..6]);
    }

    #[test]
    fn unsent_events_split_a_stopped_send_by_request() {
        let a = packed(&[25, 25, 10]);
        let b = packed(&[1]);
        let c = packed(&[]);
        let d = packed(&[25, 5]);
        let all: [&[Packed]; 4] = [&a, &b, &c, &d];
        assert_eq!(unsent_events(&all, 6), [0, 0, 0, 0], "everything sent");
        assert_eq!(unsent_events(&all, 100), [0, 0, 0, 0]);
        assert_eq!(unsent_events(&all, 0), [60, 1, 0, 30], "nothing sent");
        assert_eq!(
            unsent_events(&all, 2),
            [10, 1, 0, 30],
            "inside the first request"
        );
        assert_eq!(unsent_events(&all, 3), [0, 1, 0, 30], "on a boundary");
        assert_eq!(unsent_events(&all, 5), [0, 0, 0, 5]);
        assert!(unsent_events(&[], 3).is_empty());
    }
}
