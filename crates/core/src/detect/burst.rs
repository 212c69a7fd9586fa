//! Counting rules: brute force (per source IP and per account) and rate-limit abuse. Each
//! counts matching events in a window ending at the trigger, the trigger included.
//!
//! A rule emits one candidate per burst per key, carrying the burst's size, on every trigger
//! at or above the threshold. Storage de-duplication (docs/api.md §8.4) folds the repeats into
//! the open alert as extra occurrences, so a late-arriving failure is never lost because the
//! threshold was "already crossed".

use super::{
    actor_key, candidate, ip_key, is_failed_login, is_prior, AlertCandidate, AlertSeverity, Burst,
    Confidences, Detail, DetectionConfig, DetectionEvent, History, Occurrence, RATE_LIMIT_NAME,
};
use crate::ingest::catalogue::AlertType;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Most accounts or source IPs a brute-force alert lists (the totals count them all).
pub const MAX_EVIDENCE_VALUES: usize = 20;
/// Most event ids an alert's evidence lists: the newest of the burst, the trigger included.
pub const MAX_EVIDENCE_EVENTS: usize = 50;

/// Brute-force candidates for a failed login: at most one keyed `ip:<ip>` and one keyed
/// `actor:<id>`, since the two thresholds describe different attacks (spraying from one host,
/// guessing one account from many). `full` says which keys get the full evidence (see
/// [`super::Detail`]); the others carry the counts alone.
pub(super) fn brute_force(
    event: &DetectionEvent,
    history: &History,
    config: &DetectionConfig,
    full: Detail,
) -> Vec<AlertCandidate> {
    if !is_failed_login(&event.event_name) {
        return Vec::new();
    }
    let per_ip = event.ip().map(|ip| {
        let rule = config.brute_force_ip;
        let title = format!("Brute force from {ip}");
        (rule, &history.ip_failed_logins, Side::Ip, ip_key(ip), title)
    });
    let per_account = event.actor().map(|actor| {
        let rule = config.brute_force_account;
        let title = format!("Brute force against account {actor}");
        (
            rule,
            &history.actor_failed_logins,
            Side::Account,
            actor_key(actor),
            title,
        )
    });
    per_ip
        .into_iter()
        .chain(per_account)
        .filter_map(|(rule, prior, side, dedup_key, title)| {
            let count = burst_count(event, prior, rule);
            if count < rule.threshold {
                return None;
            }
            let base = format!(
                "{count} failed login{} in {} min",
                plural(count),
                rule.window_minutes
            );
            let (description, evidence) = if full(AlertType::BruteForceAttack, &dedup_key) {
                let earlier = burst(event, prior, rule);
                let spread = match (side, distinct(event, &earlier, side).1) {
                    (_, 0) => String::new(),
                    (Side::Ip, n) => format!(" against {n} account{}", plural(n as u32)),
                    (Side::Account, n) => format!(" from {n} source IP{}", plural(n as u32)),
                };
                (
                    format!("{base}{spread}"),
                    burst_evidence(event, &earlier, side, rule),
                )
            } else {
                (base, summary(count, rule, side))
            };
            Some(AlertCandidate {
                dedup_key,
                title,
                description,
                evidence,
                ..candidate(
                    event,
                    AlertType::BruteForceAttack,
                    AlertSeverity::High,
                    brute_force_confidence(count, rule.threshold, &config.confidence),
                )
            })
        })
        .collect()
}

/// The evidence of a burst whose full evidence another candidate of the batch carries.
fn summary(count: u32, rule: Burst, side: Side) -> Value {
    json!({"count": count, "threshold": rule.threshold, "window_minutes": rule.window_minutes,
        "key": side.key()})
}

/// Which key a brute-force burst is counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// One source IP, many accounts: `key: "ip"`.
    Ip,
    /// One account, many source IPs: `key: "account"`.
    Account,
}

impl Side {
    /// The evidence's `key`.
    fn key(self) -> &'static str {
        match self {
            Side::Ip => "ip",
            Side::Account => "account",
        }
    }
}

