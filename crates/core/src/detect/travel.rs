//! Great-circle distance and the impossible-travel rule (docs/api.md §10.3).

use super::config::minutes_ms;
use super::{
    actor_key, candidate, is_prior, is_successful_login, AlertCandidate, AlertSeverity,
    DetectionConfig, DetectionEvent, History, TravelConfig,
};
use crate::ingest::catalogue::AlertType;
use crate::intel::places;
use serde_json::{json, Value};
use std::net::IpAddr;

/// Mean Earth radius used by the haversine formula, as the contract fixes it.
pub const EARTH_RADIUS_KM: f64 = 6371.0;

const HOUR_MS: f64 = 3_600_000.0;

/// Great-circle distance in km between two points given in decimal degrees (haversine,
/// R = 6371 km).
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = (lat2 - lat1).to_radians();
    let d_lambda = (lon2 - lon1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    // Rounding can push `a` a hair past 1 for antipodal points, where asin would give NaN.
    2.0 * EARTH_RADIUS_KM * a.clamp(0.0, 1.0).sqrt().asin()
}

/// A pair of logins that is fast and far enough to alert on.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Leg {
    distance_km: f64,
    speed_kmh: f64,
    gap_ms: i64,
}

/// Applies the distance, speed and jitter thresholds to one pair of logins `gap_ms` apart.
fn assess(distance_km: f64, gap_ms: i64, cfg: &TravelConfig) -> Option<Leg> {
    // GeoIP jitter: both close and quick. Redundant with the default 500 km floor, kept so a
    // lowered floor cannot turn city-level GeoIP noise into alerts.
    let jitter = distance_km < cfg.jitter_km && gap_ms < minutes_ms(cfg.jitter_minutes);
    if jitter || distance_km < cfg.min_distance_km {
        return None;
    }
    // Flooring the gap keeps equal timestamps finite; the extra 1 ms floor only matters if the
    // configured floor is 0, and keeps the speed out of infinity (which JSON cannot carry).
    let floor_ms = i64::from(cfg.min_gap_seconds) * 1000;
    let hours = gap_ms.max(floor_ms).max(1) as f64 / HOUR_MS;
    let speed_kmh = distance_km / hours;
    (speed_kmh > cfg.min_speed_kmh).then_some(Leg {
        distance_km,
        speed_kmh,
        gap_ms,
    })
}

/// Impossible travel for a successful login: pairs it with the actor's latest earlier
/// successful login inside the lookback ("two consecutive logins"). If that previous login is
/// unusable (no coordinates, same IP) the rule stays silent rather than reaching further back,
/// because an older login is not the consecutive one.
pub(super) fn impossible_travel(
    event: &DetectionEvent,
    history: &History,
    config: &DetectionConfig,
) -> Option<AlertCandidate> {
    if !is_successful_login(&event.event_name) {
        return None;
    }
    let actor = event.actor()?;
    let cfg = &config.travel;
    let lookback = cfg.lookback_ms();
    let prev = history
        .actor_logins
        .iter()
        .filter(|p| {
            is_successful_login(&p.event_name)
                && p.actor().is_none_or(|a| a == actor)
                && is_prior(event, &p.id, p.created_at, lookback)
        })
        .max_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        })?;

    // Identical IPs cannot mean travel, whatever GeoIP says. Compared as addresses so
    // spelling variants of one IPv6 address are still "the same".
    let addr = |e: &DetectionEvent| e.ip().and_then(|s| s.parse::<IpAddr>().ok());
    if addr(prev).is_some() && addr(prev) == addr(event) {
        return None;
    }
    let (from, to) = (prev.coords()?, event.coords()?);
    let gap_ms = event.created_at.0 - prev.created_at.0;
    let leg = assess(haversine_km(from.0, from.1, to.0, to.1), gap_ms, cfg)?;

    // A VPN, Tor, proxy, datacenter or relay on either side makes the location unreliable:
    // still alert (the analyst may want to know) but at low severity and confidence.
    let mut networks = prev.network_types();
    networks.extend(event.network_types());
    networks.sort_unstable();
    networks.dedup();
    let downgraded = !networks.is_empty();
    let (severity, confidence) = if downgraded {
        (AlertSeverity::Low, config.confidence.travel_downgraded)
    } else {
        (AlertSeverity::High, config.confidence.travel)
    };
    let minutes = leg.gap_ms as f64 / 60_000.0;
    let summary = format!(
        "{} to {}: {:.0} km in {:.1} min ({:.0} km/h){}",
        place(prev, from),
        place(event, to),
        leg.distance_km,
        minutes,
        leg.speed_kmh,
        if downgraded {
            format!("; via {}", networks.join(", "))
        } else {
            String::new()
        }
    );
    let hop = json!({
        "from": endpoint(prev, from),
        "to": endpoint(event, to),
        "distance_km": round1(leg.distance_km),
        "speed_kmh": round1(leg.speed_kmh),
        "window_minutes": round1(minutes),
        "downgraded": downgraded,
        "networks": networks,
        "summary": summary,
    });
    Some(AlertCandidate {
        dedup_key: actor_key(actor),
        title: format!("Impossible travel for {actor}"),
        description: summary,
        // The latest hop at the top level; `hops` grows as later hops update the alert
        // (`crate::alerts::store` appends them, at most `MAX_HOPS`).
        evidence: json!({
            "distance_km": hop["distance_km"],
            "speed_kmh": hop["speed_kmh"],
            "window_minutes": hop["window_minutes"],
            "from": hop["from"],
            "to": hop["to"],
            "downgraded": downgraded,
            "networks": hop["networks"],
            "event_ids": [prev.id, event.id],
            "hops": [hop],
        }),
        ..candidate(event, AlertType::ImpossibleTravel, severity, confidence)
    })
}

