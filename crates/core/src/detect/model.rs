//! What the rules read and what they return: one event as detection sees it, the history the
//! caller fetched for it, and alert candidates for the caller to de-duplicate and store.

use crate::ingest::catalogue::AlertType;
use crate::ingest::record::EventRecord;
use crate::time::UnixMs;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::IpAddr;

/// Event names that count as a failed login: the standard event, and raw log lines classified
/// `login_failure` (docs/dashboard.md §4), because brute force runs on both (docs/api.md §10.2).
pub const FAILED_LOGIN_NAMES: [&str; 2] = ["auth.login_failed", "login_failure"];

/// The event that counts as a successful login. Raw `login_success` lines are deliberately
/// excluded: §4 classifies any line mentioning "auth" as a success, far too loose to feed the
/// behavioural rules.
pub const SUCCESSFUL_LOGIN_NAME: &str = "auth.login_success";

/// The event counted by the rate-limit-abuse rule.
pub const RATE_LIMIT_NAME: &str = "security.rate_limit_exceeded";

/// Whether `name` is a failed login (event or classified raw line).
pub fn is_failed_login(name: &str) -> bool {
    FAILED_LOGIN_NAMES.contains(&name)
}

/// Whether `name` is a successful login.
pub fn is_successful_login(name: &str) -> bool {
    name == SUCCESSFUL_LOGIN_NAME
}

/// Whether an event at `at` with id `id` comes strictly before one at `t` with id `t_id`: the
/// rules' one order. Events of one request share their receive time, and their ids ascend in
/// request order (`crate::ingest::accept`), so ties are broken by id: no event is ever prior to
/// itself, and of two events exactly one is prior to the other.
pub fn precedes(at: UnixMs, id: &str, t: UnixMs, t_id: &str) -> bool {
    (at, id) < (t, t_id)
}

/// Alert severity: the alert scale of docs/api.md §8.1. It is a separate type from the event
/// [`crate::ingest::catalogue::Severity`] because alerts have no `info` or `warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    Low,
    Medium,
    High,
    Critical,
}

impl AlertSeverity {
    /// The wire/storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Low => "low",
            AlertSeverity::Medium => "medium",
            AlertSeverity::High => "high",
            AlertSeverity::Critical => "critical",
        }
    }
}

/// One event reduced to what the rules read. Build it with [`DetectionEvent::new`] or
/// [`DetectionEvent::from_record`]; raw log lines use their classified type as `event_name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionEvent {
    pub id: String,
    pub event_name: String,
    pub actor_id: Option<String>,
    /// `user_ip` as sent; rules use it only when it parses as an IP (docs/api.md §10.1).
    pub source_ip: Option<String>,
    /// Server-assigned time: the rules' clock (docs/api.md §10.1, "Time").
    pub created_at: UnixMs,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub country: Option<String>,
    pub city: Option<String>,
    /// IANA time zone, when enrichment knew it.
    pub timezone: Option<String>,
    pub asn: Option<u32>,
    pub asn_org: Option<String>,
    pub is_vpn: bool,
    pub is_tor: bool,
    pub is_proxy: bool,
    pub is_datacenter: bool,
    /// The address or ASN is on a relay list (iCloud Private Relay, satellite networks, or the
    /// operator's own `relay_*` lists). Not stored with the event: the consumer sets it from the
    /// lists in force ([`DetectionEvent::mark_relay`]).
    pub is_relay: bool,
    /// `metadata.device_id`, else `metadata.user_agent`.
    pub device: Option<String>,
}

impl DetectionEvent {
    /// An event with only identity, name and time; everything else unknown.
    pub fn new(id: impl Into<String>, event_name: impl Into<String>, created_at: UnixMs) -> Self {
        DetectionEvent {
            id: id.into(),
            event_name: event_name.into(),
            actor_id: None,
            source_ip: None,
            created_at,
            latitude: None,
            longitude: None,
            country: None,
            city: None,
            timezone: None,
            asn: None,
            asn_org: None,
            is_vpn: false,
            is_tor: false,
            is_proxy: false,
            is_datacenter: false,
            is_relay: false,
            device: None,
        }
    }

