//! A small map whose entries expire after a fixed time: the isolate's cache of API-key lookups
//! (and anything else that may be served a few seconds stale). Time is passed in, so the
//! behaviour is deterministic and tested here rather than in the runtime.

use crate::time::UnixMs;
use std::collections::HashMap;
use std::hash::Hash;

/// Entries younger than `ttl_ms` are served; older ones are misses. At `capacity`, expired
/// entries are dropped first and, if that is not enough, everything (a cold cache costs one
/// lookup per key, never a wrong answer), so memory stays bounded whatever keys arrive.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    entries: HashMap<K, (V, UnixMs)>,
    ttl_ms: i64,
    capacity: usize,
}

impl<K: Eq + Hash, V> TtlCache<K, V> {
    /// A cache serving entries for `ttl_ms` (0 disables it), holding at most `capacity`.
    pub fn new(ttl_ms: i64, capacity: usize) -> Self {
        TtlCache {
            entries: HashMap::new(),
            ttl_ms,
            capacity,
        }
    }

    /// Changes the lifetime of entries, old ones included.
    pub fn set_ttl(&mut self, ttl_ms: i64) {
        self.ttl_ms = ttl_ms;
    }

    /// The entry for `key` if it was stored less than the TTL before `now`. A clock that went
    /// backwards makes an entry a miss, not an immortal one.
    pub fn get(&self, key: &K, now: UnixMs) -> Option<&V> {
        let (v, at) = self.entries.get(key)?;
        let age = now.0 - at.0;
        (age >= 0 && age < self.ttl_ms).then_some(v)
    }

    /// Stores `value` for `key` as of `now`.
    pub fn insert(&mut self, key: K, value: V, now: UnixMs) {
        if self.ttl_ms <= 0 || self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            let ttl = self.ttl_ms;
            self.entries.retain(|_, (_, at)| {
                let age = now.0 - at.0;
                age >= 0 && age < ttl
            });
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
        }
        self.entries.insert(key, (value, now));
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// How many entries are held (fresh or not).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_served_until_the_ttl_then_miss() {
        let mut c = TtlCache::new(10_000, 4);
        c.insert("k", 1, UnixMs(1_000));
        assert_eq!(c.get(&"k", UnixMs(1_000)), Some(&1));
        assert_eq!(c.get(&"k", UnixMs(10_999)), Some(&1));
        assert_eq!(
            c.get(&"k", UnixMs(11_000)),
            None,
            "exactly the TTL is stale"
        );
        assert_eq!(c.get(&"k", UnixMs(999)), None, "clock went backwards");
        assert_eq!(c.get(&"other", UnixMs(1_000)), None);
        c.insert("k", 2, UnixMs(20_000));
        assert_eq!(c.get(&"k", UnixMs(20_001)), Some(&2), "refreshed");
        c.remove(&"k");
        assert_eq!(c.get(&"k", UnixMs(20_001)), None);
    }

    #[test]
    fn a_zero_ttl_disables_caching() {
        let mut c = TtlCache::new(0, 4);
        c.insert(1, 1, UnixMs(0));
        assert!(c.is_empty());
        assert_eq!(c.get(&1, UnixMs(0)), None);
        c.set_ttl(5);
        c.insert(1, 1, UnixMs(0));
        assert_eq!(c.get(&1, UnixMs(4)), Some(&1));
        c.set_ttl(1);
        assert_eq!(
            c.get(&1, UnixMs(4)),
            None,
            "a shorter TTL applies to old entries"
        );
    }

    #[test]
    fn capacity_is_a_hard_bound_expired_entries_go_first() {
        let mut c = TtlCache::new(100, 3);
        c.insert(1, (), UnixMs(0));
        c.insert(2, (), UnixMs(50));
        c.insert(3, (), UnixMs(60));
        c.insert(4, (), UnixMs(120)); // 1 expired: dropped, the rest kept
        assert_eq!(c.len(), 3);
        assert!(c.get(&2, UnixMs(120)).is_some() && c.get(&1, UnixMs(120)).is_none());
        c.insert(5, (), UnixMs(121)); // nothing expired: everything goes
        assert_eq!(c.len(), 1);
        assert!(c.get(&5, UnixMs(121)).is_some());
        c.insert(5, (), UnixMs(122)); // an existing key never evicts
        assert_eq!(c.len(), 1);
        for i in 0..1000 {
            c.insert(i, (), UnixMs(200));
            assert!(c.len() <= 3);
        }
    }
}
