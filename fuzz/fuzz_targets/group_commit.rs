//! Group commit's bookkeeping and send accounting: `group::Groups` driven by a random sequence of
//! arrivals, rounds, hand-overs, withdrawals and clock moves, and `message::{send_chunks,
//! unsent_events}` over random requests.
//!
//! Input: byte 0 picks the number of leaders (1–4); then one operation per byte (low 3 bits: the
//! operation, high bits: its argument); after a 0x1F byte, pairs of bytes give each request's
//! message count and message size.
//!
//! Checks, beyond "no panic":
//! * every request that joined is flushed in exactly one round or withdrawn, never both, and
//!   after the leaders finish and a late leader drains the rest, none is left behind;
//! * no more than `leaders` leases are live at once; rounds hold at most `max` waiters, in
//!   arrival order per round;
//! * the chunks cover every message once, in order; none exceeds the limits unless it is a
//!   piece of one request too large alone; a request that fits alone is never cut;
//! * after a send stopped at a chunk boundary, each request's unsent events are exactly its
//!   events in unsent messages, and the sent ones are a prefix.
#![no_main]

use edgesoc_core::limits::group::{Groups, LeaseId, Round};
use edgesoc_core::ingest::message::{send_chunks, unsent_events, Packed};
use edgesoc_core::time::UnixMs;
use edgesoc_fuzz::fields;
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

const STALE_MS: i64 = 1_000;
const KEYS: [&str; 2] = ["a", "b"];

fuzz_target!(|data: &[u8]| {
    let f = fields(data);
    let ops = f.first().copied().unwrap_or_default();
    groups(ops);
    chunks(f.get(1).copied().unwrap_or_default());
});

fn groups(ops: &[u8]) {
    let leaders = 1 + ops.first().map_or(0, |b| *b as usize % 4);
    let mut g: Groups<u32> = Groups::new(STALE_MS, leaders);
    let mut now = 0i64;
    let mut next = 0u32;
    let mut held: Vec<(usize, LeaseId, i64)> = Vec::new(); // (key, lease, last renewal)
    let mut ledger = Ledger::default();
    let mut joined = Vec::new();
    for &b in ops.iter().skip(1) {
        let (op, arg) = (b & 7, (b >> 3) as usize);
        let key = arg % 2;
        match op {
            0 | 1 => {
                let id = next;
                next += 1;
                joined.push((key, id));
                if let Some(lease) = g.join(KEYS[key], id, UnixMs(now)) {
                    held.push((key, lease, now));
                }
            }
            2 | 3 if !held.is_empty() => {
                let i = arg % held.len();
                let (k, lease, _) = held[i];
                match ledger.round(&mut g, k, lease, 1 + arg % 5, now) {
                    Round::Flush(_) => held[i].2 = now,
                    Round::Done | Round::Superseded => {
                        held.remove(i);
                    }
                }
            }
            4 if !held.is_empty() => {
                let (k, lease, _) = held.remove(arg % held.len());
                let _ = g.step_down(KEYS[k], lease);
            }
            5 => {
                let target = arg as u32;
                if g.withdraw(KEYS[key], |w| *w == target) {
                    assert!(!ledger.flushed.contains(&target));
                    assert!(ledger.withdrawn.insert(target));
                }
            }
            6 => {
                if let Some(lease) = g.lead_if_free(KEYS[key], UnixMs(now)) {
                    held.push((key, lease, now));
                }
            }
            _ => now += (arg as i64) * 97,
        }
        for k in 0..KEYS.len() {
            let live = held
                .iter()
                .filter(|(hk, _, at)| *hk == k && (0..STALE_MS).contains(&(now - at)))
                .count();
            assert!(live <= leaders, "{live} live leases over {leaders}");
        }
    }
    // The leaders finish; then whoever is left is led by a late arrival's check.
    for (k, lease, _) in std::mem::take(&mut held) {
        while let Round::Flush(_) = ledger.round(&mut g, k, lease, 3, now) {}
    }
    now += STALE_MS;
    for (k, key) in KEYS.iter().enumerate() {
        while let Some(lease) = g.lead_if_free(key, UnixMs(now)) {
            while let Round::Flush(_) = ledger.round(&mut g, k, lease, 3, now) {}
        }
    }
    for (_, id) in joined {
        assert!(
            ledger.flushed.contains(&id) != ledger.withdrawn.contains(&id),
            "waiter {id} was lost or counted twice"
        );
    }
    assert!(g.is_empty(), "an idle group is forgotten");
}

