//! Detection over stored events on real SQL (SQLite with every migration): what an alert holds
//! after one or several queue batches — travel hops, times, relay downgrades.

use super::detect_batch;
use crate::access::ids::{EventId, OrgId};
use crate::ingest::record::{Enrichment, EventRecord};
use crate::ingest::NewEvent;
use crate::intel::{
    forensics, AsnInfo, LocationInfo, NetworkFlags, NetworkForensics, NetworkLists,
};
use crate::limits::plan::Plan;
use crate::testing::{run, store, SqliteDb};
use crate::time::UnixMs;
use serde_json::{Map, Value};

const T0: i64 = 1_769_764_500_000;
const MIN: i64 = 60_000;

/// A city a login comes from: name, country, coordinates.
type City = (&'static str, &'static str, f64, f64);
const LONDON: City = ("London", "GB", 51.5074, -0.1278);
const NEW_YORK: City = ("New York", "US", 40.7128, -74.0060);
const TOKYO: City = ("Tokyo", "JP", 35.6762, 139.6503);

/// A successful login by `alice` from `ip` in `city`, `minutes` after T0, on network `asn`.
fn login(minutes: i64, ip: &str, city: City, asn: u32, datacenter: bool) -> EventRecord {
    let new = NewEvent {
        event_name: "auth.login_success".into(),
        actor_id: Some("alice".into()),
        actor_email: None,
        user_ip: Some(ip.into()),
        metadata: Map::new(),
    };
    let mut r = EventRecord::assign(
        new,
        &OrgId("org_1".into()),
        EventId::new_v4(),
        UnixMs(T0 + minutes * MIN),
        None,
    );
    let location = LocationInfo {
        city: Some(city.0.into()),
        country_code: Some(city.1.into()),
        latitude: Some(city.2),
        longitude: Some(city.3),
        ..LocationInfo::default()
    }
    .completed();
    let network = NetworkForensics {
        flags: NetworkFlags {
            is_datacenter: datacenter,
            ..NetworkFlags::default()
        },
        asn: AsnInfo {
            asn: Some(asn),
            asn_org: Some(format!("AS{asn} Org")),
            ..AsnInfo::default()
        },
        threat_score: None,
    };
    r.enrichment = Enrichment {
        country_code: location.country_code.clone(),
        city: location.city.clone(),
        latitude: location.latitude,
        longitude: location.longitude,
        is_vpn: Some(false),
        is_tor: Some(false),
        is_proxy: Some(false),
        is_datacenter: Some(datacenter),
        threat_score: None,
        forensics: Some(forensics(Some(&location), Some(&network))),
    };
    r
}

/// Stores `records` and runs detection on them as one queue batch at `now`.
fn detect(db: &SqliteDb, records: &[EventRecord], now: i64) {
    store(db, records);
    let batch: Vec<(EventRecord, Plan)> = records.iter().map(|r| (r.clone(), Plan::Pro)).collect();
    run(detect_batch(
        db,
        &batch,
        NetworkLists::shipped(),
        UnixMs(now),
    ))
    .expect("detection");
}

/// The impossible-travel alerts: `(severity, description, metadata)`.
fn travel_alerts(db: &SqliteDb) -> Vec<(String, String, Value)> {
    db.rows(
        "SELECT severity, description, metadata FROM alerts WHERE alert_type = 'impossible_travel' ORDER BY created_at",
        &[],
    )
    .into_iter()
    .map(|r| {
        let metadata = serde_json::from_str(r["metadata"].as_str().unwrap()).unwrap();
        (
            r["severity"].as_str().unwrap().into(),
            r["description"].as_str().unwrap().into(),
            metadata,
        )
    })
    .collect()
}

fn chain() -> [EventRecord; 3] {
    [
        login(0, "203.0.113.1", LONDON, 2856, false),
        login(60, "198.51.100.1", NEW_YORK, 7922, false),
        login(120, "192.0.2.77", TOKYO, 2516, false),
    ]
}

