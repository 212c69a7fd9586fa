//! Detection rules (docs/api.md §10, §8): pure functions from one new event
//! and the history the caller fetched for it to alert candidates.
//!
//! There is no I/O and no wall clock. The clock is the new event's server-assigned
//! `created_at` ("Detection uses the server-assigned event times"), so every window is
//! `[created_at - window, created_at]`, inclusive at both ends. History events after the new
//! one are ignored: under out-of-order queue delivery they are judged when they are processed
//! themselves, with this event in their history.
//!
//! The Queue consumer calls [`history_request`] to learn what to fetch, then [`evaluate`], then
//! de-duplicates and stores the candidates. Submodules hold the rule families:
//! * `burst`: brute force (per IP, per account) and rate-limit abuse, counted in a window;
//! * `travel`: [`haversine_km`] and impossible travel;
//! * `novelty`: first-seen country (geo anomaly) and first-seen device;
//! * `single`: alerts decided by the event alone (instant alerts, Tor logins).

pub mod batch;
mod burst;
mod compromise;
mod config;
pub mod history;
mod model;
mod novelty;
pub mod settings;
mod single;
mod travel;

pub use burst::{MAX_EVIDENCE_EVENTS, MAX_EVIDENCE_VALUES};
pub use config::{Burst, Confidences, DetectionConfig, TravelConfig};
pub use model::{
    is_failed_login, is_successful_login, precedes, AlertCandidate, AlertSeverity, DetectionEvent,
    History, HistoryRequest, Occurrence, Sighting, FAILED_LOGIN_NAMES, RATE_LIMIT_NAME,
    SUCCESSFUL_LOGIN_NAME,
};
pub use travel::{haversine_km, EARTH_RADIUS_KM};

use crate::ingest::catalogue::AlertType;
use crate::limits::plan::Plan;
use crate::time::UnixMs;
use config::days_ms;
use serde_json::Value;

/// Runs every rule the plan allows on `event` and returns the alerts it raises, in a fixed
/// order: instant, brute force (IP, then account), account compromise, rate limit, Tor login,
/// then the Pro+ rules (suspicious network, impossible travel, geo anomaly, new device).
///
/// The rules decided by one event or by failed logins run on every plan; the rules that read
/// network intelligence or the actor's behaviour only for Pro and above (docs/api.md §3.1,
/// §10.1).
pub fn evaluate(
    event: &DetectionEvent,
    history: &History,
    plan: Plan,
    config: &DetectionConfig,
) -> Vec<AlertCandidate> {
    evaluate_detailed(event, history, plan, config, &|_, _| true)
}

/// Whether a counting rule builds the full evidence of its candidate for `(alert type, dedup
/// key)`; when not, the candidate carries the counts alone. Storage keeps the evidence of a
/// key's newest candidate (docs/api.md §8.4), so a batch only needs it for that one: in a flood
/// every failure is a candidate, and listing who, from where and which events for each of them
/// would cost the square of the flood.
pub type Detail<'a> = &'a dyn Fn(AlertType, &str) -> bool;

/// [`evaluate`], with the counting rules' full evidence only where `full` asks for it.
pub fn evaluate_detailed(
    event: &DetectionEvent,
    history: &History,
    plan: Plan,
    config: &DetectionConfig,
    full: Detail,
) -> Vec<AlertCandidate> {
    let mut out = Vec::new();
    out.extend(single::instant(event, config));
    out.extend(single::silent_agent(event, config));
    out.extend(burst::brute_force(event, history, config, full));
    out.extend(compromise::account_compromise(event, history, config));
    out.extend(burst::rate_limit(event, history, config, full));
    out.extend(single::tor_login(event, config));
    if plan.is_pro_or_above() {
        out.extend(single::suspicious_network(event, config));
        out.extend(travel::impossible_travel(event, history, config));
        out.extend(novelty::geo_anomaly(event, history, config));
        out.extend(novelty::new_device(event, history, config));
    }
    out
}

/// The history [`evaluate`] will read for `event`, so the caller issues only the queries that
/// matter (most events need none).
pub fn history_request(
    event: &DetectionEvent,
    plan: Plan,
    config: &DetectionConfig,
) -> HistoryRequest {
    let t = event.created_at.0;
    let since = |window_ms: i64| Some(UnixMs(t.saturating_sub(window_ms)));
    let (ip, actor) = (event.ip().is_some(), event.actor().is_some());
    let failed = is_failed_login(&event.event_name);
    let success = is_successful_login(&event.event_name);
    let limited = event.event_name == RATE_LIMIT_NAME;
    let behavioural = plan.is_pro_or_above() && success && actor;
    let mut req = HistoryRequest::default();
    // Failed logins: brute force on a failure, account compromise on a success.
    if (failed || success) && ip {
        req.ip_failed_logins_since = since(config.brute_force_ip.window_ms());
    }
    if (failed || success) && actor {
        req.actor_failed_logins_since = since(config.brute_force_account.window_ms());
    }
    if limited && ip {
        req.ip_rate_limits_since = since(config.rate_limit.window_ms());
    }
    if limited && actor {
        req.actor_rate_limits_since = since(config.rate_limit.window_ms());
    }
    if behavioural {
        if event.coords().is_some() {
            req.actor_logins_since = since(config.travel.lookback_ms());
        }
        if event.country.is_some() {
            req.actor_countries_since = since(days_ms(config.geo_history_days));
        }
        if event.device.is_some() {
            req.actor_devices_since = since(days_ms(config.device_history_days));
        }
        req.actor_prior_event = event.country.is_some() || event.device.is_some();
    }
    req
}

