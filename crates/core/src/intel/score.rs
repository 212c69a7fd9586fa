//! The threat score (docs/api.md §7.4).

use super::lists::NetworkFlags;
use crate::ingest::catalogue::Severity;
use serde::{Deserialize, Serialize};

/// Recent history the caller counted before scoring (D1 queries over the last 24 hours, and
/// over alerts that are not resolved or dismissed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ThreatHistory {
    /// `auth.login_failed` events (and log lines classified as login failures) from this IP in
    /// the last 24 hours, not counting the event being scored.
    pub ip_failed_logins_24h: u32,
    /// The same for the event's actor; 0 when the event has no actor.
    pub actor_failed_logins_24h: u32,
    /// Open alerts (any status except resolved/dismissed) whose IP or actor is this event's.
    pub open_alerts_for_ip_or_actor: u32,
}

const TOR: u32 = 40;
const PROXY: u32 = 25;
const VPN: u32 = 20;
const DATACENTER: u32 = 15;

const PER_IP_FAILED_LOGIN: u32 = 3;
const IP_FAILED_LOGINS_CAP: u32 = 15;
const PER_ACTOR_FAILED_LOGIN: u32 = 3;
const ACTOR_FAILED_LOGINS_CAP: u32 = 10;
const PER_OPEN_ALERT: u32 = 10;
const OPEN_ALERTS_CAP: u32 = 20;

const MAX_SCORE: u32 = 100;

fn severity_points(severity: Severity) -> u32 {
    match severity {
        Severity::Info => 0,
        Severity::Low => 2,
        Severity::Medium => 5,
        Severity::Warning => 8,
        Severity::High => 12,
        Severity::Critical => 20,
    }
}

