//! The durable write path: `/collect` enqueues one message per event; the consumer stores
//! them in D1 idempotently and acks per message. Bodies travel as JSON text so the consumer
//! controls parsing (a malformed message is acked and logged, never retried forever).

use crate::detection;
use crate::store::Store;
use edgesoc_core::plan::Plan;
use edgesoc_core::record::{group_by_size, EventRecord, QueueMessage};
use wasm_bindgen::JsValue;
use worker::{
    BatchMessageBuilder, Env, MessageBatch, MessageExt, Queue, QueueContentType, RawMessageBuilder,
};

/// Queue `sendBatch` limits: 100 messages and 256 KB; keep headroom for per-message overhead.
const MAX_SEND_MESSAGES: usize = 100;
const MAX_SEND_BYTES: usize = 200 * 1024;
/// Send attempts per chunk before the request fails.
const SEND_ATTEMPTS: usize = 3;

/// Enqueues every record. Returns how many were enqueued before a failure, so the caller can
/// refund exactly the events that will never be stored.
pub async fn enqueue(
    queue: &Queue,
    records: Vec<EventRecord>,
    plan: Plan,
) -> Result<(), (usize, worker::Error)> {
    let bodies: Vec<String> = records
        .into_iter()
        .map(|r| serde_json::to_string(&QueueMessage::new(r, plan)))
        .collect::<Result<_, _>>()
        .map_err(|e| (0, worker::Error::RustError(e.to_string())))?;
    let mut sent = 0;
    for chunk in group_by_size(&bodies, MAX_SEND_MESSAGES, MAX_SEND_BYTES) {
        let mut last_err = None;
        for _ in 0..SEND_ATTEMPTS {
            let batch = chunk.iter().fold(BatchMessageBuilder::new(), |b, body| {
                b.message(
                    RawMessageBuilder::new(JsValue::from_str(body))
                        .build_with_content_type(QueueContentType::Text),
                )
            });
            match queue.send_raw_batch(batch.build()).await {
                Ok(()) => {
                    last_err = None;
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        if let Some(e) = last_err {
            return Err((sent, e));
        }
        sent += chunk.len();
    }
    Ok(())
}

/// Test-only fault injection, enabled by the `EDGESOC_FAULTS` var (never set in wrangler.toml):
/// `consumer_fail_after_insert` stores the batch, then retries it instead of acking, which is
/// exactly what a crash between the D1 commit and the ack looks like.
fn fault(env: &Env, name: &str) -> bool {
    env.var("EDGESOC_FAULTS")
        .map(|v| v.to_string().split(',').any(|f| f.trim() == name))
        .unwrap_or(false)
}

/// The queue consumer. Never returns `Err` (that aborts the instance, see workers-rs-notes §4):
/// every message is acked or retried explicitly.
pub async fn consume(batch: MessageBatch<JsValue>, env: &Env) {
    let mut good = Vec::new();
    let mut records = Vec::new();
    let mut plans = Vec::new();
    for m in batch.raw_iter() {
        let parsed = match m.body().as_string() {
            Some(text) => serde_json::from_str::<QueueMessage>(&text).map_err(|e| e.to_string()),
            None => Err("body is not text".to_string()),
        };
        match parsed {
            Ok(msg) => {
                records.push(msg.event);
                plans.push(msg.plan);
                good.push(m);
            }
            Err(e) => {
                // Poison message: retrying cannot help. Log it whole and drop it.
                worker::console_error!("queue: dropping malformed message {}: {e}", m.id());
                m.ack();
            }
        }
    }
    if records.is_empty() {
        return;
    }
    let store = match env.d1("DB") {
        Ok(db) => Store::new(db),
        Err(e) => {
            worker::console_error!("queue: DB binding missing, retrying: {e}");
            good.iter().for_each(|m| m.retry());
            return;
        }
    };
    // Store first, then detect: detection reads the stored history (batch siblings included).
    // Both steps are idempotent, so retrying the whole batch after any failure is safe.
    if let Err(e) = store.insert_events(&records).await {
        worker::console_error!(
            "queue: insert of {} events failed, retrying: {e}",
            records.len()
        );
        good.iter().for_each(|m| m.retry());
        return;
    }
    let events: Vec<(EventRecord, Plan)> = records.into_iter().zip(plans).collect();
    if let Err(e) = detection::run(&store, &events).await {
        worker::console_error!(
            "queue: detection failed, retrying {} messages: {e}",
            good.len()
        );
        good.iter().for_each(|m| m.retry());
        return;
    }
    if fault(env, "consumer_fail_after_insert") {
        worker::console_warn!(
            "queue: fault injection: retrying {} stored messages",
            good.len()
        );
        good.iter().for_each(|m| m.retry());
        return;
    }
    good.iter().for_each(|m| m.ack());
}
