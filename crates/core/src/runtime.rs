//! What the core's flows need from the runtime, as small traits: D1 ([`Db`]), an
//! organisation's limiter Durable Object ([`Limiter`]), the queue producers ([`Queue`]), and
//! outbound HTTP and email for alert delivery ([`Http`], [`Mailer`]). The Worker implements
//! them over its bindings (`src/d1/mod.rs`, `src/limits/client.rs`, `src/queue.rs`,
//! `src/alerts/deliver.rs`); native tests implement them with SQLite and in-memory fakes
//! (`crate::testing`), so the collect round and the queue consumer run end to end without the
//! Workers runtime. Async without `Send`: the Worker is single-threaded.

use crate::alerts::delivery::format::HttpRequest;
use crate::alerts::delivery::policy::Answer;
use crate::api::sql::Statement;
use crate::limits::limiter::{Admission, LimiterReply};
use crate::ApiError;
use serde_json::Value;
use std::fmt::Display;

/// A D1-like database: statements run as one batch (one transaction), each answering its rows.
#[allow(async_fn_in_trait)]
pub trait Db {
    type Error: Display;
    async fn batch(&self, statements: &[Statement]) -> Result<Vec<Vec<Value>>, Self::Error>;
    /// Runs write statements as one batch (one transaction) and answers how many rows each
    /// changed.
    async fn changes(&self, statements: &[Statement]) -> Result<Vec<u64>, Self::Error>;
    /// Marks that the statements that follow are detection's (its reads, the alert writes and
    /// the delivery planning), for the Worker's cost meter (`src/meter.rs`); nothing else
    /// reads it.
    fn detecting(&self) {}
}

/// One organisation's limiter: admissions decided in order in one call, and refunds.
#[allow(async_fn_in_trait)]
pub trait Limiter {
    async fn admit(&self, items: Vec<Admission>) -> Result<Vec<LimiterReply>, ApiError>;
    /// Gives back `count` events reserved in `month` (`YYYY-MM`).
    async fn refund(&self, count: u64, month: &str) -> Result<(), ApiError>;
}

/// A queue producer: one `sendBatch` of text messages, accepted or refused whole.
#[allow(async_fn_in_trait)]
pub trait Queue {
    async fn send(&self, messages: &[&str]) -> Result<(), String>;
}

/// Outbound HTTP for alert delivery: one POST, answered or not within `timeout_ms`. Redirects
/// are not followed (a 3xx is an answer like any other).
#[allow(async_fn_in_trait)]
pub trait Http {
    /// The answer and how long it took, in milliseconds.
    async fn post(&self, request: &HttpRequest, timeout_ms: u32) -> (Answer, u32);
}

/// Outbound email (the `send_email` binding): one RFC 5322 message.
#[allow(async_fn_in_trait)]
pub trait Mailer {
    async fn send(&self, from: &str, to: &str, raw: &str) -> Result<(), String>;
}
