//! The delivery ledger (`deliveries`, `delivery_attempts`): which alerts go to which
//! destinations, and what happened to each attempt. A delivery's id is fixed by its
//! destination, alert and reason, so planning it twice (a redelivered queue batch) plans it
//! once; a delivery answered 2xx is `delivered` and never sent again.

use super::policy::{Answer, Outcome};
use crate::api::sql::{SqlParam, Statement, EVENT_COLUMNS};
use crate::time::UnixMs;
use serde_json::json;

/// At most one delivery of an updated alert per destination and this long.
pub const RAISE_EVERY_MS: i64 = 3_600_000;
/// Deliveries sent to the queue per sweep.
pub const MAX_SWEEP: u32 = 500;
/// A pending delivery whose next attempt is this overdue is queued again by the sweep (its
/// message was lost).
pub const STALE_AFTER_MS: i64 = 15 * 60_000;
/// Longest error kept per attempt.
const MAX_ERROR_CHARS: usize = 500;

/// `low` 1 … `critical` 4, in SQL.
fn rank(column: &str) -> String {
    format!("(CASE {column} WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 ELSE 4 END)")
}

/// Plans a delivery to every matching, enabled destination for each alert that detection
/// created or updated at `now` in one of `orgs` (Pro organisations and above), except
/// suppressed ones (docs/api.md §12.2), which are never delivered. Run in the same transaction
/// as the alert writes, after them.
pub fn plan_raise_statement(orgs: &[&str], now: UnixMs) -> Statement {
    (
        format!(
            "INSERT OR IGNORE INTO deliveries (id, org_id, destination_id, alert_id, reason, status, \
             created_at, updated_at) \
             SELECT d.id || '.' || a.id || '.raise-' || (?2 / {RAISE_EVERY_MS}), a.org_id, d.id, a.id, \
             'raise', 'pending', ?2, ?2 FROM alerts a JOIN destinations d ON d.org_id = a.org_id \
             WHERE a.org_id IN (SELECT value FROM json_each(?1)) AND a.updated_at = ?2 \
             AND a.status IN ('open', 'acknowledged') AND a.suppressed_by IS NULL AND d.enabled = 1 \
             AND {} >= {} \
             AND (d.alert_types IS NULL OR a.alert_type IN (SELECT value FROM json_each(d.alert_types)))",
            rank("a.severity"),
            rank("d.min_severity"),
        ),
        vec![
            SqlParam::Text(json!(orgs).to_string()),
            SqlParam::Number(now.0 as f64),
        ],
    )
}

/// Plans a `resolve` to each enabled PagerDuty destination of the organisation for an alert
/// that was resolved, so its incident resolves too (a suppressed alert never had one).
pub fn plan_resolve_statement(org: &str, alert_id: &str, now: UnixMs) -> Statement {
    (
        "INSERT OR IGNORE INTO deliveries (id, org_id, destination_id, alert_id, reason, status, \
         created_at, updated_at) \
         SELECT d.id || '.' || a.id || '.resolve', a.org_id, d.id, a.id, 'resolve', 'pending', ?3, ?3 \
         FROM alerts a JOIN destinations d ON d.org_id = a.org_id \
         WHERE a.id = ?2 AND a.org_id = ?1 AND a.status = 'resolved' AND a.suppressed_by IS NULL \
         AND d.kind = 'pagerduty' \
         AND d.enabled = 1"
            .into(),
        vec![
            SqlParam::Text(org.into()),
            SqlParam::Text(alert_id.into()),
            SqlParam::Number(now.0 as f64),
        ],
    )
}

/// Pending deliveries of `orgs` never sent to the queue.
pub fn unqueued_statement(orgs: &[&str]) -> Statement {
    (
        format!(
            "SELECT id, org_id FROM deliveries WHERE status = 'pending' AND queued_at IS NULL \
             AND org_id IN (SELECT value FROM json_each(?1)) LIMIT {MAX_SWEEP}"
        ),
        vec![SqlParam::Text(json!(orgs).to_string())],
    )
}

/// Every organisation's pending deliveries that never reached the queue or whose retry is long
/// overdue (its message was lost): the hourly sweep.
pub fn sweep_statement(now: UnixMs) -> Statement {
    (
        format!(
            "SELECT id, org_id FROM deliveries WHERE status = 'pending' AND (queued_at IS NULL \
             OR coalesce(next_attempt_at, queued_at) < ?1) LIMIT {MAX_SWEEP}"
        ),
        vec![SqlParam::Number((now.0 - STALE_AFTER_MS) as f64)],
    )
}

/// Marks deliveries as sent to the queue.
pub fn queued_statement(ids: &[String], now: UnixMs) -> Statement {
    (
        "UPDATE deliveries SET queued_at = ?2 WHERE id IN (SELECT value FROM json_each(?1))".into(),
        vec![
            SqlParam::Text(json!(ids).to_string()),
            SqlParam::Number(now.0 as f64),
        ],
    )
}

