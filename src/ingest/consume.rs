//! The queue consumer (`[[queues.consumers]]` in wrangler.toml): hands each batch to the core's
//! flow (`edgesoc_core::ingest::consume`) over the Worker's bindings, then acks or retries each
//! message as the flow says. Never returns `Err` (that aborts the instance, docs/workers.md §4):
//! every message is acked or retried explicitly.

use crate::d1::Store;
use crate::limits::LimiterClient;
use crate::queue::OutQueue;
use edgesoc_core::access::ids::OrgId;
use edgesoc_core::ingest::consume::{consume as consume_batch, Ack, ConsumeEnv, Delivered};
use edgesoc_core::time::UnixMs;
use wasm_bindgen::JsValue;
use worker::{Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder, RawMessage};

pub async fn consume(batch: MessageBatch<JsValue>, env: &Env) {
    let now = UnixMs(js_sys::Date::now() as i64);
    let raw: Vec<_> = batch.raw_iter().collect();
    let store = match Store::from_env(env) {
        Ok(store) => store,
        Err(e) => {
            worker::console_error!("queue: {e}; retrying {} messages", raw.len());
            raw.iter().for_each(|m| m.retry());
            return;
        }
    };
    let messages: Vec<Delivered> = raw
        .iter()
        .map(|m| Delivered {
            id: m.id(),
            body: m.body().as_string(),
            age_ms: now.0 - m.timestamp().as_millis() as i64,
        })
        .collect();
    let faults = crate::faults::from_env(env);
    let limiter_for = |org: &OrgId| LimiterClient::for_org(env, org, faults.clone());
    let strikes = |name: &str| crate::faults::strikes(&faults, name);
    let lists = crate::lists::current(&store).await;
    let deliveries = OutQueue::from_env(env, crate::alerts::deliver::QUEUE, faults.clone()).ok();
    let flow = ConsumeEnv {
        db: &store,
        deliveries: deliveries.as_ref(),
        limiter_for: &limiter_for,
        lists: &lists,
        now,
        strikes: &strikes,
    };
    let (acks, notes) = consume_batch(&flow, &messages).await;
    for note in notes {
        worker::console_error!("queue: {note}");
    }
    apply_acks(&raw, &acks);
}

/// Tells the queue what the flow decided for each message.
pub fn apply_acks(raw: &[RawMessage], acks: &[Ack]) {
    for (m, ack) in raw.iter().zip(acks) {
        match *ack {
            Ack::Ack => m.ack(),
            Ack::Retry => m.retry(),
            Ack::RetryAfter(seconds) => m.retry_with_options(
                &QueueRetryOptionsBuilder::new()
                    .with_delay_seconds(seconds)
                    .build(),
            ),
        }
    }
}
