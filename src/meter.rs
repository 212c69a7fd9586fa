//! The D1 cost meter (`EDGESOC_D1_METER = "1"`, docs/workers.md §3): sums what D1 reports for
//! each statement an invocation runs (`meta.rows_read` and `meta.rows_written`, the units D1
//! bills) and logs one JSON line when the invocation ends:
//!
//! `{"d1":{"entry":"queue","route":"edgesoc-detect","statements":4,"rows_read":31,"rows_written":240,"sql_ms":1.2,"sql_ms_by_db":{"DB":1.2},"detect":{…}}}`
//!
//! `detect` (the same three counts) is present when the invocation ran detection: the
//! statements from detection's start to the invocation's end (alert writes and delivery
//! planning included), already counted in the totals. `rollups` (the same) is present when it
//! ran a catch-up of the dashboard rollups (`edgesoc_core::logs::rollups::catch_up`, told by its
//! statements' tag), also counted in the totals. `bench/cost.mjs` reads these lines.
//!
//! The limiter Durable Object's SQLite is billed the same way (rows written) but is not D1: with
//! the meter on, the object logs one line per call from its cursors' `rowsRead`/`rowsWritten`
//! ([`limiter`]):
//!
//! `{"limiter":{"op":"admit","items":3,"statements":1,"rows_read":0,"rows_written":1}}`
//!
//! An invocation's statements are told apart from those of other invocations running in the
//! same isolate by polling: while the entry point's future is polled, its tally is the current
//! one, and D1 answers are read inside that poll. Work handed to `waitUntil` (the group
//! commit's rounds, `src/limits/group.rs`) is polled outside it and not counted. Off (the
//! default), no future is wrapped and each statement costs one thread-local read.

use serde::Serialize;
use std::cell::{OnceCell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use worker::Env;

/// What D1 reported for some statements. `sql_ms` sums their `meta.duration`: the time the
/// database spent running them, which one database spends serially (its write capacity);
/// `sql_ms_by_db` splits it by D1 binding (`DB`, the shards).
#[derive(Default, Serialize)]
struct Tally {
    statements: u64,
    rows_read: u64,
    rows_written: u64,
    sql_ms: f64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    sql_ms_by_db: BTreeMap<String, f64>,
}

impl Tally {
    fn add(&mut self, db: &str, rows_read: u64, rows_written: u64, sql_ms: f64) {
        self.statements += 1;
        self.rows_read += rows_read;
        self.rows_written += rows_written;
        self.sql_ms += sql_ms;
        *self.sql_ms_by_db.entry(db.to_string()).or_default() += sql_ms;
    }
}

/// The logged line: `{"d1": …}`, fields in this order.
#[derive(Serialize)]
struct Logged<'a> {
    d1: Line<'a>,
}

/// The logged line's `d1` object.
#[derive(Serialize)]
struct Line<'a> {
    entry: &'a str,
    route: &'a str,
    #[serde(flatten)]
    total: &'a Tally,
    #[serde(skip_serializing_if = "Option::is_none")]
    detect: Option<&'a Tally>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rollups: Option<&'a Tally>,
}

/// One invocation's meter: everything, what followed the start of detection, and the rollups'
/// catch-up statements.
#[derive(Default)]
struct Meter {
    total: Tally,
    detect: Option<Tally>,
    rollups: Option<Tally>,
}

type Shared = Rc<RefCell<Meter>>;

thread_local! {
    /// Vars are fixed for an isolate's lifetime: read once.
    static ON: OnceCell<bool> = const { OnceCell::new() };
    /// The meter of the invocation being polled, if it is metered.
    static CURRENT: RefCell<Option<Shared>> = const { RefCell::new(None) };
}

/// Whether this deployment meters D1 (`EDGESOC_D1_METER` is `"1"`).
pub fn enabled(env: &Env) -> bool {
    ON.with(|on| {
        *on.get_or_init(|| {
            env.var("EDGESOC_D1_METER")
                .map(|v| v.to_string().trim() == "1")
                .unwrap_or(false)
        })
    })
}

/// Runs one entry point's future. With `route` (the meter is on), counts the statements run
/// while it is polled and logs the line when it completes; without, just awaits it.
pub async fn run<F: Future>(entry: &str, route: Option<String>, fut: F) -> F::Output {
    let Some(route) = route else {
        return fut.await;
    };
    let meter = Shared::default();
    let out = Scoped {
        meter: meter.clone(),
        fut: Box::pin(fut),
    }
    .await;
    let m = meter.borrow();
    let line = Line {
        entry,
        route: &route,
        total: &m.total,
        detect: m.detect.as_ref(),
        rollups: m.rollups.as_ref(),
    };
    if let Ok(text) = serde_json::to_string(&Logged { d1: line }) {
        worker::console_log!("{text}");
    }
    out
}

/// What one call of the limiter object ran on its SQLite storage.
#[derive(Default, Serialize)]
pub struct LimiterTally {
    pub statements: u64,
    pub rows_read: u64,
    pub rows_written: u64,
}

/// Logs one limiter call's line: `{"limiter":{"op":…,"items":…,"statements":…,…}}`.
pub fn limiter(op: &str, items: usize, tally: &LimiterTally) {
    #[derive(Serialize)]
    struct Line<'a> {
        op: &'a str,
        items: usize,
        #[serde(flatten)]
        tally: &'a LimiterTally,
    }
    #[derive(Serialize)]
    struct Logged<'a> {
        limiter: Line<'a>,
    }
    let line = Logged {
        limiter: Line { op, items, tally },
    };
    if let Ok(text) = serde_json::to_string(&line) {
        worker::console_log!("{text}");
    }
}

/// Whether the invocation being polled is metered: when not, D1 answers need no `meta` read.
pub fn active() -> bool {
    CURRENT.with(|c| c.borrow().is_some())
}

/// Counts one statement D1 answered on binding `db` (its `meta` counts and duration; absent
/// ones count as zero), and as the rollups' too when it is one of their catch-up's.
pub fn count(
    db: &str,
    rows_read: Option<usize>,
    rows_written: Option<usize>,
    sql_ms: Option<f64>,
    catch_up: bool,
) {
    CURRENT.with(|c| {
        if let Some(meter) = c.borrow().as_ref() {
            let (read, written, ms) = (
                rows_read.unwrap_or(0) as u64,
                rows_written.unwrap_or(0) as u64,
                sql_ms.unwrap_or(0.0),
            );
            let mut m = meter.borrow_mut();
            m.total.add(db, read, written, ms);
            if let Some(d) = m.detect.as_mut() {
                d.add(db, read, written, ms);
            }
            if catch_up {
                m.rollups
                    .get_or_insert_with(Tally::default)
                    .add(db, read, written, ms);
            }
        }
    });
}

/// Marks the start of detection: the statements from here to the invocation's end are also
/// counted as `detect`.
pub fn detection() {
    CURRENT.with(|c| {
        if let Some(meter) = c.borrow().as_ref() {
            meter.borrow_mut().detect.get_or_insert_with(Tally::default);
        }
    });
}

/// A future polled with its meter current.
struct Scoped<F: Future> {
    meter: Shared,
    fut: Pin<Box<F>>,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let outer = CURRENT.with(|c| c.replace(Some(this.meter.clone())));
        let out = this.fut.as_mut().poll(cx);
        CURRENT.with(|c| *c.borrow_mut() = outer);
        out
    }
}