// ---- helpers shared by the rule families -------------------------------------------------

/// Whether a history entry is a genuine earlier event inside `window_ms` before `trigger`:
/// strictly before it ([`precedes`]: never the trigger itself, nor a later event of its own
/// request), and not older than the window.
fn is_prior(trigger: &DetectionEvent, event_id: &str, at: UnixMs, window_ms: i64) -> bool {
    let t = trigger.created_at;
    precedes(at, event_id, t, &trigger.id) && t.0.saturating_sub(at.0) <= window_ms
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

fn actor_key(actor: &str) -> String {
    format!("actor:{actor}")
}

/// The key of an alert about one event: its actor, else its IP, else the event itself.
fn subject_key(event: &DetectionEvent) -> String {
    match (event.actor(), event.ip()) {
        (Some(a), _) => actor_key(a),
        (None, Some(ip)) => ip_key(ip),
        (None, None) => format!("event:{}", event.id),
    }
}

/// Who the alert is about, for titles: the actor, else the IP, else "unknown".
fn subject_label(event: &DetectionEvent) -> &str {
    event.actor().or(event.ip()).unwrap_or("unknown")
}

/// A candidate carrying the trigger's identity; rules fill in key, text and evidence with
/// struct-update syntax.
fn candidate(
    event: &DetectionEvent,
    alert_type: AlertType,
    severity: AlertSeverity,
    confidence: u8,
) -> AlertCandidate {
    AlertCandidate {
        alert_type,
        severity,
        dedup_key: subject_key(event),
        title: String::new(),
        description: String::new(),
        confidence: confidence.min(100),
        actor_id: event.actor().map(str::to_owned),
        source_ip: event.ip().map(str::to_owned),
        trigger_event_id: event.id.clone(),
        evidence: Value::Null,
        related: Vec::new(),
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Small builders shared by the rule tests.
    use super::*;

    pub const MIN: i64 = 60_000;
    pub const HOUR: i64 = 60 * MIN;
    pub const DAY: i64 = 24 * HOUR;
    /// 2026-01-30T09:15:00Z: the trigger time in every test.
    pub const T0: i64 = 1_769_764_500_000;

    pub const LONDON: (f64, f64) = (51.5074, -0.1278);
    pub const NEW_YORK: (f64, f64) = (40.7128, -74.0060);

    /// An event `offset` ms relative to `T0` from `ip` by `actor`.
    pub fn ev(id: &str, name: &str, offset: i64, ip: &str, actor: &str) -> DetectionEvent {
        let mut e = DetectionEvent::new(id, name, UnixMs(T0 + offset));
        e.source_ip = Some(ip.into()).filter(|s: &String| !s.is_empty());
        e.actor_id = Some(actor.into()).filter(|s: &String| !s.is_empty());
        e
    }

    /// A successful login by `alice` located at `at`.
    pub fn login(id: &str, offset: i64, ip: &str, at: (f64, f64), country: &str) -> DetectionEvent {
        let mut e = ev(id, SUCCESSFUL_LOGIN_NAME, offset, ip, "alice");
        (e.latitude, e.longitude) = (Some(at.0), Some(at.1));
        e.country = Some(country.into());
        e
    }

    pub fn occ(id: &str, offset: i64) -> Occurrence {
        Occurrence {
            event_id: id.into(),
            at: UnixMs(T0 + offset),
            peer: None,
        }
    }

    /// `n` occurrences spread evenly inside the last `span` ms (never at T0 itself).
    pub fn occs(n: usize, span: i64) -> Vec<Occurrence> {
        (0..n)
            .map(|i| {
                occ(
                    &format!("h{i}"),
                    -span + (i as i64) * span / (n.max(1) as i64),
                )
            })
            .collect()
    }

    pub fn seen(id: &str, offset: i64, value: &str) -> Sighting {
        Sighting {
            event_id: id.into(),
            at: UnixMs(T0 + offset),
            value: value.into(),
        }
    }

    /// The evidence object's keys, sorted.
    pub fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    /// A successful Tor login from a new country, on a new device, right after a login far away:
    /// it trips every login rule at once.
    fn loaded_login() -> (DetectionEvent, History) {
        let mut e = login("t", 0, "198.51.100.1", NEW_YORK, "US");
        e.is_tor = true;
        e.device = Some("dev-new".into());
        let history = History {
            actor_logins: vec![login("p", -HOUR, "203.0.113.1", LONDON, "GB")],
            actor_countries: vec![seen("p", -HOUR, "GB")],
            actor_devices: vec![seen("p", -HOUR, "dev-old")],
            actor_has_prior_event: true,
            ..History::default()
        };
        (e, history)
    }

    fn types(c: &[AlertCandidate]) -> Vec<AlertType> {
        c.iter().map(|c| c.alert_type).collect()
    }

    #[test]
    fn behavioural_rules_run_only_for_pro_and_above() {
        let (e, h) = loaded_login();
        let cfg = DetectionConfig::default();
        assert_eq!(
            types(&evaluate(&e, &h, Plan::Free, &cfg)),
            [AlertType::SuspiciousActivity]
        );
        for plan in [Plan::Pro, Plan::Enterprise, Plan::Custom] {
            assert_eq!(
                types(&evaluate(&e, &h, plan, &cfg)),
                [
                    AlertType::SuspiciousActivity,
                    AlertType::ImpossibleTravel,
                    AlertType::GeoAnomaly,
                    AlertType::NewDevice
                ],
                "{plan:?}"
            );
        }
    }

    #[test]
    fn suspicious_network_reads_network_intelligence_so_only_pro_and_above() {
        let mut e = login("v", 0, "198.51.100.1", NEW_YORK, "US");
        e.is_vpn = true;
        let cfg = DetectionConfig::default();
        assert!(evaluate(&e, &History::default(), Plan::Free, &cfg).is_empty());
        assert_eq!(
            types(&evaluate(&e, &History::default(), Plan::Pro, &cfg)),
            [AlertType::SuspiciousNetwork]
        );
    }

    #[test]
    fn brute_force_instant_and_rate_limit_run_on_free() {
        let cfg = DetectionConfig::default();
        let failed = ev("f", "auth.login_failed", 0, "203.0.113.9", "bob");
        let h = History {
            ip_failed_logins: occs(4, 4 * MIN),
            ..History::default()
        };
        assert_eq!(
            types(&evaluate(&failed, &h, Plan::Free, &cfg)),
            [AlertType::BruteForceAttack]
        );

        let instant = ev("i", "data.sensitive_access", 0, "", "bob");
        assert_eq!(
            types(&evaluate(&instant, &History::default(), Plan::Free, &cfg)),
            [AlertType::DataExfiltration]
        );

        let limited = ev("r", RATE_LIMIT_NAME, 0, "203.0.113.9", "");
        let h = History {
            ip_rate_limits: occs(2, MIN),
            ..History::default()
        };
        assert_eq!(
            types(&evaluate(&limited, &h, Plan::Free, &cfg)),
            [AlertType::RateLimitExceeded]
        );
    }

    #[test]
    fn ordinary_events_raise_nothing() {
        let e = ev("x", "auth.logout", 0, "203.0.113.9", "bob");
        assert!(evaluate(
            &e,
            &History::default(),
            Plan::Enterprise,
            &DetectionConfig::default()
        )
        .is_empty());
    }

    #[test]
    fn history_request_asks_only_for_what_the_rules_read() {
        let cfg = DetectionConfig::default();
        let failed = ev("f", "auth.login_failed", 0, "203.0.113.9", "bob");
        let r = history_request(&failed, Plan::Free, &cfg);
        assert_eq!(r.ip_failed_logins_since, Some(UnixMs(T0 - 5 * MIN)));
        assert_eq!(r.actor_failed_logins_since, Some(UnixMs(T0 - 60 * MIN)));
        assert_eq!(r.actor_logins_since, None);

        let (login, _) = loaded_login();
        // A success reads the failures before it (account compromise) on every plan…
        let free = history_request(&login, Plan::Free, &cfg);
        assert_eq!(
            free,
            HistoryRequest {
                ip_failed_logins_since: Some(UnixMs(T0 - 5 * MIN)),
                actor_failed_logins_since: Some(UnixMs(T0 - 60 * MIN)),
                ..HistoryRequest::default()
            }
        );
        // …and the behavioural history on Pro and above.
        let pro = history_request(&login, Plan::Pro, &cfg);
        assert_eq!(pro.actor_logins_since, Some(UnixMs(T0 - DAY)));
        assert_eq!(pro.actor_countries_since, Some(UnixMs(T0 - 28 * DAY)));
        assert_eq!(pro.actor_devices_since, Some(UnixMs(T0 - 28 * DAY)));
        assert!(pro.actor_prior_event);
        assert_eq!(pro.ip_failed_logins_since, free.ip_failed_logins_since);

        let limited = ev("r", RATE_LIMIT_NAME, 0, "unknown", "bob");
        let r = history_request(&limited, Plan::Free, &cfg);
        assert_eq!(r.ip_rate_limits_since, None, "placeholder IPs are not keys");
        assert_eq!(r.actor_rate_limits_since, Some(UnixMs(T0 - 10 * MIN)));
    }

    #[test]
    fn single_event_keys_fall_back_from_actor_to_ip_to_event() {
        assert_eq!(
            subject_key(&ev("e", "x.y", 0, "203.0.113.9", "bob")),
            "actor:bob"
        );
        assert_eq!(
            subject_key(&ev("e", "x.y", 0, "203.0.113.9", "")),
            "ip:203.0.113.9"
        );
        assert_eq!(subject_key(&ev("e", "x.y", 0, "unknown", "")), "event:e");
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "scenarios_tests.rs"]
mod scenarios;