/// The queue message for one delivery of `org`'s: the organisation routes it to its shard
/// (`crate::shards`).
pub fn message(id: &str, org: &str) -> String {
    json!({ "v": 2, "delivery": id, "org": org }).to_string()
}

/// The delivery id a queue message names (version 2, or 1 from before messages named the
/// organisation).
pub fn message_delivery(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    (v["v"] == 1 || v["v"] == 2).then(|| v["delivery"].as_str().map(str::to_string))?
}

/// The organisation a queue message names; `None` for a version 1 message, whose delivery is
/// on the primary database (the only one when it was sent).
pub fn message_org(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    (v["v"] == 2).then(|| v["org"].as_str().map(str::to_string))?
}

/// What a delivery attempt needs, in one batch: the delivery with its destination, the alert,
/// and up to 20 events behind it. Every statement is scoped by the delivery's organisation.
/// The events are looked up by id (`+e.org_id` keeps the organisation a check, not an index
/// choice: without statistics SQLite would otherwise walk all of the organisation's events
/// through `events_org_created`).
pub fn load_statements(id: &str) -> [Statement; 3] {
    let p = || vec![SqlParam::Text(id.into())];
    [
        (
            "SELECT l.id, l.org_id, l.destination_id, l.alert_id, l.reason, l.status, l.attempts, \
             l.created_at, d.kind, d.target, d.secret, d.enabled FROM deliveries l \
             LEFT JOIN destinations d ON d.id = l.destination_id AND d.org_id = l.org_id \
             WHERE l.id = ?1"
                .into(),
            p(),
        ),
        (
            "SELECT a.* FROM alerts a JOIN deliveries l ON a.id = l.alert_id AND a.org_id = l.org_id \
             WHERE l.id = ?1"
                .into(),
            p(),
        ),
        (
            format!(
                "SELECT {} FROM deliveries l JOIN alerts a ON a.id = l.alert_id AND a.org_id = l.org_id \
                 JOIN events e ON +e.org_id = l.org_id AND e.id IN \
                 (SELECT value FROM json_each(a.metadata, '$.trigger_event_ids')) \
                 WHERE l.id = ?1 ORDER BY e.created_at LIMIT 20",
                EVENT_COLUMNS
                    .split(", ")
                    .map(|c| format!("e.{}", c.trim()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            p(),
        ),
    ]
}

/// Takes the next attempt of a delivery still pending at `seen` attempts; answers the row only
/// to the one consumer that wins, so two deliveries of one queue message never both send.
pub fn claim_statement(id: &str, seen: i64, now: UnixMs) -> Statement {
    (
        "UPDATE deliveries SET attempts = attempts + 1, updated_at = ?3 \
         WHERE id = ?1 AND status = 'pending' AND attempts = ?2 RETURNING attempts"
            .into(),
        vec![
            SqlParam::Text(id.into()),
            SqlParam::Number(seen as f64),
            SqlParam::Number(now.0 as f64),
        ],
    )
}

/// The error text of an answer, for the log.
pub fn error_text(answer: &Answer) -> Option<String> {
    let e = match answer {
        Answer::Status { status, .. } if (200..300).contains(status) => return None,
        Answer::Status { status, .. } => format!("HTTP {status}"),
        Answer::Timeout => "timed out".to_string(),
        Answer::Failed(e) | Answer::Refused(e) => e.clone(),
    };
    Some(e.chars().take(MAX_ERROR_CHARS).collect())
}

/// One attempt's record, and the delivery's new state.
pub struct Attempt<'a> {
    pub delivery: &'a str,
    pub org: &'a str,
    pub destination: &'a str,
    pub number: i64,
    pub at: UnixMs,
    pub status: Option<u16>,
    pub latency_ms: u32,
    pub error: Option<String>,
    pub outcome: Outcome,
}

impl<'a> Attempt<'a> {
    /// Attempt `number` of a delivery, made `at`, not answered yet.
    pub fn new(
        delivery: &'a str,
        org: &'a str,
        destination: &'a str,
        number: i64,
        at: UnixMs,
    ) -> Self {
        Attempt {
            delivery,
            org,
            destination,
            number,
            at,
            status: None,
            latency_ms: 0,
            error: None,
            outcome: Outcome::Dead,
        }
    }

    /// The attempt with what the receiver did and what that decided.
    pub fn answered(self, answer: &Answer, latency_ms: u32, outcome: Outcome) -> Self {
        Attempt {
            status: match answer {
                Answer::Status { status, .. } => Some(*status),
                _ => None,
            },
            latency_ms,
            error: error_text(answer),
            outcome,
            ..self
        }
    }

    /// The attempt row and the delivery's update, for one batch.
    pub fn statements(&self) -> [Statement; 2] {
        let next = match self.outcome {
            Outcome::Retry { after_seconds } => {
                SqlParam::Number((self.at.0 + i64::from(after_seconds) * 1000) as f64)
            }
            _ => SqlParam::Null,
        };
        let status = match self.outcome {
            Outcome::Delivered => "delivered",
            Outcome::Retry { .. } => "pending",
            Outcome::Dead => "dead",
        };
        let error = self.error.clone().map_or(SqlParam::Null, SqlParam::Text);
        let http = self
            .status
            .map_or(SqlParam::Null, |s| SqlParam::Number(f64::from(s)));
        [
            (
                "INSERT OR REPLACE INTO delivery_attempts (delivery_id, attempt, org_id, destination_id, \
                 at, status, latency_ms, error, outcome, next_attempt_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                    .into(),
                vec![
                    SqlParam::Text(self.delivery.into()),
                    SqlParam::Number(self.number as f64),
                    SqlParam::Text(self.org.into()),
                    SqlParam::Text(self.destination.into()),
                    SqlParam::Number(self.at.0 as f64),
                    http.clone(),
                    SqlParam::Number(f64::from(self.latency_ms)),
                    error.clone(),
                    SqlParam::Text(self.outcome.as_str().into()),
                    next.clone(),
                ],
            ),
            (
                "UPDATE deliveries SET status = ?3, next_attempt_at = ?4, last_status = ?5, \
                 last_error = ?6, updated_at = ?7 WHERE id = ?1 AND org_id = ?2"
                    .into(),
                vec![
                    SqlParam::Text(self.delivery.into()),
                    SqlParam::Text(self.org.into()),
                    SqlParam::Text(status.into()),
                    next,
                    http,
                    error,
                    SqlParam::Number(self.at.0 as f64),
                ],
            ),
        ]
    }
}

/// Marks a delivery cancelled (its destination was disabled or deleted).
pub fn cancel_statement(id: &str, now: UnixMs) -> Statement {
    (
        "UPDATE deliveries SET status = 'cancelled', updated_at = ?2 WHERE id = ?1 \
         AND status = 'pending'"
            .into(),
        vec![SqlParam::Text(id.into()), SqlParam::Number(now.0 as f64)],
    )
}

/// Cancels every pending delivery of a destination of the organisation.
pub fn cancel_destination_statement(org: &str, destination: &str, now: UnixMs) -> Statement {
    (
        "UPDATE deliveries SET status = 'cancelled', updated_at = ?3 WHERE org_id = ?1 \
         AND destination_id = ?2 AND status = 'pending'"
            .into(),
        vec![
            SqlParam::Text(org.into()),
            SqlParam::Text(destination.into()),
            SqlParam::Number(now.0 as f64),
        ],
    )
}

/// Records a test delivery (the test button): its ledger row, final at once.
pub fn test_delivery_statement(org: &str, destination: &str, id: &str, now: UnixMs) -> Statement {
    (
        "INSERT OR IGNORE INTO deliveries (id, org_id, destination_id, alert_id, reason, status, \
         attempts, queued_at, created_at, updated_at) VALUES (?1, ?2, ?3, 'test', 'test', 'pending', \
         1, ?4, ?4, ?4)"
            .into(),
        vec![
            SqlParam::Text(id.into()),
            SqlParam::Text(org.into()),
            SqlParam::Text(destination.into()),
            SqlParam::Number(now.0 as f64),
        ],
    )
}

/// The newest attempts to a destination of the organisation, with their deliveries.
pub fn attempts_statement(org: &str, destination: &str, limit: u32) -> Statement {
    (
        format!(
            "SELECT t.delivery_id, t.attempt, t.at, t.status, t.latency_ms, t.error, t.outcome, \
             t.next_attempt_at, l.alert_id, l.reason, l.status AS delivery_status \
             FROM delivery_attempts t JOIN deliveries l ON l.id = t.delivery_id AND l.org_id = t.org_id \
             WHERE t.org_id = ?1 AND t.destination_id = ?2 ORDER BY t.at DESC, t.attempt DESC LIMIT {limit}"
        ),
        vec![SqlParam::Text(org.into()), SqlParam::Text(destination.into())],
    )
}

/// An attempt row as the API shows it.
pub fn attempt_view(row: &serde_json::Value) -> serde_json::Value {
    let time = |v: &serde_json::Value| v.as_f64().map(|t| UnixMs(t as i64).iso_millis());
    json!({
        "delivery_id": row["delivery_id"],
        "alert_id": row["alert_id"],
        "reason": row["reason"],
        "attempt": row["attempt"],
        "at": time(&row["at"]),
        "status": row["status"],
        "latency_ms": row["latency_ms"],
        "error": row["error"],
        "outcome": row["outcome"],
        "next_retry_at": time(&row["next_attempt_at"]),
        "delivery_status": row["delivery_status"],
    })
}
