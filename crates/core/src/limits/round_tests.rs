//! One group-commit round against an in-memory limiter and queue and SQLite: messages made by
//! `ingest::accept`, as `/collect` makes them.

use super::*;
use crate::ingest::accept;
use crate::limits::plan::Plan;
use crate::testing::{run, MemoryLimiter, MemoryQueue, SqliteDb};
use serde_json::{json, Value};

const NOW: UnixMs = UnixMs(1_769_764_500_000);

fn org() -> OrgId {
    OrgId("org_a".into())
}

/// A `/collect` claim of `events` copies of `event`, under `limits`.
fn claim(limits: &Limits, events: usize, event: Value) -> Claim {
    let body = json!({ "events": vec![event; events] });
    let a = accept(
        body.to_string().as_bytes(),
        &org(),
        Plan::Pro,
        NOW,
        None,
        || Value::Null,
    )
    .unwrap();
    Claim::events(limits, a.ids.len() as u64, a.messages, a.hold)
}

fn limits(monthly: u64) -> Limits {
    Limits {
        rate_per_minute: Some(100),
        monthly_events: Some(monthly),
        retention_days: 30,
    }
}

/// A limiter, a queue and D1 for one organisation's rounds.
struct World {
    limiter: MemoryLimiter,
    queue: MemoryQueue,
    db: SqliteDb,
}

impl World {
    fn new() -> World {
        World {
            limiter: MemoryLimiter::at(NOW),
            queue: MemoryQueue::default(),
            db: SqliteDb::migrated(),
        }
    }

    /// One round of `claims`, with `fault` striking.
    fn round(&self, claims: Vec<Claim>, fault: Option<&str>) -> (Vec<Settled>, Vec<String>) {
        let org = org();
        let now = || NOW;
        let strikes = move |name: &str| fault == Some(name);
        let env = RoundEnv {
            org: &org,
            limiter: Ok(self.limiter.clone()),
            queue: Ok(&self.queue),
            db: Ok(&self.db),
            now: &now,
            strikes: &strikes,
        };
        run(super::run(env, claims))
    }
}

#[test]
fn a_request_over_the_quota_is_refused_alone_and_sends_nothing() {
    let w = World::new();
    let l = limits(10);
    let e = json!({"event": "a.b"});
    let (settled, _) = w.round(
        vec![
            claim(&l, 4, e.clone()),
            claim(&l, 7, e.clone()),
            Claim::rate_only(&l, Budget::Events),
            claim(&l, 6, e),
        ],
        None,
    );
    let denied: Vec<bool> = settled
        .iter()
        .map(|s| s.limits.as_ref().unwrap().denied.is_some())
        .collect();
    assert_eq!(
        denied,
        [false, true, false, false],
        "4 + 6 fit in 10; 7 did not after 4"
    );
    assert!(settled.iter().all(|s| s.unsent == 0));
    let sent: usize = w
        .queue
        .bodies()
        .iter()
        .map(|b| {
            serde_json::from_str::<Value>(b).unwrap()["events"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(sent, 10, "only the granted requests' events went out");
    assert_eq!(w.limiter.state.borrow().used, 10);
}

#[test]
fn a_failed_send_leaves_each_request_exactly_its_own_unsent_events() {
    let w = World::new();
    let l = limits(1_000_000);
    // ~30 KB events: a request of 6 fills most of one 200 KiB send, so the next request goes
    // in a second send (with the small third one), and that send fails.
    let big = json!({"event": "a.b", "metadata": {"pad": "x".repeat(30_000)}});
    w.queue.fail_after.set(Some(1));
    let (settled, notes) = w.round(
        vec![
            claim(&l, 6, big.clone()),
            claim(&l, 2, big.clone()),
            claim(&l, 1, json!({"event": "a.b"})),
        ],
        None,
    );
    let unsent: Vec<u64> = settled.iter().map(|s| s.unsent).collect();
    assert_eq!(
        unsent,
        [0, 2, 1],
        "the first request's send went out; the rest did not"
    );
    assert!(
        notes.iter().any(|n| n.starts_with("enqueue failed")),
        "{notes:?}"
    );
}

#[test]
fn a_split_request_that_cannot_commit_counts_every_event_unsent() {
    let w = World::new();
    let l = limits(1_000_000);
    // 100 events of ~3 KB: more than one send carries, so the request is held.
    let split = || {
        claim(
            &l,
            100,
            json!({"event": "data.export", "metadata": {"pad": "y".repeat(3000)}}),
        )
    };
    assert!(split().hold.is_some());
    let (settled, _) = w.round(vec![split()], None);
    assert_eq!(settled[0].unsent, 0);
    assert_eq!(
        w.db.count(
            "SELECT count(*) FROM held_commits WHERE org_id = 'org_a'",
            &[]
        ),
        1
    );

    let (settled, notes) = w.round(
        vec![split(), claim(&l, 1, json!({"event": "a.b"}))],
        Some("hold_commit"),
    );
    assert_eq!(
        settled[0].unsent, 100,
        "the whole split request refunds and fails"
    );
    assert_eq!(settled[1].unsent, 0, "its neighbour is unaffected");
    assert!(
        notes.iter().any(|n| n.contains("not committed")),
        "{notes:?}"
    );
    assert_eq!(w.db.count("SELECT count(*) FROM held_commits", &[]), 1);
}

#[test]
fn an_unavailable_limiter_fails_every_request_and_sends_nothing() {
    let w = World::new();
    w.limiter.down.set(true);
    let l = limits(10);
    let (settled, _) = w.round(
        vec![
            claim(&l, 1, json!({"event": "a.b"})),
            Claim::rate_only(&l, Budget::Events),
        ],
        None,
    );
    for s in &settled {
        assert_eq!(s.limits.as_ref().unwrap_err().status(), 503);
    }
    assert!(w.queue.sent.borrow().is_empty());
}
