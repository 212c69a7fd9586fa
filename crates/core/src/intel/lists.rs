//! Network lists (Tor exits, datacenter/VPN/proxy/relay ASNs and CIDRs) and the flags they give
//! an address. Shipped defaults are compiled in ([`super::defaults`]); the cron job may replace
//! any list from a public source: its text is parsed ([`ListParser`], piece by piece, or
//! [`NetworkLists::from_texts`]) into a compact list ([`ParsedList`]: merged address ranges or
//! a sorted ASN array, see [`super::compact`]) that replaces the one in force
//! ([`NetworkLists::set`]).

use super::canonical::CanonicalSet;
use super::compact::{Builder, CompactList};
use super::defaults;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

/// What the lists say about one address and its ASN. Every flag is known (`false` = no list
/// matched), so the API shows `true`/`false`, never `null`, for public addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NetworkFlags {
    /// The address is a Tor exit (`tor_exits`).
    pub is_tor: bool,
    /// The ASN or address belongs to a network commonly used by VPN providers (`vpn_asns`,
    /// `vpn_cidrs`).
    pub is_vpn: bool,
    /// The address is a known open/public proxy (`proxy_cidrs`).
    pub is_proxy: bool,
    /// The ASN or address belongs to a hosting/cloud provider (`datacenter_asns`,
    /// `datacenter_cidrs`).
    pub is_datacenter: bool,
    /// The ASN or address is a relay or satellite network whose geolocation is unreliable
    /// (`relay_asns`, `relay_cidrs`). Not part of the API; it only downgrades impossible travel
    /// (read again at detection: `DetectionEvent::mark_relay`) and is not a threat signal.
    pub is_relay: bool,
}

/// The lists, by name. The names are also the `Display` spelling used in errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListKind {
    TorExits,
    DatacenterAsns,
    DatacenterCidrs,
    VpnAsns,
    VpnCidrs,
    ProxyCidrs,
    RelayAsns,
    RelayCidrs,
}

impl ListKind {
    /// Every list.
    pub const ALL: [ListKind; 8] = [
        ListKind::TorExits,
        ListKind::DatacenterAsns,
        ListKind::DatacenterCidrs,
        ListKind::VpnAsns,
        ListKind::VpnCidrs,
        ListKind::ProxyCidrs,
        ListKind::RelayAsns,
        ListKind::RelayCidrs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::TorExits => "tor_exits",
            ListKind::DatacenterAsns => "datacenter_asns",
            ListKind::DatacenterCidrs => "datacenter_cidrs",
            ListKind::VpnAsns => "vpn_asns",
            ListKind::VpnCidrs => "vpn_cidrs",
            ListKind::ProxyCidrs => "proxy_cidrs",
            ListKind::RelayAsns => "relay_asns",
            ListKind::RelayCidrs => "relay_cidrs",
        }
    }

    /// The list named `name` (its [`Self::as_str`] spelling), if any.
    pub fn parse(name: &str) -> Option<ListKind> {
        ListKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The list's position in [`Self::ALL`].
    pub(super) fn index(self) -> usize {
        self as usize
    }

    /// Whether the list holds ASNs (otherwise addresses and CIDRs).
    pub fn is_asn_list(self) -> bool {
        matches!(
            self,
            ListKind::DatacenterAsns | ListKind::VpnAsns | ListKind::RelayAsns
        )
    }
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One invalid line of a list text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    pub list: ListKind,
    /// 1-based line number in the text.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}: {}", self.list, self.line, self.message)
    }
}

impl std::error::Error for ListError {}

