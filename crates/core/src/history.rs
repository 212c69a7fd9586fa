//! The D1 queries that fetch what a detection rule needs ([`HistoryRequest`]) and the
//! assembly of their rows into a [`History`]. Every query is bound to the event's organisation
//! and to `[since, trigger time]`; the trigger itself is excluded where rows are grouped.

use crate::detect::{
    DetectionEvent, History, HistoryRequest, Occurrence, Sighting, RATE_LIMIT_NAME,
    SUCCESSFUL_LOGIN_NAME,
};
use crate::query::{SqlParam, Statement};
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::Value;

/// Which list of [`History`] a query fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    IpFailedLogins,
    ActorFailedLogins,
    IpRateLimits,
    ActorRateLimits,
    ActorLogins,
    ActorCountries,
    ActorDevices,
    ActorPrior,
}

/// Bound on rows per history query: far above every threshold, so counts stay exact where
/// they matter while a flood cannot blow the consumer's memory.
const MAX_ROWS: u32 = 1000;
/// Recent successful logins considered for impossible travel.
const MAX_LOGINS: u32 = 50;

fn occurrences(
    column: &str,
    value: &str,
    name: &str,
    org: &str,
    since: UnixMs,
    until: UnixMs,
) -> Statement {
    (
        format!(
            "SELECT id AS event_id, created_at AS at FROM events WHERE org_id = ?1 AND {column} = ?2 \
             AND event_name = ?3 AND created_at >= ?4 AND created_at <= ?5 ORDER BY created_at DESC LIMIT {MAX_ROWS}"
        ),
        vec![
            SqlParam::Text(org.into()),
            SqlParam::Text(value.into()),
            SqlParam::Text(name.into()),
            SqlParam::Number(since.0 as f64),
            SqlParam::Number(until.0 as f64),
        ],
    )
}

/// Failed logins from the dashboard log items, which hold both `auth.login_failed` events and
/// raw `login_failure` lines (dashboard-contract §10: brute force counts both). Ids are the
/// items' ids: the event UUID, or `<row id>-<unix seconds>` for a line.
fn failed_logins(column: &str, value: &str, org: &str, since: UnixMs, until: UnixMs) -> Statement {
    (
        format!(
            "SELECT coalesce(event_id, id || '-' || (ts / 1000)) AS event_id, ts AS at FROM logs \
             WHERE org_id = ?1 AND type = 'login_failure' AND {column} = ?2 AND ts >= ?3 AND ts <= ?4 \
             ORDER BY ts DESC LIMIT {MAX_ROWS}"
        ),
        vec![
            SqlParam::Text(org.into()),
            SqlParam::Text(value.into()),
            SqlParam::Number(since.0 as f64),
            SqlParam::Number(until.0 as f64),
        ],
    )
}

fn sightings(
    expr: &str,
    actor: &str,
    trigger: &str,
    org: &str,
    since: UnixMs,
    until: UnixMs,
) -> Statement {
    (
        format!(
            "SELECT value, max(created_at) AS at, max(id) AS event_id FROM (SELECT {expr} AS value, created_at, id \
             FROM events WHERE org_id = ?1 AND actor_id = ?2 AND created_at >= ?3 AND created_at <= ?4 AND id != ?5) \
             WHERE value IS NOT NULL GROUP BY value LIMIT {MAX_ROWS}"
        ),
        vec![
            SqlParam::Text(org.into()),
            SqlParam::Text(actor.into()),
            SqlParam::Number(since.0 as f64),
            SqlParam::Number(until.0 as f64),
            SqlParam::Text(trigger.into()),
        ],
    )
}

