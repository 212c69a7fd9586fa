//! Test-only fault injection: which named faults a deployment injects, and how often. The spec
//! comes from the `EDGESOC_FAULTS` var, which `wrangler.toml` never sets (tests/security checks
//! it): a comma-separated list of `name` (always) or `name:p` (with probability `p` in 0..=1).
//!
//! | name | where | what it simulates |
//! |---|---|---|
//! | `tenant_d1` | the API-key lookup | D1 unavailable: 503 with `Retry-After` |
//! | `limiter` | every rate-limiter call | the Durable Object unavailable: 503 with `Retry-After` |
//! | `queue_send` | each `sendBatch` attempt | a failed send: retried, then refunded and 500 |
//! | `hold_commit` | a split request's commit (`crate::ingest::hold`) | D1 failing after every send: refunded, 500, messages dropped |
//! | `consumer_insert` | the consumer flow (`crate::ingest::consume`), before storing | D1 failing: the batch is retried |
//! | `consumer_fail_after_insert` | the consumer flow, after storing and detecting | a crash before the ack: the real queue redelivers |
//!
//! The flows themselves are tested natively against fakes (`crate::testing`), failures
//! included; these faults remain for what only the runtime shows: its queue's redelivery, its
//! Durable Object and D1 bindings failing under a live Worker.

/// A parsed fault spec; empty (the production case) injects nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults(Vec<(String, f64)>);

impl Faults {
    /// Parses a spec. Unparsable probabilities count as 1 (a test asked for the fault; never
    /// silently skip it); values outside 0..=1 are clamped.
    pub fn parse(spec: &str) -> Faults {
        Faults(
            spec.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| match s.split_once(':') {
                    Some((name, p)) => (
                        name.trim().to_string(),
                        p.trim().parse::<f64>().map_or(1.0, |p| {
                            if p.is_nan() {
                                1.0
                            } else {
                                p.clamp(0.0, 1.0)
                            }
                        }),
                    ),
                    None => (s.to_string(), 1.0),
                })
                .collect(),
        )
    }

    /// True when nothing is injected.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The probability of fault `name` (0 when not configured).
    pub fn probability(&self, name: &str) -> f64 {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0.0, |(_, p)| *p)
    }

    /// Whether fault `name` strikes, given a uniform random draw `roll` in `0..1`.
    pub fn strikes(&self, name: &str, roll: f64) -> bool {
        roll < self.probability(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_probabilities() {
        let f = Faults::parse(" queue_send:0.25, limiter ,tenant_d1:x, consumer_insert:7,a:-1,,");
        assert_eq!(f.probability("queue_send"), 0.25);
        assert_eq!(f.probability("limiter"), 1.0);
        assert_eq!(f.probability("tenant_d1"), 1.0, "unparsable: always");
        assert_eq!(f.probability("consumer_insert"), 1.0, "clamped");
        assert_eq!(f.probability("a"), 0.0);
        assert_eq!(f.probability("unknown"), 0.0);
        assert!(f.strikes("queue_send", 0.2) && !f.strikes("queue_send", 0.25));
        assert!(f.strikes("limiter", 0.999_999));
        assert!(!f.strikes("a", 0.0), "probability 0 never strikes");
        assert!(Faults::parse("").is_empty() && Faults::parse(" , ").is_empty());
        assert_eq!(Faults::parse("x:NaN").probability("x"), 1.0);
    }
}
