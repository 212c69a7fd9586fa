//! Query strings and bodies of the read/triage endpoints: `EventQuery::parse` (`GET /events`),
//! `AlertQuery::parse` (`GET /alerts`), `Cursor::decode`, `AlertPatch::parse`
//! (`PATCH /alerts/:id`), `NewSuppression::parse` (`POST /suppressions`), `SettingsPatch::parse`
//! (`PATCH /settings/detection`), and the SQL they become.
//!
//! Input: fields separated by 0x1F — a query string (`k=v&k=v`, split as-is, no percent
//! decoding: the fuzzer writes the decoded bytes directly) and a PATCH body. The first
//! 24 bytes also make a cursor (time, UUID) for the round-trip check.
//!
//! Checks, beyond "no panic":
//! * errors are 400s naming the parameter;
//! * limits clamp to 1–200 (events) / 1–500 (alerts), offsets to ≤ 1,000,000;
//! * `key.decode(key.encode(c)) == c` for every decoded cursor and any (time, UUID) cursor;
//! * the SQL binds every `?N` and uses every parameter, and its text does not depend on the
//!   client's strings (replacing them changes parameters only: no injection);
//! * a PATCH is consistent: `resolution_type` only when resolving and from the list; notes ≤
//!   2000 and `resolved_by` ≤ 255 characters; `suppress` only when marking safe;
//! * a suppression's canonical value parses back to itself, its reason is 1–500 characters and
//!   its expiry in the future; a settings patch applied to the defaults stays in every range.
#![no_main]

use edgesoc_core::alerts::suppress::{insert_statement, Matcher, NewSuppression, MAX_REASON_CHARS};
use edgesoc_core::alerts::{
    AlertPatch, AlertQuery, AlertStatus, ALERTS_MAX_LIMIT, MAX_INTERNAL_NOTES, RESOLUTION_TYPES,
};
use edgesoc_core::detect::settings::{apply, upsert_statement, view, SettingsPatch, SETTINGS};
use edgesoc_core::detect::DetectionConfig;
use edgesoc_core::access::ids::{EventId, OrgId};
use edgesoc_core::analytics::events::{EventQuery, EVENTS_MAX_LIMIT};
use edgesoc_core::api::cursor::{Cursor, CursorKey};
use edgesoc_core::api::sql::by_id_sql;
use edgesoc_core::time::UnixMs;
use edgesoc_fuzz::{check_error, check_statement, field, fields};
use libfuzzer_sys::fuzz_target;

const NOW: UnixMs = UnixMs(1_769_764_500_000);
const CUTOFF: UnixMs = UnixMs(1_769_764_500_000 - 30 * 86_400_000);

