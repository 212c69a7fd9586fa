//! Detection in the queue consumer, for a whole queue batch at once: the history reads in one
//! or two rounds of one statement per part (`edgesoc_core::detect::history`), the pure rules per event,
//! and the alerts folded per key into three writes (`edgesoc_core::alerts::store_statements`),
//! one D1 batch and one transaction. The statement count does not grow with the batch, which
//! keeps a brute-force flood inside D1's per-invocation query limit.

use crate::d1::{self, Store};
use edgesoc_core::access::ids::EventId;
use edgesoc_core::alerts::store_statements;
use edgesoc_core::detect::history::HistoryReads;
use edgesoc_core::detect::{evaluate, history_request, DetectionConfig, DetectionEvent};
use edgesoc_core::ingest::record::EventRecord;
use edgesoc_core::limits::plan::Plan;
use edgesoc_core::time::UnixMs;

/// Runs every rule on `events` (with the plan each was accepted under) and stores the alerts.
pub async fn run(store: &Store, events: &[(EventRecord, Plan)]) -> Result<(), d1::Error> {
    let config = DetectionConfig::default();
    let mut reads = HistoryReads::new(
        events
            .iter()
            .map(|(r, plan)| {
                let e = DetectionEvent::from_record(r);
                let request = history_request(&e, *plan, &config);
                (e, r.org_id.0.clone(), request)
            })
            .collect(),
    );
    loop {
        let statements = reads.statements();
        if statements.is_empty() {
            break;
        }
        let rows = store.batch(&statements).await?;
        reads
            .absorb(rows)
            .map_err(|e| d1::Error::Rows(format!("history rows: {e}")))?;
    }
    let candidates: Vec<_> = events
        .iter()
        .zip(reads.into_histories())
        .flat_map(|((record, plan), (event, history))| {
            evaluate(&event, &history, *plan, &config)
                .into_iter()
                .map(move |c| (c, record))
        })
        .collect();
    let now = UnixMs(js_sys::Date::now() as i64);
    store
        .batch(&store_statements(&candidates, now, EventId::new_v4))
        .await?;
    Ok(())
}