/// Replacement texts for [`NetworkLists::from_texts`]; `None` keeps the shipped list. The cron
/// job's refresh (sources, caps and the decision what to store) is in [`super::refresh`].
///
/// # Format
///
/// Line-based UTF-8. A `#` starts a comment (whole-line or trailing); blank lines are ignored;
/// a leading BOM is ignored. The value is the line's first field, ending at the first comma or
/// whitespace, so `AS16509 # Amazon`, `AS16509 Amazon` and CSV rows such as
/// `172.224.226.0/27,GB,GB-EN,London,` load unchanged. Header rows are not recognised: strip
/// them first.
///
/// * ASN lists: `16509`, `AS16509` or `as16509`; `0` is rejected (reserved).
/// * CIDR lists (including `tor_exits`): an IPv4/IPv6 address or a CIDR. Host bits are
///   cleared (`10.1.2.3/8` means `10.0.0.0/8`); IPv4-mapped single addresses count as IPv4.
///   Prefixes broader than `/8` (IPv4) or `/16` (IPv6) are rejected: no real list needs them,
///   and one `0.0.0.0/0` line would flag every address.
///
/// # Public sources for the cron job
///
/// The hourly refresh ([`super::refresh`]) fetches the `tor_exits` through `proxy_cidrs` rows
/// below by default (`raw.githubusercontent.com/X4BNet/lists_vpn/main/…` for X4BNet); the relay
/// lists only when `NETWORK_LIST_SOURCES` names a source for them. Provider JSON feeds are
/// flattened by the refresh.
///
/// | List | Source | Notes |
/// |---|---|---|
/// | `tor_exits` | Tor Project bulk exit list, <https://check.torproject.org/torbulkexitlist> | one IP per line; hourly |
/// | `datacenter_asns` | X4BNet `lists_vpn`, <https://raw.githubusercontent.com/X4BNet/lists_vpn/main/input/datacenter/ASN.txt> | `AS123 # name` |
/// | `datacenter_cidrs` | X4BNet `lists_vpn`, `output/datacenter/ipv4.txt` and `ipv6.txt` | CIDR per line; includes VPNs |
/// | `vpn_asns` | X4BNet `lists_vpn`, `input/vpn/ASN.txt` | `AS123 # name` |
/// | `vpn_cidrs` | X4BNet `lists_vpn`, `output/vpn/ipv4.txt` and `ipv6.txt` | CIDR per line |
/// | `proxy_cidrs` | FireHOL, <https://iplists.firehol.org/files/firehol_proxies.netset> | CIDR per line, `#` header |
/// | `relay_asns` | none; keep the shipped satellite ASNs | |
/// | `relay_cidrs` | Apple iCloud Private Relay egress, <https://mask-api.icloud.com/egress-ip-ranges.csv> | CSV, first field |
///
/// Provider JSON feeds (AWS `https://ip-ranges.amazonaws.com/ip-ranges.json`, Google
/// `https://www.gstatic.com/ipranges/cloud.json`) must be flattened to one CIDR per line first;
/// the refresh does that for bodies that start with `{`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListTexts<'a> {
    pub tor_exits: Option<&'a str>,
    pub datacenter_asns: Option<&'a str>,
    pub datacenter_cidrs: Option<&'a str>,
    pub vpn_asns: Option<&'a str>,
    pub vpn_cidrs: Option<&'a str>,
    pub proxy_cidrs: Option<&'a str>,
    pub relay_asns: Option<&'a str>,
    pub relay_cidrs: Option<&'a str>,
}

impl<'a> ListTexts<'a> {
    /// The text for `kind`.
    pub fn get(&self, kind: ListKind) -> Option<&'a str> {
        match kind {
            ListKind::TorExits => self.tor_exits,
            ListKind::DatacenterAsns => self.datacenter_asns,
            ListKind::DatacenterCidrs => self.datacenter_cidrs,
            ListKind::VpnAsns => self.vpn_asns,
            ListKind::VpnCidrs => self.vpn_cidrs,
            ListKind::ProxyCidrs => self.proxy_cidrs,
            ListKind::RelayAsns => self.relay_asns,
            ListKind::RelayCidrs => self.relay_cidrs,
        }
    }

    /// Sets the text for `kind`.
    pub fn set(&mut self, kind: ListKind, text: Option<&'a str>) {
        let slot = match kind {
            ListKind::TorExits => &mut self.tor_exits,
            ListKind::DatacenterAsns => &mut self.datacenter_asns,
            ListKind::DatacenterCidrs => &mut self.datacenter_cidrs,
            ListKind::VpnAsns => &mut self.vpn_asns,
            ListKind::VpnCidrs => &mut self.vpn_cidrs,
            ListKind::ProxyCidrs => &mut self.proxy_cidrs,
            ListKind::RelayAsns => &mut self.relay_asns,
            ListKind::RelayCidrs => &mut self.relay_cidrs,
        };
        *slot = text;
    }
}

/// At most this many invalid lines of one list are kept with their messages; the rest are only
/// counted, so a garbage download costs no memory per line.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// One parsed value line: an address or CIDR (host bits cleared) or an ASN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Entry {
    Net(IpNet),
    Asn(u32),
}

/// The invalid lines of one list text: the first [`MAX_REPORTED_ERRORS`], and how many.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invalid {
    pub errors: Vec<ListError>,
    pub lines: usize,
}

impl Invalid {
    fn push(&mut self, error: ListError) {
        self.lines += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(error);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }
}

/// Reads one list's text line by line, in pieces that may end mid-line (the chunks a list is
/// stored in), and calls `entry` for every value; invalid lines go to `invalid`.
#[derive(Debug)]
pub(super) struct LineReader {
    kind: ListKind,
    /// The unfinished last line of the pieces so far.
    carry: String,
    /// Lines read so far.
    lines: usize,
    started: bool,
    pub(super) invalid: Invalid,
}

impl LineReader {
    pub(super) fn new(kind: ListKind) -> Self {
        LineReader {
            kind,
            carry: String::new(),
            lines: 0,
            started: false,
            invalid: Invalid::default(),
        }
    }

    /// Reads the next piece of the text.
    pub(super) fn push(&mut self, mut piece: &str, entry: &mut impl FnMut(Entry)) {
        if !self.started && !piece.is_empty() {
            self.started = true;
            piece = piece.strip_prefix('\u{feff}').unwrap_or(piece);
        }
        if !self.carry.is_empty() {
            let Some(end) = piece.find('\n') else {
                self.carry.push_str(piece);
                return;
            };
            self.carry.push_str(&piece[..=end]);
            piece = &piece[end + 1..];
            let line = std::mem::take(&mut self.carry);
            self.read_lines(&line, entry);
        }
        match piece.rfind('\n') {
            Some(end) => {
                self.read_lines(&piece[..=end], entry);
                self.carry.push_str(&piece[end + 1..]);
            }
            None => self.carry.push_str(piece),
        }
    }