/// The threat score, 0–100: a deterministic sum of three parts, capped at 100.
///
/// `flags` is `Some` exactly when `user_ip` is a public address ([`super::classify_ip`] gave
/// [`super::IpClass::Public`]); pass `None` otherwise and the score is `None`, like every other
/// enrichment field. Every flag in [`NetworkFlags`] is known; a signal the caller could not
/// determine is passed as `false`, so an unknown signal counts 0.
///
/// | Part | Signal | Points |
/// |---|---|---|
/// | Network (signals add up) | Tor exit | 40 |
/// | | proxy | 25 |
/// | | VPN | 20 |
/// | | datacenter / hosting | 15 |
/// | | relay / satellite | 0 (location quality, not threat) |
/// | Severity of the event | `info` / `low` / `medium` / `warning` / `high` / `critical` | 0 / 2 / 5 / 8 / 12 / 20 |
/// | History | failed logins from the IP, 24 h | 3 each, at most 15 (reached at 5) |
/// | | failed logins of the actor, 24 h | 3 each, at most 10 (reached at 4) |
/// | | open alerts for the IP or the actor | 10 each, at most 20 (reached at 2) |
/// | Total | | sum, at most 100 |
///
/// The parts can reach 100 + 20 + 45 = 165 before the cap, so a Tor exit that is also a proxy,
/// VPN and datacenter address scores 100 on its own, and a critical event with a full history
/// scores 65 from a clean network.
pub fn threat_score(
    flags: Option<&NetworkFlags>,
    severity: Severity,
    history: &ThreatHistory,
) -> Option<u8> {
    let flags = flags?;
    let network = [
        (flags.is_tor, TOR),
        (flags.is_proxy, PROXY),
        (flags.is_vpn, VPN),
        (flags.is_datacenter, DATACENTER),
    ]
    .into_iter()
    .filter_map(|(on, points)| on.then_some(points))
    .sum::<u32>();
    let capped = |count: u32, each: u32, cap: u32| count.saturating_mul(each).min(cap);
    let history_points = capped(
        history.ip_failed_logins_24h,
        PER_IP_FAILED_LOGIN,
        IP_FAILED_LOGINS_CAP,
    ) + capped(
        history.actor_failed_logins_24h,
        PER_ACTOR_FAILED_LOGIN,
        ACTOR_FAILED_LOGINS_CAP,
    ) + capped(
        history.open_alerts_for_ip_or_actor,
        PER_OPEN_ALERT,
        OPEN_ALERTS_CAP,
    );
    let total = (network + severity_points(severity) + history_points).min(MAX_SCORE);
    Some(total as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: NetworkFlags = NetworkFlags {
        is_tor: false,
        is_vpn: false,
        is_proxy: false,
        is_datacenter: false,
        is_relay: false,
    };

    fn score(flags: NetworkFlags, severity: Severity, history: ThreatHistory) -> u8 {
        threat_score(Some(&flags), severity, &history).unwrap()
    }

    fn ip_fails(n: u32) -> ThreatHistory {
        ThreatHistory {
            ip_failed_logins_24h: n,
            ..Default::default()
        }
    }

    fn actor_fails(n: u32) -> ThreatHistory {
        ThreatHistory {
            actor_failed_logins_24h: n,
            ..Default::default()
        }
    }

    fn alerts(n: u32) -> ThreatHistory {
        ThreatHistory {
            open_alerts_for_ip_or_actor: n,
            ..Default::default()
        }
    }

    #[test]
    fn not_public_means_no_score() {
        let full = ThreatHistory {
            ip_failed_logins_24h: 9,
            actor_failed_logins_24h: 9,
            open_alerts_for_ip_or_actor: 9,
        };
        assert_eq!(threat_score(None, Severity::Critical, &full), None);
    }

    #[test]
    fn zero_for_a_clean_info_event() {
        assert_eq!(score(CLEAN, Severity::Info, ThreatHistory::default()), 0);
        // Relay is not a threat signal.
        let relay = NetworkFlags {
            is_relay: true,
            ..CLEAN
        };
        assert_eq!(score(relay, Severity::Info, ThreatHistory::default()), 0);
    }

    #[test]
    fn each_network_signal() {
        let none = ThreatHistory::default();
        let with = |f: fn(&mut NetworkFlags)| {
            let mut flags = CLEAN;
            f(&mut flags);
            score(flags, Severity::Info, none)
        };
        assert_eq!(with(|f| f.is_tor = true), 40);
        assert_eq!(with(|f| f.is_proxy = true), 25);
        assert_eq!(with(|f| f.is_vpn = true), 20);
        assert_eq!(with(|f| f.is_datacenter = true), 15);
    }

    #[test]
    fn network_signals_combine() {
        let none = ThreatHistory::default();
        let vpn_dc = NetworkFlags {
            is_vpn: true,
            is_datacenter: true,
            ..CLEAN
        };
        assert_eq!(score(vpn_dc, Severity::Info, none), 35);
        let tor_dc = NetworkFlags {
            is_tor: true,
            is_datacenter: true,
            ..CLEAN
        };
        assert_eq!(score(tor_dc, Severity::Medium, none), 60);
        let all = NetworkFlags {
            is_tor: true,
            is_vpn: true,
            is_proxy: true,
            is_datacenter: true,
            is_relay: true,
        };
        // Exactly 100 from the network alone; anything more is capped.
        assert_eq!(score(all, Severity::Info, none), 100);
        assert_eq!(score(all, Severity::Low, none), 100);
    }

    #[test]
    fn severity_points_in_order() {
        let got: Vec<u8> = Severity::ALL
            .into_iter()
            .map(|s| score(CLEAN, s, ThreatHistory::default()))
            .collect();
        assert_eq!(got, vec![0, 2, 5, 8, 12, 20]);
    }

    #[test]
    fn ip_failed_logins_cap_at_15() {
        let at = |n| score(CLEAN, Severity::Info, ip_fails(n));
        assert_eq!(at(1), 3);
        assert_eq!(at(4), 12);
        assert_eq!(at(5), 15);
        assert_eq!(at(6), 15);
        assert_eq!(at(u32::MAX), 15);
    }

    #[test]
    fn actor_failed_logins_cap_at_10() {
        let at = |n| score(CLEAN, Severity::Info, actor_fails(n));
        assert_eq!(at(1), 3);
        assert_eq!(at(3), 9);
        assert_eq!(at(4), 10);
        assert_eq!(at(u32::MAX), 10);
    }

    #[test]
    fn open_alerts_cap_at_20() {
        let at = |n| score(CLEAN, Severity::Info, alerts(n));
        assert_eq!(at(1), 10);
        assert_eq!(at(2), 20);
        assert_eq!(at(3), 20);
        assert_eq!(at(u32::MAX), 20);
    }

    #[test]
    fn total_cap_at_100() {
        let full = ThreatHistory {
            ip_failed_logins_24h: u32::MAX,
            actor_failed_logins_24h: u32::MAX,
            open_alerts_for_ip_or_actor: u32::MAX,
        };
        // A clean network tops out at 20 + 15 + 10 + 20.
        assert_eq!(score(CLEAN, Severity::Critical, full), 65);
        let tor = NetworkFlags {
            is_tor: true,
            ..CLEAN
        };
        assert_eq!(score(tor, Severity::Critical, full), 100);
        // 40 + 25 + 12 + 20 = 97: just under the cap, exactly at it, then over it.
        let tor_proxy = NetworkFlags {
            is_proxy: true,
            ..tor
        };
        assert_eq!(score(tor_proxy, Severity::High, alerts(0)), 77);
        assert_eq!(score(tor_proxy, Severity::High, alerts(2)), 97);
        let with_fails = |n| ThreatHistory {
            open_alerts_for_ip_or_actor: 2,
            ..ip_fails(n)
        };
        assert_eq!(score(tor_proxy, Severity::High, with_fails(1)), 100);
        assert_eq!(score(tor_proxy, Severity::High, with_fails(2)), 100);
    }

    #[test]
    fn history_parts_add() {
        let h = ThreatHistory {
            ip_failed_logins_24h: 2,
            actor_failed_logins_24h: 1,
            open_alerts_for_ip_or_actor: 1,
        };
        let vpn = NetworkFlags {
            is_vpn: true,
            ..CLEAN
        };
        // 20 + 5 + 6 + 3 + 10
        assert_eq!(score(vpn, Severity::Medium, h), 44);
    }
}
