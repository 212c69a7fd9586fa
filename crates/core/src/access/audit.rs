//! The audit log (docs/api.md §5.11): every change made through the API — alert status,
//! suppressions, destinations, detection settings, keys — recorded with who made it, when, from
//! which address and what changed, in an append-only per-organisation sequence whose entries are
//! chained by SHA-256, so an edited, deleted or inserted entry breaks the chain at that entry.
//!
//! An entry is appended in the same D1 batch (one transaction) as its change, right after the
//! change's statement and only if that statement changed a row (`changes()`), so a change and its
//! entry are stored together or not at all. Its sequence number is the organisation's next
//! (D1 runs one writer at a time, so `max(seq) + 1` inside the transaction cannot collide). The
//! hash needs SHA-256, which D1's SQL has not: entries are sealed after the batch, in order, by
//! [`seal`] (the handler that appended, and every read of the log), deterministically, so
//! concurrent sealers write the same hashes.

use crate::api::sql::{SqlParam, Statement};
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Entries one [`seal`] round hashes at most (the rest wait for the next).
pub const SEAL_ROUND: u32 = 500;
/// Entries one verification reads at most; a longer log is verified in parts (`from`).
pub const VERIFY_ROUND: u32 = 20_000;
/// Longest `detail`, in bytes of JSON (what changed; never a secret).
pub const MAX_DETAIL_BYTES: usize = 8 * 1024;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// A key's name and prefix (`web app (lsoc_live_ab12)`), or a signed-in person.
    pub actor: String,
    /// `key` (more kinds come with sign-in).
    pub kind: &'static str,
    /// The caller's address as Cloudflare saw it (`CF-Connecting-IP`), when known.
    pub ip: Option<String>,
}

/// What changed: an action (`alert.resolve`, `key.create`, …), its target's id and the
/// change's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub action: String,
    pub target: Option<String>,
    pub detail: Value,
}

impl Change {
    pub fn new(action: impl Into<String>, target: Option<&str>, detail: Value) -> Change {
        Change {
            action: action.into(),
            target: target.map(str::to_owned),
            detail,
        }
    }
}

