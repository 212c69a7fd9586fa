//! Events of one request keep their order for detection: the rules' order (`precedes`: time,
//! then id) puts every event of a request after the ones it sent before and before the ones
//! after, so no rule treats an event as prior to itself or to a later event of its request, and
//! of any two events exactly one is prior to the other.
#![cfg(not(target_arch = "wasm32"))]

use edgesoc_core::access::ids::OrgId;
use edgesoc_core::detect::{precedes, DetectionEvent};
use edgesoc_core::ingest::accept;
use edgesoc_core::ingest::message::QueueMessage;
use edgesoc_core::limits::plan::Plan;
use edgesoc_core::time::UnixMs;
use proptest::prelude::*;
use serde_json::json;

/// The detection view of a request's events, as the consumer decodes them.
fn decoded(n: usize, at: i64) -> Vec<DetectionEvent> {
    let events: Vec<_> = (0..n)
        .map(|i| json!({"event": "auth.login_success", "actor": "u", "metadata": {"seq": i}}))
        .collect();
    let body = json!({ "events": events }).to_string();
    let a = accept(
        body.as_bytes(),
        &OrgId("o".into()),
        Plan::Pro,
        UnixMs(at),
        None,
        || json!(null),
    )
    .unwrap();
    a.messages
        .iter()
        .flat_map(|m| QueueMessage::parse(&m.body).unwrap().events)
        .map(|r| DetectionEvent::from_record(&r))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn a_request_keeps_its_order_and_the_order_is_total(
        sizes in prop::collection::vec(1usize..30, 1..4),
        gaps in prop::collection::vec(0i64..3, 4),
    ) {
        // Several requests, some in the same millisecond as the one before.
        let mut at = 1_769_764_500_000;
        let mut all: Vec<(usize, usize, DetectionEvent)> = Vec::new();
        for (r, n) in sizes.iter().enumerate() {
            at += gaps[r];
            for (i, e) in decoded(*n, at).into_iter().enumerate() {
                prop_assert_eq!(e.created_at, UnixMs(at), "one receive time per request");
                all.push((r, i, e));
            }
        }
        for (ra, ia, a) in &all {
            prop_assert!(!precedes(a.created_at, &a.id, a.created_at, &a.id), "never prior to itself");
            for (rb, ib, b) in &all {
                if a.id == b.id {
                    continue;
                }
                let ab = precedes(a.created_at, &a.id, b.created_at, &b.id);
                let ba = precedes(b.created_at, &b.id, a.created_at, &a.id);
                prop_assert!(ab != ba, "exactly one of two events is prior to the other");
                if ra == rb {
                    prop_assert_eq!(ab, ia < ib, "a request's own order");
                }
            }
        }
    }
}
