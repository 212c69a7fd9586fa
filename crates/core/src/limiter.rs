//! The per-organisation rate limit and monthly quota algorithms, and the JSON protocol the
//! Worker speaks with the `OrgLimiter` Durable Object. The object only persists state; every
//! decision is made here, so it is tested natively.
//!
//! The rate limit is a sliding 60 s window counted in one-second buckets: exact to the second,
//! bounded memory (at most 60 rows) whatever the limit is.

use serde::{Deserialize, Serialize};

/// Length of the rate-limit window.
pub const WINDOW_SECONDS: i64 = 60;

/// One second's request count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Unix second.
    pub sec: i64,
    pub count: u32,
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

/// A call from the Worker to the organisation's limiter object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LimiterRequest {
    /// Count one request against the rate limit and report quota usage; when the request is
    /// admitted and `reserve` > 0, also reserve that many events of this month's quota, all or
    /// nothing, in the same atomic step (one round trip for `/collect`).
    Admit {
        rate_limit: Option<u32>,
        monthly_limit: Option<u64>,
        #[serde(default)]
        reserve: u64,
    },
    /// Give back a reservation that could not be used (enqueue failed).
    Refund {
        count: u64,
        month: String,
        monthly_limit: Option<u64>,
    },
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
        Bucket { sec, count }
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
            rate_limit: Some(5),
            monthly_limit: Some(10),
            reserve: 3,
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(
            s,
            r#"{"op":"admit","rate_limit":5,"monthly_limit":10,"reserve":3}"#
        );
        let old: LimiterRequest =
            serde_json::from_str(r#"{"op":"admit","rate_limit":null,"monthly_limit":null}"#)
                .unwrap();
        assert_eq!(
            old,
            LimiterRequest::Admit {
                rate_limit: None,
                monthly_limit: None,
                reserve: 0
            }
        );
        assert_eq!(serde_json::from_str::<LimiterRequest>(&s).unwrap(), r);
    }
}
