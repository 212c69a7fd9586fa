//! Where an event's location comes from, reading the request's `cf` object, and the batched
//! history the threat score needs (docs/api.md §7.2, §7.4).
//!
//! `cf` always describes the caller. It is used when the event has no `user_ip` (a client
//! reporting for itself) or when `user_ip` is the caller's own address; any other public
//! `user_ip` is looked up in the IP-range table. Nothing a client sends can set a location:
//! `cf` and `CF-Connecting-IP` are written by Cloudflare's edge.

use crate::api::sql::{SqlParam, Statement};
use crate::ingest::record::EventRecord;
use crate::intel::ipdb::{
    ip_key, location_from_rows, AsnRow, CityRow, ASN_BATCH_LOOKUP_SQL, CITY_BATCH_LOOKUP_SQL,
};
use crate::intel::{classify_ip, enrich, AsnInfo, LocationInfo, NetworkLists, ThreatHistory};
use crate::logs::items::{event_ip_key, event_user_key};
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

/// Where to take an event's location and ASN from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The request's `cf` object; the address it describes (the caller's).
    Cf(IpAddr),
    /// The IP-range table, for this public address.
    IpTable(IpAddr),
    /// Nothing: the address is missing, not an IP, or not public.
    None,
}

/// Decides the source for one event. `user_ip` as sent; `caller_ip` from `CF-Connecting-IP`.
pub fn source(user_ip: Option<&str>, caller_ip: Option<&str>) -> Source {
    let caller = caller_ip.and_then(|c| classify_ip(c.trim()).public());
    match user_ip {
        None => caller.map_or(Source::None, Source::Cf),
        Some(raw) => match classify_ip(raw).public() {
            None => Source::None,
            Some(ip) if Some(ip) == caller => Source::Cf(ip),
            Some(ip) => Source::IpTable(ip),
        },
    }
}

/// The address an event is enriched and scored as (its `user_ip`, or the caller's for `cf`).
pub fn scored_ip(source: &Source) -> Option<IpAddr> {
    match source {
        Source::Cf(ip) | Source::IpTable(ip) => Some(*ip),
        Source::None => None,
    }
}

