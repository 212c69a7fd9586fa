//! The history detection reads (see [`HistoryRequest`]), batched per queue batch, and the
//! assembly of their rows into one [`History`] per event.
//!
//! One event at a time cost one D1 batch of reads per event, each read up to 1,000 rows: a
//! 250-event queue batch ran hundreds of queries (above D1's per-invocation limit, 50 on the
//! Free plan) and, under a brute-force flood, shipped ~2,000 rows per event. Here the first round
//! shares one read per (part, organisation, key) across the batch, widened to the members'
//! earliest `since` and latest trigger time, and runs one statement per part ([`sql`]). Each
//! read returns its newest rows up to a bound that grows with its member count, so in the usual
//! case (a batch's events are the newest of their keys) every member's window is complete.
//! A member whose window the bound may have cut is read again on its own in a second round —
//! again one statement per part — whose window ends at the member itself, so it is complete.
//! Results are therefore those of per-event reads: lists may hold more entries than a
//! per-event read would (the rules drop entries after the trigger and outside the window), never
//! fewer inside the window, up to the same bounds ([`MAX_ROWS`], [`MAX_LOGINS`]).

pub mod model;
mod sql;

pub use sql::{Read, DEVICE_EXPR};

use crate::api::sql::Statement;
use crate::detect::{precedes, DetectionEvent, History, HistoryRequest, Occurrence, Sighting};
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Which list of [`History`] a read fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// Most earlier events a counting list holds per event: far above every threshold, so counts
/// stay exact where they matter while a flood cannot blow the consumer's memory.
pub const MAX_ROWS: usize = 1000;
/// Most recent successful logins considered for impossible travel.
pub const MAX_LOGINS: usize = 50;
/// Most sightings one read returns (values times sightings per value).
pub const MAX_SIGHTING_ROWS: usize = 4000;
/// Most sightings per value one read returns.
const MAX_PER_VALUE: usize = 32;

impl Part {
    /// The row bound of a read shared by `members` events: the per-event bound plus room for
    /// the members themselves, which are usually the newest rows.
    fn limit(self, members: usize) -> usize {
        match self {
            Part::IpFailedLogins
            | Part::ActorFailedLogins
            | Part::IpRateLimits
            | Part::ActorRateLimits => MAX_ROWS + members,
            Part::ActorLogins => MAX_LOGINS + members,
            Part::ActorCountries | Part::ActorDevices => (members + 1).clamp(2, MAX_PER_VALUE),
            Part::ActorPrior => 2,
        }
    }
}

/// The reads `event` needs, as `(part, key, since)`.
fn needs<'e>(event: &'e DetectionEvent, req: &HistoryRequest) -> Vec<(Part, &'e str, UnixMs)> {
    let mut out = Vec::new();
    let mut add = |part, key: Option<&'e str>, since: Option<UnixMs>| {
        if let (Some(key), Some(since)) = (key, since) {
            out.push((part, key, since));
        }
    };
    let (ip, actor) = (event.ip(), event.actor());
    add(Part::IpFailedLogins, ip, req.ip_failed_logins_since);
    add(
        Part::ActorFailedLogins,
        actor,
        req.actor_failed_logins_since,
    );
    add(Part::IpRateLimits, ip, req.ip_rate_limits_since);
    add(Part::ActorRateLimits, actor, req.actor_rate_limits_since);
    add(Part::ActorLogins, actor, req.actor_logins_since);
    add(Part::ActorCountries, actor, req.actor_countries_since);
    add(Part::ActorDevices, actor, req.actor_devices_since);
    add(
        Part::ActorPrior,
        actor,
        req.actor_prior_event.then_some(UnixMs(i64::MIN)),
    );
    out
}

/// One read handed out, and the events it answers.
struct Group {
    read: Read,
    limit: usize,
    members: Vec<usize>,
}

/// One event's read still to answer.
#[derive(Clone)]
struct Need {
    event: usize,
    part: Part,
    key: String,
    since: UnixMs,
}

