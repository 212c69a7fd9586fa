//! First-seen rules: a successful login from a country (geo anomaly) or a device (new device)
//! not seen for the actor in the history window. Both stay silent on the actor's first event,
//! since everything is "new" then (Panther's 4-week location memory; docs/api.md §10.4, §10.5).

use super::config::days_ms;
use super::{
    actor_key, candidate, is_prior, is_successful_login, subject_key, subject_label,
    AlertCandidate, AlertSeverity, DetectionConfig, DetectionEvent, History, Sighting,
};
use crate::ingest::catalogue::AlertType;
use crate::intel::places;
use serde_json::json;
use std::collections::BTreeSet;

/// Country codes that name no country: Cloudflare's `T1` (Tor) and `XX` (unknown).
const NOT_A_COUNTRY: [&str; 2] = ["T1", "XX"];

/// Geo anomaly: a successful login from a country the actor has not been seen in within
/// `geo_history_days`, or from a country on the organisation's blocklist. A blocklisted country
/// alerts whatever the history (the actor's first login, a country seen before, no actor at
/// all), at high severity; keyed by the actor, else the IP.
pub(super) fn geo_anomaly(
    event: &DetectionEvent,
    history: &History,
    config: &DetectionConfig,
) -> Option<AlertCandidate> {
    if !is_successful_login(&event.event_name) {
        return None;
    }
    let country = country_code(event.country.as_deref()?)?;
    let days = config.geo_history_days;
    let known = recent_values(event, &history.actor_countries, days, country_code);
    let blocklisted = config.country_blocklist.contains(&country);
    let new =
        event.actor().is_some() && !known.contains(&country) && actor_seen_before(event, history);
    if !(blocklisted || new) {
        return None;
    }
    let name = places::country_name(&country).unwrap_or(&country);
    let who = subject_label(event);
    let (title, description, severity, confidence) = if blocklisted {
        (
            format!("Login from a blocklisted country for {who}"),
            format!("Login from {name} ({country}), a country on your blocklist"),
            AlertSeverity::High,
            config.confidence.geo_blocklist,
        )
    } else {
        (
            format!("Login from a new country for {who}"),
            format!("First login from {name} ({country}) in {days} days"),
            AlertSeverity::Medium,
            config.confidence.geo_anomaly,
        )
    };
    Some(AlertCandidate {
        dedup_key: subject_key(event),
        title,
        description,
        evidence: json!({"country": country, "country_name": name, "known_countries": known,
            "history_days": days, "blocklisted": blocklisted}),
        ..candidate(event, AlertType::GeoAnomaly, severity, confidence)
    })
}

/// New device: a successful login whose device (`metadata.device_id`, else the user agent)
/// the actor has not used within `device_history_days`.
pub(super) fn new_device(
    event: &DetectionEvent,
    history: &History,
    config: &DetectionConfig,
) -> Option<AlertCandidate> {
    if !is_successful_login(&event.event_name) {
        return None;
    }
    let actor = event.actor()?;
    let device = device_id(event.device.as_deref()?)?;
    let days = config.device_history_days;
    let known = recent_values(event, &history.actor_devices, days, device_id);
    if known.contains(&device) || !actor_seen_before(event, history) {
        return None;
    }
    Some(AlertCandidate {
        dedup_key: actor_key(actor),
        title: format!("New device for {actor}"),
        description: format!("Login from a device not seen in the last {days} days"),
        evidence: json!({"device": device, "history_days": days}),
        ..candidate(
            event,
            AlertType::NewDevice,
            AlertSeverity::Low,
            config.confidence.new_device,
        )
    })
}

/// Upper-cased ISO code; `None` for blanks and non-countries, which neither alert nor count
/// as known.
fn country_code(raw: &str) -> Option<String> {
    let cc = raw.trim().to_ascii_uppercase();
    (!cc.is_empty() && !NOT_A_COUNTRY.contains(&cc.as_str())).then_some(cc)
}

/// Trimmed device identifier; compared exactly otherwise, since ids and user agents are opaque.
fn device_id(raw: &str) -> Option<String> {
    let d = raw.trim();
    (!d.is_empty()).then(|| d.to_owned())
}

