//! The IP table lookup and the address checks around it (docs/api.md §7.2): `ip_key`,
//! `location_from_rows`, `enrichment::{source, from_cf, ip_table_answers}`, `classify_ip`,
//! `NetworkLists::from_texts` / `flags`.
//!
//! Input: fields separated by 0x1F — address `a`, address `b` (text; an unparsable field
//! becomes an address from its raw bytes for the key-order check), a JSON value (a `cf`
//! object; `{"city": row, "asn": row, "key": k}` for `location_from_rows`; an array of row
//! arrays for `ip_table_answers`), and a list text (the `from_texts` format).
//!
//! Checks, beyond "no panic":
//! * `ip_key` order equals (family, numeric) order for two addresses; keys are fixed width
//!   lowercase hex; mapped IPv6 has its IPv4 key;
//! * `classify_ip` is `Invalid` exactly when std cannot parse the text, and a public address
//!   is the canonical parse (and classifies the same again);
//! * `source` only picks public addresses: `IpTable` for a public `user_ip` that is not the
//!   caller, `Cf` for the caller's own;
//! * locations: country codes are two ASCII capitals (`cf`: two bytes, not T1/XX), latitude
//!   within ±90, longitude within ±180, ASN ≥ 1, texts trimmed and non-empty, and a table row
//!   is used only when its range covers the key;
//! * a list text that loads has as many entries as value lines, and flags each address/ASN
//!   it lists;
//! * differential: the compact lists (merged ranges searched by bisection, a sorted ASN array)
//!   flag exactly the addresses and ASNs a naive loop over the entries flags (prefix
//!   containment written here with std only), probed at the fuzzed address, at the first and
//!   last address of every entry and just outside them, and as IPv4-mapped IPv6.
#![no_main]

use edgesoc_core::intel::enrichment::{from_cf, ip_table_answers, scored_ip, source, Source};
use edgesoc_core::intel::{
    classify_ip, AsnInfo, IpClass, ListKind, ListTexts, LocationInfo, NetworkLists, ParsedList,
};
use edgesoc_core::intel::ipdb::{ip_key, location_from_rows, AsnRow, CityRow};
use edgesoc_fuzz::{field, fields};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fuzz_target!(|data: &[u8]| {
    let f = fields(data);
    let a_text = field(&f, 0).unwrap_or_default();
    let b_text = field(&f, 1);

    // classify_ip on arbitrary strings
    for s in std::iter::once(&a_text).chain(b_text.as_ref()) {
        check_classify_ip(s);
    }

    // ip_key order
    let a = ip_of(f.first().copied().unwrap_or_default());
    let b = ip_of(f.get(1).copied().unwrap_or_default());
    if let (Some(a), Some(b)) = (a, b) {
        check_key(a);
        check_key(b);
        assert_eq!(
            ip_key(a).cmp(&ip_key(b)),
            numeric(a).cmp(&numeric(b)),
            "key order of {a} and {b}"
        );
    }

    // source
    check_source(Some(&a_text), b_text.as_deref());
    check_source(None, Some(&a_text));
    check_source(Some(&a_text), None);

    // JSON: cf object, lookup rows, batch answers
    let json: Value = f
        .get(2)
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or(Value::Null);
    let (loc, asn) = from_cf(&json);
    check_location(&loc, true);
    check_asn(&asn);

    let key = json
        .get("key")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| ip_key(a.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))));
    let city: Option<CityRow> = json
        .get("city")
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let asn_row: Option<AsnRow> = json
        .get("asn")
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let covers = |start: &str, end: &str| {
        start.len() == key.len() && start <= key.as_str() && key.as_str() <= end
    };
    let city_covers = city
        .as_ref()
        .is_some_and(|r| covers(&r.ip_start, &r.ip_end));
    let asn_covers = asn_row
        .as_ref()
        .is_some_and(|r| covers(&r.ip_start, &r.ip_end));
    let (location, network) = location_from_rows(city, asn_row, &key);
    if let Some(l) = location {
        assert!(city_covers, "location from a row not covering {key:?}");
        let info = LocationInfo {
            city: l.city,
            region: l.region,
            country_code: l.country_code,
            country_name: None,
            latitude: l.latitude,
            longitude: l.longitude,
            timezone: None,
        };
        assert!(!info.is_empty(), "empty location is Some");
        check_location(&info, false);
    }
    if let Some((asn, org)) = network {
        assert!(asn_covers, "ASN from a row not covering {key:?}");
        assert!(asn >= 1);
        if let Some(o) = org {
            assert!(!o.is_empty() && o.trim() == o, "org {o:?}");
        }
    }

    if let Value::Array(items) = &json {
        let rows: Vec<Vec<Value>> = items.iter().filter_map(|v| v.as_array().cloned()).collect();
        for (_key, (loc, asn)) in ip_table_answers(rows) {
            check_location(&loc, false);
            check_asn(&asn);
            assert!(
                !loc.is_empty() || asn.asn.is_some(),
                "answer with nothing in it"
            );
        }
    }

    // list texts
    if let Some(text) = field(&f, 3) {
        check_lists(&text, a.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
    }
});

