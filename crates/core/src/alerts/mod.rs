//! Alerts: storing detection candidates with de-duplication (docs/api.md §8.4), listing them
//! (§5.4), their API shape, and status changes (§5.6); suppressions ([`suppress`], §12). SQL is
//! built here; the adapter binds it.

use crate::access::ids::OrgId;
use crate::api::cursor::{Cursor, CursorKey};
use crate::api::error::ApiError;
use crate::api::params::{aliased, parse_limit, parse_offset, parse_time_bound};
use crate::api::sql::{Filter, SqlParam, Statement};
use crate::detect::{AlertCandidate, AlertSeverity};
use crate::ingest::catalogue::AlertType;
use crate::ingest::record::EventRecord;
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::{json, Value};

pub mod delivery;
mod store;
pub mod suppress;
#[cfg(test)]
pub(crate) use store::folds;
pub use store::{store_statements, store_statements_within, BoundedWrites, ExtraTrigger};

/// While an open alert with the same (org, type, key) is younger than this, new triggers
/// update it instead of creating another.
pub const DEDUP_WINDOW_MS: i64 = 60 * 60 * 1000;
/// Most trigger ids kept in `metadata.trigger_event_ids`.
pub const MAX_TRIGGER_IDS: usize = 20;
/// Most travel hops kept in an impossible-travel alert's `evidence.hops` (the newest).
pub const MAX_HOPS: usize = 20;
/// `/alerts` page size bounds.
pub const ALERTS_DEFAULT_LIMIT: u32 = 100;
pub const ALERTS_MAX_LIMIT: u32 = 500;
/// Longest `internal_notes`.
pub const MAX_INTERNAL_NOTES: usize = 2000;
/// Accepted `resolution_type` values.
pub const RESOLUTION_TYPES: [&str; 5] = [
    "blocked_ip",
    "reset_password",
    "contacted_user",
    "false_positive",
    "other",
];
const ALERT_TYPES: [AlertType; 10] = [
    AlertType::BruteForceAttack,
    AlertType::ImpossibleTravel,
    AlertType::GeoAnomaly,
    AlertType::NewDevice,
    AlertType::PrivilegeEscalation,
    AlertType::DataExfiltration,
    AlertType::SuspiciousActivity,
    AlertType::RateLimitExceeded,
    AlertType::AccountCompromise,
    AlertType::SuspiciousNetwork,
];

/// Alert status. `acknowledged` means someone is on it: it stays active (new occurrences fold
/// into it) but is no longer waiting for an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
    Safe,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
            AlertStatus::Safe => "safe",
        }
    }

    /// Parses a status, accepting the SDKs' aliases `active` → open and `dismissed` → safe.
    pub fn parse(s: &str) -> Option<AlertStatus> {
        match s.trim() {
            "open" | "active" => Some(AlertStatus::Open),
            "acknowledged" => Some(AlertStatus::Acknowledged),
            "resolved" => Some(AlertStatus::Resolved),
            "safe" | "dismissed" => Some(AlertStatus::Safe),
            _ => None,
        }
    }
}

/// Low 1 … critical 4.
pub(crate) fn severity_rank(s: AlertSeverity) -> f64 {
    match s {
        AlertSeverity::Low => 1.0,
        AlertSeverity::Medium => 2.0,
        AlertSeverity::High => 3.0,
        AlertSeverity::Critical => 4.0,
    }
}

/// `metadata` of a new alert: the contract's keys, with signal copies from the trigger event.
pub fn new_metadata(c: &AlertCandidate, trigger: &EventRecord) -> Value {
    let e = &trigger.enrichment;
    let isp = e.forensics.as_ref().and_then(|f| {
        f.pointer("/network/isp")
            .or_else(|| f.pointer("/network/asn_org"))
            .cloned()
    });
    json!({
        "confidence": c.confidence,
        "occurrences": 1,
        "trigger_event_ids": [c.trigger_event_id],
        "evidence": c.evidence,
        "internal_notes": null,
        "is_vpn": e.is_vpn, "is_tor": e.is_tor, "is_proxy": e.is_proxy, "is_datacenter": e.is_datacenter,
        "latitude": e.latitude, "longitude": e.longitude, "city": e.city, "country": e.country_code,
        "isp": isp, "threat_score": e.threat_score,
    })
}

