//! "Accepted means decodable": every body `/collect` accepts comes out of the queue consumer's
//! decoder event for event, whatever its sizes, escapes, numbers, unicode or nesting. The
//! `collect_body` fuzz target checks the same on arbitrary bytes.
#![cfg(not(target_arch = "wasm32"))]

use edgesoc_core::access::ids::OrgId;
use edgesoc_core::ingest::message::QueueMessage;
use edgesoc_core::ingest::{accept, parse_collect_body, MAX_METADATA_DEPTH};
use edgesoc_core::limits::plan::Plan;
use edgesoc_core::time::UnixMs;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{json, Map, Number, Value};
use std::cell::Cell;

/// Any JSON scalar, with the awkward ones well represented.
fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        (-1e-300f64..1e-300).prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        any::<String>().prop_map(Value::String),
        "[\\x00-\\x1f\"\\\\/\u{7f}\u{2028}\u{fffd}\u{1f600}]{0,8}".prop_map(Value::String),
    ]
}

/// JSON values nested up to `depth` levels of objects and arrays.
fn value(depth: u32) -> impl Strategy<Value = Value> {
    scalar().prop_recursive(depth, 64, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A chain of `levels` nested containers around a scalar, to reach the depth bound exactly.
fn chain(levels: usize, leaf: Value) -> Value {
    (0..levels).fold(leaf, |inner, i| {
        if i % 2 == 0 {
            json!([inner])
        } else {
            json!({ "k": inner })
        }
    })
}

fn event() -> impl Strategy<Value = Value> {
    let name = prop_oneof![
        Just("auth.login_failed".to_string()),
        Just("admin.privilege_escalation".to_string()),
        Just(" Auth.Login.Success ".to_string()),
        "[a-z0-9_-]{1,8}\\.[a-z0-9_-]{1,8}",
    ];
    let actor = prop_oneof![
        Just(Value::Null),
        any::<String>().prop_map(Value::String),
        (any::<String>(), any::<String>())
            .prop_map(|(id, email)| json!({"id": id, "email": email})),
        any::<u64>().prop_map(|n| json!(n)),
    ];
    let ip = prop_oneof![
        Just(Value::Null),
        Just(json!("203.0.113.50")),
        Just(json!("2001:db8::1")),
        "[0-9a-f:.]{0,64}".prop_map(Value::String),
    ];
    let metadata = prop_oneof![
        6 => value(6),
        // Around the request's bound, and around serde_json's own limit of 128.
        2 => (0..=MAX_METADATA_DEPTH + 2, scalar()).prop_map(|(levels, leaf)| chain(levels, leaf)),
        1 => (120..=130usize, scalar()).prop_map(|(levels, leaf)| chain(levels, leaf)),
    ];
    (name, actor, ip, metadata).prop_map(|(name, actor, ip, metadata)| {
        json!({"event": name, "actor": actor, "user_ip": ip, "metadata": metadata})
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        event().prop_map(|e| e.to_string().into_bytes()),
        prop::collection::vec(event(), 1..12)
            .prop_map(|events| json!({ "events": events }).to_string().into_bytes()),
        // Pretty-printed: other whitespace, same meaning.
        event().prop_map(|e| serde_json::to_vec_pretty(&e).unwrap()),
    ]
}

/// Checks one body; whether it was accepted.
fn check(body: &[u8]) -> bool {
    let org = OrgId("org_prop".into());
    let Ok(accepted) = accept(
        body,
        &org,
        Plan::Pro,
        UnixMs(1_769_764_500_000),
        None,
        || json!({"country": "DE"}),
    ) else {
        return false;
    };
    let sent = parse_collect_body(body).expect("accepted bodies parse");
    let mut decoded = Vec::new();
    for m in &accepted.messages {
        let d = QueueMessage::parse(&m.body)
            .unwrap_or_else(|e| panic!("an accepted message does not decode: {e}\n{}", m.body));
        assert_eq!(d.events.len(), m.events);
        assert_eq!(d.hold, accepted.hold);
        decoded.extend(d.events);
    }
    assert_eq!(decoded.len(), sent.len());
    for ((got, want), id) in decoded.iter().zip(&sent).zip(&accepted.ids) {
        assert_eq!(&got.id, id);
        assert_eq!(got.org_id, org);
        assert_eq!(got.event_name, want.event_name);
        assert_eq!(got.actor_id, want.actor_id);
        assert_eq!(got.actor_email, want.actor_email);
        assert_eq!(got.user_ip, want.user_ip);
        assert_eq!(got.metadata, want.metadata, "metadata changed on the way");
    }
    true
}

#[test]
fn accepted_bodies_decode_unchanged() {
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 500,
        ..ProptestConfig::default()
    });
    let (cases, accepted) = (Cell::new(0), Cell::new(0));
    runner
        .run(&body(), |body| {
            cases.set(cases.get() + 1);
            accepted.set(accepted.get() + usize::from(check(&body)));
            Ok(())
        })
        .unwrap();
    let (cases, accepted) = (cases.get(), accepted.get());
    // The generator must mostly make bodies /collect accepts, or the property says little.
    assert!(accepted * 2 > cases, "{accepted} of {cases} accepted");
}

#[test]
fn the_depth_bound_is_accepted_and_decodes_one_level_more_is_refused() {
    for leaf in [json!(1), json!("x"), json!({}), json!([])] {
        let inner = chain(MAX_METADATA_DEPTH - 1, leaf.clone());
        let at_limit = json!({"event": "admin.privilege_escalation", "metadata": {"m": inner}});
        let batch = json!({ "events": [at_limit, at_limit] });
        for body in [&at_limit, &batch] {
            let bytes = body.to_string().into_bytes();
            let ok = accept(
                &bytes,
                &OrgId("o".into()),
                Plan::Free,
                UnixMs(0),
                None,
                || Value::Null,
            );
            let leaf_nests = leaf.is_object() || leaf.is_array();
            assert_eq!(ok.is_ok(), !leaf_nests, "{leaf}");
            assert_eq!(check(&bytes), !leaf_nests);
        }
    }
    // Around serde_json's own limit (where 125 and 126 once passed /collect and failed the
    // consumer): every depth is either refused or decodes.
    for levels in 120..=130 {
        let body = json!({"event": "a.b", "metadata": {"m": chain(levels, json!(1))}});
        let bytes = body.to_string().into_bytes();
        assert!(accept(
            &bytes,
            &OrgId("o".into()),
            Plan::Free,
            UnixMs(0),
            None,
            || Value::Null
        )
        .is_err());
    }
}
