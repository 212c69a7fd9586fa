//! Suppressions (docs/api.md §12.1, §12.2): an organisation says "not this address, network,
//! ASN, actor or country — for these alert types — until then", and detection records the
//! alerts that match as suppressed instead of raising them.
//!
//! * The API's bodies are validated here (every problem a 400 naming its field), values are
//!   stored canonical, and every statement is scoped by organisation.
//! * Detection loads the active suppressions of a batch's organisations with one statement
//!   ([`Suppressions::load_statement`], read with the detection settings by
//!   `crate::detect::settings::DetectionContext`) and decides in Rust, per alert occurrence,
//!   whether one matches ([`Suppressions::matching`]); the alert writer
//!   (`crate::alerts::store_statements`) stores a suppressed occurrence in an alert whose
//!   `suppressed_by` names the suppression. The queue consumer and the Loki push share that
//!   path. Matching in Rust rather than in SQL keeps networks simple (SQLite has no CIDR
//!   functions; `ipnet` decides containment) and testable without a database.
//! * A suppression applies to a trigger whose time is strictly before `expires_at`, and only
//!   while it is not deleted. A trigger exactly at `expires_at` alerts normally.

use crate::alerts::{alert_type_list as alert_types, AlertRow};
use crate::api::error::{ApiError, FieldError};
use crate::api::params::{aliased, parse_limit};
use crate::api::sql::{SqlParam, Statement};
use crate::detect::AlertCandidate;
use crate::ingest::record::EventRecord;
use crate::intel::places::country_code;
use crate::time::UnixMs;
use chrono::DateTime;
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Most active (neither expired nor deleted) suppressions per organisation.
pub const MAX_ACTIVE: u32 = 200;
/// Longest `reason`.
pub const MAX_REASON_CHARS: usize = 500;
/// Longest actor id.
pub const MAX_ACTOR_CHARS: usize = 255;
/// The broadest networks: an IPv4 `/8`, an IPv6 `/16`.
pub const MIN_PREFIX_V4: u8 = 8;
pub const MIN_PREFIX_V6: u8 = 16;
/// `GET /suppressions` page size bounds (the newest first).
pub const LIST_DEFAULT_LIMIT: u32 = 200;
pub const LIST_MAX_LIMIT: u32 = 500;
/// Most suppressions one detection batch loads (far above [`MAX_ACTIVE`] per organisation).
const MAX_LOADED: u32 = 10_000;

/// What a suppression matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Ip,
    Cidr,
    Asn,
    Actor,
    Country,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Ip,
        Scope::Cidr,
        Scope::Asn,
        Scope::Actor,
        Scope::Country,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Cidr => "cidr",
            Scope::Asn => "asn",
            Scope::Actor => "actor",
            Scope::Country => "country",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// A suppression's value, parsed: what it compares an alert's keys with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    Ip(IpAddr),
    Net(IpNet),
    Asn(u32),
    Actor(String),
    Country(String),
}

/// An address as compared: IPv4-mapped IPv6 (`::ffff:203.0.113.7`) is the IPv4 address.
fn ip(raw: &str) -> Option<IpAddr> {
    raw.trim().parse::<IpAddr>().ok().map(|a| a.to_canonical())
}

