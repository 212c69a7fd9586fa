//! Lines' addresses get the events' location and VPN flag; what a line says itself is kept.

use super::*;
use crate::access::ids::OrgId;
use crate::intel::ListTexts;
use crate::logs::{build_line_rows, PushEntry, PushStream};
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
    let looked_up = addresses(&rows);
    assert_eq!(
        looked_up
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["198.51.100.9", "203.0.113.77"],
        "distinct, public only"
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
        ..Default::default()
    })
    .unwrap();
    apply(&mut rows, &looked_up, &answers, &lists);
    assert_eq!(rows[0].geo.as_deref(), Some("RU"));
    assert_eq!(rows[0].vpn, Some(true), "its ASN is a VPN provider's");
    assert_eq!(rows[1].geo.as_deref(), Some("DE"));
    assert_eq!(rows[1].vpn, Some(false));
    assert_eq!(
        (rows[1].latitude, rows[1].longitude, rows[1].city.as_deref()),
        (Some(64.501), Some(1.5), Some("a city in DE")),
        "located where the tables place it"
    );
    assert_eq!(
        rows[2].geo.as_deref(),
        Some("FR"),
        "the line's own country wins"
    );
    assert_eq!(
        (rows[2].latitude, rows[2].city.as_deref()),
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
    let looked_up = addresses(&rows);
    assert_eq!(looked_up.len(), MAX_ADDRESSES);
    apply(
        &mut rows,
        &looked_up,
        &HashMap::new(),
        &NetworkLists::from_texts(&ListTexts::default()).unwrap(),
    );
    assert_eq!(
        rows.iter().filter(|r| r.vpn.is_some()).count(),
        MAX_ADDRESSES
    );
}
