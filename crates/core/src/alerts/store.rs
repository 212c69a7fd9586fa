//! Storing alert candidates with de-duplication (docs/api.md §8.4), a whole queue batch (or a
//! Loki push) at once.
//!
//! Candidates are folded per `(org, alert_type, dedup_key)` and de-duplication span, oldest
//! trigger first: one fold carries every trigger id, the highest confidence and severity, and the
//! latest evidence and description. Folds are written with three statements that take them all
//! as one JSON parameter, so the number of statements does not grow with the candidates (D1
//! counts every statement against its per-invocation limit, 50 on the Free plan):
//! 1. update the open alert of each fold's key, adding the fold's *fresh* triggers (those
//!    without an `alert_triggers` row) to its occurrences and trigger ids;
//! 2. create an alert for each fold with fresh triggers and no open alert;
//! 3. record every trigger in `alert_triggers`.
//!
//! Run as one D1 batch (one transaction), a redelivered batch finds its triggers recorded and
//! changes nothing; a fold whose key has a second span in the same batch (triggers more than
//! [`DEDUP_WINDOW_MS`] apart) goes into a later layer of statements, so it sees the first
//! span's alert.
//!
//! Suppressions (docs/api.md §12.2) are decided per candidate before folding
//! ([`Suppressions::matching`] on the candidate and its trigger): suppressed and unsuppressed
//! occurrences of one key fold apart, and each only into an open alert of its own kind, so a
//! suppressed occurrence is stored and counted in an alert whose `suppressed_by` names the
//! suppression (never delivered, hidden from default lists), and the first occurrence after the
//! suppression ends raises a new, ordinary alert. An extra trigger (below) joins its
//! candidate's fold whichever it is.

use super::suppress::Suppressions;
use super::{new_metadata, severity_rank, DEDUP_WINDOW_MS, MAX_HOPS, MAX_TRIGGER_IDS};
use crate::access::ids::EventId;
use crate::api::sql::{SqlParam, Statement};
use crate::detect::AlertCandidate;
use crate::detect::MAX_EVIDENCE_EVENTS;
use crate::ingest::record::{json_array_groups, EventRecord};
use crate::time::UnixMs;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Most bytes of folds per statement parameter, well inside D1's limits.
const MAX_FOLDS_JSON_BYTES: usize = 96 * 1024;

/// The folds as a CTE `f(v, org, type, k, sup, fresh)`; `sup` is the suppression the fold's
/// occurrences matched (NULL for none); `fresh` is a JSON array of the fold's trigger ids not
/// yet recorded.
const FOLDS: &str = "WITH f AS (SELECT j.value AS v, json_extract(j.value, '$.org') AS org, \
    json_extract(j.value, '$.type') AS type, json_extract(j.value, '$.key') AS k, \
    json_extract(j.value, '$.suppressed_by') AS sup, \
    (SELECT json_group_array(t.value) FROM json_each(j.value, '$.ids') t WHERE NOT EXISTS \
    (SELECT 1 FROM alert_triggers a WHERE a.org_id = json_extract(j.value, '$.org') \
    AND a.alert_type = json_extract(j.value, '$.type') AND a.dedup_key = json_extract(j.value, '$.key') \
    AND a.event_id = t.value)) AS fresh FROM json_each(?1) j)";

/// The newest active (open or acknowledged) alert of a fold's key inside the de-duplication
/// window, suppressed when the fold is and not when it is not.
const OPEN_ALERT: &str =
    "SELECT id FROM alerts o WHERE o.org_id = f.org AND o.alert_type = f.type \
    AND o.dedup_key = f.k AND o.status IN ('open', 'acknowledged') \
    AND (o.suppressed_by IS NULL) = (f.sup IS NULL) \
    AND o.created_at >= json_extract(f.v, '$.since') \
    ORDER BY o.created_at DESC LIMIT 1";

/// Evidence lists that accumulate over an alert's life instead of being replaced by the latest
/// trigger's: `(key, identity of an entry, most entries kept)`. Entries are appended oldest
/// first, an entry the new evidence repeats (same identity) takes its new place, and only the
/// newest are kept.
const ACCUMULATING: [(&str, &str, usize); 2] = [
    ("hops", "json_extract(value, '$.to.event_id')", MAX_HOPS),
    ("event_ids", "value", MAX_EVIDENCE_EVENTS),
];