impl Matcher {
    /// Parses a client's value for `scope`; the error is the message for the `value` field.
    /// An ASN may be a JSON number or text (`13335`, `AS13335`).
    pub fn parse(scope: Scope, raw: &Value) -> Result<Matcher, String> {
        if scope == Scope::Asn {
            if let Some(n) = raw.as_u64() {
                return asn(n);
            }
        }
        let Some(text) = raw.as_str() else {
            return Err("must be a string".into());
        };
        let text = text.trim();
        match scope {
            Scope::Ip => ip(text)
                .map(Matcher::Ip)
                .ok_or_else(|| "must be an IPv4 or IPv6 address".into()),
            Scope::Cidr => {
                let net: IpNet = text.parse().map_err(|_| {
                    "must be a network in CIDR notation (203.0.113.0/24, 2001:db8::/32)".to_string()
                })?;
                let broadest = match net {
                    IpNet::V4(_) => MIN_PREFIX_V4,
                    IpNet::V6(_) => MIN_PREFIX_V6,
                };
                if net.prefix_len() < broadest {
                    return Err(format!(
                        "is broader than /{MIN_PREFIX_V4} (IPv4) or /{MIN_PREFIX_V6} (IPv6)"
                    ));
                }
                Ok(Matcher::Net(net.trunc()))
            }
            Scope::Asn => {
                let digits = match text.get(..2) {
                    Some(p) if p.eq_ignore_ascii_case("as") => &text[2..],
                    _ => text,
                };
                match digits.parse::<u64>() {
                    Ok(n) if digits.bytes().all(|b| b.is_ascii_digit()) => asn(n),
                    _ => Err("must be an AS number (13335 or AS13335)".into()),
                }
            }
            Scope::Actor => {
                if text.is_empty() {
                    Err("must not be empty".into())
                } else if text.chars().count() > MAX_ACTOR_CHARS {
                    Err(format!("must be at most {MAX_ACTOR_CHARS} characters"))
                } else {
                    Ok(Matcher::Actor(text.to_string()))
                }
            }
            Scope::Country => country_code(text)
                .map(Matcher::Country)
                .ok_or_else(|| "must be an ISO 3166-1 alpha-2 country code".into()),
        }
    }

    /// Parses a stored (canonical) value.
    pub fn stored(scope: &str, value: &str) -> Option<Matcher> {
        Matcher::parse(Scope::parse(scope)?, &Value::String(value.into())).ok()
    }

    pub fn scope(&self) -> Scope {
        match self {
            Matcher::Ip(_) => Scope::Ip,
            Matcher::Net(_) => Scope::Cidr,
            Matcher::Asn(_) => Scope::Asn,
            Matcher::Actor(_) => Scope::Actor,
            Matcher::Country(_) => Scope::Country,
        }
    }

    /// The stored, shown spelling: `203.0.113.0/24` (the network's first address), `AS13335`,
    /// `DE`, addresses in their standard form.
    pub fn canonical(&self) -> String {
        match self {
            Matcher::Ip(a) => a.to_string(),
            Matcher::Net(n) => n.to_string(),
            Matcher::Asn(n) => format!("AS{n}"),
            Matcher::Actor(a) | Matcher::Country(a) => a.clone(),
        }
    }

    fn matches(&self, keys: &AlertKeys) -> bool {
        match self {
            Matcher::Ip(a) => keys.ip == Some(*a),
            Matcher::Net(n) => keys.ip.is_some_and(|a| n.contains(&a)),
            Matcher::Asn(n) => keys.asn == Some(*n),
            Matcher::Actor(a) => keys.actor.as_deref() == Some(a.as_str()),
            Matcher::Country(c) => keys.country.as_deref() == Some(c.as_str()),
        }
    }
}

fn asn(n: u64) -> Result<Matcher, String> {
    match u32::try_from(n) {
        Ok(n) if n > 0 => Ok(Matcher::Asn(n)),
        _ => Err("must be an AS number from 1 to 4294967295".into()),
    }
}

/// What suppressions are matched against: an alert occurrence's source IP and actor, and its
/// trigger's ASN (`forensics.network.asn`) and country (`country_code`). A raw log line has no
/// enrichment, so only its IP and user can match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertKeys {
    pub ip: Option<IpAddr>,
    pub asn: Option<u32>,
    pub actor: Option<String>,
    pub country: Option<String>,
}