fn assert_three_city_chain(db: &SqliteDb, records: &[EventRecord]) {
    let alerts = travel_alerts(db);
    assert_eq!(alerts.len(), 1, "later hops update the open alert");
    let (severity, description, m) = &alerts[0];
    assert_eq!(severity, "high");
    let hops = m["evidence"]["hops"].as_array().expect("hops");
    assert_eq!(hops.len(), 2, "every hop kept: {m}");
    let ids = |r: &EventRecord| Value::String(r.id.to_string());
    assert_eq!(
        (&hops[0]["from"]["event_id"], &hops[0]["to"]["event_id"]),
        (&ids(&records[0]), &ids(&records[1]))
    );
    assert_eq!(
        (&hops[1]["from"]["event_id"], &hops[1]["to"]["event_id"]),
        (&ids(&records[1]), &ids(&records[2]))
    );
    assert_eq!(hops[0]["from"]["country_name"], "United Kingdom");
    assert_eq!(hops[1]["to"]["timezone"], "Asia/Tokyo");
    assert_eq!(hops[1]["to"]["asn"], 2516);
    // The latest hop at the top level, the chain in the description.
    assert_eq!(m["evidence"]["to"]["city"], "Tokyo");
    assert!(
        description.starts_with("London, GB to New York, US: ")
            && description.contains("; New York, US to Tokyo, JP: "),
        "{description}"
    );
    assert_eq!(
        m["evidence"]["event_ids"],
        Value::Array(records.iter().map(ids).collect())
    );
    assert_eq!(m["occurrences"], 2);
    assert_eq!(m["first_seen"], records[1].created_at.iso_millis());
    assert_eq!(m["last_seen"], records[2].created_at.iso_millis());
}

#[test]
fn a_three_city_chain_across_batches_keeps_every_hop() {
    let db = SqliteDb::migrated();
    let records = chain();
    for (i, r) in records.iter().enumerate() {
        detect(
            &db,
            std::slice::from_ref(r),
            r.created_at.0 + 1_000 + i as i64,
        );
    }
    assert_three_city_chain(&db, &records);
    let m = &travel_alerts(&db)[0].2;
    assert_eq!(
        m["raised_at"],
        UnixMs(records[1].created_at.0 + 1_001).iso_millis(),
        "when detection first raised it"
    );
    // A redelivered batch adds no hop and no occurrence.
    detect(&db, &records[2..], T0 + 999 * MIN);
    assert_three_city_chain(&db, &records);
}

#[test]
fn a_three_city_chain_in_one_batch_keeps_every_hop() {
    let db = SqliteDb::migrated();
    let records = chain();
    detect(&db, &records, T0 + 200 * MIN);
    assert_three_city_chain(&db, &records);
}

#[test]
fn cloud_egress_and_relay_networks_are_at_most_low() {
    // Home in London, then a cloud datacenter address in New York an hour later.
    let db = SqliteDb::migrated();
    let home = login(0, "203.0.113.1", LONDON, 2856, false);
    let cloud = login(60, "198.51.100.1", NEW_YORK, 16509, true);
    detect(&db, &[home, cloud], T0 + 61 * MIN);
    let alerts = travel_alerts(&db);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].0, "low");
    assert_eq!(alerts[0].2["confidence"], 40);
    assert_eq!(
        alerts[0].2["evidence"]["networks"],
        serde_json::json!(["datacenter"])
    );

    // A satellite ISP on the shipped relay list (Starlink, AS14593): the flag is not stored,
    // the consumer reads it from the lists in force.
    let db = SqliteDb::migrated();
    let home = login(0, "203.0.113.1", LONDON, 2856, false);
    let starlink = login(60, "198.51.100.1", NEW_YORK, 14593, false);
    detect(&db, &[home], T0 + MIN);
    detect(&db, &[starlink], T0 + 61 * MIN);
    let alerts = travel_alerts(&db);
    assert_eq!(alerts[0].0, "low");
    assert_eq!(
        alerts[0].2["evidence"]["to"]["networks"],
        serde_json::json!(["relay"])
    );
}

/// A failed login by `actor` from `ip`, `seconds` after T0.
fn failure(seconds: i64, ip: &str, actor: &str) -> EventRecord {
    let new = NewEvent {
        event_name: "auth.login_failed".into(),
        actor_id: Some(actor.into()),
        actor_email: None,
        user_ip: Some(ip.into()),
        metadata: Map::new(),
    };
    EventRecord::assign(
        new,
        &OrgId("org_1".into()),
        EventId::new_v4(),
        UnixMs(T0 + seconds * 1000),
        None,
    )
}

/// (Alice's first login from GB also raises a geo anomaly: her failures came before it.)
const COMPROMISE_OR_BRUTE: &str =
    "SELECT count(*) FROM alerts WHERE alert_type IN ('account_compromise', 'brute_force_attack')";