/// Reads the location and network fields of a `cf` object. Every field is optional;
/// coordinates are parsed from their string form (never through `f32`).
pub fn from_cf(cf: &Value) -> (LocationInfo, AsnInfo) {
    let text = |k: &str| {
        cf.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let coord = |k: &str, limit: f64| {
        let v = match cf.get(k) {
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(Value::Number(n)) => n.as_f64(),
            _ => None,
        };
        v.filter(|x| x.is_finite() && x.abs() <= limit)
    };
    let location = LocationInfo {
        city: text("city"),
        region: text("region"),
        // Cloudflare reports Tor as the pseudo-country T1 and unknown as XX: not locations.
        country_code: text("country")
            .map(|c| c.to_uppercase())
            .filter(|c| c.len() == 2 && c != "T1" && c != "XX"),
        country_name: None,
        latitude: coord("latitude", 90.0),
        longitude: coord("longitude", 180.0),
        timezone: text("timezone"),
    };
    let asn = AsnInfo {
        asn: cf
            .get("asn")
            .and_then(Value::as_u64)
            .and_then(|a| u32::try_from(a).ok())
            .filter(|a| *a > 0),
        asn_org: text("asOrganization"),
        isp: text("asOrganization"),
        is_mobile: false,
    };
    (location, asn)
}

/// The two statements (one D1 batch) that look every address up in the IP-range tables.
pub fn ip_table_statements(ips: &BTreeSet<IpAddr>) -> Vec<Statement> {
    let keys: Vec<String> = ips.iter().map(|ip| ip_key(*ip)).collect();
    let keys = SqlParam::Text(serde_json::to_string(&keys).unwrap_or_else(|_| "[]".into()));
    vec![
        (CITY_BATCH_LOOKUP_SQL.into(), vec![keys.clone()]),
        (ASN_BATCH_LOOKUP_SQL.into(), vec![keys]),
    ]
}

/// Answers of [`ip_table_statements`] by address; addresses no range covers are absent.
pub fn ip_table_answers(rows: Vec<Vec<Value>>) -> HashMap<String, (LocationInfo, AsnInfo)> {
    #[derive(Deserialize)]
    struct Keyed<T> {
        key: String,
        #[serde(flatten)]
        row: T,
    }
    fn by_key<T: for<'de> Deserialize<'de>>(rows: Option<Vec<Value>>) -> HashMap<String, T> {
        rows.unwrap_or_default()
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Keyed<T>>(v).ok())
            .map(|k| (k.key, k.row))
            .collect()
    }
    let mut it = rows.into_iter();
    let mut cities: HashMap<String, CityRow> = by_key(it.next());
    let mut asns: HashMap<String, AsnRow> = by_key(it.next());
    let keys: BTreeSet<String> = cities.keys().chain(asns.keys()).cloned().collect();
    keys.into_iter()
        .filter_map(|key| {
            let (loc, net) = location_from_rows(cities.remove(&key), asns.remove(&key), &key);
            if loc.is_none() && net.is_none() {
                return None;
            }
            let loc = loc.unwrap_or_default();
            let location = LocationInfo {
                city: loc.city,
                region: loc.region,
                country_code: loc.country_code,
                country_name: None,
                latitude: loc.latitude,
                longitude: loc.longitude,
                timezone: None,
            };
            let (asn, org) = net.map_or((None, None), |(a, o)| (Some(a), o));
            let asn = AsnInfo {
                asn,
                asn_org: org.clone(),
                isp: org,
                is_mobile: false,
            };
            Some((key, (location, asn)))
        })
        .collect()
}

/// Window of the threat score's history.
pub const THREAT_HISTORY_MS: i64 = 24 * 60 * 60 * 1000;
/// Failed-login counts of the threat history read as at most this (the score's history part
/// saturates at 5 failures).
pub const THREAT_COUNT_CAP: u32 = 100;

/// Three statements (one D1 batch) that count, for all distinct IPs and actors of a request at
/// once, recent failed logins per IP, per actor, and open alerts per IP or actor.
pub fn threat_history_statements(
    org: &str,
    ips: &BTreeSet<String>,
    actors: &BTreeSet<String>,
    now: UnixMs,
) -> Vec<Statement> {
    let list = |s: &BTreeSet<String>| {
        SqlParam::Text(serde_json::to_string(s).unwrap_or_else(|_| "[]".into()))
    };
    let since = SqlParam::Number((now.0 - THREAT_HISTORY_MS) as f64);
    // Per key, a count bounded at THREAT_COUNT_CAP on the key's own index: the score saturates
    // at 5 failures, and an uncapped count would walk a whole flood once per queue batch. The
    // indexes are partial, holding only failed-login items, keyed by the item's address or user
    // (migrations/0019_events_stored_once.sql): an `auth.login_failed` event's is its `user_ip`
    // or `actor_id` trimmed, so each key travels with its trimmed form (`[key, trimmed]`), and
    // its events are the index range of the trimmed form that have the key itself. The item
    // type stays a literal here, as SQLite uses a partial index only when the query repeats it.
    let failed = |column: &str, index: &str, key: &str, keys: &BTreeSet<String>| {
        let pairs: Vec<[&str; 2]> = keys.iter().map(|k| [k.as_str(), k.trim()]).collect();
        (
            format!(
                "SELECT json_extract(j.value, '$[0]') AS k, (SELECT count(*) FROM (SELECT 1 FROM events \
                 INDEXED BY {index} WHERE org_id = ?1 AND item_type = 'login_failure' \
                 AND {key} = json_extract(j.value, '$[1]') AND {column} = json_extract(j.value, '$[0]') \
                 AND event_name = 'auth.login_failed' AND created_at >= ?2 LIMIT {THREAT_COUNT_CAP})) AS n \
                 FROM json_each(?3) j"
            ),
            vec![
                SqlParam::Text(org.into()),
                since.clone(),
                SqlParam::Text(serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())),
            ],
        )
    };
    vec![
        failed("user_ip", "events_login_failure_ip", &event_ip_key(""), ips),
        failed("actor_id", "events_login_failure_user", &event_user_key(""), actors),
        (
            "SELECT source_ip, actor_id FROM alerts WHERE org_id = ?1 AND status = 'open' AND suppressed_by IS NULL \
             AND (source_ip IN (SELECT value FROM json_each(?2)) OR actor_id IN (SELECT value FROM json_each(?3))) LIMIT 5000"
                .into(),
            vec![SqlParam::Text(org.into()), list(ips), list(actors)],
        ),
    ]
}

