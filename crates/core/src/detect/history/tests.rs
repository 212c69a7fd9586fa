//! The rounds are driven against [`model`], an in-memory table that answers each handed-out
//! read the way its SQL does (newest rows first, up to the statement's bound); results are
//! compared with per-event reads of the same table. The SQL itself runs on SQLite in
//! `sql_tests.rs`, with rows at every window edge, and in the end-to-end tests.

use super::model::{self, Stored};
use super::*;
use crate::detect::{history_request, DetectionConfig, SUCCESSFUL_LOGIN_NAME};
use crate::limits::plan::Plan;
use serde_json::json;

const FAILED: &str = "auth.login_failed";

fn event(id: &str, name: &str, at: i64, ip: &str, actor: &str) -> DetectionEvent {
    let mut e = DetectionEvent::new(id, name, UnixMs(at));
    e.source_ip = Some(ip.into());
    e.actor_id = Some(actor.into());
    e
}

/// Runs every round against `table`; returns the histories and the statements per round.
fn run(table: &[Stored], batch: &[(&'static str, DetectionEvent)]) -> (Vec<History>, Vec<usize>) {
    let batch: Vec<(DetectionEvent, String)> = batch
        .iter()
        .map(|(org, e)| (e.clone(), org.to_string()))
        .collect();
    let (histories, rounds) = model::run(table, &batch, Plan::Pro).unwrap();
    assert!(rounds.len() <= 2, "at most two rounds");
    for (sql, params) in rounds.iter().flatten() {
        assert!(sql.contains("org_id = g.org"), "{sql}");
        assert_eq!(params.len(), 1);
    }
    (histories, rounds.iter().map(Vec::len).collect())
}

/// The history one event's own reads would give.
fn reference(table: &[Stored], org: &str, e: &DetectionEvent) -> History {
    let req = history_request(e, Plan::Pro, &DetectionConfig::default());
    model::per_event(table, org, e, &req)
}

fn stored(org: &str, events: impl IntoIterator<Item = DetectionEvent>) -> Vec<Stored> {
    events
        .into_iter()
        .map(|event| Stored {
            org: org.into(),
            event,
        })
        .collect()
}

#[test]
fn a_brute_force_flood_is_read_once_per_key_and_counts_like_per_event_reads() {
    // 1,300 failures from one IP against one account; the queue batch holds the last 250.
    let all: Vec<DetectionEvent> = (0..1300)
        .map(|i| {
            event(
                &format!("f{i:05}"),
                FAILED,
                1_000_000 + i * 10,
                "203.0.113.9",
                "alice",
            )
        })
        .collect();
    let table = stored("o", all.clone());
    let batch: Vec<_> = all[1050..].iter().map(|e| ("o", e.clone())).collect();
    let (histories, rounds) = run(&table, &batch);
    assert_eq!(rounds, vec![2], "one statement per part, one round");
    for ((_, e), h) in batch.iter().zip(&histories) {
        let want = reference(&table, "o", e);
        assert_eq!(h.ip_failed_logins, want.ip_failed_logins, "{}", e.id);
        assert_eq!(h.actor_failed_logins, want.actor_failed_logins, "{}", e.id);
    }
    // The failures are 10 ms apart, so both windows hold every earlier one, up to the bound.
    let newest = histories.last().unwrap();
    assert_eq!(newest.ip_failed_logins.len(), MAX_ROWS);
    assert_eq!(
        newest.actor_failed_logins.len(),
        MAX_ROWS,
        "bounded like a per-event read"
    );
}

#[test]
fn a_member_whose_window_the_bound_cut_is_read_again_on_its_own() {
    // An old failure redelivered late, behind 1,500 newer failures of the same account.
    let newer: Vec<DetectionEvent> = (0..1500)
        .map(|i| {
            event(
                &format!("n{i:05}"),
                FAILED,
                2_000_000 + i,
                "198.51.100.1",
                "bob",
            )
        })
        .collect();
    let old = event("old", FAILED, 1_999_000, "198.51.100.1", "bob");
    let earlier = event("earlier", FAILED, 1_998_000, "198.51.100.1", "bob");
    let mut table = stored("o", newer.clone());
    table.extend(stored("o", [old.clone(), earlier]));
    let batch = vec![("o", old.clone()), ("o", newer.last().unwrap().clone())];
    let (histories, rounds) = run(&table, &batch);
    assert_eq!(
        rounds,
        vec![2, 2],
        "the late member's reads are repeated alone"
    );
    let want = reference(&table, "o", &old);
    assert_eq!(histories[0].actor_failed_logins, want.actor_failed_logins);
    assert_eq!(histories[0].ip_failed_logins, want.ip_failed_logins);
    assert_eq!(
        histories[0].actor_failed_logins.len(),
        1,
        "only `earlier` precedes it"
    );
}

#[test]
fn reads_are_never_shared_across_organisations() {
    let a = event("a1", FAILED, 5_000_000, "192.0.2.1", "carol");
    let b = event("b1", FAILED, 5_000_001, "192.0.2.1", "carol");
    let table = stored(
        "org_a",
        [
            event("a0", FAILED, 4_999_000, "192.0.2.1", "carol"),
            a.clone(),
        ],
    )
    .into_iter()
    .chain(stored("org_b", [b.clone()]))
    .collect::<Vec<_>>();
    let (h, rounds) = run(&table, &[("org_a", a), ("org_b", b)]);
    assert_eq!(rounds, vec![2]);
    assert_eq!(h[0].ip_failed_logins.len(), 1);
    assert!(
        h[1].ip_failed_logins.is_empty(),
        "org_b sees nothing of org_a"
    );
}

fn login(id: &str, at: i64, actor: &str, country: &str, device: &str) -> DetectionEvent {
    let mut e = event(id, SUCCESSFUL_LOGIN_NAME, at, "192.0.2.7", actor);
    (e.latitude, e.longitude) = (Some(48.8), Some(2.3));
    e.country = Some(country.into());
    e.device = Some(device.into());
    e
}

#[test]
fn behavioural_reads_match_per_event_reads_inside_a_burst() {
    let day = 86_400_000;
    let mut events = vec![login("p0", 10 * day, "dave", "FR", "d1")];
    // A burst of 40 logins, alternating countries and devices, one of them new.
    events.extend((0..40).map(|i| {
        let (c, d) = if i % 2 == 0 {
            ("FR", "d1")
        } else {
            ("DE", "d2")
        };
        login(&format!("b{i:03}"), 30 * day + i * 1000, "dave", c, d)
    }));
    let table = stored("o", events.clone());
    let batch: Vec<_> = events[1..].iter().map(|e| ("o", e.clone())).collect();
    let (histories, rounds) = run(&table, &batch);
    assert!(rounds.len() <= 2);
    for ((_, e), h) in batch.iter().zip(&histories) {
        let want = reference(&table, "o", e);
        let values = |s: &[Sighting]| {
            s.iter()
                .map(|s| s.value.clone())
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(
            values(&h.actor_countries),
            values(&want.actor_countries),
            "{}",
            e.id
        );
        assert_eq!(
            values(&h.actor_devices),
            values(&want.actor_devices),
            "{}",
            e.id
        );
        assert_eq!(
            h.actor_has_prior_event, want.actor_has_prior_event,
            "{}",
            e.id
        );
        assert_eq!(h.actor_logins, want.actor_logins, "{}", e.id);
    }
    // p0 is 20 days before the burst: inside the 28-day memory, so FR is known from the start.
    assert!(histories[0].actor_countries.iter().any(|s| s.value == "FR"));
    assert!(histories[0].actor_has_prior_event);
}

#[test]
fn an_earlier_sighting_hidden_behind_newer_ones_is_read_again() {
    let day = 86_400_000;
    // The trigger is older than 40 newer FR logins stored by a concurrent batch; its own
    // country FR was also seen a day before it.
    let seen = login("seen", 5 * day, "erin", "FR", "d1");
    let trigger = login("late", 6 * day, "erin", "FR", "d1");
    let newer: Vec<_> = (0..40)
        .map(|i| login(&format!("n{i:03}"), 7 * day + i, "erin", "FR", "d1"))
        .collect();
    let mut table = stored("o", [seen, trigger.clone()]);
    table.extend(stored("o", newer.clone()));
    let batch = vec![("o", trigger.clone()), ("o", newer[39].clone())];
    let (h, rounds) = run(&table, &batch);
    assert_eq!(rounds.len(), 2, "the hidden sighting forces a second round");
    assert!(h[0].actor_countries.iter().any(|s| s.event_id == "seen"));
}

#[test]
fn rows_of_an_unknown_shape_are_an_error() {
    let e = event("x", FAILED, 1, "192.0.2.1", "u");
    let mut reads = HistoryReads::new(vec![(
        e.clone(),
        "o".into(),
        history_request(&e, Plan::Free, &DetectionConfig::default()),
    )]);
    let statements = reads.statements();
    let bad = statements
        .iter()
        .map(|_| vec![json!({"g": 0, "rows": "[{\"x\":1}]"})])
        .collect();
    assert!(reads.absorb(bad).is_err());
}

#[test]
fn events_without_needs_hand_out_nothing() {
    let e = DetectionEvent::new("q", "data.export", UnixMs(9));
    let mut reads = HistoryReads::new(vec![(e.clone(), "o".into(), HistoryRequest::default())]);
    assert!(reads.statements().is_empty());
    assert_eq!(reads.into_histories(), vec![(e, History::default())]);
}
