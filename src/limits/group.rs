//! Group commit on the request path (the bookkeeping is `edgesoc_core::limits::group`). Every API
//! request needs the organisation's limiter object, and `/collect` also a queue send; the
//! requests of one organisation that are in flight together share one limiter round trip and
//! one `sendBatch`. Each request still answers only after its own claim is settled: a 202 is
//! sent after its events are in the queue, exactly as when each request sent alone.
//!
//! Waiting across requests needs care in workerd:
//! - A leader runs its rounds under `waitUntil`, so the rounds (and the other requests' 202s)
//!   survive its own client disconnecting.
//! - A waiter sleeps on timers set in its own request context and looks at its claim each time
//!   one fires; the leader only records the outcome. The timer is also the waiter's pending
//!   event: a request waiting on nothing of its own would be aborted as hung. The leader used to
//!   wake waiters by resolving a promise each had made in its own context, relying on workerd to
//!   run the continuation there. Under sustained load that began, 12,000–17,000 requests into a
//!   run, to fail every request with "Cannot perform I/O on behalf of a different request"
//!   (bench/sustained.mjs, release build: three runs out of three). Woken only by their own
//!   timers, waiters did not fail in two runs of the same length, at the same throughput.
//! - A waiter that finds its group without a live leader takes over the lead.

use crate::d1::Store;
use crate::limits::LimiterClient;
use crate::queue::enqueue;
use edgesoc_core::access::ids::OrgId;
use edgesoc_core::faults::Faults;
use edgesoc_core::ingest::hold;
use edgesoc_core::ingest::message::{unsent_events, Packed};
use edgesoc_core::limits::group::{Groups, LeaseId, Round};
use edgesoc_core::limits::limiter::{Admission, LimiterReply};
use edgesoc_core::limits::plan::Limits;
use edgesoc_core::time::UnixMs;
use edgesoc_core::ApiError;
use js_sys::{Function, Promise, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Context, Env};

/// Requests per round: bounds one limiter call's body and one leader's work.
const MAX_ROUND: usize = 64;
/// Rounds in flight at once per organisation. One measured best here: with two or four, rounds
/// got smaller and throughput did not grow.
const LEADERS: usize = 1;
/// Rounds one leader runs before handing the lead to a waiter. The leader's invocation pays the
/// CPU of every round it runs (well under 1 ms each), and the free plan allows 10 ms in all.
const MAX_TENURE: usize = 4;
/// A leader that has not started a round for this long is presumed lost.
const STALE_MS: i64 = 10_000;
/// How often a waiter looks at its claim: often at first, since a round takes a limiter call and
/// a queue send (a few ms), then less often, so a long wait costs little CPU.
const POLL_MS: i32 = 2;
const SLOW_POLL_MS: i32 = 25;
/// How long a waiter polls at [`POLL_MS`].
const FAST_POLL_FOR_MS: i64 = 100;
/// After this long a waiter stops waiting and fails its request.
const GIVE_UP_MS: i64 = 30_000;

/// One request's part in a round.
pub struct Claim {
    pub admission: Admission,
    /// `/collect`'s packed events, sent only when the limiter admits the request and grants
    /// its reservation. Empty for every other route.
    pub bodies: Vec<Packed>,
    /// The hold token of a request split over several sends (`edgesoc_core::ingest::hold`): the round
    /// commits it after the request's last send, or the request fails whole.
    pub hold: Option<String>,
}

impl Claim {
    /// A request that only counts against the rate limit.
    pub fn rate_only(limits: &Limits) -> Claim {
        Claim::events(limits, 0, Vec::new(), None)
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
            },
            bodies,
            hold,
        }
    }
}

/// How a claim was settled.
pub struct Settled {
    /// The limiter's decision for this request.
    pub limits: Result<LimiterReply, ApiError>,
    /// Reserved events that did not reach the queue: the request refunds them and fails.
    pub unsent: u64,
}