/// The distinct normalised values seen before the trigger within `days`.
fn recent_values(
    trigger: &DetectionEvent,
    sightings: &[Sighting],
    days: u32,
    normalise: fn(&str) -> Option<String>,
) -> BTreeSet<String> {
    let window = days_ms(days);
    sightings
        .iter()
        .filter(|s| is_prior(trigger, &s.event_id, s.at, window))
        .filter_map(|s| normalise(&s.value))
        .collect()
}

/// Whether the actor has any event before the trigger: the caller's flag, or any earlier
/// entry in the actor-scoped history (so a caller that filled the lists but not the flag
/// still gets alerts). Lists scoped to the IP say nothing about the actor and are not read.
fn actor_seen_before(trigger: &DetectionEvent, history: &History) -> bool {
    let earlier = |id: &str, at: crate::time::UnixMs| is_prior(trigger, id, at, i64::MAX);
    history.actor_has_prior_event
        || history
            .actor_logins
            .iter()
            .any(|e| earlier(&e.id, e.created_at))
        || history
            .actor_failed_logins
            .iter()
            .chain(&history.actor_rate_limits)
            .any(|o| earlier(&o.event_id, o.at))
        || history
            .actor_countries
            .iter()
            .chain(&history.actor_devices)
            .any(|s| earlier(&s.event_id, s.at))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::Occurrence;
    use super::*;

    fn cfg() -> DetectionConfig {
        DetectionConfig::default()
    }

    fn fr_login() -> DetectionEvent {
        let mut e = login("t", 0, "198.51.100.1", (48.8566, 2.3522), "FR");
        e.device = Some("dev-new".into());
        e
    }

    fn countries(seen_list: Vec<Sighting>) -> History {
        History {
            actor_countries: seen_list,
            actor_has_prior_event: true,
            ..History::default()
        }
    }

    #[test]
    fn geo_anomaly_fires_for_an_unseen_country() {
        let h = countries(vec![
            seen("a", -DAY, "US"),
            seen("b", -2 * DAY, "gb"),
            seen("c", -DAY, "US"),
        ]);
        let c = geo_anomaly(&fr_login(), &h, &cfg()).unwrap();
        assert_eq!(c.alert_type, AlertType::GeoAnomaly);
        assert_eq!((c.severity, c.confidence), (AlertSeverity::Medium, 70));
        assert_eq!(c.dedup_key, "actor:alice");
        assert_eq!(
            c.evidence,
            json!({"country": "FR", "country_name": "France", "known_countries": ["GB", "US"],
                "history_days": 28, "blocklisted": false})
        );
        assert_eq!(c.description, "First login from France (FR) in 28 days");
    }

    #[test]
    fn a_blocklisted_country_alerts_high_whatever_the_history() {
        let cfg = DetectionConfig {
            country_blocklist: vec!["FR".into(), "KP".into()],
            ..DetectionConfig::default()
        };
        // The actor's first event, and a country seen before: silent without the blocklist.
        let first = History::default();
        let seen_fr = countries(vec![seen("a", -DAY, "FR")]);
        for h in [&first, &seen_fr] {
            assert!(geo_anomaly(&fr_login(), h, &DetectionConfig::default()).is_none());
            let c = geo_anomaly(&fr_login(), h, &cfg).unwrap();
            assert_eq!((c.severity, c.confidence), (AlertSeverity::High, 90));
            assert_eq!(c.title, "Login from a blocklisted country for alice");
            assert_eq!(
                c.description,
                "Login from France (FR), a country on your blocklist"
            );
            assert_eq!(c.evidence["blocklisted"], true);
        }
        // No actor: keyed by the IP.
        let mut anonymous = fr_login();
        anonymous.actor_id = None;
        let c = geo_anomaly(&anonymous, &first, &cfg).unwrap();
        assert_eq!(c.dedup_key, format!("ip:{}", anonymous.ip().unwrap()));
        // Other countries and failed logins are not the blocklist's.
        let mut failed = fr_login();
        failed.event_name = "auth.login_failed".into();
        assert!(geo_anomaly(&failed, &first, &cfg).is_none());
        let mut de = fr_login();
        de.country = Some("DE".into());
        assert!(geo_anomaly(&de, &first, &cfg).is_none());
    }

    #[test]
    fn geo_anomaly_is_silent_on_the_actors_first_event() {
        assert!(geo_anomaly(&fr_login(), &History::default(), &cfg()).is_none());
        // The trigger itself, already stored, does not make the actor known.
        let h = History {
            actor_countries: vec![seen("t", 0, "FR")],
            ..History::default()
        };
        assert!(geo_anomaly(&fr_login(), &h, &cfg()).is_none());
        // Any earlier actor event does, even without a country.
        let h = History {
            actor_failed_logins: vec![Occurrence {
                event_id: "x".into(),
                at: crate::time::UnixMs(T0 - 40 * DAY),
                peer: None,
            }],
            ..History::default()
        };
        let c = geo_anomaly(&fr_login(), &h, &cfg()).unwrap();
        assert_eq!(c.evidence["known_countries"], json!([]));
    }

    #[test]
    fn geo_memory_is_28_days_inclusive() {
        let at = |offset| countries(vec![seen("a", offset, "FR")]);
        assert!(geo_anomaly(&fr_login(), &at(-28 * DAY), &cfg()).is_none());
        assert!(geo_anomaly(&fr_login(), &at(-28 * DAY + 1), &cfg()).is_none());
        assert!(geo_anomaly(&fr_login(), &at(-28 * DAY - 1), &cfg()).is_some());
        // A later sighting is not "previous".
        assert!(geo_anomaly(&fr_login(), &at(1), &cfg()).is_some());
    }

    #[test]
    fn geo_anomaly_needs_a_real_country_and_a_successful_login() {
        let h = countries(vec![seen("a", -DAY, "US")]);
        for cc in ["", " ", "T1", "XX"] {
            let mut e = fr_login();
            e.country = Some(cc.into());
            assert!(geo_anomaly(&e, &h, &cfg()).is_none(), "{cc:?}");
        }
        let mut e = fr_login();
        e.country = Some(" fr ".into());
        assert_eq!(
            geo_anomaly(&e, &h, &cfg()).unwrap().evidence["country"],
            "FR"
        );
        e.event_name = "auth.login_failed".into();
        assert!(geo_anomaly(&e, &h, &cfg()).is_none());
    }

    fn devices(seen_list: Vec<Sighting>) -> History {
        History {
            actor_devices: seen_list,
            actor_has_prior_event: true,
            ..History::default()
        }
    }

    #[test]
    fn new_device_fires_for_an_unseen_device() {
        let c = new_device(
            &fr_login(),
            &devices(vec![seen("a", -DAY, "dev-old")]),
            &cfg(),
        )
        .unwrap();
        assert_eq!(c.alert_type, AlertType::NewDevice);
        assert_eq!((c.severity, c.confidence), (AlertSeverity::Low, 60));
        assert_eq!(c.dedup_key, "actor:alice");
        assert_eq!(c.evidence, json!({"device": "dev-new", "history_days": 28}));
    }

    #[test]
    fn new_device_memory_is_28_days_inclusive() {
        let at = |offset| devices(vec![seen("a", offset, "dev-new")]);
        assert!(new_device(&fr_login(), &at(-28 * DAY), &cfg()).is_none());
        assert!(new_device(&fr_login(), &at(-28 * DAY + 1), &cfg()).is_none());
        assert!(new_device(&fr_login(), &at(-28 * DAY - 1), &cfg()).is_some());
    }

    #[test]
    fn new_device_is_silent_on_first_event_and_without_a_device() {
        assert!(new_device(&fr_login(), &History::default(), &cfg()).is_none());
        let mut e = fr_login();
        e.device = None;
        assert!(new_device(&e, &devices(vec![]), &cfg()).is_none());
        e.device = Some("  ".into());
        assert!(new_device(&e, &devices(vec![]), &cfg()).is_none());
        let mut logout = fr_login();
        logout.event_name = "auth.logout".into();
        assert!(new_device(&logout, &devices(vec![]), &cfg()).is_none());
    }

    #[test]
    fn an_earlier_login_in_the_history_counts_as_a_prior_event() {
        let h = History {
            actor_logins: vec![login("p", -HOUR, "203.0.113.1", LONDON, "GB")],
            ..History::default()
        };
        assert!(new_device(&fr_login(), &h, &cfg()).is_some());
    }
}
