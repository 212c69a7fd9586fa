//! `POST /collect` bodies: `parse_collect_body` on arbitrary bytes (api-contract §5.1, §9.9).
//!
//! Checks, beyond "no panic":
//! * `Ok` holds 1–100 events; every name is `category.action` (dot-separated non-empty
//!   segments of `[a-z0-9_-]`, at most 100 characters); actor id ≤ 255, email ≤ 320 and
//!   `user_ip` ≤ 64 characters; actor id/email are trimmed and non-empty;
//! * an error is a 400 with 1–100 named details, or a 413;
//! * accepted events are a fixed point: written back as a batch of canonical events, they
//!   parse to the same events (floats in metadata up to the last bit, see `same_value`).
#![no_main]

use edgesoc_core::ingest::{
    parse_collect_body, NewEvent, MAX_ACTOR_EMAIL, MAX_ACTOR_ID, MAX_BATCH, MAX_EVENT_BYTES,
    MAX_EVENT_NAME, MAX_USER_IP,
};
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
        // The batch wrapper (and `{"_value": …}` around non-object metadata) nests deeper than
        // the input did; at serde_json's depth limit of 128 that is legitimately refused.
        Err(e) if e.message.contains("recursion limit exceeded") => return,
        Err(e) => panic!(
            "canonical form refused: {e:?}\n{}",
            String::from_utf8_lossy(&body)
        ),
    };
    assert_eq!(again.len(), events.len());
    for (a, e) in again.iter().zip(events) {
        let same = a.event_name == e.event_name
            && a.actor_id == e.actor_id
            && a.actor_email == e.actor_email
            && a.user_ip == e.user_ip
            && same_value(
                &Value::Object(a.metadata.clone()),
                &Value::Object(e.metadata.clone()),
            );
        assert!(same, "canonical form parses differently:\n{a:?}\n{e:?}");
    }
}

/// Equal JSON, except that floats may differ in the last bit: serde_json without its
/// `float_roundtrip` feature does not round every long decimal correctly, so
/// `parse(print(x))` can be one ulp away from `x` (e.g. an 81-digit integer literal).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= x.abs().max(y.abs()) * 4.0 * f64::EPSILON
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}