/// A parsed `GET /alerts` query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertQuery {
    pub limit: u32,
    pub offset: u32,
    pub statuses: Vec<AlertStatus>,
    /// `status=suppressed` was asked for: suppressed alerts (whatever their status) are listed
    /// too; otherwise they are hidden (docs/api.md §12.2).
    pub suppressed: bool,
    pub severities: Vec<AlertSeverity>,
    pub alert_type: Option<AlertType>,
    pub actor_id: Option<String>,
    pub from: Option<UnixMs>,
    pub to: Option<UnixMs>,
    pub cursor: Option<Cursor>,
}

fn comma_list<T>(
    raw: Option<&str>,
    field: &str,
    expected: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, ApiError> {
    raw.map_or(Ok(Vec::new()), |list| {
        list.split(',')
            .map(|s| {
                parse(s.trim()).ok_or_else(|| {
                    ApiError::invalid(field, format!("must be {expected} (comma list allowed)"))
                })
            })
            .collect()
    })
}

/// An alert severity by its spelling.
pub(crate) fn parse_alert_severity(s: &str) -> Option<AlertSeverity> {
    match s {
        "low" => Some(AlertSeverity::Low),
        "medium" => Some(AlertSeverity::Medium),
        "high" => Some(AlertSeverity::High),
        "critical" => Some(AlertSeverity::Critical),
        _ => None,
    }
}

/// An alert type by its spelling (`brute_force` too).
pub(crate) fn parse_alert_type(s: &str) -> Option<AlertType> {
    let s = if s == "brute_force" {
        "brute_force_attack"
    } else {
        s
    };
    ALERT_TYPES.into_iter().find(|t| t.as_str() == s)
}

/// An `alert_types` filter (destinations, suppressions): `null` for every type, or a non-empty
/// list of known types, de-duplicated in order. The error is the field's message.
pub(crate) fn alert_type_list(v: &Value) -> Result<Option<Vec<String>>, String> {
    let bad = || "must be null or a non-empty list of alert types".to_string();
    match v {
        Value::Null => Ok(None),
        Value::Array(items) if !items.is_empty() => {
            let mut types: Vec<String> = Vec::new();
            for item in items {
                let t = item
                    .as_str()
                    .and_then(|s| parse_alert_type(s.trim()))
                    .ok_or_else(bad)?
                    .as_str()
                    .to_string();
                if !types.contains(&t) {
                    types.push(t);
                }
            }
            Ok(Some(types))
        }
        _ => Err(bad()),
    }
}

impl AlertQuery {
    /// Parses the query string pairs of `GET /alerts`; `cursors` opens the `cursor` parameter.
    pub fn parse(params: &[(String, String)], cursors: &CursorKey) -> Result<AlertQuery, ApiError> {
        // `suppressed` is not a stored status: it selects the suppressed alerts.
        let statuses = comma_list(
            aliased(params, &["status"])?,
            "status",
            "open, acknowledged, resolved, safe or suppressed",
            |s| match s {
                "suppressed" => Some(None),
                s => AlertStatus::parse(s).map(Some),
            },
        )?;
        Ok(AlertQuery {
            limit: parse_limit(
                aliased(params, &["limit"])?,
                ALERTS_DEFAULT_LIMIT,
                ALERTS_MAX_LIMIT,
            )?,
            offset: parse_offset(aliased(params, &["offset"])?)?,
            suppressed: statuses.contains(&None),
            statuses: statuses.into_iter().flatten().collect(),
            severities: comma_list(
                aliased(params, &["severity"])?,
                "severity",
                "low, medium, high or critical",
                parse_alert_severity,
            )?,
            alert_type: aliased(params, &["alert_type"])?
                .map(|t| {
                    parse_alert_type(t.trim())
                        .ok_or_else(|| ApiError::invalid("alert_type", "is not a known alert type"))
                })
                .transpose()?,
            actor_id: aliased(params, &["actor_id"])?.map(str::to_string),
            from: aliased(params, &["from", "start_date"])?
                .map(|s| parse_time_bound("from", s, false))
                .transpose()?,
            to: aliased(params, &["to", "end_date"])?
                .map(|s| parse_time_bound("to", s, true))
                .transpose()?,
            cursor: aliased(params, &["cursor"])?
                .map(|c| cursors.decode(c))
                .transpose()?,
        })
    }

    /// One page, newest first, and the total, scoped to `org` and `cutoff`.
    pub fn page_sql(&self, org: &str, cutoff: UnixMs) -> (Statement, Statement) {
        let mut f = Filter::new(org, self.from.map_or(cutoff, |from| from.max(cutoff)));
        f.le("created_at", self.to);
        let statuses: Vec<&str> = self.statuses.iter().map(|s| s.as_str()).collect();
        match (self.suppressed, statuses.as_slice()) {
            (false, [status]) => {
                f.condition("suppressed_by IS NULL");
                // One status as an equality, so its index also gives the order.
                f.eq("status", Some(*status));
            }
            (false, _) => {
                f.condition("suppressed_by IS NULL");
                f.any_of("status", &statuses);
            }
            (true, []) => f.condition("suppressed_by IS NOT NULL"),
            (true, _) => f.condition_with(
                "(suppressed_by IS NOT NULL OR status IN (SELECT value FROM json_each(?)))",
                SqlParam::Text(json!(statuses).to_string()),
            ),
        }
        f.any_of(
            "severity",
            &self
                .severities
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
        );
        f.eq("alert_type", self.alert_type.map(|t| t.as_str()));
        f.eq("actor_id", self.actor_id.as_deref());
        f.page(self.table(), self.limit, self.offset, self.cursor.as_ref())
    }

    /// `alerts`, with the index a filtered page and its count must walk: the actor's, else the
    /// type's (`alerts_dedup` starts with it), else the statuses', else the suppressed alerts'.
    /// Without `ANALYZE` statistics SQLite takes `alerts_org_created`, whose order saves a sort,
    /// and walks the organisation's whole window to find one actor's, type's or status's alerts
    /// (crates/core/src/api/list_plans_tests.rs). `alerts_org_actor` and `alerts_org_status`
    /// (migrations/0018_list_indexes.sql) hold only unsuppressed alerts: they serve the lists
    /// that hide the suppressed ones.
    fn table(&self) -> &'static str {
        if !self.suppressed && self.actor_id.is_some() {
            "alerts INDEXED BY alerts_org_actor"
        } else if self.alert_type.is_some() {
            "alerts INDEXED BY alerts_dedup"
        } else if !self.suppressed && !self.statuses.is_empty() {
            "alerts INDEXED BY alerts_org_status"
        } else if self.suppressed && self.statuses.is_empty() {
            "alerts INDEXED BY alerts_org_suppressed"
        } else {
            // Everything unsuppressed (a severity at most), or suppressed-or-these-statuses:
            // newest first, stopping at the page. Named too: with statistics of an organisation
            // that holds most alerts, SQLite would rather scan every organisation's.
            "alerts INDEXED BY alerts_org_created"
        }
    }
}

