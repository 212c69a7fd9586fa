//! Delivery end to end in the core: an event through the consumer (real SQL), its alert's
//! deliveries planned and queued, then attempted against a scripted receiver.

use super::*;
use crate::access::ids::OrgId;
use crate::alerts::delivery::destination::{insert_statement, NewDestination};
use crate::alerts::delivery::sign;
use crate::ingest::accept;
use crate::ingest::consume::{consume, ConsumeEnv};
use crate::intel::NetworkLists;
use crate::limits::plan::Plan;
use crate::testing::{run, MemoryLimiter, MemoryMailer, MemoryQueue, ScriptedHttp, SqliteDb};
use std::cell::Cell;

const T0: UnixMs = UnixMs(1_769_764_500_000);

struct World {
    db: SqliteDb,
    queue: MemoryQueue,
    http: ScriptedHttp,
    mailer: MemoryMailer,
    now: Cell<UnixMs>,
    settings: Settings,
}

impl World {
    fn new() -> World {
        World {
            db: SqliteDb::migrated(),
            queue: MemoryQueue::default(),
            http: ScriptedHttp::default(),
            mailer: MemoryMailer::default(),
            now: Cell::new(T0),
            settings: Settings {
                policy: Policy::default(),
                timeout_ms: 1000,
                allowed: Allowed {
                    http_loopback: true,
                    email: true,
                },
                pagerduty_url: "http://127.0.0.1:9/pd".into(),
                public_url: "https://soc.example.com".into(),
                email_from: Some("alerts@example.com".into()),
            },
        }
    }

    fn destination(&self, org: &str, id: &str, body: Value) -> Option<String> {
        let d = NewDestination::parse(body.to_string().as_bytes(), self.settings.allowed).unwrap();
        let secret = (d.kind == Kind::Webhook).then(|| sign::new_secret([9; sign::SECRET_BYTES]));
        run(self
            .db
            .batch(&[insert_statement(org, id, &d, secret.as_deref(), T0)]))
        .unwrap();
        secret
    }

    /// `/collect` of `body` for `org` on `plan`, consumed.
    fn collect(&self, org: &str, plan: Plan, body: Value) {
        let a = accept(
            body.to_string().as_bytes(),
            &OrgId(org.into()),
            plan,
            self.now.get(),
            None,
            || Value::Null,
        )
        .unwrap();
        let messages: Vec<Delivered> = a
            .messages
            .into_iter()
            .map(|p| Delivered {
                id: "m".into(),
                body: Some(p.body),
                age_ms: 0,
            })
            .collect();
        let limiter = MemoryLimiter::at(self.now.get());
        let limiter_for = move |_: &OrgId| Ok(limiter.clone());
        let strikes = |_: &str| false;
        let env = ConsumeEnv {
            db: &self.db,
            primary: None::<&SqliteDb>,
            deliveries: Some(&self.queue),
            limiter_for: &limiter_for,
            lists: NetworkLists::shipped(),
            now: self.now.get(),
            catch_up_every_ms: 0,
            strikes: &strikes,
        };
        let (acks, notes) = run(consume(&env, &messages));
        assert!(acks.iter().all(|a| *a == Ack::Ack), "{notes:?}");
    }

    /// Every delivery message sent so far, drained.
    fn take_messages(&self) -> Vec<Delivered> {
        self.queue
            .sent
            .borrow_mut()
            .drain(..)
            .flatten()
            .map(|body| Delivered {
                id: "d".into(),
                body: Some(body),
                age_ms: 0,
            })
            .collect()
    }

    fn deliver(&self, messages: &[Delivered]) -> Vec<Ack> {
        let now = || self.now.get();
        let env = DeliverEnv {
            db: &self.db,
            http: &self.http,
            mailer: Some(&self.mailer),
            settings: &self.settings,
            now: &now,
        };
        run(deliver_batch(&env, messages)).0
    }

    fn count(&self, sql: &str) -> i64 {
        self.db.count(sql, &[])
    }
}

fn instant(actor: &str) -> Value {
    json!({"event": "admin.privilege_escalation", "actor": actor, "user_ip": "203.0.113.66"})
}

