//! The per-organisation rate limit and monthly quota algorithms, and the JSON protocol the
//! Worker speaks with the `OrgLimiter` Durable Object. The object only persists state; every
//! decision is made here, so it is tested natively.
//!
//! The rate limit is a sliding 60 s window counted in one-second buckets: exact to the second,
//! bounded memory (at most 60 buckets, stored in one row: [`super::store`]) whatever the limit is.

use serde::{Deserialize, Serialize};

/// Length of the rate-limit window.
pub const WINDOW_SECONDS: i64 = 60;

/// Which rate budget a request draws on (docs/api.md §3.2): each organisation has one 60 s
/// window per budget, each at its plan's rate, so a log shipper sending a request per line
/// cannot starve the SDKs' events or the analyst's dashboard, nor they it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// `POST /collect`: the SDKs' events.
    #[default]
    Events,
    /// Log pushes (Loki, OTLP).
    Logs,
    /// Everything else: reads, responses and management.
    Reads,
}

impl Budget {
    /// The budget's number in the stored buckets (`[sec, count, budget]`; events' buckets
    /// are stored as `[sec, count]`, the layout before budgets).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The budget of a stored number; unknown numbers are `None`.
    pub fn from_code(code: i64) -> Option<Budget> {
        [Budget::Events, Budget::Logs, Budget::Reads]
            .into_iter()
            .find(|b| i64::from(b.code()) == code)
    }
}

/// One second's request count in one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Unix second.
    pub sec: i64,
    pub count: u32,
    #[serde(default)]
    pub budget: Budget,
}

/// The rate limit's verdict for one request, and what the headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateDecision {
    pub allowed: bool,
    /// `None` when the organisation has no rate limit.
    pub limit: Option<u32>,
    /// Requests left in the window after this one.
    pub remaining: Option<u32>,
    /// Seconds until the oldest counted request leaves the window.
    pub reset_seconds: u64,
    /// When denied: whole seconds (≥ 1) until a request would be admitted.
    pub retry_after: Option<u64>,
}

/// Decides one request against `limit`, given the stored buckets (any order, stale ones
/// allowed). Returns the decision and the second to increment when admitted.
pub fn decide_rate(buckets: &[Bucket], now_ms: i64, limit: Option<u32>) -> RateDecision {
    let now_sec = now_ms.div_euclid(1000);
    let mut live: Vec<Bucket> = buckets
        .iter()
        .copied()
        .filter(|b| b.sec > now_sec - WINDOW_SECONDS && b.sec <= now_sec)
        .collect();
    live.sort_by_key(|b| b.sec);
    let used: u64 = live.iter().map(|b| u64::from(b.count)).sum();
    let reset_of = |sec: i64| -> u64 { (sec + WINDOW_SECONDS - now_sec).max(1) as u64 };

    let Some(limit) = limit else {
        return RateDecision {
            allowed: true,
            limit: None,
            remaining: None,
            reset_seconds: 0,
            retry_after: None,
        };
    };
    if used < u64::from(limit) {
        let oldest = live.first().map_or(now_sec, |b| b.sec);
        return RateDecision {
            allowed: true,
            limit: Some(limit),
            remaining: Some((u64::from(limit) - used - 1) as u32),
            reset_seconds: reset_of(oldest),
            retry_after: None,
        };
    }
    // Denied: find the first second at which enough old buckets have left the window.
    let mut left = used;
    let mut retry = reset_of(now_sec);
    for b in &live {
        left -= u64::from(b.count);
        if left < u64::from(limit) {
            // Buckets leave at sec + 60; the request must arrive at or after that second.
            let leave_ms = (b.sec + WINDOW_SECONDS) * 1000;
            retry = ((leave_ms - now_ms).max(1) as u64).div_ceil(1000);
            break;
        }
    }
    RateDecision {
        allowed: false,
        limit: Some(limit),
        remaining: Some(0),
        reset_seconds: reset_of(live.first().map_or(now_sec, |b| b.sec)),
        retry_after: Some(retry.max(1)),
    }
}

/// Quota usage for the current month as the headers and `/health` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaState {
    /// `YYYY-MM` of the counted month.
    pub month: String,
    pub used: u64,
    /// `None` = unlimited.
    pub limit: Option<u64>,
}

impl QuotaState {
    /// Events still accepted this month; `None` when unlimited.
    pub fn remaining(&self) -> Option<u64> {
        self.limit.map(|l| l.saturating_sub(self.used))
    }
}

/// Reserves `count` events atomically: all of them, or none.
pub fn reserve_quota(used: u64, limit: Option<u64>, count: u64) -> Result<u64, QuotaDenied> {
    match limit {
        Some(l) if used.saturating_add(count) > l => Err(QuotaDenied {
            limit: l,
            remaining: l.saturating_sub(used),
        }),
        _ => Ok(used.saturating_add(count)),
    }
}

/// Why a reservation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaDenied {
    pub limit: u64,
    pub remaining: u64,
}