/// The burst's size: the earlier failures plus the trigger.
pub(super) fn count(earlier: &[&Occurrence]) -> u32 {
    u32::try_from(earlier.len())
        .unwrap_or(u32::MAX)
        .saturating_add(1)
}

/// The other dimension of a burst (accounts of an IP's burst, IPs of an account's), most
/// failures first, at most [`MAX_EVIDENCE_VALUES`], with the distinct total. The trigger's own
/// side counts; peers that are not an IP (for IPs) or are blank (for accounts) do not.
fn distinct(
    trigger: &DetectionEvent,
    earlier: &[&Occurrence],
    side: Side,
) -> (Vec<(String, u32)>, usize) {
    let usable = |v: &str| match side {
        Side::Ip => !v.trim().is_empty(),
        Side::Account => v.parse::<IpAddr>().is_ok(),
    };
    let own = match side {
        Side::Ip => trigger.actor(),
        Side::Account => trigger.ip(),
    };
    let mut tally: BTreeMap<&str, u32> = BTreeMap::new();
    for v in earlier
        .iter()
        .filter_map(|o| o.peer.as_deref())
        .chain(own)
        .filter(|v| usable(v))
    {
        *tally.entry(v).or_default() += 1;
    }
    let total = tally.len();
    let mut values: Vec<(String, u32)> =
        tally.into_iter().map(|(v, n)| (v.to_owned(), n)).collect();
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    values.truncate(MAX_EVIDENCE_VALUES);
    (values, total)
}

/// The evidence of a brute-force burst (docs/api.md §10.10): its size and rule, who was tried
/// from where, when, and the events behind it.
pub(super) fn burst_evidence(
    trigger: &DetectionEvent,
    earlier: &[&Occurrence],
    side: Side,
    rule: Burst,
) -> Value {
    let (others, others_total) = distinct(trigger, earlier, side);
    let list = |name: &str, values: Vec<(String, u32)>| -> Value {
        values
            .into_iter()
            .map(|(v, n)| json!({ name: v, "count": n }))
            .collect()
    };
    let (accounts, accounts_total, ips, ips_total) = match side {
        Side::Ip => {
            let ip = trigger.ip().map(|ip| (ip.to_owned(), count(earlier)));
            (
                list("actor_id", others),
                others_total,
                list("ip", ip.into_iter().collect()),
                1,
            )
        }
        Side::Account => {
            let actor = trigger.actor().map(|a| (a.to_owned(), count(earlier)));
            (
                list("actor_id", actor.into_iter().collect()),
                1,
                list("ip", others),
                others_total,
            )
        }
    };
    let first = earlier.first().map_or(trigger.created_at, |o| o.at);
    json!({
        "count": count(earlier),
        "threshold": rule.threshold,
        "window_minutes": rule.window_minutes,
        "key": side.key(),
        "accounts": accounts,
        "accounts_total": accounts_total,
        "source_ips": ips,
        "source_ips_total": ips_total,
        "first_failure_at": first.iso_millis(),
        "last_failure_at": trigger.created_at.iso_millis(),
        "event_ids": event_ids(earlier, trigger),
    })
}

