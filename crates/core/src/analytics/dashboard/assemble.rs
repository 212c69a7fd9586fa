//! The batch's rows → the response of docs/dashboard.md §3. Every rule that is not an aggregate
//! lives here: shapes, optional keys, redaction, ordering, thresholds, the Sankey layout and
//! the weekday mapping.

use super::params::Window;
use super::sql::{
    ANOMALIES, ANOMALY_COUNTS, ATTACKERS, BUCKETS, FLOWS, IAM, LOGS, SOURCES, STATEMENT_COUNT,
};
use crate::logs::classify::LogType;
use crate::logs::item_id;
use crate::time::UnixMs;
use chrono::{DateTime, Datelike, Timelike};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The rows did not have the expected shape (a bug or a schema mismatch, never bad input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembleError(pub String);

impl std::fmt::Display for AssembleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dashboard rows: {}", self.0)
    }
}

impl std::error::Error for AssembleError {}

/// The alert severities, worst first (§3.6 order).
pub(crate) const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];
/// The merged source node of the Sankey (§3.4).
pub(crate) const OTHER: &str = "other";
/// An attacker is `active` when its last hostile item is at most this long before `end`.
pub(crate) const ACTIVE_MS: i64 = 60 * 60 * 1000;

fn iso(ms: f64) -> String {
    UnixMs(ms as i64).iso_seconds()
}