/// One request's claim in an admission round: its organisation's limits and, for `/collect`, the
/// number of events to reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    pub rate_limit: Option<u32>,
    pub monthly_limit: Option<u64>,
    #[serde(default)]
    pub reserve: u64,
    /// The rate budget this request counts in.
    #[serde(default)]
    pub budget: Budget,
}

/// A call from the Worker to the organisation's limiter object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LimiterRequest {
    /// Decide each request in order, in one atomic step: count it against the rate limit and,
    /// when it is admitted and its `reserve` > 0, reserve that many events of this month's
    /// quota, all or nothing. The reply is one [`LimiterReply`] per item. Concurrent requests
    /// of an isolate share one such call (`group`), so one round trip serves them all.
    Admit { items: Vec<Admission> },
    /// Give back a reservation that could not be used (enqueue failed).
    Refund {
        count: u64,
        month: String,
        monthly_limit: Option<u64>,
    },
}

/// What the limiter object keeps, loaded once per call and decided on in memory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LimiterState {
    /// Rate-limit buckets (any order; stale ones are ignored and pruned).
    pub buckets: Vec<Bucket>,
    /// Events reserved in the current month.
    pub used: u64,
}

impl LimiterState {
    /// Decides one admission at `now_ms` and updates the state: the current second's bucket
    /// counts an admitted request (when a rate limit applies) and the quota grows by a granted
    /// reservation. A 429 never consumes quota.
    pub fn admit(
        &mut self,
        a: &Admission,
        now_ms: i64,
        month: &str,
        month_retry_after: u64,
    ) -> LimiterReply {
        let mine: Vec<Bucket> = self
            .buckets
            .iter()
            .filter(|b| b.budget == a.budget)
            .copied()
            .collect();
        let decision = decide_rate(&mine, now_ms, a.rate_limit);
        if decision.allowed && a.rate_limit.is_some() {
            let sec = now_ms.div_euclid(1000);
            self.buckets.retain(|b| b.sec > sec - WINDOW_SECONDS);
            let budget = a.budget;
            let current = self
                .buckets
                .iter_mut()
                .find(|b| b.sec == sec && b.budget == budget);
            match current {
                Some(b) => b.count = b.count.saturating_add(1),
                None => self.buckets.push(Bucket {
                    sec,
                    count: 1,
                    budget,
                }),
            }
        }
        let mut denied = None;
        if decision.allowed && a.reserve > 0 {
            match reserve_quota(self.used, a.monthly_limit, a.reserve) {
                Ok(used) => self.used = used,
                Err(d) => denied = Some(d),
            }
        }
        LimiterReply {
            rate: Some(decision),
            quota: QuotaState {
                month: month.to_string(),
                used: self.used,
                limit: a.monthly_limit,
            },
            denied,
            month_retry_after,
        }
    }
}

