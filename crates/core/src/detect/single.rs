//! Alerts decided by the event alone: instant alerts from explicit events (docs/api.md §6,
//! §10.6), successful logins from a Tor exit (§10.8), and an agent gone silent
//! (docs/integrations.md §3.1).

use super::{
    candidate, is_successful_login, subject_label, AlertCandidate, AlertSeverity, DetectionConfig,
    DetectionEvent,
};
use crate::ingest::catalogue::{lookup, AlertType};
use crate::intel::places;
use serde_json::json;

/// An explicit event that is an alert in itself: critical, full confidence, keyed by the actor
/// (else the IP, else the event).
pub(super) fn instant(event: &DetectionEvent, config: &DetectionConfig) -> Option<AlertCandidate> {
    let alert_type = lookup(&event.event_name).instant_alert?;
    Some(AlertCandidate {
        title: format!("{}: {}", label(alert_type), event.event_name),
        description: format!(
            "{} reported {} for {}",
            event.event_name,
            label(alert_type).to_lowercase(),
            subject_label(event)
        ),
        evidence: json!({"event_name": event.event_name, "event_id": event.id}),
        ..candidate(
            event,
            alert_type,
            AlertSeverity::Critical,
            config.confidence.instant,
        )
    })
}

/// An agent that stopped beating (`agent.heartbeat_missed`, which the Worker's agent sweep
/// emits for it, the host as its actor): suspicious activity, low, keyed by the host, when the
/// organisation asked for these alerts (`agents.stale_alert_minutes` > 0).
pub(super) fn silent_agent(
    event: &DetectionEvent,
    config: &DetectionConfig,
) -> Option<AlertCandidate> {
    let minutes = config.agent_silence_minutes;
    if event.event_name != crate::ingest::agents::SILENT_EVENT || minutes == 0 {
        return None;
    }
    let host = event.actor()?;
    let minutes = minutes.max(crate::ingest::agents::STALE_AFTER_MINUTES);
    Some(AlertCandidate {
        title: format!("Agent stopped reporting: {host}"),
        description: format!(
            "The litesoc-agent on {host} sent no heartbeat for {minutes} min \
             (it beats every 60 s, or every 5 min when idle)"
        ),
        evidence: json!({"hostname": host, "silent_minutes": minutes, "event_id": event.id}),
        dedup_key: format!("agent:{host}"),
        ..candidate(
            event,
            AlertType::SuspiciousActivity,
            AlertSeverity::Low,
            config.confidence.instant,
        )
    })
}

/// A successful login from a Tor exit ("suspicious network"): medium, keyed like an instant
/// alert. It uses the instant alerts' evidence, `{event_name, event_id}` (docs/api.md §10.10):
/// it is likewise decided by one event.
pub(super) fn tor_login(
    event: &DetectionEvent,
    config: &DetectionConfig,
) -> Option<AlertCandidate> {
    if !(is_successful_login(&event.event_name) && event.is_tor) {
        return None;
    }
    Some(AlertCandidate {
        title: format!("Login via Tor by {}", subject_label(event)),
        description: format!(
            "Successful login from Tor exit {}",
            event.ip().unwrap_or("(unknown IP)")
        ),
        evidence: json!({"event_name": event.event_name, "event_id": event.id}),
        ..candidate(
            event,
            AlertType::SuspiciousActivity,
            AlertSeverity::Medium,
            config.confidence.tor_login,
        )
    })
}