/// The rows `(v, t)` of the stored alert's `evidence.<key>` merged with the fold's, in order
/// (see [`ACCUMULATING`]).
fn merged_rows(key: &str, id: &str, max: usize) -> String {
    format!(
        "SELECT v, t FROM (SELECT v, t, s, n FROM (SELECT value AS v, type AS t, 0 AS s, key AS n, {id} AS i \
         FROM json_each(alerts.metadata, '$.evidence.{key}') UNION ALL SELECT value, type, 1, key, {id} \
         FROM json_each(f.v, '$.evidence.{key}')) WHERE s = 1 OR i NOT IN (SELECT {id} FROM \
         json_each(f.v, '$.evidence.{key}')) ORDER BY s DESC, n DESC LIMIT {max}) ORDER BY s, n"
    )
}

/// Whether the fold's newest trigger is at least as new as the stored alert's, by (time, id):
/// only then do its evidence and description replace the stored ones, so a queue batch that is
/// processed late never overwrites newer evidence with older.
const NEWER: &str = "(json_extract(f.v, '$.last_seen'), json_extract(f.v, '$.last_event_id')) >= \
    (coalesce(json_extract(alerts.metadata, '$.last_seen'), ''), coalesce(json_extract(alerts.metadata, '$.last_event_id'), ''))";

/// The stored alert's evidence after the fold: the newer of the two, with the
/// [`ACCUMULATING`] lists merged (`json_patch` drops a list the fold's evidence does not have).
fn evidence_sql() -> String {
    let lists: Vec<String> = ACCUMULATING
        .iter()
        .map(|(key, id, max)| {
            format!(
                "'{key}', CASE WHEN json_type(f.v, '$.evidence.{key}') = 'array' THEN json((SELECT \
                 json_group_array(CASE WHEN t IN ('object', 'array') THEN json(v) ELSE v END) FROM ({}))) END",
                merged_rows(key, id, *max)
            )
        })
        .collect();
    format!(
        "json_patch(json(CASE WHEN {NEWER} THEN json_extract(f.v, '$.evidence') \
         ELSE json_extract(alerts.metadata, '$.evidence') END), json_object({}))",
        lists.join(", ")
    )
}

/// The stored alert's description after the fold: with travel hops, every hop's summary; else
/// the newer one's.
fn description_sql() -> String {
    let (key, id, max) = ACCUMULATING[0];
    format!(
        "CASE WHEN json_array_length(f.v, '$.evidence.{key}') > 0 THEN (SELECT group_concat(json_extract(v, '$.summary'), '; ') \
         FROM ({})) WHEN {NEWER} THEN json_extract(f.v, '$.description') ELSE description END",
        merged_rows(key, id, max)
    )
}

fn update_sql() -> String {
    format!(
        "{FOLDS} UPDATE alerts SET metadata = json_set(metadata, \
         '$.trigger_event_ids', json((SELECT json_group_array(value) FROM (SELECT value FROM \
         (SELECT value, 0 AS s, key AS n FROM json_each(alerts.metadata, '$.trigger_event_ids') \
         UNION ALL SELECT value, 1, key FROM json_each(f.fresh)) ORDER BY s, n LIMIT {MAX_TRIGGER_IDS}))), \
         '$.occurrences', coalesce(json_extract(metadata, '$.occurrences'), 1) + json_array_length(f.fresh), \
         '$.confidence', max(coalesce(json_extract(metadata, '$.confidence'), 0), json_extract(f.v, '$.confidence')), \
         '$.first_seen', min(coalesce(json_extract(metadata, '$.first_seen'), json_extract(f.v, '$.first_seen')), \
         json_extract(f.v, '$.first_seen')), \
         '$.last_seen', max(coalesce(json_extract(metadata, '$.last_seen'), ''), json_extract(f.v, '$.last_seen')), \
         '$.last_event_id', CASE WHEN {NEWER} THEN json_extract(f.v, '$.last_event_id') ELSE json_extract(metadata, '$.last_event_id') END, \
         '$.raised_at', coalesce(json_extract(metadata, '$.raised_at'), json_extract(f.v, '$.raised_at')), \
         '$.evidence', json({evidence})), \
         severity = CASE WHEN json_extract(f.v, '$.rank') > (CASE severity WHEN 'low' THEN 1 WHEN 'medium' THEN 2 \
         WHEN 'high' THEN 3 ELSE 4 END) THEN json_extract(f.v, '$.severity') ELSE severity END, \
         description = {description}, updated_at = json_extract(f.v, '$.now') \
         FROM f WHERE json_array_length(f.fresh) > 0 AND alerts.id = ({OPEN_ALERT})",
        evidence = evidence_sql(),
        description = description_sql(),
    )
}