fn forensics_asn(forensics: &Value) -> Option<u32> {
    forensics
        .pointer("/network/asn")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

fn upper(code: Option<&str>) -> Option<String> {
    code.map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
}

fn actor(a: Option<&str>) -> Option<String> {
    a.filter(|a| !a.trim().is_empty()).map(str::to_string)
}

impl AlertKeys {
    /// The keys of one occurrence: the candidate's IP and actor (else the trigger's), the
    /// trigger's ASN and country.
    pub fn of(c: &AlertCandidate, trigger: &EventRecord) -> AlertKeys {
        AlertKeys {
            ip: c
                .source_ip
                .as_deref()
                .or(trigger.user_ip.as_deref())
                .and_then(ip),
            asn: trigger
                .enrichment
                .forensics
                .as_ref()
                .and_then(forensics_asn),
            actor: actor(c.actor_id.as_deref().or(trigger.actor_id.as_deref())),
            country: upper(trigger.enrichment.country_code.as_deref()),
        }
    }

    /// The keys of a stored alert: its source IP and actor, and its trigger's ASN and country
    /// (kept in `forensics` and `metadata.country`).
    pub fn of_alert(a: &AlertRow) -> AlertKeys {
        let forensics = a
            .forensics
            .as_deref()
            .and_then(|f| serde_json::from_str::<Value>(f).ok());
        let metadata = serde_json::from_str::<Value>(&a.metadata).unwrap_or(Value::Null);
        let country = metadata["country"].as_str().or_else(|| {
            forensics
                .as_ref()
                .and_then(|f| f.pointer("/location/country_code"))
                .and_then(Value::as_str)
        });
        AlertKeys {
            ip: a.source_ip.as_deref().and_then(ip),
            asn: forensics.as_ref().and_then(forensics_asn),
            actor: actor(a.actor_id.as_deref()),
            country: upper(country),
        }
    }
}

/// An active suppression as detection uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppression {
    pub id: String,
    pub matcher: Matcher,
    /// `None`: every alert type.
    pub alert_types: Option<Vec<String>>,
    pub expires_at: Option<UnixMs>,
}

impl Suppression {
    /// Whether it silences an occurrence of `alert_type` with `keys` triggered at `at`.
    pub fn applies(&self, alert_type: &str, keys: &AlertKeys, at: UnixMs) -> bool {
        self.expires_at.is_none_or(|end| at < end)
            && self
                .alert_types
                .as_ref()
                .is_none_or(|types| types.iter().any(|t| t == alert_type))
            && self.matcher.matches(keys)
    }
}

#[derive(Deserialize)]
struct LoadedRow {
    org_id: String,
    id: String,
    scope: String,
    value: String,
    alert_types: Option<String>,
    expires_at: Option<f64>,
}

/// The active suppressions of some organisations, oldest first per organisation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Suppressions {
    by_org: BTreeMap<String, Vec<Suppression>>,
}

impl Suppressions {
    /// No suppression at all.
    pub fn none() -> Suppressions {
        Suppressions::default()
    }

    /// Every suppression of `orgs` that is not deleted and had not expired by `since` (the
    /// batch's earliest trigger), oldest first: one statement for a whole batch.
    pub fn load_statement(orgs: &[&str], since: UnixMs) -> Statement {
        (
            format!(
                "SELECT org_id, id, scope, value, alert_types, expires_at FROM suppressions \
                 WHERE org_id IN (SELECT j.value FROM json_each(?1) j) AND deleted_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > ?2) \
                 ORDER BY org_id, created_at, id LIMIT {MAX_LOADED}"
            ),
            vec![
                SqlParam::Text(json!(orgs).to_string()),
                SqlParam::Number(since.0 as f64),
            ],
        )
    }

    /// From the rows of [`Suppressions::load_statement`]. A row whose value no longer parses
    /// (none is written so) is left out: its alerts are raised rather than lost.
    pub fn from_rows(rows: &[Value]) -> Suppressions {
        let mut out = Suppressions::none();
        for row in rows {
            let Ok(r) = LoadedRow::deserialize(row) else {
                continue;
            };
            let Some(matcher) = Matcher::stored(&r.scope, &r.value) else {
                continue;
            };
            let alert_types = r
                .alert_types
                .as_deref()
                .and_then(|t| serde_json::from_str::<Vec<String>>(t).ok());
            out.add(
                &r.org_id,
                Suppression {
                    id: r.id,
                    matcher,
                    alert_types,
                    expires_at: r.expires_at.map(|t| UnixMs(t as i64)),
                },
            );
        }
        out
    }

    /// Adds a suppression of `org` (after the ones it has).
    pub fn add(&mut self, org: &str, s: Suppression) {
        self.by_org.entry(org.to_string()).or_default().push(s);
    }

    pub fn is_empty(&self) -> bool {
        self.by_org.is_empty()
    }

