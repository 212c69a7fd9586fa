//! Counting rules: brute force (per source IP and per account) and rate-limit abuse. Each
//! counts matching events in a window ending at the trigger, the trigger included.
//!
//! A rule emits one candidate per burst per key, carrying the burst's size, on every trigger
//! at or above the threshold. Storage de-duplication (docs/api.md §8.4) folds the repeats into
//! the open alert as extra occurrences, so a late-arriving failure is never lost because the
//! threshold was "already crossed".

use super::{
    actor_key, candidate, ip_key, is_failed_login, is_prior, AlertCandidate, AlertSeverity, Burst,
    Confidences, DetectionConfig, DetectionEvent, History, Occurrence, RATE_LIMIT_NAME,
};
use crate::ingest::catalogue::AlertType;
use serde_json::json;
use std::collections::BTreeSet;

/// Brute-force candidates for a failed login: at most one keyed `ip:<ip>` and one keyed
/// `actor:<id>`, since the two thresholds describe different attacks (spraying from one host,
/// guessing one account from many).
pub(super) fn brute_force(
    event: &DetectionEvent,
    history: &History,
    config: &DetectionConfig,
) -> Vec<AlertCandidate> {
    if !is_failed_login(&event.event_name) {
        return Vec::new();
    }
    let per_ip = event.ip().map(|ip| {
        let rule = config.brute_force_ip;
        let count = burst_size(event, &history.ip_failed_logins, rule);
        (
            rule,
            count,
            ip_key(ip),
            "ip",
            format!("Brute force from {ip}"),
        )
    });
    let per_account = event.actor().map(|actor| {
        let rule = config.brute_force_account;
        let count = burst_size(event, &history.actor_failed_logins, rule);
        let title = format!("Brute force against account {actor}");
        (rule, count, actor_key(actor), "account", title)
    });
    per_ip
        .into_iter()
        .chain(per_account)
        .filter(|(rule, count, ..)| *count >= rule.threshold)
        .map(|(rule, count, dedup_key, key, title)| AlertCandidate {
            dedup_key,
            title,
            description: format!(
                "{count} failed login{} in {} min",
                plural(count),
                rule.window_minutes
            ),
            evidence: json!({
                "count": count,
                "threshold": rule.threshold,
                "window_minutes": rule.window_minutes,
                "key": key,
            }),
            ..candidate(
                event,
                AlertType::BruteForceAttack,
                AlertSeverity::High,
                brute_force_confidence(count, rule.threshold, &config.confidence),
            )
        })
        .collect()
}

/// Rate-limit abuse for a `security.rate_limit_exceeded` event: one candidate, keyed by the
/// actor when the actor's count qualifies, else by the IP. One candidate rather than two,
/// because the evidence has no `key` field and both would describe the same abuse; the actor
/// comes first so one abuser rotating IPs stays one alert.
pub(super) fn rate_limit(
    event: &DetectionEvent,
    history: &History,
    config: &DetectionConfig,
) -> Option<AlertCandidate> {
    if event.event_name != RATE_LIMIT_NAME {
        return None;
    }
    let rule = config.rate_limit;
    let by_actor = event.actor().map(|a| {
        let count = burst_size(event, &history.actor_rate_limits, rule);
        (count, actor_key(a), a)
    });
    let by_ip = event.ip().map(|ip| {
        let count = burst_size(event, &history.ip_rate_limits, rule);
        (count, ip_key(ip), ip)
    });
    let (count, dedup_key, who) = by_actor
        .into_iter()
        .chain(by_ip)
        .find(|(count, ..)| *count >= rule.threshold)?;
    Some(AlertCandidate {
        dedup_key,
        title: format!("Rate-limit abuse by {who}"),
        description: format!(
            "{count} rate-limit violation{} in {} min",
            plural(count),
            rule.window_minutes
        ),
        evidence: json!({"count": count, "window_minutes": rule.window_minutes}),
        ..candidate(
            event,
            AlertType::RateLimitExceeded,
            AlertSeverity::Medium,
            config.confidence.rate_limit,
        )
    })
}