/// The address of a field: its text if it parses, else its first 16 (IPv6) or 4 (IPv4) bytes.
fn ip_of(b: &[u8]) -> Option<IpAddr> {
    if let Some(ip) = std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()) {
        return Some(ip);
    }
    if let Some(v6) = b.get(..16) {
        Some(IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(v6).unwrap(),
        )))
    } else {
        b.get(..4)
            .map(|v4| IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(v4).unwrap())))
    }
}

fn numeric(ip: IpAddr) -> (u8, u128) {
    match ip.to_canonical() {
        IpAddr::V4(v4) => (4, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (6, u128::from(v6)),
    }
}

fn check_key(ip: IpAddr) {
    let k = ip_key(ip);
    let (family, width) = match ip.to_canonical() {
        IpAddr::V4(_) => ('4', 9),
        IpAddr::V6(_) => ('6', 33),
    };
    assert_eq!(k.len(), width, "{ip}: {k}");
    assert!(k.starts_with(family), "{ip}: {k}");
    assert!(
        k.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
        "{ip}: {k}"
    );
    assert_eq!(ip_key(ip.to_canonical()), k);
}

fn check_classify_ip(s: &str) {
    let class = classify_ip(s);
    match s.parse::<IpAddr>() {
        Err(_) => assert_eq!(class, IpClass::Invalid, "{s:?}"),
        Ok(ip) => {
            let canon = ip.to_canonical();
            match class {
                IpClass::Invalid => panic!("{s:?} parses but is Invalid"),
                IpClass::Public(p) => {
                    assert_eq!(p, canon, "{s:?}");
                    assert_eq!(classify_ip(&p.to_string()), class, "{s:?}");
                }
                IpClass::NonPublic => {
                    assert_eq!(classify_ip(&canon.to_string()), class, "{s:?}");
                }
            }
        }
    }
}

fn check_source(user_ip: Option<&str>, caller_ip: Option<&str>) {
    let src = source(user_ip, caller_ip);
    let caller = caller_ip.and_then(|c| classify_ip(c.trim()).public());
    match (&src, user_ip) {
        (Source::IpTable(ip), Some(u)) => {
            assert_eq!(classify_ip(u), IpClass::Public(*ip), "{src:?}");
            assert_ne!(Some(*ip), caller, "{src:?}");
        }
        (Source::IpTable(_), None) => panic!("IpTable without user_ip"),
        (Source::Cf(ip), _) => {
            assert_eq!(Some(*ip), caller, "{src:?} for caller {caller_ip:?}");
            if let Some(u) = user_ip {
                assert_eq!(classify_ip(u), IpClass::Public(*ip), "{src:?}");
            }
        }
        (Source::None, Some(u)) => assert!(classify_ip(u).public().is_none(), "{u:?}"),
        (Source::None, None) => assert!(caller.is_none()),
    }
    assert_eq!(scored_ip(&src).is_some(), src != Source::None);
}

fn text_ok(v: &Option<String>, what: &str) {
    if let Some(s) = v {
        assert!(!s.is_empty() && s.trim() == s, "{what} {s:?}");
    }
}

fn check_location(l: &LocationInfo, from_cf: bool) {
    text_ok(&l.city, "city");
    text_ok(&l.region, "region");
    text_ok(&l.timezone, "timezone");
    if let Some(c) = &l.country_code {
        assert_eq!(c.len(), 2, "country {c:?}");
        if from_cf {
            assert!(
                c != "T1" && c != "XX" && c.to_uppercase() == *c,
                "country {c:?}"
            );
        } else {
            assert!(c.bytes().all(|b| b.is_ascii_uppercase()), "country {c:?}");
        }
    }
    if let Some(x) = l.latitude {
        assert!(x.is_finite() && x.abs() <= 90.0, "latitude {x}");
    }
    if let Some(x) = l.longitude {
        assert!(x.is_finite() && x.abs() <= 180.0, "longitude {x}");
    }
}

fn check_asn(a: &AsnInfo) {
    assert!(a.asn.is_none_or(|n| n >= 1), "asn {:?}", a.asn);
    text_ok(&a.asn_org, "asn_org");
    text_ok(&a.isp, "isp");
}

/// The first field of each value line, as `from_texts` reads it.
fn values(text: &str) -> Vec<&str> {
    text.strip_prefix('\u{feff}')
        .unwrap_or(text)
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.split(|ch: char| ch == ',' || ch.is_whitespace())
                .next()
                .unwrap_or_default()
        })
        .collect()
}