fuzz_target!(|data: &[u8]| {
    let f = fields(data);
    let query = field(&f, 0).unwrap_or_default();
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect();

    for (_, v) in &pairs {
        if let Ok(c) = key().decode(v) {
            check_cursor(&c);
        }
    }
    if data.len() >= 24 {
        let t = i64::from_le_bytes(data[..8].try_into().unwrap());
        let id = uuid_from(&data[8..24]);
        check_cursor(&Cursor {
            created_at: UnixMs(t),
            id,
        });
    }

    match EventQuery::parse(&pairs, &key()) {
        Ok(q) => {
            assert!(
                (1..=EVENTS_MAX_LIMIT).contains(&q.limit),
                "limit {}",
                q.limit
            );
            assert!(q.offset <= 1_000_000, "offset {}", q.offset);
            if let Some(c) = &q.cursor {
                check_cursor(c);
            }
            let (page, count) = q.page_sql("org_fuzz", CUTOFF);
            check_statement(&page);
            check_statement(&count);
            // The SQL text is the same whatever the client's strings are.
            let mut other = q.clone();
            other.event_name = q.event_name.as_ref().map(|_| "x.y".to_string());
            other.actor_id = q.actor_id.as_ref().map(|_| "x".to_string());
            let (page2, count2) = other.page_sql("org_fuzz", CUTOFF);
            assert_eq!(page.0, page2.0, "client strings reached the SQL text");
            assert_eq!(count.0, count2.0, "client strings reached the SQL text");
        }
        Err(e) => check_error(&e, &[400]),
    }

    match AlertQuery::parse(&pairs, &key()) {
        Ok(q) => {
            assert!(
                (1..=ALERTS_MAX_LIMIT).contains(&q.limit),
                "limit {}",
                q.limit
            );
            assert!(q.offset <= 1_000_000, "offset {}", q.offset);
            if let Some(c) = &q.cursor {
                check_cursor(c);
            }
            let (page, count) = q.page_sql("org_fuzz", CUTOFF);
            check_statement(&page);
            check_statement(&count);
            let mut other = q.clone();
            other.actor_id = q.actor_id.as_ref().map(|_| "x".to_string());
            let (page2, count2) = other.page_sql("org_fuzz", CUTOFF);
            assert_eq!(page.0, page2.0, "client strings reached the SQL text");
            assert_eq!(count.0, count2.0, "client strings reached the SQL text");
        }
        Err(e) => check_error(&e, &[400]),
    }

    let body = f.get(1).copied().unwrap_or_default();
    match AlertPatch::parse(body) {
        Ok(p) => {
            if let Some(r) = &p.resolution_type {
                assert_eq!(p.status, AlertStatus::Resolved, "{p:?}");
                assert!(RESOLUTION_TYPES.contains(&r.as_str()), "{p:?}");
            }
            if let Some(n) = &p.internal_notes {
                assert!(n.chars().count() <= MAX_INTERNAL_NOTES);
            }
            if let Some(b) = &p.resolved_by {
                assert!(b.chars().count() <= 255);
            }
            if p.suppress.is_some() {
                assert_eq!(p.status, AlertStatus::Safe, "suppress without mark_safe");
            }
            let expected = match p.status {
                AlertStatus::Acknowledged => "acknowledge",
                AlertStatus::Resolved => "resolve",
                AlertStatus::Safe => "mark_safe",
                AlertStatus::Open => "reopen",
            };
            assert_eq!(p.action(), expected);
            let id = uuid_from(&[0x42; 16]);
            let st = p.update_sql(&OrgId("org_fuzz".into()), &id, NOW, CUTOFF, "fuzz");
            check_statement(&st);
            check_statement(&by_id_sql("alerts", "org_fuzz", &id, CUTOFF));
        }
        Err(e) => check_error(&e, &[400]),
    }

    match NewSuppression::parse(body, NOW) {
        Ok(s) => {
            let canonical = s.matcher.canonical();
            let back = Matcher::stored(s.matcher.scope().as_str(), &canonical);
            assert_eq!(back.as_ref(), Some(&s.matcher), "{canonical:?} does not parse back");
            let n = s.reason.chars().count();
            assert!(n >= 1 && n <= MAX_REASON_CHARS && s.reason.trim() == s.reason);
            assert!(s.expires_at.is_none_or(|e| e > NOW), "an expiry in the past");
            check_statement(&insert_statement("org_fuzz", "sup_fuzz", &s, "api", NOW));
        }
        Err(e) => check_error(&e, &[400]),
    }

    match SettingsPatch::parse(body) {
        Ok(p) => {
            let c = apply(&DetectionConfig::default(), &p.merge);
            let shown = view(&c);
            for s in SETTINGS {
                assert!(s.check(&shown[s.group][s.name]).is_ok(), "{}.{} out of range", s.group, s.name);
            }
            assert!(c.country_blocklist.len() <= 250);
            check_statement(&upsert_statement("org_fuzz", &p, "api", NOW));
        }
        Err(e) => check_error(&e, &[400]),
    }
});

fn uuid_from(b: &[u8]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let s = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    EventId::parse(&s)
        .expect("hyphenated hex is a UUID")
        .to_string()
}

/// The cursor key of the fuzzed organisation.
fn key() -> CursorKey {
    CursorKey::new("fuzz-secret", "org_fuzz", "events")
}

fn check_cursor(c: &Cursor) {
    let encoded = key().encode(c);
    let back =
        key().decode(&encoded).unwrap_or_else(|e| panic!("own cursor {c:?} refused: {e:?}"));
    assert_eq!(&back, c, "cursor round trip");
    assert_eq!(c.id.len(), 36);
    assert_eq!(c.id.to_ascii_lowercase(), c.id, "cursor id not lowercase");
}
