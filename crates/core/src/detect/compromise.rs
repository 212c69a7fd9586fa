//! Account compromise suspected: a successful login that follows a brute-force burst on the
//! same account or from the same source (docs/api.md §10.11) — Elastic's "potential successful
//! brute force", LiteSOC's FOLLOWED BY.

use super::burst::{burst, burst_evidence, Side};
use super::{
    actor_key, candidate, ip_key, is_successful_login, subject_label, AlertCandidate,
    AlertSeverity, DetectionConfig, DetectionEvent, History,
};
use crate::ingest::catalogue::AlertType;
use serde_json::json;

/// A successful login preceded, inside a brute-force window, by at least that rule's threshold
/// of failed logins against the same account (10 in 60 min by default) or from the same IP (5
/// in 5 min): critical, keyed by the actor (else the IP), linked to the brute-force alerts of
/// the bursts. The evidence is the burst's (the account's when both qualify), with the success.
pub(super) fn account_compromise(
    event: &DetectionEvent,
    history: &History,
    config: &DetectionConfig,
) -> Option<AlertCandidate> {
    if !is_successful_login(&event.event_name) {
        return None;
    }
    let by_account = event.actor().map(|actor| {
        let rule = config.brute_force_account;
        (
            rule,
            burst(event, &history.actor_failed_logins, rule),
            Side::Account,
            actor_key(actor),
        )
    });
    let by_ip = event.ip().map(|ip| {
        let rule = config.brute_force_ip;
        (
            rule,
            burst(event, &history.ip_failed_logins, rule),
            Side::Ip,
            ip_key(ip),
        )
    });
    let bursts: Vec<_> = by_account
        .into_iter()
        .chain(by_ip)
        .filter(|(rule, earlier, ..)| earlier.len() >= rule.threshold as usize)
        .collect();
    let (rule, earlier, side, _) = bursts.first()?;
    let failures = earlier.len();
    let mut evidence = burst_evidence(event, earlier, *side, *rule);
    if let Some(ev) = evidence.as_object_mut() {
        ev.remove("count");
        ev.insert("failures".into(), json!(failures));
        let last = earlier.last().map(|o| o.at.iso_millis());
        ev.insert("last_failure_at".into(), json!(last));
        ev.insert("success_event_id".into(), json!(event.id));
        ev.insert("success_at".into(), json!(event.created_at.iso_millis()));
        ev.insert("success_ip".into(), json!(event.ip()));
    }
    let whom = match side {
        Side::Account => format!("against {}", subject_label(event)),
        Side::Ip => format!("from {}", event.ip().unwrap_or("(unknown IP)")),
    };
    Some(AlertCandidate {
        title: format!("Account compromise suspected: {}", subject_label(event)),
        description: format!(
            "Successful login after {failures} failed logins in {} min {whom}",
            rule.window_minutes
        ),
        evidence,
        related: bursts
            .iter()
            .map(|(.., key)| (AlertType::BruteForceAttack, key.clone()))
            .collect(),
        ..candidate(
            event,
            AlertType::AccountCompromise,
            AlertSeverity::Critical,
            config.confidence.account_compromise,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::detect::Occurrence;
    use crate::time::UnixMs;

    const IP: &str = "203.0.113.45";

    fn success() -> DetectionEvent {
        ev("ok", "auth.login_success", 0, IP, "alice")
    }

    fn from(peer: &str, prior: Vec<Occurrence>) -> Vec<Occurrence> {
        prior
            .into_iter()
            .map(|o| Occurrence {
                peer: Some(peer.into()),
                ..o
            })
            .collect()
    }

    fn run(e: &DetectionEvent, h: &History) -> Option<AlertCandidate> {
        account_compromise(e, h, &DetectionConfig::default())
    }

    #[test]
    fn six_failures_from_one_source_then_a_success_is_critical() {
        let h = History {
            ip_failed_logins: from("alice", occs(6, 4 * MIN)),
            ..History::default()
        };
        let c = run(&success(), &h).expect("alert");
        assert_eq!(c.alert_type, AlertType::AccountCompromise);
        assert_eq!((c.severity, c.confidence), (AlertSeverity::Critical, 90));
        assert_eq!(c.dedup_key, "actor:alice");
        assert_eq!(c.title, "Account compromise suspected: alice");
        assert_eq!(
            c.description,
            "Successful login after 6 failed logins in 5 min from 203.0.113.45"
        );
        assert_eq!(
            c.related,
            [(AlertType::BruteForceAttack, "ip:203.0.113.45".into())]
        );
        let ev = &c.evidence;
        assert_eq!(ev["failures"], 6);
        assert_eq!(ev["key"], "ip");
        assert!(ev.get("count").is_none());
        assert_eq!(ev["accounts"], json!([{"actor_id": "alice", "count": 7}]));
        assert_eq!(ev["first_failure_at"], UnixMs(T0 - 4 * MIN).iso_millis());
        assert_eq!(ev["last_failure_at"], occs(6, 4 * MIN)[5].at.iso_millis());
        assert_eq!(ev["success_event_id"], "ok");
        assert_eq!(ev["success_ip"], IP);
        assert_eq!(ev["event_ids"].as_array().unwrap().len(), 7);
    }

    #[test]
    fn both_bursts_link_both_alerts_and_the_account_leads() {
        let h = History {
            ip_failed_logins: occs(5, 4 * MIN),
            actor_failed_logins: occs(10, 50 * MIN),
            ..History::default()
        };
        let c = run(&success(), &h).unwrap();
        assert_eq!(c.evidence["key"], "account");
        assert_eq!(c.evidence["failures"], 10);
        assert_eq!(
            c.related,
            [
                (AlertType::BruteForceAttack, "actor:alice".into()),
                (AlertType::BruteForceAttack, "ip:203.0.113.45".into())
            ]
        );
    }

    #[test]
    fn below_the_threshold_outside_the_window_or_not_a_success_is_silent() {
        let four = History {
            ip_failed_logins: occs(4, 4 * MIN),
            actor_failed_logins: occs(9, 50 * MIN),
            ..History::default()
        };
        assert!(run(&success(), &four).is_none());
        let old = History {
            ip_failed_logins: (0..6)
                .map(|i| occ(&format!("o{i}"), -6 * MIN - i))
                .collect(),
            ..History::default()
        };
        assert!(run(&success(), &old).is_none());
        let burst = History {
            ip_failed_logins: occs(6, 4 * MIN),
            ..History::default()
        };
        let failure = ev("f", "auth.login_failed", 0, IP, "alice");
        assert!(run(&failure, &burst).is_none());
        // Failures after the success do not make it a compromise.
        let later = History {
            ip_failed_logins: (1..=6).map(|i| occ(&format!("l{i}"), i * 1000)).collect(),
            ..History::default()
        };
        assert!(run(&success(), &later).is_none());
    }
}
