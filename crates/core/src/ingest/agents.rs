//! The litesoc-agent's heartbeat (`POST /agent/heartbeat`) and the agents it reports
//! (`GET /agents`), docs/integrations.md §3: one row per organisation and hostname
//! (migrations/0029_agents.sql), and a state read from how long ago it last beat.

use super::NewEvent;
use crate::api::error::{ApiError, FieldError};
use crate::api::sql::{SqlParam, Statement};
use crate::limits::plan::Plan;
use crate::text::shorten;
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The agent beats every 60 s while its host logs security events and every 5 min when idle;
/// with a minute's grace, a host silent for longer than this is stale.
pub const STALE_AFTER_MINUTES: u32 = 6;
/// [`STALE_AFTER_MINUTES`] in seconds, as `GET /agents` reports it.
pub const STALE_AFTER_SECONDS: i64 = STALE_AFTER_MINUTES as i64 * 60;
/// The event the agent sweep emits for a silent agent (its host as the actor); detection turns
/// it into an alert for organisations that want one (`crate::detect`).
pub const SILENT_EVENT: &str = "agent.heartbeat_missed";
/// Recent log lines kept per agent (the agent sends at most 10).
pub const MAX_RECENT_LOGS: usize = 10;
/// Characters kept of each recent line.
pub const MAX_LOG_CHARS: usize = 2048;
/// Hostnames an organisation may register; a heartbeat from one more is refused.
pub const MAX_AGENTS: u32 = 1000;
/// Agents listed at most.
pub const LIST_LIMIT: u32 = 1000;
/// A heartbeat body's size limit.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const MAX_HOSTNAME: usize = 255;
const MAX_SHORT: usize = 64;

/// A validated heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub hostname: String,
    pub ip_address: Option<String>,
    pub agent_version: Option<String>,
    /// The newest [`MAX_RECENT_LOGS`] lines, each at most [`MAX_LOG_CHARS`] characters.
    pub recent_logs: Vec<String>,
}

#[derive(Deserialize)]
struct Body {
    hostname: Option<Value>,
    ip_address: Option<Value>,
    agent_version: Option<Value>,
    recent_logs: Option<Value>,
}

/// A string field, trimmed; absent, null or empty is `None`; longer than `max` is a problem.
fn text(v: Option<Value>, field: &str, max: usize) -> Result<Option<String>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().chars().count() > max => Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        )),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(_) => Err(FieldError::new(field, "must be a string")),
    }
}

impl Heartbeat {
    /// Parses the agent's `{hostname, ip_address, agent_version, recent_logs}`; a 400 names
    /// each bad field. Longer lists keep their newest lines; long lines are cut.
    pub fn parse(body: &[u8]) -> Result<Heartbeat, ApiError> {
        let b: Body = serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid("body", format!("must be a JSON object: {e}")))?;
        let mut problems = Vec::new();
        let mut field = |r: Result<Option<String>, FieldError>| {
            r.unwrap_or_else(|e| {
                problems.push(e);
                None
            })
        };
        let hostname = field(text(b.hostname, "hostname", MAX_HOSTNAME));
        let ip_address = field(text(b.ip_address, "ip_address", MAX_SHORT));
        let agent_version = field(text(b.agent_version, "agent_version", MAX_SHORT));
        let mut recent_logs = Vec::new();
        match b.recent_logs {
            None | Some(Value::Null) => {}
            Some(Value::Array(lines)) => {
                let skip = lines.len().saturating_sub(MAX_RECENT_LOGS);
                for (i, line) in lines.into_iter().enumerate().skip(skip) {
                    match line {
                        Value::String(s) => recent_logs.push(shorten(&s, MAX_LOG_CHARS)),
                        _ => problems.push(FieldError::new(
                            format!("recent_logs[{i}]"),
                            "must be a string",
                        )),
                    }
                }
            }
            Some(_) => problems.push(FieldError::new(
                "recent_logs",
                "must be an array of strings",
            )),
        }
        if hostname.is_none() && problems.is_empty() {
            problems.push(FieldError::new("hostname", "is required"));
        }
        match hostname {
            Some(hostname) if problems.is_empty() => Ok(Heartbeat {
                hostname,
                ip_address,
                agent_version,
                recent_logs,
            }),
            _ => Err(ApiError::validation(problems)),
        }
    }

    /// Records the beat: a new hostname is added (while the organisation has fewer than
    /// [`MAX_AGENTS`]), a known one updated; an empty `recent_logs` keeps the last lines sent.
    /// Changes no row when the organisation is full: the caller answers that.
    pub fn upsert(&self, org: &str, now: UnixMs) -> Statement {
        let text = |v: &Option<String>| v.clone().map_or(SqlParam::Null, SqlParam::Text);
        (
            format!(
                "INSERT INTO agents (org_id, hostname, ip_address, agent_version, first_seen, last_seen, \
                 heartbeats, recent_logs) SELECT ?1, ?2, ?3, ?4, ?5, ?5, 1, ?6 \
                 WHERE (SELECT count(*) FROM agents WHERE org_id = ?1) < {MAX_AGENTS} \
                 OR EXISTS (SELECT 1 FROM agents WHERE org_id = ?1 AND hostname = ?2) \
                 ON CONFLICT (org_id, hostname) DO UPDATE SET ip_address = excluded.ip_address, \
                 agent_version = excluded.agent_version, last_seen = max(last_seen, excluded.last_seen), \
                 heartbeats = heartbeats + 1, recent_logs = CASE WHEN excluded.recent_logs = '[]' \
                 THEN recent_logs ELSE excluded.recent_logs END"
            ),
            vec![
                SqlParam::Text(org.to_string()),
                SqlParam::Text(self.hostname.clone()),
                text(&self.ip_address),
                text(&self.agent_version),
                SqlParam::Number(now.0 as f64),
                SqlParam::Text(Value::from(self.recent_logs.clone()).to_string()),
            ],
        )
    }
}