    /// The id of the oldest suppression of the trigger's organisation that silences this
    /// occurrence, if any.
    pub fn matching(&self, c: &AlertCandidate, trigger: &EventRecord) -> Option<&str> {
        let list = self.by_org.get(&trigger.org_id.0)?;
        let keys = AlertKeys::of(c, trigger);
        list.iter()
            .find(|s| s.applies(c.alert_type.as_str(), &keys, trigger.created_at))
            .map(|s| s.id.as_str())
    }
}

/// A suppression id from a path (`sup_` and 32 hex digits, any case): anything else is an
/// unknown one.
pub fn path_id(raw: &str) -> Result<String, ApiError> {
    let id = raw.trim().to_ascii_lowercase();
    let valid =
        id.len() == 36 && id.starts_with("sup_") && id[4..].bytes().all(|b| b.is_ascii_hexdigit());
    valid
        .then_some(id)
        .ok_or_else(|| ApiError::not_found("Suppression"))
}

/// The 400 of a create past [`MAX_ACTIVE`].
pub fn limit_error() -> ApiError {
    ApiError::invalid(
        "suppressions",
        format!("an organisation has at most {MAX_ACTIVE} active suppressions: delete one or let one expire"),
    )
}

/// A parsed `GET /suppressions` query: `include=expired` also lists those that expired or were
/// deleted; `limit` bounds the list (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    pub ended: bool,
    pub limit: u32,
}

impl ListQuery {
    pub fn parse(params: &[(String, String)]) -> Result<ListQuery, ApiError> {
        let ended = match aliased(params, &["include"])?.map(str::trim) {
            None => false,
            Some("expired") => true,
            Some(_) => return Err(ApiError::invalid("include", "must be expired")),
        };
        let limit = parse_limit(
            aliased(params, &["limit"])?,
            LIST_DEFAULT_LIMIT,
            LIST_MAX_LIMIT,
        )?;
        Ok(ListQuery { ended, limit })
    }
}

/// A new suppression id.
pub fn new_id() -> String {
    format!("sup_{}", uuid::Uuid::new_v4().simple())
}

/// A validated suppression, ready to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSuppression {
    pub matcher: Matcher,
    pub alert_types: Option<Vec<String>>,
    pub reason: String,
    pub expires_at: Option<UnixMs>,
}

fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::invalid("body", "must be a JSON object")),
        Err(e) => Err(ApiError::invalid("body", format!("malformed JSON: {e}"))),
    }
}

fn text<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err("must be a string".into()),
    }
}

fn reason(raw: &str) -> Result<String, String> {
    let r = raw.trim();
    if r.is_empty() {
        return Err("must not be empty".into());
    }
    if r.chars().count() > MAX_REASON_CHARS {
        return Err(format!("must be at most {MAX_REASON_CHARS} characters"));
    }
    Ok(r.to_string())
}

fn expires_at(raw: &str, now: UnixMs) -> Result<UnixMs, String> {
    let at = DateTime::parse_from_rfc3339(raw.trim())
        .map(|d| UnixMs(d.timestamp_millis()))
        .map_err(|_| "must be an ISO-8601 (RFC 3339) timestamp".to_string())?;
    if at <= now {
        return Err("must be in the future".into());
    }
    Ok(at)
}

/// Collects field problems: `prefix` names the object (`suppress.` inside a PATCH).
struct Problems<'a> {
    prefix: &'a str,
    errors: Vec<FieldError>,
}

impl Problems<'_> {
    fn keep<T>(&mut self, field: &str, r: Result<T, String>) -> Option<T> {
        r.map_err(|m| {
            self.errors
                .push(FieldError::new(format!("{}{field}", self.prefix), m))
        })
        .ok()
    }
}

