//! What an attempt's outcome means for the delivery: a 2xx is delivered (never sent again);
//! 5xx, 429, a timeout or a network failure is retried with exponential backoff, honouring the
//! receiver's `Retry-After`; any other 4xx is refused (retrying cannot fix it); after
//! [`Policy::max_attempts`] attempts, or once the next try would fall past
//! [`Policy::give_up_after_ms`] since the delivery began, it is dead: visible in the delivery
//! log, never retried.

/// What the receiver did with one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP status, with the raw `Retry-After` header when there was one.
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// No answer within the timeout.
    Timeout,
    /// The request could not be made (DNS, TLS, connection refused …): worth retrying.
    Failed(String),
    /// Not sent, for a reason retrying cannot change (a URL the deployment refuses, no usable
    /// secret, email not configured).
    Refused(String),
}

/// The decision after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again after this many seconds.
    Retry {
        after_seconds: u32,
    },
    /// Give up: retries exhausted, or an answer retrying cannot change.
    Dead,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retry { .. } => "retry",
            Outcome::Dead => "dead",
        }
    }
}

/// The retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The first retry waits this long; each further one twice as long.
    pub base_seconds: u32,
    /// No wait longer than this, `Retry-After` included.
    pub max_wait_seconds: u32,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// No retry is scheduled past this long after the delivery began.
    pub give_up_after_ms: i64,
}

impl Default for Policy {
    /// 2 s, 4 s, 8 s … at most 15 min apart, 8 attempts, within a day: a receiver that is down
    /// for a deploy gets its alerts; one that is gone for good stops costing retries.
    fn default() -> Self {
        Policy {
            base_seconds: 2,
            max_wait_seconds: 900,
            max_attempts: 8,
            give_up_after_ms: 24 * 3600 * 1000,
        }
    }
}

impl Policy {
    /// The decision after attempt number `attempt` (1 for the first), made `elapsed_ms` after
    /// the delivery began; `now_ms` reads an HTTP-date `Retry-After`.
    pub fn decide(&self, answer: &Answer, attempt: u32, elapsed_ms: i64, now_ms: i64) -> Outcome {
        let retry_after = match answer {
            Answer::Status { status, .. } if (200..300).contains(status) => {
                return Outcome::Delivered
            }
            Answer::Status {
                status,
                retry_after,
            } if *status == 429 || *status >= 500 => retry_after
                .as_deref()
                .and_then(|h| parse_retry_after(h, now_ms)),
            Answer::Status { .. } | Answer::Refused(_) => return Outcome::Dead,
            Answer::Timeout | Answer::Failed(_) => None,
        };
        if attempt >= self.max_attempts {
            return Outcome::Dead;
        }
        let backoff = self
            .base_seconds
            .saturating_mul(1u32 << (attempt - 1).min(20));
        let wait = retry_after
            .unwrap_or(backoff)
            .clamp(1, self.max_wait_seconds.max(1));
        if elapsed_ms + i64::from(wait) * 1000 > self.give_up_after_ms {
            return Outcome::Dead;
        }
        Outcome::Retry {
            after_seconds: wait,
        }
    }
}

/// `Retry-After` as seconds to wait: delay-seconds, or an HTTP-date (RFC 9110 §10.2.3).
pub fn parse_retry_after(header: &str, now_ms: i64) -> Option<u32> {
    let h = header.trim();
    if let Ok(seconds) = h.parse::<u64>() {
        return Some(seconds.min(u64::from(u32::MAX)) as u32);
    }
    let at = chrono::DateTime::parse_from_rfc2822(h)
        .ok()?
        .timestamp_millis();
    Some(((at - now_ms).max(0) / 1000).min(i64::from(u32::MAX)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> Answer {
        Answer::Status {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn success_is_final_other_4xx_are_dead_the_rest_retry_with_backoff() {
        let p = Policy::default();
        assert_eq!(p.decide(&status(200), 1, 0, 0), Outcome::Delivered);
        assert_eq!(p.decide(&status(204), 5, 0, 0), Outcome::Delivered);
        for s in [400, 401, 403, 404, 410, 413] {
            assert_eq!(p.decide(&status(s), 1, 0, 0), Outcome::Dead, "{s}");
        }
        let waits: Vec<Outcome> = (1..=4).map(|a| p.decide(&status(503), a, 0, 0)).collect();
        assert_eq!(
            waits,
            [2, 4, 8, 16].map(|after_seconds| Outcome::Retry { after_seconds })
        );
        assert_eq!(
            p.decide(&Answer::Timeout, 1, 0, 0),
            Outcome::Retry { after_seconds: 2 }
        );
        assert_eq!(
            p.decide(&Answer::Failed("x".into()), 2, 0, 0),
            Outcome::Retry { after_seconds: 4 }
        );
        assert_eq!(
            p.decide(&Answer::Refused("no secret".into()), 1, 0, 0),
            Outcome::Dead
        );
        assert_eq!(
            p.decide(&status(429), 8, 0, 0),
            Outcome::Dead,
            "attempts exhausted"
        );
        assert_eq!(p.decide(&status(500), 12, 0, 0), Outcome::Dead);
        assert_eq!(
            p.decide(&status(500), 7, 0, 0),
            Outcome::Retry { after_seconds: 128 }
        );
    }

    #[test]
    fn retry_after_is_honoured_within_the_bounds() {
        let p = Policy::default();
        let with = |h: &str| Answer::Status {
            status: 429,
            retry_after: Some(h.into()),
        };
        assert_eq!(
            p.decide(&with("30"), 1, 0, 0),
            Outcome::Retry { after_seconds: 30 }
        );
        assert_eq!(
            p.decide(&with("0"), 1, 0, 0),
            Outcome::Retry { after_seconds: 1 }
        );
        assert_eq!(
            p.decide(&with("999999"), 1, 0, 0),
            Outcome::Retry { after_seconds: 900 }
        );
        assert_eq!(
            p.decide(&with("soon"), 1, 0, 0),
            Outcome::Retry { after_seconds: 2 }
        );
        let now = 1_769_764_500_000; // Fri, 30 Jan 2026 09:15:00 GMT
        let date = Answer::Status {
            status: 503,
            retry_after: Some("Fri, 30 Jan 2026 09:16:00 GMT".into()),
        };
        assert_eq!(
            p.decide(&date, 1, 0, now),
            Outcome::Retry { after_seconds: 60 }
        );
        // A retry that would land past the deadline is not scheduled.
        assert_eq!(
            p.decide(&with("600"), 1, p.give_up_after_ms - 10_000, 0),
            Outcome::Dead
        );
    }
}
