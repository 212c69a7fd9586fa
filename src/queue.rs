//! The queue producer binding (`DETECT_QUEUE`): one `sendBatch` of text messages per call
//! (`edgesoc_core::runtime::Queue`); the commit round decides what goes in each
//! (`edgesoc_core::limits::round::send_all`).

use edgesoc_core::faults::Faults;
use edgesoc_core::ingest::message::Packed;
use edgesoc_core::runtime;
use wasm_bindgen::JsValue;
use worker::{BatchMessageBuilder, Env, QueueContentType, RawMessageBuilder};

/// Pauses before each send attempt; the send fails after the last. A refused send is retried
/// after a short pause rather than at once: an overloaded queue (the local broker under load
/// refuses with "Unknown Internal Error") mostly accepts the retry.
const SEND_BACKOFF_MS: [u64; 4] = [0, 20, 100, 400];

/// The detection queue.
pub struct DetectQueue {
    queue: worker::Queue,
    faults: Faults,
}

impl DetectQueue {
    pub fn from_env(env: &Env, faults: Faults) -> Result<DetectQueue, String> {
        env.queue("DETECT_QUEUE")
            .map(|queue| DetectQueue { queue, faults })
            .map_err(|e| e.to_string())
    }
}

impl runtime::Queue for DetectQueue {
    async fn send(&self, messages: &[&Packed]) -> Result<(), String> {
        let mut last_err = String::new();
        for pause in SEND_BACKOFF_MS {
            if pause > 0 {
                worker::Delay::from(std::time::Duration::from_millis(pause)).await;
            }
            if crate::faults::strikes(&self.faults, "queue_send") {
                last_err = "injected fault: queue_send".into();
                continue;
            }
            let batch = messages.iter().fold(BatchMessageBuilder::new(), |b, p| {
                b.message(
                    RawMessageBuilder::new(JsValue::from_str(&p.body))
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