impl Settled {
    fn failed(e: ApiError) -> Self {
        Settled {
            limits: Err(e),
            unsent: 0,
        }
    }
}

struct Waiter {
    claim: RefCell<Option<Claim>>,
    settled: RefCell<Option<Settled>>,
}

thread_local! {
    static GROUPS: RefCell<Groups<Rc<Waiter>>> = RefCell::new(Groups::new(STALE_MS, LEADERS));
}

fn now() -> UnixMs {
    UnixMs(js_sys::Date::now() as i64)
}

/// Settles `claim` for `org`, in a round shared with the organisation's other requests in
/// flight in this isolate.
pub async fn settle(
    ctx: &Context,
    env: &Env,
    org: &OrgId,
    faults: &Faults,
    claim: Claim,
) -> Settled {
    let waiter = Rc::new(Waiter {
        claim: RefCell::new(Some(claim)),
        settled: RefCell::new(None),
    });
    let started = now();
    let lease = GROUPS.with(|g| g.borrow_mut().join(&org.0, waiter.clone(), started));
    if let Some(lease) = lease {
        lead(ctx, env, org, faults, lease);
    }
    loop {
        if let Some(s) = waiter.settled.borrow_mut().take() {
            return s;
        }
        if now().0 - started.0 >= GIVE_UP_MS {
            return give_up(org, &waiter);
        }
        let waited = now().0 - started.0;
        let poll = if waited < FAST_POLL_FOR_MS {
            POLL_MS
        } else {
            SLOW_POLL_MS
        };
        if let Err(e) = sleep(poll).await {
            worker::console_error!("group commit: cannot wait: {e:?}");
            return give_up(org, &waiter);
        }
        if waiter.settled.borrow().is_none() {
            let lease = GROUPS.with(|g| g.borrow_mut().lead_if_free(&org.0, now()));
            if let Some(lease) = lease {
                lead(ctx, env, org, faults, lease);
            }
        }
    }
}

/// A waiter that was never taken into a round reserved nothing: retrying is safe (503). One
/// taken into a round whose outcome never came back may have been accepted: 500.
fn give_up(org: &OrgId, waiter: &Rc<Waiter>) -> Settled {
    let withdrawn = GROUPS.with(|g| g.borrow_mut().withdraw(&org.0, |w| Rc::ptr_eq(w, waiter)));
    worker::console_error!(
        "group commit: no outcome for a request of {} (withdrawn: {withdrawn})",
        org.0
    );
    Settled::failed(if withdrawn {
        ApiError::unavailable("rate limiter")
    } else {
        ApiError::internal()
    })
}

/// Runs the holder of `lease`'s rounds under `waitUntil` until nobody waits, or hands the lead
/// to the first waiter after `MAX_TENURE` rounds: the CPU a request spends on others' rounds
/// stays bounded, whatever the load.
fn lead(ctx: &Context, env: &Env, org: &OrgId, faults: &Faults, lease: LeaseId) {
    let (env, org, faults) = (env.clone(), org.clone(), faults.clone());
    ctx.wait_until(async move {
        for _ in 0..MAX_TENURE {
            let round = GROUPS.with(|g| g.borrow_mut().next_round(&org.0, lease, MAX_ROUND, now()));
            let Round::Flush(waiters) = round else {
                return;
            };
            let (waiters, claims): (Vec<Rc<Waiter>>, Vec<Claim>) = waiters
                .into_iter()
                .filter_map(|w| {
                    let claim = w.claim.borrow_mut().take()?;
                    Some((w, claim))
                })
                .unzip();
            let settled = flush(&env, &org, &faults, claims).await;
            for (w, s) in waiters.iter().zip(settled) {
                *w.settled.borrow_mut() = Some(s);
            }
        }
        // The next waiter to poll takes the lead (a lease already dropped as stale has none).
        GROUPS.with(|g| g.borrow_mut().step_down(&org.0, lease));
    });
}