    /// Reads what is left (a last line without a newline).
    pub(super) fn finish(&mut self, entry: &mut impl FnMut(Entry)) {
        let line = std::mem::take(&mut self.carry);
        self.read_lines(&line, entry);
    }

    fn read_lines(&mut self, text: &str, entry: &mut impl FnMut(Entry)) {
        for line in text.lines() {
            self.lines += 1;
            let content = line.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let value = content
                .split(|c: char| c == ',' || c.is_whitespace())
                .next()
                .unwrap_or_default();
            let parsed = if value.is_empty() {
                Err(format!("empty first field: {}", quoted(content)))
            } else if self.kind.is_asn_list() {
                parse_asn(value).map(Entry::Asn)
            } else {
                parse_net(value).map(Entry::Net)
            };
            match parsed {
                Ok(e) => entry(e),
                Err(message) => self.invalid.push(ListError {
                    list: self.kind,
                    line: self.lines,
                    message,
                }),
            }
        }
    }
}

/// Parses one list's text into its compact form ([`ParsedList`]), piece by piece: the stored
/// chunks of a list are fed one at a time and never joined.
#[derive(Debug)]
pub struct ListParser {
    reader: LineReader,
    builder: Builder,
}

impl ListParser {
    pub fn new(kind: ListKind) -> Self {
        ListParser {
            reader: LineReader::new(kind),
            builder: Builder::default(),
        }
    }

    /// The next piece of the text; a line may continue in the next piece.
    pub fn push(&mut self, piece: &str) {
        let builder = &mut self.builder;
        self.reader.push(piece, &mut |e| builder.add(e));
    }

    /// The list, or its invalid lines: any invalid line refuses the whole list.
    pub fn finish(mut self) -> Result<ParsedList, Invalid> {
        let builder = &mut self.builder;
        self.reader.finish(&mut |e| builder.add(e));
        if !self.reader.invalid.is_empty() {
            return Err(self.reader.invalid);
        }
        Ok(ParsedList {
            kind: self.reader.kind,
            list: self.builder.finish(),
        })
    }
}

impl Builder {
    pub(super) fn add(&mut self, entry: Entry) {
        match entry {
            Entry::Net(net) => self.net(net),
            Entry::Asn(asn) => self.asn(asn),
        }
    }
}

/// One list in matching form, ready to replace the one in force ([`NetworkLists::set`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedList {
    kind: ListKind,
    list: CompactList,
}

impl ParsedList {
    /// Parses a whole text (see [`ListParser`] for pieces).
    pub fn parse(kind: ListKind, text: &str) -> Result<ParsedList, Invalid> {
        let mut p = ListParser::new(kind);
        p.push(text);
        p.finish()
    }

    pub fn kind(&self) -> ListKind {
        self.kind
    }

    /// Entries read: value lines of an address list, distinct ASNs of an ASN list.
    pub fn entries(&self) -> usize {
        self.list.entries()
    }

    /// The memory the list holds: 8 bytes per merged IPv4 range, 32 per IPv6 range, 4 per ASN.
    pub fn bytes(&self) -> usize {
        self.list.bytes()
    }
}

/// The network lists in matching form, one compact list ([`ParsedList::bytes`]) per
/// [`ListKind`]. Cloning shares the lists. [`Default`] is the shipped lists (also available,
/// parsed once, as [`NetworkLists::shipped`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkLists {
    lists: [Arc<CompactList>; ListKind::ALL.len()],
}

impl Default for NetworkLists {
    fn default() -> Self {
        let nets = |entries: &[(&str, &str)]| {
            let mut b = Builder::default();
            for (cidr, _) in entries {
                b.net(parse_net(cidr).expect("shipped CIDRs parse"));
            }
            Arc::new(b.finish())
        };
        let asns = |entries: &[(u32, &str)]| {
            let mut b = Builder::default();
            for (asn, _) in entries {
                b.asn(*asn);
            }
            Arc::new(b.finish())
        };
        NetworkLists {
            lists: ListKind::ALL.map(|kind| match kind {
                ListKind::TorExits => nets(defaults::TOR_EXITS),
                ListKind::DatacenterAsns => asns(defaults::DATACENTER_ASNS),
                ListKind::DatacenterCidrs => nets(defaults::DATACENTER_CIDRS),
                ListKind::VpnAsns => asns(defaults::VPN_ASNS),
                ListKind::VpnCidrs => nets(defaults::VPN_CIDRS),
                ListKind::ProxyCidrs => nets(defaults::PROXY_CIDRS),
                ListKind::RelayAsns => asns(defaults::RELAY_ASNS),
                ListKind::RelayCidrs => nets(defaults::RELAY_CIDRS),
            }),
        }
    }
}