/// The newest [`MAX_EVIDENCE_EVENTS`] ids of a burst, oldest first, the trigger last.
pub(super) fn event_ids(earlier: &[&Occurrence], trigger: &DetectionEvent) -> Vec<String> {
    let skip = (earlier.len() + 1).saturating_sub(MAX_EVIDENCE_EVENTS);
    earlier
        .iter()
        .skip(skip)
        .map(|o| o.event_id.clone())
        .chain([trigger.id.clone()])
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
    full: Detail,
) -> Option<AlertCandidate> {
    if event.event_name != RATE_LIMIT_NAME {
        return None;
    }
    let rule = config.rate_limit;
    let by_actor = event
        .actor()
        .map(|a| (&history.actor_rate_limits, actor_key(a), a));
    let by_ip = event
        .ip()
        .map(|ip| (&history.ip_rate_limits, ip_key(ip), ip));
    let (count, prior, dedup_key, who) = by_actor
        .into_iter()
        .chain(by_ip)
        .map(|(prior, key, who)| (burst_count(event, prior, rule), prior, key, who))
        .find(|(count, ..)| *count >= rule.threshold)?;
    let mut evidence = json!({"count": count, "window_minutes": rule.window_minutes});
    if full(AlertType::RateLimitExceeded, &dedup_key) {
        let earlier = burst(event, prior, rule);
        let first = earlier.first().map_or(event.created_at, |o| o.at);
        evidence["first_at"] = json!(first.iso_millis());
        evidence["last_at"] = json!(event.created_at.iso_millis());
        evidence["event_ids"] = json!(event_ids(&earlier, event));
    }
    Some(AlertCandidate {
        dedup_key,
        title: format!("Rate-limit abuse by {who}"),
        description: format!(
            "{count} rate-limit violation{} in {} min",
            plural(count),
            rule.window_minutes
        ),
        evidence,
        ..candidate(
            event,
            AlertType::RateLimitExceeded,
            AlertSeverity::Medium,
            config.confidence.rate_limit,
        )
    })
}