/// A count as D1 returns it (a JS number), never negative in the response.
fn count(n: f64) -> u64 {
    if n.is_finite() && n > 0.0 {
        n.round() as u64
    } else {
        0
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub(crate) struct BucketRow {
    pub hour: f64,
    pub total: f64,
    pub critical: f64,
    pub warnings: f64,
    pub failed: f64,
    pub iam: f64,
    pub hostile: f64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub(crate) struct FlowRow {
    pub service: String,
    #[serde(rename = "type")]
    pub log_type: String,
    pub n: f64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub(crate) struct SourceRow {
    pub source: String,
    pub total: f64,
    pub service: String,
    pub n: f64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct AttackerRow {
    /// `None` on the summary row.
    pub ip: Option<String>,
    /// Summary row: the distinct attacker IPs of the window.
    pub attackers: Option<f64>,
    pub attacks: Option<f64>,
    pub services: Option<f64>,
    pub last_ts: Option<f64>,
    pub geo: Option<String>,
    /// The worst anomaly with this source IP: 4 critical … 1 low.
    pub worst: Option<f64>,
    pub blocked: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct LogItemRow {
    pub id: f64,
    pub ts: f64,
    #[serde(rename = "type")]
    pub log_type: String,
    pub action: Option<String>,
    pub level: String,
    pub service: String,
    pub namespace: String,
    pub source_ip: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub target_ip: Option<String>,
    pub geo: Option<String>,
    pub device: Option<String>,
    pub vpn: Option<f64>,
    pub status_code: Option<f64>,
    pub event_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub(crate) struct IamRow {
    #[serde(default)]
    pub id: f64,
    pub ts: f64,
    pub user: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub service: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub(crate) struct AnomalyRow {
    pub id: String,
    pub created_at: f64,
    pub severity: String,
    pub alert_type: String,
    pub title: String,
    pub description: String,
    pub actor_id: Option<String>,
    pub source_ip: Option<String>,
    pub status: String,
    pub confidence: Option<f64>,
    /// `json_extract` of an object: its JSON text.
    pub evidence: Option<Value>,
    pub service: Option<String>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub(crate) struct CountRow {
    pub severity: String,
    pub n: f64,
}

/// The rows of statement `i`: the JSON array text of its single `rows` value (see
/// `sql::as_json`), or, when the statement returned plain rows, those rows.
fn rows<T: DeserializeOwned>(all: &mut [Vec<Value>], i: usize) -> Result<Vec<T>, AssembleError> {
    let err = |e: serde_json::Error| AssembleError(format!("statement {i}: {e}"));
    let taken = std::mem::take(&mut all[i]);
    if let [one] = taken.as_slice() {
        if let Some(Value::String(text)) = one.get("rows") {
            return serde_json::from_str(text).map_err(err);
        }
    }
    taken
        .into_iter()
        .map(|v| serde_json::from_value(v).map_err(err))
        .collect()
}

/// Builds the response from the batch's rows (one `Vec` per statement of
/// [`super::statements`], in order). `redact` is the Free-plan redaction (§1).
pub fn assemble(
    mut all: Vec<Vec<Value>>,
    w: &Window,
    redact: bool,
) -> Result<Value, AssembleError> {
    // A pivot's one statement answers every section in a column of its one row (`s0`, `s1`, …,
    // in statement order): spread them out as the separate statements' rows.
    if let [one] = all.as_slice() {
        if let [row] = one.as_slice() {
            if row.get("s0").is_some() {
                let row = row.clone();
                all = (0..STATEMENT_COUNT)
                    .map(|i| {
                        let rows = row.get(format!("s{i}")).cloned().unwrap_or(Value::Null);
                        vec![json!({ "rows": rows })]
                    })
                    .collect();
            }
        }
    }
    if all.len() != STATEMENT_COUNT {
        return Err(AssembleError(format!(
            "{} result sets, want {STATEMENT_COUNT}",
            all.len()
        )));
    }
    let buckets: Vec<BucketRow> = rows(&mut all, BUCKETS)?;
    let flows: Vec<FlowRow> = rows(&mut all, FLOWS)?;
    let sources: Vec<SourceRow> = rows(&mut all, SOURCES)?;
    let attackers: Vec<AttackerRow> = rows(&mut all, ATTACKERS)?;
    let mut logs: Vec<LogItemRow> = rows(&mut all, LOGS)?;
    let mut iam: Vec<IamRow> = rows(&mut all, IAM)?;
    // Newest first (ties: the later row); the statements order them too.
    logs.sort_by(|a, b| b.ts.total_cmp(&a.ts).then(b.id.total_cmp(&a.id)));
    iam.sort_by(|a, b| b.ts.total_cmp(&a.ts).then(b.id.total_cmp(&a.id)));
    let anomalies: Vec<AnomalyRow> = rows(&mut all, ANOMALIES)?;
    let counts: Vec<CountRow> = rows(&mut all, ANOMALY_COUNTS)?;

    let timeline = timeline(w, &buckets);
    let by_severity = severity_counts(&counts);
    let total_anomalies: u64 = by_severity.iter().sum();
    let (top_attackers, attack_sources) = top_attackers(&attackers, w, redact);
    let stats = json!({
        "totalEvents": timeline.total,
        "totalAnomalies": total_anomalies,
        "criticalThreats": by_severity[0],
        "failedLogins": timeline.failed,
        "iamChanges": timeline.iam,
        "attackSources": attack_sources,
        "eventsPerHour": events_per_hour(timeline.total, w.hours),
    });
    Ok(json!({
        "timeRange": {
            "start": w.start.iso_seconds(),
            "end": w.end.iso_seconds(),
            "hours": w.hours,
        },
        "logs": logs.iter().map(|r| log_item(r, redact)).collect::<Vec<_>>(),
        "anomalies": anomaly_list(anomalies),
        "iamChanges": iam.iter().map(iam_change).collect::<Vec<_>>(),
        "networkFlow": network_flow(&flows, &sources),
        "topAttackers": top_attackers,
        "threatDistribution": SEVERITIES.iter().zip(by_severity)
            .map(|(level, count)| json!({"level": level, "count": count}))
            .collect::<Vec<_>>(),
        "stats": stats,
        "securityEventsTimeline": timeline.buckets,
        "attackPatternHeatmap": heatmap(&timeline.hostile),
        "lastUpdated": w.end.iso_seconds(),
    }))
}

/// `totalEvents / hours`, rounded to one decimal (§3.7), computed as the dashboard's checker
/// does (`Math.round(x * 10) / 10`).
pub(crate) fn events_per_hour(total: u64, hours: u32) -> f64 {
    ((total as f64 / f64::from(hours.max(1))) * 10.0).round() / 10.0
}

pub(crate) struct Timeline {
    pub buckets: Vec<Value>,
    pub total: u64,
    pub failed: u64,
    pub iam: u64,
    /// Hostile items per bucket hour (the heatmap's input).
    pub hostile: Vec<(i64, u64)>,
}

/// `hours + 1` hourly buckets from `start`, oldest first, empty ones included (§3.8).
pub(crate) fn timeline(w: &Window, rows: &[BucketRow]) -> Timeline {
    let by_hour: BTreeMap<i64, &BucketRow> = rows.iter().map(|r| (r.hour as i64, r)).collect();
    let mut t = Timeline {
        buckets: Vec::new(),
        total: 0,
        failed: 0,
        iam: 0,
        hostile: Vec::new(),
    };
    for hour in w.buckets() {
        let r = by_hour.get(&hour);
        let get = |f: fn(&BucketRow) -> f64| r.map_or(0, |r| count(f(r)));
        let (total, failed, iam) = (get(|r| r.total), get(|r| r.failed), get(|r| r.iam));
        t.total += total;
        t.failed += failed;
        t.iam += iam;
        t.hostile.push((hour, get(|r| r.hostile)));
        t.buckets.push(json!({
            "timestamp": UnixMs(hour).iso_seconds(),
            "total": total,
            "critical": get(|r| r.critical),
            "warnings": get(|r| r.warnings),
            "failedLogins": failed,
            "iamChanges": iam,
        }));
    }
    t
}

/// 7 × 24 hostile counts by ISO weekday (0 = Monday) and UTC hour (§3.9).
pub(crate) fn heatmap(hostile: &[(i64, u64)]) -> Value {
    let mut data = [[0u64; 24]; 7];
    for &(hour, n) in hostile {
        if let Some(t) = DateTime::from_timestamp_millis(hour) {
            data[t.weekday().num_days_from_monday() as usize][t.hour() as usize] += n;
        }
    }
    let max = data.iter().flatten().copied().max().unwrap_or(0);
    json!({
        "days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        "data": data,
        "maxValue": max,
    })
}

/// Counts per alert severity, in [`SEVERITIES`] order.
pub(crate) fn severity_counts(rows: &[CountRow]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for r in rows {
        if let Some(i) = SEVERITIES.iter().position(|s| *s == r.severity) {
            out[i] += count(r.n);
        }
    }
    out
}

fn severity_rank(s: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|x| *x == s)
        .unwrap_or(SEVERITIES.len())
}

/// One Log (§3.1): optional keys left out, never null; `geo`/`vpn` of event items left out
/// when redacting.
pub(crate) fn log_item(r: &LogItemRow, redact: bool) -> Value {
    let mut o = Map::new();
    let id = match &r.event_id {
        Some(e) => e.clone(),
        None => item_id(r.id as i64, r.ts as i64),
    };
    o.insert("id".into(), id.into());
    o.insert("type".into(), r.log_type.clone().into());
    o.insert(
        "sourceIp".into(),
        r.source_ip
            .clone()
            .unwrap_or_else(|| "unknown".into())
            .into(),
    );
    o.insert("timestamp".into(), iso(r.ts).into());
    let hide = redact && r.event_id.is_some();
    let optional = [
        ("user", r.user.as_ref()),
        ("geo", r.geo.as_ref().filter(|_| !hide)),
        ("hostname", r.hostname.as_ref()),
        ("targetIp", r.target_ip.as_ref()),
        ("device", r.device.as_ref()),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            o.insert(k.into(), v.clone().into());
        }
    }
    if r.log_type == LogType::IamChange.as_str() {
        if let Some(a) = &r.action {
            o.insert("action".into(), a.clone().into());
        }
    }
    if let Some(v) = r.vpn.filter(|_| !hide) {
        o.insert("vpn".into(), (v != 0.0).into());
    }
    let mut meta = json!({
        "severity": r.level,
        "service": r.service,
        "namespace": r.namespace,
    });
    if let Some(s) = r.status_code {
        meta["status_code"] = (s as i64).into();
    }
    o.insert("_metadata".into(), meta);
    Value::Object(o)
}

/// One IamChange (§3.3).
pub(crate) fn iam_change(r: &IamRow) -> Value {
    json!({
        "timestamp": iso(r.ts),
        "changedBy": r.user.clone().unwrap_or_else(|| "unknown".into()),
        "action": r.action.clone().unwrap_or_else(|| "permission_changed".into()),
        "resource": r.resource.clone().unwrap_or_else(|| "unknown".into()),
        "service": r.service,
    })
}

/// The anomalies (§3.2), by severity rank then newest (then id, for a stable order).
pub(crate) fn anomaly_list(mut rows: Vec<AnomalyRow>) -> Vec<Value> {
    rows.sort_by(|a, b| {
        severity_rank(&a.severity)
            .cmp(&severity_rank(&b.severity))
            .then(b.created_at.total_cmp(&a.created_at))
            .then(b.id.cmp(&a.id))
    });
    rows.iter().map(anomaly).collect()
}

fn anomaly(r: &AnomalyRow) -> Value {
    let confidence = r
        .confidence
        .filter(|c| c.is_finite())
        .map_or(0, |c| c.round().clamp(0.0, 100.0) as u64);
    let mut o = json!({
        "id": r.id,
        "timestamp": iso(r.created_at),
        "severity": r.severity,
        "type": r.alert_type,
        "title": r.title,
        "description": r.description,
        "user": r.actor_id,
        "sourceIp": r.source_ip,
        "confidence": confidence,
        "status": r.status,
    });
    if let Some(s) = &r.service {
        o["service"] = s.clone().into();
    }
    if let Some(n) = &r.namespace {
        o["namespace"] = n.clone().into();
    }
    let evidence = match &r.evidence {
        Some(Value::String(text)) => serde_json::from_str::<Value>(text).ok(),
        other => other.clone(),
    };
    if let Some(e @ Value::Object(_)) = evidence {
        o["evidence"] = e;
    }
    o
}

/// §3.5 severity from the attack count, raised to the worst anomaly of the IP (4 critical …
/// 1 low, 0 none).
pub(crate) fn attacker_severity(attacks: u64, worst: u64) -> &'static str {
    let by_count = match attacks {
        a if a > 50 => 4,
        a if a > 20 => 3,
        a if a >= 5 => 2,
        _ => 1,
    };
    match by_count.max(worst) {
        4 => "critical",
        3 => "high",
        2 => "medium",
        _ => "low",
    }
}

/// `topAttackers` (sorted by attacks, then last attack, then IP; 10 kept) and
/// `stats.attackSources` (§3.5, §3.7).
pub(crate) fn top_attackers(rows: &[AttackerRow], w: &Window, redact: bool) -> (Vec<Value>, u64) {
    let sources = rows
        .iter()
        .filter(|r| r.ip.is_none())
        .filter_map(|r| r.attackers)
        .map(count)
        .sum::<u64>();
    let mut list: Vec<(&str, u64, i64, &AttackerRow)> = rows
        .iter()
        .filter_map(|r| {
            let ip = r.ip.as_deref()?;
            let attacks = count(r.attacks.unwrap_or(0.0));
            (attacks > 0).then(|| (ip, attacks, r.last_ts.unwrap_or(0.0) as i64, r))
        })
        .collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(b.0)));
    list.truncate(10);
    let out = list
        .into_iter()
        .map(|(ip, attacks, last, r)| {
            let status = if r.blocked.is_some_and(|b| b != 0.0) {
                "blocked"
            } else if w.end.0 - last <= ACTIVE_MS {
                "active"
            } else {
                "inactive"
            };
            let country = match (&r.geo, redact) {
                (Some(g), false) if !g.trim().is_empty() => g.clone(),
                _ => "Unknown".to_string(),
            };
            json!({
                "sourceIp": ip,
                "country": country,
                "attacks": attacks,
                "servicesTargeted": count(r.services.unwrap_or(0.0)),
                "severity": attacker_severity(attacks, count(r.worst.unwrap_or(0.0))),
                "status": status,
            })
        })
        .collect();
    (
        out,
        sources.max(rows.iter().filter(|r| r.ip.is_some()).count() as u64),
    )
}

/// The Sankey (§3.4): sources (top 10 by count, the rest merged into `other`) → services →
/// types. `flows` are the (service, type) counts of every item of the window; `sources` the
/// per-service counts of the top 10 sources.
pub(crate) fn network_flow(flows: &[FlowRow], sources: &[SourceRow]) -> Value {
    // Services and their types.
    let mut service_total: BTreeMap<&str, u64> = BTreeMap::new();
    let mut service_type: BTreeMap<(&str, usize), u64> = BTreeMap::new();
    for f in flows {
        let n = count(f.n);
        let Some(t) = LogType::parse(&f.log_type) else {
            continue;
        };
        if n == 0 {
            continue;
        }
        *service_total.entry(&f.service).or_default() += n;
        let ti = LogType::ALL.iter().position(|x| *x == t).unwrap_or(0);
        *service_type.entry((&f.service, ti)).or_default() += n;
    }
    let total: u64 = service_total.values().sum();

    // Source buckets: the top sources, then `other` = whatever is left per service.
    let mut source_service: BTreeMap<(String, &str), u64> = BTreeMap::new();
    let mut source_total: BTreeMap<String, u64> = BTreeMap::new();
    let mut listed: BTreeMap<&str, u64> = BTreeMap::new();
    for s in sources.iter().filter(|s| count(s.n) > 0) {
        let Some((service, _)) = service_total.get_key_value(s.service.as_str()) else {
            continue; // a service with no items left after the future correction
        };
        let n = count(s.n);
        *source_service
            .entry((s.source.clone(), service))
            .or_default() += n;
        *source_total.entry(s.source.clone()).or_default() += n;
        *listed.entry(service).or_default() += n;
    }
    let mut other_total = 0;
    for (service, &n) in &service_total {
        let rest = n.saturating_sub(listed.get(service).copied().unwrap_or(0));
        if rest > 0 {
            source_service.insert((OTHER.to_string(), service), rest);
            other_total += rest;
        }
    }
    if other_total > 0 {
        source_total.insert(OTHER.to_string(), other_total);
    }

    // Nodes: sources by count (ties: `other` last, then by name), services by count (ties by
    // name), types in §4 order.
    let mut source_nodes: Vec<(&String, u64)> = source_total.iter().map(|(k, v)| (k, *v)).collect();
    source_nodes.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then((a.0 == OTHER).cmp(&(b.0 == OTHER)))
            .then(a.0.cmp(b.0))
    });
    let mut service_nodes: Vec<(&str, u64)> = service_total.iter().map(|(k, v)| (*k, *v)).collect();
    service_nodes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let used_types: Vec<usize> = (0..LogType::ALL.len())
        .filter(|ti| service_type.keys().any(|(_, t)| t == ti))
        .collect();

    let mut nodes = Vec::new();
    let mut push = |name: &str, layer: &str| {
        let id = nodes.len();
        nodes.push(json!({"id": id, "name": name, "layer": layer}));
        id
    };
    let source_ids: Vec<usize> = source_nodes
        .iter()
        .map(|(n, _)| push(n, "source"))
        .collect();
    let service_ids: Vec<usize> = service_nodes
        .iter()
        .map(|(n, _)| push(n, "device"))
        .collect();
    let type_ids: Vec<usize> = used_types
        .iter()
        .map(|&ti| push(LogType::ALL[ti].as_str(), "telemetry"))
        .collect();

    let mut links = Vec::new();
    for (si, (source, _)) in source_nodes.iter().enumerate() {
        for (di, (service, _)) in service_nodes.iter().enumerate() {
            if let Some(&n) = source_service.get(&((*source).clone(), *service)) {
                links
                    .push(json!({"source": source_ids[si], "target": service_ids[di], "value": n}));
            }
        }
    }
    for (di, (service, _)) in service_nodes.iter().enumerate() {
        for (k, &ti) in used_types.iter().enumerate() {
            if let Some(&n) = service_type.get(&(*service, ti)) {
                links.push(json!({"source": service_ids[di], "target": type_ids[k], "value": n}));
            }
        }
    }
    json!({
        "totalEvents": total,
        "networkFlows": links.len(),
        "activeNodes": nodes.len(),
        "sankeyData": {"nodes": nodes, "links": links},
    })
}
