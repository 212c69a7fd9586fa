//! The queue consumer (`[[queues.consumers]]` in wrangler.toml): hands each batch to the core's
//! flow (`edgesoc_core::ingest::consume`) over the Worker's bindings, then acks or retries each
//! message as the flow says. Never returns `Err` (that aborts the instance, docs/workers.md §4):
//! every message is acked or retried explicitly.

use crate::d1::Store;
use crate::limits::LimiterClient;
use crate::queue::{OutQueue, Received};
use edgesoc_core::access::ids::OrgId;
use edgesoc_core::ingest::consume::{consume as consume_batch, ConsumeEnv};
use edgesoc_core::time::UnixMs;
use wasm_bindgen::JsValue;
use worker::{Env, MessageBatch};

pub async fn consume(batch: MessageBatch<JsValue>, env: &Env) {
    let now = UnixMs(js_sys::Date::now() as i64);
    let received = Received::new(batch, now);
    let store = match Store::from_env(env) {
        Ok(store) => store,
        Err(e) => return received.retry_all(&format!("queue: {e}")),
    };
    let faults = crate::faults::from_env(env);
    let limiter_for = |org: &OrgId| LimiterClient::for_org(env, org, faults.clone());
    let strikes = |name: &str| crate::faults::strikes(&faults, name);
    let lists = crate::intel::lists::current(&store).await;
    let deliveries = OutQueue::from_env(env, crate::alerts::deliver::QUEUE, faults.clone()).ok();
    let flow = ConsumeEnv {
        db: &store,
        deliveries: deliveries.as_ref(),
        limiter_for: &limiter_for,
        lists: &lists,
        now,
        catch_up_every_ms: crate::logs::catch_up_every_ms(env),
        strikes: &strikes,
    };
    let (acks, notes) = consume_batch(&flow, &received.messages).await;
    for note in notes {
        worker::console_error!("queue: {note}");
    }
    received.answer(&acks);
}
