//! Brute force from raw `login_failure` lines (docs/dashboard.md §7.4; docs/api.md §10.2):
//! lines count like `auth.login_failed` events, keyed by source IP and by user, and the alerts
//! are ordinary `brute_force_attack` alerts.
//!
//! A push may hold 10,000 lines, so the event path's "one history query and one write batch per
//! event" would cost tens of thousands of D1 round trips. Instead, after the push is stored:
//! 1. the stored failure lines come back from the insert (`RETURNING`), as [`FailedLine`]s;
//! 2. [`history_statements`]: two queries (one per key kind) fetch every failed login of those
//!    keys in the push's time range from `logs` — which holds both raw lines and LiteSOC events
//!    (the queue consumer writes a `logs` row per event), so both kinds count;
//! 3. [`candidates`]: each line's burst is counted in memory (binary search in the key's sorted
//!    history); the lines that would alert are picked per key, at most two per de-duplication
//!    span (the first, which opens or joins the alert, and the last, which leaves the latest
//!    evidence), and only those run the real rules ([`crate::detect::evaluate`]); the lines
//!    between them join the first's alert as occurrences, so an alert counts every line past
//!    the threshold, as it would count events;
//! 4. [`alert_statements`]: the usual de-duplicating writes ([`crate::alerts::store_statements`]),
//!    in one batch of at most [`MAX_ALERT_STATEMENTS`] statements, however many keys alert,
//!    recording what the organisation's suppressions match as suppressed.
//!
//! The window clock of a line is its own timestamp (lines may be replayed late: counting them
//! at ingestion time would turn a backfill into a burst).
//!
//! [`detect_lines`] is the whole flow as the push runs it: before step 2, the organisation's
//! detection settings and active suppressions are read in one round trip
//! (`crate::detect::settings::DetectionContext`, as the queue consumer reads them), and step 4
//! plans the alerts' deliveries in the same transaction.

use crate::access::ids::{EventId, OrgId};
use crate::alerts::delivery::ledger::plan_raise_statement;
use crate::alerts::suppress::Suppressions;
use crate::alerts::{store_statements_within, BoundedWrites, ExtraTrigger, DEDUP_WINDOW_MS};
use crate::api::sql::{SqlParam, Statement};
use crate::detect::settings::DetectionContext;
use crate::detect::{
    evaluate, AlertCandidate, Burst, DetectionConfig, DetectionEvent, History, Occurrence,
    FAILED_LOGIN_NAMES,
};
use crate::ingest::record::EventRecord;
use crate::ingest::NewEvent;
use crate::limits::plan::Plan;
use crate::logs::classify::LogType;
use crate::runtime::Db;
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

use super::items::{event_column, event_ip_key, event_key_equals, event_user_key};
use super::StoredLine;

/// The detection name of a raw failure line (accepted by [`crate::detect::is_failed_login`]).
pub const LINE_EVENT_NAME: &str = FAILED_LOGIN_NAMES[1];
/// Bound on rows per history query: a flood cannot exhaust memory; counts stay exact far
/// beyond every threshold.
pub const MAX_HISTORY_ROWS: u32 = 20_000;
/// Most earlier failures handed to the rules per trigger (the event path's bound too).
pub const MAX_WINDOW_HISTORY: usize = 1000;
/// Most statements of one push's alert writes. Every key that alerts in one de-duplication span
/// is one fold, and the folds of a span layer go three statements per ~96 KiB chunk (about 50
/// folds), so this stores hundreds of keys' alerts while the whole push — a few insert
/// statements, the settings and suppressions (two), two history reads, these and the delivery
/// plan — stays inside the 50 queries the Free plan allows one invocation. Folds beyond it are
/// dropped, oldest spans first, and counted.
pub const MAX_ALERT_STATEMENTS: usize = 30;

/// One stored `login_failure` line, as detection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedLine {
    /// The line's item id, `<row id>-<unix seconds>`.
    pub id: String,
    pub at: UnixMs,
    pub ip: Option<String>,
    pub user: Option<String>,
}

impl FailedLine {
    /// From a row of `INSERT … RETURNING` ([`super::RETURNING`]): `None` unless the row is a
    /// `login_failure` with a source IP or a user (nothing to count it under otherwise).
    pub fn from_returned(row: &Value) -> Option<FailedLine> {
        FailedLine::from_stored(&StoredLine::from_returned(row)?)
    }