    /// The detection view of a stored event. Unknown network flags (`None`) count as false.
    pub fn from_record(r: &EventRecord) -> Self {
        let meta_str = |key: &str| match r.metadata.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            // Numeric device ids are plausible; anything else is not an identifier.
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let e = &r.enrichment;
        let forensic = |path: &str| e.forensics.as_ref().and_then(|f| f.pointer(path));
        DetectionEvent {
            id: r.id.to_string(),
            event_name: r.event_name.clone(),
            actor_id: r.actor_id.clone(),
            source_ip: r.user_ip.clone(),
            created_at: r.created_at,
            latitude: e.latitude,
            longitude: e.longitude,
            country: e.country_code.clone(),
            city: e.city.clone(),
            timezone: forensic("/location/timezone")
                .and_then(Value::as_str)
                .map(String::from),
            asn: forensic("/network/asn")
                .and_then(Value::as_u64)
                .and_then(|a| u32::try_from(a).ok()),
            asn_org: forensic("/network/asn_org")
                .and_then(Value::as_str)
                .map(String::from),
            is_vpn: e.is_vpn.unwrap_or(false),
            is_tor: e.is_tor.unwrap_or(false),
            is_proxy: e.is_proxy.unwrap_or(false),
            is_datacenter: e.is_datacenter.unwrap_or(false),
            is_relay: false,
            device: meta_str("device_id").or_else(|| meta_str("user_agent")),
        }
    }

    /// The source IP, only when it is a real IP address (placeholders like `"unknown"` are not).
    pub fn ip(&self) -> Option<&str> {
        self.source_ip
            .as_deref()
            .filter(|s| s.parse::<IpAddr>().is_ok())
    }

    /// The actor, unless missing or blank.
    pub fn actor(&self) -> Option<&str> {
        self.actor_id.as_deref().filter(|s| !s.trim().is_empty())
    }

    /// `(lat, lon)` when usable. Missing, exactly (0, 0) (CrowdSec's "unknown") and
    /// out-of-range values all mean "no location".
    pub fn coords(&self) -> Option<(f64, f64)> {
        let (lat, lon) = (self.latitude?, self.longitude?);
        let valid = lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon)
            && !(lat == 0.0 && lon == 0.0);
        valid.then_some((lat, lon))
    }

    /// Whether the event came through a network whose location says little about the user:
    /// a VPN, Tor, a proxy, a datacenter (cloud egress) or a relay (docs/api.md §10.3).
    pub fn via_relay(&self) -> bool {
        !self.network_types().is_empty()
    }

    /// The kinds of anonymising or hosting network the event came through, in a fixed order:
    /// `tor`, `vpn`, `proxy`, `datacenter`, `relay`.
    pub fn network_types(&self) -> Vec<&'static str> {
        [
            (self.is_tor, "tor"),
            (self.is_vpn, "vpn"),
            (self.is_proxy, "proxy"),
            (self.is_datacenter, "datacenter"),
            (self.is_relay, "relay"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    /// Sets [`DetectionEvent::is_relay`] from the network lists in force.
    pub fn mark_relay(&mut self, lists: &crate::intel::NetworkLists) {
        let ip = self.ip().and_then(|s| s.parse::<IpAddr>().ok());
        self.is_relay = ip.is_some_and(|ip| lists.flags(ip, self.asn).is_relay);
    }
}

/// One earlier event that a counting rule counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    pub event_id: String,
    pub at: UnixMs,
    /// The other side of the event, for evidence: its actor when counted by IP, its IP when
    /// counted by actor (as sent; `None` when missing).
    #[serde(default)]
    pub peer: Option<String>,
}

/// A value (a country or a device) that an earlier event of the actor carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    pub event_id: String,
    pub at: UnixMs,
    pub value: String,
}

/// The earlier events the caller fetched for one new event (see [`super::history_request`]).
///
/// Lists may contain the new event itself (when it was stored before detection ran), events
/// after it and events outside the window: the rules drop those, so the caller's queries can
/// be simple. Every list must already be scoped to the new event's IP or actor, as named.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Failed logins from the new event's source IP.
    pub ip_failed_logins: Vec<Occurrence>,
    /// Failed logins against the new event's actor.
    pub actor_failed_logins: Vec<Occurrence>,
    /// `security.rate_limit_exceeded` events from the source IP.
    pub ip_rate_limits: Vec<Occurrence>,
    /// `security.rate_limit_exceeded` events of the actor.
    pub actor_rate_limits: Vec<Occurrence>,
    /// The actor's successful logins, located or not (impossible travel pairs the new login
    /// with the latest of them, so the caller must not pre-filter on coordinates).
    pub actor_logins: Vec<DetectionEvent>,
    /// Countries of the actor's events.
    pub actor_countries: Vec<Sighting>,
    /// Devices of the actor's events.
    pub actor_devices: Vec<Sighting>,
    /// Whether the actor has any stored event earlier than the new one, whatever its kind:
    /// geo anomaly and new device stay silent on an actor's first event.
    pub actor_has_prior_event: bool,
}

