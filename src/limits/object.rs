//! `OrgLimiter`: one SQLite-backed Durable Object per organisation holding the sliding-window
//! rate limit and the monthly quota counter. All decisions come from `edgesoc_core::limits::limiter`;
//! this file only persists state. Each operation reads and writes with synchronous `exec`
//! calls and no `.await` in between, so the object's single thread makes every decision
//! atomic: with limit L and N > L concurrent requests, exactly L pass.

use edgesoc_core::limits::limiter::{
    Admission, Bucket, LimiterReply, LimiterRequest, LimiterState, QuotaState, WINDOW_SECONDS,
};
use edgesoc_core::time::UnixMs;
use serde::Deserialize;
use std::cell::RefCell;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlCursor, SqlStorage,
    SqlStorageValue, State,
};

/// The Durable Object class bound as `LIMITER`.
#[durable_object]
pub struct OrgLimiter {
    sql: SqlStorage,
    /// The month's state as last written: this object is the only writer of its tables, so
    /// while it stays in memory the reads can be skipped (writes still go through at once).
    cache: RefCell<Option<(String, LimiterState)>>,
    /// The D1 cost meter is on (`EDGESOC_D1_METER`): each call logs its rows (`crate::meter`).
    meter: bool,
    /// This call's statements and rows, while the meter is on.
    tally: RefCell<crate::meter::LimiterTally>,
}

#[derive(Deserialize)]
struct UsedRow {
    used: f64,
}

impl OrgLimiter {
    /// Runs one statement, counting it for the meter (a write's rows are known at once).
    fn exec(&self, sql: &str, params: Option<Vec<SqlStorageValue>>) -> Result<SqlCursor> {
        let cursor = self.sql.exec(sql, params)?;
        if self.meter {
            let mut t = self.tally.borrow_mut();
            t.statements += 1;
            t.rows_written += cursor.rows_written() as u64;
        }
        Ok(cursor)
    }

    /// Runs one query and reads its rows, counting them for the meter.
    fn query<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: Option<Vec<SqlStorageValue>>,
    ) -> Result<Vec<T>> {
        let cursor = self.exec(sql, params)?;
        let rows = cursor.to_array()?;
        if self.meter {
            self.tally.borrow_mut().rows_read += cursor.rows_read() as u64;
        }
        Ok(rows)
    }

    fn buckets(&self) -> Result<Vec<Bucket>> {
        #[derive(Deserialize)]
        struct Row {
            sec: f64,
            count: f64,
        }
        let rows: Vec<Row> = self.query("SELECT sec, count FROM rate_buckets", None)?;
        Ok(rows
            .into_iter()
            .map(|r| Bucket {
                sec: r.sec as i64,
                count: r.count as u32,
            })
            .collect())
    }

    fn used(&self, month: &str) -> Result<u64> {
        let rows: Vec<UsedRow> = self.query(
            "SELECT used FROM quota WHERE month = ?",
            Some(vec![month.into()]),
        )?;
        Ok(rows.first().map_or(0, |r| r.used as u64))
    }

    fn set_used(&self, month: &str, used: u64) -> Result<()> {
        self.exec(
            "INSERT INTO quota (month, used) VALUES (?, ?) ON CONFLICT(month) DO UPDATE SET used = excluded.used",
            Some(vec![month.into(), (used as i64).into()]),
        )?;
        Ok(())
    }

    /// Everything below is synchronous: no other request can interleave. The decisions are
    /// made in memory (`LimiterState::admit`) and only the current second's bucket and the
    /// month's usage are written back.
    fn admit(&self, items: &[Admission], now: UnixMs) -> Result<Vec<LimiterReply>> {
        let key = now.month().key();
        let retry_after = now.month().seconds_until_end(now);
        let mut state = match self.cache.borrow_mut().take() {
            Some((month, state)) if month == key => state,
            _ => LimiterState {
                buckets: self.buckets()?,
                used: self.used(&key)?,
            },
        };
        let sec = now.0.div_euclid(1000);
        let prune = state.buckets.iter().any(|b| b.sec <= sec - WINDOW_SECONDS);
        let count_of = |s: &LimiterState| s.buckets.iter().find(|b| b.sec == sec).map(|b| b.count);
        let counted = count_of(&state);
        let before = state.used;
        let replies: Vec<LimiterReply> = items
            .iter()
            .map(|a| state.admit(a, now.0, &key, retry_after))
            .collect();
        // On a failed write the cache stays empty, so the next call reads what was stored.
        if let Some(count) = count_of(&state).filter(|c| Some(*c) != counted) {
            self.exec(
                "INSERT INTO rate_buckets (sec, count) VALUES (?, ?) \
                 ON CONFLICT(sec) DO UPDATE SET count = excluded.count",
                Some(vec![sec.into(), i64::from(count).into()]),
            )?;
        }
        if prune {
            self.exec(
                "DELETE FROM rate_buckets WHERE sec <= ?",
                Some(vec![(sec - WINDOW_SECONDS).into()]),
            )?;
        }
        if state.used != before {
            self.set_used(&key, state.used)?;
        }
        *self.cache.borrow_mut() = Some((key, state));
        Ok(replies)
    }

    fn refund(
        &self,
        count: u64,
        refund_month: &str,
        monthly_limit: Option<u64>,
        now: UnixMs,
    ) -> Result<LimiterReply> {
        let key = now.month().key();
        self.cache.borrow_mut().take();
        let used = self.used(refund_month)?.saturating_sub(count);
        self.set_used(refund_month, used)?;
        Ok(LimiterReply {
            rate: None,
            quota: QuotaState {
                used: self.used(&key)?,
                month: key,
                limit: monthly_limit,
            },
            denied: None,
            month_retry_after: now.month().seconds_until_end(now),
        })
    }
}

impl DurableObject for OrgLimiter {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        // Idempotent schema; a failure here surfaces on the first query instead.
        let _ = sql.exec("CREATE TABLE IF NOT EXISTS rate_buckets (sec INTEGER PRIMARY KEY, count INTEGER NOT NULL)", None);
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS quota (month TEXT PRIMARY KEY, used INTEGER NOT NULL)",
            None,
        );
        OrgLimiter {
            sql,
            cache: RefCell::new(None),
            meter: crate::meter::enabled(&env),
            tally: RefCell::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op: LimiterRequest = match req.json().await {
            Ok(op) => op,
            Err(e) => return Response::error(format!("bad limiter request: {e}"), 400),
        };
        let now = UnixMs(js_sys::Date::now() as i64);
        // Nothing awaits between here and the reply's body: the tally is this call's alone.
        self.tally.take();
        let (resp, name, items) = match op {
            LimiterRequest::Admit { items } => (
                Response::from_json(&self.admit(&items, now)?),
                "admit",
                items.len(),
            ),
            LimiterRequest::Refund {
                count,
                month,
                monthly_limit,
            } => (
                Response::from_json(&self.refund(count, &month, monthly_limit, now)?),
                "refund",
                1,
            ),
        };
        if self.meter {
            crate::meter::limiter(name, items, &self.tally.borrow());
        }
        resp
    }
}
