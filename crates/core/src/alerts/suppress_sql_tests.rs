//! Suppressions end to end in the core, on SQLite with every migration: the API's statements
//! (the active limit, lists, retention, delete), then attacks through the queue consumer and
//! the Loki push with a suppression in force — stored as suppressed, counted, never delivered,
//! hidden from `GET /alerts` and the dashboard until asked for — and after it expires.

use super::*;
use crate::access::ids::OrgId;
use crate::alerts::delivery::destination::{
    insert_statement as destination, Allowed, NewDestination,
};
use crate::alerts::{AlertPatch, AlertQuery};
use crate::analytics::dashboard::{self, DashboardQuery, Window};
use crate::api::cursor::CursorKey;
use crate::ingest::accept;
use crate::ingest::consume::{consume, Ack, ConsumeEnv, Delivered};
use crate::intel::NetworkLists;
use crate::limits::plan::Plan;
use crate::logs::detect::{detect_lines, FailedLine};
use crate::logs::{build_line_rows, insert_statements as line_inserts, parse_push};
use crate::retention::{purge_chunk_sql, PURGE_TARGETS};
use crate::runtime::Db;
use crate::testing::{run, MemoryLimiter, MemoryQueue, SqliteDb};
use std::cell::Cell;

const T0: UnixMs = UnixMs(1_769_764_500_000);
const MIN: i64 = 60_000;
const ATTACKER: &str = "203.0.113.9";

struct World {
    db: SqliteDb,
    deliveries: MemoryQueue,
    now: Cell<UnixMs>,
}

impl World {
    fn new() -> World {
        World {
            db: SqliteDb::migrated(),
            deliveries: MemoryQueue::default(),
            now: Cell::new(T0),
        }
    }

    fn at(&self, t: i64) -> &Self {
        self.now.set(UnixMs(t));
        self
    }

    /// A webhook for `org` that takes every alert.
    fn webhook(&self, org: &str) {
        let allowed = Allowed {
            http_loopback: false,
            email: false,
        };
        let body = json!({"name": "hook", "kind": "webhook", "url": "https://hooks.example.com/x"});
        let d = NewDestination::parse(body.to_string().as_bytes(), allowed).unwrap();
        let id = format!("dst_{org}");
        run(self
            .db
            .batch(&[destination(org, &id, &d, Some("whsec_x"), T0)]))
        .unwrap();
    }

    /// `POST /suppressions` for `org`: the new id, or `None` when the insert was refused.
    fn suppress(&self, org: &str, body: Value) -> Option<String> {
        let s = NewSuppression::parse(body.to_string().as_bytes(), self.now.get()).unwrap();
        let id = new_id();
        let rows = run(self
            .db
            .batch(&[insert_statement(org, &id, &s, "api", self.now.get())]));
        rows.unwrap()[0]
            .first()
            .map(|r| r["id"].as_str().unwrap().to_string())
    }

    /// `/collect` of `body` by `org` from `caller` (its address and its edge's `cf` object, which
    /// enrich events whose `user_ip` is the caller's), consumed at the current time.
    fn collect(&self, org: &str, body: Value, caller: Option<(&str, Value)>) {
        let (ip, cf) = caller.map_or((None, Value::Null), |(ip, cf)| (Some(ip.to_string()), cf));
        let a = accept(
            body.to_string().as_bytes(),
            &OrgId(org.into()),
            Plan::Pro,
            self.now.get(),
            ip,
            || cf,
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
            deliveries: Some(&self.deliveries),
            limiter_for: &limiter_for,
            lists: NetworkLists::shipped(),
            now: self.now.get(),
            catch_up_every_ms: 0,
            strikes: &strikes,
        };
        let (acks, notes) = run(consume(&env, &messages));
        assert!(acks.iter().all(|a| *a == Ack::Ack), "{notes:?}");
    }

