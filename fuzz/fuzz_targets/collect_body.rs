//! `POST /collect` bodies: `parse_collect_body` on arbitrary bytes (docs/api.md §5.1, §9.9).
//!
//! Checks, beyond "no panic":
//! * `Ok` holds 1–100 events; every name is `category.action` (dot-separated non-empty
//!   segments of `[a-z0-9_-]`, at most 100 characters); actor id ≤ 255, email ≤ 320 and
//!   `user_ip` ≤ 64 characters; actor id/email are trimmed and non-empty;
//! * an error is a 400 with 1–100 named details, or a 413;
//! * accepted events are a fixed point: written back as a batch of canonical events, they
//!   parse to the same events, floats to the last bit;
//! * accepted means decodable: the same body through `ingest::accept` (ids, records, queue
//!   messages) decodes in the consumer (`QueueMessage::parse`) to exactly the accepted events.
#![no_main]

use edgesoc_core::access::ids::OrgId;
use edgesoc_core::ingest::{
    accept, parse_collect_body, NewEvent, MAX_ACTOR_EMAIL, MAX_ACTOR_ID, MAX_BATCH,
    MAX_EVENT_BYTES, MAX_EVENT_NAME, MAX_USER_IP,
};
use edgesoc_core::ingest::message::QueueMessage;
use edgesoc_core::limits::plan::Plan;
use edgesoc_core::time::UnixMs;
use edgesoc_fuzz::check_error;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    match parse_collect_body(data) {
        Ok(events) => {
            assert!(
                (1..=MAX_BATCH).contains(&events.len()),
                "{} events",
                events.len()
            );
            events.iter().for_each(check_event);
            round_trip(&events);
            decodes_in_the_consumer(data, &events);
        }
        Err(err) => {
            check_error(&err, &[400, 413]);
            for d in &err.details {
                assert!(d.index.is_none_or(|i| i < MAX_BATCH), "{err:?}");
            }
        }
    }
});

fn check_event(e: &NewEvent) {
    let name = &e.event_name;
    assert!(name.chars().count() <= MAX_EVENT_NAME, "long name {name:?}");
    assert!(name.contains('.'), "name without a dot {name:?}");
    assert!(
        name.split('.').all(|s| !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')),
        "name is not category.action: {name:?}"
    );
    let bounded = |v: &Option<String>, max: usize, what: &str| {
        if let Some(s) = v {
            assert!(s.chars().count() <= max, "{what} over {max}: {s:?}");
        }
    };
    bounded(&e.actor_id, MAX_ACTOR_ID, "actor_id");
    bounded(&e.actor_email, MAX_ACTOR_EMAIL, "actor_email");
    bounded(&e.user_ip, MAX_USER_IP, "user_ip");
    for s in [&e.actor_id, &e.actor_email].into_iter().flatten() {
        assert!(!s.is_empty() && s.trim() == s, "untrimmed actor {s:?}");
    }
    if e.actor_id.is_none() {
        assert!(e.actor_email.is_none(), "email without id: {e:?}");
    }
}

/// An accepted event in its canonical request form.
fn canonical(e: &NewEvent) -> Value {
    let mut v = json!({ "event": e.event_name, "metadata": e.metadata });
    if e.actor_id.is_some() || e.actor_email.is_some() {
        v["actor"] = json!({ "id": e.actor_id, "email": e.actor_email });
    }
    if let Some(ip) = &e.user_ip {
        v["user_ip"] = json!(ip);
    }
    v
}

fn round_trip(events: &[NewEvent]) {
    let items: Vec<Value> = events.iter().map(canonical).collect();
    // Rewriting an alias adds `_original_event`, which can push an event at the size limit
    // over it; those are legitimately refused.
    if items
        .iter()
        .any(|v| serde_json::to_vec(v).unwrap().len() > MAX_EVENT_BYTES)
    {
        return;
    }
    let body = serde_json::to_vec(&json!({ "events": items })).unwrap();
    let again = match parse_collect_body(&body) {
        Ok(again) => again,
        Err(e) => panic!(
            "canonical form refused: {e:?}\n{}",
            String::from_utf8_lossy(&body)
        ),
    };
    assert_eq!(again, events, "canonical form parses differently");
}

/// The body, accepted as `/collect` accepts it, comes out of the consumer's decoder as exactly
/// the events parsed above, in order, with the ids the request answered.
fn decodes_in_the_consumer(body: &[u8], events: &[NewEvent]) {
    let org = OrgId("org_fuzz".into());
    let accepted = accept(body, &org, Plan::Pro, UnixMs(1_769_764_500_000), None, || {
        json!({"country": "DE"})
    })
    .unwrap_or_else(|e| panic!("parsed but not accepted: {e:?}"));
    assert_eq!(accepted.ids.len(), events.len());
    let mut decoded = Vec::new();
    for m in &accepted.messages {
        let d = QueueMessage::parse(&m.body)
            .unwrap_or_else(|e| panic!("accepted message does not decode: {e}\n{}", m.body));
        assert_eq!(d.events.len(), m.events);
        decoded.extend(d.events);
    }
    assert_eq!(decoded.len(), events.len(), "events lost between request and consumer");
    for ((got, want), id) in decoded.iter().zip(events).zip(&accepted.ids) {
        assert_eq!(&got.id, id);
        assert_eq!(got.org_id, org);
        let same = got.event_name == want.event_name
            && got.actor_id == want.actor_id
            && got.actor_email == want.actor_email
            && got.user_ip == want.user_ip
            && got.metadata == want.metadata;
        assert!(same, "the consumer decodes another event:\n{got:?}\n{want:?}");
    }
}