/// One side of a hop: the login's event and time, where it was (with the country's name and
/// time zone), and the network it came from.
pub(super) fn endpoint(e: &DetectionEvent, (lat, lon): (f64, f64)) -> Value {
    let country = e.country.as_deref();
    json!({
        "event_id": e.id,
        "at": e.created_at.iso_millis(),
        "country": e.country,
        "country_name": country.and_then(places::country_name),
        "city": e.city,
        "timezone": e.timezone.as_deref().or_else(|| places::timezone(country, Some((lat, lon)))),
        "lat": lat,
        "lon": lon,
        "ip": e.ip(),
        "asn": e.asn,
        "asn_org": e.asn_org,
        "networks": e.network_types(),
    })
}

/// A readable place: "City, CC", else the country, else the coordinates.
fn place(e: &DetectionEvent, (lat, lon): (f64, f64)) -> String {
    match (e.city.as_deref(), e.country.as_deref()) {
        (Some(city), Some(cc)) => format!("{city}, {cc}"),
        (Some(name), None) | (None, Some(name)) => name.to_owned(),
        (None, None) => format!("{lat:.2},{lon:.2}"),
    }
}

/// One decimal: evidence is for people, and full float noise reads as false precision.
fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::time::UnixMs;

    fn cfg() -> DetectionConfig {
        DetectionConfig::default()
    }

    fn pair(prev: DetectionEvent, now: DetectionEvent) -> Option<AlertCandidate> {
        let h = History {
            actor_logins: vec![prev],
            ..History::default()
        };
        impossible_travel(&now, &h, &cfg())
    }

    /// London, then New York an hour later from another IP: ~5570 km/h.
    fn london_then_new_york() -> (DetectionEvent, DetectionEvent) {
        (
            login("p", -HOUR, "203.0.113.1", LONDON, "GB"),
            login("t", 0, "198.51.100.1", NEW_YORK, "US"),
        )
    }

    #[test]
    fn haversine_london_new_york_is_about_5570_km() {
        let d = haversine_km(LONDON.0, LONDON.1, NEW_YORK.0, NEW_YORK.1);
        assert!((d - 5570.0).abs() < 55.7, "{d}");
        assert_eq!(d, haversine_km(NEW_YORK.0, NEW_YORK.1, LONDON.0, LONDON.1));
        assert_eq!(haversine_km(10.0, 20.0, 10.0, 20.0), 0.0);
        // Antipodes: half the circumference, and never NaN.
        let half = haversine_km(0.0, 0.0, 0.0, 180.0);
        assert!((half - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6);
        // One degree of latitude is R·π/180 ≈ 111.19 km.
        assert!((haversine_km(0.0, 5.0, 1.0, 5.0) - 111.195).abs() < 0.001);
    }

    #[test]
    fn distance_threshold_is_inclusive_at_500_km() {
        let c = cfg().travel;
        assert!(assess(500.0, 10 * MIN, &c).is_some());
        assert!(assess(499.999, 10 * MIN, &c).is_none());
        assert!(assess(500.001, 10 * MIN, &c).is_some());
    }

    #[test]
    fn speed_threshold_is_strictly_above_805_kmh() {
        let c = cfg().travel;
        // 805 km in exactly one hour is 805 km/h: not above the threshold.
        assert!(assess(805.0, HOUR, &c).is_none());
        assert!(assess(805.0, HOUR + 1000, &c).is_none());
        let leg = assess(805.0, HOUR - 1000, &c).unwrap();
        assert!(leg.speed_kmh > 805.0 && leg.speed_kmh < 805.3);
    }

    #[test]
    fn time_gap_is_floored_at_one_second() {
        let c = cfg().travel;
        let leg = assess(600.0, 0, &c).unwrap();
        assert_eq!(leg.speed_kmh, 600.0 * 3600.0);
        assert_eq!(assess(600.0, 500, &c).unwrap().speed_kmh, leg.speed_kmh);
        // Even a zero floor never divides by zero.
        let zero = TravelConfig {
            min_gap_seconds: 0,
            ..c
        };
        assert!(assess(600.0, 0, &zero).unwrap().speed_kmh.is_finite());
    }

    #[test]
    fn jitter_guard_needs_both_under_50_km_and_under_10_min() {
        // Lower the floors so only the guard can stop an alert.
        let c = TravelConfig {
            min_distance_km: 0.0,
            min_speed_kmh: 0.0,
            ..cfg().travel
        };
        assert!(assess(49.9, 10 * MIN - 1, &c).is_none());
        assert!(assess(49.9, 10 * MIN, &c).is_some());
        assert!(assess(50.0, 10 * MIN - 1, &c).is_some());
    }

    #[test]
    fn london_to_new_york_in_an_hour_alerts_high() {
        let (p, t) = london_then_new_york();
        let c = pair(p, t).unwrap();
        assert_eq!(c.alert_type, AlertType::ImpossibleTravel);
        assert_eq!((c.severity, c.confidence), (AlertSeverity::High, 90));
        assert_eq!(c.dedup_key, "actor:alice");
        assert_eq!(c.trigger_event_id, "t");
        assert_eq!(
            keys(&c.evidence),
            [
                "distance_km",
                "downgraded",
                "event_ids",
                "from",
                "hops",
                "networks",
                "speed_kmh",
                "to",
                "window_minutes"
            ]
        );
        let ev = &c.evidence;
        assert_eq!(ev["downgraded"], false);
        assert_eq!(ev["networks"], json!([]));
        assert_eq!(ev["window_minutes"], 60.0);
        assert_eq!(ev["event_ids"], json!(["p", "t"]));
        let d = ev["distance_km"].as_f64().unwrap();
        assert!((d - 5570.0).abs() < 55.7);
        assert_eq!(ev["speed_kmh"].as_f64(), Some(d));
        assert_eq!(
            ev["from"],
            json!({"event_id": "p", "at": UnixMs(T0 - HOUR).iso_millis(), "country": "GB",
                "country_name": "United Kingdom", "city": null, "timezone": "Europe/London",
                "lat": LONDON.0, "lon": LONDON.1, "ip": "203.0.113.1", "asn": null,
                "asn_org": null, "networks": []})
        );
        assert_eq!(ev["to"]["ip"], "198.51.100.1");
        assert_eq!(
            ev["to"]["timezone"], "America/New_York",
            "from the coordinates"
        );
        // The one hop so far, as later hops will be appended to it.
        let hops = ev["hops"].as_array().unwrap();
        assert_eq!(hops.len(), 1);
        assert_eq!((&hops[0]["from"], &hops[0]["to"]), (&ev["from"], &ev["to"]));
        assert_eq!(hops[0]["summary"], c.description);
        assert!(
            c.description.starts_with("GB to US: 55"),
            "{}",
            c.description
        );
    }

    #[test]
    fn same_ip_pairs_are_ignored() {
        let (mut p, t) = london_then_new_york();
        p.source_ip = t.source_ip.clone();
        assert!(pair(p, t).is_none());
        // Two spellings of one IPv6 address are the same IP.
        let (mut p, mut t) = london_then_new_york();
        p.source_ip = Some("2001:db8::1".into());
        t.source_ip = Some("2001:0db8:0:0::1".into());
        assert!(pair(p, t).is_none());
    }

    #[test]
    fn zero_zero_or_missing_coordinates_skip_the_pair() {
        let (mut p, t) = london_then_new_york();
        (p.latitude, p.longitude) = (Some(0.0), Some(0.0));
        assert!(pair(p, t.clone()).is_none());
        let (p, mut t) = london_then_new_york();
        t.latitude = None;
        assert!(pair(p, t).is_none());
    }

    #[test]
    fn the_consecutive_login_is_used_not_an_older_one() {
        // London 2 h ago would be impossible, but the latest login is New York 30 min ago.
        let h = History {
            actor_logins: vec![
                login("old", -2 * HOUR, "203.0.113.1", LONDON, "GB"),
                login("last", -30 * MIN, "198.51.100.2", (40.73, -73.99), "US"),
            ],
            ..History::default()
        };
        let t = login("t", 0, "198.51.100.1", NEW_YORK, "US");
        assert!(impossible_travel(&t, &h, &cfg()).is_none());
        // An unlocated latest login also blocks the pair rather than falling back.
        let mut unlocated = login("last", -30 * MIN, "198.51.100.2", NEW_YORK, "US");
        unlocated.latitude = None;
        let h = History {
            actor_logins: vec![
                login("old", -2 * HOUR, "203.0.113.1", LONDON, "GB"),
                unlocated,
            ],
            ..History::default()
        };
        assert!(impossible_travel(&t, &h, &cfg()).is_none());
    }

    #[test]
    fn lookback_is_24_hours_inclusive() {
        // Lower the speed floor so a day-long London–New York gap (~232 km/h) can alert.
        let mut c = cfg();
        c.travel.min_speed_kmh = 100.0;
        let t = login("t", 0, "198.51.100.1", NEW_YORK, "US");
        let at = |offset| History {
            actor_logins: vec![login("p", offset, "203.0.113.1", LONDON, "GB")],
            ..History::default()
        };
        assert!(impossible_travel(&t, &at(-DAY), &c).is_some());
        assert!(impossible_travel(&t, &at(-DAY - 1), &c).is_none());
        assert!(impossible_travel(&t, &at(-DAY + 1), &c).is_some());
    }

    #[test]
    fn vpn_tor_proxy_datacenter_or_relay_downgrades_instead_of_suppressing() {
        for flag in ["vpn", "tor", "proxy", "datacenter", "relay"] {
            let (mut p, t) = london_then_new_york();
            match flag {
                "vpn" => p.is_vpn = true,
                "tor" => p.is_tor = true,
                "proxy" => p.is_proxy = true,
                "datacenter" => p.is_datacenter = true,
                _ => p.is_relay = true,
            }
            let c = pair(p, t).unwrap();
            assert_eq!(
                (c.severity, c.confidence),
                (AlertSeverity::Low, 40),
                "{flag}"
            );
            assert_eq!(c.evidence["downgraded"], true);
            assert_eq!(c.evidence["networks"], json!([flag]));
            assert_eq!(c.evidence["from"]["networks"], json!([flag]));
            assert!(
                c.description.ends_with(&format!("; via {flag}")),
                "{}",
                c.description
            );
        }
        let (p, mut t) = london_then_new_york();
        t.is_vpn = true;
        assert_eq!(pair(p, t).unwrap().severity, AlertSeverity::Low);
    }

    #[test]
    fn only_successful_logins_of_the_actor_pair_up() {
        let (p, t) = london_then_new_york();
        let mut failed = p.clone();
        failed.event_name = "auth.login_failed".into();
        assert!(pair(failed, t.clone()).is_none());
        let mut other = p.clone();
        other.actor_id = Some("mallory".into());
        assert!(pair(other, t.clone()).is_none());
        // The trigger itself in the history, or a later login, is not "previous".
        assert!(pair(t.clone(), t.clone()).is_none());
        let mut later = p;
        later.created_at = UnixMs(T0 + 1);
        assert!(pair(later, t.clone()).is_none());
        let mut no_actor = t.clone();
        no_actor.actor_id = None;
        let (p, _) = london_then_new_york();
        assert!(pair(p, no_actor).is_none());
    }

    #[test]
    fn equal_timestamps_still_alert_with_the_floored_gap() {
        let (mut p, t) = london_then_new_york();
        p.created_at = t.created_at;
        let c = pair(p, t).unwrap();
        assert_eq!(c.evidence["window_minutes"], 0.0);
        assert!(c.evidence["speed_kmh"].as_f64().unwrap() > 1e7);
    }
}