/// Which history lists one event needs, each as "events at or after this instant". `None`
/// means the rules will not read that list for this event, so the caller can skip the query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRequest {
    pub ip_failed_logins_since: Option<UnixMs>,
    pub actor_failed_logins_since: Option<UnixMs>,
    pub ip_rate_limits_since: Option<UnixMs>,
    pub actor_rate_limits_since: Option<UnixMs>,
    pub actor_logins_since: Option<UnixMs>,
    pub actor_countries_since: Option<UnixMs>,
    pub actor_devices_since: Option<UnixMs>,
    /// Whether `actor_has_prior_event` is read.
    pub actor_prior_event: bool,
}

/// An alert a rule wants raised. The caller applies de-duplication (docs/api.md §8.4: one open
/// alert per `(org, alert_type, dedup_key)` younger than 60 min) and stores it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertCandidate {
    pub alert_type: AlertType,
    pub severity: AlertSeverity,
    /// `ip:<ip>` or `actor:<id>` as the rule defines; `event:<id>` when a single-event alert has
    /// neither, so it is never merged with an unrelated one.
    pub dedup_key: String,
    pub title: String,
    pub description: String,
    /// 0–100, stored in `metadata.confidence`.
    pub confidence: u8,
    pub actor_id: Option<String>,
    /// Only a parseable IP, never a placeholder.
    pub source_ip: Option<String>,
    pub trigger_event_id: String,
    /// Exactly the keys of docs/api.md §10.10 for the alert's rule.
    pub evidence: Value,
    /// Alerts this one follows from, as `(type, dedup key)`: storage links the newest alert of
    /// each both ways (`metadata.related_alert_ids`).
    pub related: Vec<(AlertType, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::ids::{EventId, OrgId};
    use crate::ingest::record::Enrichment;
    use crate::ingest::NewEvent;
    use serde_json::{json, Map};

    fn record(metadata: Value) -> EventRecord {
        let Value::Object(metadata) = metadata else {
            unreachable!()
        };
        let mut r = EventRecord::assign(
            NewEvent {
                event_name: "auth.login_success".into(),
                actor_id: Some("alice".into()),
                actor_email: None,
                user_ip: Some("203.0.113.7".into()),
                metadata,
            },
            &OrgId("org_1".into()),
            EventId::new_v4(),
            UnixMs(1_000),
            None,
        );
        r.enrichment = Enrichment {
            country_code: Some("GB".into()),
            latitude: Some(51.5),
            longitude: Some(-0.12),
            is_tor: Some(true),
            is_vpn: None,
            ..Enrichment::default()
        };
        r
    }

    #[test]
    fn from_record_prefers_device_id_then_user_agent() {
        let r = record(json!({"device_id": "dev-1", "user_agent": "UA"}));
        let e = DetectionEvent::from_record(&r);
        assert_eq!(e.device.as_deref(), Some("dev-1"));
        assert_eq!(e.id, r.id.to_string());
        assert_eq!(e.country.as_deref(), Some("GB"));
        assert!(e.is_tor && !e.is_vpn && !e.is_relay);

        let e = DetectionEvent::from_record(&record(json!({"device_id": " ", "user_agent": "UA"})));
        assert_eq!(e.device.as_deref(), Some("UA"));
        let e = DetectionEvent::from_record(&record(json!({"device_id": 42})));
        assert_eq!(e.device.as_deref(), Some("42"));
        let e = DetectionEvent::from_record(&record(Value::Object(Map::new())));
        assert_eq!(e.device, None);
    }

    #[test]
    fn placeholder_ips_and_blank_actors_are_unknown() {
        let mut e = DetectionEvent::new("e", "auth.login_failed", UnixMs(0));
        e.source_ip = Some("unknown".into());
        e.actor_id = Some("  ".into());
        assert_eq!((e.ip(), e.actor()), (None, None));
        e.source_ip = Some("2001:db8::1".into());
        assert_eq!(e.ip(), Some("2001:db8::1"));
    }

    #[test]
    fn zero_zero_and_out_of_range_coordinates_are_missing() {
        let mut e = DetectionEvent::new("e", SUCCESSFUL_LOGIN_NAME, UnixMs(0));
        for (lat, lon) in [(0.0, 0.0), (91.0, 0.0), (0.0, 181.0), (f64::NAN, 1.0)] {
            (e.latitude, e.longitude) = (Some(lat), Some(lon));
            assert_eq!(e.coords(), None, "{lat},{lon}");
        }
        // Only the exact pair (0, 0) is "unknown"; a point on the equator is real.
        (e.latitude, e.longitude) = (Some(0.0), Some(32.5));
        assert_eq!(e.coords(), Some((0.0, 32.5)));
        e.longitude = None;
        assert_eq!(e.coords(), None);
    }

    #[test]
    fn alert_severity_spells_like_the_api() {
        for s in [
            AlertSeverity::Low,
            AlertSeverity::Medium,
            AlertSeverity::High,
            AlertSeverity::Critical,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
    }
}
