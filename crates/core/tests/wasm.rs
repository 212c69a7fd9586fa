//! The core compiled to wasm32 behaves like the native build: time formatting, randomness
//! (UUID v4 through the JS CSPRNG), SHA-256 and serde. Run with
//! `cargo test -p edgesoc-core --target wasm32-unknown-unknown --test wasm` (wasm-bindgen-test-runner
//! under Node). On native targets the same checks run as ordinary tests.

#[cfg(not(target_arch = "wasm32"))]
use std::prelude::v1::test as check;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as check;

use edgesoc_core::access::ids::{ApiKey, EventId};
use edgesoc_core::ingest::message::{pack, QueueMessage};
use edgesoc_core::ingest::parse_collect_body;
use edgesoc_core::ingest::record::EventRecord;
use edgesoc_core::limits::limiter::{decide_rate, Bucket};
use edgesoc_core::time::UnixMs;

#[check]
fn time_formats_like_native() {
    let t = UnixMs(1_769_764_500_123);
    assert_eq!(t.iso_millis(), "2026-01-30T09:15:00.123Z");
    assert_eq!(t.month().key(), "2026-01");
    assert_eq!(t.month().end().iso_millis(), "2026-02-01T00:00:00.000Z");
}

#[check]
fn uuids_are_random_v4() {
    let ids: std::collections::HashSet<String> =
        (0..200).map(|_| EventId::new_v4().to_string()).collect();
    assert_eq!(ids.len(), 200);
    assert!(ids
        .iter()
        .all(|i| EventId::parse(i).is_some_and(|e| e.0.get_version_num() == 4)));
}

#[check]
fn sha256_matches_the_known_vector() {
    assert_eq!(
        ApiKey::from_header("abc").unwrap().hash().0,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[check]
fn validation_and_serde_round_trip() {
    let body = br#"{"events":[{"event":"Auth.Login.Failed","actor":"u1","user_ip":"203.0.113.5","metadata":{"n":1.5}},{"event":"data.export"}]}"#;
    let events = parse_collect_body(body).unwrap();
    assert_eq!(events[0].event_name, "auth.login_failed");
    let org = edgesoc_core::access::ids::OrgId("org_1".into());
    let rec = EventRecord::assign(events[0].clone(), &org, EventId::new_v4(), UnixMs(1), None);
    let bodies = pack(
        std::slice::from_ref(&rec),
        edgesoc_core::limits::plan::Plan::Pro,
        &serde_json::Value::Null,
    )
    .unwrap();
    assert_eq!(
        QueueMessage::parse(&bodies[0].body).unwrap().events,
        vec![rec]
    );
    let err = parse_collect_body(br#"{"events":[{"event":"x"}]}"#).unwrap_err();
    assert_eq!(err.details[0].index, Some(0));
}

#[check]
fn rate_decisions_match_native() {
    let d = decide_rate(
        &[
            Bucket {
                sec: 1000,
                count: 3,
                budget: Default::default(),
            },
            Bucket {
                sec: 1030,
                count: 2,
                budget: Default::default(),
            },
        ],
        1_040_500,
        Some(5),
    );
    assert_eq!((d.allowed, d.retry_after), (false, Some(20)));
}