#[derive(Deserialize)]
struct CountRow {
    k: String,
    n: f64,
}

#[derive(Deserialize)]
struct OpenAlertRow {
    source_ip: Option<String>,
    actor_id: Option<String>,
}

/// Answers of [`threat_history_statements`], ready to look up per event.
#[derive(Debug, Default)]
pub struct ThreatCounts {
    ip_failed: HashMap<String, u32>,
    actor_failed: HashMap<String, u32>,
    open_alerts: Vec<(Option<String>, Option<String>)>,
}

impl ThreatCounts {
    /// Reads the three statements' rows, in order.
    pub fn from_rows(rows: Vec<Vec<Value>>) -> Result<ThreatCounts, serde_json::Error> {
        let mut it = rows.into_iter();
        let counts = |v: Option<Vec<Value>>| -> Result<HashMap<String, u32>, serde_json::Error> {
            v.unwrap_or_default()
                .into_iter()
                .map(|r| serde_json::from_value::<CountRow>(r).map(|c| (c.k, c.n as u32)))
                .collect()
        };
        let ip_failed = counts(it.next())?;
        let actor_failed = counts(it.next())?;
        let open_alerts = it
            .next()
            .unwrap_or_default()
            .into_iter()
            .map(|r| serde_json::from_value::<OpenAlertRow>(r).map(|a| (a.source_ip, a.actor_id)))
            .collect::<Result<_, _>>()?;
        Ok(ThreatCounts {
            ip_failed,
            actor_failed,
            open_alerts,
        })
    }

    /// The history of one event's IP (as sent) and actor.
    pub fn history(&self, ip: Option<&str>, actor: Option<&str>) -> ThreatHistory {
        let open = self
            .open_alerts
            .iter()
            .filter(|(a_ip, a_actor)| {
                (ip.is_some() && a_ip.as_deref() == ip)
                    || (actor.is_some() && a_actor.as_deref() == actor)
            })
            .count();
        ThreatHistory {
            ip_failed_logins_24h: ip.and_then(|i| self.ip_failed.get(i)).copied().unwrap_or(0),
            actor_failed_logins_24h: actor
                .and_then(|a| self.actor_failed.get(a))
                .copied()
                .unwrap_or(0),
            open_alerts_for_ip_or_actor: open as u32,
        }
    }
}

/// Fills `record.enrichment` from its source: `cf` for the caller's own address, `table` (the
/// IP-range table's answer, if any) otherwise; flags, score and forensics from `lists`.
pub fn apply(
    record: &mut EventRecord,
    source: &Source,
    cf: &Value,
    table: Option<(LocationInfo, AsnInfo)>,
    counts: &ThreatCounts,
    lists: &NetworkLists,
) {
    let (location, asn) = match source {
        Source::None => return,
        Source::Cf(_) => from_cf(cf),
        Source::IpTable(_) => table.unwrap_or_default(),
    };
    let ip = scored_ip(source).map(|ip| ip.to_string());
    let history = counts.history(record.user_ip.as_deref(), record.actor_id.as_deref());
    record.enrichment = enrich(
        lists,
        ip.as_deref(),
        &location,
        &asn,
        record.severity,
        &history,
    );
}