fn check_lists(text: &str, probe: IpAddr) {
    let vals = values(text);
    // As the address lists (Tor exits, CIDRs).
    let cidrs = ListTexts {
        tor_exits: Some(text),
        datacenter_cidrs: Some(text),
        vpn_cidrs: Some(text),
        proxy_cidrs: Some(text),
        relay_cidrs: Some(text),
        ..ListTexts::default()
    };
    match NetworkLists::from_texts(&cidrs) {
        Ok(lists) => {
            assert_eq!(lists.entry_count(ListKind::TorExits), vals.len());
            let _ = lists.flags(probe, None);
            for v in &vals {
                if let Ok(ip) = v.parse::<IpAddr>() {
                    let fl = lists.flags(ip, None);
                    assert!(
                        fl.is_tor && fl.is_proxy && fl.is_datacenter,
                        "{ip} listed, {fl:?}"
                    );
                }
            }
            check_against_naive_nets(&lists, &vals, probe);
        }
        Err(errors) => check_list_errors(&errors, 5 * vals.len()),
    }
    // As the ASN lists.
    let asns = ListTexts {
        datacenter_asns: Some(text),
        vpn_asns: Some(text),
        relay_asns: Some(text),
        ..ListTexts::default()
    };
    match NetworkLists::from_texts(&asns) {
        Ok(lists) => {
            let mut listed = Vec::new();
            for v in &vals {
                let digits = match v.get(..2) {
                    Some(p) if p.eq_ignore_ascii_case("as") => &v[2..],
                    _ => v,
                };
                let asn: u32 = digits
                    .parse()
                    .unwrap_or_else(|_| panic!("ASN list accepted {v:?}"));
                let fl = lists.flags(probe, Some(asn));
                assert!(
                    fl.is_datacenter && fl.is_vpn && fl.is_relay,
                    "AS{asn} listed, {fl:?}"
                );
                listed.push(asn);
            }
            // Differential: exactly the listed ASNs, probed around each.
            let parsed = ParsedList::parse(ListKind::VpnAsns, text).expect("loaded above");
            let mut distinct = listed.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(parsed.entries(), distinct.len());
            assert_eq!(parsed.bytes(), 4 * distinct.len());
            for asn in listed
                .iter()
                .take(64)
                .flat_map(|a| [a.wrapping_sub(1), *a, a.wrapping_add(1)])
            {
                assert_eq!(
                    lists.flags(probe, Some(asn)).is_vpn,
                    listed.contains(&asn),
                    "AS{asn}"
                );
            }
        }
        Err(errors) => check_list_errors(&errors, 3 * vals.len()),
    }
}

