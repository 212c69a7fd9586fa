//! Group commit for the request path. Concurrent requests of one organisation in one isolate
//! need the same two round trips (the limiter object, then the queue). Instead of one pair per
//! request, an arriving request leads when fewer than `leaders` rounds are in flight (the
//! Worker runs one): it flushes everything waiting, in rounds, while requests that arrive when
//! every leader is busy wait for a later round. No round waits to fill up, so an idle Worker
//! adds no latency and a busy one sends fewer, larger batches.
//!
//! This is only the bookkeeping — who leads, who waits, which waiters go in a round — with the
//! clock passed in, so it is tested here and fuzzed. The Worker adapter (`src/limits/group.rs`)
//! does the I/O and the waiting: waiters poll their own timers and take over a lead that is
//! free. A leader that stops renewing its lease (its context was cancelled) stops counting after
//! `stale_ms`, so one lost leader cannot stall an organisation.

use crate::time::UnixMs;
use std::collections::{HashMap, VecDeque};

/// Identifies one leader's tenure over a group.
pub type LeaseId = u64;

/// What a lease holder gets when it asks for its next round.
#[derive(Debug, PartialEq, Eq)]
pub enum Round<W> {
    /// Flush these waiters (arrival order), then ask again.
    Flush(Vec<W>),
    /// Nobody is waiting: the lease is released and a later arrival leads.
    Done,
    /// The lease went stale and was dropped: stop without touching the group.
    Superseded,
}

#[derive(Debug)]
struct Lease {
    id: LeaseId,
    renewed: UnixMs,
}

#[derive(Debug)]
struct Group<W> {
    leases: Vec<Lease>,
    waiting: VecDeque<W>,
}

/// The groups of one isolate, keyed by organisation.
#[derive(Debug)]
pub struct Groups<W> {
    groups: HashMap<String, Group<W>>,
    next_lease: LeaseId,
    stale_ms: i64,
    leaders: usize,
}

impl<W> Groups<W> {
    /// Groups with at most `leaders` rounds in flight each, whose leases go stale `stale_ms`
    /// after their last renewal.
    pub fn new(stale_ms: i64, leaders: usize) -> Self {
        Groups {
            groups: HashMap::new(),
            next_lease: 1,
            stale_ms,
            leaders: leaders.max(1),
        }
    }

    /// Queues `waiter` for `key`. Returns a lease when the caller must lead (fewer than
    /// `leaders` live leases); otherwise a leader will include the waiter in a round.
    pub fn join(&mut self, key: &str, waiter: W, now: UnixMs) -> Option<LeaseId> {
        self.groups
            .entry(key.to_string())
            .or_insert_with(|| Group {
                leases: Vec::new(),
                waiting: VecDeque::new(),
            })
            .waiting
            .push_back(waiter);
        self.lead_if_free(key, now)
    }

    /// A new lease for `key` when it has waiters and fewer than `leaders` live leases. Leases
    /// not renewed for `stale_ms` (or renewed "in the future": a clock that went backwards) are
    /// dropped first. A waiter calls this each time it polls, to take the lead of a group whose
    /// leader stepped down or went silent.
    pub fn lead_if_free(&mut self, key: &str, now: UnixMs) -> Option<LeaseId> {
        let stale_ms = self.stale_ms;
        let group = self.groups.get_mut(key)?;
        group
            .leases
            .retain(|l| (0..stale_ms).contains(&(now.0 - l.renewed.0)));
        if group.waiting.is_empty() {
            self.forget_if_idle(key);
            return None;
        }
        if group.leases.len() >= self.leaders {
            return None;
        }
        let id = self.next_lease;
        self.next_lease += 1;
        group.leases.push(Lease { id, renewed: now });
        Some(id)
    }