/// The `cf` fields [`from_cf`] reads, and nothing else: what a queue message carries so the
/// consumer can enrich the events that describe the caller.
pub fn cf_snapshot(cf: &Value) -> Value {
    const READ: [&str; 8] = [
        "city",
        "region",
        "country",
        "latitude",
        "longitude",
        "timezone",
        "asn",
        "asOrganization",
    ];
    match cf {
        Value::Object(m) => Value::Object(
            READ.iter()
                .filter_map(|k| m.get(*k).map(|v| (k.to_string(), v.clone())))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// Lookup answers that do not match the statements they answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowsError {
    /// Not one result set per statement.
    Count { got: usize, expected: usize },
    /// A threat-history row of the wrong shape.
    ThreatHistory(String),
}

impl std::fmt::Display for RowsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowsError::Count { got, expected } => {
                write!(f, "enrichment: {got} result sets for {expected} statements")
            }
            RowsError::ThreatHistory(e) => write!(f, "enrichment: threat history: {e}"),
        }
    }
}

/// Statements [`threat_history_statements`] makes for one organisation.
const HISTORY_STATEMENTS_PER_ORG: usize = 3;

/// Enrichment of a queue consumer's batch, which may mix organisations: one D1 batch of
/// lookups (per organisation: threat history; for all: the IP-range tables), then [`apply`] per
/// event. The caller address is each record's `server_ip`, so sources are decided exactly as
/// the accepting request would have.
#[derive(Debug)]
pub struct BatchEnrichment {
    sources: Vec<Source>,
    /// Organisations with events to score, in statement order (3 statements each).
    orgs: Vec<String>,
    ip_table: bool,
}

impl BatchEnrichment {
    /// Plans the lookups for `records`; run the statements as one batch and pass the rows to
    /// [`BatchEnrichment::apply`]. No statements when nothing needs a lookup.
    pub fn plan(records: &[EventRecord], now: UnixMs) -> (BatchEnrichment, Vec<Statement>) {
        let sources: Vec<Source> = records
            .iter()
            .map(|r| source(r.user_ip.as_deref(), r.server_ip.as_deref()))
            .collect();
        let mut per_org: std::collections::BTreeMap<&str, (BTreeSet<String>, BTreeSet<String>)> =
            Default::default();
        for (r, s) in records.iter().zip(&sources) {
            if *s == Source::None {
                continue;
            }
            let (ips, actors) = per_org.entry(r.org_id.0.as_str()).or_default();
            ips.extend(r.user_ip.clone());
            actors.extend(r.actor_id.clone());
        }
        let mut statements = Vec::new();
        for (org, (ips, actors)) in &per_org {
            statements.extend(threat_history_statements(org, ips, actors, now));
        }
        let table_ips: BTreeSet<IpAddr> = sources
            .iter()
            .filter_map(|s| match s {
                Source::IpTable(ip) => Some(*ip),
                _ => None,
            })
            .collect();
        if !table_ips.is_empty() {
            statements.extend(ip_table_statements(&table_ips));
        }
        let plan = BatchEnrichment {
            sources,
            orgs: per_org.keys().map(|o| o.to_string()).collect(),
            ip_table: !table_ips.is_empty(),
        };
        (plan, statements)
    }

    /// How many of the planned statements, from the first, read the organisations' threat
    /// history; the rest read the IP-range tables.
    pub fn history_statements(&self) -> usize {
        HISTORY_STATEMENTS_PER_ORG * self.orgs.len()
    }

