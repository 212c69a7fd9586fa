//! Inbound webhook bodies (docs/integrations.md §1, §2): arbitrary bytes as an Auth0 log
//! stream and as a Supabase database webhook, and the litesoc-agent's heartbeat (§3).
//!
//! Checks, beyond "no panic":
//! * a mapped body is what `/collect` accepts: every event object it makes passes the
//!   `/collect` validator as a batch (`webhooks::parse` is exactly that), so nothing reaches
//!   the queue that `/collect` would refuse;
//! * an error is a 400 naming its field, or a 413;
//! * no Supabase event keeps a value under a secret's name (a password or a token).
#![no_main]

use edgesoc_core::ingest::agents::{Heartbeat, MAX_LOG_CHARS, MAX_RECENT_LOGS};
use edgesoc_core::ingest::webhooks::{self, auth0, supabase, Provider};
use edgesoc_fuzz::check_error;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Whether a secret's value survived anywhere in `v`.
fn keeps_a_secret(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| {
            let k = k.to_ascii_lowercase();
            let secret = k == "password" || k == "encrypted_password" || k.ends_with("_token");
            (secret && v != "[REDACTED]" && !v.is_null()) || keeps_a_secret(v)
        }),
        Value::Array(items) => items.iter().any(keeps_a_secret),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    for provider in [Provider::Auth0, Provider::Supabase] {
        let mapped = match provider {
            Provider::Auth0 => auth0::events(data),
            Provider::Supabase => supabase::events(data),
        };
        match (mapped, webhooks::parse(provider, data)) {
            (Ok(events), Ok(parsed)) => {
                assert_eq!(events.len(), parsed.len());
                if provider == Provider::Supabase {
                    for e in &events {
                        assert!(!keeps_a_secret(&e["metadata"]), "{e}");
                    }
                }
            }
            (Ok(events), Err(e)) => panic!("mapped {} events /collect refuses: {e:?}", events.len()),
            (Err(a), Err(b)) => {
                assert_eq!(a.status(), b.status());
                check_error(&a, &[400, 413]);
            }
            (Err(e), Ok(_)) => panic!("parse accepted what the mapping refused: {e:?}"),
        }
    }
    match Heartbeat::parse(data) {
        Ok(hb) => {
            assert!(!hb.hostname.trim().is_empty());
            assert!(hb.recent_logs.len() <= MAX_RECENT_LOGS);
            assert!(hb.recent_logs.iter().all(|l| l.chars().count() <= MAX_LOG_CHARS));
        }
        Err(e) => check_error(&e, &[400]),
    }
});