/// The organisation's agents, by hostname, at most [`LIST_LIMIT`].
pub fn list_statement(org: &str) -> Statement {
    (
        format!(
            "SELECT hostname, ip_address, agent_version, first_seen, last_seen, heartbeats, recent_logs \
             FROM agents WHERE org_id = ?1 ORDER BY hostname LIMIT {LIST_LIMIT}"
        ),
        vec![SqlParam::Text(org.to_string())],
    )
}

/// An agent as stored.
#[derive(Debug, Clone, Deserialize)]
pub struct AgentRow {
    pub hostname: String,
    pub ip_address: Option<String>,
    pub agent_version: Option<String>,
    pub first_seen: f64,
    pub last_seen: f64,
    pub heartbeats: f64,
    pub recent_logs: String,
}

impl AgentRow {
    /// The agent as `GET /agents` shows it at `now`: `online` within [`STALE_AFTER_SECONDS`]
    /// of its last beat, else `stale`.
    pub fn to_json(&self, now: UnixMs) -> Value {
        let since = ((now.0 - self.last_seen as i64) / 1000).max(0);
        let logs: Value = serde_json::from_str(&self.recent_logs).unwrap_or_else(|_| json!([]));
        json!({
            "hostname": self.hostname,
            "ip_address": self.ip_address,
            "agent_version": self.agent_version,
            "first_seen": UnixMs(self.first_seen as i64).iso_millis(),
            "last_seen": UnixMs(self.last_seen as i64).iso_millis(),
            "status": if since <= STALE_AFTER_SECONDS { "online" } else { "stale" },
            "seconds_since_seen": since,
            "heartbeats": self.heartbeats as i64,
            "recent_logs": logs,
        })
    }
}

/// The cron trigger of the agent sweep (wrangler.toml): every five minutes.
pub const SWEEP_CRON: &str = "*/5 * * * *";
/// Silent agents one sweep handles at most; the next sweep takes the rest.
pub const SWEEP_LIMIT: u32 = 200;

/// The agents past their organisation's `agents.stale_alert_minutes` (at least the stale rule's
/// [`STALE_AFTER_MINUTES`]) and not yet reported for this silence, oldest silence first. Only
/// organisations that set the minutes are read. Runs on each shard; the organisations' plans
/// are the primary's ([`crate::shards::registry_statement`]).
pub fn silent_statement(now: UnixMs) -> Statement {
    (
        format!(
            "SELECT a.org_id, a.hostname, a.ip_address, a.agent_version, a.last_seen, s.minutes \
             FROM (SELECT org_id, max({STALE_AFTER_MINUTES}, CAST(json_extract(overrides, '$.agents.stale_alert_minutes') AS INTEGER)) AS minutes \
               FROM detection_settings WHERE json_extract(overrides, '$.agents.stale_alert_minutes') > 0) AS s \
             JOIN agents AS a ON a.org_id = s.org_id \
             WHERE a.last_seen < ?1 - s.minutes * 60000 AND (a.silent_since IS NULL OR a.silent_since < a.last_seen) \
             ORDER BY a.last_seen LIMIT {SWEEP_LIMIT}"
        ),
        vec![SqlParam::Number(now.0 as f64)],
    )
}

/// `org`'s plan among the rows of [`crate::shards::registry_statement`]: `None` for an organisation that no
/// longer exists or whose plan this build does not know.
pub fn plan_of(rows: &[Value], org: &str) -> Option<Plan> {
    rows.iter()
        .find(|r| r["id"] == org)
        .and_then(|r| Plan::parse(r["plan"].as_str()?))
}

/// A silent agent the sweep reports.
#[derive(Debug, Clone, Deserialize)]
pub struct SilentAgent {
    pub org_id: String,
    pub hostname: String,
    pub ip_address: Option<String>,
    pub agent_version: Option<String>,
    pub last_seen: f64,
    pub minutes: f64,
}

impl SilentAgent {
    /// The event detection turns into the alert: [`SILENT_EVENT`], the host as its actor, its
    /// address as `user_ip`, what an analyst needs in its metadata.
    pub fn event(&self, now: UnixMs) -> NewEvent {
        let mut metadata = Map::new();
        metadata.insert("source".into(), "agent_sweep".into());
        metadata.insert("hostname".into(), self.hostname.clone().into());
        metadata.insert("agent_version".into(), json!(self.agent_version));
        metadata.insert(
            "last_seen".into(),
            UnixMs(self.last_seen as i64).iso_millis().into(),
        );
        let silent = (now.0 - self.last_seen as i64) / 60_000;
        metadata.insert("silent_minutes".into(), silent.into());
        metadata.insert("threshold_minutes".into(), (self.minutes as i64).into());
        NewEvent {
            event_name: SILENT_EVENT.into(),
            actor_id: Some(self.hostname.clone()),
            actor_email: None,
            user_ip: self.ip_address.clone(),
            metadata,
        }
    }

    /// Marks this silence reported, unless the agent beat meanwhile.
    pub fn reported(&self) -> Statement {
        (
            "UPDATE agents SET silent_since = ?3 WHERE org_id = ?1 AND hostname = ?2 AND last_seen = ?3"
                .into(),
            vec![
                SqlParam::Text(self.org_id.clone()),
                SqlParam::Text(self.hostname.clone()),
                SqlParam::Number(self.last_seen),
            ],
        )
    }
}

#[cfg(test)]
#[path = "agents_tests.rs"]
mod tests;