/// The burst's size, the trigger included, without listing it: the distinct earlier events in
/// the window, plus one.
fn burst_count(trigger: &DetectionEvent, prior: &[Occurrence], rule: Burst) -> u32 {
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

/// The distinct earlier events in the window ending at the trigger, oldest first (by time, then
/// id). Ids are de-duplicated so a history that overlaps itself (or contains the trigger) never
/// inflates the count.
pub(super) fn burst<'h>(
    trigger: &DetectionEvent,
    prior: &'h [Occurrence],
    rule: Burst,
) -> Vec<&'h Occurrence> {
    let window = rule.window_ms();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut earlier: Vec<&Occurrence> = prior
        .iter()
        .filter(|o| is_prior(trigger, &o.event_id, o.at, window))
        .filter(|o| seen.insert(o.event_id.as_str()))
        .collect();
    earlier.sort_by(|a, b| (a.at, &a.event_id).cmp(&(b.at, &b.event_id)));
    earlier
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
    use crate::time::UnixMs;

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
        brute_force(e, h, &DetectionConfig::default(), &|_, _| true)
    }

    #[test]
    fn per_ip_fires_at_exactly_five_in_five_minutes() {
        let mut prior = occs(4, 4 * MIN);
        for (o, who) in prior.iter_mut().zip(["root", "admin", "root", " "]) {
            o.peer = Some(who.into());
        }
        let out = run(&failed(), &with_ip(prior));
        assert_eq!(out.len(), 1);
        let c = &out[0];
        assert_eq!(c.alert_type, AlertType::BruteForceAttack);
        assert_eq!(c.severity, AlertSeverity::High);
        assert_eq!(c.dedup_key, "ip:203.0.113.45");
        assert_eq!(c.confidence, 70);
        assert_eq!(c.title, "Brute force from 203.0.113.45");
        assert_eq!(c.description, "5 failed logins in 5 min against 2 accounts");
        // Who was tried, most failures first, blank accounts left out; when; which events.
        assert_eq!(
            c.evidence,
            json!({"count": 5, "threshold": 5, "window_minutes": 5, "key": "ip",
                "accounts": [{"actor_id": "admin", "count": 2}, {"actor_id": "root", "count": 2}],
                "accounts_total": 2,
                "source_ips": [{"ip": IP, "count": 5}], "source_ips_total": 1,
                "first_failure_at": UnixMs(T0 - 4 * MIN).iso_millis(),
                "last_failure_at": UnixMs(T0).iso_millis(),
                "event_ids": ["h0", "h1", "h2", "h3", "trigger"]})
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
        let ev = &at[0].evidence;
        assert_eq!(
            (
                &ev["count"],
                &ev["threshold"],
                &ev["window_minutes"],
                &ev["key"]
            ),
            (&json!(10), &json!(10), &json!(60), &json!("account"))
        );
        assert_eq!(ev["accounts"], json!([{"actor_id": "admin", "count": 10}]));
        assert_eq!(ev["source_ips"], json!([{"ip": IP, "count": 1}]));
        assert_eq!(
            at[0].description,
            "10 failed logins in 60 min from 1 source IP"
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
        rate_limit(e, &h, &DetectionConfig::default(), &|_, _| true)
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
        assert_eq!(
            c.evidence,
            json!({"count": 3, "window_minutes": 10,
                "first_at": UnixMs(T0 - 10 * MIN).iso_millis(), "last_at": UnixMs(T0).iso_millis(),
                "event_ids": ["h0", "h1", "rl"]})
        );
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
        let out = brute_force(&failed(), &History::default(), &cfg, &|_, _| true);
        assert_eq!(out[0].evidence["count"], 1);
        assert_eq!(
            out[0].description,
            "1 failed login in 1 min against 1 account"
        );
    }

    #[test]
    fn an_accounts_burst_lists_its_source_ips_bounded_with_a_total() {
        // Credential stuffing against one account from 30 addresses: 20 listed, 30 counted.
        let prior: Vec<Occurrence> = (0..29)
            .map(|i| Occurrence {
                peer: Some(format!("198.51.100.{i}")),
                ..occ(&format!("f{i:02}"), -(i + 1) * MIN)
            })
            .chain([Occurrence {
                peer: Some("unknown".into()),
                ..occ("placeholder", -MIN)
            }])
            .collect();
        let c = &run(&failed(), &with_actor(prior))[0];
        assert_eq!(c.dedup_key, "actor:admin");
        let ev = &c.evidence;
        assert_eq!(ev["count"], 31);
        assert_eq!(
            ev["source_ips_total"], 30,
            "29 peers and the trigger's own IP"
        );
        assert_eq!(
            ev["source_ips"].as_array().unwrap().len(),
            MAX_EVIDENCE_VALUES
        );
        assert_eq!(ev["event_ids"].as_array().unwrap().len(), 31);
        assert_eq!(ev["event_ids"][0], "f28", "oldest first");
        assert_eq!(ev["first_failure_at"], UnixMs(T0 - 29 * MIN).iso_millis());
    }

    #[test]
    fn event_ids_keep_the_newest_fifty() {
        let e = failed();
        let many: Vec<Occurrence> = (0..80).map(|i| occ(&format!("o{i:02}"), i - 100)).collect();
        let refs: Vec<&Occurrence> = many.iter().collect();
        let ids = event_ids(&refs, &e);
        assert_eq!(ids.len(), MAX_EVIDENCE_EVENTS);
        assert_eq!(
            (ids[0].as_str(), ids[48].as_str(), ids[49].as_str()),
            ("o31", "o79", "trigger")
        );
    }

    #[test]
    fn keys_without_detail_carry_the_counts_alone() {
        let mut prior = occs(5, 4 * MIN);
        prior.iter_mut().for_each(|o| o.peer = Some("root".into()));
        let h = History {
            ip_failed_logins: prior.clone(),
            ip_rate_limits: prior,
            ..History::default()
        };
        // Only the IP key of brute force is detailed.
        let only_ip =
            |t: AlertType, key: &str| t == AlertType::BruteForceAttack && key == "ip:203.0.113.45";
        let mut e = failed();
        e.actor_id = None;
        let c = &brute_force(&e, &h, &DetectionConfig::default(), &only_ip)[0];
        assert_eq!(c.evidence["accounts_total"], 1, "detailed");
        let none = |_: AlertType, _: &str| false;
        let c = &brute_force(&e, &h, &DetectionConfig::default(), &none)[0];
        assert_eq!(
            c.evidence,
            json!({"count": 6, "threshold": 5, "window_minutes": 5, "key": "ip"})
        );
        assert_eq!(c.description, "6 failed logins in 5 min");
        assert_eq!(
            c.confidence, 75,
            "the count and confidence are the same either way"
        );
        let r = rate_limit(&limited(IP, ""), &h, &DetectionConfig::default(), &none).unwrap();
        assert_eq!(r.evidence, json!({"count": 6, "window_minutes": 10}));
    }
}
