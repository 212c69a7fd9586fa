//! Detection in the queue consumer: for each stored event, fetch the history its rules need
//! (one D1 batch), evaluate the pure rules, and store the resulting alerts with
//! de-duplication (one D1 batch, one transaction). Events are processed oldest first so a burst
//! inside one queue batch builds up one alert.

use crate::store::Store;
use edgesoc_core::alerts::upsert_statements;
use edgesoc_core::detect::{evaluate, history_request, DetectionConfig, DetectionEvent};
use edgesoc_core::history::{assemble, history_statements};
use edgesoc_core::ids::EventId;
use edgesoc_core::plan::Plan;
use edgesoc_core::record::EventRecord;
use edgesoc_core::time::UnixMs;

/// Runs every rule on `events` (with the plan each was accepted under) and stores the alerts.
pub async fn run(store: &Store, events: &[(EventRecord, Plan)]) -> worker::Result<()> {
    let config = DetectionConfig::default();
    let mut ordered: Vec<&(EventRecord, Plan)> = events.iter().collect();
    ordered.sort_by(|a, b| {
        (a.0.created_at, a.0.id.to_string()).cmp(&(b.0.created_at, b.0.id.to_string()))
    });
    for (record, plan) in ordered {
        let event = DetectionEvent::from_record(record);
        let request = history_request(&event, *plan, &config);
        let queries = history_statements(&event, &record.org_id.0, &request);
        let (parts, statements): (Vec<_>, Vec<_>) = queries.into_iter().unzip();
        let rows = store.batch(&statements).await?;
        let history = assemble(parts.into_iter().zip(rows).collect())
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let now = UnixMs(js_sys::Date::now() as i64);
        let writes: Vec<_> = evaluate(&event, &history, *plan, &config)
            .iter()
            .flat_map(|c| upsert_statements(c, record, EventId::new_v4(), now))
            .collect();
        store.batch(&writes).await?;
    }
    Ok(())
}
