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

use crate::d1::Primary;
use crate::limits::LimiterClient;
use crate::queue::OutQueue;
use edgesoc_core::access::ids::OrgId;
use edgesoc_core::faults::Faults;
use edgesoc_core::limits::group::{Groups, LeaseId, Round};
use edgesoc_core::limits::round::{self, RoundEnv};
pub use edgesoc_core::limits::round::{Claim, Settled};
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

/// One round (`edgesoc_core::limits::round`) over this organisation's bindings.
async fn flush(env: &Env, org: &OrgId, faults: &Faults, claims: Vec<Claim>) -> Vec<Settled> {
    let queue = OutQueue::from_env(env, crate::ingest::QUEUE, faults.clone());
    let store = Primary::open(env).map_err(|e| e.to_string());
    let strikes = |name: &str| crate::faults::strikes(faults, name);
    let round = RoundEnv {
        org,
        limiter: LimiterClient::for_org(env, org, faults.clone()),
        queue: queue.as_ref().map_err(Clone::clone),
        db: store.as_ref().map_err(Clone::clone),
        now: &now,
        strikes: &strikes,
    };
    let (settled, notes) = round::run(round, claims).await;
    for note in notes {
        worker::console_error!("group commit for {}: {note}", org.0);
    }
    settled
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