/// The history reads of a batch of events, answered in rounds (see the module doc):
/// hand out [`HistoryReads::statements`], run them as one D1 batch, give the rows to
/// [`HistoryReads::absorb`], and repeat until no statement is left; then
/// [`HistoryReads::into_histories`].
pub struct HistoryReads {
    events: Vec<(DetectionEvent, String)>,
    histories: Vec<History>,
    pending: Vec<Need>,
    groups: Vec<Group>,
    /// The part of each statement last handed out, in order.
    handed: Vec<Part>,
    round: u8,
}

impl HistoryReads {
    /// The reads for `events`, each with its organisation and what its rules need.
    pub fn new(events: Vec<(DetectionEvent, String, HistoryRequest)>) -> HistoryReads {
        let mut pending = Vec::new();
        let mut owned = Vec::with_capacity(events.len());
        for (i, (event, org, req)) in events.into_iter().enumerate() {
            pending.extend(
                needs(&event, &req)
                    .into_iter()
                    .map(|(part, key, since)| Need {
                        event: i,
                        part,
                        key: key.to_owned(),
                        since,
                    }),
            );
            owned.push((event, org));
        }
        HistoryReads {
            histories: vec![History::default(); owned.len()],
            events: owned,
            pending,
            groups: Vec::new(),
            handed: Vec::new(),
            round: 0,
        }
    }

    /// The statements of the next round, one per part with reads left (empty when done): in
    /// the first round one read per key shared by its events, afterwards one per event.
    pub fn statements(&mut self) -> Vec<Statement> {
        self.round = self.round.saturating_add(1);
        let shared = self.round == 1;
        let mut by_key: BTreeMap<(Part, &str, &str), usize> = BTreeMap::new();
        let mut groups: Vec<Group> = Vec::new();
        for (n, need) in self.pending.iter().enumerate() {
            let (event, org) = &self.events[need.event];
            let slot = shared.then_some((need.part, org.as_str(), need.key.as_str()));
            let existing = slot.and_then(|s| by_key.get(&s).copied());
            match existing {
                Some(g) => {
                    let read = &mut groups[g].read;
                    read.since = read.since.min(need.since);
                    if (event.created_at, &event.id) > (read.until, &read.until_id) {
                        read.until = event.created_at;
                        read.until_id = event.id.clone();
                    }
                    groups[g].members.push(n);
                }
                None => {
                    if let Some(s) = slot {
                        by_key.insert(s, groups.len());
                    }
                    groups.push(Group {
                        read: Read {
                            part: need.part,
                            org: org.clone(),
                            key: need.key.clone(),
                            since: need.since,
                            until: event.created_at,
                            until_id: event.id.clone(),
                        },
                        limit: 0,
                        members: vec![n],
                    });
                }
            }
        }
        let mut parts: BTreeMap<Part, Vec<(usize, &Read)>> = BTreeMap::new();
        let mut limits: BTreeMap<Part, usize> = BTreeMap::new();
        for g in groups.iter_mut() {
            g.limit = g.read.part.limit(g.members.len());
            let l = limits.entry(g.read.part).or_default();
            *l = (*l).max(g.limit);
        }
        for (gid, g) in groups.iter().enumerate() {
            parts.entry(g.read.part).or_default().push((gid, &g.read));
        }
        self.handed = parts.keys().copied().collect();
        let statements = parts
            .iter()
            .map(|(part, reads)| sql::statement(*part, reads, limits[part]))
            .collect();
        // The statement's bound is the largest of its reads; coverage is judged by it.
        for g in &mut groups {
            g.limit = limits[&g.read.part];
        }
        self.groups = groups;
        statements
    }

    /// The rows of the statements last handed out, answered by `answer(read, row bound)` (a JSON
    /// array text per read) instead of D1: for [`model`] and diagnostics.
    pub fn answer_with(&self, answer: impl Fn(&Read, usize) -> String) -> Vec<Vec<Value>> {
        self.handed
            .iter()
            .map(|part| {
                self.groups
                    .iter()
                    .enumerate()
                    .filter(|(_, g)| g.read.part == *part)
                    .map(|(gid, g)| serde_json::json!({"g": gid, "rows": answer(&g.read, g.limit)}))
                    .collect()
            })
            .collect()
    }

