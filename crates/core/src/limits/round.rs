//! One group-commit round ([`super::group`] decides who goes in it): one limiter call deciding
//! every request's claim in order, one queue send for the admitted requests' events (as few
//! `sendBatch` calls as the limits allow, each cut between requests), then one D1 batch
//! committing the split requests whose messages were all sent (`crate::ingest::hold`). Each
//! request learns its own verdict and how many of its reserved events never reached the queue,
//! which it refunds.

use crate::access::ids::OrgId;
use crate::ingest::hold;
use crate::ingest::message::{send_chunks, unsent_events, Packed};
use crate::ingest::message::{MAX_SEND_BYTES, MAX_SEND_MESSAGES};
use crate::limits::limiter::{Admission, Budget, LimiterReply};
use crate::limits::plan::Limits;
use crate::runtime::{Db, Limiter, Queue};
use crate::time::UnixMs;
use crate::ApiError;

/// One request's part in a round.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub admission: Admission,
    /// `/collect`'s packed events, sent only when the limiter admits the request and grants
    /// its reservation. Empty for every other route.
    pub bodies: Vec<Packed>,
    /// The hold token of a request split over several sends: the round commits it after the
    /// request's last send, or the request fails whole.
    pub hold: Option<String>,
}

impl Claim {
    /// A request that only counts against the rate limit, in `budget`.
    pub fn rate_only(limits: &Limits, budget: Budget) -> Claim {
        let mut claim = Claim::events(limits, 0, Vec::new(), None);
        claim.admission.budget = budget;
        claim
    }

    /// `/collect`: also reserve `reserve` events of the monthly quota and, once admitted and
    /// reserved, send `bodies` (with `hold`, the token of a request split over several sends).
    pub fn events(
        limits: &Limits,
        reserve: u64,
        bodies: Vec<Packed>,
        hold: Option<String>,
    ) -> Claim {
        Claim {
            admission: Admission {
                rate_limit: limits.rate_per_minute,
                monthly_limit: limits.monthly_events,
                reserve,
                budget: Budget::Events,
            },
            bodies,
            hold,
        }
    }
}

/// How a claim was settled.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    /// The limiter's decision for this request.
    pub limits: Result<LimiterReply, ApiError>,
    /// Reserved events that did not reach the queue: the request refunds them and fails.
    pub unsent: u64,
}

impl Settled {
    /// A request that never reached a verdict.
    pub fn failed(e: ApiError) -> Self {
        Settled {
            limits: Err(e),
            unsent: 0,
        }
    }
}

/// What a round needs beyond its claims: the organisation's bindings (a binding that is
/// missing is an error the round reports per request), the clock, and test-only faults.
pub struct RoundEnv<'a, L, Q, D> {
    pub org: &'a OrgId,
    pub limiter: Result<L, ApiError>,
    pub queue: Result<&'a Q, String>,
    pub db: Result<&'a D, String>,
    pub now: &'a dyn Fn() -> UnixMs,
    /// Whether an injected fault strikes (`crate::faults`); never in production.
    pub strikes: &'a dyn Fn(&str) -> bool,
}

