//! The queue consumer (`[[queues.consumers]]` in wrangler.toml): hands each batch to the core's
//! flow (`edgesoc_core::ingest::consume`) over the Worker's bindings, once per shard the batch's
//! organisations live on (`edgesoc_core::shards::route`; one read of the registry, only when the
//! Worker serves several), then acks or retries each message as the flow says. Never returns
//! `Err` (that aborts the instance, docs/workers.md §4): every message is acked or retried
//! explicitly.

use crate::d1::{self, Primary, Shard};
use crate::limits::LimiterClient;
use crate::queue::{OutQueue, Received};
use edgesoc_core::access::ids::OrgId;
use edgesoc_core::ingest::consume::{consume as consume_batch, ConsumeEnv, Delivered};
use edgesoc_core::ingest::message::org_of;
use edgesoc_core::time::UnixMs;
use wasm_bindgen::JsValue;
use worker::{Env, MessageBatch};

pub async fn consume(batch: MessageBatch<JsValue>, env: &Env) {
    let now = UnixMs(js_sys::Date::now() as i64);
    let received = Received::new(batch, now);
    let primary = match Primary::open(env) {
        Ok(primary) => primary,
        Err(e) => return received.retry_all(&format!("queue: {e}")),
    };
    let groups = match d1::route(env, &primary, &received.messages, org_of).await {
        Ok(groups) => groups,
        Err(e) => return received.retry_all(&format!("queue: routing by shard: {e}")),
    };
    let faults = crate::faults::from_env(env);
    let limiter_for = |org: &OrgId| LimiterClient::for_org(env, org, faults.clone());
    let strikes = |name: &str| crate::faults::strikes(&faults, name);
    let lists = crate::intel::lists::current(&primary).await;
    let deliveries = OutQueue::from_env(env, crate::alerts::deliver::QUEUE, faults.clone()).ok();
    let every_ms = crate::logs::catch_up_every_ms(env);
    let flow = async |shard: &Shard, messages: &[Delivered]| {
        let on = ConsumeEnv {
            db: shard,
            primary: (!shard.name().is_primary()).then_some(&primary),
            deliveries: deliveries.as_ref(),
            limiter_for: &limiter_for,
            lists: &lists,
            now,
            catch_up_every_ms: every_ms,
            strikes: &strikes,
        };
        consume_batch(&on, messages).await
    };
    received
        .answer_by_shard(env, "queue", crate::ingest::QUEUE, groups, flow)
        .await;
}