/// A validated body's own members (`fields`), for an entry's detail: what the change set, and
/// nothing else the caller sent (members the API ignores stay out of the log).
pub fn fields_of(body: &[u8], fields: &[&str]) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Value::Object(
            o.into_iter()
                .filter(|(k, _)| fields.contains(&k.as_str()))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// The detail as stored: JSON, cut to a marker when longer than [`MAX_DETAIL_BYTES`].
fn detail_text(detail: &Value) -> String {
    let text = detail.to_string();
    if text.len() <= MAX_DETAIL_BYTES {
        text
    } else {
        json!({"truncated": true, "bytes": text.len()}).to_string()
    }
}

/// Appends the change's entry if the statement just before it in the batch changed a row; put
/// it right after that statement. Returns the entry's `seq` (no row: nothing changed).
pub fn append_statement(org: &str, who: &Operator, change: &Change, now: UnixMs) -> Statement {
    append(org, who, change, now, "changes() > 0")
}

/// Put right after a change to global tables on the primary when the organisation's log is on
/// another database: keeps the change's entry in the primary's outbox (`audit_outbox`,
/// migrations/0033_audit_outbox.sql) if that statement changed a row, in the change's own
/// transaction, until [`from_outbox_statement`] appends it to the log on the shard.
pub fn outbox_statement(org: &str, who: &Operator, change: &Change, now: UnixMs) -> Statement {
    (
        "INSERT INTO audit_outbox (org_id, at, actor, actor_kind, ip, action, target, detail) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE changes() > 0"
            .into(),
        entry_params(org, who, change, now),
    )
}

/// The organisation's entries waiting in the outbox, oldest first (a round at most).
pub fn outbox_waiting_statement(org: &str) -> Statement {
    (
        "SELECT id, org_id, 0 AS seq, at, actor, actor_kind, ip, action, target, detail, NULL AS hash \
         FROM audit_outbox WHERE org_id = ?1 ORDER BY id LIMIT 50"
            .into(),
        vec![SqlParam::Text(org.into())],
    )
}

/// The organisations with entries waiting in the outbox (the hourly drain).
pub fn outbox_orgs_statement() -> Statement {
    (
        "SELECT DISTINCT org_id FROM audit_outbox".into(),
        Vec::new(),
    )
}

/// An entry waiting in the outbox: its outbox id, and the entry as the log will hold it (not
/// yet numbered or sealed).
#[derive(Debug, Clone, PartialEq)]
pub struct Outboxed {
    pub id: f64,
    pub entry: Entry,
}

impl Outboxed {
    /// A row of [`outbox_waiting_statement`], if it is one (read as an [`Entry`] plus its id,
    /// without serde's flattening, which costs the Worker's bundle more than this).
    pub fn from_row(row: Value) -> Option<Outboxed> {
        let id = row["id"].as_f64()?;
        let entry = serde_json::from_value(row).ok()?;
        Some(Outboxed { id, entry })
    }
}

/// Appends an outboxed entry to the log on the organisation's shard, unless the log has it
/// already (a drain whose removal from the outbox failed runs again).
pub fn from_outbox_statement(waiting: &Outboxed) -> Statement {
    let e = &waiting.entry;
    (
        format!(
            "{INSERT_ENTRY} WHERE NOT EXISTS (SELECT 1 FROM audit_log WHERE org_id = ?1 AND at = ?2 \
             AND actor = ?3 AND action = ?6 AND target IS ?7 AND detail = ?8)"
        ),
        vec![
            SqlParam::Text(e.org_id.clone()),
            SqlParam::Number(e.at),
            SqlParam::Text(e.actor.clone()),
            SqlParam::Text(e.actor_kind.clone()),
            e.ip.clone().map_or(SqlParam::Null, SqlParam::Text),
            SqlParam::Text(e.action.clone()),
            e.target.clone().map_or(SqlParam::Null, SqlParam::Text),
            SqlParam::Text(e.detail.clone()),
        ],
    )
}

/// Removes appended entries from the outbox.
pub fn outbox_done_statement(entries: &[Outboxed]) -> Statement {
    let ids: Vec<i64> = entries.iter().map(|e| e.id as i64).collect();
    (
        "DELETE FROM audit_outbox WHERE id IN (SELECT value FROM json_each(?1))".into(),
        vec![SqlParam::Text(json!(ids).to_string())],
    )
}

/// An entry's insert into the log, numbered after the organisation's last; `?1` to `?8` as
/// [`entry_params`].
const INSERT_ENTRY: &str =
    "INSERT INTO audit_log (org_id, seq, at, actor, actor_kind, ip, action, target, detail) \
     SELECT ?1, coalesce((SELECT max(seq) FROM audit_log WHERE org_id = ?1), 0) + 1, \
     ?2, ?3, ?4, ?5, ?6, ?7, ?8";

fn entry_params(org: &str, who: &Operator, change: &Change, now: UnixMs) -> Vec<SqlParam> {
    vec![
        SqlParam::Text(org.into()),
        SqlParam::Number(now.0 as f64),
        SqlParam::Text(who.actor.clone()),
        SqlParam::Text(who.kind.into()),
        who.ip.clone().map_or(SqlParam::Null, SqlParam::Text),
        SqlParam::Text(change.action.clone()),
        change.target.clone().map_or(SqlParam::Null, SqlParam::Text),
        SqlParam::Text(detail_text(&change.detail)),
    ]
}

fn append(org: &str, who: &Operator, change: &Change, now: UnixMs, condition: &str) -> Statement {
    (
        format!("{INSERT_ENTRY} WHERE {condition} RETURNING seq"),
        entry_params(org, who, change, now),
    )
}

/// An `audit_log` row as D1 returns it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Entry {
    pub org_id: String,
    pub seq: f64,
    pub at: f64,
    pub actor: String,
    pub actor_kind: String,
    pub ip: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
    pub hash: Option<String>,
}

const COLUMNS: &str = "org_id, seq, at, actor, actor_kind, ip, action, target, detail, hash";

impl Entry {
    /// The hash an entry must carry after `prev`: SHA-256 (hex) of `prev`, a newline and the
    /// entry's fields as a JSON array (organisation, seq, at, actor, kind, ip, action, target,
    /// the detail's stored text).
    pub fn chained_hash(&self, prev: &str) -> String {
        let fields = json!([
            self.org_id,
            self.seq as i64,
            self.at as i64,
            self.actor,
            self.actor_kind,
            self.ip,
            self.action,
            self.target,
            self.detail
        ]);
        let mut h = Sha256::new();
        h.update(prev.as_bytes());
        h.update(b"\n");
        h.update(fields.to_string().as_bytes());
        hex::encode(h.finalize())
    }

    /// The API object.
    pub fn to_api(&self) -> Value {
        json!({
            "seq": self.seq as i64,
            "at": UnixMs(self.at as i64).iso_millis(),
            "actor": self.actor,
            "actor_kind": self.actor_kind,
            "ip": self.ip,
            "action": self.action,
            "target": self.target,
            "detail": serde_json::from_str::<Value>(&self.detail).unwrap_or(Value::String(self.detail.clone())),
            "hash": self.hash,
        })
    }
}