/// The trigger plus the distinct earlier events in the window. Ids are de-duplicated so a
/// history that overlaps itself (or contains the trigger) never inflates the count.
fn burst_size(trigger: &DetectionEvent, prior: &[Occurrence], rule: Burst) -> u32 {
    let window = rule.window_ms();
    let earlier: BTreeSet<&str> = prior
        .iter()
        .filter(|o| is_prior(trigger, &o.event_id, o.at, window))
        .map(|o| o.event_id.as_str())
        .collect();
    u32::try_from(earlier.len())
        .unwrap_or(u32::MAX)
        .saturating_add(1)
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Base at the threshold, plus a step per failure above it, capped.
pub(super) fn brute_force_confidence(count: u32, threshold: u32, c: &Confidences) -> u8 {
    let extra = count.saturating_sub(threshold);
    let raw = u32::from(c.brute_force_base)
        .saturating_add(extra.saturating_mul(u32::from(c.brute_force_step)));
    let capped = raw.min(u32::from(c.brute_force_cap));
    u8::try_from(capped).unwrap_or(c.brute_force_cap)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    const IP: &str = "203.0.113.45";

    fn failed() -> DetectionEvent {
        ev("trigger", "auth.login_failed", 0, IP, "admin")
    }

    fn with_ip(prior: Vec<Occurrence>) -> History {
        History {
            ip_failed_logins: prior,
            ..History::default()
        }
    }

    fn with_actor(prior: Vec<Occurrence>) -> History {
        History {
            actor_failed_logins: prior,
            ..History::default()
        }
    }

    fn run(e: &DetectionEvent, h: &History) -> Vec<AlertCandidate> {
        brute_force(e, h, &DetectionConfig::default())
    }

    #[test]
    fn per_ip_fires_at_exactly_five_in_five_minutes() {
        let out = run(&failed(), &with_ip(occs(4, 4 * MIN)));
        assert_eq!(out.len(), 1);
        let c = &out[0];
        assert_eq!(c.alert_type, AlertType::BruteForceAttack);
        assert_eq!(c.severity, AlertSeverity::High);
        assert_eq!(c.dedup_key, "ip:203.0.113.45");
        assert_eq!(c.confidence, 70);
        assert_eq!(c.title, "Brute force from 203.0.113.45");
        assert_eq!(c.description, "5 failed logins in 5 min");
        assert_eq!(
            c.evidence,
            json!({"count": 5, "threshold": 5, "window_minutes": 5, "key": "ip"})
        );
        assert_eq!(c.trigger_event_id, "trigger");
        assert_eq!(c.source_ip.as_deref(), Some(IP));
        assert_eq!(c.actor_id.as_deref(), Some("admin"));
    }

    #[test]
    fn per_ip_is_silent_just_below_and_counts_just_above() {
        assert!(run(&failed(), &with_ip(occs(3, 4 * MIN))).is_empty());
        let out = run(&failed(), &with_ip(occs(5, 4 * MIN)));
        assert_eq!(out[0].evidence["count"], 6);
        assert_eq!(out[0].confidence, 75);
    }

    #[test]
    fn per_ip_window_is_inclusive_to_the_millisecond() {
        let mut prior = occs(3, 2 * MIN);
        prior.push(occ("edge", -5 * MIN));
        assert_eq!(run(&failed(), &with_ip(prior.clone())).len(), 1);
        prior.pop();
        prior.push(occ("edge", -5 * MIN - 1));
        assert!(run(&failed(), &with_ip(prior)).is_empty());
    }

    #[test]
    fn per_account_fires_at_ten_in_sixty_minutes() {
        let at = run(&failed(), &with_actor(occs(9, 60 * MIN)));
        assert_eq!(at.len(), 1);
        assert_eq!(at[0].dedup_key, "actor:admin");
        assert_eq!(at[0].confidence, 70);
        assert_eq!(
            at[0].evidence,
            json!({"count": 10, "threshold": 10, "window_minutes": 60, "key": "account"})
        );
        assert!(run(&failed(), &with_actor(occs(8, 60 * MIN))).is_empty());
        let above = run(&failed(), &with_actor(occs(10, 60 * MIN)));
        assert_eq!(
            (above[0].evidence["count"].as_u64(), above[0].confidence),
            (Some(11), 75)
        );
        // One failure just outside the hour does not count.
        let mut prior = occs(8, 30 * MIN);
        prior.push(occ("old", -60 * MIN - 1));
        assert!(run(&failed(), &with_actor(prior)).is_empty());
    }

    #[test]
    fn both_keys_fire_independently() {
        let h = History {
            ip_failed_logins: occs(4, MIN),
            actor_failed_logins: occs(9, MIN),
            ..History::default()
        };
        let keys: Vec<_> = run(&failed(), &h)
            .into_iter()
            .map(|c| c.dedup_key)
            .collect();
        assert_eq!(keys, ["ip:203.0.113.45", "actor:admin"]);
    }

    #[test]
    fn trigger_duplicates_and_later_events_are_not_counted() {
        let mut prior = occs(3, MIN);
        prior.push(occ("trigger", 0)); // the trigger, already stored
        prior.push(occ("h0", -MIN)); // the same event listed twice
        prior.push(occ("later", 1)); // after the trigger
        assert!(run(&failed(), &with_ip(prior)).is_empty());
    }

    #[test]
    fn raw_login_failure_lines_count_and_other_events_do_not_trigger() {
        let raw = ev("line", "login_failure", 0, IP, "");
        assert_eq!(run(&raw, &with_ip(occs(4, MIN))).len(), 1);
        let success = ev("ok", "auth.login_success", 0, IP, "admin");
        assert!(run(&success, &with_ip(occs(10, MIN))).is_empty());
    }

    #[test]
    fn placeholder_ip_skips_the_ip_rule_only() {
        let mut e = failed();
        e.source_ip = Some("unknown".into());
        let h = History {
            ip_failed_logins: occs(10, MIN),
            actor_failed_logins: occs(9, MIN),
            ..History::default()
        };
        let out = run(&e, &h);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].dedup_key, "actor:admin");
        assert_eq!(out[0].source_ip, None);
    }

    #[test]
    fn confidence_steps_by_five_and_caps_at_99() {
        let c = DetectionConfig::default().confidence;
        let conf = |n| brute_force_confidence(n, 5, &c);
        assert_eq!([conf(5), conf(6), conf(7), conf(10)], [70, 75, 80, 95]);
        // 70 + 5·6 = 100 would claim certainty: capped.
        assert_eq!([conf(11), conf(12), conf(10_000), conf(u32::MAX)], [99; 4]);
        assert_eq!(brute_force_confidence(10, 10, &c), 70);
    }

    fn limited(ip: &str, actor: &str) -> DetectionEvent {
        ev("rl", RATE_LIMIT_NAME, 0, ip, actor)
    }

    fn rl(e: &DetectionEvent, h: History) -> Option<AlertCandidate> {
        rate_limit(e, &h, &DetectionConfig::default())
    }

    #[test]
    fn rate_limit_fires_at_three_in_ten_minutes() {
        let h = History {
            actor_rate_limits: occs(2, 10 * MIN),
            ..History::default()
        };
        let c = rl(&limited(IP, "bob"), h).unwrap();
        assert_eq!(c.alert_type, AlertType::RateLimitExceeded);
        assert_eq!(c.severity, AlertSeverity::Medium);
        assert_eq!(c.confidence, 80);
        assert_eq!(c.dedup_key, "actor:bob");
        assert_eq!(c.evidence, json!({"count": 3, "window_minutes": 10}));
    }

    #[test]
    fn rate_limit_below_above_and_window_edge() {
        let ip_hist = |prior| History {
            ip_rate_limits: prior,
            ..History::default()
        };
        assert!(rl(&limited(IP, ""), ip_hist(occs(1, MIN))).is_none());
        let above = rl(&limited(IP, ""), ip_hist(occs(3, MIN))).unwrap();
        assert_eq!(above.evidence["count"], 4);
        assert_eq!(above.dedup_key, "ip:203.0.113.45");
        let edge = vec![occ("a", -MIN), occ("b", -10 * MIN)];
        assert!(rl(&limited(IP, ""), ip_hist(edge)).is_some());
        let outside = vec![occ("a", -MIN), occ("b", -10 * MIN - 1)];
        assert!(rl(&limited(IP, ""), ip_hist(outside)).is_none());
    }

    #[test]
    fn rate_limit_falls_back_to_the_ip_when_the_actor_is_below() {
        let h = History {
            actor_rate_limits: occs(1, MIN),
            ip_rate_limits: occs(2, MIN),
            ..History::default()
        };
        let c = rl(&limited(IP, "bob"), h).unwrap();
        assert_eq!(c.dedup_key, "ip:203.0.113.45");
        assert_eq!(c.title, "Rate-limit abuse by 203.0.113.45");
        // Other events never count as rate-limit hits.
        let other = ev("x", "auth.login_failed", 0, IP, "bob");
        let h = History {
            ip_rate_limits: occs(5, MIN),
            ..History::default()
        };
        assert!(rl(&other, h).is_none());
    }

    #[test]
    fn a_lowered_threshold_is_honoured() {
        let cfg = DetectionConfig {
            brute_force_ip: Burst {
                threshold: 1,
                window_minutes: 1,
            },
            ..DetectionConfig::default()
        };
        let out = brute_force(&failed(), &History::default(), &cfg);
        assert_eq!(out[0].evidence["count"], 1);
        assert_eq!(out[0].description, "1 failed login in 1 min");
    }
}