/// A prefix as the naive model holds it: family width, network bits and prefix length.
#[derive(Debug, Clone, Copy)]
struct Naive {
    v4: bool,
    bits: u128,
    len: u32,
}

impl Naive {
    /// The value as the lists read it (a CIDR, host bits ignored; an address, IPv4-mapped
    /// IPv6 as IPv4), parsed with std only. `None` for a form std does not read.
    fn parse(value: &str) -> Option<Naive> {
        let (addr, len) = match value.split_once('/') {
            Some((a, l)) if l.bytes().all(|b| b.is_ascii_digit()) => {
                (a.parse::<IpAddr>().ok()?, Some(l.parse::<u32>().ok()?))
            }
            Some(_) => return None,
            None => (value.parse::<IpAddr>().ok()?.to_canonical(), None),
        };
        Some(match addr {
            IpAddr::V4(a) => Naive {
                v4: true,
                bits: u128::from(u32::from(a)),
                len: len.unwrap_or(32),
            },
            IpAddr::V6(a) => Naive {
                v4: false,
                bits: u128::from(a),
                len: len.unwrap_or(128),
            },
        })
    }

    fn width(&self) -> u32 {
        if self.v4 {
            32
        } else {
            128
        }
    }

    /// Whether the prefix holds `ip` (canonical): same family and the same top `len` bits.
    fn contains(&self, ip: IpAddr) -> bool {
        let (v4, bits) = match ip {
            IpAddr::V4(a) => (true, u128::from(u32::from(a))),
            IpAddr::V6(a) => (false, u128::from(a)),
        };
        let shift = self.width() - self.len;
        v4 == self.v4 && (shift >= 128 || (bits >> shift) == (self.bits >> shift))
    }

    /// The first and last address of the prefix, and the addresses just outside.
    fn probes(&self) -> Vec<IpAddr> {
        let width = self.width();
        let host: u128 = if width - self.len >= 128 {
            u128::MAX
        } else {
            (1u128 << (width - self.len)) - 1
        };
        let top: u128 = if width == 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        let first = self.bits & !host;
        let last = first | host;
        [
            first,
            last,
            first.wrapping_sub(1) & top,
            last.wrapping_add(1) & top,
        ]
        .into_iter()
        .map(|b| {
            if self.v4 {
                IpAddr::V4(Ipv4Addr::from(b as u32))
            } else {
                IpAddr::V6(Ipv6Addr::from(b))
            }
        })
        .collect()
    }
}

/// The compact lists against a naive loop over the entries.
fn check_against_naive_nets(lists: &NetworkLists, vals: &[&str], probe: IpAddr) {
    let Some(nets) = vals
        .iter()
        .map(|v| Naive::parse(v))
        .collect::<Option<Vec<_>>>()
    else {
        return; // a spelling only ipnet reads
    };
    let mut probes = vec![probe];
    for n in nets.iter().take(64) {
        probes.extend(n.probes());
    }
    for ip in probes {
        let mut forms = vec![ip];
        if let IpAddr::V4(a) = ip {
            forms.push(IpAddr::V6(a.to_ipv6_mapped()));
        }
        for form in forms {
            let naive = nets.iter().any(|n| n.contains(form.to_canonical()));
            let fl = lists.flags(form, None);
            assert_eq!(fl.is_tor, naive, "{form} against {nets:?}");
            assert_eq!(fl.is_proxy, naive, "{form}");
        }
    }
}

/// `max`: lists given the text × value lines (at most one error per value line and list).
fn check_list_errors(errors: &[edgesoc_core::intel::ListError], max: usize) {
    assert!(
        !errors.is_empty() && errors.len() <= max,
        "{} errors, max {max}",
        errors.len()
    );
    for e in errors {
        assert!(e.line >= 1 && !e.message.is_empty(), "{e:?}");
    }
}