/// The queries to run (as one D1 batch) for `event` of `org`.
pub fn history_statements(
    event: &DetectionEvent,
    org: &str,
    req: &HistoryRequest,
) -> Vec<(Part, Statement)> {
    let until = event.created_at;
    let mut out = Vec::new();
    if let (Some(ip), Some(since)) = (event.ip(), req.ip_failed_logins_since) {
        out.push((
            Part::IpFailedLogins,
            failed_logins("source_ip", ip, org, since, until),
        ));
    }
    if let (Some(ip), Some(since)) = (event.ip(), req.ip_rate_limits_since) {
        out.push((
            Part::IpRateLimits,
            occurrences("user_ip", ip, RATE_LIMIT_NAME, org, since, until),
        ));
    }
    let Some(actor) = event.actor() else {
        return out;
    };
    if let Some(since) = req.actor_failed_logins_since {
        out.push((
            Part::ActorFailedLogins,
            failed_logins("user", actor, org, since, until),
        ));
    }
    if let Some(since) = req.actor_rate_limits_since {
        out.push((
            Part::ActorRateLimits,
            occurrences("actor_id", actor, RATE_LIMIT_NAME, org, since, until),
        ));
    }
    if let Some(since) = req.actor_logins_since {
        out.push((
            Part::ActorLogins,
            (
                format!(
                    "SELECT id, event_name, actor_id, user_ip, created_at, latitude, longitude, country_code, city, \
                     is_vpn, is_tor, is_proxy, metadata FROM events WHERE org_id = ?1 AND actor_id = ?2 \
                     AND event_name = ?3 AND created_at >= ?4 AND created_at <= ?5 AND id != ?6 \
                     ORDER BY created_at DESC, id DESC LIMIT {MAX_LOGINS}"
                ),
                vec![
                    SqlParam::Text(org.into()),
                    SqlParam::Text(actor.into()),
                    SqlParam::Text(SUCCESSFUL_LOGIN_NAME.into()),
                    SqlParam::Number(since.0 as f64),
                    SqlParam::Number(until.0 as f64),
                    SqlParam::Text(event.id.clone()),
                ],
            ),
        ));
    }
    if let Some(since) = req.actor_countries_since {
        out.push((
            Part::ActorCountries,
            sightings("upper(country_code)", actor, &event.id, org, since, until),
        ));
    }
    if let Some(since) = req.actor_devices_since {
        let device = "coalesce(json_extract(metadata, '$.device_id'), json_extract(metadata, '$.user_agent'))";
        out.push((
            Part::ActorDevices,
            sightings(device, actor, &event.id, org, since, until),
        ));
    }
    if req.actor_prior_event {
        out.push((
            Part::ActorPrior,
            (
                "SELECT count(*) AS n FROM (SELECT 1 FROM events WHERE org_id = ?1 AND actor_id = ?2 \
                 AND created_at <= ?3 AND id != ?4 LIMIT 1)"
                    .into(),
                vec![
                    SqlParam::Text(org.into()),
                    SqlParam::Text(actor.into()),
                    SqlParam::Number(until.0 as f64),
                    SqlParam::Text(event.id.clone()),
                ],
            ),
        ));
    }
    out
}

#[derive(Deserialize)]
struct OccurrenceRow {
    event_id: String,
    at: f64,
}

#[derive(Deserialize)]
struct SightingRow {
    event_id: String,
    at: f64,
    value: Value,
}

#[derive(Deserialize)]
struct LoginRow {
    id: String,
    event_name: String,
    actor_id: Option<String>,
    user_ip: Option<String>,
    created_at: f64,
    latitude: Option<f64>,
    longitude: Option<f64>,
    country_code: Option<String>,
    city: Option<String>,
    is_vpn: Option<f64>,
    is_tor: Option<f64>,
    is_proxy: Option<f64>,
    metadata: String,
}

#[derive(Deserialize)]
struct CountRow {
    n: f64,
}

fn rows<T: for<'de> Deserialize<'de>>(values: Vec<Value>) -> Result<Vec<T>, serde_json::Error> {
    values.into_iter().map(serde_json::from_value).collect()
}

