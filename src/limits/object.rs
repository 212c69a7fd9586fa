//! `OrgLimiter`: one SQLite-backed Durable Object per organisation holding the sliding-window
//! rate limit and the monthly quota counter. All decisions and the stored layout come from the
//! core (`edgesoc_core::limits::limiter` decides, `edgesoc_core::limits::store` says what one
//! call writes: one row, or none); this file only runs the statements. Each operation reads and
//! writes with synchronous `exec` calls and no `.await` in between, so the object's single
//! thread makes every decision atomic (with limit L and N > L concurrent requests, exactly L
//! pass), and the row is written before the reply leaves.

use edgesoc_core::limits::limiter::{Admission, Bucket, LimiterReply, LimiterRequest};
use edgesoc_core::limits::store::{self, old, Row, Stored};
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
    /// The state as last decided: this object is the only writer of its row, so while it stays
    /// in memory the read can be skipped (writes still go through at once). What it holds and
    /// what the row holds mean the same (a call that writes nothing changed nothing).
    cache: RefCell<Option<Stored>>,
    /// The D1 cost meter is on (`EDGESOC_D1_METER`): each call logs its rows (`crate::meter`).
    meter: bool,
    /// This call's statements and rows, while the meter is on (the constructor's count with the
    /// first call's).
    tally: RefCell<crate::meter::LimiterTally>,
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

    /// Writes the row: one row written.
    fn write(&self, row: &Row) -> Result<()> {
        self.exec(
            store::UPSERT_ROW,
            Some(vec![
                row.month.clone().into(),
                (row.used as i64).into(),
                row.buckets.clone().into(),
            ]),
        )?;
        Ok(())
    }

    /// The stored state: the row, or (no row yet) what an object of the old layout kept,
    /// carried over once, or nothing (a new object).
    fn load(&self, now: UnixMs) -> Result<Stored> {
        #[derive(Deserialize)]
        struct Stmt {
            month: String,
            used: f64,
            buckets: String,
        }
        let rows: Vec<Stmt> = self.query(store::SELECT_ROW, None)?;
        match rows.into_iter().next() {
            Some(r) => Stored::from_row(&Row {
                month: r.month,
                used: r.used as u64,
                buckets: r.buckets,
            })
            .map_err(worker::Error::from),
            None => self.carry_over(now),
        }
    }

    /// An object created before the one-row layout: its buckets and its months' usage become
    /// the row, then the old tables go. All synchronous, so it commits as one step.
    fn carry_over(&self, now: UnixMs) -> Result<Stored> {
        #[derive(Deserialize)]
        struct Table {
            name: String,
        }
        #[derive(Deserialize)]
        struct OldBucket {
            sec: f64,
            count: f64,
        }
        #[derive(Deserialize)]
        struct OldMonth {
            month: String,
            used: f64,
        }
        let tables: Vec<Table> = self.query(old::TABLES, None)?;
        if tables.is_empty() {
            return Ok(Stored::default());
        }
        let has = |name: &str| tables.iter().any(|t| t.name == name);
        let buckets: Vec<Bucket> = if has(old::BUCKETS_TABLE) {
            self.query::<OldBucket>(old::SELECT_BUCKETS, None)?
                .into_iter()
                .map(|r| Bucket {
                    sec: r.sec as i64,
                    count: r.count as u32,
                    budget: Default::default(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let quota: Vec<(String, u64)> = if has(old::QUOTA_TABLE) {
            self.query::<OldMonth>(old::SELECT_QUOTA, None)?
                .into_iter()
                .map(|r| (r.month, r.used as u64))
                .collect()
        } else {
            Vec::new()
        };
        let stored = Stored::carry_over(buckets, &quota);
        self.write(&stored.row(now.0))?;
        for drop in old::DROP {
            self.exec(drop, None)?;
        }
        worker::console_log!(
            "limiter: carried over the old layout ({} buckets, month {:?} used {})",
            stored.buckets.len(),
            stored.month,
            stored.used
        );
        Ok(stored)
    }

    /// The state to decide on: kept in memory, else read. Taken out, so that after a failed
    /// write the next call reads what was stored.
    fn state(&self, now: UnixMs) -> Result<Stored> {
        match self.cache.borrow_mut().take() {
            Some(s) => Ok(s),
            None => self.load(now),
        }
    }

    /// Keeps `state` once its row (if the call changed anything) is written.
    fn settle(&self, state: Stored, write: Option<Row>) -> Result<()> {
        if let Some(row) = write {
            self.write(&row)?;
        }
        *self.cache.borrow_mut() = Some(state);
        Ok(())
    }

    fn admit(&self, items: &[Admission], now: UnixMs) -> Result<Vec<LimiterReply>> {
        let call = store::admit(self.state(now)?, items, now);
        self.settle(call.state, call.write)?;
        Ok(call.reply)
    }

    fn refund(
        &self,
        count: u64,
        month: &str,
        monthly_limit: Option<u64>,
        now: UnixMs,
    ) -> Result<LimiterReply> {
        let call = store::refund(self.state(now)?, count, month, monthly_limit, now);
        self.settle(call.state, call.write)?;
        Ok(call.reply)
    }
}

impl DurableObject for OrgLimiter {
    fn new(state: State, env: Env) -> Self {
        let limiter = OrgLimiter {
            sql: state.storage().sql(),
            cache: RefCell::new(None),
            meter: crate::meter::enabled(&env),
            tally: RefCell::default(),
        };
        // Idempotent schema; a failure here surfaces on the first query instead.
        let _ = limiter.exec(store::CREATE_TABLE, None);
        limiter
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op: LimiterRequest = match req.json().await {
            Ok(op) => op,
            Err(e) => return Response::error(format!("bad limiter request: {e}"), 400),
        };
        let now = UnixMs(js_sys::Date::now() as i64);
        // Nothing awaits from here to the reply: the tally is this call's alone.
        let (resp, name, items) = match op {
            LimiterRequest::Admit { items } => (
                self.admit(&items, now)
                    .and_then(|r| Response::from_json(&r)),
                "admit",
                items.len(),
            ),
            LimiterRequest::Refund {
                count,
                month,
                monthly_limit,
            } => (
                self.refund(count, &month, monthly_limit, now)
                    .and_then(|r| Response::from_json(&r)),
                "refund",
                1,
            ),
        };
        let tally = self.tally.take();
        if self.meter {
            crate::meter::limiter(name, items, &tally);
        }
        resp
    }
}