/// The limiter's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimiterReply {
    pub rate: Option<RateDecision>,
    pub quota: QuotaState,
    /// For an `Admit` with `reserve` > 0: why the reservation failed; `None` when granted.
    pub denied: Option<QuotaDenied>,
    /// Seconds until the quota month ends (the 403's `Retry-After`).
    pub month_retry_after: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(sec: i64, count: u32) -> Bucket {
        Bucket {
            sec,
            count,
            budget: Budget::Events,
        }
    }

    #[test]
    fn admits_until_the_limit_then_denies() {
        let now = 1_000_000;
        let d = decide_rate(&[b(1000, 4)], now, Some(5));
        assert!(d.allowed);
        assert_eq!(d.remaining, Some(0));
        let d = decide_rate(&[b(1000, 5)], now, Some(5));
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(60));
    }

    #[test]
    fn requests_leave_the_window_after_sixty_seconds() {
        // 5 requests at second 1000; at 1059.999 they still count, at 1060.000 they are gone.
        assert!(!decide_rate(&[b(1000, 5)], 1_059_999, Some(5)).allowed);
        assert_eq!(
            decide_rate(&[b(1000, 5)], 1_059_999, Some(5)).retry_after,
            Some(1)
        );
        assert!(decide_rate(&[b(1000, 5)], 1_060_000, Some(5)).allowed);
    }

    #[test]
    fn retry_after_waits_for_just_enough_buckets() {
        // limit 5, used 3@1000 + 2@1030 at t=1040: after 1000 leaves (t=1060) 2 < 5.
        let d = decide_rate(&[b(1030, 2), b(1000, 3)], 1_040_500, Some(5));
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Some(20)); // 1060.0 - 1040.5 = 19.5 -> 20
        assert_eq!(d.reset_seconds, 20);
    }

    #[test]
    fn stale_and_future_buckets_are_ignored() {
        let d = decide_rate(&[b(900, 100), b(2000, 100)], 1_000_000, Some(1));
        assert!(d.allowed);
    }

    #[test]
    fn unlimited_always_admits() {
        let d = decide_rate(&[b(1000, u32::MAX)], 1_000_000, None);
        assert!(d.allowed && d.limit.is_none() && d.remaining.is_none());
    }

    #[test]
    fn quota_reserves_all_or_nothing() {
        assert_eq!(reserve_quota(90, Some(100), 10), Ok(100));
        assert_eq!(
            reserve_quota(91, Some(100), 10),
            Err(QuotaDenied {
                limit: 100,
                remaining: 9
            })
        );
        assert_eq!(reserve_quota(5, None, 1_000), Ok(1_005));
        assert_eq!(
            reserve_quota(120, Some(100), 1),
            Err(QuotaDenied {
                limit: 100,
                remaining: 0
            })
        );
    }

    #[test]
    fn requests_serialize_with_an_op_tag() {
        let r = LimiterRequest::Admit {
            items: vec![Admission {
                rate_limit: Some(5),
                monthly_limit: Some(10),
                reserve: 3,
                budget: Budget::Events,
            }],
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(
            s,
            r#"{"op":"admit","items":[{"rate_limit":5,"monthly_limit":10,"reserve":3,"budget":"events"}]}"#
        );
        let no_reserve: LimiterRequest = serde_json::from_str(
            r#"{"op":"admit","items":[{"rate_limit":null,"monthly_limit":null}]}"#,
        )
        .unwrap();
        assert_eq!(
            no_reserve,
            LimiterRequest::Admit {
                items: vec![Admission {
                    rate_limit: None,
                    monthly_limit: None,
                    reserve: 0,
                    budget: Budget::Events,
                }]
            }
        );
        assert_eq!(serde_json::from_str::<LimiterRequest>(&s).unwrap(), r);
    }

    fn admission(rate_limit: Option<u32>, monthly_limit: Option<u64>, reserve: u64) -> Admission {
        Admission {
            rate_limit,
            monthly_limit,
            reserve,
            budget: Budget::Events,
        }
    }

    #[test]
    fn a_round_admits_exactly_the_limit_in_order() {
        let mut state = LimiterState::default();
        let a = admission(Some(5), None, 1);
        let replies: Vec<_> = (0..8)
            .map(|_| state.admit(&a, 1_000_500, "1970-01", 10))
            .collect();
        let allowed: Vec<bool> = replies.iter().map(|r| r.rate.unwrap().allowed).collect();
        assert_eq!(allowed, [true, true, true, true, true, false, false, false]);
        assert_eq!(replies[4].rate.unwrap().remaining, Some(0));
        assert_eq!(replies[0].rate.unwrap().remaining, Some(4));
        assert_eq!(state.buckets, vec![b(1000, 5)]);
        assert_eq!(state.used, 5, "denied requests reserve nothing");
        assert_eq!(replies[7].quota.used, 5);
    }

    #[test]
    fn a_round_reserves_all_or_nothing_per_request_until_the_quota_is_gone() {
        let mut state = LimiterState {
            buckets: vec![],
            used: 90,
        };
        let reserves = [4, 7, 6, 0, 1];
        let replies: Vec<_> = reserves
            .iter()
            .map(|&n| state.admit(&admission(None, Some(100), n), 0, "1970-01", 10))
            .collect();
        let denied: Vec<bool> = replies.iter().map(|r| r.denied.is_some()).collect();
        assert_eq!(denied, [false, true, false, false, true]);
        assert_eq!(
            replies[1].denied,
            Some(QuotaDenied {
                limit: 100,
                remaining: 6
            })
        );
        assert_eq!(state.used, 100);
        assert_eq!(replies[3].quota.used, 100, "a read reports usage");
    }

    #[test]
    fn admitting_prunes_buckets_that_left_the_window() {
        let mut state = LimiterState {
            buckets: vec![b(900, 3), b(950, 2)],
            used: 0,
        };
        state.admit(&admission(Some(10), None, 0), 1_000_000, "m", 1);
        assert_eq!(state.buckets, vec![b(950, 2), b(1000, 1)]);
        let unlimited = state.admit(&admission(None, None, 0), 1_001_000, "m", 1);
        assert!(unlimited.rate.unwrap().allowed);
        assert_eq!(state.buckets.len(), 2, "no rate limit, nothing counted");
    }

    #[test]
    fn each_budget_has_its_own_window_at_the_plan_rate() {
        let mut state = LimiterState::default();
        let logs = Admission {
            budget: Budget::Logs,
            ..admission(Some(2), Some(100), 0)
        };
        let reads = Admission {
            budget: Budget::Reads,
            ..admission(Some(2), Some(100), 0)
        };
        let t = 1_000_000;
        assert!(state.admit(&logs, t, "2026-12", 1).rate.unwrap().allowed);
        assert!(
            state
                .admit(&logs, t + 10, "2026-12", 1)
                .rate
                .unwrap()
                .allowed
        );
        let denied = state.admit(&logs, t + 20, "2026-12", 1).rate.unwrap();
        assert!(!denied.allowed, "the shipper's third push in the window");
        assert_eq!(denied.retry_after, Some(60));
        let read = state.admit(&reads, t + 30, "2026-12", 1).rate.unwrap();
        assert!(read.allowed, "the dashboard still reads");
        assert_eq!(read.remaining, Some(1));
        let event = state.admit(&admission(Some(2), Some(100), 1), t + 40, "2026-12", 1);
        assert!(
            event.rate.unwrap().allowed && event.denied.is_none(),
            "events still arrive"
        );
        assert_eq!(state.used, 1);
    }
}
