//! Detection's batched history reads (`history::HistoryReads`) against the reference model
//! (`history::model`): a random table of stored events and a random queue batch drawn from it.
//!
//! Input: 5 bytes per event (at most 160 events) — event kind, IP, actor, time step, and a byte whose low bits pick
//! the country and device and whose high bit puts the event in the batch. Two organisations,
//! four IPs and actors, steps from seconds to days, so windows, bounds and shared reads all
//! come into play.
//!
//! Checks, beyond "no panic": at most two rounds, at most one statement per part in each; and
//! for every batch event the counting lists, the logins, the prior-event flag and the values
//! known in its window equal what the event's own per-event reads of the table give.
#![no_main]

use edgesoc_core::detect::{
    history_request, DetectionConfig, DetectionEvent, History, RATE_LIMIT_NAME,
    SUCCESSFUL_LOGIN_NAME,
};
use edgesoc_core::detect::history::model::{self, Stored};
use edgesoc_core::limits::plan::Plan;
use edgesoc_core::time::UnixMs;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

const NAMES: [&str; 4] = [
    "auth.login_failed",
    SUCCESSFUL_LOGIN_NAME,
    RATE_LIMIT_NAME,
    "data.export",
];
const COUNTRIES: [Option<&str>; 4] = [None, Some("DE"), Some("fr"), Some("US")];
const DEVICES: [Option<&str>; 4] = [None, Some("d1"), Some("d2"), Some("ua")];

fuzz_target!(|data: &[u8]| {
    let mut table = Vec::new();
    let mut batch = Vec::new();
    let mut at: i64 = 1_000_000_000;
    for (i, b) in data.chunks_exact(5).take(160).enumerate() {
        at += match b[3] {
            250.. => i64::from(b[3] - 249) * 86_400_000,
            step => i64::from(step) * 15_000,
        };
        let mut e = DetectionEvent::new(format!("e{i:04}"), NAMES[b[0] as usize % 4], UnixMs(at));
        e.source_ip = Some(format!("192.0.2.{}", b[1] % 4));
        e.actor_id = Some(format!("u{}", b[2] % 4));
        e.country = COUNTRIES[b[4] as usize % 4].map(str::to_owned);
        e.device = DEVICES[(b[4] >> 2) as usize % 4].map(str::to_owned);
        (e.latitude, e.longitude) = (Some(f64::from(b[4] % 7) * 10.0), Some(5.0));
        let org = if b[1] & 0x80 != 0 { "o2" } else { "o1" };
        if b[4] & 0x80 != 0 {
            batch.push((e.clone(), org.to_owned()));
        }
        table.push(Stored {
            org: org.into(),
            event: e,
        });
    }
    let (histories, rounds) =
        model::run(&table, &batch, Plan::Pro).expect("the model's rows parse");
    assert!(rounds.len() <= 2, "more than two rounds");
    assert!(
        rounds.iter().all(|r| r.len() <= 8),
        "one statement per part"
    );
    let config = DetectionConfig::default();
    for ((e, org), got) in batch.iter().zip(histories) {
        let want = model::per_event(&table, org, e, &history_request(e, Plan::Pro, &config));
        assert_eq!(got.ip_failed_logins, want.ip_failed_logins, "{}", e.id);
        assert_eq!(
            got.actor_failed_logins, want.actor_failed_logins,
            "{}",
            e.id
        );
        assert_eq!(got.ip_rate_limits, want.ip_rate_limits, "{}", e.id);
        assert_eq!(got.actor_rate_limits, want.actor_rate_limits, "{}", e.id);
        assert_eq!(got.actor_logins, want.actor_logins, "{}", e.id);
        assert_eq!(
            got.actor_has_prior_event, want.actor_has_prior_event,
            "{}",
            e.id
        );
        assert_eq!(
            known(e, &got, true),
            known(e, &want, true),
            "countries of {}",
            e.id
        );
        assert_eq!(
            known(e, &got, false),
            known(e, &want, false),
            "devices of {}",
            e.id
        );
    }
});

/// The values the rules would count as seen before `e` (any window: the lists are already cut
/// to the event's own).
fn known(e: &DetectionEvent, h: &History, countries: bool) -> BTreeSet<String> {
    let list = if countries {
        &h.actor_countries
    } else {
        &h.actor_devices
    };
    list.iter()
        .filter(|s| s.event_id != e.id && s.at <= e.created_at)
        .map(|s| s.value.to_ascii_uppercase())
        .collect()
}