    /// Enriches `records` (the ones given to [`BatchEnrichment::plan`], in order); `cfs[i]` is
    /// the `cf` snapshot of record `i`'s request. Malformed rows are an error and change nothing.
    pub fn apply(
        &self,
        records: &mut [EventRecord],
        cfs: &[&Value],
        mut rows: Vec<Vec<Value>>,
        lists: &NetworkLists,
    ) -> Result<(), RowsError> {
        let history_rows = self.history_statements();
        let expected = history_rows + if self.ip_table { 2 } else { 0 };
        if rows.len() != expected
            || records.len() != self.sources.len()
            || cfs.len() != records.len()
        {
            return Err(RowsError::Count {
                got: rows.len(),
                expected,
            });
        }
        let tables = ip_table_answers(rows.split_off(history_rows));
        let mut counts = HashMap::new();
        let mut rows = rows.into_iter();
        for org in &self.orgs {
            let mine: Vec<Vec<Value>> = rows.by_ref().take(HISTORY_STATEMENTS_PER_ORG).collect();
            let c = ThreatCounts::from_rows(mine)
                .map_err(|e| RowsError::ThreatHistory(e.to_string()))?;
            counts.insert(org.as_str(), c);
        }
        let none = ThreatCounts::default();
        for ((record, src), cf) in records.iter_mut().zip(&self.sources).zip(cfs) {
            let table = match src {
                Source::IpTable(ip) => tables.get(&ip_key(*ip)).cloned(),
                _ => None,
            };
            let c = counts.get(record.org_id.0.as_str()).unwrap_or(&none);
            apply(record, src, cf, table, c, lists);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_caller_s_own_address_and_a_missing_user_ip_use_cf() {
        let caller = Some("198.51.100.7");
        assert_eq!(
            source(None, caller),
            Source::Cf("198.51.100.7".parse().unwrap())
        );
        assert_eq!(
            source(Some("198.51.100.7"), caller),
            Source::Cf("198.51.100.7".parse().unwrap())
        );
        assert_eq!(
            source(Some("2001:db8::1"), Some("2001:0db8::0001")),
            Source::Cf("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            source(Some("203.0.113.9"), caller),
            Source::IpTable("203.0.113.9".parse().unwrap())
        );
    }

    #[test]
    fn placeholders_and_private_addresses_are_not_enriched() {
        for ip in [
            "unknown",
            "[REDACTED]",
            "10.0.0.1",
            "127.0.0.1",
            "100.64.1.1",
            "::1",
        ] {
            assert_eq!(source(Some(ip), Some("198.51.100.7")), Source::None, "{ip}");
        }
        assert_eq!(
            source(None, Some("10.1.1.1")),
            Source::None,
            "a private caller has no useful cf"
        );
        assert_eq!(source(None, None), Source::None);
    }

    #[test]
    fn cf_fields_are_read_leniently() {
        let cf = json!({"country":"de","city":"Berlin","region":"Land Berlin","latitude":"52.52000","longitude":"13.40500",
            "timezone":"Europe/Berlin","asn":3320,"asOrganization":"Deutsche Telekom AG","colo":"FRA"});
        let (loc, asn) = from_cf(&cf);
        assert_eq!(loc.country_code.as_deref(), Some("DE"));
        assert_eq!((loc.latitude, loc.longitude), (Some(52.52), Some(13.405)));
        assert_eq!(loc.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(
            (asn.asn, asn.asn_org.as_deref()),
            (Some(3320), Some("Deutsche Telekom AG"))
        );
        let (empty, none) =
            from_cf(&json!({"latitude":"north","longitude":"999","country":"T1","asn":0}));
        assert_eq!(
            (empty.latitude, empty.longitude, empty.country_code),
            (None, None, None)
        );
        assert_eq!(none.asn, None);
        assert_eq!(from_cf(&Value::Null).0, LocationInfo::default());
    }

    #[test]
    fn threat_counts_answer_per_event() {
        let counts = ThreatCounts::from_rows(vec![
            vec![json!({"k":"203.0.113.9","n":4.0})],
            vec![json!({"k":"u1","n":2.0})],
            vec![
                json!({"source_ip":"203.0.113.9","actor_id":null}),
                json!({"source_ip":null,"actor_id":"u1"}),
            ],
        ])
        .unwrap();
        let h = counts.history(Some("203.0.113.9"), Some("u1"));
        assert_eq!(
            (
                h.ip_failed_logins_24h,
                h.actor_failed_logins_24h,
                h.open_alerts_for_ip_or_actor
            ),
            (4, 2, 2)
        );
        let none = counts.history(None, None);
        assert_eq!(
            (none.ip_failed_logins_24h, none.open_alerts_for_ip_or_actor),
            (0, 0)
        );
        let stmts = threat_history_statements(
            "o",
            &BTreeSet::from(["1.2.3.4".to_string()]),
            &BTreeSet::new(),
            UnixMs(THREAT_HISTORY_MS),
        );
        assert_eq!(stmts.len(), 3);
        assert!(stmts
            .iter()
            .all(|(sql, p)| sql.contains("org_id = ?1") && p[0] == SqlParam::Text("o".into())));
        // Failure counts are bounded per key, so a flood is not walked once per queue batch.
        assert!(stmts[..2]
            .iter()
            .all(|(sql, _)| sql.contains(&format!("LIMIT {THREAT_COUNT_CAP}"))));
    }

    #[test]
    fn apply_fills_location_flags_and_score_from_cf() {
        use crate::access::ids::{EventId, OrgId};
        use crate::ingest::NewEvent;
        let new = NewEvent {
            event_name: "auth.login_failed".into(),
            actor_id: Some("u1".into()),
            actor_email: None,
            user_ip: Some("198.51.100.7".into()),
            metadata: Default::default(),
        };
        let mut r =
            EventRecord::assign(new, &OrgId("o".into()), EventId::new_v4(), UnixMs(0), None);
        let cf = json!({"country":"DE","city":"Berlin","latitude":"52.52","longitude":"13.405","asn":3320});
        let src = source(r.user_ip.as_deref(), Some("198.51.100.7"));
        apply(
            &mut r,
            &src,
            &cf,
            None,
            &ThreatCounts::default(),
            NetworkLists::shipped(),
        );
        assert_eq!(r.enrichment.city.as_deref(), Some("Berlin"));
        assert_eq!(r.enrichment.is_tor, Some(false));
        assert!(r.enrichment.threat_score.is_some());
        assert_eq!(
            r.enrichment.forensics.as_ref().unwrap()["location"]["country_code"],
            "DE"
        );
        let mut private = r.clone();
        private.enrichment = Default::default();
        apply(
            &mut private,
            &Source::None,
            &cf,
            None,
            &ThreatCounts::default(),
            NetworkLists::shipped(),
        );
        assert_eq!(private.enrichment, Default::default());
    }

    #[test]
    fn ip_table_answers_map_rows_by_key() {
        let key = ip_key("8.8.8.8".parse().unwrap());
        let rows = vec![
            vec![
                json!({"key": key, "ip_start":"408080800","ip_end":"4080808ff","country_code":"US","region":"California",
                        "city":"Mountain View","latitude":37.4,"longitude":-122.1}),
            ],
            vec![
                json!({"key": key, "ip_start":"408080800","ip_end":"4080808ff","asn":15169.0,"org":"Google LLC"}),
            ],
        ];
        let answers = ip_table_answers(rows);
        let (loc, asn) = &answers[&key];
        assert_eq!(
            (loc.city.as_deref(), loc.country_code.as_deref()),
            (Some("Mountain View"), Some("US"))
        );
        assert_eq!(
            (asn.asn, asn.asn_org.as_deref()),
            (Some(15169), Some("Google LLC"))
        );
        // A row that does not cover its key (a gap in the table) is no answer.
        let stray = vec![
            vec![
                json!({"key":"401020304","ip_start":"401000000","ip_end":"401000001","country_code":"AU"}),
            ],
            vec![],
        ];
        assert!(ip_table_answers(stray).is_empty());
        let stmts = ip_table_statements(&BTreeSet::from([
            "8.8.8.8".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ]));
        assert_eq!(stmts.len(), 2);
        assert_eq!(stmts[0].1.len(), 1, "all keys travel as one JSON array");
    }

    fn rec(org: &str, actor: &str, user_ip: Option<&str>, caller: Option<&str>) -> EventRecord {
        use crate::access::ids::{EventId, OrgId};
        use crate::ingest::NewEvent;
        let new = NewEvent {
            event_name: "auth.login_failed".into(),
            actor_id: Some(actor.into()),
            actor_email: None,
            user_ip: user_ip.map(String::from),
            metadata: Default::default(),
        };
        EventRecord::assign(
            new,
            &OrgId(org.into()),
            EventId::new_v4(),
            UnixMs(THREAT_HISTORY_MS),
            caller.map(String::from),
        )
    }

    #[test]
    fn a_consumer_batch_scores_each_organisation_with_its_own_history() {
        let mut records = vec![
            rec("a", "u1", Some("198.51.100.7"), Some("198.51.100.7")), // cf
            rec("b", "u1", Some("8.8.8.8"), Some("198.51.100.9")),      // table
            rec("b", "u2", Some("10.0.0.1"), None),                     // private: nothing
        ];
        let (plan, stmts) = BatchEnrichment::plan(&records, UnixMs(THREAT_HISTORY_MS));
        assert_eq!(
            stmts.len(),
            3 + 3 + 2,
            "history per organisation, then the IP tables"
        );
        assert_eq!(stmts[0].1[0], SqlParam::Text("a".into()));
        assert_eq!(stmts[3].1[0], SqlParam::Text("b".into()));
        let key = ip_key("8.8.8.8".parse().unwrap());
        let rows = vec![
            vec![],
            vec![json!({"k":"u1","n":0.0})],
            vec![],
            vec![],
            vec![json!({"k":"u1","n":50.0})], // only org b's u1 has failed logins
            vec![json!({"source_ip":"8.8.8.8","actor_id":null})],
            vec![
                json!({"key": key, "ip_start":"408080800","ip_end":"4080808ff","country_code":"US","city":"Mountain View","latitude":37.4,"longitude":-122.1}),
            ],
            vec![],
        ];
        let cf = json!({"country":"DE","city":"Berlin"});
        let cfs = [&cf, &Value::Null, &Value::Null];
        plan.apply(&mut records, &cfs, rows.clone(), NetworkLists::shipped())
            .unwrap();
        assert_eq!(records[0].enrichment.city.as_deref(), Some("Berlin"));
        assert_eq!(records[1].enrichment.city.as_deref(), Some("Mountain View"));
        assert_eq!(records[2].enrichment, Default::default());
        let score = |r: &EventRecord| r.enrichment.threat_score.unwrap();
        assert!(
            score(&records[1]) > score(&records[0]),
            "b's history is not a's"
        );

        let mut short = rows;
        short.pop();
        assert!(plan
            .apply(&mut records, &cfs, short, NetworkLists::shipped())
            .is_err());
        let (_, none) = BatchEnrichment::plan(&records[2..], UnixMs(0));
        assert!(none.is_empty(), "a private address needs no lookup");
    }

    #[test]
    fn cf_snapshots_keep_only_what_enrichment_reads() {
        let cf = json!({"country":"DE","city":"Berlin","asn":3320,"tlsClientHelloLength":"508",
                        "botManagement":{"score":1},"latitude":"52.52"});
        let snap = cf_snapshot(&cf);
        assert_eq!(
            snap,
            json!({"country":"DE","city":"Berlin","asn":3320,"latitude":"52.52"})
        );
        assert_eq!(from_cf(&snap), from_cf(&cf));
        assert_eq!(cf_snapshot(&Value::Null), Value::Null);
    }
}