fn insert_sql() -> String {
    format!(
        "{FOLDS} INSERT INTO alerts (id, org_id, alert_type, severity, status, title, description, source_ip, \
         actor_id, dedup_key, trigger_event_id, forensics, metadata, created_at, updated_at, raised_at, suppressed_by) \
         SELECT json_extract(v, '$.new_id'), org, type, json_extract(v, '$.severity'), 'open', \
         json_extract(v, '$.title'), json_extract(v, '$.description'), json_extract(v, '$.source_ip'), \
         json_extract(v, '$.actor_id'), k, json_extract(fresh, '$[0]'), json_extract(v, '$.forensics'), \
         json_set(json_extract(v, '$.metadata'), '$.occurrences', json_array_length(fresh), '$.trigger_event_ids', \
         json((SELECT json_group_array(value) FROM (SELECT value FROM json_each(fresh) ORDER BY key LIMIT {MAX_TRIGGER_IDS})))), \
         json_extract(v, '$.created_at'), json_extract(v, '$.now'), json_extract(v, '$.now'), sup \
         FROM f WHERE json_array_length(fresh) > 0 AND NOT EXISTS ({OPEN_ALERT})"
    )
}

/// How far back an alert named in a candidate's `related` may have been created.
const LINK_LOOKBACK_MS: i64 = 24 * 60 * 60 * 1000;

/// The newest alert of a related `(type, key)` of organisation `{org}`, created after `{since}`.
fn related_alert(org: &str, type_key: &str, since: &str) -> String {
    format!(
        "SELECT r.id FROM alerts r WHERE r.org_id = {org} AND r.alert_type = json_extract({type_key}, '$[0]') \
         AND r.dedup_key = json_extract({type_key}, '$[1]') AND r.created_at >= {since} ORDER BY r.created_at DESC LIMIT 1"
    )
}

/// `metadata.related_alert_ids` of the alert being updated with the ids of `{ids}` (a query).
fn with_related(ids: &str) -> String {
    format!(
        "json_set(metadata, '$.related_alert_ids', json((SELECT json_group_array(id) FROM (SELECT value AS id \
         FROM json_each(alerts.metadata, '$.related_alert_ids') UNION {ids}) WHERE id IS NOT NULL)))"
    )
}

/// Links each fold's alert to the alerts its candidates follow from (`related`)…
fn link_forward_sql() -> String {
    let ids = format!(
        "SELECT ({}) FROM json_each(f.v, '$.related') x",
        related_alert("f.org", "x.value", "json_extract(f.v, '$.link_since')")
    );
    format!(
        "{FOLDS} UPDATE alerts SET metadata = {} FROM f WHERE json_array_length(f.v, '$.related') > 0 \
         AND alerts.id = ({OPEN_ALERT})",
        with_related(&ids)
    )
}

/// …and those alerts back to it.
fn link_back_sql() -> String {
    format!(
        "{FOLDS}, l AS (SELECT f.org AS org, ({OPEN_ALERT}) AS me, x.value AS tk, json_extract(f.v, '$.link_since') AS since \
         FROM f, json_each(f.v, '$.related') x) UPDATE alerts SET metadata = {} FROM l WHERE l.me IS NOT NULL \
         AND alerts.id = ({})",
        with_related("SELECT l.me"),
        related_alert("l.org", "l.tk", "l.since")
    )
}

const RECORD_SQL: &str = "INSERT OR IGNORE INTO alert_triggers (org_id, alert_type, dedup_key, event_id, created_at) \
    SELECT json_extract(g.value, '$.org'), json_extract(g.value, '$.type'), json_extract(g.value, '$.key'), \
    json_extract(t.value, '$[0]'), json_extract(t.value, '$[1]') FROM json_each(?1) g, json_each(g.value, '$.triggers') t";

/// The candidates of one key and span, folded.
struct Fold<'a> {
    first: &'a AlertCandidate,
    record: &'a EventRecord,
    /// The latest candidate's evidence, with the [`ACCUMULATING`] lists of all of them.
    evidence: Value,
    description: String,
    triggers: Vec<(&'a str, i64)>,
    confidence: u8,
    rank: f64,
    severity: &'static str,
    /// The suppression the first occurrence matched (every occurrence of the fold matched one).
    suppressed_by: Option<&'a str>,
}

