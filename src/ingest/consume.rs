//! The durable write path: `/collect` enqueues its events packed into a few messages; the
//! consumer enriches them, stores them in D1 idempotently and acks per message. Bodies travel as JSON text so the consumer
//! controls parsing (a malformed message is acked and logged, never retried forever).

use crate::d1::{self, Store};
use crate::detect;
use crate::ingest::incidents;
use edgesoc_core::access::ids::OrgId;
use edgesoc_core::api::sql::MAX_BOUND_JSON_BYTES;
use edgesoc_core::ingest::hold::{self, Verdict};
use edgesoc_core::ingest::incidents::Incident;
use edgesoc_core::ingest::message::{Delivery, MessageError, QueueMessage};
use edgesoc_core::ingest::record;
use edgesoc_core::ingest::record::EventRecord;
use edgesoc_core::intel::enrichment::BatchEnrichment;
use edgesoc_core::limits::plan::Plan;
use edgesoc_core::logs;
use edgesoc_core::time::UnixMs;
use wasm_bindgen::JsValue;
use worker::{Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder, RawMessage};

/// The queue consumer. Never returns `Err` (that aborts the instance, see docs/workers.md §4):
/// every message is acked or retried explicitly.
pub async fn consume(batch: MessageBatch<JsValue>, env: &Env) {
    let mut good = Vec::new();
    let mut deliveries = Vec::new();
    let mut undecodable = Vec::new();
    for m in batch.raw_iter() {
        let text = m.body().as_string();
        let parsed = match &text {
            Some(text) => QueueMessage::parse(text),
            None => Err(MessageError::Unreadable("body is not text".into())),
        };
        match parsed {
            Ok(d) => {
                deliveries.push(d);
                good.push(m);
            }
            // Retrying cannot help: the loss is recorded as an incident instead.
            Err(e) => undecodable.push((
                Incident::undecodable(&m.id(), text.as_deref(), &e.to_string()),
                m,
            )),
        }
    }
    let retry = |why: String, messages: &[RawMessage]| {
        worker::console_error!("queue: {why}; retrying {} messages", messages.len());
        messages.iter().for_each(|m| m.retry());
    };
    let store = match Store::from_env(env) {
        Ok(store) => store,
        Err(e) => {
            let all: Vec<RawMessage> = good
                .into_iter()
                .chain(undecodable.into_iter().map(|u| u.1))
                .collect();
            return retry(format!("DB binding missing: {e}"), &all);
        }
    };
    for (incident, m) in undecodable {
        match incidents::report(env, &store, &incident).await {
            Ok(()) => m.ack(),
            Err(e) => retry(format!("recording incident {}: {e}", incident.id), &[m]),
        }
    }
    if deliveries.is_empty() {
        return;
    }
    let (mut deliveries, good) = match admit_held(&store, deliveries, good).await {
        Ok(admitted) => admitted,
        Err((e, all)) => return retry(format!("hold lookup failed: {e}"), &all),
    };
    if deliveries.is_empty() {
        return;
    }
    let retry_all = |why: String| retry(why, &good);
    // Enrich, store, then detect: detection reads the stored history (batch siblings
    // included). Every step is idempotent (event ids are fixed at acceptance and inserts
    // ignore known ids), so retrying the whole batch after any failure is safe.
    if let Err(e) = enrich(&store, &mut deliveries).await {
        return retry_all(format!("enrichment lookups failed: {e}"));
    }
    let mut records: Vec<EventRecord> = Vec::new();
    let mut plans: Vec<Plan> = Vec::new();
    for d in deliveries {
        plans.extend(std::iter::repeat_n(d.plan, d.events.len()));
        records.extend(d.events);
    }
    let faults = crate::faults::from_env(env);
    if crate::faults::strikes(&faults, "consumer_insert") {
        return retry_all("fault injection: consumer_insert".into());
    }
    if let Err(e) = insert(&store, &records).await {
        return retry_all(format!("insert of {} events failed: {e}", records.len()));
    }
    let events: Vec<(EventRecord, Plan)> = records.into_iter().zip(plans).collect();
    if let Err(e) = detect::run(&store, &events).await {
        return retry_all(format!("detection failed: {e}"));
    }
    if crate::faults::strikes(&faults, "consumer_fail_after_insert") {
        return retry_all("fault injection: consumer_fail_after_insert".into());
    }
    good.iter().for_each(|m| m.ack());
}