/// An `alerts` row as D1 returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct AlertRow {
    pub id: String,
    pub org_id: String,
    pub alert_type: String,
    pub severity: String,
    pub status: String,
    pub title: String,
    pub description: String,
    pub source_ip: Option<String>,
    pub actor_id: Option<String>,
    pub trigger_event_id: Option<String>,
    pub forensics: Option<String>,
    pub resolution_type: Option<String>,
    pub resolved_at: Option<f64>,
    pub resolved_by: Option<String>,
    pub metadata: String,
    pub created_at: f64,
    pub updated_at: f64,
    #[serde(default)]
    pub acknowledged_at: Option<f64>,
    #[serde(default)]
    pub acknowledged_by: Option<String>,
    #[serde(default)]
    pub suppressed_by: Option<String>,
}

impl crate::api::envelope::Keyed for AlertRow {
    fn cursor(&self) -> Cursor {
        Cursor {
            created_at: UnixMs(self.created_at as i64),
            id: self.id.clone(),
        }
    }
}

impl AlertRow {
    /// The Alert object of docs/api.md §8.1.
    pub fn to_api(&self) -> Value {
        let metadata = serde_json::from_str::<Value>(&self.metadata)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        let forensics = self
            .forensics
            .as_deref()
            .and_then(|f| serde_json::from_str::<Value>(f).ok())
            .map_or(Value::Null, crate::analytics::event_row::sdk_safe_forensics);
        json!({
            "id": self.id, "org_id": self.org_id, "alert_type": self.alert_type, "severity": self.severity,
            "status": self.status, "title": self.title, "description": self.description,
            "source_ip": self.source_ip, "actor_id": self.actor_id, "trigger_event_id": self.trigger_event_id,
            "forensics": forensics, "resolution_type": self.resolution_type,
            "resolved_at": self.resolved_at.map(|t| UnixMs(t as i64).iso_millis()),
            "resolved_by": self.resolved_by,
            "acknowledged_at": self.acknowledged_at.map(|t| UnixMs(t as i64).iso_millis()),
            "acknowledged_by": self.acknowledged_by,
            "suppressed_by": self.suppressed_by,
            "created_at": UnixMs(self.created_at as i64).iso_millis(),
            "updated_at": UnixMs(self.updated_at as i64).iso_millis(),
            "metadata": metadata,
        })
    }
}

