//! The compact, matching form of one network list: what an isolate holds in memory.
//!
//! An address list is two sorted arrays of disjoint, non-adjacent inclusive ranges, IPv4 as
//! `(u32, u32)` (8 bytes a range) and IPv6 as `(u128, u128)` (32 bytes); an ASN list is a
//! sorted array of `u32` (4 bytes an ASN). No entry has a heap object of its own, a lookup is a
//! binary search, and [`CompactList::bytes`] is the memory the list holds, which the refresh
//! budgets ([`super::refresh::MAX_LIST_BYTES`]). The CIDR math (a prefix's first and last
//! address) is `ipnet`'s.
//!
//! Builders merge as they go: when their array is full they sort and merge it in place before
//! growing, so building a list needs about twice its final size, not one slot per line read.

use ipnet::IpNet;
use std::net::IpAddr;

/// One bound of a range: `u32` (IPv4) or `u128` (IPv6).
trait Bound: Copy + Ord {
    /// The next value, `None` at the top of the address space.
    fn next(self) -> Option<Self>;
}

impl Bound for u32 {
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
}

impl Bound for u128 {
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
}

/// Sorts `ranges` and merges overlapping and adjacent ones in place: the result is sorted,
/// disjoint and has a gap between any two ranges, so at most one range holds a value.
fn merge<T: Bound>(ranges: &mut Vec<(T, T)>) {
    if ranges.len() < 2 {
        return;
    }
    ranges.sort_unstable();
    let mut last = 0;
    for i in 1..ranges.len() {
        let (start, end) = ranges[i];
        let touches = ranges[last].1.next().is_none_or(|after| start <= after);
        if touches {
            ranges[last].1 = ranges[last].1.max(end);
        } else {
            last += 1;
            ranges[last] = (start, end);
        }
    }
    ranges.truncate(last + 1);
}

/// Whether the merged, sorted `ranges` hold `value`.
fn holds<T: Bound>(ranges: &[(T, T)], value: T) -> bool {
    let i = ranges.partition_point(|r| r.0 <= value);
    i > 0 && value <= ranges[i - 1].1
}

/// Appends `item` to a vector that is merged (by `compact`) instead of grown while compacting
/// frees at least half of it.
fn push_compacting<T>(v: &mut Vec<T>, item: T, compact: fn(&mut Vec<T>)) {
    if v.len() == v.capacity() && v.len() >= 1024 {
        compact(v);
        if v.len() > v.capacity() / 2 {
            v.reserve(v.capacity());
        }
    }
    v.push(item);
}

fn boxed<T>(mut v: Vec<T>) -> Box<[T]> {
    v.shrink_to_fit();
    v.into_boxed_slice()
}

/// A network list in matching form: address ranges and ASNs (a list holds one or the other).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct CompactList {
    v4: Box<[(u32, u32)]>,
    v6: Box<[(u128, u128)]>,
    asns: Box<[u32]>,
    /// Entries as read: value lines of an address list (before merging), distinct ASNs.
    entries: usize,
}

impl CompactList {
    /// Whether `ip` (canonical: IPv4-mapped IPv6 already made IPv4) or `asn` is listed.
    pub(super) fn matches(&self, ip: IpAddr, asn: Option<u32>) -> bool {
        let by_ip = match ip {
            IpAddr::V4(v4) => holds(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => holds(&self.v6, u128::from(v6)),
        };
        by_ip || asn.is_some_and(|a| self.asns.binary_search(&a).is_ok())
    }

    pub(super) fn entries(&self) -> usize {
        self.entries
    }

    /// The bytes the list's arrays hold: 8 per IPv4 range, 32 per IPv6 range, 4 per ASN.
    pub(super) fn bytes(&self) -> usize {
        Self::size(self.v4.len(), self.v6.len(), self.asns.len())
    }

    /// What [`Self::bytes`] is for a list of this many IPv4 ranges, IPv6 ranges and ASNs.
    pub(super) fn size(v4: usize, v6: usize, asns: usize) -> usize {
        v4 * std::mem::size_of::<(u32, u32)>()
            + v6 * std::mem::size_of::<(u128, u128)>()
            + asns * std::mem::size_of::<u32>()
    }

    /// `(IPv4 ranges, IPv6 ranges, ASNs)`.
    #[cfg(test)]
    pub(super) fn counts(&self) -> (usize, usize, usize) {
        (self.v4.len(), self.v6.len(), self.asns.len())
    }
}

/// Builds a [`CompactList`] one entry at a time.
#[derive(Debug, Default)]
pub(super) struct Builder {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    asns: Vec<u32>,
    nets: usize,
}

fn dedup_asns(v: &mut Vec<u32>) {
    v.sort_unstable();
    v.dedup();
}

impl Builder {
    /// Adds a prefix: the range from its network to its broadcast address.
    pub(super) fn net(&mut self, net: IpNet) {
        self.nets += 1;
        match net {
            IpNet::V4(n) => push_compacting(
                &mut self.v4,
                (n.network().into(), n.broadcast().into()),
                merge,
            ),
            IpNet::V6(n) => push_compacting(
                &mut self.v6,
                (n.network().into(), n.broadcast().into()),
                merge,
            ),
        }
    }

    pub(super) fn asn(&mut self, asn: u32) {
        push_compacting(&mut self.asns, asn, dedup_asns);
    }

    /// The size the list would have now ([`CompactList::bytes`]), merging what was added.
    pub(super) fn bytes(&mut self) -> usize {
        self.compact();
        CompactList::size(self.v4.len(), self.v6.len(), self.asns.len())
    }

