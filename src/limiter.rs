//! `OrgLimiter`: one SQLite-backed Durable Object per organisation holding the sliding-window
//! rate limit and the monthly quota counter. All decisions come from `edgesoc_core::limiter`;
//! this file only persists state. Each operation reads and writes with synchronous `exec`
//! calls and no `.await` in between, so the object's single thread makes every decision
//! atomic: with limit L and N > L concurrent requests, exactly L pass.

use crate::error::OrUnavailable;
use edgesoc_core::faults::Faults;
use edgesoc_core::ids::OrgId;
use edgesoc_core::limiter::{
    decide_rate, reserve_quota, Bucket, LimiterReply, LimiterRequest, QuotaState, WINDOW_SECONDS,
};
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use serde::Deserialize;
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, SqlStorage,
    State,
};

/// The Durable Object class bound as `LIMITER`.
#[durable_object]
pub struct OrgLimiter {
    sql: SqlStorage,
}

#[derive(Deserialize)]
struct UsedRow {
    used: f64,
}

impl OrgLimiter {
    fn buckets(&self) -> Result<Vec<Bucket>> {
        #[derive(Deserialize)]
        struct Row {
            sec: f64,
            count: f64,
        }
        let rows: Vec<Row> = self
            .sql
            .exec("SELECT sec, count FROM rate_buckets", None)?
            .to_array()?;
        Ok(rows
            .into_iter()
            .map(|r| Bucket {
                sec: r.sec as i64,
                count: r.count as u32,
            })
            .collect())
    }

    fn used(&self, month: &str) -> Result<u64> {
        let rows: Vec<UsedRow> = self
            .sql
            .exec("SELECT used FROM quota WHERE month = ?", vec![month.into()])?
            .to_array()?;
        Ok(rows.first().map_or(0, |r| r.used as u64))
    }

    fn set_used(&self, month: &str, used: u64) -> Result<()> {
        self.sql.exec(
            "INSERT INTO quota (month, used) VALUES (?, ?) ON CONFLICT(month) DO UPDATE SET used = excluded.used",
            vec![month.into(), (used as i64).into()],
        )?;
        Ok(())
    }

    /// Everything below is synchronous: no other request can interleave.
    fn handle(&self, op: LimiterRequest, now: UnixMs) -> Result<LimiterReply> {
        let month = now.month();
        let key = month.key();
        let month_retry_after = month.seconds_until_end(now);
        let state = |used: u64, limit: Option<u64>| QuotaState {
            month: key.clone(),
            used,
            limit,
        };
        match op {
            LimiterRequest::Admit {
                rate_limit,
                monthly_limit,
                reserve,
            } => {
                let decision = decide_rate(&self.buckets()?, now.0, rate_limit);
                if decision.allowed && rate_limit.is_some() {
                    let sec = now.0.div_euclid(1000);
                    self.sql.exec(
                        "INSERT INTO rate_buckets (sec, count) VALUES (?, 1) \
                         ON CONFLICT(sec) DO UPDATE SET count = count + 1",
                        vec![sec.into()],
                    )?;
                    self.sql.exec(
                        "DELETE FROM rate_buckets WHERE sec <= ?",
                        vec![(sec - WINDOW_SECONDS).into()],
                    )?;
                }
                // The reservation only happens for an admitted request, in the same
                // synchronous step, so a 429 never consumes quota.
                let mut used = self.used(&key)?;
                let mut denied = None;
                if decision.allowed && reserve > 0 {
                    match reserve_quota(used, monthly_limit, reserve) {
                        Ok(new_used) => {
                            self.set_used(&key, new_used)?;
                            used = new_used;
                        }
                        Err(d) => denied = Some(d),
                    }
                }
                Ok(LimiterReply {
                    rate: Some(decision),
                    quota: state(used, monthly_limit),
                    denied,
                    month_retry_after,
                })
            }
            LimiterRequest::Refund {
                count,
                month: refund_month,
                monthly_limit,
            } => {
                let used = self.used(&refund_month)?.saturating_sub(count);
                self.set_used(&refund_month, used)?;
                let current = self.used(&key)?;
                Ok(LimiterReply {
                    rate: None,
                    quota: state(current, monthly_limit),
                    denied: None,
                    month_retry_after,
                })
            }
        }
    }
}

impl DurableObject for OrgLimiter {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // Idempotent schema; a failure here surfaces on the first query instead.
        let _ = sql.exec("CREATE TABLE IF NOT EXISTS rate_buckets (sec INTEGER PRIMARY KEY, count INTEGER NOT NULL)", None);
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS quota (month TEXT PRIMARY KEY, used INTEGER NOT NULL)",
            None,
        );
        OrgLimiter { sql }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op: LimiterRequest = match req.json().await {
            Ok(op) => op,
            Err(e) => return Response::error(format!("bad limiter request: {e}"), 400),
        };
        let now = UnixMs(js_sys::Date::now() as i64);
        Response::from_json(&self.handle(op, now)?)
    }
}

/// The Worker side of the protocol: one stub per organisation.
pub struct LimiterClient {
    stub: worker::Stub,
    faults: Faults,
}

impl LimiterClient {
    pub fn for_org(env: &Env, org: &OrgId, faults: Faults) -> std::result::Result<Self, ApiError> {
        let ns = env
            .durable_object("LIMITER")
            .or_internal("LIMITER binding")?;
        let stub = ns.get_by_name(&org.0).or_unavailable("rate limiter")?;
        Ok(LimiterClient { stub, faults })
    }

    pub async fn call(&self, op: &LimiterRequest) -> std::result::Result<LimiterReply, ApiError> {
        if crate::faults::strikes(&self.faults, "limiter") {
            return Err(ApiError::unavailable("rate limiter"));
        }
        let body = serde_json::to_string(op).or_internal("limiter request")?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let req =
            Request::new_with_init("https://limiter/", &init).or_internal("limiter request")?;
        let mut resp = self
            .stub
            .fetch_with_request(req)
            .await
            .or_unavailable("rate limiter")?;
        if resp.status_code() != 200 {
            let text = resp.text().await.unwrap_or_default();
            worker::console_error!("rate limiter answered {}: {text}", resp.status_code());
            return Err(ApiError::unavailable("rate limiter"));
        }
        resp.json::<LimiterReply>()
            .await
            .or_unavailable("rate limiter")
    }
}