#[test]
fn a_success_after_a_burst_raises_a_critical_alert_linked_both_ways() {
    let db = SqliteDb::migrated();
    // Six failures from one source against three accounts, then one of them gets in.
    let failures: Vec<EventRecord> = (0..6)
        .map(|i| {
            failure(
                i * 10,
                "203.0.113.66",
                ["alice", "bob", "carol"][i as usize % 3],
            )
        })
        .collect();
    detect(&db, &failures, T0 + 61_000);
    let mut ok = login(0, "203.0.113.66", LONDON, 2856, false);
    ok.created_at = UnixMs(T0 + 90_000);
    detect(&db, std::slice::from_ref(&ok), T0 + 91_000);

    let alerts = db.rows(
        "SELECT id, alert_type, severity, dedup_key, metadata FROM alerts ORDER BY alert_type",
        &[],
    );
    let find = |t: &str| {
        alerts
            .iter()
            .find(|a| a["alert_type"] == t)
            .cloned()
            .unwrap()
    };
    let (compromise, brute) = (find("account_compromise"), find("brute_force_attack"));
    assert_eq!(compromise["severity"], "critical");
    assert_eq!(compromise["dedup_key"], "actor:alice");
    let meta =
        |a: &Value| -> Value { serde_json::from_str(a["metadata"].as_str().unwrap()).unwrap() };
    let (cm, bm) = (meta(&compromise), meta(&brute));
    assert_eq!(cm["related_alert_ids"], serde_json::json!([brute["id"]]));
    assert_eq!(
        bm["related_alert_ids"],
        serde_json::json!([compromise["id"]])
    );
    let ev = &cm["evidence"];
    assert_eq!(
        (ev["failures"].as_u64(), ev["key"].as_str()),
        (Some(6), Some("ip"))
    );
    assert_eq!(ev["accounts_total"], 3);
    assert_eq!(ev["success_event_id"], ok.id.to_string());
    // The brute-force alert names every targeted account, not the one that crossed the line.
    assert_eq!(bm["evidence"]["accounts_total"], 3);
    assert_eq!(bm["evidence"]["event_ids"].as_array().unwrap().len(), 6);

    // Redelivering the success changes nothing: no second link, no second alert.
    detect(&db, std::slice::from_ref(&ok), T0 + 95_000);
    assert_eq!(db.count(COMPROMISE_OR_BRUTE, &[]), 2);
    let again = db.rows(
        "SELECT metadata FROM alerts WHERE alert_type = 'brute_force_attack'",
        &[],
    );
    assert_eq!(
        meta(&again[0])["related_alert_ids"],
        serde_json::json!([compromise["id"]])
    );
}

#[test]
fn a_success_without_a_burst_raises_no_compromise() {
    let db = SqliteDb::migrated();
    let failures: Vec<EventRecord> = (0..4)
        .map(|i| failure(i, "203.0.113.66", "alice"))
        .collect();
    detect(&db, &failures, T0 + 10_000);
    let mut ok = login(0, "203.0.113.66", LONDON, 2856, false);
    ok.created_at = UnixMs(T0 + 20_000);
    detect(&db, std::slice::from_ref(&ok), T0 + 21_000);
    assert_eq!(db.count(COMPROMISE_OR_BRUTE, &[]), 0);
}

#[test]
fn a_burst_and_its_success_in_one_batch_link_too() {
    let db = SqliteDb::migrated();
    let mut batch: Vec<EventRecord> = (0..6)
        .map(|i| failure(i, "203.0.113.66", "alice"))
        .collect();
    let mut ok = login(0, "203.0.113.66", LONDON, 2856, false);
    ok.created_at = UnixMs(T0 + 7_000);
    batch.push(ok);
    detect(&db, &batch, T0 + 8_000);
    let linked = db.count(
        "SELECT count(*) FROM alerts WHERE json_array_length(metadata, '$.related_alert_ids') = 1 \
         AND alert_type IN ('account_compromise', 'brute_force_attack')",
        &[],
    );
    assert_eq!(linked, 2);
}

#[test]
fn a_late_batch_never_overwrites_newer_evidence() {
    let db = SqliteDb::migrated();
    let f: Vec<EventRecord> = (0..8)
        .map(|i| failure(i, "203.0.113.70", "alice"))
        .collect();
    // Seven failures first (the newest counts 7), then the one missing between them (count 6).
    let first: Vec<EventRecord> = [0, 1, 2, 3, 4, 6, 7]
        .iter()
        .map(|&i| f[i].clone())
        .collect();
    detect(&db, &first, T0 + 10_000);
    detect(&db, &f[5..6], T0 + 11_000);
    let rows = db.rows(
        "SELECT metadata FROM alerts WHERE alert_type = 'brute_force_attack' AND dedup_key = 'ip:203.0.113.70'",
        &[],
    );
    let m: Value = serde_json::from_str(rows[0]["metadata"].as_str().unwrap()).unwrap();
    assert_eq!(m["occurrences"], 4, "every trigger counted");
    assert_eq!(
        m["evidence"]["count"], 7,
        "the newest burst's evidence stays"
    );
    assert_eq!(m["last_event_id"], f[7].id.to_string());
    assert_eq!(m["last_seen"], f[7].created_at.iso_millis());
    // The late trigger's events still join the evidence's event list.
    assert!(m["evidence"]["event_ids"]
        .as_array()
        .unwrap()
        .contains(&Value::String(f[5].id.to_string())));
}
