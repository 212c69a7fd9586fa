//! What the core's flows need from the runtime, as three small traits: D1 ([`Db`]), an
//! organisation's limiter Durable Object ([`Limiter`]) and the queue producer ([`Queue`]). The
//! Worker implements them over its bindings (`src/d1.rs`, `src/limits/client.rs`,
//! `src/queue.rs`); native tests implement them with SQLite and in-memory fakes
//! (`crate::testing`), so the collect round and the queue consumer run end to end without the
//! Workers runtime. Async without `Send`: the Worker is single-threaded.

use crate::api::sql::Statement;
use crate::ingest::message::Packed;
use crate::limits::limiter::{Admission, LimiterReply};
use crate::ApiError;
use serde_json::Value;
use std::fmt::Display;

/// A D1-like database: statements run as one batch (one transaction), each answering its rows.
#[allow(async_fn_in_trait)]
pub trait Db {
    type Error: Display;
    async fn batch(&self, statements: &[Statement]) -> Result<Vec<Vec<Value>>, Self::Error>;
}

/// One organisation's limiter: admissions decided in order in one call, and refunds.
#[allow(async_fn_in_trait)]
pub trait Limiter {
    async fn admit(&self, items: Vec<Admission>) -> Result<Vec<LimiterReply>, ApiError>;
    /// Gives back `count` events reserved in `month` (`YYYY-MM`).
    async fn refund(&self, count: u64, month: &str) -> Result<(), ApiError>;
}

/// The queue producer: one `sendBatch` of text messages, accepted or refused whole.
#[allow(async_fn_in_trait)]
pub trait Queue {
    async fn send(&self, messages: &[&Packed]) -> Result<(), String>;
}