/// Builds the [`History`] from each query's rows (as JSON objects, in any order of parts).
pub fn assemble(parts: Vec<(Part, Vec<Value>)>) -> Result<History, serde_json::Error> {
    let mut h = History::default();
    let occ = |v| -> Result<Vec<Occurrence>, serde_json::Error> {
        Ok(rows::<OccurrenceRow>(v)?
            .into_iter()
            .map(|r| Occurrence {
                event_id: r.event_id,
                at: UnixMs(r.at as i64),
            })
            .collect())
    };
    let sight = |v| -> Result<Vec<Sighting>, serde_json::Error> {
        Ok(rows::<SightingRow>(v)?
            .into_iter()
            .map(|r| Sighting {
                event_id: r.event_id,
                at: UnixMs(r.at as i64),
                value: match r.value {
                    Value::String(s) => s,
                    other => other.to_string(),
                },
            })
            .collect())
    };
    for (part, values) in parts {
        match part {
            Part::IpFailedLogins => h.ip_failed_logins = occ(values)?,
            Part::ActorFailedLogins => h.actor_failed_logins = occ(values)?,
            Part::IpRateLimits => h.ip_rate_limits = occ(values)?,
            Part::ActorRateLimits => h.actor_rate_limits = occ(values)?,
            Part::ActorCountries => h.actor_countries = sight(values)?,
            Part::ActorDevices => h.actor_devices = sight(values)?,
            Part::ActorPrior => {
                h.actor_has_prior_event =
                    rows::<CountRow>(values)?.first().is_some_and(|r| r.n > 0.0)
            }
            Part::ActorLogins => {
                h.actor_logins = rows::<LoginRow>(values)?
                    .into_iter()
                    .map(|r| {
                        let metadata: Value =
                            serde_json::from_str(&r.metadata).unwrap_or(Value::Null);
                        let device =
                            ["device_id", "user_agent"].iter().find_map(|k| {
                                match metadata.get(k) {
                                    Some(Value::String(s)) if !s.trim().is_empty() => {
                                        Some(s.clone())
                                    }
                                    Some(Value::Number(n)) => Some(n.to_string()),
                                    _ => None,
                                }
                            });
                        DetectionEvent {
                            id: r.id,
                            event_name: r.event_name,
                            actor_id: r.actor_id,
                            source_ip: r.user_ip,
                            created_at: UnixMs(r.created_at as i64),
                            latitude: r.latitude,
                            longitude: r.longitude,
                            country: r.country_code,
                            city: r.city,
                            is_vpn: r.is_vpn.is_some_and(|x| x != 0.0),
                            is_tor: r.is_tor.is_some_and(|x| x != 0.0),
                            is_proxy: r.is_proxy.is_some_and(|x| x != 0.0),
                            is_relay: false,
                            device,
                        }
                    })
                    .collect()
            }
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{history_request, DetectionConfig};
    use crate::plan::Plan;
    use serde_json::json;

    fn login(name: &str) -> DetectionEvent {
        let mut e = DetectionEvent::new("e-9", name, UnixMs(100_000_000));
        e.actor_id = Some("u1".into());
        e.source_ip = Some("203.0.113.9".into());
        e
    }

    #[test]
    fn a_failed_login_asks_for_ip_and_actor_counts_only() {
        let e = login("auth.login_failed");
        let req = history_request(&e, Plan::Pro, &DetectionConfig::default());
        let parts: Vec<Part> = history_statements(&e, "org", &req)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(parts, vec![Part::IpFailedLogins, Part::ActorFailedLogins]);
    }

    #[test]
    fn statements_are_org_scoped_and_bounded_by_the_trigger_time() {
        let mut e = login("auth.login_success");
        (e.latitude, e.longitude, e.country) = (Some(52.5), Some(13.4), Some("DE".into()));
        let req = history_request(&e, Plan::Pro, &DetectionConfig::default());
        let stmts = history_statements(&e, "org_a", &req);
        let parts: Vec<Part> = stmts.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            parts,
            vec![Part::ActorLogins, Part::ActorCountries, Part::ActorPrior]
        );
        for (_, (sql, params)) in &stmts {
            assert!(sql.contains("org_id = ?1"), "{sql}");
            assert_eq!(params[0], SqlParam::Text("org_a".into()));
            assert!(params.contains(&SqlParam::Number(100_000_000.0)), "{sql}");
        }
        // Free plans skip the behavioural history.
        let free = history_request(&e, Plan::Free, &DetectionConfig::default());
        assert!(history_statements(&e, "org_a", &free)
            .iter()
            .all(|(p, _)| *p != Part::ActorLogins));
    }

    #[test]
    fn rows_assemble_into_history() {
        let h = assemble(vec![
            (Part::IpFailedLogins, vec![json!({"event_id":"a","at":5.0}), json!({"event_id":"b","at":6.0})]),
            (Part::ActorCountries, vec![json!({"value":"DE","at":7.0,"event_id":"c"})]),
            (Part::ActorPrior, vec![json!({"n":1.0})]),
            (Part::ActorLogins, vec![json!({"id":"l","event_name":"auth.login_success","actor_id":"u1","user_ip":"1.2.3.4",
                "created_at":9.0,"latitude":52.5,"longitude":13.4,"country_code":"DE","city":"Berlin","is_vpn":1.0,
                "is_tor":null,"is_proxy":0.0,"metadata":"{\"device_id\":\"d1\"}"})]),
        ])
        .unwrap();
        assert_eq!(h.ip_failed_logins.len(), 2);
        assert_eq!(h.actor_countries[0].value, "DE");
        assert!(h.actor_has_prior_event);
        assert!(h.actor_logins[0].is_vpn && !h.actor_logins[0].is_tor);
        assert_eq!(h.actor_logins[0].device.as_deref(), Some("d1"));
        assert!(assemble(vec![(Part::ActorPrior, vec![json!({"x":1})])]).is_err());
    }
}