/// Which waiters left their group, and how.
#[derive(Default)]
struct Ledger {
    flushed: HashSet<u32>,
    withdrawn: HashSet<u32>,
}

impl Ledger {
    fn round(
        &mut self,
        g: &mut Groups<u32>,
        key: usize,
        lease: LeaseId,
        max: usize,
        now: i64,
    ) -> Round<u32> {
        let r = g.next_round(KEYS[key], lease, max, UnixMs(now));
        if let Round::Flush(ws) = &r {
            assert!(!ws.is_empty() && ws.len() <= max.max(1));
            assert!(ws.windows(2).all(|p| p[0] < p[1]), "arrival order");
            for w in ws {
                assert!(self.flushed.insert(*w), "waiter {w} flushed twice");
                assert!(
                    !self.withdrawn.contains(w),
                    "waiter {w} flushed after withdrawal"
                );
            }
        }
        r
    }
}

fn chunks(spec: &[u8]) {
    let requests: Vec<Vec<Packed>> = spec
        .chunks(2)
        .take(64)
        .map(|p| {
            let n = p[0] as usize % 8;
            let size = 1 + p.get(1).map_or(0, |b| *b as usize);
            (0..n)
                .map(|i| Packed {
                    body: "x".repeat(size),
                    events: 1 + (i + size) % 25,
                })
                .collect()
        })
        .collect();
    let refs: Vec<&[Packed]> = requests.iter().map(Vec::as_slice).collect();
    let (max_messages, max_bytes) = (1 + spec.len() % 7, 64 + spec.len() * 5);
    let ranges = send_chunks(&refs, max_messages, max_bytes);
    let flat: Vec<&Packed> = refs.iter().flat_map(|r| r.iter()).collect();
    let mut owner = Vec::new(); // message index -> request index
    for (i, r) in refs.iter().enumerate() {
        owner.extend(std::iter::repeat_n(i, r.len()));
    }
    let mut at = 0;
    for range in &ranges {
        assert_eq!(range.start, at, "chunks cover every message once, in order");
        assert!(range.end > range.start);
        at = range.end;
        let size: usize = flat[range.clone()].iter().map(|p| p.body.len()).sum();
        let one_request = owner[range.start] == owner[range.end - 1];
        assert!(
            (range.len() <= max_messages && size <= max_bytes) || one_request,
            "an oversize chunk must be a piece of one request"
        );
    }
    assert_eq!(at, flat.len());
    for (i, r) in refs.iter().enumerate() {
        let size: usize = r.iter().map(|p| p.body.len()).sum();
        if r.is_empty() || r.len() > max_messages || size > max_bytes {
            continue;
        }
        let first = owner.iter().position(|o| *o == i).unwrap_or(0);
        let last = first + r.len() - 1;
        assert!(
            ranges
                .iter()
                .any(|c| c.contains(&first) && c.contains(&last)),
            "request {i} fits alone but was cut"
        );
    }
    for stop in std::iter::once(0).chain(ranges.iter().map(|c| c.end)) {
        let unsent = unsent_events(&refs, stop);
        for (i, r) in refs.iter().enumerate() {
            let first = owner.iter().position(|o| *o == i).unwrap_or(flat.len());
            let expected: usize = r
                .iter()
                .enumerate()
                .filter(|(j, _)| first + j >= stop)
                .map(|(_, p)| p.events)
                .sum();
            assert_eq!(unsent[i], expected, "request {i} after a stop at {stop}");
        }
    }
}
