//! What the limiter Durable Object stores, and how one call changes it. The object keeps its
//! whole state in ONE row — the quota month, the events reserved in it, and the live rate
//! buckets serialized compactly — so a call writes exactly one row (Durable Object SQLite bills
//! per row written), or none when it changes nothing (a 429, a read of an unlimited
//! organisation's limits). `src/limits/object.rs` only runs the statements of this module.
//!
//! Exactness is the object's, unchanged: the call decides in memory with
//! [`LimiterState::admit`] and the row is written before the reply, with no `await` in between.
//! The row holds every bucket still inside the 60 s window (at most 60 while the clock moves
//! forward: one per second) and the current month's usage; a month ends by being replaced, so no
//! row is ever deleted.
//!
//! Objects created before this layout kept a row per bucket (`rate_buckets`) and per month
//! (`quota`): on its first load such an object carries them over ([`Stored::carry_over`]) into
//! the row and drops the old tables, in one synchronous step.

use super::limiter::{
    Admission, Bucket, Budget, LimiterReply, LimiterState, QuotaState, WINDOW_SECONDS,
};
use crate::time::UnixMs;

/// The object's one table; `id` is always 1. (Run at every construction: idempotent.)
pub const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS limiter (\
    id INTEGER PRIMARY KEY CHECK (id = 1), \
    month TEXT NOT NULL, \
    used INTEGER NOT NULL, \
    buckets TEXT NOT NULL)";

/// Reads the row (none yet in a new object, or in one still in the old layout).
pub const SELECT_ROW: &str = "SELECT month, used, buckets FROM limiter WHERE id = 1";

/// Writes the row: one row written, whether inserted or updated (`id` is the rowid, so there
/// is no index to write besides it). Binds the [`Row`]'s month, used, buckets in that order.
pub const UPSERT_ROW: &str = "INSERT INTO limiter (id, month, used, buckets) VALUES (1, ?, ?, ?) \
    ON CONFLICT(id) DO UPDATE SET month = excluded.month, used = excluded.used, \
    buckets = excluded.buckets";

/// The layout objects kept before [`CREATE_TABLE`]: a row per second's bucket and per month.
pub mod old {
    /// Which of the two old tables this object still has.
    pub const TABLES: &str = "SELECT name FROM sqlite_master \
        WHERE type = 'table' AND name IN ('rate_buckets', 'quota')";
    /// The old `rate_buckets (sec INTEGER PRIMARY KEY, count INTEGER NOT NULL)`.
    pub const BUCKETS_TABLE: &str = "rate_buckets";
    pub const SELECT_BUCKETS: &str = "SELECT sec, count FROM rate_buckets";
    /// The old `quota (month TEXT PRIMARY KEY, used INTEGER NOT NULL)`, one row per month.
    pub const QUOTA_TABLE: &str = "quota";
    pub const SELECT_QUOTA: &str = "SELECT month, used FROM quota";
    /// Run once carried over, after the row is written.
    pub const DROP: [&str; 2] = [
        "DROP TABLE IF EXISTS rate_buckets",
        "DROP TABLE IF EXISTS quota",
    ];
}

/// The row's values, as bound to [`UPSERT_ROW`] and read by [`SELECT_ROW`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `YYYY-MM` of the month `used` counts.
    pub month: String,
    /// Events reserved in `month`.
    pub used: u64,
    /// The live buckets, oldest first: `[[sec,count],…]` (JSON; about 16 bytes a bucket).
    pub buckets: String,
}

/// The object's whole state: the month counted, its usage, and the rate buckets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stored {
    /// `YYYY-MM`; empty in a new object (before any month).
    pub month: String,
    pub used: u64,
    /// Any order; buckets that left the window are ignored, and dropped when the row is written.
    pub buckets: Vec<Bucket>,
}

/// One call's outcome: what to answer, the state to keep in memory, and the row to write
/// before answering (`None`: the call changed nothing, nothing is written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call<T> {
    pub reply: T,
    pub state: Stored,
    pub write: Option<Row>,
}

impl Stored {
    /// The state a stored row holds. A `buckets` value that does not parse is an error, never
    /// an empty window: the limit would silently reset.
    pub fn from_row(row: &Row) -> Result<Stored, String> {
        let unreadable = |why: &str| format!("limiter row: buckets unreadable: {why}");
        let items: Vec<Vec<i64>> =
            serde_json::from_str(&row.buckets).map_err(|e| unreadable(&e.to_string()))?;
        let bucket = |item: Vec<i64>| {
            let (sec, count, budget) = match item.as_slice() {
                [sec, count] => (*sec, *count, Some(Budget::Events)),
                [sec, count, budget] => (*sec, *count, Budget::from_code(*budget)),
                _ => {
                    return Err(unreadable(
                        "a bucket is [sec, count] or [sec, count, budget]",
                    ))
                }
            };
            Ok(Bucket {
                sec,
                count: u32::try_from(count).map_err(|_| unreadable("a count out of range"))?,
                budget: budget.ok_or_else(|| unreadable("an unknown budget"))?,
            })
        };
        let buckets = items.into_iter().map(bucket).collect::<Result<_, _>>()?;
        Ok(Stored {
            month: row.month.clone(),
            used: row.used,
            buckets,
        })
    }

