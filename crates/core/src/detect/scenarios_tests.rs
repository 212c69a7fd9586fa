//! The labelled scenarios of `tests/scenarios/detection.json`, run natively through the
//! consumer's flow on SQLite (tests/e2e/scenarios.test.mjs runs the same file through the
//! Worker). History steps are accepted, enriched and stored without detection, as if long
//! processed; present steps go through `ingest::accept` and `ingest::consume` with the place's
//! `cf` object, as Cloudflare's edge would attach it. Each scenario's settings and suppressions
//! are stored first, as `PATCH /settings/detection` and `POST /suppressions` store them.

use crate::access::ids::OrgId;
use crate::alerts::suppress::{self, NewSuppression};
use crate::detect::settings::{self, SettingsPatch};
use crate::ingest::accept;
use crate::ingest::consume::{consume, enrich_records, Ack, ConsumeEnv, Delivered};
use crate::ingest::message::QueueMessage;
use crate::intel::NetworkLists;
use crate::limits::plan::Plan;
use crate::testing::{run, store, MemoryLimiter, MemoryQueue, SqliteDb};
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const FILE: &str = include_str!("../../../../tests/scenarios/detection.json");
/// 2026-01-30T09:15:00Z: "now" in every scenario.
const NOW: i64 = 1_769_764_500_000;
const MIN: i64 = 60_000;

#[derive(Deserialize)]
struct File {
    places: BTreeMap<String, Map<String, Value>>,
    scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
struct Scenario {
    name: String,
    label: String,
    steps: Vec<Step>,
    expect: Vec<Expect>,
    /// A `PATCH /settings/detection` body stored before the steps.
    #[serde(default)]
    settings: Option<Value>,
    /// `POST /suppressions` bodies stored before the steps; `expires_in_minutes` stands for an
    /// `expires_at` that many minutes after now.
    #[serde(default)]
    suppressions: Vec<Map<String, Value>>,
}

#[derive(Deserialize)]
struct Step {
    ago_minutes: i64,
    event: String,
    actor: String,
    ip: String,
    place: String,
    #[serde(default)]
    metadata: Option<Value>,
}

#[derive(Deserialize)]
struct Expect {
    alert_type: String,
    severity: String,
    #[serde(default)]
    suppressed: bool,
}

/// The place's `cf` object, without the file's own markers (`vpn`, `datacenter`: the e2e runner
/// checks that the shipped lists flag those addresses by their ASN).
fn cf(place: &Map<String, Value>) -> Value {
    let mut cf = place.clone();
    cf.remove("vpn");
    cf.remove("datacenter");
    Value::Object(cf)
}

/// The organisation's alerts as sorted `type/severity[/suppressed]`.
fn alerts(db: &SqliteDb, org: &str) -> Vec<String> {
    let mut out: Vec<String> = db
        .rows(
            "SELECT alert_type, severity, suppressed_by FROM alerts WHERE org_id = ?1",
            &[crate::api::sql::SqlParam::Text(org.into())],
        )
        .iter()
        .map(|r| {
            let mut s = format!(
                "{}/{}",
                r["alert_type"].as_str().unwrap(),
                r["severity"].as_str().unwrap()
            );
            if !r["suppressed_by"].is_null() {
                s.push_str("/suppressed");
            }
            s
        })
        .collect();
    out.sort();
    out
}

/// Runs one scenario in its own database and answers its alerts.
fn play(file: &File, s: &Scenario, n: usize) -> Vec<String> {
    let db = SqliteDb::migrated();
    let org = OrgId(format!("org_scenario_{n}"));
    let before = UnixMs(NOW - 60 * 24 * 60 * MIN);
    if let Some(body) = &s.settings {
        let patch = SettingsPatch::parse(body.to_string().as_bytes()).expect("scenario settings");
        let (sql, params) = settings::upsert_statement(&org.0, &patch, "scenario", before);
        db.exec(&sql, &params);
    }
    for body in &s.suppressions {
        let mut body = body.clone();
        if let Some(m) = body.remove("expires_in_minutes").and_then(|m| m.as_i64()) {
            body.insert(
                "expires_at".into(),
                json!(UnixMs(NOW + m * MIN).iso_millis()),
            );
        }
        let new = NewSuppression::parse(Value::Object(body).to_string().as_bytes(), before)
            .expect("scenario suppression");
        let (sql, params) =
            suppress::insert_statement(&org.0, &suppress::new_id(), &new, "scenario", before);
        db.exec(&sql, &params);
    }
    let lists = NetworkLists::shipped();
    for (k, step) in s.steps.iter().enumerate() {
        let place = &file.places[&step.place];
        let mut event = json!({"event": step.event, "actor": step.actor, "user_ip": step.ip});
        if let Some(m) = &step.metadata {
            event["metadata"] = m.clone();
        }
        // Present steps a millisecond apart, in file order.
        let at = UnixMs(if step.ago_minutes > 0 {
            NOW - step.ago_minutes * MIN
        } else {
            NOW + k as i64
        });
        let accepted = accept(
            event.to_string().as_bytes(),
            &org,
            Plan::Pro,
            at,
            Some(step.ip.clone()),
            || cf(place),
        )
        .expect("accepted");
        if step.ago_minutes > 0 {
            for m in &accepted.messages {
                let msg = QueueMessage::parse(&m.body).expect("a message");
                let mut records = msg.events;
                let cfs = vec![&msg.cf; records.len()];
                let note = run(enrich_records(
                    (&db, None::<&SqliteDb>),
                    &mut records,
                    &cfs,
                    lists,
                    at,
                ))
                .expect("enriched");
                assert_eq!(note, None, "{}", s.name);
                store(&db, &records);
            }
        } else {
            let delivered: Vec<Delivered> = accepted
                .messages
                .into_iter()
                .enumerate()
                .map(|(i, m)| Delivered {
                    id: format!("m{k}-{i}"),
                    body: Some(m.body),
                    age_ms: 0,
                })
                .collect();
            let limiter = MemoryLimiter::at(at);
            let limiter_for = move |_: &OrgId| Ok(limiter.clone());
            let deliveries = MemoryQueue::default();
            let env = ConsumeEnv {
                db: &db,
                primary: None::<&SqliteDb>,
                deliveries: Some(&deliveries),
                limiter_for: &limiter_for,
                lists,
                now: at,
                catch_up_every_ms: 0,
                strikes: &|_: &str| false,
            };
            let (acks, notes) = run(consume(&env, &delivered));
            assert!(
                acks.iter().all(|a| *a == Ack::Ack),
                "{}: {acks:?} {notes:?}",
                s.name
            );
        }
    }
    alerts(&db, &org.0)
}

#[test]
fn every_labelled_scenario_raises_exactly_its_alerts() {
    let file: File = serde_json::from_str(FILE).expect("tests/scenarios/detection.json");
    assert!(file.scenarios.len() >= 15, "the scenario file is read");
    let mut wrong = Vec::new();
    for (n, s) in file.scenarios.iter().enumerate() {
        let mut want: Vec<String> = s
            .expect
            .iter()
            .map(|e| {
                format!(
                    "{}/{}{}",
                    e.alert_type,
                    e.severity,
                    if e.suppressed { "/suppressed" } else { "" }
                )
            })
            .collect();
        want.sort();
        let got = play(&file, s, n);
        if got != want {
            wrong.push(format!(
                "[{}] {}: got {got:?}, want {want:?}",
                s.label, s.name
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
