//! Location and network flags for raw lines (docs/dashboard.md §7.3 "Enrichment"): the public
//! address of each line is looked up once per push in the same IP-range tables and network
//! lists as events' (docs/api.md §7.2), and fills the row's `geo` (country code) and `vpn`
//! where the line itself gave none, and its coordinates and city (what identity detection
//! measures logins by, `super::logins`) where the tables place it in the line's country. Pure: the caller runs
//! [`crate::intel::enrichment::ip_table_statements`] over [`addresses`] and passes the answers.

use super::row::LogRow;
use crate::intel::ipdb::ip_key;
use crate::intel::{classify_ip, AsnInfo, LocationInfo, NetworkLists};
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

/// Most distinct addresses looked up for one push: two D1 reads cover them all; a push with
/// more (a scan across a range) leaves the rest unenriched rather than multiply reads.
pub const MAX_ADDRESSES: usize = 500;

/// The distinct public addresses of `rows` (at most [`MAX_ADDRESSES`], in address order).
pub fn addresses(rows: &[LogRow]) -> BTreeSet<IpAddr> {
    let mut out = BTreeSet::new();
    for ip in rows
        .iter()
        .filter_map(|r| r.source_ip.as_deref())
        .filter_map(|ip| classify_ip(ip).public())
    {
        if out.len() == MAX_ADDRESSES && !out.contains(&ip) {
            continue;
        }
        out.insert(ip);
    }
    out
}

/// Fills `geo` and `vpn` of every row whose address has an answer (by [`ip_key`]) or is on a
/// network list, and its coordinates and city when the answer agrees with its country; what a
/// line stated itself is kept.
pub fn apply(
    rows: &mut [LogRow],
    looked_up: &BTreeSet<IpAddr>,
    answers: &HashMap<String, (LocationInfo, AsnInfo)>,
    lists: &NetworkLists,
) {
    for row in rows {
        let Some(ip) = row
            .source_ip
            .as_deref()
            .and_then(|ip| classify_ip(ip).public())
        else {
            continue;
        };
        if !looked_up.contains(&ip) {
            continue;
        }
        let answer = answers.get(&ip_key(ip));
        let location = answer.map(|(loc, _)| loc);
        if row.geo.is_none() {
            row.geo = location.and_then(|loc| loc.country_code.clone());
        }
        // A line that names another country than the tables keeps no coordinates: it would be
        // measured from a place it says it is not.
        if let Some(loc) = location.filter(|loc| same_country(&row.geo, &loc.country_code)) {
            if let (Some(lat), Some(lon)) = (loc.latitude, loc.longitude) {
                (row.latitude, row.longitude) = (Some(lat), Some(lon));
                row.city = loc.city.clone();
            }
        }
        if row.vpn.is_none() {
            let asn = answer.and_then(|(_, asn)| asn.asn);
            row.vpn = Some(lists.flags(ip, asn).is_vpn);
        }
    }
}

fn same_country(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

#[cfg(test)]
#[path = "enrich_tests.rs"]
mod tests;