    /// The next round for the holder of `lease`: at most `max` waiters in arrival order, and
    /// the lease renewed. Releasing the lease when nobody waits happens in the same call, so a
    /// request arriving afterwards always finds either a leader or a free slot.
    pub fn next_round(&mut self, key: &str, lease: LeaseId, max: usize, now: UnixMs) -> Round<W> {
        let Some(group) = self.groups.get_mut(key) else {
            return Round::Superseded;
        };
        let Some(held) = group.leases.iter_mut().find(|l| l.id == lease) else {
            return Round::Superseded;
        };
        if group.waiting.is_empty() {
            group.leases.retain(|l| l.id != lease);
            self.forget_if_idle(key);
            return Round::Done;
        }
        held.renewed = now;
        let n = group.waiting.len().min(max.max(1));
        Round::Flush(group.waiting.drain(..n).collect())
    }

    /// Ends the tenure of `lease` early while requests still wait (a leader bounds the work it
    /// does for others); the next waiter to poll [`Groups::lead_if_free`] takes the freed lead.
    /// False when `lease` was no longer held (dropped as stale).
    pub fn step_down(&mut self, key: &str, lease: LeaseId) -> bool {
        let Some(group) = self.groups.get_mut(key) else {
            return false;
        };
        let before = group.leases.len();
        group.leases.retain(|l| l.id != lease);
        let held = group.leases.len() < before;
        self.forget_if_idle(key);
        held
    }

    /// Removes the first waiter of `key` matching `is_it` if it is still waiting (not yet taken
    /// into a round). True when removed: its request was not flushed and never will be.
    pub fn withdraw(&mut self, key: &str, is_it: impl Fn(&W) -> bool) -> bool {
        let Some(group) = self.groups.get_mut(key) else {
            return false;
        };
        let Some(pos) = group.waiting.iter().position(is_it) else {
            return false;
        };
        group.waiting.remove(pos);
        self.forget_if_idle(key);
        true
    }