/// What [`seal`] reads: the last sealed entry (the chain's anchor) and the unsealed ones after
/// it, oldest first, at most [`SEAL_ROUND`].
pub fn unsealed_statement(org: &str) -> Statement {
    (
        format!(
            "SELECT {COLUMNS} FROM audit_log WHERE org_id = ?1 AND seq >= \
             coalesce((SELECT max(seq) FROM audit_log WHERE org_id = ?1 AND hash IS NOT NULL), 1) \
             ORDER BY seq LIMIT {}",
            SEAL_ROUND + 1
        ),
        vec![SqlParam::Text(org.into())],
    )
}

/// The hashes for the unsealed entries of `rows` (as [`unsealed_statement`] returns them),
/// chained from the sealed anchor (or [`GENESIS`]), as one UPDATE; `None` when nothing waits.
/// Stops at a gap in the sequence: what follows a missing entry is left for verification to report.
pub fn seal(org: &str, rows: &[Entry]) -> Option<Statement> {
    let mut prev = GENESIS.to_string();
    let mut expected = 1i64;
    let mut out = Vec::new();
    for e in rows {
        let seq = e.seq as i64;
        match &e.hash {
            Some(h) if out.is_empty() => {
                prev = h.clone();
                expected = seq + 1;
                continue;
            }
            _ => {}
        }
        if seq != expected {
            break;
        }
        let hash = e.chained_hash(&prev);
        out.push(json!([seq, hash]));
        prev = hash;
        expected += 1;
    }
    (!out.is_empty()).then(|| {
        (
            "UPDATE audit_log SET hash = (SELECT json_extract(j.value, '$[1]') FROM json_each(?2) j \
             WHERE json_extract(j.value, '$[0]') = audit_log.seq) \
             WHERE org_id = ?1 AND hash IS NULL AND seq IN (SELECT json_extract(value, '$[0]') FROM json_each(?2))"
                .into(),
            vec![
                SqlParam::Text(org.into()),
                SqlParam::Text(Value::Array(out).to_string()),
            ],
        )
    })
}

/// A page of the log, newest first: entries before `before` (a seq), filtered by action (exact
/// or a prefix ending in `.`), actor, target, and a time range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    pub since: Option<UnixMs>,
    pub until: Option<UnixMs>,
    pub before: Option<i64>,
    pub limit: u32,
}

/// Entries a page lists by default and at most.
pub const PAGE_DEFAULT: u32 = 50;
pub const PAGE_MAX: u32 = 200;
/// Entries one export answer holds at most (the rest follow from `X-Next-After`).
pub const EXPORT_MAX: u32 = 5_000;

/// A sequence number from a query parameter: a positive integer, else a 400 naming `field`.
pub fn parse_seq(field: &str, raw: Option<&str>) -> Result<Option<i64>, crate::ApiError> {
    raw.map(|r| {
        r.trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| crate::ApiError::invalid(field, "must be a non-negative integer"))
    })
    .transpose()
}

impl Query {
    /// `GET /audit`'s parameters: `action` (exact, or a prefix ending in `.`), `actor`,
    /// `target`, `since`/`until` (ISO-8601 or a date), `before` (a seq: the next page), `limit`.
    pub fn parse(params: &[(String, String)]) -> Result<Query, crate::ApiError> {
        use crate::api::params::{aliased, parse_limit, parse_time_bound};
        let one = |name: &str| aliased(params, &[name]);
        let text = |name: &str| -> Result<Option<String>, crate::ApiError> {
            match one(name)? {
                Some(v) if v.chars().count() > 255 => Err(crate::ApiError::invalid(
                    name,
                    "must be at most 255 characters",
                )),
                v => Ok(v.map(str::to_owned)),
            }
        };
        Ok(Query {
            action: text("action")?,
            actor: text("actor")?,
            target: text("target")?,
            since: one("since")?
                .map(|v| parse_time_bound("since", v, false))
                .transpose()?,
            until: one("until")?
                .map(|v| parse_time_bound("until", v, true))
                .transpose()?,
            before: parse_seq("before", one("before")?)?,
            limit: parse_limit(one("limit")?, PAGE_DEFAULT, PAGE_MAX)?,
        })
    }
}