    /// The same from a row already read.
    pub fn from_stored(line: &StoredLine) -> Option<FailedLine> {
        if line.log_type != LogType::LoginFailure
            || (line.source_ip.is_none() && line.user.is_none())
        {
            return None;
        }
        Some(FailedLine {
            id: line.item_id(),
            at: UnixMs(line.ts),
            ip: line.source_ip.clone(),
            user: line.user.clone(),
        })
    }

    fn event(&self) -> DetectionEvent {
        let mut e = DetectionEvent::new(self.id.clone(), LINE_EVENT_NAME, self.at);
        e.source_ip = self.ip.clone();
        e.actor_id = self.user.clone();
        e
    }
}

/// Which key a history query is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyKind {
    /// The source IP (`source_ip`), counted with the per-IP rule.
    Ip,
    /// The user (`user`), counted with the per-account rule.
    User,
}

impl KeyKind {
    fn column(self) -> &'static str {
        match self {
            KeyKind::Ip => "source_ip",
            KeyKind::User => "user",
        }
    }

    /// The partial index of the failed logins by this key (`migrations/0016_lean_indexes.sql`),
    /// which holds only `login_failure` raw lines: each key of the read is a range scan of it,
    /// however many other failures the organisation has in the window.
    fn index(self) -> &'static str {
        match self {
            KeyKind::Ip => "logs_login_failure_ip",
            KeyKind::User => "logs_login_failure_user",
        }
    }

    /// The same for the events' items (`migrations/0019_events_stored_once.sql`), and its key
    /// over the events row `a`.
    fn event_index(self, a: &str) -> (&'static str, String) {
        match self {
            KeyKind::Ip => ("events_login_failure_ip", event_ip_key(a)),
            KeyKind::User => ("events_login_failure_user", event_user_key(a)),
        }
    }

    /// The other key's column: the peer of each history row (docs/api.md §10.10).
    fn peer_column(self) -> &'static str {
        match self {
            KeyKind::Ip => "user",
            KeyKind::User => "source_ip",
        }
    }

    fn rule(self, config: &DetectionConfig) -> Burst {
        match self {
            KeyKind::Ip => config.brute_force_ip,
            KeyKind::User => config.brute_force_account,
        }
    }

    /// The key of `e` for this kind, when it has a usable one.
    fn of(self, e: &DetectionEvent) -> Option<String> {
        match self {
            KeyKind::Ip => e.ip().map(str::to_owned),
            KeyKind::User => e.actor().map(str::to_owned),
        }
    }

    /// The `evidence.key` of this kind's brute-force alerts (docs/api.md §10.10).
    fn evidence_key(self) -> &'static str {
        match self {
            KeyKind::Ip => "ip",
            KeyKind::User => "account",
        }
    }
}

const KINDS: [KeyKind; 2] = [KeyKind::Ip, KeyKind::User];