/// `old` followed by `new` by the rules of [`ACCUMULATING`]: what the update statement does
/// to a stored alert, done in memory for candidates of one batch.
fn accumulate(old: &Value, new: &Value) -> Value {
    let mut out = new.clone();
    for (key, _, max) in ACCUMULATING {
        let (Some(old_list), Some(new_list)) = (old[key].as_array(), new[key].as_array()) else {
            continue;
        };
        let identity = |v: &Value| match key {
            "hops" => v.pointer("/to/event_id").cloned().unwrap_or(Value::Null),
            _ => v.clone(),
        };
        let fresh: Vec<Value> = new_list.iter().map(identity).collect();
        let mut merged: Vec<Value> = old_list
            .iter()
            .filter(|v| !fresh.contains(&identity(v)))
            .chain(new_list)
            .cloned()
            .collect();
        merged.drain(..merged.len().saturating_sub(max));
        out[key] = Value::Array(merged);
    }
    out
}

/// A travel alert's description: every hop's summary; other alerts keep `latest`.
fn describe(evidence: &Value, latest: &str) -> String {
    match evidence["hops"].as_array() {
        Some(hops) if !hops.is_empty() => hops
            .iter()
            .filter_map(|h| h["summary"].as_str())
            .collect::<Vec<_>>()
            .join("; "),
        _ => latest.to_owned(),
    }
}

impl Fold<'_> {
    fn to_json(&self, new_id: EventId, now: UnixMs) -> Value {
        let mut metadata = new_metadata(self.first, self.record);
        metadata["confidence"] = json!(self.confidence);
        metadata["evidence"] = self.evidence.clone();
        let start = self.triggers[0].1;
        let end = self.triggers.iter().map(|t| t.1).max().unwrap_or(start);
        let (first_seen, last_seen) = (UnixMs(start).iso_millis(), UnixMs(end).iso_millis());
        let last_event_id = self.triggers.last().map(|t| t.0);
        metadata["first_seen"] = json!(first_seen);
        metadata["last_seen"] = json!(last_seen);
        metadata["last_event_id"] = json!(last_event_id);
        metadata["raised_at"] = json!(now.iso_millis());
        json!({
            "org": self.record.org_id.0,
            "type": self.first.alert_type.as_str(),
            "key": self.first.dedup_key,
            "since": start - DEDUP_WINDOW_MS,
            "ids": self.triggers.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            "triggers": self.triggers,
            "confidence": self.confidence,
            "evidence": self.evidence,
            "rank": self.rank,
            "severity": self.severity,
            "description": self.description,
            "first_seen": first_seen,
            "last_seen": last_seen,
            "last_event_id": last_event_id,
            "raised_at": now.iso_millis(),
            "related": self.first.related.iter().map(|(t, k)| json!([t.as_str(), k])).collect::<Vec<_>>(),
            "link_since": start - LINK_LOOKBACK_MS,
            "now": now.0,
            "new_id": new_id.to_string(),
            "title": self.first.title,
            "source_ip": self.first.source_ip,
            "actor_id": self.first.actor_id,
            "forensics": self.record.enrichment.forensics.as_ref().map(Value::to_string),
            "metadata": metadata,
            "created_at": self.record.created_at.0,
            "suppressed_by": self.suppressed_by,
        })
    }
}

/// The statements that store `candidates` (each with its trigger event), to run as one D1
/// batch, recording those that match one of `suppressions` as suppressed. `new_id` names each
/// alert that may be created.
pub fn store_statements(
    candidates: &[(AlertCandidate, &EventRecord)],
    suppressions: &Suppressions,
    now: UnixMs,
    new_id: impl FnMut() -> EventId,
) -> Vec<Statement> {
    store_statements_within(candidates, &[], suppressions, now, new_id, usize::MAX).statements
}

/// A trigger with no candidate of its own: it joins the fold of `candidates[candidate]` (it
/// must fall in that candidate's span), counting as one more occurrence. The Loki path runs the
/// rules only on a span's first and last line; its other qualifying lines come in this way.
#[derive(Debug, Clone, Copy)]
pub struct ExtraTrigger<'a> {
    pub candidate: usize,
    pub id: &'a str,
    pub at: UnixMs,
}

