//! Incidents (`edgesoc_core::ingest::incidents`): a loss is recorded in D1 once per queue message,
//! logged with its event ids, and its events are refunded to the organisation's monthly quota.

use crate::d1::Store;
use crate::limits::LimiterClient;
use edgesoc_core::faults::Faults;
use edgesoc_core::ingest::incidents::Incident;
use edgesoc_core::time::UnixMs;
use worker::Env;

/// Records `incident` and refunds its events (once, however often the message is delivered).
/// An error means nothing may be acked: the message comes back and the report is retried.
pub async fn report(env: &Env, store: &Store, incident: &Incident) -> Result<(), String> {
    worker::console_error!(
        "queue: INCIDENT {}: message {} of organisation {} with {} events {:?}: {}",
        incident.kind,
        incident.id,
        incident.org.as_ref().map_or("(unknown)", |o| o.0.as_str()),
        incident.events,
        incident.event_ids,
        incident.detail
    );
    let now = UnixMs(js_sys::Date::now() as i64);
    let rows = store
        .batch(&incident.record_statements(now))
        .await
        .map_err(|e| e.to_string())?;
    let refunded = rows
        .get(1)
        .and_then(|r| r.first())
        .and_then(|r| r["refunded"].as_f64())
        .is_some_and(|r| r > 0.0);
    let (Some(org), Some(month)) = (&incident.org, &incident.month) else {
        return Ok(()); // nothing to refund to
    };
    if refunded || incident.events == 0 {
        return Ok(());
    }
    let limiter = LimiterClient::for_org(env, org, Faults::default()).map_err(|e| e.to_string())?;
    limiter
        .refund(incident.events as u64, month.clone(), None)
        .await
        .map_err(|e| e.to_string())?;
    store
        .run(incident.refunded_statement())
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}