/// The history queries for `lines` of `org` (at most one per key kind, none without lines).
/// Each returns `{event_id, at, k}` rows: every `login_failure` item (raw line or event) of
/// the lines' keys between the earliest line minus the rule's window and the latest line, the
/// newest [`MAX_HISTORY_ROWS`] of them (ties by row id, newest first).
/// Item ids are the dashboard's: the event UUID, or `<row id>-<unix seconds>`.
///
/// Every key is read on its own index ranges, raw lines' and events' ([`KeyKind::index`],
/// [`KeyKind::event_index`]: events hold their items, migrations/0019_events_stored_once.sql):
/// first the time of its `MAX_HISTORY_ROWS`-th newest failure (`cut`, the window's start when
/// it has fewer: the newest `MAX_HISTORY_ROWS` of each table hold it), then its failures from
/// there (`CROSS JOIN` keeps that order: the other way round walks all the organisation's
/// failures). The newest rows of all keys together are among those, so the answer is the whole
/// window's newest rows, while no read walks a key's flood beyond the bound, nor the
/// organisation's other failures.
pub fn history_statements(
    org: &str,
    lines: &[FailedLine],
    config: &DetectionConfig,
) -> Vec<(KeyKind, Statement)> {
    let events: Vec<DetectionEvent> = lines.iter().map(FailedLine::event).collect();
    let (Some(first), Some(last)) = (
        events.iter().map(|e| e.created_at).min(),
        events.iter().map(|e| e.created_at).max(),
    ) else {
        return Vec::new();
    };
    KINDS
        .into_iter()
        .filter_map(|kind| {
            let keys: BTreeSet<String> = events.iter().filter_map(|e| kind.of(e)).collect();
            if keys.is_empty() {
                return None;
            }
            let since = first.0.saturating_sub(kind.rule(config).window_ms());
            let (column, peer, index) = (kind.column(), kind.peer_column(), kind.index());
            let (events_index, key) = kind.event_index("");
            let (_, e_key) = kind.event_index("e.");
            let sql = format!(
                "WITH cut AS MATERIALIZED (SELECT j.value AS k, coalesce((SELECT t FROM (SELECT ts AS t FROM logs \
                 INDEXED BY {index} WHERE org_id = ?1 AND type = 'login_failure' AND {column} = j.value AND ts >= ?2 \
                 AND ts <= ?3 ORDER BY ts DESC LIMIT {MAX_HISTORY_ROWS}) UNION ALL SELECT t FROM (SELECT created_at AS t \
                 FROM events INDEXED BY {events_index} WHERE org_id = ?1 AND item_type = 'login_failure' AND {ekey} \
                 AND created_at >= ?2 AND created_at <= ?3 ORDER BY created_at DESC LIMIT {MAX_HISTORY_ROWS}) \
                 ORDER BY t DESC LIMIT 1 OFFSET {skip}), ?2) AS since FROM json_each(?4) AS j) \
                 SELECT event_id, at, k, p FROM (SELECT coalesce(l.event_id, l.id || '-' || (l.ts / 1000)) AS event_id, \
                 l.ts AS at, l.id AS rid, l.{column} AS k, l.{peer} AS p FROM cut CROSS JOIN logs AS l INDEXED BY {index} \
                 WHERE l.org_id = ?1 AND l.type = 'login_failure' AND l.{column} = cut.k AND l.ts >= cut.since \
                 AND l.ts <= ?3 UNION ALL SELECT e.id, e.created_at, e.rowid, cut.k, {epeer} FROM cut CROSS JOIN events \
                 AS e INDEXED BY {events_index} WHERE e.org_id = ?1 AND e.item_type = 'login_failure' AND {ecut} \
                 AND e.created_at >= cut.since AND e.created_at <= ?3 ORDER BY at DESC, rid DESC \
                 LIMIT {MAX_HISTORY_ROWS})",
                skip = MAX_HISTORY_ROWS - 1,
                ekey = event_key_equals(&key, "j.value"),
                ecut = event_key_equals(&e_key, "cut.k"),
                epeer = event_column(peer, "e."),
            );
            let keys = serde_json::to_string(&keys).unwrap_or_else(|_| "[]".into());
            let params = vec![
                SqlParam::Text(org.into()),
                SqlParam::Number(since as f64),
                SqlParam::Number(last.0 as f64),
                SqlParam::Text(keys),
            ];
            Some((kind, (sql, params)))
        })
        .collect()
}

#[derive(Deserialize)]
struct HistoryRow {
    event_id: String,
    at: f64,
    k: String,
    #[serde(default)]
    p: Option<String>,
}

/// Every failed login per key, oldest first (ties by id), for one key kind.
pub type KeyHistory = BTreeMap<String, Vec<Occurrence>>;

/// Groups the rows of one history query by key.
pub fn assemble(rows: Vec<Value>) -> Result<KeyHistory, serde_json::Error> {
    let mut out = KeyHistory::new();
    for row in rows {
        let r: HistoryRow = serde_json::from_value(row)?;
        out.entry(r.k).or_default().push(Occurrence {
            event_id: r.event_id,
            at: UnixMs(r.at as i64),
            peer: r.p,
        });
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| (a.at, &a.event_id).cmp(&(b.at, &b.event_id)));
        list.dedup_by(|a, b| a.event_id == b.event_id);
    }
    Ok(out)
}

