//! The consumer's flow on real SQL (SQLite with every migration) and an in-memory limiter:
//! messages made by `ingest::accept`, exactly as `/collect` makes them.

use super::*;
use crate::access::ids::OrgId;
use crate::api::sql::SqlParam;
use crate::ingest::accept;
use crate::ingest::incidents::UNDECODABLE_MESSAGE;
use crate::testing::{run, MemoryLimiter, MemoryQueue, SqliteDb};
use serde_json::{json, Value};
use std::cell::Cell;

const NOW: UnixMs = UnixMs(1_769_764_500_000);

struct Fixture {
    db: SqliteDb,
    limiter: MemoryLimiter,
    deliveries: MemoryQueue,
    fault: Cell<Option<&'static str>>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            db: SqliteDb::migrated(),
            limiter: MemoryLimiter::at(NOW),
            deliveries: MemoryQueue::default(),
            fault: Cell::new(None),
        }
    }

    fn consume(&self, messages: &[Delivered]) -> (Vec<Ack>, Vec<String>) {
        let limiter = self.limiter.clone();
        let limiter_for = move |_: &OrgId| Ok(limiter.clone());
        let strikes = |name: &str| self.fault.get() == Some(name);
        let env = ConsumeEnv {
            db: &self.db,
            primary: None::<&SqliteDb>,
            deliveries: Some(&self.deliveries),
            limiter_for: &limiter_for,
            lists: NetworkLists::shipped(),
            now: NOW,
            catch_up_every_ms: 0,
            strikes: &strikes,
        };
        run(consume(&env, messages))
    }

    fn count(&self, sql: &str) -> i64 {
        self.db.count(sql, &[])
    }
}

/// The messages `/collect` would enqueue for `body` from organisation `org`.
fn messages(org: &str, body: Value) -> Vec<Delivered> {
    let accepted = accept(
        body.to_string().as_bytes(),
        &OrgId(org.into()),
        Plan::Pro,
        NOW,
        Some("198.51.100.4".into()),
        || Value::Null,
    )
    .expect("accepted");
    accepted
        .messages
        .into_iter()
        .enumerate()
        .map(|(i, p)| Delivered {
            id: format!("m{i}"),
            body: Some(p.body),
            age_ms: 0,
        })
        .collect()
}

fn redelivered(m: &[Delivered]) -> Vec<Delivered> {
    m.iter()
        .map(|d| Delivered {
            id: format!("{}-again", d.id),
            ..d.clone()
        })
        .collect()
}

#[test]
fn a_batch_is_stored_once_however_often_it_is_delivered() {
    let f = Fixture::new();
    let batch = messages(
        "org_a",
        json!({"events": [
            {"event": "auth.login_failed", "actor": "u1", "user_ip": "203.0.113.9"},
            {"event": "admin.privilege_escalation", "actor": "mallory"},
            {"event": "data.export", "actor": "u2"},
        ]}),
    );
    let (acks, notes) = f.consume(&batch);
    assert_eq!(acks, vec![Ack::Ack; batch.len()], "{notes:?}");
    let state = || {
        (
            f.count("SELECT count(*) FROM events WHERE org_id = 'org_a'"),
            f.count("SELECT count(*) FROM items WHERE org_id = 'org_a' AND event_id IS NOT NULL"),
            f.count("SELECT count(*) FROM alerts WHERE org_id = 'org_a'"),
            f.count("SELECT coalesce(sum(json_extract(metadata, '$.occurrences')), 0) FROM alerts"),
        )
    };
    assert_eq!(
        state(),
        (3, 3, 1, 1),
        "events, log items, one instant alert"
    );
    for _ in 0..2 {
        let (acks, _) = f.consume(&redelivered(&batch));
        assert_eq!(acks, vec![Ack::Ack; batch.len()]);
    }
    assert_eq!(state(), (3, 3, 1, 1), "redelivery changes nothing");
    assert_eq!(
        f.count("SELECT count(*) FROM logs"),
        0,
        "each event is one row: its log item is in it"
    );
}