    /// Takes the rows of the statements last handed out (in order) and fills every event
    /// whose window they cover; the rest stay pending for the next round.
    pub fn absorb(&mut self, rows: Vec<Vec<Value>>) -> Result<(), serde_json::Error> {
        let mut answers: Vec<Option<Answer>> = (0..self.groups.len()).map(|_| None).collect();
        for (part, rows) in self.handed.iter().zip(rows) {
            for row in rows {
                let r: GroupRow = serde_json::from_value(row)?;
                let text = r.rows.as_deref().unwrap_or("[]");
                if let Some(slot) = answers.get_mut(r.g) {
                    *slot = Some(Answer::parse(*part, text)?);
                }
            }
        }
        let last_round = self.round >= 2;
        let pending = std::mem::take(&mut self.pending);
        let mut left = Vec::new();
        for (g, answer) in self.groups.iter().zip(answers) {
            for &n in &g.members {
                let need = &pending[n];
                let (event, _) = &self.events[need.event];
                let history = &mut self.histories[need.event];
                let covered = match &answer {
                    Some(a) => a.fill(event, need, g.limit, history) || last_round,
                    None => last_round,
                };
                if !covered {
                    left.push(need.clone());
                }
            }
        }
        self.pending = left;
        self.groups.clear();
        self.handed.clear();
        Ok(())
    }

    /// Each event with its history, in the order the events were given (the events are handed
    /// back so the caller need not keep its own copy beside these).
    pub fn into_histories(self) -> Vec<(DetectionEvent, History)> {
        self.events
            .into_iter()
            .map(|(event, _)| event)
            .zip(self.histories)
            .collect()
    }
}

#[derive(Deserialize)]
struct GroupRow {
    g: usize,
    rows: Option<String>,
}

/// One read's rows, parsed; newest first except [`Answer::Earliest`].
enum Answer {
    Occurrences(Vec<Occurrence>),
    Logins(Vec<DetectionEvent>),
    Sightings(Vec<Sighting>),
    Earliest(Vec<Occurrence>),
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
    timezone: Option<String>,
    asn: Option<f64>,
    asn_org: Option<String>,
    is_vpn: Option<f64>,
    is_tor: Option<f64>,
    is_proxy: Option<f64>,
    is_datacenter: Option<f64>,
    metadata: String,
}

impl LoginRow {
    fn into_event(self) -> DetectionEvent {
        let metadata: Value = serde_json::from_str(&self.metadata).unwrap_or(Value::Null);
        let device = ["device_id", "user_agent"]
            .iter()
            .find_map(|k| match metadata.get(k) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            });
        let flag = |x: Option<f64>| x.is_some_and(|x| x != 0.0);
        DetectionEvent {
            id: self.id,
            event_name: self.event_name,
            actor_id: self.actor_id,
            source_ip: self.user_ip,
            created_at: UnixMs(self.created_at as i64),
            latitude: self.latitude,
            longitude: self.longitude,
            country: self.country_code,
            city: self.city,
            timezone: self.timezone,
            asn: self.asn.and_then(crate::intel::ipdb::asn_number),
            asn_org: self.asn_org,
            is_vpn: flag(self.is_vpn),
            is_tor: flag(self.is_tor),
            is_proxy: flag(self.is_proxy),
            is_datacenter: flag(self.is_datacenter),
            is_relay: false,
            device,
        }
    }
}