/// Stores the events and their dashboard log items in one transaction, idempotently (a
/// redelivered event changes nothing).
async fn insert(store: &Store, records: &[EventRecord]) -> Result<(), String> {
    let mut statements = record::insert_statements(records).map_err(|e| e.to_string())?;
    let items: Vec<_> = records.iter().map(logs::event_row).collect();
    statements.extend(
        logs::insert_statements(&items, false, MAX_BOUND_JSON_BYTES).map_err(|e| e.to_string())?,
    );
    store.batch(&statements).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Passes on the deliveries that were never held or whose split request has committed; a held
/// message whose request has not committed is delivered again later, or dropped once it is too
/// old for any commit to come (`edgesoc_core::ingest::hold`). One D1 read, only when a message is held.
async fn admit_held(
    store: &Store,
    deliveries: Vec<Delivery>,
    messages: Vec<RawMessage>,
) -> Result<(Vec<Delivery>, Vec<RawMessage>), (d1::Error, Vec<RawMessage>)> {
    // A message's events all belong to the organisation of the request that sent it.
    fn org(d: &Delivery) -> &OrgId {
        &d.events[0].org_id
    }
    let holds: Vec<(&str, &OrgId)> = deliveries
        .iter()
        .filter_map(|d| Some((d.hold.as_deref()?, org(d))))
        .collect();
    if holds.is_empty() {
        return Ok((deliveries, messages));
    }
    let lookup = hold::committed_statement(&holds);
    drop(holds);
    let rows = match store.batch(&[lookup]).await {
        Ok(rows) => rows,
        Err(e) => return Err((e, messages)),
    };
    let committed: Vec<(String, String)> = rows
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["hold"].as_str()?.into(), r["org_id"].as_str()?.into())))
        .collect();
    let now = js_sys::Date::now() as i64;
    let mut kept = (Vec::new(), Vec::new());
    for (d, m) in deliveries.into_iter().zip(messages) {
        let verdict = match d.hold.as_deref() {
            None => Verdict::Store,
            Some(token) => {
                let done = committed.iter().any(|(h, o)| h == token && *o == org(&d).0);
                hold::verdict(done, now - m.timestamp().as_millis() as i64)
            }
        };
        match verdict {
            Verdict::Store => {
                kept.0.push(d);
                kept.1.push(m);
            }
            Verdict::Wait => m.retry_with_options(
                &QueueRetryOptionsBuilder::new()
                    .with_delay_seconds(hold::RETRY_DELAY_SECONDS)
                    .build(),
            ),
            Verdict::Drop => {
                worker::console_error!(
                    "queue: dropping message {} of split request {}: it never committed",
                    m.id(),
                    d.hold.as_deref().unwrap_or_default()
                );
                m.ack();
            }
        }
    }
    Ok(kept)
}

/// Enriches every event of the batch with one D1 batch of lookups.
async fn enrich(store: &Store, deliveries: &mut [Delivery]) -> Result<(), d1::Error> {
    let mut records = Vec::new();
    let mut cfs = Vec::new();
    let mut counts = Vec::new();
    for d in deliveries.iter_mut() {
        counts.push(d.events.len());
        cfs.extend(std::iter::repeat_n(&d.cf, d.events.len()));
        records.append(&mut d.events);
    }
    if records.is_empty() {
        return Ok(());
    }
    let now = UnixMs(js_sys::Date::now() as i64);
    let (plan, statements) = BatchEnrichment::plan(&records, now);
    let rows = store.batch(&statements).await?;
    let lists = crate::lists::current(store).await;
    if let Err(e) = plan.apply(&mut records, &cfs, rows, &lists) {
        // Unreadable answers: store the events unenriched rather than never.
        worker::console_error!("queue: {e}");
    }
    // Hand the records back, in order, to the deliveries they came from.
    let mut it = records.into_iter();
    for (d, n) in deliveries.iter_mut().zip(counts) {
        d.events = it.by_ref().take(n).collect();
    }
    Ok(())
}