#[test]
fn a_failed_insert_retries_everything_and_stores_nothing_half() {
    let f = Fixture::new();
    let batch = messages(
        "org_a",
        json!({"events": [{"event": "a.b"}, {"event": "c.d"}]}),
    );
    f.fault.set(Some("consumer_insert"));
    let (acks, _) = f.consume(&batch);
    assert_eq!(acks, vec![Ack::Retry]);
    assert_eq!(f.count("SELECT count(*) FROM events"), 0);
    // D1 itself failing the insert: the events, their log items and the rollups roll back together.
    f.fault.set(None);
    *f.db.fail_on.borrow_mut() = Some("INSERT OR IGNORE INTO events".into());
    assert_eq!(f.consume(&batch).0, vec![Ack::Retry]);
    assert_eq!(
        f.count("SELECT count(*) FROM events") + f.count("SELECT count(*) FROM logs"),
        0
    );
    *f.db.fail_on.borrow_mut() = None;
    assert_eq!(f.consume(&batch).0, vec![Ack::Ack]);
    assert_eq!(f.count("SELECT count(*) FROM events"), 2);
}

#[test]
fn a_failure_after_the_insert_is_retried_and_redelivery_stays_exact() {
    let f = Fixture::new();
    let batch = messages(
        "org_a",
        json!({"event": "admin.privilege_escalation", "actor": "m"}),
    );
    f.fault.set(Some("consumer_fail_after_insert"));
    for _ in 0..3 {
        assert_eq!(f.consume(&redelivered(&batch)).0, vec![Ack::Retry]);
    }
    f.fault.set(None);
    assert_eq!(f.consume(&batch).0, vec![Ack::Ack]);
    assert_eq!(f.count("SELECT count(*) FROM events"), 1);
    assert_eq!(f.count("SELECT count(*) FROM items"), 1);
    assert_eq!(f.count("SELECT count(*) FROM logs"), 0);
    assert_eq!(f.count("SELECT count(*) FROM alerts"), 1);
    assert_eq!(
        f.count("SELECT json_extract(metadata, '$.occurrences') FROM alerts"),
        1
    );
}

#[test]
fn an_undecodable_message_is_an_incident_refunded_once_and_its_neighbours_are_stored() {
    let f = Fixture::new();
    let good = messages("org_a", json!({"event": "a.b"})).remove(0);
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let ids = [
        "6ba7b810-9dad-41d1-80b4-00c04fd430c8",
        "6ba7b811-9dad-41d1-80b4-00c04fd430c8",
    ];
    let events: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"id":"{id}","org_id":"org_a","created_at":{},"metadata":{{"m":{deep}}}}}"#,
                NOW.0
            )
        })
        .collect();
    let poison = Delivered {
        id: "poison".into(),
        body: Some(format!(
            r#"{{"v":2,"plan":"pro","events":[{}]}}"#,
            events.join(",")
        )),
        age_ms: 0,
    };
    let garbage = Delivered {
        id: "garbage".into(),
        body: None,
        age_ms: 0,
    };
    f.limiter.state.borrow_mut().used = 10;
    let (acks, notes) = f.consume(&[poison.clone(), good, garbage]);
    assert_eq!(acks, vec![Ack::Ack; 3]);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("INCIDENT") && n.contains(ids[0])),
        "{notes:?}"
    );
    assert_eq!(
        f.count("SELECT count(*) FROM events"),
        1,
        "the good neighbour"
    );
    let rows = f.db.rows("SELECT * FROM incidents ORDER BY id", &[]);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["org_id"], "", "garbage: no organisation");
    assert_eq!(rows[1]["org_id"], "org_a");
    assert_eq!(rows[1]["kind"], UNDECODABLE_MESSAGE);
    assert_eq!(rows[1]["events"], 2);
    assert_eq!(rows[1]["refunded"], 1);
    assert_eq!(f.limiter.state.borrow().used, 8, "two events refunded");
    // Delivered again (the same queue message id): recorded and refunded once.
    assert_eq!(f.consume(&[poison]).0, vec![Ack::Ack]);
    assert_eq!(f.limiter.state.borrow().used, 8);
    assert_eq!(f.count("SELECT count(*) FROM incidents"), 2);
    assert_eq!(
        *f.limiter.refunds.borrow(),
        vec![(2, NOW.month().key())],
        "one refund, in the month the events were accepted"
    );
}