impl NetworkLists {
    /// The shipped lists, parsed on first use.
    pub fn shipped() -> &'static NetworkLists {
        static SHIPPED: OnceLock<NetworkLists> = OnceLock::new();
        SHIPPED.get_or_init(NetworkLists::default)
    }

    /// The shipped lists with each list given in `texts` replaced by its parsed text (format and
    /// sources on [`ListTexts`]). Any invalid line rejects the whole result, with the invalid
    /// lines reported (up to [`MAX_REPORTED_ERRORS`] per list), so a bad download never
    /// half-replaces a list: keep the previous lists on `Err`. An empty text is a valid empty
    /// list; check [`Self::entry_count`] before trusting a refresh that shrank sharply.
    pub fn from_texts(texts: &ListTexts<'_>) -> Result<NetworkLists, Vec<ListError>> {
        let mut lists = NetworkLists::shipped().clone();
        let mut errors = Vec::new();
        for kind in ListKind::ALL {
            if let Some(text) = texts.get(kind) {
                match ParsedList::parse(kind, text) {
                    Ok(parsed) => lists.set(parsed),
                    Err(invalid) => errors.extend(invalid.errors),
                }
            }
        }
        if errors.is_empty() {
            Ok(lists)
        } else {
            errors.sort_by_key(|e| (e.list, e.line));
            Err(errors)
        }
    }

    /// Puts `list` in force in place of its kind's list (the old one is freed once no clone
    /// holds it).
    pub fn set(&mut self, list: ParsedList) {
        self.lists[list.kind.index()] = Arc::new(list.list);
    }

    /// Puts the shipped list of `kind` back in force.
    pub fn reset(&mut self, kind: ListKind) {
        self.lists[kind.index()] = NetworkLists::shipped().lists[kind.index()].clone();
    }

    /// How many entries a list was loaded with (before CIDR merging), for logs.
    pub fn entry_count(&self, kind: ListKind) -> usize {
        self.lists[kind.index()].entries()
    }

    /// The memory one list holds ([`ParsedList::bytes`]).
    pub fn list_bytes(&self, kind: ListKind) -> usize {
        self.lists[kind.index()].bytes()
    }

    /// The memory all lists hold.
    pub fn bytes(&self) -> usize {
        ListKind::ALL.iter().map(|k| self.list_bytes(*k)).sum()
    }

    /// The flags for a (public) address and its ASN, when known. IPv4-mapped IPv6 addresses
    /// match the IPv4 lists. An ASN flag needs `asn`; a CIDR flag needs only the address.
    pub fn flags(&self, ip: IpAddr, asn: Option<u32>) -> NetworkFlags {
        let ip = ip.to_canonical();
        let on = |kind: ListKind| self.lists[kind.index()].matches(ip, asn);
        NetworkFlags {
            is_tor: on(ListKind::TorExits),
            is_vpn: on(ListKind::VpnAsns) || on(ListKind::VpnCidrs),
            is_proxy: on(ListKind::ProxyCidrs),
            is_datacenter: on(ListKind::DatacenterAsns) || on(ListKind::DatacenterCidrs),
            is_relay: on(ListKind::RelayAsns) || on(ListKind::RelayCidrs),
        }
    }
}

/// The entries of one list's text in canonical spelling, sorted and without duplicates: ASNs as
/// plain numbers, addresses without a prefix length, CIDRs with host bits cleared. The refresh
/// stores these, one per line ([`super::refresh`] builds the same text without a `String` per
/// entry); they parse back through [`NetworkLists::from_texts`] to the same list, and their
/// number is that list's [`NetworkLists::entry_count`]. Errors as for `from_texts`.
pub fn canonical_entries(kind: ListKind, text: &str) -> Result<Vec<String>, Vec<ListError>> {
    let mut reader = LineReader::new(kind);
    let mut set = CanonicalSet::new(kind);
    let mut add = |e| set.add(e);
    reader.push(text, &mut add);
    reader.finish(&mut add);
    if !reader.invalid.is_empty() {
        return Err(reader.invalid.errors);
    }
    let (text, _) = set.finish();
    Ok(text.lines().map(str::to_string).collect())
}

/// An address (a host prefix) or a CIDR, host bits cleared.
fn parse_net(value: &str) -> Result<IpNet, String> {
    let net = if value.contains('/') {
        value.parse::<IpNet>().ok()
    } else {
        value
            .parse::<IpAddr>()
            .ok()
            .map(|ip| IpNet::from(ip.to_canonical()))
    };
    let net = net
        .map(|n| n.trunc())
        .ok_or_else(|| format!("not an IP address or CIDR: {}", quoted(value)))?;
    let broadest = match net {
        IpNet::V4(_) => MIN_PREFIX_V4,
        IpNet::V6(_) => MIN_PREFIX_V6,
    };
    if net.prefix_len() < broadest {
        return Err(format!(
            "prefix broader than /{broadest}: {}",
            quoted(value)
        ));
    }
    Ok(net)
}

/// The broadest prefix a CIDR list may hold (IPv4 `/8`, IPv6 `/16`).
const MIN_PREFIX_V4: u8 = 8;
const MIN_PREFIX_V6: u8 = 16;