    /// An object in the old layout: its buckets, and its `quota` rows (one per month). The
    /// latest month's usage is carried (an earlier month's no longer counts, and a later
    /// call rolls the carried month over as usual); every bucket is kept (stale ones drop out
    /// when the row is next written).
    pub fn carry_over(buckets: Vec<Bucket>, quota: &[(String, u64)]) -> Stored {
        let (month, used) = quota
            .iter()
            .max_by(|a, b| a.0.cmp(&b.0))
            .cloned()
            .unwrap_or_default();
        Stored {
            month,
            used,
            buckets,
        }
    }

    /// The row to store at `now_ms`: the buckets still in the window (future ones too, should
    /// the clock have stepped back: they count once their second comes), oldest first.
    pub fn row(&self, now_ms: i64) -> Row {
        let pairs: Vec<Vec<i64>> = live(&self.buckets, now_ms)
            .into_iter()
            .map(|b| match b.budget {
                Budget::Events => vec![b.sec, i64::from(b.count)],
                other => vec![b.sec, i64::from(b.count), i64::from(other.code())],
            })
            .collect();
        Row {
            month: self.month.clone(),
            used: self.used,
            // A Vec of integer pairs always serializes.
            buckets: serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_string()),
        }
    }

    /// The month a call at `now` counts in, and the state it decides on. A new month starts at
    /// zero. The month never goes back: should the clock step back over a month's end (another
    /// machine's clock, a few milliseconds off), the call still counts in the later month, so
    /// no reservation is ever counted against a month already left behind.
    fn open(self, now: UnixMs) -> (String, LimiterState) {
        let key = now.month().key();
        let (month, used) = if key > self.month {
            (key, 0)
        } else {
            (self.month, self.used)
        };
        (
            month,
            LimiterState {
                buckets: self.buckets,
                used,
            },
        )
    }

    /// What this state's `used` means for `month`: a row of an earlier month counts nothing in
    /// a later one.
    fn used_in(&self, month: &str) -> u64 {
        if self.month == month {
            self.used
        } else {
            0
        }
    }

    /// The state after a call, and the row to write when it differs from `before` in what any
    /// later call can observe: the usage of the month counted, or the live buckets. (A new
    /// month with nothing reserved yet, or buckets that only aged out, change nothing.)
    fn settle<T>(
        before: &Stored,
        month: String,
        state: LimiterState,
        now_ms: i64,
        reply: T,
    ) -> Call<T> {
        let after = Stored {
            month,
            used: state.used,
            buckets: state.buckets,
        };
        let changed = before.used_in(&after.month) != after.used
            || live(&before.buckets, now_ms) != live(&after.buckets, now_ms);
        Call {
            reply,
            write: changed.then(|| after.row(now_ms)),
            state: after,
        }
    }
}

/// `buckets` still in the 60 s window at `now_ms` (and any in the future), sorted by second.
fn live(buckets: &[Bucket], now_ms: i64) -> Vec<Bucket> {
    let now_sec = now_ms.div_euclid(1000);
    let mut out: Vec<Bucket> = buckets
        .iter()
        .copied()
        .filter(|b| b.sec > now_sec - WINDOW_SECONDS)
        .collect();
    out.sort_by_key(|b| (b.sec, b.budget));
    out
}

/// An `Admit` call: each item decided in order ([`LimiterState::admit`]).
pub fn admit(stored: Stored, items: &[Admission], now: UnixMs) -> Call<Vec<LimiterReply>> {
    let before = stored.clone();
    let (month, mut state) = stored.open(now);
    let retry_after = now.month().seconds_until_end(now);
    let replies = items
        .iter()
        .map(|a| state.admit(a, now.0, &month, retry_after))
        .collect();
    Stored::settle(&before, month, state, now.0, replies)
}

/// A `Refund` call: gives back `count` events reserved in `refund_month`. A reservation of a
/// month already over is not counted anywhere any more, so its refund changes nothing. The
/// reply reports the month counted now.
pub fn refund(
    stored: Stored,
    count: u64,
    refund_month: &str,
    monthly_limit: Option<u64>,
    now: UnixMs,
) -> Call<LimiterReply> {
    let before = stored.clone();
    let (month, mut state) = stored.open(now);
    if refund_month == month {
        state.used = state.used.saturating_sub(count);
    }
    let reply = LimiterReply {
        rate: None,
        quota: QuotaState {
            month: month.clone(),
            used: state.used,
            limit: monthly_limit,
        },
        denied: None,
        month_retry_after: now.month().seconds_until_end(now),
    };
    Stored::settle(&before, month, state, now.0, reply)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