/// One round: one limiter call deciding every claim in order, then one queue send (as few
/// `sendBatch` calls as its limits allow) for the admitted claims' events.
async fn flush(env: &Env, org: &OrgId, faults: &Faults, claims: Vec<Claim>) -> Vec<Settled> {
    let started = now();
    let admissions = claims.iter().map(|c| c.admission).collect();
    let replies = match LimiterClient::for_org(env, org, faults.clone()) {
        Ok(limiter) => limiter.admit(admissions).await,
        Err(e) => Err(e),
    };
    let replies = match replies {
        Ok(r) => r,
        Err(e) => return claims.iter().map(|_| Settled::failed(e.clone())).collect(),
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
    let sent = match env.queue("DETECT_QUEUE") {
        _ if bodies.is_empty() => 0,
        Ok(q) => match enqueue(&q, &per_claim, faults).await {
            Ok(()) => bodies.len(),
            Err((sent, e)) => {
                worker::console_error!(
                    "enqueue failed after {sent} of {} messages: {e}",
                    bodies.len()
                );
                sent
            }
        },
        Err(e) => {
            worker::console_error!("DETECT_QUEUE binding: {e}");
            0
        }
    };
    let mut unsent = unsent_events(&per_claim, sent);
    commit_holds(env, org, faults, started, &holds, &per_claim, &mut unsent).await;
    replies
        .into_iter()
        .zip(unsent)
        .map(|(r, u)| Settled {
            limits: Ok(r),
            unsent: u as u64,
        })
        .collect()
}

/// Commits the round's split requests whose messages were all sent (`edgesoc_core::ingest::hold`), in
/// one D1 batch. A request that cannot commit, in time or at all, has every event counted
/// unsent: it refunds them all and fails, and the consumer drops its messages.
async fn commit_holds(
    env: &Env,
    org: &OrgId,
    faults: &Faults,
    started: UnixMs,
    holds: &[Option<String>],
    per_claim: &[&[Packed]],
    unsent: &mut [usize],
) {
    let held: Vec<bool> = holds.iter().map(Option::is_some).collect();
    let totals: Vec<usize> = per_claim
        .iter()
        .map(|c| c.iter().map(|p| p.events).sum())
        .collect();
    let due = hold::due_commits(&held, &totals, unsent);
    if due.is_empty() {
        return;
    }
    let at = now();
    let statements: Vec<_> = due
        .iter()
        .filter_map(|&i| holds[i].as_deref())
        .map(|h| hold::commit_statement(h, org, at))
        .collect();
    let committed = if !hold::may_commit(started, at) {
        Err("the round ran past the commit window".to_string())
    } else if crate::faults::strikes(faults, "hold_commit") {
        Err("injected fault: hold_commit".to_string())
    } else {
        match Store::from_env(env) {
            Ok(store) => store
                .batch(&statements)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    };
    if let Err(e) = committed {
        worker::console_error!("split requests not committed ({} of them): {e}", due.len());
        for i in due {
            unsent[i] = totals[i];
        }
    }
}

/// Sleeps `ms` on a timer set in the current request's context (see the module comment).
async fn sleep(ms: i32) -> Result<(), JsValue> {
    let set_timeout = SET_TIMEOUT.with(|t| t.clone())?;
    let mut failed = None;
    let promise = Promise::new(&mut |resolve, _| {
        failed = set_timeout
            .call2(&js_sys::global(), &resolve, &ms.into())
            .err();
    });
    if let Some(e) = failed {
        return Err(e);
    }
    JsFuture::from(promise).await.map(|_| ())
}

thread_local! {
    /// `setTimeout`, looked up once per isolate.
    static SET_TIMEOUT: Result<Function, JsValue> =
        Reflect::get(&js_sys::global(), &"setTimeout".into())?.dyn_into::<Function>();
}