/// What [`store_statements_within`] wrote, and what its budget left out.
#[derive(Debug)]
pub struct BoundedWrites {
    pub statements: Vec<Statement>,
    /// Folds (one key's triggers within one de-duplication span) not written.
    pub dropped_folds: usize,
}

/// [`store_statements`] in at most `max_statements` statements (three per chunk of folds, five
/// when a candidate links to related alerts).
/// Each layer's folds go in chunks of three statements; when they need more, a key's newest
/// spans are kept first (the last layers), since an older span's alert is the one a later one
/// would only have added occurrences to. The kept chunks still run oldest layer first.
pub fn store_statements_within<'a>(
    candidates: &'a [(AlertCandidate, &EventRecord)],
    extra: &[ExtraTrigger<'a>],
    suppressions: &'a Suppressions,
    now: UnixMs,
    mut new_id: impl FnMut() -> EventId,
    max_statements: usize,
) -> BoundedWrites {
    let mut ordered: Vec<usize> = (0..candidates.len()).collect();
    ordered.sort_by(|&a, &b| {
        let (a, b) = (&candidates[a], &candidates[b]);
        (a.1.created_at, &a.0.trigger_event_id).cmp(&(b.1.created_at, &b.0.trigger_event_id))
    });
    // Per key (and whether suppressed), its spans in time order; a span's index is its layer.
    let mut spans: BTreeMap<(&str, &str, &str, bool), Vec<Fold>> = BTreeMap::new();
    // Where each candidate was folded: its key and layer.
    let mut folded_into = vec![None; candidates.len()];
    for i in ordered {
        let (c, record) = &candidates[i];
        let suppressed_by = suppressions.matching(c, record);
        let key = (
            record.org_id.0.as_str(),
            c.alert_type.as_str(),
            c.dedup_key.as_str(),
            suppressed_by.is_some(),
        );
        let at = record.created_at.0;
        let folds = spans.entry(key).or_default();
        match folds.last_mut() {
            Some(f) if at - f.triggers[0].1 <= DEDUP_WINDOW_MS => {
                f.triggers.push((&c.trigger_event_id, at));
                f.evidence = accumulate(&f.evidence, &c.evidence);
                f.description = describe(&f.evidence, &c.description);
                f.confidence = f.confidence.max(c.confidence);
                if severity_rank(c.severity) > f.rank {
                    (f.rank, f.severity) = (severity_rank(c.severity), c.severity.as_str());
                }
            }
            _ => folds.push(Fold {
                first: c,
                record,
                evidence: c.evidence.clone(),
                description: c.description.clone(),
                triggers: vec![(&c.trigger_event_id, at)],
                confidence: c.confidence,
                rank: severity_rank(c.severity),
                severity: c.severity.as_str(),
                suppressed_by,
            }),
        }
        folded_into[i] = Some((key, folds.len() - 1));
    }
    for x in extra {
        if let Some(Some((key, layer))) = folded_into.get(x.candidate) {
            if let Some(f) = spans.get_mut(key).and_then(|folds| folds.get_mut(*layer)) {
                f.triggers.push((x.id, x.at.0));
            }
        }
    }
    // Oldest trigger first, each once (a redelivered or repeated candidate names it again).
    for f in spans.values_mut().flatten() {
        f.triggers.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
        f.triggers.dedup_by(|a, b| a.0 == b.0);
    }
    let mut layers: Vec<Vec<Value>> = Vec::new();
    for folds in spans.values() {
        for (layer, fold) in folds.iter().enumerate() {
            if layers.len() <= layer {
                layers.push(Vec::new());
            }
            layers[layer].push(fold.to_json(new_id(), now));
        }
    }
    // Values always serialise, so the chunking cannot fail.
    let chunks: Vec<Vec<(String, usize)>> = layers
        .iter()
        .map(|layer| json_array_groups(layer, usize::MAX, MAX_FOLDS_JSON_BYTES).unwrap_or_default())
        .collect();
    // Links cost two more statements per chunk, only when a candidate follows from another.
    let linking = candidates.iter().any(|(c, _)| !c.related.is_empty());
    let per_chunk = if linking { 5 } else { 3 };
    let mut budget = max_statements / per_chunk;
    let mut kept = vec![0usize; chunks.len()]; // chunks kept per layer, from its start
    for (layer, groups) in chunks.iter().enumerate().rev() {
        kept[layer] = groups.len().min(budget);
        budget -= kept[layer];
    }
    let (update, insert) = (update_sql(), insert_sql());
    let links = linking.then(|| (link_forward_sql(), link_back_sql()));
    let mut out = BoundedWrites {
        statements: Vec::new(),
        dropped_folds: 0,
    };
    for (groups, kept) in chunks.into_iter().zip(kept) {
        for (i, (chunk, folds)) in groups.into_iter().enumerate() {
            if i >= kept {
                out.dropped_folds += folds;
                continue;
            }
            let param = || vec![SqlParam::Text(chunk.clone())];
            out.statements.push((update.clone(), param()));
            out.statements.push((insert.clone(), param()));
            if let Some((forward, back)) = &links {
                out.statements.push((forward.clone(), param()));
                out.statements.push((back.clone(), param()));
            }
            out.statements.push((RECORD_SQL.to_owned(), param()));
        }
    }
    out
}

