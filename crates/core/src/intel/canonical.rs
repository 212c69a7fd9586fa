//! The canonical text of a list, as the refresh stores it: one entry per line in canonical
//! spelling, sorted as text and without duplicates ([`super::canonical_entries`]).
//!
//! Built without a `String` per entry: address entries are written into paged buffers and
//! sorted by their offsets (4 bytes an entry); ASNs are kept as a number whose order is their
//! decimal text's order (8 bytes an ASN). Duplicates are dropped whenever the arrays fill, so the set
//! holds about twice its distinct entries at most, and more than a cap of distinct entries is
//! known as soon as a merge shows it ([`CanonicalSet::over`]).

use super::lists::{Entry, ListKind};
use std::fmt::Write;

/// `10^0 … 10^9` in base 11: the weight of each of the (up to 10) decimal digits of a `u32`.
const POW11: [u64; 10] = {
    let mut p = [1u64; 10];
    let mut i = 8;
    loop {
        p[i] = p[i + 1] * 11;
        if i == 0 {
            break;
        }
        i -= 1;
    }
    p
};

/// A number whose order is the order of `asn`'s decimal text: digit `d` at position `i` adds
/// `(d + 1) × 11^(9 − i)`, and a missing digit adds 0, so a prefix sorts first.
fn text_order_key(asn: u32) -> u64 {
    let mut digits = [0u8; 10];
    let mut n = asn;
    let mut len = 0;
    loop {
        digits[len] = (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    (0..len)
        .map(|i| (u64::from(digits[len - 1 - i]) + 1) * POW11[i])
        .sum()
}

/// Writes the ASN of a [`text_order_key`] as decimal text.
fn write_key(key: u64, out: &mut String) {
    for w in POW11 {
        let d = (key / w) % 11;
        if d == 0 {
            break;
        }
        out.push(char::from(b'0' + (d - 1) as u8));
    }
}

/// Address text is kept in pages of this size (an entry never spans two), so the buffer grows
/// a page at a time instead of being copied into a buffer twice its size.
const PAGE: usize = 64 * 1024;

/// The distinct entries of one list, in canonical text order.
#[derive(Debug)]
pub(super) struct CanonicalSet {
    asn_list: bool,
    /// ASN lists: [`text_order_key`]s.
    keys: Vec<u64>,
    /// Address lists: every entry's text followed by `\n`, in pages of [`PAGE`] bytes, and
    /// where each starts (`page × PAGE + offset`).
    pages: Vec<Vec<u8>>,
    starts: Vec<u32>,
    /// The entry being written.
    scratch: String,
    /// Distinct entries counted at the last merge.
    distinct: usize,
}

impl CanonicalSet {
    pub(super) fn new(kind: ListKind) -> Self {
        CanonicalSet {
            asn_list: kind.is_asn_list(),
            keys: Vec::new(),
            pages: Vec::new(),
            starts: Vec::new(),
            scratch: String::new(),
            distinct: 0,
        }
    }

    pub(super) fn add(&mut self, entry: Entry) {
        match entry {
            Entry::Asn(asn) => {
                if self.keys.len() == self.keys.capacity() && self.keys.len() >= 1024 {
                    self.merge();
                    if self.keys.len() > self.keys.capacity() / 2 {
                        self.keys.reserve(self.keys.capacity());
                    }
                }
                self.keys.push(text_order_key(asn));
            }
            Entry::Net(net) => {
                if self.starts.len() == self.starts.capacity() && self.starts.len() >= 1024 {
                    self.merge();
                    if self.starts.len() > self.starts.capacity() / 2 {
                        self.starts.reserve(self.starts.capacity());
                    }
                }
                self.scratch.clear();
                // Writing to a String cannot fail.
                let _ = if net.prefix_len() == net.max_prefix_len() {
                    write!(self.scratch, "{}", net.addr())
                } else {
                    write!(self.scratch, "{net}")
                };
                let need = self.scratch.len() + 1;
                if self.pages.last().is_none_or(|p| p.len() + need > PAGE) {
                    self.pages.push(Vec::with_capacity(PAGE));
                }
                let page = self.pages.len() - 1;
                let p = &mut self.pages[page];
                let start = page * PAGE + p.len();
                p.extend_from_slice(self.scratch.as_bytes());
                p.push(b'\n');
                self.starts
                    .push(u32::try_from(start).expect("list text under 4 GiB"));
            }
        }
    }

    /// Whether more than `cap` distinct entries were added (known from the last merge; after
    /// [`Self::finish`]'s merge it is exact).
    pub(super) fn over(&self, cap: usize) -> bool {
        self.distinct > cap
    }

    /// The entry starting at `start`, without its newline.
    fn entry(&self, start: u32) -> &[u8] {
        entry(&self.pages, start)
    }

    /// Drops duplicates. The address text is compacted in place: the distinct entries move
    /// towards the front in the order they were added (packed into pages the same way, so an
    /// entry never moves to a later place), and emptied pages are freed.
    fn merge(&mut self) {
        if self.asn_list {
            self.keys.sort_unstable();
            self.keys.dedup();
            self.distinct = self.keys.len();
            return;
        }
        let pages = &self.pages;
        self.starts.sort_unstable_by(|a, b| compare(pages, *a, *b));
        self.starts.dedup_by(|a, b| compare(pages, *a, *b).is_eq());
        self.starts.sort_unstable();
        let (mut to_page, mut to) = (0, 0);
        for start in &mut self.starts {
            let (page, from) = (*start as usize / PAGE, *start as usize % PAGE);
            let len = entry(&self.pages, *start).len() + 1;
            if to + len > PAGE {
                (to_page, to) = (to_page + 1, 0);
            }
            debug_assert!((to_page, to) <= (page, from));
            if to_page == page {
                self.pages[page].copy_within(from..from + len, to);
            } else {
                // Every entry of the earlier page up to here has been moved already.
                let (front, back) = self.pages.split_at_mut(page);
                let dst = &mut front[to_page];
                dst.truncate(to);
                dst.extend_from_slice(&back[0][from..from + len]);
            }
            *start = (to_page * PAGE + to) as u32;
            to += len;
        }
        if self.starts.is_empty() {
            self.pages.clear();
        } else {
            self.pages.truncate(to_page + 1);
            self.pages[to_page].truncate(to);
        }
        self.distinct = self.starts.len();
    }

    /// The canonical text (each entry followed by `\n`) and its number of entries.
    pub(super) fn finish(mut self) -> (String, usize) {
        self.merge();
        let mut out = String::new();
        if self.asn_list {
            out.reserve_exact(self.keys.len() * 7);
            for key in &self.keys {
                write_key(*key, &mut out);
                out.push('\n');
            }
            return (out, self.distinct);
        }
        let pages = &self.pages;
        self.starts.sort_unstable_by(|a, b| compare(pages, *a, *b));
        let mut text = Vec::with_capacity(pages.iter().map(Vec::len).sum());
        for start in &self.starts {
            text.extend_from_slice(self.entry(*start));
            text.push(b'\n');
        }
        // Entries are the Display text of addresses and CIDRs: ASCII.
        out = String::from_utf8(text).expect("ASCII entries");
        (out, self.distinct)
    }
}

/// The order of the entries starting at `a` and `b` as text. Compared with their newlines:
/// `\n` sorts before every character an entry has, so a prefix sorts first, as in `str`'s
/// order.
fn compare(pages: &[Vec<u8>], a: u32, b: u32) -> std::cmp::Ordering {
    let at = |s: u32| &pages[s as usize / PAGE][s as usize % PAGE..];
    for (x, y) in at(a).iter().zip(at(b)) {
        if x != y || *x == b'\n' {
            return x.cmp(y);
        }
    }
    std::cmp::Ordering::Equal // unreachable: every entry ends in a newline
}

/// The entry starting at `start` (`page × PAGE + offset`), without its newline.
fn entry(pages: &[Vec<u8>], start: u32) -> &[u8] {
    let rest = &pages[start as usize / PAGE][start as usize % PAGE..];
    &rest[..rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn_keys_sort_like_their_decimal_text() {
        let mut asns: Vec<u32> = vec![0, 1, 2, 9, 10, 11, 19, 100, 9009, 60068, 4_294_967_295];
        asns.extend((0..2_000).map(|i| i * 2_147_483 + 7));
        let mut by_text = asns.clone();
        by_text.sort_by_key(|a| a.to_string());
        let mut by_key = asns.clone();
        by_key.sort_by_key(|a| text_order_key(*a));
        assert_eq!(by_key, by_text);
        for a in asns {
            let mut s = String::new();
            write_key(text_order_key(a), &mut s);
            assert_eq!(s, a.to_string());
        }
    }

    #[test]
    fn compacting_pages_in_place_keeps_every_distinct_entry() {
        // Entries of many lengths over many pages, each drawn several times in a scrambled
        // order, so merges move entries within and across pages.
        let mut set = CanonicalSet::new(ListKind::DatacenterCidrs);
        let mut want = std::collections::BTreeSet::new();
        let mut x: u64 = 7;
        for _ in 0..60_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (x >> 33) % 20_000;
            let net: ipnet::IpNet = match i % 3 {
                0 => format!("2001:db8:{:x}:{:x}::{:x}/128", i, i * 7 % 65_536, i + 1),
                _ => format!("10.{}.{}.0/24", i / 256, i % 256),
            }
            .parse()
            .unwrap();
            let text = if net.prefix_len() == net.max_prefix_len() {
                net.addr().to_string()
            } else {
                net.to_string()
            };
            want.insert(text);
            set.add(Entry::Net(net));
        }
        assert!(set.pages.len() > 1);
        let (text, n) = set.finish();
        assert_eq!(n, want.len());
        let want: Vec<String> = want.into_iter().collect();
        assert_eq!(text, want.join("\n") + "\n");
    }

    #[test]
    fn the_set_sorts_as_text_and_drops_duplicates_across_merges() {
        // Enough entries to merge several times, every one twice.
        let mut set = CanonicalSet::new(ListKind::TorExits);
        let mut want = Vec::new();
        for i in 0..5_000u32 {
            let addr = std::net::Ipv4Addr::from(0x0a00_0000 + i * 7);
            want.push(addr.to_string());
            for _ in 0..2 {
                set.add(Entry::Net(format!("{addr}/32").parse().unwrap()));
            }
        }
        set.add(Entry::Net("2001:db8::/32".parse().unwrap()));
        want.push("2001:db8::/32".into());
        want.sort();
        assert!(!set.over(10_000));
        let (text, n) = set.finish();
        assert_eq!(n, 5_001);
        assert_eq!(text, want.join("\n") + "\n");

        let mut set = CanonicalSet::new(ListKind::VpnAsns);
        for i in (1..=3_000u32).chain(1..=3_000) {
            set.add(Entry::Asn(i));
        }
        assert!(set.over(2_000), "a merge showed more than 2,000");
        let (text, n) = set.finish();
        let mut want: Vec<String> = (1..=3_000u32).map(|i| i.to_string()).collect();
        want.sort();
        assert_eq!((text, n), (want.join("\n") + "\n", 3_000));
    }
}