/// Runs one round: each claim's settlement in order, and log lines for the operator.
pub async fn run<L: Limiter, Q: Queue, D: Db>(
    env: RoundEnv<'_, L, Q, D>,
    claims: Vec<Claim>,
) -> (Vec<Settled>, Vec<String>) {
    let mut notes = Vec::new();
    let started = (env.now)();
    let admissions = claims.iter().map(|c| c.admission).collect();
    let replies = match &env.limiter {
        Ok(limiter) => limiter.admit(admissions).await,
        Err(e) => Err(e.clone()),
    };
    let replies = match replies {
        Ok(r) => r,
        Err(e) => {
            return (
                claims.iter().map(|_| Settled::failed(e.clone())).collect(),
                notes,
            )
        }
    };
    // The admitted claims' messages, concatenated in order; `ranges[i]` are claim i's.
    let mut bodies: Vec<Packed> = Vec::new();
    let mut ranges = Vec::with_capacity(claims.len());
    let mut holds = Vec::with_capacity(claims.len());
    for (claim, reply) in claims.into_iter().zip(&replies) {
        let start = bodies.len();
        let granted = reply.rate.is_none_or(|d| d.allowed) && reply.denied.is_none();
        if granted && claim.admission.reserve > 0 {
            bodies.extend(claim.bodies);
        }
        ranges.push(start..bodies.len());
        holds.push(claim.hold);
    }
    let per_claim: Vec<&[Packed]> = ranges.into_iter().map(|r| &bodies[r]).collect();
    let sent = match env.queue {
        _ if bodies.is_empty() => 0,
        Ok(queue) => match send_all(queue, &per_claim).await {
            Ok(()) => bodies.len(),
            Err((sent, e)) => {
                notes.push(format!(
                    "enqueue failed after {sent} of {} messages: {e}",
                    bodies.len()
                ));
                sent
            }
        },
        Err(ref e) => {
            notes.push(e.clone());
            0
        }
    };
    let mut unsent = unsent_events(&per_claim, sent);
    let commit = CommitHolds {
        org: env.org,
        db: env.db,
        started,
        now: env.now,
        strikes: env.strikes,
    };
    if let Err(e) = commit.run(&holds, &per_claim, &mut unsent).await {
        notes.push(e);
    }
    let settled = replies
        .into_iter()
        .zip(unsent)
        .map(|(r, u)| Settled {
            limits: Ok(r),
            unsent: u as u64,
        })
        .collect();
    (settled, notes)
}

/// Sends the messages of several requests, in order, in as few `sendBatch` calls as the limits
/// allow, each accepted or refused whole and cut only between requests
/// (`message::send_chunks`), so a request's events are stored all together or not at all. On a
/// failure nothing after it is sent, and the error carries how many messages (a prefix of the
/// concatenation) were enqueued, so each request refunds exactly its events that will never be
/// stored (`message::unsent_events`).
pub async fn send_all<Q: Queue>(queue: &Q, requests: &[&[Packed]]) -> Result<(), (usize, String)> {
    let messages: Vec<&str> = requests
        .iter()
        .flat_map(|r| r.iter().map(|p| p.body.as_str()))
        .collect();
    for chunk in send_chunks(requests, MAX_SEND_MESSAGES, MAX_SEND_BYTES) {
        queue
            .send(&messages[chunk.clone()])
            .await
            .map_err(|e| (chunk.start, e))?;
    }
    Ok(())
}

struct CommitHolds<'a, D> {
    org: &'a OrgId,
    db: Result<&'a D, String>,
    started: UnixMs,
    now: &'a dyn Fn() -> UnixMs,
    strikes: &'a dyn Fn(&str) -> bool,
}

impl<D: Db> CommitHolds<'_, D> {
    /// Commits the round's split requests whose messages were all sent, in one D1 batch. A
    /// request that cannot commit, in time or at all, has every event counted unsent: it
    /// refunds them all and fails, and the consumer drops its messages.
    async fn run(
        &self,
        holds: &[Option<String>],
        per_claim: &[&[Packed]],
        unsent: &mut [usize],
    ) -> Result<(), String> {
        let held: Vec<bool> = holds.iter().map(Option::is_some).collect();
        let totals: Vec<usize> = per_claim
            .iter()
            .map(|c| c.iter().map(|p| p.events).sum())
            .collect();
        let due = hold::due_commits(&held, &totals, unsent);
        if due.is_empty() {
            return Ok(());
        }
        let at = (self.now)();
        let statements: Vec<_> = due
            .iter()
            .filter_map(|&i| holds[i].as_deref())
            .map(|h| hold::commit_statement(h, self.org, at))
            .collect();
        let committed = if !hold::may_commit(self.started, at) {
            Err("the round ran past the commit window".to_string())
        } else if (self.strikes)("hold_commit") {
            Err("injected fault: hold_commit".to_string())
        } else {
            match &self.db {
                Ok(db) => db
                    .batch(&statements)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.clone()),
            }
        };
        committed.map_err(|e| {
            for &i in &due {
                unsent[i] = totals[i];
            }
            format!("split requests not committed ({} of them): {e}", due.len())
        })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "round_tests.rs"]
mod tests;