/// The statement of one [`Query`] page (one row more than `limit`, to tell there is more).
pub fn list_statement(org: &str, q: &Query) -> Statement {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE org_id = ?1");
    let mut params = vec![SqlParam::Text(org.into())];
    // `clause` holds `{}` wherever its parameter's number goes.
    let mut bind = |clause: &str, p: SqlParam| {
        params.push(p);
        sql.push_str(&clause.replace("{}", &format!("?{}", params.len())));
    };
    match &q.action {
        Some(a) if a.ends_with('.') => bind(
            " AND substr(action, 1, length({})) = {}",
            SqlParam::Text(a.clone()),
        ),
        Some(a) => bind(" AND action = {}", SqlParam::Text(a.clone())),
        None => {}
    }
    if let Some(a) = &q.actor {
        bind(" AND actor = {}", SqlParam::Text(a.clone()));
    }
    if let Some(t) = &q.target {
        bind(" AND target = {}", SqlParam::Text(t.clone()));
    }
    if let Some(s) = q.since {
        bind(" AND at >= {}", SqlParam::Number(s.0 as f64));
    }
    if let Some(u) = q.until {
        bind(" AND at <= {}", SqlParam::Number(u.0 as f64));
    }
    if let Some(b) = q.before {
        bind(" AND seq < {}", SqlParam::Number(b as f64));
    }
    sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", q.limit + 1));
    (sql, params)
}

/// Entries from `from` on, oldest first, at most `limit`: an export page, or a verification's
/// (which also reads the entry before `from`, its anchor).
pub fn range_statement(org: &str, from: i64, limit: u32) -> Statement {
    (
        format!("SELECT {COLUMNS} FROM audit_log WHERE org_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT {limit}"),
        vec![SqlParam::Text(org.into()), SqlParam::Number(from as f64)],
    )
}

/// The outcome of checking the chain over a range of entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Entries checked.
    pub checked: u64,
    /// The last entry checked: its seq and hash.
    pub head: Option<(i64, String)>,
    /// The first entry whose chain breaks, and why.
    pub broken: Option<(i64, String)>,
}

impl Verdict {
    pub fn to_api(&self, next_from: Option<i64>) -> Value {
        json!({
            "valid": self.broken.is_none(),
            "checked": self.checked,
            "head": self.head.as_ref().map(|(seq, hash)| json!({"seq": seq, "hash": hash})),
            "first_broken": self.broken.as_ref().map(|(seq, why)| json!({"seq": seq, "reason": why})),
            "next_from": next_from,
        })
    }
}

/// Checks `rows` (entries from `from` on, oldest first) against the chain: each entry's seq
/// follows the one before (none deleted), and its hash is the hash of its content after the
/// previous entry's (none edited, none inserted). `anchor` is the hash of entry `from - 1`
/// ([`GENESIS`] when `from` is 1).
pub fn verify(from: i64, anchor: &str, rows: &[Entry]) -> Verdict {
    let mut prev = anchor.to_string();
    let mut head = None;
    let broken = |checked: u64, head, seq: i64, why: String| Verdict {
        checked,
        head,
        broken: Some((seq, why)),
    };
    for (checked, (expected, e)) in (from..).zip(rows).enumerate() {
        let checked = checked as u64;
        let seq = e.seq as i64;
        if seq != expected {
            let why = format!("entry {expected} is missing: deleted, or the log renumbered");
            return broken(checked, head, expected, why);
        }
        let want = e.chained_hash(&prev);
        match &e.hash {
            Some(h) if *h == want => {}
            Some(_) => {
                let why = format!(
                    "entry {seq} does not match its hash: edited, or inserted after entry {}",
                    seq - 1
                );
                return broken(checked, head, seq, why);
            }
            None => {
                return broken(
                    checked,
                    head,
                    seq,
                    format!("entry {seq} has no hash: not sealed"),
                )
            }
        }
        prev = want;
        head = Some((seq, prev.clone()));
    }
    Verdict {
        checked: rows.len() as u64,
        head,
        broken: None,
    }
}

/// CSV of entries with a header line, cells quoted and guarded as every export's are
/// ([`crate::api::export::csv_cell`]).
pub fn csv(entries: &[Entry]) -> String {
    let q = crate::api::export::csv_cell;
    let mut out = String::from("seq,at,actor,actor_kind,ip,action,target,detail,hash\r\n");
    for e in entries {
        out.push_str(
            &[
                (e.seq as i64).to_string(),
                q(&UnixMs(e.at as i64).iso_millis()),
                q(&e.actor),
                q(&e.actor_kind),
                q(e.ip.as_deref().unwrap_or("")),
                q(&e.action),
                q(e.target.as_deref().unwrap_or("")),
                q(&e.detail),
                q(e.hash.as_deref().unwrap_or("")),
            ]
            .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
