//! The queue producer binding (`DETECT_QUEUE`): `/collect` enqueues its events packed into a
//! few text messages (`edgesoc_core::ingest::message`), sent in as few `sendBatch` calls as the
//! limits allow.

use edgesoc_core::faults::Faults;
use edgesoc_core::ingest::message::{send_chunks, Packed, MAX_SEND_BYTES, MAX_SEND_MESSAGES};
use wasm_bindgen::JsValue;
use worker::{BatchMessageBuilder, Queue, QueueContentType, RawMessageBuilder};

/// Pauses before each send attempt of a chunk; the request fails after the last. A refused
/// send is retried after a short pause rather than at once: an overloaded queue (the local
/// broker under load refuses with "Unknown Internal Error") mostly accepts the retry.
const SEND_BACKOFF_MS: [u64; 4] = [0, 20, 100, 400];

/// Enqueues the packed messages of several requests, in order, in as few `sendBatch` calls as
/// the limits allow, each accepted or refused whole and cut only between requests
/// (`message::send_chunks`), so a request's events are stored all together or not at all. On a
/// failure nothing after it is sent, and the error carries how many messages (a prefix of the
/// concatenation) were enqueued, so each request refunds exactly its events that will never be
/// stored (`message::unsent_events`).
pub async fn enqueue(
    queue: &Queue,
    requests: &[&[Packed]],
    faults: &Faults,
) -> Result<(), (usize, worker::Error)> {
    let messages: Vec<&Packed> = requests.iter().flat_map(|r| r.iter()).collect();
    for chunk in send_chunks(requests, MAX_SEND_MESSAGES, MAX_SEND_BYTES) {
        let mut last_err = None;
        for pause in SEND_BACKOFF_MS {
            if pause > 0 {
                worker::Delay::from(std::time::Duration::from_millis(pause)).await;
            }
            let batch = messages[chunk.clone()]
                .iter()
                .fold(BatchMessageBuilder::new(), |b, p| {
                    b.message(
                        RawMessageBuilder::new(JsValue::from_str(&p.body))
                            .build_with_content_type(QueueContentType::Text),
                    )
                });
            let result = if crate::faults::strikes(faults, "queue_send") {
                Err(worker::Error::RustError(
                    "injected fault: queue_send".into(),
                ))
            } else {
                queue.send_raw_batch(batch.build()).await
            };
            match result {
                Ok(()) => {
                    last_err = None;
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        if let Some(e) = last_err {
            return Err((chunk.start, e));
        }
    }
    Ok(())
}