    /// Organisations with a leader or waiters (bounded by concurrent requests).
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// True when no organisation has a leader or waiters.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    fn forget_if_idle(&mut self, key: &str) {
        if self
            .groups
            .get(key)
            .is_some_and(|g| g.leases.is_empty() && g.waiting.is_empty())
        {
            self.groups.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixMs = UnixMs(1_000_000);

    fn at(ms: i64) -> UnixMs {
        UnixMs(T0.0 + ms)
    }

    #[test]
    fn the_first_arrival_leads_alone_and_releases_when_nobody_waits() {
        let mut g = Groups::new(5_000, 1);
        let lease = g.join("org", 1, T0).expect("first arrival leads");
        assert_eq!(g.next_round("org", lease, 64, T0), Round::Flush(vec![1]));
        assert_eq!(g.next_round("org", lease, 64, T0), Round::Done);
        assert!(g.is_empty(), "an idle group is forgotten");
        assert!(
            g.join("org", 2, at(1)).is_some(),
            "the next arrival leads again"
        );
    }

    #[test]
    fn arrivals_during_a_round_wait_and_go_together_in_the_next() {
        let mut g = Groups::new(5_000, 1);
        let lease = g.join("org", 1, T0).unwrap();
        assert_eq!(g.next_round("org", lease, 64, T0), Round::Flush(vec![1]));
        for w in 2..=5 {
            assert_eq!(g.join("org", w, at(1)), None, "a leader is flushing");
        }
        assert_eq!(
            g.next_round("org", lease, 64, at(2)),
            Round::Flush(vec![2, 3, 4, 5])
        );
        assert_eq!(g.next_round("org", lease, 64, at(3)), Round::Done);
    }

    #[test]
    fn a_round_takes_at_most_max_waiters_in_arrival_order() {
        let mut g = Groups::new(5_000, 1);
        let lease = g.join("org", 0, T0).unwrap();
        for w in 1..10 {
            g.join("org", w, T0);
        }
        assert_eq!(
            g.next_round("org", lease, 4, T0),
            Round::Flush(vec![0, 1, 2, 3])
        );
        assert_eq!(
            g.next_round("org", lease, 4, T0),
            Round::Flush(vec![4, 5, 6, 7])
        );
        assert_eq!(g.next_round("org", lease, 4, T0), Round::Flush(vec![8, 9]));
        assert_eq!(g.next_round("org", lease, 0, T0), Round::Done);
    }

    #[test]
    fn organisations_are_grouped_separately() {
        let mut g = Groups::new(5_000, 1);
        let a = g.join("a", 1, T0).unwrap();
        let b = g
            .join("b", 2, T0)
            .expect("another organisation has its own leader");
        g.join("a", 3, T0);
        assert_eq!(g.next_round("a", a, 64, T0), Round::Flush(vec![1, 3]));
        assert_eq!(g.next_round("b", b, 64, T0), Round::Flush(vec![2]));
        assert_eq!(
            g.next_round("b", a, 64, T0),
            Round::Superseded,
            "a lease is per group"
        );
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn a_stale_leader_is_taken_over_and_cannot_touch_the_group_again() {
        let mut g = Groups::new(5_000, 1);
        let old = g.join("org", 1, T0).unwrap();
        assert_eq!(g.next_round("org", old, 64, T0), Round::Flush(vec![1]));
        assert_eq!(g.join("org", 2, at(4_999)), None, "still live");
        assert_eq!(g.lead_if_free("org", at(4_999)), None);
        let new = g.lead_if_free("org", at(5_000)).expect("stale after 5 s");
        assert_ne!(new, old);
        assert_eq!(g.next_round("org", old, 64, at(6_000)), Round::Superseded);
        assert_eq!(
            g.next_round("org", new, 64, at(6_000)),
            Round::Flush(vec![2])
        );
        assert_eq!(g.next_round("org", old, 64, at(6_000)), Round::Superseded);
        assert_eq!(g.next_round("org", new, 64, at(6_000)), Round::Done);
    }

    #[test]
    fn renewal_keeps_a_slow_leader_live() {
        let mut g = Groups::new(5_000, 1);
        let lease = g.join("org", 1, T0).unwrap();
        g.join("org", 2, T0);
        assert_eq!(
            g.next_round("org", lease, 1, at(4_000)),
            Round::Flush(vec![1])
        );
        g.join("org", 3, at(8_000));
        assert_eq!(g.lead_if_free("org", at(8_999)), None, "renewed at 4 s");
        assert_eq!(
            g.next_round("org", lease, 64, at(8_999)),
            Round::Flush(vec![2, 3])
        );
    }

    #[test]
    fn a_clock_going_backwards_makes_the_lease_stale_not_immortal() {
        let mut g = Groups::new(5_000, 1);
        let old = g.join("org", 1, at(10_000)).unwrap();
        g.next_round("org", old, 64, at(10_000));
        g.join("org", 2, at(10_000));
        assert!(g.lead_if_free("org", T0).is_some());
    }

    #[test]
    fn nobody_leads_a_group_without_waiters() {
        let mut g: Groups<u32> = Groups::new(0, 1);
        assert_eq!(g.lead_if_free("org", T0), None);
        let lease = g.join("org", 1, T0).unwrap();
        g.next_round("org", lease, 64, T0);
        assert_eq!(
            g.lead_if_free("org", at(60_000)),
            None,
            "the taken waiter is not waiting"
        );
    }

    #[test]
    fn withdrawing_removes_only_a_waiter_still_waiting() {
        let mut g = Groups::new(5_000, 1);
        let lease = g.join("org", 1, T0).unwrap();
        g.join("org", 2, T0);
        g.join("org", 3, T0);
        assert!(g.withdraw("org", |w| *w == 2));
        assert!(!g.withdraw("org", |w| *w == 2), "already gone");
        assert!(!g.withdraw("other", |w| *w == 3));
        assert_eq!(g.next_round("org", lease, 64, T0), Round::Flush(vec![1, 3]));
        assert!(
            !g.withdraw("org", |w| *w == 3),
            "taken into a round: too late"
        );
    }

    #[test]
    fn stepping_down_frees_the_group_for_the_first_waiter() {
        let mut g = Groups::new(5_000, 1);
        let lease = g.join("org", 1, T0).unwrap();
        assert_eq!(g.next_round("org", lease, 64, T0), Round::Flush(vec![1]));
        g.join("org", 2, T0);
        g.join("org", 3, T0);
        assert!(g.step_down("org", lease), "the holder steps down");
        assert_eq!(g.next_round("org", lease, 64, T0), Round::Superseded);
        assert!(!g.step_down("org", lease), "only the holder steps down");
        let next = g
            .lead_if_free("org", at(1))
            .expect("the woken waiter leads at once");
        assert_eq!(
            g.next_round("org", next, 64, at(1)),
            Round::Flush(vec![2, 3])
        );
        assert!(g.step_down("org", next), "nobody waits: released");
        assert!(g.is_empty());
    }

    #[test]
    fn with_two_leaders_a_second_round_starts_while_the_first_is_in_flight() {
        let mut g = Groups::new(5_000, 2);
        let a = g.join("org", 1, T0).unwrap();
        assert_eq!(g.next_round("org", a, 64, T0), Round::Flush(vec![1]));
        let b = g
            .join("org", 2, T0)
            .expect("one round in flight: a second leader");
        assert_ne!(a, b);
        assert_eq!(g.join("org", 3, T0), None, "two in flight: wait");
        assert_eq!(g.join("org", 4, T0), None);
        assert_eq!(g.next_round("org", b, 64, T0), Round::Flush(vec![2, 3, 4]));
        g.join("org", 5, T0);
        assert_eq!(g.next_round("org", a, 64, T0), Round::Flush(vec![5]));
        assert_eq!(g.next_round("org", b, 64, T0), Round::Done);
        let c = g.join("org", 6, T0).expect("only a leads: a slot is free");
        assert_eq!(g.next_round("org", a, 64, T0), Round::Flush(vec![6]));
        assert_eq!(g.next_round("org", c, 64, T0), Round::Done);
        assert_eq!(g.next_round("org", a, 64, T0), Round::Done);
        assert!(g.is_empty());
    }

    #[test]
    fn a_stale_leader_frees_its_slot_without_disturbing_the_live_one() {
        let mut g = Groups::new(5_000, 2);
        let live = g.join("org", 1, T0).unwrap();
        let lost = g.join("org", 2, T0).unwrap();
        assert_eq!(g.next_round("org", lost, 64, T0), Round::Flush(vec![1, 2]));
        g.join("org", 3, at(4_000));
        assert_eq!(
            g.next_round("org", live, 64, at(4_000)),
            Round::Flush(vec![3])
        );
        let new = g
            .join("org", 4, at(6_000))
            .expect("the lost lease is stale");
        assert_eq!(g.next_round("org", lost, 64, at(6_000)), Round::Superseded);
        assert_eq!(
            g.next_round("org", new, 64, at(6_000)),
            Round::Flush(vec![4])
        );
        assert_eq!(g.next_round("org", live, 64, at(6_000)), Round::Done);
    }

    #[test]
    fn a_group_whose_only_lease_went_stale_is_forgotten() {
        let mut g = Groups::new(5_000, 1);
        let lost = g.join("org", 1, T0).unwrap();
        assert_eq!(g.next_round("org", lost, 64, T0), Round::Flush(vec![1]));
        assert_eq!(g.lead_if_free("org", at(5_000)), None, "nobody waits");
        assert!(
            g.is_empty(),
            "the stale lease is dropped and the group with it"
        );
        assert_eq!(g.next_round("org", lost, 64, at(5_000)), Round::Superseded);
    }

    #[test]
    fn a_group_is_forgotten_once_its_leader_is_done_and_nobody_waits() {
        let mut g = Groups::new(5_000, 1);
        let lease = g.join("org", 1, T0).unwrap();
        assert_eq!(g.next_round("org", lease, 64, T0), Round::Flush(vec![1]));
        g.join("org", 2, T0);
        assert!(g.withdraw("org", |w| *w == 2));
        assert_eq!(g.len(), 1, "the leader still holds its lease");
        assert_eq!(g.next_round("org", lease, 64, T0), Round::Done);
        assert!(g.is_empty());
    }
}