/// The earlier failures of `key` inside `rule`'s window ending at `e` (the newest
/// [`MAX_WINDOW_HISTORY`] of them), and the burst size the rule will count: those plus the
/// trigger itself.
fn window<'a>(
    e: &DetectionEvent,
    history: &'a KeyHistory,
    key: &str,
    rule: Burst,
) -> (&'a [Occurrence], usize) {
    let Some(list) = history.get(key) else {
        return (&[], 1);
    };
    let t = e.created_at.0;
    let start = list.partition_point(|o| o.at.0 < t.saturating_sub(rule.window_ms()));
    let end = list.partition_point(|o| o.at.0 <= t);
    let slice = &list[start..end.max(start)];
    let slice = &slice[slice.len().saturating_sub(MAX_WINDOW_HISTORY)..];
    let includes_self = slice.iter().any(|o| o.event_id == e.id);
    (slice, slice.len() + usize::from(!includes_self))
}

/// The outcome of [`candidates`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineAlerts {
    /// Candidates to store, oldest trigger first, each with the line that raised it.
    pub candidates: Vec<(AlertCandidate, FailedLine)>,
    /// Lines at or above a threshold between the first and last of their key's span, each with
    /// the index of the span's first candidate: they are stored as that alert's occurrences
    /// without running the rules again.
    pub folded: Vec<(usize, FailedLine)>,
}

/// Runs the brute-force rules over the stored failure lines of one push (see the module doc).
/// `ip_history` and `user_history` are [`assemble`]d from [`history_statements`]; they should
/// contain the lines themselves (they are stored first), but need not.
pub fn candidates(
    lines: &[FailedLine],
    ip_history: &KeyHistory,
    user_history: &KeyHistory,
    plan: Plan,
    config: &DetectionConfig,
) -> LineAlerts {
    let mut ordered: Vec<&FailedLine> = lines.iter().collect();
    ordered.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let events: Vec<DetectionEvent> = ordered.iter().map(|l| l.event()).collect();
    let history_of = |kind: KeyKind| match kind {
        KeyKind::Ip => ip_history,
        KeyKind::User => user_history,
    };

    // Which (line, kind) pairs alert, picked per key: first and last of each span. The lines
    // between them qualify too and join the first's alert as occurrences.
    let mut chosen: BTreeSet<(usize, KeyKind)> = BTreeSet::new();
    let mut middles: Vec<((usize, KeyKind), usize)> = Vec::new();
    for kind in KINDS {
        let rule = kind.rule(config);
        let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            let Some(key) = kind.of(e) else { continue };
            let (_, count) = window(e, history_of(kind), &key, rule);
            if count >= rule.threshold as usize {
                by_key.entry(key).or_default().push(i);
            }
        }
        for triggers in by_key.values() {
            let mut span: Vec<usize> = Vec::new();
            let mut close = |span: &mut Vec<usize>| {
                if let (Some(&first), Some(&last)) = (span.first(), span.last()) {
                    chosen.insert((first, kind));
                    chosen.insert((last, kind));
                    let inner = span.get(1..span.len().saturating_sub(1)).unwrap_or(&[]);
                    middles.extend(inner.iter().map(|&i| ((first, kind), i)));
                }
                span.clear();
            };
            for &i in triggers {
                let start = span.first().map(|&f| events[f].created_at.0);
                if start.is_some_and(|s| events[i].created_at.0 - s > DEDUP_WINDOW_MS) {
                    close(&mut span);
                }
                span.push(i);
            }
            close(&mut span);
        }
    }

    let mut out = LineAlerts::default();
    // The candidate each chosen (line, kind) became.
    let mut candidate_of: BTreeMap<(usize, KeyKind), usize> = BTreeMap::new();
    let mut i_prev = None;
    for &(i, _) in &chosen {
        if i_prev == Some(i) {
            continue; // both kinds of one line: evaluated once below
        }
        i_prev = Some(i);
        let e = &events[i];
        let slice = |kind: KeyKind| {
            kind.of(e)
                .map(|key| {
                    window(e, history_of(kind), &key, kind.rule(config))
                        .0
                        .to_vec()
                })
                .unwrap_or_default()
        };
        let history = History {
            ip_failed_logins: slice(KeyKind::Ip),
            actor_failed_logins: slice(KeyKind::User),
            ..History::default()
        };
        for c in evaluate(e, &history, plan, config) {
            let wanted = KINDS.into_iter().find(|&kind| {
                chosen.contains(&(i, kind))
                    && c.evidence.get("key").and_then(Value::as_str) == Some(kind.evidence_key())
            });
            let Some(kind) = wanted else { continue };
            candidate_of.insert((i, kind), out.candidates.len());
            out.candidates.push((c, ordered[i].clone()));
        }
    }
    out.folded = middles
        .into_iter()
        .filter_map(|(first, i)| Some((*candidate_of.get(&first)?, ordered[i].clone())))
        .collect();
    out
}

