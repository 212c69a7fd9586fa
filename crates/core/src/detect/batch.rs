//! Detection for a whole queue batch at once: the organisations' settings and active
//! suppressions in one round of two statements (`super::settings::DetectionContext`), the
//! history reads in one or two rounds of one statement per part (`super::history`), the pure
//! rules per event with its organisation's configuration ([`super::evaluate`]), and the alerts
//! folded per key into three writes (`crate::alerts::store_statements`, which records what a
//! suppression matches as suppressed), one batch and one transaction. The statement count does
//! not grow with the batch, which keeps a brute-force flood inside D1's per-invocation query
//! limit. The same transaction plans the deliveries of the alerts it created or updated
//! (`crate::alerts::delivery`).

use crate::access::ids::EventId;
use crate::alerts::delivery::ledger::plan_raise_statement;
use crate::alerts::store_statements;
use crate::detect::history::HistoryReads;
use crate::detect::settings::DetectionContext;
use crate::detect::{evaluate_detailed, history_request, DetectionEvent};
use crate::ingest::catalogue::AlertType;
use crate::ingest::record::EventRecord;
use crate::intel::NetworkLists;
use crate::limits::plan::Plan;
use crate::runtime::Db;
use crate::time::UnixMs;
use std::collections::HashSet;

/// One event to judge: what the rules see of it, the stored record its alerts are written from,
/// and the plan it was accepted under. A raw login line is one too (`crate::logs::logins`).
pub struct Trigger<'a> {
    pub event: DetectionEvent,
    pub record: &'a EventRecord,
    pub plan: Plan,
}

/// Runs every rule on `events` (each with the plan it was accepted under) and stores the alerts.
/// `lists` are the network lists in force: relay egress is judged by them, not stored.
pub async fn detect_batch<D: Db>(
    db: &D,
    events: &[(EventRecord, Plan)],
    lists: &NetworkLists,
    now: UnixMs,
) -> Result<(), String> {
    let triggers = events
        .iter()
        .map(|(record, plan)| Trigger {
            event: DetectionEvent::from_record(record),
            record,
            plan: *plan,
        })
        .collect();
    detect_triggers(db, triggers, lists, now).await
}

/// [`detect_batch`] over triggers that need not be events.
pub async fn detect_triggers<D: Db>(
    db: &D,
    triggers: Vec<Trigger<'_>>,
    lists: &NetworkLists,
    now: UnixMs,
) -> Result<(), String> {
    let since = triggers
        .iter()
        .map(|t| t.event.created_at)
        .min()
        .unwrap_or(now);
    let orgs = distinct(triggers.iter().map(|t| t.record.org_id.0.as_str()));
    let context = DetectionContext::load(db, &orgs, since).await?;
    let delivering = distinct(
        triggers
            .iter()
            .filter(|t| t.plan.is_pro_or_above())
            .map(|t| t.record.org_id.0.as_str()),
    );
    let mut judged = Vec::with_capacity(triggers.len());
    let mut reads = Vec::with_capacity(triggers.len());
    for Trigger {
        event,
        record,
        plan,
    } in triggers
    {
        let org = record.org_id.0.as_str();
        let request = history_request(&event, plan, context.config(org));
        reads.push((event, org.to_owned(), request));
        judged.push((record, plan));
    }
    let mut reads = HistoryReads::new(reads);
    loop {
        let statements = reads.statements();
        if statements.is_empty() {
            break;
        }
        let rows = db.batch(&statements).await.map_err(|e| e.to_string())?;
        reads
            .absorb(rows)
            .map_err(|e| format!("history rows: {e}"))?;
    }
    // Newest first, so the first candidate of each key is the newest: it alone gets the counting
    // rules' full evidence (`Detail`), which is what storage keeps.
    let mut evaluated: Vec<_> = judged.into_iter().zip(reads.into_histories()).collect();
    evaluated.sort_by(|(_, (a, _)), (_, (b, _))| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let mut detailed: HashSet<(&str, AlertType, String)> = HashSet::new();
    let mut candidates = Vec::new();
    for ((record, plan), (mut event, mut history)) in evaluated {
        event.mark_relay(lists);
        for login in &mut history.actor_logins {
            login.mark_relay(lists);
        }
        let org = record.org_id.0.as_str();
        let full = |t: AlertType, key: &str| !detailed.contains(&(org, t, key.to_owned()));
        let raised = evaluate_detailed(&event, &history, plan, context.config(org), &full);
        for c in raised {
            detailed.insert((org, c.alert_type, c.dedup_key.clone()));
            candidates.push((c, record));
        }
    }
    // Deliveries are planned in the same transaction as the alerts they deliver.
    let mut statements = store_statements(&candidates, &context.suppressions, now, EventId::new_v4);
    if !statements.is_empty() && !delivering.is_empty() {
        statements.push(plan_raise_statement(&delivering, now));
    }
    db.batch(&statements).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// The organisations of `events` whose plan delivers alerts (Pro and above), each once.
pub fn delivering_orgs(events: &[(EventRecord, Plan)]) -> Vec<&str> {
    distinct(
        events
            .iter()
            .filter(|(_, plan)| plan.is_pro_or_above())
            .map(|(r, _)| r.org_id.0.as_str()),
    )
}

/// Each organisation of `orgs` once, in order.
fn distinct<'a>(orgs: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = orgs.collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "batch_tests.rs"]
mod tests;
