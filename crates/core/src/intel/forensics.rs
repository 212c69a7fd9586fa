//! The `forensics` object and the whole [`Enrichment`] of an event (docs/api.md §7.1).

use super::address::classify_ip;
use super::lists::{NetworkFlags, NetworkLists};
use super::score::{threat_score, ThreatHistory};
use crate::ingest::catalogue::Severity;
use crate::ingest::record::Enrichment;
use serde_json::{json, Value};

/// Where the address is, as the request's `cf` object or the D1 IP-range table said; every
/// field `None` when unknown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocationInfo {
    pub city: Option<String>,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<String>,
    pub country_name: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// IANA zone name, e.g. `Europe/Berlin`.
    pub timezone: Option<String>,
}

impl LocationInfo {
    /// Whether nothing is known (then `forensics.location` is `null`).
    pub fn is_empty(&self) -> bool {
        self == &LocationInfo::default()
    }

    /// This location with the country name and time zone filled in where the source left them
    /// out, from the country code and coordinates ([`super::places`]).
    pub fn completed(&self) -> LocationInfo {
        let code = self.country_code.as_deref();
        let coords = self.latitude.zip(self.longitude);
        LocationInfo {
            country_name: self
                .country_name
                .clone()
                .or_else(|| code.and_then(super::places::country_name).map(String::from)),
            timezone: self
                .timezone
                .clone()
                .or_else(|| super::places::timezone(code, coords).map(String::from)),
            ..self.clone()
        }
    }
}

/// The network the address belongs to, as the same source said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsnInfo {
    pub asn: Option<u32>,
    pub asn_org: Option<String>,
    pub isp: Option<String>,
    /// Whether the source called it a mobile network; `false` when it did not say.
    pub is_mobile: bool,
}

/// Everything `forensics.network` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkForensics {
    pub flags: NetworkFlags,
    pub asn: AsnInfo,
    pub threat_score: Option<u8>,
}

/// The contract's `forensics` object, `{network, location}`, each part `null` when unknown
/// (`network` when `None`, `location` when `None` or [`LocationInfo::is_empty`]).
///
/// `network`: `is_vpn`, `is_tor`, `is_proxy`, `is_datacenter`, `is_mobile` (bools), `asn`
/// (integer or `null`), `asn_org`, `isp` (string or `null`), `threat_score` (integer or
/// `null`). `is_relay` is internal and not shown.
///
/// `location`: `city`, `region`, `country_code`, `country_name` (string or `null`),
/// `latitude`, `longitude` (number or `null`), `timezone` (string or `null`).
pub fn forensics(location: Option<&LocationInfo>, network: Option<&NetworkForensics>) -> Value {
    let network = network.map_or(Value::Null, |n| {
        json!({
            "is_vpn": n.flags.is_vpn,
            "is_tor": n.flags.is_tor,
            "is_proxy": n.flags.is_proxy,
            "is_datacenter": n.flags.is_datacenter,
            "is_mobile": n.asn.is_mobile,
            "asn": n.asn.asn,
            "asn_org": n.asn.asn_org,
            "isp": n.asn.isp,
            "threat_score": n.threat_score,
        })
    });
    let location = location.filter(|l| !l.is_empty()).map_or(Value::Null, |l| {
        json!({
            "city": l.city,
            "region": l.region,
            "country_code": l.country_code,
            "country_name": l.country_name,
            "latitude": l.latitude,
            "longitude": l.longitude,
            "timezone": l.timezone,
        })
    });
    json!({ "network": network, "location": location })
}