    /// One failed login against `actor` from `ip`, a request of its own.
    fn fail(&self, org: &str, actor: &str, ip: &str) {
        let body = json!({"event": "auth.login_failed", "actor": actor, "user_ip": ip});
        self.collect(org, body, None);
    }

    /// `GET /alerts` of `org` with `query`: the rows of the page and the total.
    fn alerts(&self, org: &str, query: &[(&str, &str)]) -> (Vec<Value>, i64) {
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let q = AlertQuery::parse(&pairs, &CursorKey::new("s", org, "alerts")).unwrap();
        let ((page, page_params), (count, count_params)) = q.page_sql(org, UnixMs(0));
        (
            self.db.rows(&page, &page_params),
            self.db.count(&count, &count_params),
        )
    }

    /// The dashboard of `org` over the last day: its anomalies' ids and its stats.
    fn dashboard(&self, org: &str) -> (Vec<String>, Value) {
        let q = DashboardQuery::parse(&[]).unwrap();
        let w = Window::new(24, UnixMs(self.now.get().0 + 1000), UnixMs(0));
        let rows = run(self.db.batch(&dashboard::statements(&q, &w, org))).unwrap();
        let d = dashboard::assemble(rows, &w, false).unwrap();
        let ids = d["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect();
        (ids, d["stats"].clone())
    }

    fn count(&self, sql: &str) -> i64 {
        self.db.count(sql, &[])
    }

    /// The delivery messages queued so far, drained.
    fn queued(&self) -> usize {
        self.deliveries
            .sent
            .borrow_mut()
            .drain(..)
            .flatten()
            .count()
    }
}

fn occurrences(alert: &Value) -> i64 {
    let m: Value = serde_json::from_str(alert["metadata"].as_str().unwrap()).unwrap();
    m["occurrences"].as_i64().unwrap()
}

#[test]
fn at_most_200_active_per_organisation_and_ended_ones_are_kept_then_purged() {
    let w = World::new();
    let ip = |i: usize| json!({"scope": "ip", "value": format!("198.51.100.{}", i % 250), "reason": "r"});
    for i in 0..199 {
        assert!(w.suppress("org_a", ip(i)).is_some(), "{i}");
    }
    let soon = json!({"scope": "actor", "value": "contractor", "reason": "pentest",
        "expires_at": UnixMs(T0.0 + MIN).iso_millis()});
    let expiring = w.suppress("org_a", soon).unwrap();
    assert_eq!(
        w.suppress("org_a", ip(500)),
        None,
        "the 201st active one is refused"
    );
    assert!(
        w.suppress("org_b", ip(500)).is_some(),
        "another organisation has its own 200"
    );
    // At its expiry the expiring one stops counting; a deleted one stops counting at once.
    assert!(w.at(T0.0 + MIN).suppress("org_a", ip(501)).is_some());
    assert_eq!(w.suppress("org_a", ip(502)), None);
    let newest = list(&w, "org_a", false)[0].id.clone();
    let del = |org: &str, id: &str, by: &str| {
        let st = delete_statement(org, id, by, w.now.get(), UnixMs(0));
        run(w.db.batch(&[st])).unwrap()[0].len()
    };
    assert_eq!(
        del("org_b", &newest, "intruder"),
        0,
        "another organisation's: untouched"
    );
    assert_eq!(del("org_a", &newest, "lsoc_live_abcd"), 1);
    assert_eq!(del("org_a", &newest, "again"), 0, "deleted once");
    assert!(w.suppress("org_a", ip(502)).is_some());

    let active = list(&w, "org_a", false);
    assert_eq!(active.len(), 200);
    assert!(active.iter().all(|s| s.status(w.now.get()) == "active"));
    let all = list(&w, "org_a", true);
    assert_eq!(all.len(), 202, "with the expired and the deleted one");
    let deleted = all.iter().find(|s| s.id == newest).unwrap();
    assert_eq!(
        (
            deleted.deleted_by.as_deref(),
            deleted.ended_at,
            deleted.status(w.now.get())
        ),
        (Some("lsoc_live_abcd"), Some((T0.0 + MIN) as f64), "deleted")
    );
    let get = |org: &str, id: &str, cutoff: i64| {
        let (sql, params) = get_statement(org, id, UnixMs(cutoff));
        w.db.rows(&sql, &params).len()
    };
    assert_eq!(get("org_a", &expiring, 0), 1);
    assert_eq!(get("org_b", &expiring, 0), 0, "by id, only the owner's");

    // Retention: an ended suppression is shown until the cutoff passes its end, then purged;
    // an open-ended one is kept however old.
    let cutoff = T0.0 + MIN + 1;
    assert_eq!(get("org_a", &expiring, cutoff), 0);
    assert_eq!(get("org_a", &active[199].id, cutoff), 1);
    let target = PURGE_TARGETS
        .iter()
        .find(|t| t.table == "suppressions")
        .unwrap();
    w.db.exec(
        &purge_chunk_sql(target, 1000),
        &[
            SqlParam::Text("org_a".into()),
            SqlParam::Number(cutoff as f64),
        ],
    );
    assert_eq!(
        w.count("SELECT count(*) FROM suppressions WHERE org_id = 'org_a'"),
        200,
        "the expired and the deleted one purged"
    );
    assert_eq!(
        w.count("SELECT count(*) FROM suppressions WHERE org_id = 'org_b'"),
        1
    );
}

fn list(w: &World, org: &str, ended: bool) -> Vec<SuppressionRow> {
    let (sql, params) = list_statement(org, ended, w.now.get(), UnixMs(0), LIST_MAX_LIMIT);
    w.db.rows(&sql, &params)
        .into_iter()
        .map(|r| SuppressionRow::deserialize(r).unwrap())
        .collect()
}

#[test]
fn a_suppressed_attack_is_stored_counted_never_delivered_and_hidden_until_asked_for() {
    let w = World::new();
    for org in ["org_a", "org_b"] {
        w.webhook(org);
    }
    let sup = w
        .suppress(
            "org_a",
            json!({"scope": "cidr", "value": "203.0.113.0/24", "reason": "our VPN egress"}),
        )
        .unwrap();
    // The same six failed logins from the suppressed network in both organisations.
    for i in 0..6 {
        for org in ["org_a", "org_b"] {
            w.at(T0.0 + i * 1000)
                .fail(org, &format!("victim{i}"), ATTACKER);
        }
    }
    let stored = w.db.rows(
        "SELECT * FROM alerts WHERE alert_type = 'brute_force_attack' ORDER BY org_id",
        &[],
    );
    assert_eq!(stored.len(), 2, "one alert per organisation");
    let (a, b) = (&stored[0], &stored[1]);
    assert_eq!(
        (&a["org_id"], &a["suppressed_by"]),
        (&json!("org_a"), &json!(sup))
    );
    assert_eq!(a["status"], "open");
    assert_eq!(
        occurrences(a),
        2,
        "the fifth and sixth failure, counted as usual"
    );
    assert_eq!((&b["suppressed_by"], occurrences(b)), (&Value::Null, 2));
    assert_eq!(
        w.count("SELECT count(*) FROM alert_triggers WHERE org_id = 'org_a'"),
        2,
        "every trigger recorded"
    );
    // org_b's alert is planned for delivery once (its second occurrence is inside the hour).
    assert_eq!(
        w.count("SELECT count(*) FROM deliveries WHERE org_id = 'org_a'"),
        0,
        "no delivery is planned for a suppressed alert"
    );
    assert_eq!(
        w.count("SELECT count(*) FROM deliveries WHERE org_id = 'org_b'"),
        1
    );
    assert_eq!(w.queued(), 1);

    // Hidden from GET /alerts and the dashboard by default; listed with status=suppressed.
    let ids = |(rows, total): (Vec<Value>, i64)| {
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r["id"].as_str().unwrap().into())
            .collect();
        assert_eq!(
            ids.len() as i64,
            total,
            "the total counts what the page shows"
        );
        ids
    };
    let a_id = a["id"].as_str().unwrap().to_string();
    assert!(ids(w.alerts("org_a", &[])).is_empty());
    assert!(ids(w.alerts("org_a", &[("status", "open")])).is_empty());
    assert_eq!(
        ids(w.alerts("org_a", &[("status", "suppressed")])),
        [a_id.as_str()]
    );
    assert_eq!(
        ids(w.alerts("org_a", &[("status", "open,suppressed")])),
        [a_id.as_str()]
    );
    assert_eq!(ids(w.alerts("org_b", &[])).len(), 1);
    assert!(ids(w.alerts("org_b", &[("status", "suppressed")])).is_empty());
    let (anomalies, stats) = w.dashboard("org_a");
    assert!(anomalies.is_empty());
    assert_eq!(
        (&stats["totalAnomalies"], &stats["criticalThreats"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(w.dashboard("org_b").0.len(), 1);
    // The rendered alert names its suppression.
    let row: AlertRow = serde_json::from_value(a.clone()).unwrap();
    assert_eq!(row.to_api()["suppressed_by"], json!(sup));

    // Nor does a suppressed alert add to threat scores: a later login from the network scores
    // lower in org_a, where its only alert is suppressed, than in org_b (same failed logins).
    w.at(T0.0 + 10_000);
    for org in ["org_a", "org_b"] {
        w.collect(
            org,
            json!({"event": "auth.login_success", "actor": "x", "user_ip": ATTACKER}),
            None,
        );
    }
    let scores = w.db.rows(
        "SELECT org_id, threat_score FROM events WHERE event_name = 'auth.login_success' ORDER BY org_id",
        &[],
    );
    let (sa, sb) = (
        scores[0]["threat_score"].as_i64().unwrap(),
        scores[1]["threat_score"].as_i64().unwrap(),
    );
    assert!(sa < sb, "the open alert counts in org_b only: {sa} < {sb}");
}

#[test]
fn after_expiry_the_same_attack_alerts_normally() {
    let w = World::new();
    w.webhook("org_a");
    let until = T0.0 + 30 * MIN;
    let sup = w
        .suppress(
            "org_a",
            json!({"scope": "ip", "value": ATTACKER, "reason": "scanner we run",
                   "expires_at": UnixMs(until).iso_millis()}),
        )
        .unwrap();
    let instant =
        json!({"event": "admin.privilege_escalation", "actor": "mallory", "user_ip": ATTACKER});
    w.at(until - 1).collect("org_a", instant.clone(), None);
    assert_eq!(w.queued(), 0);
    // Exactly at expires_at the suppression no longer applies: a new, ordinary alert, even
    // though the suppressed one of the same key is still open and inside the hour.
    w.at(until).collect("org_a", instant.clone(), None);
    w.at(until + 1000).collect("org_a", instant, None);
    let rows = w.db.rows(
        "SELECT suppressed_by, metadata FROM alerts WHERE org_id = 'org_a' ORDER BY created_at",
        &[],
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (&rows[0]["suppressed_by"], occurrences(&rows[0])),
        (&json!(sup), 1)
    );
    assert_eq!(
        (&rows[1]["suppressed_by"], occurrences(&rows[1])),
        (&Value::Null, 2)
    );
    assert_eq!(w.queued(), 1, "the ordinary alert is delivered");
    assert_eq!(w.alerts("org_a", &[]).1, 1);
    assert_eq!(w.alerts("org_a", &[("status", "suppressed")]).1, 1);
}

#[test]
fn asn_country_and_alert_types_match_on_the_triggers_enrichment() {
    let w = World::new();
    w.webhook("org_a");
    // Events describing the caller are enriched from its edge's cf object: DE, AS3320.
    let caller = || {
        Some((
            ATTACKER,
            json!({"country": "DE", "asn": 3320, "city": "Berlin"}),
        ))
    };
    let event =
        |name: &str, actor: &str| json!({"event": name, "actor": actor, "user_ip": ATTACKER});
    let asn = w
        .suppress(
            "org_a",
            json!({"scope": "asn", "value": "AS3320", "reason": "ISP",
            "alert_types": ["privilege_escalation"]}),
        )
        .unwrap();
    let country = w
        .suppress(
            "org_a",
            json!({"scope": "country", "value": "de", "reason": "HQ",
            "alert_types": ["data_exfiltration"]}),
        )
        .unwrap();
    w.collect("org_a", event("admin.privilege_escalation", "a1"), caller());
    w.collect("org_a", event("data.sensitive_access", "a2"), caller());
    w.collect(
        "org_a",
        event("security.suspicious_activity", "a3"),
        caller(),
    );
    // Without enrichment (another address, no cf), neither applies.
    w.collect(
        "org_a",
        json!({"event": "admin.privilege_escalation", "actor": "a4", "user_ip": "192.0.2.1"}),
        None,
    );
    let by_type = w.db.rows(
        "SELECT alert_type, actor_id, suppressed_by FROM alerts ORDER BY actor_id",
        &[],
    );
    let got: Vec<(&str, Value)> = by_type
        .iter()
        .map(|r| {
            (
                r["alert_type"].as_str().unwrap(),
                r["suppressed_by"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("privilege_escalation", json!(asn)),
            ("data_exfiltration", json!(country)),
            ("suspicious_activity", Value::Null),
            ("privilege_escalation", Value::Null),
        ]
    );
    assert_eq!(w.queued(), 2, "the two unsuppressed alerts only");
}

#[test]
fn loki_lines_from_a_suppressed_network_are_recorded_as_suppressed() {
    let w = World::new();
    w.webhook("org_a");
    let org = OrgId("org_a".into());
    let sup = w
        .suppress(
            "org_a",
            json!({"scope": "cidr", "value": "198.51.100.0/24", "reason": "bastion"}),
        )
        .unwrap();
    // One account per network: sshd lines carry their user (docs/dashboard.md §7.5), and twelve
    // failures against one account would raise a per-account alert besides the per-IP ones.
    let push = |ip: &str| -> Vec<FailedLine> {
        let values: Vec<Value> = (0..6)
            .map(|i| {
                let at = i128::from(T0.0 + i * 1000) * 1_000_000;
                json!([
                    at.to_string(),
                    format!("sshd: Failed password for ops-{ip} from {ip} port 22 ssh2")
                ])
            })
            .collect();
        let body = json!({"streams": [{"stream": {"job": "sshd"}, "values": values}]}).to_string();
        let streams = parse_push(body.as_bytes()).unwrap();
        let built = build_line_rows(&streams, &org, UnixMs(T0.0 + MIN), UnixMs(0));
        let stmts = line_inserts(&built.rows, true, crate::api::sql::MAX_BOUND_JSON_BYTES).unwrap();
        let rows = run(w.db.batch(&stmts)).unwrap();
        rows.iter()
            .flatten()
            .filter_map(FailedLine::from_returned)
            .collect()
    };
    for ip in ["198.51.100.20", "192.0.2.20"] {
        let lines = push(ip);
        assert_eq!(lines.len(), 6);
        let dropped = run(detect_lines(
            &w.db,
            &org,
            Plan::Pro,
            &lines,
            UnixMs(T0.0 + MIN),
        ))
        .unwrap();
        assert_eq!(dropped, 0);
    }
    let rows = w.db.rows(
        "SELECT source_ip, suppressed_by, metadata FROM alerts ORDER BY source_ip",
        &[],
    );
    let got: Vec<(&str, Value, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["source_ip"].as_str().unwrap(),
                r["suppressed_by"].clone(),
                occurrences(r),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("192.0.2.20", Value::Null, 2),
            ("198.51.100.20", json!(sup), 2)
        ]
    );
    assert_eq!(
        w.count("SELECT count(*) FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.suppressed_by IS NULL"),
        1
    );
    assert_eq!(w.count("SELECT count(*) FROM deliveries"), 1);
}

#[test]
fn an_organisations_settings_change_what_its_batches_detect() {
    use crate::detect::settings::{upsert_statement, SettingsPatch};
    let w = World::new();
    let patch =
        SettingsPatch::parse(br#"{"brute_force_ip": {"threshold": 3}, "reason": "tighter"}"#)
            .unwrap();
    run(w.db.batch(&[upsert_statement("org_a", &patch, "api", T0)])).unwrap();
    for i in 0..3 {
        for org in ["org_a", "org_b"] {
            w.at(T0.0 + i * 1000)
                .fail(org, &format!("victim{i}"), ATTACKER);
        }
    }
    let rows = w.db.rows("SELECT org_id, metadata FROM alerts", &[]);
    assert_eq!(rows.len(), 1, "org_b keeps the default of 5");
    assert_eq!(rows[0]["org_id"], "org_a");
    let m: Value = serde_json::from_str(rows[0]["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(
        (
            &m["evidence"]["count"],
            &m["evidence"]["threshold"],
            &m["occurrences"]
        ),
        (&json!(3), &json!(3), &json!(1)),
        "raised on the third failure"
    );
}

#[test]
fn mark_safe_with_a_suppression_changes_both_or_neither() {
    let w = World::new();
    w.collect(
        "org_a",
        json!({"event": "admin.privilege_escalation", "actor": "ops-bot", "user_ip": ATTACKER}),
        None,
    );
    let alert: AlertRow =
        serde_json::from_value(w.db.rows("SELECT * FROM alerts", &[])[0].clone()).unwrap();
    let patch = AlertPatch::parse(
        br#"{"action": "mark_safe", "suppress": {"scope": "actor", "reason": "our automation"}}"#,
    )
    .unwrap();
    let new = patch
        .suppress
        .as_ref()
        .unwrap()
        .for_alert(&alert, T0)
        .unwrap();
    let org = OrgId("org_a".into());
    let mark = |id: &str| {
        run(w.db.batch(&[
            insert_statement("org_a", id, &new, "api", T0),
            patch.update_sql_with_suppression(&org, &alert.id, T0, UnixMs(0), id, "test"),
        ]))
        .unwrap()
    };
    // At the limit the suppression is refused and the alert stays open.
    for i in 0..MAX_ACTIVE {
        w.suppress(
            "org_a",
            json!({"scope": "actor", "value": format!("u{i}"), "reason": "r"}),
        );
    }
    assert!(mark("sup_00000000000000000000000000000001")[0].is_empty());
    assert_eq!(
        w.count("SELECT count(*) FROM alerts WHERE status = 'open'"),
        1
    );
    w.db.exec("DELETE FROM suppressions", &[]);
    let rows = mark("sup_00000000000000000000000000000002");
    assert_eq!(rows[0].len(), 1);
    let s = w.db.rows("SELECT * FROM suppressions", &[]);
    assert_eq!(
        (
            &s[0]["scope"],
            &s[0]["value"],
            &s[0]["alert_types"],
            &s[0]["reason"]
        ),
        (
            &json!("actor"),
            &json!("ops-bot"),
            &json!("[\"privilege_escalation\"]"),
            &json!("our automation")
        )
    );
    assert_eq!(
        w.count("SELECT count(*) FROM alerts WHERE status = 'safe' AND suppressed_by IS NULL"),
        1
    );
    // Another organisation's suppression id does not let the update through.
    let other = run(w.db.batch(&[patch.update_sql_with_suppression(
        &OrgId("org_b".into()),
        &alert.id,
        T0,
        UnixMs(0),
        "sup_00000000000000000000000000000002",
        "test",
    )]));
    assert!(other.unwrap()[0].is_empty());
}