/// `16509`, `AS16509` or `as16509`; not 0.
fn parse_asn(value: &str) -> Result<u32, String> {
    let digits = match value.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("as") => &value[2..],
        _ => value,
    };
    match digits.parse::<u32>() {
        Ok(0) => Err("ASN 0 is reserved".to_string()),
        // `u32::from_str` accepts a leading `+`; an ASN list never has one.
        Ok(asn) if digits.bytes().all(|b| b.is_ascii_digit()) => Ok(asn),
        _ => Err(format!("not an ASN: {}", quoted(value))),
    }
}

/// A value for an error message, shortened so a garbage download does not flood the log.
fn quoted(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() > MAX {
        format!("{:?}…", s.chars().take(MAX).collect::<String>())
    } else {
        format!("{s:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn all_lists() -> NetworkLists {
        NetworkLists::from_texts(&ListTexts {
            tor_exits: Some("# torbulkexitlist\n198.51.100.7\n2001:db8:7::1\n"),
            datacenter_asns: Some("AS64500 # example hosting\n"),
            datacenter_cidrs: Some("192.0.2.0/25\n2001:db8:d::/48\n"),
            vpn_asns: Some("64501\n"),
            vpn_cidrs: Some("198.51.100.128/26\n"),
            proxy_cidrs: Some("203.0.113.10\n203.0.113.64/27\n"),
            relay_asns: Some("as64502\n"),
            relay_cidrs: Some("172.224.226.0/27,GB,GB-EN,London,\n"),
        })
        .unwrap()
    }

    fn only(flags: NetworkFlags) -> &'static str {
        match (
            flags.is_tor,
            flags.is_vpn,
            flags.is_proxy,
            flags.is_datacenter,
            flags.is_relay,
        ) {
            (false, false, false, false, false) => "none",
            (true, false, false, false, false) => "tor",
            (false, true, false, false, false) => "vpn",
            (false, false, true, false, false) => "proxy",
            (false, false, false, true, false) => "datacenter",
            (false, false, false, false, true) => "relay",
            _ => "several",
        }
    }

    #[test]
    fn every_membership_path() {
        let l = all_lists();
        let public = ip("203.0.113.200");
        assert_eq!(only(l.flags(ip("198.51.100.7"), None)), "tor");
        assert_eq!(only(l.flags(ip("2001:db8:7::1"), None)), "tor");
        assert_eq!(only(l.flags(public, Some(64500))), "datacenter");
        assert_eq!(only(l.flags(ip("192.0.2.5"), None)), "datacenter");
        assert_eq!(only(l.flags(ip("2001:db8:d:ffff::1"), None)), "datacenter");
        assert_eq!(only(l.flags(public, Some(64501))), "vpn");
        assert_eq!(only(l.flags(ip("198.51.100.130"), None)), "vpn");
        assert_eq!(only(l.flags(ip("203.0.113.10"), None)), "proxy");
        assert_eq!(only(l.flags(ip("203.0.113.70"), None)), "proxy");
        assert_eq!(only(l.flags(public, Some(64502))), "relay");
        assert_eq!(only(l.flags(ip("172.224.226.31"), None)), "relay");
        assert_eq!(only(l.flags(public, None)), "none");
        assert_eq!(only(l.flags(public, Some(64499))), "none");
    }

    #[test]
    fn signals_combine() {
        let l = all_lists();
        let f = l.flags(ip("198.51.100.7"), Some(64500));
        assert!(f.is_tor && f.is_datacenter && !f.is_vpn);
    }

    #[test]
    fn cidr_boundaries_v4() {
        let l = all_lists();
        // 192.0.2.0/25 (datacenter)
        assert!(!l.flags(ip("192.0.1.255"), None).is_datacenter);
        assert!(l.flags(ip("192.0.2.0"), None).is_datacenter);
        assert!(l.flags(ip("192.0.2.127"), None).is_datacenter);
        assert!(!l.flags(ip("192.0.2.128"), None).is_datacenter);
        // 198.51.100.128/26 (vpn)
        assert!(!l.flags(ip("198.51.100.127"), None).is_vpn);
        assert!(l.flags(ip("198.51.100.128"), None).is_vpn);
        assert!(l.flags(ip("198.51.100.191"), None).is_vpn);
        assert!(!l.flags(ip("198.51.100.192"), None).is_vpn);
        // A single address is a /32.
        assert!(!l.flags(ip("203.0.113.9"), None).is_proxy);
        assert!(!l.flags(ip("203.0.113.11"), None).is_proxy);
    }

    #[test]
    fn cidr_boundaries_v6() {
        let l = all_lists();
        // 2001:db8:d::/48 (datacenter)
        assert!(
            !l.flags(ip("2001:db8:c:ffff:ffff:ffff:ffff:ffff"), None)
                .is_datacenter
        );
        assert!(l.flags(ip("2001:db8:d::"), None).is_datacenter);
        assert!(
            l.flags(ip("2001:db8:d:ffff:ffff:ffff:ffff:ffff"), None)
                .is_datacenter
        );
        assert!(!l.flags(ip("2001:db8:e::"), None).is_datacenter);
        // The Tor exit is a /128.
        assert!(!l.flags(ip("2001:db8:7::2"), None).is_tor);
    }

    #[test]
    fn ipv4_mapped_addresses_match_ipv4_lists() {
        let l = all_lists();
        assert!(l.flags(ip("::ffff:198.51.100.7"), None).is_tor);
        assert!(l.flags(ip("::ffff:192.0.2.1"), None).is_datacenter);
        let mapped = NetworkLists::from_texts(&ListTexts {
            tor_exits: Some("::ffff:192.0.2.9\n"),
            ..Default::default()
        })
        .unwrap();
        assert!(mapped.flags(ip("192.0.2.9"), None).is_tor);
    }

    #[test]
    fn shipped_lists_parse_and_match() {
        let l = NetworkLists::shipped();
        assert_eq!(l, &NetworkLists::default());
        assert_eq!(
            l.entry_count(ListKind::DatacenterAsns),
            defaults::DATACENTER_ASNS.len()
        );
        assert_eq!(l.entry_count(ListKind::TorExits), defaults::TOR_EXITS.len());
        assert_eq!(l.entry_count(ListKind::ProxyCidrs), 0);
        let any = ip("203.0.113.5");
        for (asn, name) in defaults::DATACENTER_ASNS {
            assert!(l.flags(any, Some(*asn)).is_datacenter, "{name}");
        }
        for (asn, name) in defaults::VPN_ASNS {
            let f = l.flags(any, Some(*asn));
            assert!(f.is_vpn && !f.is_datacenter, "{name}");
        }
        for (asn, name) in defaults::RELAY_ASNS {
            assert_eq!(only(l.flags(any, Some(*asn))), "relay", "{name}");
        }
        assert!(l.flags(ip("185.220.101.42"), None).is_tor);
        assert!(l.flags(ip("185.220.103.255"), None).is_tor);
        assert!(!l.flags(ip("185.220.104.0"), None).is_tor);
        assert!(!l.flags(ip("185.220.99.255"), None).is_tor);
        // Hetzner 5.9.0.0/16 and 2a01:4f8::/32, without an ASN.
        assert!(!l.flags(ip("5.8.255.255"), None).is_datacenter);
        assert!(l.flags(ip("5.9.0.0"), None).is_datacenter);
        assert!(l.flags(ip("5.9.255.255"), None).is_datacenter);
        assert!(!l.flags(ip("5.10.0.0"), None).is_datacenter);
        assert!(l.flags(ip("2a01:4f8:c17:1::1"), None).is_datacenter);
        assert!(!l.flags(ip("2a01:4f9::1"), None).is_datacenter);
        // Documentation addresses are in no shipped list.
        assert_eq!(only(l.flags(any, None)), "none");
        assert_eq!(only(l.flags(ip("2001:db8::1"), Some(64496))), "none");
    }

    #[test]
    fn replacing_one_list_keeps_the_others() {
        let l = NetworkLists::from_texts(&ListTexts {
            tor_exits: Some("203.0.113.5\n"),
            ..Default::default()
        })
        .unwrap();
        assert!(l.flags(ip("203.0.113.5"), None).is_tor);
        assert!(!l.flags(ip("185.220.101.42"), None).is_tor);
        assert!(l.flags(ip("203.0.113.5"), Some(16509)).is_datacenter);
        assert_eq!(l.entry_count(ListKind::TorExits), 1);
        assert_eq!(
            NetworkLists::from_texts(&ListTexts::default()).unwrap(),
            NetworkLists::default()
        );
        let empty = NetworkLists::from_texts(&ListTexts {
            datacenter_asns: Some("# nothing\n\n"),
            ..Default::default()
        })
        .unwrap();
        assert!(!empty.flags(ip("203.0.113.5"), Some(16509)).is_datacenter);
    }

    #[test]
    fn text_format() {
        let l = NetworkLists::from_texts(&ListTexts {
            datacenter_asns: Some("\u{feff}AS64500\n  as64501 Example Org  \n64502# trailing\n\n# AS64503\n\tAS64504\t# tab\n"),
            datacenter_cidrs: Some("10.1.2.3/8\n"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(l.entry_count(ListKind::DatacenterAsns), 4);
        let any = ip("203.0.113.5");
        for asn in [64500, 64501, 64502, 64504] {
            assert!(l.flags(any, Some(asn)).is_datacenter, "{asn}");
        }
        assert!(!l.flags(any, Some(64503)).is_datacenter);
        // Host bits are cleared.
        assert!(l.flags(ip("10.200.0.1"), None).is_datacenter);
        // Overlapping and duplicate entries merge without losing coverage.
        let l = NetworkLists::from_texts(&ListTexts {
            proxy_cidrs: Some(
                "192.0.2.0/24\n192.0.2.128/25\n192.0.2.7\n198.51.100.0/24\n198.51.101.0/24\n",
            ),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(l.entry_count(ListKind::ProxyCidrs), 5);
        for s in ["192.0.2.0", "192.0.2.255", "198.51.100.0", "198.51.101.255"] {
            assert!(l.flags(ip(s), None).is_proxy, "{s}");
        }
        assert!(!l.flags(ip("198.51.102.0"), None).is_proxy);
    }

    #[test]
    fn parse_errors_report_every_bad_line() {
        let err = NetworkLists::from_texts(&ListTexts {
            tor_exits: Some("198.51.100.7\n<html>\n\n1.2.3.4/33\n# ok\n,1.2.3.4\n"),
            vpn_asns: Some("AS9009\nAS\nAS-M247\n0\nAS4294967296\n+5\n64500\n"),
            ..Default::default()
        })
        .unwrap_err();
        let got: Vec<(ListKind, usize)> = err.iter().map(|e| (e.list, e.line)).collect();
        assert_eq!(
            got,
            vec![
                (ListKind::TorExits, 2),
                (ListKind::TorExits, 4),
                (ListKind::TorExits, 6),
                (ListKind::VpnAsns, 2),
                (ListKind::VpnAsns, 3),
                (ListKind::VpnAsns, 4),
                (ListKind::VpnAsns, 5),
                (ListKind::VpnAsns, 6),
            ]
        );
        assert_eq!(
            err[0].to_string(),
            "tor_exits line 2: not an IP address or CIDR: \"<html>\""
        );
        assert_eq!(err[2].message, "empty first field: \",1.2.3.4\"");
        assert_eq!(err[5].to_string(), "vpn_asns line 4: ASN 0 is reserved");
        let long = "x".repeat(500);
        let err = NetworkLists::from_texts(&ListTexts {
            relay_cidrs: Some(&long),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err[0].message.len() < 100, "{}", err[0].message);
    }

    #[test]
    fn prefixes_broader_than_a_slash_8_or_slash_16_are_refused() {
        let err = NetworkLists::from_texts(&ListTexts {
            tor_exits: Some("0.0.0.0/0\n1.0.0.0/7\n1.0.0.0/8\n::/0\n2001::/15\n2001::/16\n"),
            ..Default::default()
        })
        .unwrap_err();
        let lines: Vec<usize> = err.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 2, 4, 5]);
        assert_eq!(err[0].message, "prefix broader than /8: \"0.0.0.0/0\"");
        assert_eq!(err[3].message, "prefix broader than /16: \"2001::/15\"");
        // Host bits are cleared first, so the check is on the prefix length alone.
        assert!(NetworkLists::from_texts(&ListTexts {
            proxy_cidrs: Some("10.1.2.3/8\n2a01:4f8::/16\n"),
            ..Default::default()
        })
        .is_ok());
    }

    #[test]
    fn canonical_entries_are_sorted_deduplicated_and_parse_back() {
        let text = "# header\n198.51.100.7\n198.51.100.7/32\n10.9.9.9/8 # host bits\n::ffff:192.0.2.1\n2001:DB8::/32,x\n";
        let entries = canonical_entries(ListKind::TorExits, text).unwrap();
        assert_eq!(
            entries,
            ["10.0.0.0/8", "192.0.2.1", "198.51.100.7", "2001:db8::/32"]
        );
        let asns = canonical_entries(ListKind::VpnAsns, "AS9009 # M247\n9009\nas60068\n").unwrap();
        assert_eq!(asns, ["60068", "9009"]);
        // The canonical text loads to the same lists, with one entry per line.
        for (kind, text) in [
            (ListKind::TorExits, text),
            (ListKind::VpnAsns, "AS9009\n9009\n"),
        ] {
            let canon = canonical_entries(kind, text).unwrap().join("\n");
            let mut a = ListTexts::default();
            a.set(kind, Some(text));
            let mut b = ListTexts::default();
            b.set(kind, Some(&canon));
            let (a, b) = (
                NetworkLists::from_texts(&a).unwrap(),
                NetworkLists::from_texts(&b).unwrap(),
            );
            assert_eq!(
                b.entry_count(kind),
                canonical_entries(kind, text).unwrap().len()
            );
            for addr in [
                "10.200.0.1",
                "192.0.2.1",
                "198.51.100.7",
                "2001:db8:1::1",
                "192.0.2.2",
            ] {
                assert_eq!(a.flags(ip(addr), Some(9009)), b.flags(ip(addr), Some(9009)));
            }
        }
        let err = canonical_entries(ListKind::DatacenterAsns, "AS1\n<html>\n").unwrap_err();
        assert_eq!((err[0].list, err[0].line), (ListKind::DatacenterAsns, 2));
    }

    #[test]
    fn a_text_read_in_pieces_is_the_text_read_whole() {
        let text =
            "\u{feff}# exits\r\n198.51.100.7\r\n2001:db8:7::1 # v6\n\n10.1.2.3/8,x\n203.0.113.9";
        let whole = ParsedList::parse(ListKind::TorExits, text).unwrap();
        assert_eq!(whole.entries(), 4);
        // Every cut, a line split across pieces (a CRLF and the BOM included), and pieces of
        // one byte.
        for cut in (0..=text.len()).filter(|i| text.is_char_boundary(*i)) {
            let mut p = ListParser::new(ListKind::TorExits);
            p.push(&text[..cut]);
            p.push("");
            p.push(&text[cut..]);
            assert_eq!(p.finish().unwrap(), whole, "cut at {cut}");
        }
        let mut p = ListParser::new(ListKind::TorExits);
        for (i, _) in text.char_indices() {
            p.push(&text[i..i + text[i..].chars().next().unwrap().len_utf8()]);
        }
        assert_eq!(p.finish().unwrap(), whole);
        // Line numbers run on across pieces.
        let mut p = ListParser::new(ListKind::VpnAsns);
        p.push("AS1\nAS2\nbad");
        p.push("ly\nAS3\n");
        p.push("\nworse\n");
        let invalid = p.finish().unwrap_err();
        let lines: Vec<usize> = invalid.errors.iter().map(|e| e.line).collect();
        assert_eq!((lines, invalid.lines), (vec![3, 6], 2));
        assert_eq!(invalid.errors[0].message, "not an ASN: \"badly\"");
    }

    #[test]
    fn invalid_lines_are_counted_and_the_first_hundred_kept() {
        let garbage: String = (0..10_000).map(|i| format!("<junk {i}>\n")).collect();
        let invalid = ParsedList::parse(ListKind::ProxyCidrs, &garbage).unwrap_err();
        assert_eq!(invalid.lines, 10_000);
        assert_eq!(invalid.errors.len(), MAX_REPORTED_ERRORS);
        assert_eq!(invalid.errors[99].line, 100);
        let err = NetworkLists::from_texts(&ListTexts {
            proxy_cidrs: Some(&garbage),
            vpn_asns: Some(&garbage),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.len(), 2 * MAX_REPORTED_ERRORS);
    }

    #[test]
    fn lists_at_the_entry_cap_are_compact() {
        // 250,000 IPv4 addresses that do not merge: 8 bytes each, the array and nothing else.
        let text: String = (0..250_000u32)
            .map(|i| format!("{}\n", std::net::Ipv4Addr::from(0x1400_0000 + 2 * i)))
            .collect();
        let l = ParsedList::parse(ListKind::TorExits, &text).unwrap();
        assert_eq!((l.entries(), l.bytes()), (250_000, 2_000_000));
        let asns: String = (1..=250_000u32).map(|i| format!("AS{i}\n")).collect();
        let a = ParsedList::parse(ListKind::DatacenterAsns, &asns).unwrap();
        assert_eq!((a.entries(), a.bytes()), (250_000, 1_000_000));
        let mut lists = NetworkLists::shipped().clone();
        let shipped = lists.bytes();
        assert!(shipped < 1_000, "{shipped}");
        lists.set(l);
        lists.set(a);
        assert_eq!(lists.bytes(), shipped + 3_000_000 - lists_bytes_replaced());
        assert!(lists.flags(ip("20.0.0.0"), None).is_tor);
        assert!(!lists.flags(ip("20.0.0.1"), None).is_tor);
        assert!(
            lists.flags(ip("20.7.161.30"), None).is_tor,
            "the last entry"
        );
        assert!(!lists.flags(ip("20.7.161.32"), None).is_tor);
        assert!(
            lists
                .flags(ip("::ffff:20.0.0.2"), Some(250_000))
                .is_datacenter
        );
        // Back to the shipped lists: the same lists as before.
        lists.reset(ListKind::TorExits);
        lists.reset(ListKind::DatacenterAsns);
        assert_eq!(&lists, NetworkLists::shipped());
    }

    /// What the shipped Tor and datacenter ASN lists held.
    fn lists_bytes_replaced() -> usize {
        let s = NetworkLists::shipped();
        s.list_bytes(ListKind::TorExits) + s.list_bytes(ListKind::DatacenterAsns)
    }

    #[test]
    fn list_kinds_parse_and_texts_are_addressed_by_kind() {
        for kind in ListKind::ALL {
            assert_eq!(ListKind::parse(kind.as_str()), Some(kind));
            let mut texts = ListTexts::default();
            texts.set(kind, Some("x"));
            assert_eq!(texts.get(kind), Some("x"));
            for other in ListKind::ALL.into_iter().filter(|k| *k != kind) {
                assert_eq!(texts.get(other), None);
            }
        }
        for (i, kind) in ListKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
        assert_eq!(ListKind::parse("Tor_Exits"), None);
        assert_eq!(ListKind::parse("tor"), None);
        let asn: Vec<&str> = ListKind::ALL
            .into_iter()
            .filter(|k| k.is_asn_list())
            .map(ListKind::as_str)
            .collect();
        assert_eq!(asn, ["datacenter_asns", "vpn_asns", "relay_asns"]);
    }

    #[test]
    fn list_names() {
        let names: Vec<&str> = ListKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "tor_exits",
                "datacenter_asns",
                "datacenter_cidrs",
                "vpn_asns",
                "vpn_cidrs",
                "proxy_cidrs",
                "relay_asns",
                "relay_cidrs"
            ]
        );
    }
}