/// A successful login from a VPN, proxy or datacenter network (LiteSOC's "suspicious network"):
/// low, keyed like an instant alert, with the network types and the address's network in the
/// evidence. A Tor exit alone is the Tor-login rule's; relay lists (satellite ISPs, iCloud
/// Private Relay) are ordinary consumer networks and raise nothing.
pub(super) fn suspicious_network(
    event: &DetectionEvent,
    config: &DetectionConfig,
) -> Option<AlertCandidate> {
    if !is_successful_login(&event.event_name)
        || !(event.is_vpn || event.is_proxy || event.is_datacenter)
    {
        return None;
    }
    let networks = event.network_types();
    let country = event.country.as_deref();
    Some(AlertCandidate {
        title: format!(
            "Login from a {} network by {}",
            networks.join("/"),
            subject_label(event)
        ),
        description: format!(
            "Successful login from {} ({}{})",
            event.ip().unwrap_or("(unknown IP)"),
            networks.join(", "),
            event
                .asn_org
                .as_deref()
                .map(|o| format!(", {o}"))
                .unwrap_or_default()
        ),
        evidence: json!({
            "event_name": event.event_name,
            "event_id": event.id,
            "networks": networks,
            "ip": event.ip(),
            "asn": event.asn,
            "asn_org": event.asn_org,
            "country": country,
            "country_name": country.and_then(places::country_name),
        }),
        ..candidate(
            event,
            AlertType::SuspiciousNetwork,
            AlertSeverity::Low,
            config.confidence.suspicious_network,
        )
    })
}