/// The folds bound to each chunk of `stmts` (three statements per chunk), for tests that read
/// what [`store_statements`] would write.
#[cfg(test)]
pub(crate) fn folds(stmts: &[Statement]) -> Vec<Vec<Value>> {
    stmts
        .chunks(3)
        .map(|s| match &s[0].1[..] {
            [SqlParam::Text(t)] => serde_json::from_str(t).unwrap(),
            other => panic!("one JSON parameter: {other:?}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::ids::OrgId;
    use crate::detect::AlertSeverity;
    use crate::ingest::catalogue::AlertType;
    use crate::ingest::NewEvent;

    fn trigger(org: &str, at: i64) -> EventRecord {
        let new = NewEvent {
            event_name: "auth.login_failed".into(),
            actor_id: Some("u1".into()),
            actor_email: None,
            user_ip: Some("203.0.113.9".into()),
            metadata: Default::default(),
        };
        EventRecord::assign(new, &OrgId(org.into()), EventId::new_v4(), UnixMs(at), None)
    }

    fn candidate(
        r: &EventRecord,
        key: &str,
        confidence: u8,
        severity: AlertSeverity,
    ) -> AlertCandidate {
        AlertCandidate {
            alert_type: AlertType::BruteForceAttack,
            severity,
            dedup_key: key.into(),
            title: format!("Brute force from {key}"),
            description: format!("{confidence} failed logins"),
            confidence,
            actor_id: Some("u1".into()),
            source_ip: Some("203.0.113.9".into()),
            trigger_event_id: r.id.to_string(),
            evidence: json!({"count": confidence, "threshold": 5, "window_minutes": 5, "key": "ip"}),
            related: Vec::new(),
        }
    }

    #[test]
    fn a_burst_folds_into_one_write_per_key_whatever_its_size() {
        let records: Vec<EventRecord> =
            (0..250).map(|i| trigger("org_1", 10_000_000 + i)).collect();
        let mut candidates = Vec::new();
        for (i, r) in records.iter().enumerate().rev() {
            let sev = if i == 100 {
                AlertSeverity::Critical
            } else {
                AlertSeverity::High
            };
            candidates.push((candidate(r, "ip:203.0.113.9", 70 + (i % 20) as u8, sev), r));
            candidates.push((candidate(r, "actor:u1", 70, AlertSeverity::High), r));
        }
        let stmts = store_statements(
            &candidates,
            &Suppressions::none(),
            UnixMs(10_001_000),
            EventId::new_v4,
        );
        assert_eq!(
            stmts.len(),
            3,
            "update, insert, record: one layer, one chunk"
        );
        let layer = &folds(&stmts)[0];
        assert_eq!(layer.len(), 2);
        let ip = layer.iter().find(|f| f["key"] == "ip:203.0.113.9").unwrap();
        assert_eq!(ip["ids"].as_array().unwrap().len(), 250);
        assert_eq!(
            ip["ids"][0],
            records[0].id.to_string(),
            "oldest trigger first"
        );
        assert_eq!(ip["since"], 10_000_000 - DEDUP_WINDOW_MS);
        assert_eq!(ip["confidence"], 89);
        assert_eq!(ip["severity"], "critical");
        assert_eq!(
            ip["evidence"]["count"],
            70 + (249 % 20),
            "the newest trigger's evidence"
        );
        assert_eq!(
            ip["metadata"]["trigger_event_ids"][0],
            records[0].id.to_string()
        );
        assert_eq!(ip["org"], "org_1");
        for (sql, params) in &stmts {
            assert_eq!(crate::api::sql::max_placeholder(sql), params.len(), "{sql}");
        }
    }

    #[test]
    fn extra_triggers_join_their_candidates_fold_oldest_first_and_once() {
        let (a, b) = (trigger("org_1", 1_000), trigger("org_1", 9_000));
        let candidates = [
            (candidate(&b, "ip:x", 70, AlertSeverity::High), &b),
            (candidate(&a, "ip:x", 70, AlertSeverity::High), &a),
        ];
        let between = |id, at| ExtraTrigger {
            candidate: 1,
            id,
            at: UnixMs(at),
        };
        let extra = [
            between("line-5", 5_000),
            between("line-3", 3_000),
            between("line-3", 3_000),
            ExtraTrigger {
                candidate: 7, // no such candidate: ignored
                id: "stray",
                at: UnixMs(4_000),
            },
        ];
        let a_id = a.id.to_string();
        let b_id = b.id.to_string();
        let out = store_statements_within(
            &candidates,
            &extra,
            &Suppressions::none(),
            UnixMs(0),
            EventId::new_v4,
            3,
        );
        assert_eq!(out.dropped_folds, 0);
        let layer = &folds(&out.statements)[0];
        assert_eq!(layer.len(), 1);
        assert_eq!(layer[0]["ids"], json!([a_id, "line-3", "line-5", b_id]));
    }

    #[test]
    fn a_second_span_of_one_key_goes_into_a_later_layer() {
        let a = trigger("org_1", 10_000_000);
        let b = trigger("org_1", 10_000_000 + DEDUP_WINDOW_MS + 1);
        let c = trigger("org_2", 10_000_000);
        let candidates = [
            (candidate(&b, "ip:x", 70, AlertSeverity::High), &b),
            (candidate(&a, "ip:x", 70, AlertSeverity::High), &a),
            (candidate(&c, "ip:x", 70, AlertSeverity::High), &c),
        ];
        let stmts = store_statements(
            &candidates,
            &Suppressions::none(),
            UnixMs(0),
            EventId::new_v4,
        );
        let layers = folds(&stmts);
        assert_eq!(layers.len(), 2);
        assert_eq!(
            layers[0].len(),
            2,
            "org_1's first span and org_2's, which never merge"
        );
        assert_eq!(layers[1][0]["ids"], json!([b.id.to_string()]));
    }

    #[test]
    fn a_repeated_candidate_counts_its_trigger_once_and_large_batches_chunk() {
        let r = trigger("org_1", 5);
        let twice = [
            (candidate(&r, "ip:x", 70, AlertSeverity::High), &r),
            (candidate(&r, "ip:x", 70, AlertSeverity::High), &r),
        ];
        let stmts = store_statements(&twice, &Suppressions::none(), UnixMs(0), EventId::new_v4);
        assert_eq!(folds(&stmts)[0][0]["ids"].as_array().unwrap().len(), 1);

        let records: Vec<EventRecord> = (0..400).map(|i| trigger("org_1", i)).collect();
        let many: Vec<_> = records
            .iter()
            .map(|r| {
                (
                    candidate(r, &format!("ip:{}", r.id), 70, AlertSeverity::High),
                    r,
                )
            })
            .collect();
        let stmts = store_statements(&many, &Suppressions::none(), UnixMs(0), EventId::new_v4);
        assert!(stmts.len() > 3 && stmts.len() % 3 == 0);
        assert!(stmts
            .iter()
            .all(|(_, p)| matches!(&p[0], SqlParam::Text(t) if t.len() <= MAX_FOLDS_JSON_BYTES)));
        assert_eq!(folds(&stmts).iter().map(Vec::len).sum::<usize>(), 400);
        assert!(
            store_statements(&[], &Suppressions::none(), UnixMs(0), EventId::new_v4).is_empty()
        );

        // Within a budget of two chunks, the rest of the layer is counted as dropped.
        let bounded = store_statements_within(
            &many,
            &[],
            &Suppressions::none(),
            UnixMs(0),
            EventId::new_v4,
            7,
        );
        assert_eq!(bounded.statements.len(), 6);
        let written: usize = folds(&bounded.statements).iter().map(Vec::len).sum();
        assert!(written > 0 && written < 400);
        assert_eq!(written + bounded.dropped_folds, 400);
    }
}