/// The enrichment of one event (docs/api.md §7.2). When `user_ip` is
/// missing, invalid or not public, everything is `None` (the default). Otherwise the location
/// fields are copied from `location`, the four flags are `Some` (list lookups always answer),
/// the threat score is computed, and `forensics` is the full object with a non-null `network`.
/// `location` and `asn` are what the `cf` object or the D1 IP-range table knew about `user_ip`
/// (defaults when no source matched); choosing the source is the caller's job.
pub fn enrich(
    lists: &NetworkLists,
    user_ip: Option<&str>,
    location: &LocationInfo,
    asn: &AsnInfo,
    severity: Severity,
    history: &ThreatHistory,
) -> Enrichment {
    let Some(ip) = user_ip.and_then(|s| classify_ip(s).public()) else {
        return Enrichment::default();
    };
    let flags = lists.flags(ip, asn.asn);
    let location = &location.completed();
    let score = threat_score(Some(&flags), severity, history);
    let network = NetworkForensics {
        flags,
        asn: asn.clone(),
        threat_score: score,
    };
    Enrichment {
        country_code: location.country_code.clone(),
        city: location.city.clone(),
        latitude: location.latitude,
        longitude: location.longitude,
        is_vpn: Some(flags.is_vpn),
        is_tor: Some(flags.is_tor),
        is_proxy: Some(flags.is_proxy),
        is_datacenter: Some(flags.is_datacenter),
        threat_score: score,
        forensics: Some(forensics(Some(location), Some(&network))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::ListTexts;

    fn berlin() -> LocationInfo {
        LocationInfo {
            city: Some("Berlin".into()),
            region: Some("Land Berlin".into()),
            country_code: Some("DE".into()),
            country_name: Some("Germany".into()),
            latitude: Some(52.52),
            longitude: Some(13.405),
            timezone: Some("Europe/Berlin".into()),
        }
    }

    fn hetzner() -> AsnInfo {
        AsnInfo {
            asn: Some(24940),
            asn_org: Some("Hetzner Online GmbH".into()),
            isp: None,
            is_mobile: false,
        }
    }

    #[test]
    fn full_shape() {
        let network = NetworkForensics {
            flags: NetworkFlags {
                is_datacenter: true,
                is_relay: true,
                ..Default::default()
            },
            asn: hetzner(),
            threat_score: Some(20),
        };
        let v = forensics(Some(&berlin()), Some(&network));
        assert_eq!(
            v,
            json!({
                "network": {
                    "is_vpn": false,
                    "is_tor": false,
                    "is_proxy": false,
                    "is_datacenter": true,
                    "is_mobile": false,
                    "asn": 24940,
                    "asn_org": "Hetzner Online GmbH",
                    "isp": null,
                    "threat_score": 20,
                },
                "location": {
                    "city": "Berlin",
                    "region": "Land Berlin",
                    "country_code": "DE",
                    "country_name": "Germany",
                    "latitude": 52.52,
                    "longitude": 13.405,
                    "timezone": "Europe/Berlin",
                },
            })
        );
    }

    #[test]
    fn unknown_parts_are_null() {
        assert_eq!(
            forensics(None, None),
            json!({ "network": null, "location": null })
        );
        let v = forensics(Some(&LocationInfo::default()), None);
        assert_eq!(v["location"], Value::Null);
        // A partly known location keeps its nulls.
        let only_country = LocationInfo {
            country_code: Some("FR".into()),
            ..Default::default()
        };
        let v = forensics(Some(&only_country), Some(&NetworkForensics::default()));
        assert_eq!(v["location"]["country_code"], "FR");
        assert_eq!(v["location"]["latitude"], Value::Null);
        assert_eq!(v["location"].as_object().unwrap().len(), 7);
        let n = v["network"].as_object().unwrap();
        assert_eq!(n.len(), 9);
        assert_eq!(n["asn"], Value::Null);
        assert_eq!(n["threat_score"], Value::Null);
        assert_eq!(n["is_mobile"], false);
    }

    #[test]
    fn enrich_public_address() {
        let lists = NetworkLists::shipped();
        let e = enrich(
            lists,
            Some("203.0.113.50"),
            &berlin(),
            &hetzner(),
            Severity::Medium,
            &ThreatHistory {
                ip_failed_logins_24h: 1,
                ..Default::default()
            },
        );
        assert_eq!(e.country_code.as_deref(), Some("DE"));
        assert_eq!(e.city.as_deref(), Some("Berlin"));
        assert_eq!(e.latitude, Some(52.52));
        assert_eq!(e.longitude, Some(13.405));
        assert_eq!(
            (e.is_vpn, e.is_tor, e.is_proxy, e.is_datacenter),
            (Some(false), Some(false), Some(false), Some(true))
        );
        // datacenter 15 + medium 5 + one failed login 3
        assert_eq!(e.threat_score, Some(23));
        let f = e.forensics.unwrap();
        assert_eq!(f["network"]["threat_score"], 23);
        assert_eq!(f["network"]["asn"], 24940);
        assert_eq!(f["location"]["timezone"], "Europe/Berlin");
    }

    #[test]
    fn enrich_without_any_source_still_scores() {
        let lists = NetworkLists::from_texts(&ListTexts {
            tor_exits: Some("2001:db8::66\n"),
            ..Default::default()
        })
        .unwrap();
        let e = enrich(
            &lists,
            Some("2001:db8::66"),
            &LocationInfo::default(),
            &AsnInfo::default(),
            Severity::Info,
            &ThreatHistory::default(),
        );
        assert_eq!(e.country_code, None);
        assert_eq!(e.is_tor, Some(true));
        assert_eq!(e.is_datacenter, Some(false));
        assert_eq!(e.threat_score, Some(40));
        let f = e.forensics.unwrap();
        assert_eq!(f["location"], Value::Null);
        assert_eq!(f["network"]["is_tor"], true);
        assert_eq!(f["network"]["asn"], Value::Null);
    }

    #[test]
    fn enrich_non_public_is_all_null() {
        let lists = NetworkLists::shipped();
        let history = ThreatHistory {
            open_alerts_for_ip_or_actor: 3,
            ..Default::default()
        };
        for ip in [
            None,
            Some("unknown"),
            Some(""),
            Some("10.0.0.1"),
            Some("127.0.0.1"),
            Some("100.64.0.1"),
            Some("::1"),
            Some("fd00::1"),
            Some("::ffff:192.168.0.1"),
        ] {
            let e = enrich(
                lists,
                ip,
                &berlin(),
                &hetzner(),
                Severity::Critical,
                &history,
            );
            assert_eq!(e, Enrichment::default(), "{ip:?}");
        }
    }

    #[test]
    fn enrichment_serializes_flat_with_forensics() {
        let e = enrich(
            NetworkLists::shipped(),
            Some("185.220.101.1"),
            &LocationInfo::default(),
            &AsnInfo::default(),
            Severity::Low,
            &ThreatHistory::default(),
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["is_tor"], true);
        assert_eq!(v["threat_score"], 42);
        assert_eq!(v["forensics"]["network"]["is_tor"], true);
        assert_eq!(v["city"], Value::Null);
    }
}