#[test]
fn a_webhook_is_retried_on_503_with_one_id_and_delivered_exactly_once() {
    let w = World::new();
    let secret = w
        .destination(
            "org_a",
            "dst_1",
            json!({"name": "ops", "kind": "webhook", "url": "https://ops.example.com/h"}),
        )
        .unwrap();
    w.collect("org_a", Plan::Pro, instant("mallory"));
    let messages = w.take_messages();
    assert_eq!(
        messages.len(),
        1,
        "one delivery queued right after the alert committed"
    );
    let body = messages[0].body.as_deref().unwrap();
    assert_eq!(
        ledger::message_org(body).as_deref(),
        Some("org_a"),
        "the message names its organisation, which routes it to its shard"
    );
    // A message from before organisations were named (version 1) is still delivered.
    let id = ledger::message_delivery(body).unwrap();
    let old = format!(r#"{{"v":1,"delivery":"{id}"}}"#);
    assert_eq!(ledger::message_delivery(&old), Some(id));
    assert_eq!(ledger::message_org(&old), None);
    w.http.answers.borrow_mut().extend([
        Answer::Status {
            status: 503,
            retry_after: None,
        },
        Answer::Status {
            status: 503,
            retry_after: Some("3".into()),
        },
    ]);
    assert_eq!(w.deliver(&messages), [Ack::RetryAfter(2)]);
    assert_eq!(
        w.deliver(&messages),
        [Ack::RetryAfter(3)],
        "Retry-After honoured"
    );
    assert_eq!(w.deliver(&messages), [Ack::Ack]);
    // Redelivered after success: nothing is sent again.
    assert_eq!(w.deliver(&messages), [Ack::Ack]);
    let requests = w.http.requests.borrow();
    assert_eq!(requests.len(), 3);
    let ids: Vec<&str> = requests
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .find(|(k, _)| *k == "webhook-id")
                .unwrap()
                .1
                .as_str()
        })
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "the same webhook-id on every retry"
    );
    let last = &requests[2];
    let ts = &last
        .headers
        .iter()
        .find(|(k, _)| *k == "webhook-timestamp")
        .unwrap()
        .1;
    assert_eq!(
        sign::headers(&secret, ids[0], ts.parse().unwrap(), &last.body).unwrap()[2].1,
        last.headers
            .iter()
            .find(|(k, _)| *k == "webhook-signature")
            .unwrap()
            .1
    );
    let body: Value = serde_json::from_str(&last.body).unwrap();
    assert_eq!(body["data"]["alert"]["alert_type"], "privilege_escalation");
    assert_eq!(body["data"]["events"][0]["actor"]["id"], "mallory");
    assert!(body["data"]["links"]["alert"]
        .as_str()
        .unwrap()
        .starts_with("https://soc.example.com/?alert="));
    assert_eq!(
        w.count("SELECT count(*) FROM deliveries WHERE status = 'delivered'"),
        1
    );
    assert_eq!(w.count("SELECT count(*) FROM delivery_attempts"), 3);
    assert_eq!(w.count("SELECT count(*) FROM delivery_attempts WHERE outcome = 'retry' AND next_attempt_at IS NOT NULL"), 2);
}

#[test]
fn other_4xx_and_exhausted_retries_are_dead() {
    let mut w = World::new();
    w.settings.policy.max_attempts = 2;
    w.destination(
        "org_a",
        "dst_1",
        json!({"name": "a", "kind": "webhook", "url": "https://a.example.com/h"}),
    );
    w.destination(
        "org_a",
        "dst_2",
        json!({"name": "b", "kind": "slack", "url": "https://hooks.slack.com/services/x"}),
    );
    w.collect("org_a", Plan::Pro, instant("m"));
    let messages = w.take_messages();
    assert_eq!(messages.len(), 2);
    w.http.answers.borrow_mut().extend([
        Answer::Status {
            status: 410,
            retry_after: None,
        },
        Answer::Timeout,
    ]);
    assert_eq!(w.deliver(&messages), [Ack::Ack, Ack::RetryAfter(2)]);
    w.http.answers.borrow_mut().push_back(Answer::Timeout);
    assert_eq!(
        w.deliver(&messages[1..]),
        [Ack::Ack],
        "the second timeout is the last attempt"
    );
    assert_eq!(
        w.count("SELECT count(*) FROM deliveries WHERE status = 'dead'"),
        2
    );
    assert_eq!(
        w.count(
            "SELECT count(*) FROM delivery_attempts WHERE outcome = 'dead' AND error IS NOT NULL"
        ),
        2
    );
}