/// Human label of an alert type, for titles.
fn label(t: AlertType) -> &'static str {
    match t {
        AlertType::BruteForceAttack => "Brute force attack",
        AlertType::ImpossibleTravel => "Impossible travel",
        AlertType::GeoAnomaly => "Geo anomaly",
        AlertType::NewDevice => "New device",
        AlertType::PrivilegeEscalation => "Privilege escalation",
        AlertType::DataExfiltration => "Data exfiltration",
        AlertType::SuspiciousActivity => "Suspicious activity",
        AlertType::RateLimitExceeded => "Rate limit exceeded",
        AlertType::AccountCompromise => "Account compromise",
        AlertType::SuspiciousNetwork => "Suspicious network",
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::ingest::catalogue::STANDARD_EVENTS;

    fn cfg() -> DetectionConfig {
        DetectionConfig::default()
    }

    #[test]
    fn a_silent_agent_is_low_suspicious_activity_keyed_by_its_host_when_asked_for() {
        let e = ev("e9", "agent.heartbeat_missed", 0, "10.0.0.5", "web-1");
        assert!(silent_agent(&e, &cfg()).is_none(), "off by default");
        let on = |minutes| DetectionConfig {
            agent_silence_minutes: minutes,
            ..cfg()
        };
        let c = silent_agent(&e, &on(15)).unwrap();
        assert_eq!(
            (c.alert_type, c.severity, c.dedup_key.as_str()),
            (
                AlertType::SuspiciousActivity,
                AlertSeverity::Low,
                "agent:web-1"
            )
        );
        assert_eq!(c.title, "Agent stopped reporting: web-1");
        assert!(c.description.contains("for 15 min"), "{}", c.description);
        assert_eq!(c.evidence["silent_minutes"], 15);
        let early = silent_agent(&e, &on(2)).unwrap();
        assert_eq!(
            early.evidence["silent_minutes"], 6,
            "never before the stale rule"
        );
        let other = ev("e10", "agent.heartbeat_sent", 0, "10.0.0.5", "web-1");
        assert!(silent_agent(&other, &on(15)).is_none());
    }

    #[test]
    fn every_instant_event_raises_its_alert_at_full_confidence() {
        for (name, _, expected) in STANDARD_EVENTS {
            let e = ev("e1", name, 0, "203.0.113.9", "bob");
            let got = instant(&e, &cfg());
            assert_eq!(got.as_ref().map(|c| c.alert_type), expected, "{name}");
            if let Some(c) = got {
                assert_eq!((c.severity, c.confidence), (AlertSeverity::Critical, 100));
                assert_eq!(c.evidence, json!({"event_name": name, "event_id": "e1"}));
                assert_eq!(c.dedup_key, "actor:bob");
                assert_eq!(c.trigger_event_id, "e1");
            }
        }
    }

    #[test]
    fn instant_alert_text_and_keys() {
        let c = instant(
            &ev("e1", "authz.role_changed", 0, "203.0.113.9", ""),
            &cfg(),
        )
        .unwrap();
        assert_eq!(c.title, "Privilege escalation: authz.role_changed");
        assert_eq!(
            c.description,
            "authz.role_changed reported privilege escalation for 203.0.113.9"
        );
        assert_eq!(c.dedup_key, "ip:203.0.113.9");
        assert!(instant(&ev("e2", "billing.paid", 0, "", "bob"), &cfg()).is_none());
        assert!(instant(&ev("e3", "auth.login_failed", 0, "", "bob"), &cfg()).is_none());
    }

    #[test]
    fn tor_login_is_suspicious_activity_medium_80() {
        let mut e = ev("t", "auth.login_success", 0, "185.220.101.1", "alice");
        assert!(tor_login(&e, &cfg()).is_none());
        e.is_tor = true;
        let c = tor_login(&e, &cfg()).unwrap();
        assert_eq!(c.alert_type, AlertType::SuspiciousActivity);
        assert_eq!((c.severity, c.confidence), (AlertSeverity::Medium, 80));
        assert_eq!(c.dedup_key, "actor:alice");
        assert_eq!(
            c.evidence,
            json!({"event_name": "auth.login_success", "event_id": "t"})
        );
        // Only successful logins: a failed Tor login is brute force's business.
        e.event_name = "auth.login_failed".into();
        assert!(tor_login(&e, &cfg()).is_none());
        // VPN or proxy alone is not "suspicious network".
        let mut vpn = ev("v", "auth.login_success", 0, "185.220.101.1", "alice");
        vpn.is_vpn = true;
        vpn.is_proxy = true;
        assert!(tor_login(&vpn, &cfg()).is_none());
    }

    #[test]
    fn logins_from_vpn_proxy_or_datacenter_networks_are_suspicious_network() {
        let mut e = ev("n", "auth.login_success", 0, "198.51.100.7", "alice");
        assert!(
            suspicious_network(&e, &cfg()).is_none(),
            "an ordinary network"
        );
        e.is_tor = true;
        assert!(
            suspicious_network(&e, &cfg()).is_none(),
            "Tor alone is the Tor rule's"
        );
        e.is_relay = true;
        assert!(
            suspicious_network(&e, &cfg()).is_none(),
            "relays are consumer networks"
        );
        e.is_datacenter = true;
        e.asn = Some(16509);
        e.asn_org = Some("Amazon.com, Inc.".into());
        e.country = Some("IE".into());
        let c = suspicious_network(&e, &cfg()).unwrap();
        assert_eq!(c.alert_type, AlertType::SuspiciousNetwork);
        assert_eq!((c.severity, c.confidence), (AlertSeverity::Low, 60));
        assert_eq!(c.dedup_key, "actor:alice");
        assert_eq!(
            c.title,
            "Login from a tor/datacenter/relay network by alice"
        );
        assert_eq!(
            c.description,
            "Successful login from 198.51.100.7 (tor, datacenter, relay, Amazon.com, Inc.)"
        );
        assert_eq!(
            c.evidence,
            json!({"event_name": "auth.login_success", "event_id": "n",
                "networks": ["tor", "datacenter", "relay"], "ip": "198.51.100.7", "asn": 16509,
                "asn_org": "Amazon.com, Inc.", "country": "IE", "country_name": "Ireland"})
        );
        for flag in ["vpn", "proxy"] {
            let mut e = ev("n", "auth.login_success", 0, "198.51.100.7", "");
            if flag == "vpn" {
                e.is_vpn = true
            } else {
                e.is_proxy = true
            }
            let c = suspicious_network(&e, &cfg()).unwrap();
            assert_eq!(c.evidence["networks"], json!([flag]));
            assert_eq!(c.dedup_key, "ip:198.51.100.7");
        }
        let mut failed = ev("f", "auth.login_failed", 0, "198.51.100.7", "alice");
        failed.is_vpn = true;
        assert!(suspicious_network(&failed, &cfg()).is_none());
    }
}