/// A validated `PATCH /alerts/:id` body (both request styles of §5.6).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPatch {
    pub status: AlertStatus,
    pub resolution_type: Option<String>,
    pub internal_notes: Option<String>,
    pub resolved_by: Option<String>,
    /// With `mark_safe` only: a suppression to create from the alert (docs/api.md §12.2).
    pub suppress: Option<suppress::SuppressRequest>,
}

impl AlertPatch {
    /// `resolve`, `mark_safe` or `reopen`, echoed in the response.
    pub fn action(&self) -> &'static str {
        match self.status {
            AlertStatus::Acknowledged => "acknowledge",
            AlertStatus::Resolved => "resolve",
            AlertStatus::Safe => "mark_safe",
            AlertStatus::Open => "reopen",
        }
    }

    /// Parses and validates a body.
    pub fn parse(body: &[u8]) -> Result<AlertPatch, ApiError> {
        let root: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid("body", format!("malformed JSON: {e}")))?;
        let Value::Object(obj) = root else {
            return Err(ApiError::invalid("body", "must be a JSON object"));
        };
        let text = |key: &str| -> Result<Option<String>, ApiError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ApiError::invalid(key, "must be a string")),
            }
        };
        let from_status = text("status")?
            .map(|s| {
                AlertStatus::parse(&s).ok_or_else(|| {
                    ApiError::invalid("status", "must be open, acknowledged, resolved or safe")
                })
            })
            .transpose()?;
        let from_action = text("action")?
            .map(|a| match a.trim() {
                "acknowledge" => Ok(AlertStatus::Acknowledged),
                "resolve" => Ok(AlertStatus::Resolved),
                "mark_safe" => Ok(AlertStatus::Safe),
                "reopen" => Ok(AlertStatus::Open),
                _ => Err(ApiError::invalid(
                    "action",
                    "must be acknowledge, resolve, mark_safe or reopen",
                )),
            })
            .transpose()?;
        let status = match (from_status, from_action) {
            (Some(s), Some(a)) if s != a => {
                return Err(ApiError::invalid("action", "does not agree with status"))
            }
            (Some(s), _) | (None, Some(s)) => s,
            (None, None) => return Err(ApiError::invalid("status", "is required (or action)")),
        };
        let resolution_type = text("resolution_type")?;
        if let Some(r) = &resolution_type {
            if !RESOLUTION_TYPES.contains(&r.as_str()) {
                return Err(ApiError::invalid(
                    "resolution_type",
                    format!("must be one of {}", RESOLUTION_TYPES.join(", ")),
                ));
            }
            if status != AlertStatus::Resolved {
                return Err(ApiError::invalid(
                    "resolution_type",
                    "only applies when resolving",
                ));
            }
        }
        let internal_notes = text("internal_notes")?;
        if internal_notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_INTERNAL_NOTES)
        {
            return Err(ApiError::invalid(
                "internal_notes",
                format!("must be at most {MAX_INTERNAL_NOTES} characters"),
            ));
        }
        let resolved_by = text("resolved_by")?.map(|s| s.chars().take(255).collect());
        let suppress = match obj.get("suppress") {
            None | Some(Value::Null) => None,
            Some(_) if status != AlertStatus::Safe => {
                return Err(ApiError::invalid(
                    "suppress",
                    "only applies when marking safe (action mark_safe or status safe)",
                ))
            }
            Some(v) => Some(suppress::SuppressRequest::parse(v)?),
        };
        Ok(AlertPatch {
            status,
            resolution_type,
            internal_notes,
            resolved_by,
            suppress,
        })
    }

    /// The UPDATE, scoped to the org and retention, made by `by` (the operator's identity,
    /// `crate::access::tenant::Tenant::actor`): `resolved_by` and `acknowledged_by` name the
    /// caller, never what the body claims; the body's free-text `resolved_by` is kept as the
    /// note `metadata.resolved_by_note`. `internal_notes` is only overwritten when given, so a
    /// status change never erases an analyst's notes.
    pub fn update_sql(
        &self,
        org: &OrgId,
        id: &str,
        now: UnixMs,
        cutoff: UnixMs,
        by: &str,
    ) -> Statement {
        let who = SqlParam::Text(by.into());
        let (resolution, resolved_at, resolved_by) = match self.status {
            AlertStatus::Resolved => (
                SqlParam::Text(
                    self.resolution_type
                        .clone()
                        .unwrap_or_else(|| "other".into()),
                ),
                SqlParam::Number(now.0 as f64),
                who.clone(),
            ),
            AlertStatus::Safe => (SqlParam::Null, SqlParam::Null, who.clone()),
            AlertStatus::Open | AlertStatus::Acknowledged => {
                (SqlParam::Null, SqlParam::Null, SqlParam::Null)
            }
        };
        // Acknowledging records who and when; reopening clears it; resolving keeps it.
        let (ack_mode, ack_by) = match self.status {
            AlertStatus::Acknowledged => ("set", who),
            AlertStatus::Open => ("clear", SqlParam::Null),
            AlertStatus::Resolved | AlertStatus::Safe => ("keep", SqlParam::Null),
        };
        let text = |t: &Option<String>| t.clone().map_or(SqlParam::Null, SqlParam::Text);
        let notes = "(CASE WHEN ?6 IS NULL THEN metadata ELSE json_set(metadata, '$.internal_notes', ?6) END)";
        (
            format!("UPDATE alerts SET status = ?1, resolution_type = ?2, resolved_at = ?3, resolved_by = ?4, updated_at = ?5, \
             metadata = CASE WHEN ?12 IS NULL THEN {notes} ELSE json_set({notes}, '$.resolved_by_note', ?12) END, \
             acknowledged_at = CASE ?10 WHEN 'set' THEN ?5 WHEN 'clear' THEN NULL ELSE acknowledged_at END, \
             acknowledged_by = CASE ?10 WHEN 'set' THEN ?11 WHEN 'clear' THEN NULL ELSE acknowledged_by END \
             WHERE id = ?7 AND org_id = ?8 AND created_at >= ?9"),
            vec![
                SqlParam::Text(self.status.as_str().into()),
                resolution,
                resolved_at,
                resolved_by,
                SqlParam::Number(now.0 as f64),
                text(&self.internal_notes),
                SqlParam::Text(id.into()),
                SqlParam::Text(org.0.clone()),
                SqlParam::Number(cutoff.0 as f64),
                SqlParam::Text(ack_mode.into()),
                ack_by,
                text(&self.resolved_by),
            ],
        )
    }

    /// What the change was, for the audit log (`crate::access::audit`): the new status and
    /// the body's fields (notes by length only).
    pub fn audit_detail(&self) -> Value {
        serde_json::json!({
            "status": self.status.as_str(),
            "resolution_type": self.resolution_type,
            "internal_notes_chars": self.internal_notes.as_ref().map(|n| n.chars().count()),
            "resolved_by_note": self.resolved_by,
        })
    }

    /// [`AlertPatch::update_sql`] that changes the alert only if suppression `suppression` of
    /// the organisation exists: run after its insert in one batch, the alert is marked safe
    /// exactly when the suppression was created (the insert refuses past the limit).
    pub fn update_sql_with_suppression(
        &self,
        org: &OrgId,
        id: &str,
        now: UnixMs,
        cutoff: UnixMs,
        suppression: &str,
        by: &str,
    ) -> Statement {
        let (mut sql, mut params) = self.update_sql(org, id, now, cutoff, by);
        params.push(SqlParam::Text(suppression.into()));
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM suppressions WHERE id = ?{} AND org_id = ?8)",
            params.len()
        ));
        (sql, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::ids::OrgId;
    use crate::api::sql::max_placeholder;

    #[test]
    fn patch_update_binds_every_placeholder_and_is_scoped() {
        let p = AlertPatch::parse(
            br#"{"action":"resolve","resolution_type":"blocked_ip","internal_notes":"n"}"#,
        )
        .unwrap();
        let (sql, params) = p.update_sql(&OrgId("o".into()), "a", UnixMs(5), UnixMs(1), "me");
        assert_eq!(max_placeholder(&sql), params.len());
        assert!(sql.ends_with("WHERE id = ?7 AND org_id = ?8 AND created_at >= ?9"));
        assert_eq!(params[1], SqlParam::Text("blocked_ip".into()));
    }

    #[test]
    fn both_patch_styles_parse() {
        let r = AlertPatch::parse(br#"{"status":"resolved"}"#).unwrap();
        assert_eq!((r.status, r.action()), (AlertStatus::Resolved, "resolve"));
        let s = AlertPatch::parse(br#"{"action":"mark_safe","resolved_by":"me"}"#).unwrap();
        assert_eq!(
            (s.status, s.resolved_by.as_deref()),
            (AlertStatus::Safe, Some("me"))
        );
        assert_eq!(
            AlertPatch::parse(br#"{"status":"dismissed"}"#)
                .unwrap()
                .status,
            AlertStatus::Safe
        );
        assert_eq!(
            AlertPatch::parse(br#"{"status":"open"}"#).unwrap().action(),
            "reopen"
        );
        assert!(AlertPatch::parse(br#"{"status":"resolved","action":"resolve"}"#).is_ok());
        let ack = AlertPatch::parse(br#"{"action":"acknowledge","resolved_by":"dana"}"#).unwrap();
        assert_eq!(
            (ack.status, ack.action()),
            (AlertStatus::Acknowledged, "acknowledge")
        );
        assert_eq!(
            AlertPatch::parse(br#"{"status":"acknowledged"}"#)
                .unwrap()
                .status,
            AlertStatus::Acknowledged
        );
    }

    #[test]
    fn bad_patches_name_the_field() {
        let field = |b: &[u8]| AlertPatch::parse(b).unwrap_err().details[0].field.clone();
        assert_eq!(field(br#"{}"#), "status");
        assert_eq!(field(br#"{"status":"closed"}"#), "status");
        assert_eq!(field(br#"{"action":"delete"}"#), "action");
        assert_eq!(field(br#"{"status":"safe","action":"resolve"}"#), "action");
        assert_eq!(
            field(br#"{"action":"resolve","resolution_type":"nuked"}"#),
            "resolution_type"
        );
        assert_eq!(
            field(br#"{"action":"mark_safe","resolution_type":"other"}"#),
            "resolution_type"
        );
        let long = format!(
            r#"{{"status":"resolved","internal_notes":"{}"}}"#,
            "x".repeat(2001)
        );
        assert_eq!(field(long.as_bytes()), "internal_notes");
        assert_eq!(field(br#"{"status":5}"#), "status");
        assert_eq!(field(b"nope"), "body");
    }

    #[test]
    fn alert_queries_accept_aliases_and_reject_unknowns() {
        let q = |pairs: &[(&str, &str)]| {
            let owned: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            AlertQuery::parse(&owned, &CursorKey::new("s", "o", "alerts"))
        };
        let a = q(&[
            ("status", "active,dismissed"),
            ("alert_type", "brute_force"),
            ("limit", "900"),
        ])
        .unwrap();
        assert_eq!(a.statuses, vec![AlertStatus::Open, AlertStatus::Safe]);
        assert_eq!(a.alert_type, Some(AlertType::BruteForceAttack));
        assert_eq!(a.limit, 500);
        assert_eq!(q(&[]).unwrap().limit, 100);
        assert_eq!(
            q(&[("severity", "info")]).unwrap_err().details[0].field,
            "severity"
        );
        assert_eq!(
            q(&[("alert_type", "ddos")]).unwrap_err().details[0].field,
            "alert_type"
        );
        let ((page, params), _) = a.page_sql("o", UnixMs(0));
        assert!(page.starts_with(
            "SELECT * FROM alerts INDEXED BY alerts_dedup WHERE org_id = ?1 AND created_at >= ?2"
        ));
        assert_eq!(max_placeholder(&page), params.len());
    }

    #[test]
    fn rows_render_the_contract_shape() {
        let row = AlertRow {
            id: "a".into(),
            org_id: "o".into(),
            alert_type: "geo_anomaly".into(),
            severity: "medium".into(),
            status: "resolved".into(),
            title: "t".into(),
            description: "d".into(),
            source_ip: None,
            actor_id: Some("u".into()),
            trigger_event_id: Some("e".into()),
            forensics: None,
            resolution_type: Some("other".into()),
            resolved_at: Some(1_769_764_500_123.0),
            resolved_by: Some("api".into()),
            metadata: r#"{"confidence":70}"#.into(),
            created_at: 0.0,
            updated_at: 0.0,
            acknowledged_at: Some(1_769_764_400_000.0),
            acknowledged_by: Some("dana".into()),
            suppressed_by: None,
        };
        let v = row.to_api();
        assert_eq!(v["resolved_at"], "2026-01-30T09:15:00.123Z");
        assert_eq!(v["acknowledged_at"], "2026-01-30T09:13:20.000Z");
        assert_eq!(v["acknowledged_by"], "dana");
        assert_eq!(v["metadata"]["confidence"], 70);
        assert_eq!(v["forensics"], Value::Null);
        assert_eq!(v["created_at"], "1970-01-01T00:00:00.000Z");
    }
}