#[test]
fn filters_plans_and_disabled_destinations_are_honoured() {
    let w = World::new();
    w.destination("org_a", "crit", json!({"name": "c", "kind": "webhook", "url": "https://c.example.com/", "min_severity": "critical"}));
    w.destination("org_a", "travel", json!({"name": "t", "kind": "webhook", "url": "https://t.example.com/", "alert_types": ["impossible_travel"]}));
    w.destination(
        "org_a",
        "off",
        json!({"name": "o", "kind": "webhook", "url": "https://o.example.com/", "enabled": false}),
    );
    w.destination(
        "org_b",
        "other",
        json!({"name": "b", "kind": "webhook", "url": "https://b.example.com/"}),
    );
    w.destination(
        "org_free",
        "free",
        json!({"name": "f", "kind": "webhook", "url": "https://f.example.com/"}),
    );
    // A critical privilege escalation: only `crit` matches in org_a; org_b's destination hears nothing.
    w.collect("org_a", Plan::Pro, instant("m"));
    w.collect("org_free", Plan::Free, instant("m"));
    let planned: Vec<String> =
        w.db.rows(
            "SELECT destination_id FROM deliveries ORDER BY destination_id",
            &[],
        )
        .iter()
        .map(|r| r["destination_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        planned,
        ["crit"],
        "severity, type, enabled, organisation and plan filters"
    );
}

#[test]
fn an_updated_alert_is_delivered_at_most_once_an_hour_and_a_disabled_destination_gets_nothing() {
    let w = World::new();
    w.destination(
        "org_a",
        "dst",
        json!({"name": "a", "kind": "webhook", "url": "https://a.example.com/h"}),
    );
    w.collect("org_a", Plan::Pro, instant("m"));
    w.now.set(UnixMs(T0.0 + 60_000));
    w.collect("org_a", Plan::Pro, instant("m")); // a second occurrence of the same alert
    assert_eq!(w.count("SELECT count(*) FROM alerts"), 1);
    assert_eq!(
        w.count("SELECT count(*) FROM deliveries"),
        1,
        "same hour: one delivery"
    );
    w.now.set(UnixMs(T0.0 + 45 * 60_000));
    w.collect("org_a", Plan::Pro, instant("m"));
    let hour = (T0.0 + 45 * 60_000) / ledger::RAISE_EVERY_MS != T0.0 / ledger::RAISE_EVERY_MS;
    assert_eq!(
        w.count("SELECT count(*) FROM deliveries"),
        if hour { 2 } else { 1 }
    );
    let messages = w.take_messages();
    w.db.exec("UPDATE destinations SET enabled = 0", &[]);
    assert!(w.deliver(&messages).iter().all(|a| *a == Ack::Ack));
    assert!(
        w.http.requests.borrow().is_empty(),
        "disabled: nothing sent"
    );
    assert_eq!(
        w.count("SELECT count(*) FROM deliveries WHERE status <> 'cancelled'"),
        0
    );
}

#[test]
fn pagerduty_and_email_go_out_in_their_formats_and_the_test_button_records_its_attempt() {
    let w = World::new();
    w.destination("org_a", "pd", json!({"name": "pd", "kind": "pagerduty", "routing_key": "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"}));
    w.destination(
        "org_a",
        "mail",
        json!({"name": "m", "kind": "email", "address": "soc@example.com"}),
    );
    w.collect("org_a", Plan::Pro, instant("m"));
    let messages = w.take_messages();
    assert_eq!(w.deliver(&messages), [Ack::Ack, Ack::Ack]);
    let pd: Value = serde_json::from_str(&w.http.requests.borrow()[0].body).unwrap();
    assert_eq!(pd["event_action"], "trigger");
    assert_eq!(w.http.requests.borrow()[0].url, "http://127.0.0.1:9/pd");
    let sent = w.mailer.sent.borrow();
    assert_eq!(
        (sent[0].0.as_str(), sent[0].1.as_str()),
        ("alerts@example.com", "soc@example.com")
    );
    assert!(sent[0].2.contains("multipart/alternative") && sent[0].2.contains("soc@example.com"));

    let row: DestinationRow = serde_json::from_value(
        w.db.rows("SELECT * FROM destinations WHERE id = 'pd'", &[])[0].clone(),
    )
    .unwrap();
    let now = || w.now.get();
    let env = DeliverEnv {
        db: &w.db,
        http: &w.http,
        mailer: Some(&w.mailer),
        settings: &w.settings,
        now: &now,
    };
    w.http.answers.borrow_mut().push_back(Answer::Status {
        status: 400,
        retry_after: None,
    });
    let answer = run(test_destination(&env, &row, "pd.test.1")).unwrap();
    assert_eq!(
        (
            answer["delivered"].clone(),
            answer["status"].clone(),
            answer["latency_ms"].clone()
        ),
        (json!(false), json!(400), json!(7))
    );
    assert_eq!(w.count("SELECT count(*) FROM delivery_attempts WHERE delivery_id = 'pd.test.1' AND outcome = 'dead'"), 1);
}

#[test]
fn the_sweep_leaves_an_organisation_being_moved_for_later() {
    let w = World::new();
    w.destination(
        "org_a",
        "dst_1",
        json!({"name": "ops", "kind": "webhook", "url": "https://ops.example.com/h"}),
    );
    w.collect("org_a", Plan::Pro, instant("mallory"));
    assert_eq!(w.take_messages().len(), 1);
    // A day on, the delivery is long overdue: the sweep would queue it again, unless its
    // organisation is being moved (its rows are being copied to another database).
    let later = UnixMs(T0.0 + 86_400_000);
    let paused = ["org_a".to_string()];
    let sweep = |paused: &[String]| {
        run(enqueue_pending(
            &w.db,
            &w.queue,
            &[],
            Some(later),
            paused,
            later,
        ))
    };
    assert_eq!(sweep(&paused), Ok(0));
    assert!(w.take_messages().is_empty());
    assert_eq!(sweep(&[]), Ok(1), "queued once the move is over");
}