#[test]
fn an_incident_that_cannot_be_recorded_or_refunded_is_retried() {
    let f = Fixture::new();
    let poison = Delivered {
        id: "p".into(),
        body: Some(format!(
            r#"{{"v":9,"events":[{{"id":"6ba7b810-9dad-41d1-80b4-00c04fd430c8","org_id":"org_a","created_at":{}}}]}}"#,
            NOW.0
        )),
        age_ms: 0,
    };
    f.limiter.down.set(true);
    assert_eq!(f.consume(std::slice::from_ref(&poison)).0, vec![Ack::Retry]);
    assert_eq!(
        f.count("SELECT refunded FROM incidents"),
        0,
        "recorded, not refunded yet"
    );
    f.limiter.down.set(false);
    f.limiter.state.borrow_mut().used = 1;
    assert_eq!(f.consume(&[poison]).0, vec![Ack::Ack]);
    assert_eq!(f.count("SELECT refunded FROM incidents"), 1);
    assert_eq!(f.limiter.state.borrow().used, 0);
}

#[test]
fn a_held_message_waits_for_its_commit_and_is_dropped_when_none_can_come() {
    let f = Fixture::new();
    let held = |hold: &str, org: &str, age_ms: i64| {
        let mut m = messages(org, json!({"event": "a.b"})).remove(0);
        let mut body: Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
        body["hold"] = json!(hold);
        m.body = Some(body.to_string());
        m.age_ms = age_ms;
        m.id = format!("{hold}-{age_ms}");
        m
    };
    f.db.exec(
        "INSERT INTO held_commits (hold, org_id, committed_at) VALUES ('h-other', 'org_b', ?1)",
        &[SqlParam::Number(NOW.0 as f64)],
    );
    let batch = [
        held("h-1", "org_a", 0),
        held("h-2", "org_a", hold::DROP_AFTER_MS + 1),
        held("h-other", "org_a", 0), // committed, but by another organisation
    ];
    let (acks, _) = f.consume(&batch);
    assert_eq!(
        acks,
        vec![
            Ack::RetryAfter(hold::RETRY_DELAY_SECONDS),
            Ack::Ack,
            Ack::RetryAfter(hold::RETRY_DELAY_SECONDS)
        ]
    );
    assert_eq!(f.count("SELECT count(*) FROM events"), 0);
    f.db.exec(
        "INSERT INTO held_commits (hold, org_id, committed_at) VALUES ('h-1', 'org_a', ?1)",
        &[SqlParam::Number(NOW.0 as f64)],
    );
    assert_eq!(f.consume(&batch[..1]).0, vec![Ack::Ack]);
    assert_eq!(f.count("SELECT count(*) FROM events"), 1);
}

#[test]
fn a_shards_batch_is_stored_there_enriched_from_the_primarys_ip_tables() {
    // The organisation's data on one database (the shard), the IP tables on another (the
    // primary): the consumer reads each where it lives and writes only to the shard.
    let f = Fixture::new();
    let primary = SqliteDb::migrated();
    primary.exec(
        "INSERT INTO ip_location (id, country_code, city, latitude, longitude) VALUES (7, 'AU', 'Sydney', -33.87, 151.21)",
        &[],
    );
    // 103.4.16.0/24, keyed as scripts/import-ipdb stores ranges.
    primary.exec(
        "INSERT INTO ip_city (ip_start, ip_end, location_id) VALUES ('467041000', '4670410ff', 7)",
        &[],
    );
    let batch = messages(
        "org_a",
        json!({"events": [
            {"event": "auth.login_failed", "actor": "u1", "user_ip": "103.4.16.9"},
            {"event": "admin.privilege_escalation", "actor": "mallory", "user_ip": "103.4.16.9"},
        ]}),
    );
    let limiter = f.limiter.clone();
    let limiter_for = move |_: &OrgId| Ok(limiter.clone());
    let strikes = |_: &str| false;
    let env = ConsumeEnv {
        db: &f.db,
        primary: Some(&primary),
        deliveries: Some(&f.deliveries),
        limiter_for: &limiter_for,
        lists: NetworkLists::shipped(),
        now: NOW,
        catch_up_every_ms: 0,
        strikes: &strikes,
    };
    let (acks, notes) = run(consume(&env, &batch));
    assert_eq!(acks, vec![Ack::Ack; batch.len()], "{notes:?}");
    assert_eq!(
        f.count("SELECT count(*) FROM events WHERE country_code = 'AU' AND city = 'Sydney'"),
        2,
        "stored on the shard, located from the primary's tables"
    );
    assert_eq!(f.count("SELECT count(*) FROM alerts"), 1);
    for table in ["events", "alerts", "log_source_hourly", "event_counts"] {
        assert_eq!(
            primary.count(&format!("SELECT count(*) FROM {table}"), &[]),
            0,
            "nothing of the organisation's on the primary: {table}"
        );
    }
}