/// `[id, at]` or `[id, at, peer]`.
#[derive(Deserialize)]
struct OccurrenceRow(String, f64, #[serde(default)] Option<Value>);

fn occurrences(text: &str) -> Result<Vec<Occurrence>, serde_json::Error> {
    let rows: Vec<OccurrenceRow> = serde_json::from_str(text)?;
    Ok(rows
        .into_iter()
        .map(|OccurrenceRow(event_id, at, peer)| Occurrence {
            event_id,
            at: UnixMs(at as i64),
            peer: match peer {
                Some(Value::String(s)) => Some(s),
                _ => None,
            },
        })
        .collect())
}

impl Answer {
    fn parse(part: Part, text: &str) -> Result<Answer, serde_json::Error> {
        Ok(match part {
            Part::IpFailedLogins
            | Part::ActorFailedLogins
            | Part::IpRateLimits
            | Part::ActorRateLimits => Answer::Occurrences(occurrences(text)?),
            Part::ActorPrior => Answer::Earliest(occurrences(text)?),
            Part::ActorLogins => {
                let rows: Vec<LoginRow> = serde_json::from_str(text)?;
                Answer::Logins(rows.into_iter().map(LoginRow::into_event).collect())
            }
            Part::ActorCountries | Part::ActorDevices => {
                let rows: Vec<(Value, f64, String)> = serde_json::from_str(text)?;
                Answer::Sightings(
                    rows.into_iter()
                        .map(|(value, at, event_id)| Sighting {
                            event_id,
                            at: UnixMs(at as i64),
                            value: match value {
                                Value::String(s) => s,
                                other => other.to_string(),
                            },
                        })
                        .collect(),
                )
            }
        })
    }

    /// Fills `need`'s list of `history` from this answer (a read with row bound `limit`) and
    /// tells whether the answer covers `event`'s whole window.
    fn fill(
        &self,
        event: &DetectionEvent,
        need: &Need,
        limit: usize,
        history: &mut History,
    ) -> bool {
        let (t, since) = (event.created_at, need.since);
        let prior = |id: &str, at: UnixMs| precedes(at, id, t, &event.id) && at >= since;
        // Newest-first rows bounded by `limit`: the `wanted` newest earlier ones inside the
        // window, and whether they are complete (the bound cut no row still inside it).
        fn window<T: Clone>(
            rows: &[T],
            id_at: impl for<'r> Fn(&'r T) -> (&'r str, UnixMs),
            prior: impl Fn(&str, UnixMs) -> bool,
            wanted: usize,
            limit: usize,
            since: UnixMs,
        ) -> (Vec<T>, bool) {
            let list: Vec<T> = rows
                .iter()
                .filter(|r| {
                    let (id, at) = id_at(r);
                    prior(id, at)
                })
                .take(wanted)
                .cloned()
                .collect();
            let oldest = rows.last().map(|r| id_at(r).1);
            let complete =
                rows.len() < limit || list.len() >= wanted || oldest.is_some_and(|at| at < since);
            (list, complete)
        }
        match self {
            Answer::Occurrences(rows) => {
                let (list, covered) = window(
                    rows,
                    |o| (o.event_id.as_str(), o.at),
                    prior,
                    MAX_ROWS,
                    limit,
                    since,
                );
                *occurrence_list(history, need.part) = list;
                covered
            }
            Answer::Logins(rows) => {
                let (list, covered) = window(
                    rows,
                    |e| (e.id.as_str(), e.created_at),
                    prior,
                    MAX_LOGINS,
                    limit,
                    since,
                );
                history.actor_logins = list;
                covered
            }
            Answer::Sightings(rows) => {
                // Per value, the newest `limit` sightings: the value's answer is exact when
                // they are fewer, or when one of them is an earlier sighting (the newest earlier
                // one is then among them).
                let mut per_value: BTreeMap<&str, (usize, bool)> = BTreeMap::new();
                for s in rows {
                    let v = per_value.entry(&s.value).or_default();
                    v.0 += 1;
                    v.1 |= precedes(s.at, &s.event_id, t, &event.id);
                }
                let covered = rows.len() >= MAX_SIGHTING_ROWS
                    || per_value
                        .values()
                        .all(|(n, earlier)| *n < limit || *earlier);
                let list: Vec<Sighting> = rows
                    .iter()
                    .filter(|s| prior(&s.event_id, s.at))
                    .cloned()
                    .collect();
                if need.part == Part::ActorCountries {
                    history.actor_countries = list;
                } else {
                    history.actor_devices = list;
                }
                covered
            }
            Answer::Earliest(rows) => {
                history.actor_has_prior_event = rows
                    .iter()
                    .any(|o| precedes(o.at, &o.event_id, t, &event.id));
                true
            }
        }
    }
}

fn occurrence_list(history: &mut History, part: Part) -> &mut Vec<Occurrence> {
    match part {
        Part::IpFailedLogins => &mut history.ip_failed_logins,
        Part::ActorFailedLogins => &mut history.actor_failed_logins,
        Part::IpRateLimits => &mut history.ip_rate_limits,
        _ => &mut history.actor_rate_limits,
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod sql_tests;
#[cfg(test)]
mod tests;
