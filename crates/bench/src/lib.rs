//! The per-request CPU work of edgesoc's core, isolated for measurement: validate a
//! 100-event `/collect` batch, assign ids, enrich from `cf`, classify, and run every detection
//! rule against a realistic history. The same function runs natively (`main.rs`) and compiled
//! to wasm (exported below), so the two figures are directly comparable.

use edgesoc_core::access::ids::{EventId, OrgId};
use edgesoc_core::detect::{
    evaluate, history_request, DetectionConfig, DetectionEvent, History, Occurrence, Sighting,
};
use edgesoc_core::ingest::parse_collect_body;
use edgesoc_core::ingest::record::EventRecord;
use edgesoc_core::intel::enrichment::{apply, source, ThreatCounts};
use edgesoc_core::intel::NetworkLists;
use edgesoc_core::limits::plan::Plan;
use edgesoc_core::logs::classify::classify_event;
use edgesoc_core::time::UnixMs;
use serde_json::json;

/// Events per batch, the contract's maximum.
pub const BATCH: usize = 100;

/// A realistic 100-event body: logins, failures, admin and custom events with metadata.
pub fn batch_body() -> Vec<u8> {
    let names = [
        "auth.login_success",
        "auth.login_failed",
        "admin.settings_changed",
        "data.export",
        "billing.invoice_paid",
    ];
    let events: Vec<_> = (0..BATCH)
        .map(|i| {
            json!({
                "event": names[i % names.len()],
                "actor": {"id": format!("user_{}", i % 17), "email": format!("user{}@example.com", i % 17)},
                "user_ip": format!("198.51.100.{}", i % 250),
                "metadata": {"_sdk": "litesoc-node", "_sdk_version": "2.6.0", "device_id": format!("dev-{}", i % 5),
                             "user_agent": "Mozilla/5.0 (X11; Linux x86_64)", "path": "/login"}
            })
        })
        .collect();
    json!({ "events": events }).to_string().into_bytes()
}

fn history(now: UnixMs) -> History {
    let occ = |k: i64| Occurrence {
        event_id: format!("h{k}"),
        at: UnixMs(now.0 - k * 30_000),
        peer: Some(format!("user_{k}")),
    };
    let mut prior = DetectionEvent::new("p1", "auth.login_success", UnixMs(now.0 - 3_600_000));
    (prior.latitude, prior.longitude, prior.country) = (Some(48.85), Some(2.35), Some("FR".into()));
    prior.actor_id = Some("user_1".into());
    prior.source_ip = Some("203.0.113.1".into());
    History {
        ip_failed_logins: (1..4).map(occ).collect(),
        actor_failed_logins: (1..6).map(occ).collect(),
        actor_logins: vec![prior],
        actor_countries: vec![Sighting {
            event_id: "c".into(),
            at: UnixMs(now.0 - 86_400_000),
            value: "FR".into(),
        }],
        actor_devices: vec![Sighting {
            event_id: "d".into(),
            at: UnixMs(now.0 - 86_400_000),
            value: "dev-1".into(),
        }],
        actor_has_prior_event: true,
        ..History::default()
    }
}

/// Runs the whole pipeline over one batch body; returns a checksum so nothing is optimised away.
pub fn run_batch(body: &[u8]) -> usize {
    let now = UnixMs(1_769_764_500_000);
    let cf = json!({"country":"DE","city":"Berlin","latitude":"52.52","longitude":"13.405","asn":3320,"timezone":"Europe/Berlin"});
    let org = OrgId("org_bench".into());
    let config = DetectionConfig::default();
    let history = history(now);
    let events = parse_collect_body(body).expect("valid batch");
    let mut checksum = 0;
    for (i, new) in events.into_iter().enumerate() {
        let mut record = EventRecord::assign(
            new,
            &org,
            EventId::new_v4(),
            now,
            Some("198.51.100.1".into()),
        );
        let caller = if i % 2 == 0 {
            record.user_ip.clone()
        } else {
            Some("192.0.2.1".into())
        };
        let src = source(record.user_ip.as_deref(), caller.as_deref());
        apply(
            &mut record,
            &src,
            &cf,
            None,
            &ThreatCounts::default(),
            NetworkLists::shipped(),
        );
        let (log_type, _) = classify_event(&record.event_name, None);
        let event = DetectionEvent::from_record(&record);
        let _ = history_request(&event, Plan::Pro, &config);
        checksum += evaluate(&event, &history, Plan::Pro, &config).len() + log_type as usize;
        checksum += serde_json::to_string(&record).map_or(0, |s| s.len());
    }
    checksum
}

/// Runs `batches` batches (wasm entry point; timed from JavaScript).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn run_batches(batches: u32) -> u32 {
    let body = batch_body();
    (0..batches)
        .map(|_| run_batch(&body) as u32)
        .fold(0u32, u32::wrapping_add)
}
