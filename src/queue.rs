//! The queue producer bindings: `DETECT_QUEUE` (accepted events, `/collect`'s commit round
//! decides what goes in each send, `edgesoc_core::limits::round::send_all`) and
//! `DELIVERY_QUEUE` (alert deliveries). One `sendBatch` of text messages per call
//! (`edgesoc_core::runtime::Queue`). And, for both consumers, a received batch ([`Received`]).

use crate::d1::Shard;
use edgesoc_core::faults::Faults;
use edgesoc_core::ingest::consume::{Ack, Delivered};
use edgesoc_core::runtime;
use edgesoc_core::shards::Routed;
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use wasm_bindgen::JsValue;
use worker::{
    BatchMessageBuilder, Env, MessageBatch, MessageExt, QueueContentType, QueueRetryOptionsBuilder,
    RawMessage, RawMessageBuilder,
};

/// Pauses before each send attempt; the send fails after the last. A refused send is retried
/// after a short pause rather than at once: an overloaded queue (the local broker under load
/// refuses with "Unknown Internal Error") mostly accepts the retry.
const SEND_BACKOFF_MS: [u64; 4] = [0, 20, 100, 400];

/// A queue producer binding.
pub struct OutQueue {
    queue: worker::Queue,
    faults: Faults,
}

impl OutQueue {
    /// The producer bound as `binding`.
    pub fn from_env(env: &Env, binding: &str, faults: Faults) -> Result<OutQueue, String> {
        env.queue(binding)
            .map(|queue| OutQueue { queue, faults })
            .map_err(|e| format!("{binding} binding: {e}"))
    }
}

impl runtime::Queue for OutQueue {
    async fn send(&self, messages: &[&str]) -> Result<(), String> {
        let mut last_err = String::new();
        for pause in SEND_BACKOFF_MS {
            if pause > 0 {
                worker::Delay::from(std::time::Duration::from_millis(pause)).await;
            }
            if crate::faults::strikes(&self.faults, "queue_send") {
                last_err = "injected fault: queue_send".into();
                continue;
            }
            let batch = messages.iter().fold(BatchMessageBuilder::new(), |b, m| {
                b.message(
                    RawMessageBuilder::new(JsValue::from_str(m))
                        .build_with_content_type(QueueContentType::Text),
                )
            });
            match self.queue.send_raw_batch(batch.build()).await {
                Ok(()) => return Ok(()),
                Err(e) => last_err = e.to_string(),
            }
        }
        Err(last_err)
    }
}

/// A batch a queue consumer received: its messages as the core's flows read them, answered
/// with [`Received::answer`].
pub struct Received {
    raw: Vec<RawMessage>,
    pub messages: Vec<Delivered>,
}

impl Received {
    pub fn new(batch: MessageBatch<JsValue>, now: UnixMs) -> Received {
        let raw: Vec<RawMessage> = batch.raw_iter().collect();
        let messages = raw
            .iter()
            .map(|m| Delivered {
                id: m.id(),
                body: m.body().as_string(),
                age_ms: now.0 - m.timestamp().as_millis() as i64,
            })
            .collect();
        Received { raw, messages }
    }

    /// Every message back to the queue: nothing could be done (`why` is logged).
    pub fn retry_all(&self, why: &str) {
        worker::console_error!("{why}; retrying {} messages", self.raw.len());
        self.raw.iter().for_each(|m| m.retry());
    }

    /// Runs `flow` once per group of messages (`crate::d1::route`) over the group's shard, logs
    /// its notes (after `label`), and answers each message as its group's flow decided; a
    /// group whose shard cannot be opened is retried. Messages of organisations being moved
    /// are sent again to `queue` (the one they came from) to arrive after a pause, so waiting
    /// out a long move spends none of their retries.
    pub async fn answer_by_shard<F>(
        &self,
        env: &Env,
        label: &str,
        queue: &str,
        routed: Routed,
        flow: F,
    ) where
        F: AsyncFn(&Shard, &[Delivered]) -> (Vec<Ack>, Vec<String>),
    {
        let mut acks = vec![Ack::Retry; self.messages.len()];
        if !routed.paused.is_empty() {
            let answer = match self.park(env, queue, &routed.paused).await {
                Ok(()) => Ack::Ack,
                Err(e) => {
                    worker::console_error!(
                        "{label}: parking a moving organisation's messages: {e}"
                    );
                    Ack::RetryAfter(ApiError::MOVING_RETRY_SECONDS as u32)
                }
            };
            routed.paused.iter().for_each(|&i| acks[i] = answer);
        }
        for (name, indexes) in routed.groups {
            let shard = match Shard::named(env, &name) {
                Ok(shard) => shard,
                Err(e) => {
                    worker::console_error!("{label}: {e}; retrying {} messages", indexes.len());
                    continue;
                }
            };
            let messages: Vec<Delivered> =
                indexes.iter().map(|&i| self.messages[i].clone()).collect();
            let (answered, notes) = flow(&shard, &messages).await;
            for note in notes {
                worker::console_error!("{label}: {note}");
            }
            for (&i, ack) in indexes.iter().zip(answered) {
                acks[i] = ack;
            }
        }
        self.answer(&acks);
    }

    /// Sends the messages at `indexes` again to `queue`, delivered after the moving pause.
    async fn park(&self, env: &Env, queue: &str, indexes: &[usize]) -> Result<(), String> {
        let queue = env
            .queue(queue)
            .map_err(|e| format!("{queue} binding: {e}"))?;
        let delay = ApiError::MOVING_RETRY_SECONDS as u32;
        let batch = indexes.iter().fold(BatchMessageBuilder::new(), |b, &i| {
            let body = self.messages[i].body.as_deref().unwrap_or_default();
            b.message(
                RawMessageBuilder::new(JsValue::from_str(body))
                    .delay_seconds(delay)
                    .build_with_content_type(QueueContentType::Text),
            )
        });
        queue
            .send_raw_batch(batch.build())
            .await
            .map_err(|e| e.to_string())
    }

    /// Tells the queue what the flow decided for each message.
    pub fn answer(&self, acks: &[Ack]) {
        for (m, ack) in self.raw.iter().zip(acks) {
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
}