    fn compact(&mut self) {
        merge(&mut self.v4);
        merge(&mut self.v6);
        dedup_asns(&mut self.asns);
    }

    pub(super) fn finish(mut self) -> CompactList {
        self.compact();
        CompactList {
            entries: self.nets + self.asns.len(),
            v4: boxed(self.v4),
            v6: boxed(self.v6),
            asns: boxed(self.asns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> CompactList {
        let mut b = Builder::default();
        for n in list {
            b.net(n.parse().unwrap());
        }
        b.finish()
    }

    /// The old semantics, by brute force: any prefix contains the address.
    fn naive(list: &[&str], addr: IpAddr) -> bool {
        list.iter()
            .any(|n| n.parse::<IpNet>().unwrap().contains(&addr))
    }

    #[test]
    fn overlapping_and_adjacent_prefixes_merge_into_one_range() {
        let list = [
            "192.0.2.0/25",
            "192.0.2.128/25", // adjacent: one /24
            "192.0.2.7/32",   // inside
            "198.51.100.0/24",
            "198.51.100.64/26", // inside
            "198.51.101.0/24",  // adjacent to the one before
            "203.0.113.0/32",
            "203.0.113.2/32", // a gap of one address: two ranges
        ];
        let l = nets(&list);
        assert_eq!(l.counts(), (4, 0, 0));
        assert_eq!(l.entries(), list.len());
        assert_eq!(l.bytes(), 4 * 8);
        for (s, want) in [
            ("192.0.1.255", false),
            ("192.0.2.0", true),
            ("192.0.2.255", true),
            ("192.0.3.0", false),
            ("198.51.99.255", false),
            ("198.51.100.0", true),
            ("198.51.101.255", true),
            ("198.51.102.0", false),
            ("203.0.113.0", true),
            ("203.0.113.1", false),
            ("203.0.113.2", true),
            ("203.0.113.3", false),
        ] {
            assert_eq!(l.matches(ip(s), None), want, "{s}");
            assert_eq!(naive(&list, ip(s)), want, "{s}");
        }
    }

    #[test]
    fn ranges_at_the_ends_of_the_address_space() {
        let list = [
            "0.0.0.0/8",
            "255.255.255.255/32",
            "255.255.255.0/24",
            "::/16",
            "ffff::/16",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
        ];
        let l = nets(&list);
        assert_eq!(l.counts(), (2, 2, 0));
        for s in [
            "0.0.0.0",
            "0.255.255.255",
            "255.255.255.255",
            "255.255.255.0",
            "::",
            "0:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "ffff::",
        ] {
            assert!(l.matches(ip(s), None), "{s}");
        }
        for s in ["1.0.0.0", "255.255.254.255", "1::", "fffe:ffff::"] {
            assert!(!l.matches(ip(s), None), "{s}");
        }
    }

    #[test]
    fn the_builder_merges_as_it_goes_and_matches_the_naive_lookup() {
        // Enough entries to compact many times; the ends of every 97th entry and the addresses
        // just outside them are probed.
        let mut list: Vec<IpNet> = Vec::new();
        for i in 0..20_000u32 {
            let a = 0x0a00_0000 + i * 3 + (i % 7) * 1_000_000;
            list.push(
                format!("{}/32", std::net::Ipv4Addr::from(a))
                    .parse()
                    .unwrap(),
            );
            if i % 5 == 0 {
                let net = format!("{}/30", std::net::Ipv4Addr::from(a & !3));
                list.push(net.parse().unwrap());
            }
            if i % 11 == 0 {
                list.push(format!("2001:db8:{:x}::/48", i % 4096).parse().unwrap());
            }
        }
        let mut b = Builder::default();
        let mut most = 0;
        for net in &list {
            b.net(*net);
            most = most.max(b.v4.capacity() + b.v6.capacity());
        }
        let l = b.finish();
        let (v4, v6, _) = l.counts();
        // Never much more than twice what merging leaves.
        assert!(
            most <= 2 * (v4 + v6) + 2_048,
            "{most} slots for {v4} + {v6}"
        );
        let mut one_pass: Vec<(u32, u32)> = list
            .iter()
            .filter_map(|n| match n {
                IpNet::V4(n) => Some((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(_) => None,
            })
            .collect();
        merge(&mut one_pass);
        assert_eq!(&*l.v4, one_pass.as_slice());
        let naive = |addr: IpAddr| list.iter().any(|n| n.contains(&addr));
        for net in list.iter().step_by(97) {
            let mut probes = vec![net.network(), net.broadcast()];
            if let IpNet::V4(n) = net {
                for v in [
                    u32::from(n.network()).wrapping_sub(1),
                    u32::from(n.broadcast()).wrapping_add(1),
                ] {
                    probes.push(IpAddr::V4(v.into()));
                }
            }
            for probe in probes {
                assert_eq!(l.matches(probe, None), naive(probe), "{probe}");
            }
        }
    }

    #[test]
    fn asns_are_a_sorted_set() {
        let mut b = Builder::default();
        for a in (0..5_000u32).rev().chain([7, 7, 4_999]) {
            b.asn(a * 2 + 1);
        }
        let l = b.finish();
        assert_eq!(l.counts(), (0, 0, 5_000));
        assert_eq!((l.entries(), l.bytes()), (5_000, 20_000));
        let any = ip("192.0.2.1");
        assert!(l.matches(any, Some(1)) && l.matches(any, Some(9_999)));
        assert!(!l.matches(any, Some(2)) && !l.matches(any, Some(10_001)));
        assert!(!l.matches(any, None));
    }
}
