//! The queue producer bindings: `DETECT_QUEUE` (accepted events, `/collect`'s commit round
//! decides what goes in each send, `edgesoc_core::limits::round::send_all`) and
//! `DELIVERY_QUEUE` (alert deliveries). One `sendBatch` of text messages per call
//! (`edgesoc_core::runtime::Queue`).

use edgesoc_core::faults::Faults;
use edgesoc_core::runtime;
use wasm_bindgen::JsValue;
use worker::{BatchMessageBuilder, Env, QueueContentType, RawMessageBuilder};

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