impl NewSuppression {
    /// Parses and validates a `POST /suppressions` body, naming every bad field. Members it
    /// does not know are ignored.
    pub fn parse(body: &[u8], now: UnixMs) -> Result<NewSuppression, ApiError> {
        let obj = object(body)?;
        let mut p = Problems {
            prefix: "",
            errors: Vec::new(),
        };
        let scope = p.keep(
            "scope",
            text(&obj, "scope").and_then(|s| {
                s.ok_or_else(|| "is required".to_string()).and_then(|s| {
                    Scope::parse(s)
                        .ok_or_else(|| "must be ip, cidr, asn, actor or country".to_string())
                })
            }),
        );
        let matcher = scope.and_then(|scope| {
            let raw = obj.get("value").filter(|v| !v.is_null());
            p.keep(
                "value",
                raw.ok_or_else(|| "is required".to_string())
                    .and_then(|v| Matcher::parse(scope, v)),
            )
        });
        let types = p.keep(
            "alert_types",
            alert_types(obj.get("alert_types").unwrap_or(&Value::Null)),
        );
        let why = p.keep(
            "reason",
            text(&obj, "reason")
                .and_then(|r| r.ok_or_else(|| "is required".to_string()))
                .and_then(reason),
        );
        let until = p.keep(
            "expires_at",
            text(&obj, "expires_at").and_then(|e| e.map(|e| expires_at(e, now)).transpose()),
        );
        match (matcher, types, why, until) {
            (Some(matcher), Some(alert_types), Some(reason), Some(expires_at))
                if p.errors.is_empty() =>
            {
                Ok(NewSuppression {
                    matcher,
                    alert_types,
                    reason,
                    expires_at,
                })
            }
            _ => Err(ApiError::validation(p.errors)),
        }
    }
}

/// The `suppress` member of `PATCH /alerts/:id` with `mark_safe`: a suppression whose value is
/// taken from the alert (docs/api.md §12.2).
#[derive(Debug, Clone, PartialEq)]
pub struct SuppressRequest {
    pub scope: Scope,
    /// Only for `cidr`: the network, which must contain the alert's source IP.
    pub value: Option<Value>,
    /// Absent: the alert's own type; `Some(None)`: every type.
    pub alert_types: Option<Option<Vec<String>>>,
    pub reason: Option<String>,
    /// Checked against the clock when the suppression is made ([`SuppressRequest::for_alert`]).
    pub expires_at: Option<String>,
}

impl SuppressRequest {
    /// Parses the `suppress` object; problems name `suppress.<field>`.
    pub fn parse(v: &Value) -> Result<SuppressRequest, ApiError> {
        let Value::Object(obj) = v else {
            return Err(ApiError::invalid("suppress", "must be an object"));
        };
        let mut p = Problems {
            prefix: "suppress.",
            errors: Vec::new(),
        };
        let scope = p.keep(
            "scope",
            text(obj, "scope").and_then(|s| {
                s.ok_or_else(|| "is required".to_string()).and_then(|s| {
                    Scope::parse(s)
                        .ok_or_else(|| "must be ip, cidr, asn, actor or country".to_string())
                })
            }),
        );
        let value = obj.get("value").filter(|v| !v.is_null()).cloned();
        if let Some(scope) = scope {
            match (&value, scope) {
                (None, Scope::Cidr) => {
                    p.keep::<()>("value", Err("is required for cidr".into()));
                }
                (Some(_), s) if s != Scope::Cidr => {
                    p.keep::<()>(
                        "value",
                        Err("only for cidr: other scopes take the value from the alert".into()),
                    );
                }
                _ => {}
            }
        }
        let types = match obj.get("alert_types") {
            None => Some(None),
            Some(v) => p.keep("alert_types", alert_types(v)).map(Some),
        };
        let why = p.keep(
            "reason",
            text(obj, "reason").and_then(|r| r.map(reason).transpose()),
        );
        let until = p.keep(
            "expires_at",
            text(obj, "expires_at").map(|e| e.map(str::to_string)),
        );
        match (scope, types, why, until) {
            (Some(scope), Some(alert_types), Some(reason), Some(expires_at))
                if p.errors.is_empty() =>
            {
                Ok(SuppressRequest {
                    scope,
                    value,
                    alert_types,
                    reason,
                    expires_at,
                })
            }
            _ => Err(ApiError::validation(p.errors)),
        }
    }