/// The statements storing `alerts` for `org` with the usual de-duplication and `suppressions`,
/// to run as one batch in order, within [`MAX_ALERT_STATEMENTS`]. The trigger of each is its
/// line, as a record with no enrichment (so only ip, cidr and actor suppressions can match).
pub fn alert_statements(
    org: &OrgId,
    alerts: &LineAlerts,
    suppressions: &Suppressions,
    now: UnixMs,
) -> BoundedWrites {
    let triggers: Vec<EventRecord> = alerts
        .candidates
        .iter()
        .map(|(_, line)| {
            EventRecord::assign(
                NewEvent {
                    event_name: LINE_EVENT_NAME.into(),
                    actor_id: line.user.clone(),
                    actor_email: None,
                    user_ip: line.ip.clone(),
                    metadata: Map::new(),
                },
                org,
                EventId::new_v4(),
                line.at,
                None,
            )
        })
        .collect();
    let candidates: Vec<(AlertCandidate, &EventRecord)> = alerts
        .candidates
        .iter()
        .zip(&triggers)
        .map(|((c, _), t)| (c.clone(), t))
        .collect();
    let extra: Vec<ExtraTrigger> = alerts
        .folded
        .iter()
        .map(|(candidate, line)| ExtraTrigger {
            candidate: *candidate,
            id: &line.id,
            at: line.at,
        })
        .collect();
    store_statements_within(
        &candidates,
        &extra,
        suppressions,
        now,
        EventId::new_v4,
        MAX_ALERT_STATEMENTS,
    )
}

/// Brute force over a push's stored failure lines of `org` (on `plan`): one round trip for the
/// organisation's settings and suppressions, one of history reads, one transaction of alert
/// writes with their deliveries planned (Pro and above). Answers the folds the write budget
/// left out (logged by the caller); the caller then queues the deliveries.
pub async fn detect_lines<D: Db>(
    db: &D,
    org: &OrgId,
    plan: Plan,
    lines: &[FailedLine],
    now: UnixMs,
) -> Result<usize, String> {
    let Some(since) = lines.iter().map(|l| l.at).min() else {
        return Ok(0);
    };
    let context = DetectionContext::load(db, &[&org.0], since).await?;
    let config = context.config(&org.0);
    let (kinds, reads): (Vec<KeyKind>, Vec<_>) = history_statements(&org.0, lines, config)
        .into_iter()
        .unzip();
    let rows = db
        .batch(&reads)
        .await
        .map_err(|e| format!("line history: {e}"))?;
    let (mut by_ip, mut by_user) = (KeyHistory::new(), KeyHistory::new());
    for (kind, rows) in kinds.into_iter().zip(rows) {
        let history = assemble(rows).map_err(|e| format!("line history rows: {e}"))?;
        match kind {
            KeyKind::Ip => by_ip = history,
            KeyKind::User => by_user = history,
        }
    }
    let alerts = candidates(lines, &by_ip, &by_user, plan, config);
    let writes = alert_statements(org, &alerts, &context.suppressions, now);
    let mut statements = writes.statements;
    if plan.is_pro_or_above() && !statements.is_empty() {
        // Deliveries of these alerts are planned in the same transaction.
        statements.push(plan_raise_statement(&[&org.0], now));
    }
    if !statements.is_empty() {
        db.batch(&statements)
            .await
            .map_err(|e| format!("line alerts: {e}"))?;
    }
    Ok(writes.dropped_folds)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "detect_sql_tests.rs"]
mod sql_tests;
