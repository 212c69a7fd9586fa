//! Test doubles for the runtime traits (`crate::runtime`): D1 as real SQLite with every
//! migration applied ([`SqliteDb`]), so the core's own SQL runs in tests; the limiter Durable
//! Object as its algorithm over in-memory state ([`MemoryLimiter`]); the queue as a list of
//! sent messages ([`MemoryQueue`]). Each can be told to fail.

pub mod legacy;
pub mod sqlite;

pub use sqlite::SqliteDb;

use crate::limits::limiter::{Admission, LimiterReply, LimiterState};
use crate::runtime::{Limiter, Queue};
use crate::time::UnixMs;
use crate::ApiError;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Drives a future to completion (the core's flows never wait on anything but their fakes).
pub fn run<F: std::future::Future>(f: F) -> F::Output {
    pollster::block_on(f)
}

/// Fills `buf` from the OS CSPRNG (through `uuid`'s v4 ids, the core's one source of
/// randomness), for tests that make keys.
pub fn os_random(buf: &mut [u8]) -> Result<(), std::convert::Infallible> {
    for chunk in buf.chunks_mut(16) {
        let id = uuid::Uuid::new_v4();
        chunk.copy_from_slice(&id.as_bytes()[..chunk.len()]);
    }
    Ok(())
}

/// Stores `records` the way the queue consumer does (`ingest::consume`: the events with their
/// log items through `ingest::record::insert_statements`, one batch), with the rollups caught up
/// as the dashboard's next read would (`logs::rollups::catch_up`, always due).
pub fn store(db: &SqliteDb, records: &[crate::ingest::record::EventRecord]) {
    run(crate::ingest::consume::insert(db, records, UnixMs(0), 0)).expect("stored");
}

/// One organisation's limiter, deciding with the same code as the Durable Object.
#[derive(Clone)]
pub struct MemoryLimiter {
    pub state: Rc<RefCell<LimiterState>>,
    /// The month every admission counts in, and "now" for the rate window.
    pub now: UnixMs,
    /// Every call fails while set (the limiter is unavailable).
    pub down: Rc<Cell<bool>>,
    /// Events refunded, per call.
    pub refunds: Rc<RefCell<Vec<(u64, String)>>>,
}

impl MemoryLimiter {
    /// A limiter with nothing counted, deciding as of `now`.
    pub fn at(now: UnixMs) -> MemoryLimiter {
        MemoryLimiter {
            state: Rc::default(),
            now,
            down: Rc::default(),
            refunds: Rc::default(),
        }
    }
}

impl Limiter for MemoryLimiter {
    async fn admit(&self, items: Vec<Admission>) -> Result<Vec<LimiterReply>, ApiError> {
        if self.down.get() {
            return Err(ApiError::unavailable("rate limiter"));
        }
        let month = self.now.month();
        let retry = month.seconds_until_end(self.now);
        let mut state = self.state.borrow_mut();
        Ok(items
            .iter()
            .map(|a| state.admit(a, self.now.0, &month.key(), retry))
            .collect())
    }

    async fn refund(&self, count: u64, month: &str) -> Result<(), ApiError> {
        if self.down.get() {
            return Err(ApiError::unavailable("rate limiter"));
        }
        let mut state = self.state.borrow_mut();
        state.used = state.used.saturating_sub(count);
        self.refunds.borrow_mut().push((count, month.to_string()));
        Ok(())
    }
}

/// The queue: every accepted `sendBatch`, in order. `fail_after` refuses every send once that
/// many sends were accepted.
#[derive(Default)]
pub struct MemoryQueue {
    pub sent: RefCell<Vec<Vec<String>>>,
    pub fail_after: Cell<Option<usize>>,
}

impl MemoryQueue {
    /// Every message body accepted, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.sent.borrow().iter().flatten().cloned().collect()
    }
}

impl Queue for MemoryQueue {
    async fn send(&self, messages: &[&str]) -> Result<(), String> {
        let mut sent = self.sent.borrow_mut();
        if self.fail_after.get().is_some_and(|n| sent.len() >= n) {
            return Err("queue refused the send".into());
        }
        sent.push(messages.iter().map(|m| m.to_string()).collect());
        Ok(())
    }
}

/// Outbound HTTP that answers from a script (then 200) and keeps every request.
#[derive(Default)]
pub struct ScriptedHttp {
    pub answers: RefCell<std::collections::VecDeque<crate::alerts::delivery::policy::Answer>>,
    pub requests: RefCell<Vec<crate::alerts::delivery::format::HttpRequest>>,
}

impl crate::runtime::Http for ScriptedHttp {
    async fn post(
        &self,
        request: &crate::alerts::delivery::format::HttpRequest,
        _timeout_ms: u32,
    ) -> (crate::alerts::delivery::policy::Answer, u32) {
        self.requests.borrow_mut().push(request.clone());
        let answer = self.answers.borrow_mut().pop_front().unwrap_or(
            crate::alerts::delivery::policy::Answer::Status {
                status: 200,
                retry_after: None,
            },
        );
        (answer, 7)
    }
}

/// Outbound email that keeps every message.
#[derive(Default)]
pub struct MemoryMailer {
    pub sent: RefCell<Vec<(String, String, String)>>,
}

impl crate::runtime::Mailer for MemoryMailer {
    async fn send(&self, from: &str, to: &str, raw: &str) -> Result<(), String> {
        self.sent
            .borrow_mut()
            .push((from.to_string(), to.to_string(), raw.to_string()));
        Ok(())
    }
}