    /// The suppression for `alert`: its source IP, actor, ASN or country (or, for `cidr`, the
    /// given network, which must contain the alert's source IP). 400 naming `suppress.scope`
    /// when the alert has no such value.
    pub fn for_alert(&self, alert: &AlertRow, now: UnixMs) -> Result<NewSuppression, ApiError> {
        let keys = AlertKeys::of_alert(alert);
        let missing = |what: &str| {
            ApiError::invalid(
                "suppress.scope",
                format!("the alert has no {what} to suppress"),
            )
        };
        let matcher = match self.scope {
            Scope::Ip => Matcher::Ip(keys.ip.ok_or_else(|| missing("source IP"))?),
            Scope::Cidr => {
                let address = keys.ip.ok_or_else(|| missing("source IP"))?;
                let net = Matcher::parse(Scope::Cidr, self.value.as_ref().unwrap_or(&Value::Null))
                    .map_err(|m| ApiError::invalid("suppress.value", m))?;
                if !net.matches(&AlertKeys {
                    ip: Some(address),
                    ..AlertKeys::default()
                }) {
                    return Err(ApiError::invalid(
                        "suppress.value",
                        "must contain the alert's source IP",
                    ));
                }
                net
            }
            Scope::Asn => Matcher::Asn(keys.asn.ok_or_else(|| missing("ASN"))?),
            Scope::Actor => Matcher::Actor(keys.actor.ok_or_else(|| missing("actor"))?),
            Scope::Country => Matcher::Country(
                keys.country
                    .and_then(|c| country_code(&c))
                    .ok_or_else(|| missing("country"))?,
            ),
        };
        let expires_at = self
            .expires_at
            .as_deref()
            .map(|e| expires_at(e, now))
            .transpose()
            .map_err(|m| ApiError::invalid("suppress.expires_at", m))?;
        Ok(NewSuppression {
            matcher,
            alert_types: self
                .alert_types
                .clone()
                .unwrap_or_else(|| Some(vec![alert.alert_type.clone()])),
            reason: self
                .reason
                .clone()
                .unwrap_or_else(|| format!("Marked safe from alert {}", alert.id)),
            expires_at,
        })
    }
}

/// A `suppressions` row as D1 returns it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SuppressionRow {
    pub id: String,
    pub org_id: String,
    pub scope: String,
    pub value: String,
    pub alert_types: Option<String>,
    pub reason: String,
    pub created_by: String,
    pub created_at: f64,
    pub expires_at: Option<f64>,
    pub deleted_at: Option<f64>,
    pub deleted_by: Option<String>,
    pub ended_at: Option<f64>,
}

impl SuppressionRow {
    /// `active`, `expired` or `deleted`, as of `now`.
    pub fn status(&self, now: UnixMs) -> &'static str {
        if self.deleted_at.is_some() {
            "deleted"
        } else if self.expires_at.is_some_and(|e| e as i64 <= now.0) {
            "expired"
        } else {
            "active"
        }
    }

    /// The Suppression object of docs/api.md §12.1.
    pub fn to_api(&self, now: UnixMs) -> Value {
        let time = |t: Option<f64>| t.map(|t| UnixMs(t as i64).iso_millis());
        json!({
            "id": self.id,
            "scope": self.scope,
            "value": self.value,
            "alert_types": self.alert_types.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()),
            "reason": self.reason,
            "status": self.status(now),
            "created_by": self.created_by,
            "created_at": UnixMs(self.created_at as i64).iso_millis(),
            "expires_at": time(self.expires_at),
            "deleted_at": time(self.deleted_at),
            "deleted_by": self.deleted_by,
        })
    }
}

const COLUMNS: &str = "id, org_id, scope, value, alert_types, reason, created_by, created_at, \
expires_at, deleted_at, deleted_by, ended_at";

/// Shown while active, and after it ended until retention purges it.
const VISIBLE: &str = "(ended_at IS NULL OR ended_at >= ?3)";

