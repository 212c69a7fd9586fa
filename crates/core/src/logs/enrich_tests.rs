//! Lines' addresses are enriched as events' are; what a line says itself is kept.

use super::*;
use crate::access::ids::OrgId;
use crate::intel::ListTexts;
use crate::logs::{build_line_rows, PushEntry, PushStream};
use crate::runtime::Db;
use crate::testing::{run, SqliteDb};
use crate::time::UnixMs;

fn rows(lines: &[&str]) -> Vec<LogRow> {
    let stream = PushStream {
        labels: serde_json::Map::new(),
        entries: lines
            .iter()
            .map(|l| PushEntry {
                ts: UnixMs(1_000),
                line: (*l).into(),
                structured: None,
            })
            .collect(),
    };
    build_line_rows(&[stream], &OrgId("o".into()), UnixMs(1_000), UnixMs(0)).rows
}

fn located(country: &str, asn: u32) -> (LocationInfo, AsnInfo) {
    (
        LocationInfo {
            country_code: Some(country.into()),
            city: Some(format!("a city in {country}")),
            latitude: Some(asn as f64 / 1000.0),
            longitude: Some(1.5),
            ..Default::default()
        },
        AsnInfo {
            asn: Some(asn),
            ..Default::default()
        },
    )
}

#[test]
fn public_addresses_get_their_country_and_vpn_flag_from_the_same_sources_as_events() {
    let mut rows = rows(&[
        "Failed password for root from 198.51.100.9 port 22 ssh2",
        "Accepted publickey for deploy from 203.0.113.77 port 51514 ssh2",
        r#"{"msg":"login failed","ip":"198.51.100.9","country":"FR"}"#,
        "Failed password for root from 10.0.0.8 port 22 ssh2",
        "no address at all",
    ]);
    let lookups = Lookups::of(&rows).expect("public addresses");
    let looked_up = lookups.ips.clone();
    assert_eq!(
        looked_up
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["198.51.100.9", "203.0.113.77"],
        "distinct, public only"
    );
    assert_eq!(
        lookups.users.iter().collect::<Vec<_>>(),
        ["deploy", "root"],
        "the users of lines with a public address"
    );
    let answers = HashMap::from([
        (
            ip_key("198.51.100.9".parse().unwrap()),
            located("RU", 64500),
        ),
        (
            ip_key("203.0.113.77".parse().unwrap()),
            located("DE", 64501),
        ),
    ]);
    let lists = NetworkLists::from_texts(&ListTexts {
        vpn_asns: Some("64500\n"),
        tor_exits: Some("203.0.113.77\n"),
        ..Default::default()
    })
    .unwrap();
    apply(
        &mut rows,
        &looked_up,
        &answers,
        &ThreatCounts::default(),
        &lists,
    );
    assert_eq!(rows[0].geo.as_deref(), Some("RU"));
    assert_eq!(rows[0].vpn, Some(true), "its ASN is a VPN provider's");
    assert_eq!(rows[1].geo.as_deref(), Some("DE"));
    assert_eq!(rows[1].vpn, Some(false));
    // The network as an event's: ASN, flags and the threat score (Tor 40, an info line).
    assert_eq!(
        (
            rows[1].detail.asn,
            rows[1].detail.is_tor,
            rows[1].detail.is_proxy,
            rows[1].detail.is_datacenter
        ),
        (Some(64501), Some(true), Some(false), Some(false))
    );
    assert_eq!(rows[1].detail.threat_score, Some(40));
    assert_eq!(
        rows[0].detail.threat_score,
        Some(20),
        "a VPN's address, an info line"
    );
    assert_eq!(
        (
            rows[1].detail.latitude,
            rows[1].detail.longitude,
            rows[1].detail.city.as_deref()
        ),
        (Some(64.501), Some(1.5), Some("a city in DE")),
        "located where the tables place it"
    );
    assert_eq!(
        rows[2].geo.as_deref(),
        Some("FR"),
        "the line's own country wins"
    );
    assert_eq!(
        (rows[2].detail.latitude, rows[2].detail.city.as_deref()),
        (None, None),
        "no coordinates from a country the line says it is not in"
    );
    assert_eq!(
        (rows[3].geo.as_deref(), rows[3].vpn),
        (None, None),
        "private"
    );
    assert_eq!((rows[4].geo.as_deref(), rows[4].vpn), (None, None));
}

#[test]
fn at_most_max_addresses_are_looked_up_and_the_rest_stay_unenriched() {
    let lines: Vec<String> = (0..MAX_ADDRESSES + 20)
        .map(|i| format!("probe from 198.51.{}.{}", i / 250, i % 250 + 1))
        .collect();
    let mut rows = rows(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    let looked_up = Lookups::of(&rows).unwrap().ips;
    assert_eq!(looked_up.len(), MAX_ADDRESSES);
    apply(
        &mut rows,
        &looked_up,
        &HashMap::new(),
        &ThreatCounts::default(),
        &NetworkLists::from_texts(&ListTexts::default()).unwrap(),
    );
    assert_eq!(
        rows.iter().filter(|r| r.vpn.is_some()).count(),
        MAX_ADDRESSES
    );
}

#[test]
fn the_push_reads_the_tables_and_the_threat_history_in_one_batch_and_scores_like_events() {
    let db = SqliteDb::migrated();
    db.exec(
        "INSERT INTO ip_location (id, country_code, city, latitude, longitude) VALUES (7, 'AU', 'Sydney', -33.87, 151.21)",
        &[],
    );
    // 103.4.16.0/24, keyed as scripts/import-ipdb stores ranges.
    db.exec(
        "INSERT INTO ip_city (ip_start, ip_end, location_id) VALUES ('467041000', '4670410ff', 7)",
        &[],
    );
    db.exec(
        "INSERT INTO ip_asn (ip_start, ip_end, asn, org) VALUES ('467041000', '4670410ff', 64502, 'Example AU')",
        &[],
    );
    let mut rows = rows(&["sshd[9]: Accepted publickey for erin from 103.4.16.9 port 22 ssh2"]);
    let lookups = Lookups::of(&rows).unwrap();
    let statements = lookups.statements("o", UnixMs(1_000));
    assert_eq!(statements.len(), 5);
    let results = run(db.batch(&statements)).unwrap();
    let lists = NetworkLists::from_texts(&ListTexts::default()).unwrap();
    lookups.apply(&mut rows, results, &lists).unwrap();
    let r = &rows[0];
    assert_eq!(
        (
            r.geo.as_deref(),
            r.detail.city.as_deref(),
            r.detail.latitude,
            r.detail.longitude
        ),
        (Some("AU"), Some("Sydney"), Some(-33.87), Some(151.21))
    );
    assert_eq!(
        (r.detail.asn, r.vpn, r.detail.is_tor),
        (Some(64502), Some(false), Some(false))
    );
    assert_eq!(
        r.detail.threat_score,
        Some(0),
        "a clean network, an info line, no history"
    );
    assert!(lookups.apply(&mut rows, vec![], &lists).is_err());
}
