//! Location, network and threat score for raw lines (docs/dashboard.md §7.3 "Enrichment"): the
//! public address of each line is enriched as an event's is (`crate::intel::enrich`, docs/api.md
//! §7.2): the same IP-range tables and network lists, the same threat score over the same recent
//! history, read once per push. The line keeps the country (`geo`) and VPN flag where it gave
//! none, its coordinates and city where the tables place it in its country (what identity
//! detection measures logins by, `super::logins`), the ASN, the Tor, proxy and datacenter flags
//! and the threat score. Pure: the caller runs [`Lookups::statements`] and passes the rows.

use super::row::LogRow;
use crate::api::sql::Statement;
use crate::ingest::catalogue::Severity;
use crate::intel::enrichment::{
    ip_table_answers, ip_table_statements, threat_history_statements, ThreatCounts,
};
use crate::intel::ipdb::ip_key;
use crate::intel::{classify_ip, enrich, AsnInfo, LocationInfo, NetworkLists};
use crate::logs::classify::LogLevel;
use crate::time::UnixMs;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

/// Most distinct addresses (and users) looked up for one push: five D1 reads cover them all; a
/// push with more (a scan across a range) leaves the rest unenriched rather than multiply reads.
pub const MAX_ADDRESSES: usize = 500;

/// What one push looks up: its lines' distinct public addresses and their users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookups {
    pub ips: BTreeSet<IpAddr>,
    pub users: BTreeSet<String>,
}

impl Lookups {
    /// The addresses and users of `rows` (at most [`MAX_ADDRESSES`] of each, in order); `None`
    /// when no line has a public address.
    pub fn of(rows: &[LogRow]) -> Option<Lookups> {
        let mut out = Lookups::default();
        for row in rows {
            let Some(ip) = public_ip(row) else { continue };
            if out.ips.len() < MAX_ADDRESSES || out.ips.contains(&ip) {
                out.ips.insert(ip);
            }
            if let Some(user) = &row.user {
                if out.users.len() < MAX_ADDRESSES {
                    out.users.insert(user.clone());
                }
            }
        }
        (!out.ips.is_empty()).then_some(out)
    }

    /// The reads, as one batch: the IP tables' two ([`TABLE_STATEMENTS`]), then the threat
    /// history's three ([`threat_history_statements`]) over the last 24 hours before `now`.
    pub fn statements(&self, org: &str, now: UnixMs) -> Vec<Statement> {
        let ips: BTreeSet<String> = self.ips.iter().map(ToString::to_string).collect();
        let mut out = ip_table_statements(&self.ips);
        out.extend(threat_history_statements(org, &ips, &self.users, now));
        out
    }

    /// Enriches `rows` from the answers of [`Lookups::statements`] (in order). A batch that does
    /// not answer as expected leaves the rows as they are and says why.
    pub fn apply(
        &self,
        rows: &mut [LogRow],
        mut results: Vec<Vec<Value>>,
        lists: &NetworkLists,
    ) -> Result<(), String> {
        if results.len() != 5 {
            return Err(format!("{} result sets for 5 reads", results.len()));
        }
        let history = results.split_off(TABLE_STATEMENTS);
        let counts = ThreatCounts::from_rows(history).map_err(|e| e.to_string())?;
        apply(rows, &self.ips, &ip_table_answers(results), &counts, lists);
        Ok(())
    }
}

/// How many of [`Lookups::statements`], from the first, read the IP tables (on the primary
/// database, `crate::shards`); the rest read the organisation's threat history.
pub const TABLE_STATEMENTS: usize = 2;

fn public_ip(row: &LogRow) -> Option<IpAddr> {
    row.source_ip
        .as_deref()
        .and_then(|ip| classify_ip(ip).public())
}

/// The event severity a line's level stands for in the threat score (the inverse of
/// `super::classify::event_log_level`).
fn severity(level: LogLevel) -> Severity {
    match level {
        LogLevel::Critical => Severity::Critical,
        LogLevel::Error => Severity::High,
        LogLevel::Warning => Severity::Warning,
        LogLevel::Info | LogLevel::Debug => Severity::Info,
    }
}

/// Enriches every row whose public address was looked up, with `answers` from the IP tables (by
/// [`ip_key`]), `counts` of recent history and the network `lists`; what a line stated itself
/// (`geo`, `vpn`) is kept.
pub fn apply(
    rows: &mut [LogRow],
    looked_up: &BTreeSet<IpAddr>,
    answers: &HashMap<String, (LocationInfo, AsnInfo)>,
    counts: &ThreatCounts,
    lists: &NetworkLists,
) {
    for row in rows {
        let Some(ip) = public_ip(row).filter(|ip| looked_up.contains(ip)) else {
            continue;
        };
        let (location, asn) = answers.get(&ip_key(ip)).cloned().unwrap_or_default();
        let history = counts.history(row.source_ip.as_deref(), row.user.as_deref());
        let e = enrich(
            lists,
            Some(&ip.to_string()),
            &location,
            &asn,
            severity(row.level),
            &history,
        );
        if row.geo.is_none() {
            row.geo = e.country_code.clone();
        }
        if row.vpn.is_none() {
            row.vpn = e.is_vpn;
        }
        // A line that names another country than the tables keeps no coordinates: it would be
        // measured from a place it says it is not.
        if same_country(&row.geo, &e.country_code) {
            if let (Some(lat), Some(lon)) = (e.latitude, e.longitude) {
                (row.detail.latitude, row.detail.longitude) = (Some(lat), Some(lon));
                row.detail.city = e.city.clone();
            }
        }
        let d = &mut row.detail;
        d.asn = asn.asn;
        (d.is_tor, d.is_proxy, d.is_datacenter) = (e.is_tor, e.is_proxy, e.is_datacenter);
        d.threat_score = e.threat_score;
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