/// Inserts a suppression unless the organisation already has [`MAX_ACTIVE`] active ones;
/// answers the new id, or no row in that case.
pub fn insert_statement(
    org: &str,
    id: &str,
    s: &NewSuppression,
    created_by: &str,
    now: UnixMs,
) -> Statement {
    let expires = s
        .expires_at
        .map_or(SqlParam::Null, |e| SqlParam::Number(e.0 as f64));
    (
        format!(
            "INSERT INTO suppressions ({COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, NULL, ?9 \
             WHERE (SELECT count(*) FROM suppressions WHERE org_id = ?2 AND deleted_at IS NULL \
             AND (expires_at IS NULL OR expires_at > ?8)) < {MAX_ACTIVE} RETURNING id"
        ),
        vec![
            SqlParam::Text(id.into()),
            SqlParam::Text(org.into()),
            SqlParam::Text(s.matcher.scope().as_str().into()),
            SqlParam::Text(s.matcher.canonical()),
            s.alert_types
                .as_ref()
                .map_or(SqlParam::Null, |t| SqlParam::Text(json!(t).to_string())),
            SqlParam::Text(s.reason.clone()),
            SqlParam::Text(created_by.into()),
            SqlParam::Number(now.0 as f64),
            expires,
        ],
    )
}

/// The organisation's suppressions, newest first: the active ones, or with `ended` also those
/// that expired or were deleted (inside retention).
///
/// The active ones are found through `suppressions_org_ended` (at most [`MAX_ACTIVE`] rows),
/// not by walking every ended one of the retention window newest first: an active suppression
/// has no `ended_at` yet or one still ahead (it is the earlier of `expires_at` and `deleted_at`),
/// so the two arms below add only what the activity test implies, and the index is named
/// because without statistics SQLite prefers `suppressions_org_created`'s order.
pub fn list_statement(
    org: &str,
    ended: bool,
    now: UnixMs,
    cutoff: UnixMs,
    limit: u32,
) -> Statement {
    let order = format!("ORDER BY created_at DESC, id DESC LIMIT {limit}");
    if ended {
        // Everything visible ([`VISIBLE`] with the cutoff as ?2): newest first, up to the page.
        return (
            format!(
                "SELECT {COLUMNS} FROM suppressions WHERE org_id = ?1 \
                 AND (ended_at IS NULL OR ended_at >= ?2) {order}"
            ),
            vec![
                SqlParam::Text(org.into()),
                SqlParam::Number(cutoff.0 as f64),
            ],
        );
    }
    let active = "deleted_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)";
    let arm = |ended_at: &str| {
        format!(
            "SELECT {COLUMNS} FROM suppressions INDEXED BY suppressions_org_ended \
             WHERE org_id = ?1 AND {ended_at} AND {VISIBLE} AND {active}"
        )
    };
    (
        format!(
            "{} UNION ALL {} {order}",
            arm("ended_at IS NULL"),
            arm("ended_at > ?2")
        ),
        vec![
            SqlParam::Text(org.into()),
            SqlParam::Number(now.0 as f64),
            SqlParam::Number(cutoff.0 as f64),
        ],
    )
}

/// One suppression of the organisation, in whatever state, inside retention.
pub fn get_statement(org: &str, id: &str, cutoff: UnixMs) -> Statement {
    (
        format!("SELECT {COLUMNS} FROM suppressions WHERE id = ?1 AND org_id = ?2 AND {VISIBLE}"),
        vec![
            SqlParam::Text(id.into()),
            SqlParam::Text(org.into()),
            SqlParam::Number(cutoff.0 as f64),
        ],
    )
}

/// Ends a suppression now (it stops applying; the row stays, with who deleted it); answers
/// its id, or no row when it is unknown, foreign, purged or already deleted.
pub fn delete_statement(
    org: &str,
    id: &str,
    deleted_by: &str,
    now: UnixMs,
    cutoff: UnixMs,
) -> Statement {
    (
        format!(
            "UPDATE suppressions SET deleted_at = ?4, deleted_by = ?5, \
             ended_at = CASE WHEN ended_at IS NULL OR ended_at > ?4 THEN ?4 ELSE ended_at END \
             WHERE id = ?1 AND org_id = ?2 AND {VISIBLE} AND deleted_at IS NULL RETURNING id"
        ),
        vec![
            SqlParam::Text(id.into()),
            SqlParam::Text(org.into()),
            SqlParam::Number(cutoff.0 as f64),
            SqlParam::Number(now.0 as f64),
            SqlParam::Text(deleted_by.into()),
        ],
    )
}

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "suppress_tests.rs"]
mod tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "suppress_sql_tests.rs"]
mod sql_tests;
