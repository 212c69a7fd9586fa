//! Destinations: where an organisation's alerts go (docs/api.md §11). The API's bodies are
//! validated here — every problem a 400 naming its field — and every statement is scoped by
//! organisation.

use super::outbound::check_url;
use crate::alerts::{alert_type_list, parse_alert_severity};
use crate::api::error::{ApiError, FieldError};
use crate::api::sql::{SqlParam, Statement};
use crate::detect::AlertSeverity;
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Most destinations per organisation.
pub const MAX_DESTINATIONS: u32 = 20;
/// Longest name.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest email address.
pub const MAX_ADDRESS_CHARS: usize = 254;

/// The kinds of destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Webhook,
    Slack,
    PagerDuty,
    Email,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Slack => "slack",
            Kind::PagerDuty => "pagerduty",
            Kind::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Webhook, Kind::Slack, Kind::PagerDuty, Kind::Email]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// The body field that names where this kind sends.
    pub fn target_field(self) -> &'static str {
        match self {
            Kind::Webhook | Kind::Slack => "url",
            Kind::PagerDuty => "routing_key",
            Kind::Email => "address",
        }
    }
}

/// What the deployment allows: its `DELIVERY_ALLOW_HTTP_LOOPBACK` var, and whether the
/// `send_email` binding is configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allowed {
    pub http_loopback: bool,
    pub email: bool,
}

/// A validated `POST /destinations` body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDestination {
    pub name: String,
    pub kind: Kind,
    pub target: String,
    pub min_severity: AlertSeverity,
    pub alert_types: Option<Vec<String>>,
    pub enabled: bool,
}

/// A validated `PATCH /destinations/:id` body: only what it names changes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DestinationPatch {
    pub name: Option<String>,
    pub target: Option<String>,
    pub min_severity: Option<AlertSeverity>,
    /// `Some(None)` clears the filter (every type).
    pub alert_types: Option<Option<Vec<String>>>,
    pub enabled: Option<bool>,
}

fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::invalid("body", "must be a JSON object")),
        Err(e) => Err(ApiError::invalid("body", format!("malformed JSON: {e}"))),
    }
}

fn string<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, FieldError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(FieldError::new(field, "must be a string")),
    }
}

fn name(raw: &str) -> Result<String, FieldError> {
    let n = raw.trim();
    if n.is_empty() {
        return Err(FieldError::new("name", "must not be empty"));
    }
    if n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control) {
        return Err(FieldError::new(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters, without control characters"),
        ));
    }
    Ok(n.to_string())
}

/// The stored target for `kind`, from the raw field value.
fn target(kind: Kind, raw: &str, allowed: Allowed) -> Result<String, FieldError> {
    let field = kind.target_field();
    match kind {
        Kind::Webhook | Kind::Slack => check_url(raw, allowed.http_loopback)
            .map(|u| u.to_string())
            .map_err(|r| FieldError::new(field, r.0)),
        Kind::PagerDuty => {
            let key = raw.trim();
            if key.len() == 32 && key.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok(key.to_string())
            } else {
                Err(FieldError::new(
                    field,
                    "must be a PagerDuty Events API v2 integration key (32 letters and digits)",
                ))
            }
        }
        Kind::Email => {
            if !allowed.email {
                return Err(FieldError::new(
                    "kind",
                    "email needs the send_email binding EMAIL and the EMAIL_FROM var (README)",
                ));
            }
            let a = raw.trim();
            let valid = a.chars().count() <= MAX_ADDRESS_CHARS
                && !a
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
                && a.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && domain.contains('.') && !domain.contains('@')
                });
            if valid {
                Ok(a.to_string())
            } else {
                Err(FieldError::new(field, "must be one email address"))
            }
        }
    }
}

fn severity(raw: &str) -> Result<AlertSeverity, FieldError> {
    parse_alert_severity(raw.trim())
        .ok_or_else(|| FieldError::new("min_severity", "must be low, medium, high or critical"))
}

fn alert_types(v: &Value) -> Result<Option<Vec<String>>, FieldError> {
    alert_type_list(v).map_err(|m| FieldError::new("alert_types", m))
}

fn enabled(v: &Value) -> Result<bool, FieldError> {
    v.as_bool()
        .ok_or_else(|| FieldError::new("enabled", "must be true or false"))
}

/// Fields that belong to another kind than `kind`.
fn foreign_fields(obj: &Map<String, Value>, kind: Kind) -> Vec<FieldError> {
    ["url", "routing_key", "address"]
        .into_iter()
        .filter(|f| *f != kind.target_field() && obj.get(*f).is_some_and(|v| !v.is_null()))
        .map(|f| {
            FieldError::new(
                f,
                format!("does not apply to a {} destination", kind.as_str()),
            )
        })
        .collect()
}

/// The value of `r`, or `None` with its problem added to `errors`.
fn keep<T>(errors: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

/// A field that must be present.
fn required<T>(field: &str, r: Result<Option<T>, FieldError>) -> Result<T, FieldError> {
    r?.ok_or_else(|| FieldError::new(field, "is required"))
}

impl NewDestination {
    /// Parses and validates a `POST /destinations` body, naming every bad field.
    pub fn parse(body: &[u8], allowed: Allowed) -> Result<NewDestination, ApiError> {
        let obj = object(body)?;
        let mut errors = Vec::new();
        let name = keep(
            &mut errors,
            required("name", string(&obj, "name")).and_then(name),
        );
        let kind = keep(
            &mut errors,
            required("kind", string(&obj, "kind")).and_then(|k| {
                Kind::parse(k.trim()).ok_or_else(|| {
                    FieldError::new("kind", "must be webhook, slack, pagerduty or email")
                })
            }),
        );
        let target = kind.and_then(|kind| {
            let field = kind.target_field();
            let raw = string(&obj, field).and_then(|t| {
                t.ok_or_else(|| {
                    FieldError::new(field, format!("is required for {}", kind.as_str()))
                })
            });
            let t = keep(&mut errors, raw.and_then(|raw| target(kind, raw, allowed)));
            errors.extend(foreign_fields(&obj, kind));
            t
        });
        let min_severity = keep(
            &mut errors,
            string(&obj, "min_severity").and_then(|s| s.map(severity).transpose()),
        );
        let types = keep(
            &mut errors,
            alert_types(obj.get("alert_types").unwrap_or(&Value::Null)),
        );
        let on = match obj.get("enabled").filter(|v| !v.is_null()) {
            Some(v) => keep(&mut errors, enabled(v)),
            None => Some(true),
        };
        match (name, kind, target, min_severity, types, on) {
            (Some(name), Some(kind), Some(target), Some(min), Some(alert_types), Some(enabled))
                if errors.is_empty() =>
            {
                Ok(NewDestination {
                    name,
                    kind,
                    target,
                    min_severity: min.unwrap_or(AlertSeverity::Low),
                    alert_types,
                    enabled,
                })
            }
            _ => Err(ApiError::validation(errors)),
        }
    }
}

impl DestinationPatch {
    /// Parses a `PATCH /destinations/:id` body for a destination of `kind` (its kind cannot
    /// change).
    pub fn parse(body: &[u8], kind: Kind, allowed: Allowed) -> Result<DestinationPatch, ApiError> {
        let obj = object(body)?;
        let mut errors = Vec::new();
        let mut patch = DestinationPatch::default();
        if let Some(k) = obj.get("kind").filter(|v| !v.is_null()) {
            if k.as_str() != Some(kind.as_str()) {
                errors.push(FieldError::new(
                    "kind",
                    "cannot change; create another destination",
                ));
            }
        }
        let name = string(&obj, "name").and_then(|n| n.map(name).transpose());
        patch.name = keep(&mut errors, name).flatten();
        let field = kind.target_field();
        let target =
            string(&obj, field).and_then(|t| t.map(|raw| target(kind, raw, allowed)).transpose());
        patch.target = keep(&mut errors, target).flatten();
        errors.extend(foreign_fields(&obj, kind));
        let min = string(&obj, "min_severity").and_then(|s| s.map(severity).transpose());
        patch.min_severity = keep(&mut errors, min).flatten();
        if let Some(v) = obj.get("alert_types") {
            patch.alert_types = keep(&mut errors, alert_types(v));
        }
        if let Some(v) = obj.get("enabled").filter(|v| !v.is_null()) {
            patch.enabled = keep(&mut errors, enabled(v));
        }
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

/// A `destinations` row as D1 returns it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct DestinationRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub kind: String,
    pub target: String,
    pub secret: Option<String>,
    pub min_severity: String,
    pub alert_types: Option<String>,
    pub enabled: f64,
    pub created_at: f64,
    pub updated_at: f64,
}

/// All but the last four characters hidden: for secrets shown back in lists.
fn masked(s: &str) -> String {
    let n = s.chars().count();
    let tail: String = s.chars().skip(n.saturating_sub(4)).collect();
    format!("…{tail}")
}

impl DestinationRow {
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.kind)
    }

    /// The API object. A Slack URL and a PagerDuty key are credentials: only their last four
    /// characters are shown; a webhook's signing secret never is (it is shown once, on
    /// creation and rotation).
    pub fn to_api(&self) -> Value {
        let kind = self.kind();
        let mut v = json!({
            "id": self.id, "name": self.name, "kind": self.kind,
            "min_severity": self.min_severity,
            "alert_types": self.alert_types.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()),
            "enabled": self.enabled != 0.0,
            "created_at": UnixMs(self.created_at as i64).iso_millis(),
            "updated_at": UnixMs(self.updated_at as i64).iso_millis(),
        });
        let (field, shown) = match kind {
            Some(Kind::Slack) => {
                let origin = url::Url::parse(&self.target)
                    .map(|u| format!("{}://{}/", u.scheme(), u.host_str().unwrap_or_default()))
                    .unwrap_or_default();
                ("url", format!("{origin}{}", masked(&self.target)))
            }
            Some(Kind::PagerDuty) => ("routing_key", masked(&self.target)),
            Some(k) => (k.target_field(), self.target.clone()),
            None => ("target", self.target.clone()),
        };
        v[field] = json!(shown);
        if kind == Some(Kind::Webhook) {
            v["signing"] = json!("standard-webhooks-v1");
        }
        v
    }
}

const COLUMNS: &str =
    "id, org_id, name, kind, target, secret, min_severity, alert_types, enabled, \
created_at, updated_at";

/// Inserts a destination unless the organisation already has [`MAX_DESTINATIONS`]; the run
/// changes no row in that case.
pub fn insert_statement(
    org: &str,
    id: &str,
    d: &NewDestination,
    secret: Option<&str>,
    now: UnixMs,
) -> Statement {
    (
        format!(
            "INSERT INTO destinations ({COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10 \
             WHERE (SELECT count(*) FROM destinations WHERE org_id = ?2) < {MAX_DESTINATIONS}"
        ),
        vec![
            SqlParam::Text(id.into()),
            SqlParam::Text(org.into()),
            SqlParam::Text(d.name.clone()),
            SqlParam::Text(d.kind.as_str().into()),
            SqlParam::Text(d.target.clone()),
            secret.map_or(SqlParam::Null, |s| SqlParam::Text(s.into())),
            SqlParam::Text(d.min_severity.as_str().into()),
            d.alert_types
                .as_ref()
                .map_or(SqlParam::Null, |t| SqlParam::Text(json!(t).to_string())),
            SqlParam::Number(if d.enabled { 1.0 } else { 0.0 }),
            SqlParam::Number(now.0 as f64),
        ],
    )
}

/// Every destination of the organisation, oldest first.
pub fn list_statement(org: &str) -> Statement {
    (
        format!("SELECT {COLUMNS} FROM destinations WHERE org_id = ?1 ORDER BY created_at, id"),
        vec![SqlParam::Text(org.into())],
    )
}

/// One destination of the organisation.
pub fn get_statement(org: &str, id: &str) -> Statement {
    (
        format!("SELECT {COLUMNS} FROM destinations WHERE id = ?1 AND org_id = ?2"),
        vec![SqlParam::Text(id.into()), SqlParam::Text(org.into())],
    )
}

/// Applies a patch (only the fields it names).
pub fn update_statement(org: &str, id: &str, p: &DestinationPatch, now: UnixMs) -> Statement {
    let opt = |v: Option<String>| v.map_or(SqlParam::Null, SqlParam::Text);
    let (types_given, types) = match &p.alert_types {
        None => (0.0, SqlParam::Null),
        Some(None) => (1.0, SqlParam::Null),
        Some(Some(t)) => (1.0, SqlParam::Text(json!(t).to_string())),
    };
    (
        "UPDATE destinations SET name = coalesce(?3, name), target = coalesce(?4, target), \
         min_severity = coalesce(?5, min_severity), \
         alert_types = CASE WHEN ?6 = 1 THEN ?7 ELSE alert_types END, \
         enabled = coalesce(?8, enabled), updated_at = ?9 WHERE id = ?1 AND org_id = ?2"
            .into(),
        vec![
            SqlParam::Text(id.into()),
            SqlParam::Text(org.into()),
            opt(p.name.clone()),
            opt(p.target.clone()),
            opt(p.min_severity.map(|s| s.as_str().to_string())),
            SqlParam::Number(types_given),
            types,
            p.enabled.map_or(SqlParam::Null, |e| {
                SqlParam::Number(if e { 1.0 } else { 0.0 })
            }),
            SqlParam::Number(now.0 as f64),
        ],
    )
}

/// Replaces a webhook's signing secret.
pub fn rotate_statement(org: &str, id: &str, secret: &str, now: UnixMs) -> Statement {
    (
        "UPDATE destinations SET secret = ?3, updated_at = ?4 WHERE id = ?1 AND org_id = ?2 \
         AND kind = 'webhook'"
            .into(),
        vec![
            SqlParam::Text(id.into()),
            SqlParam::Text(org.into()),
            SqlParam::Text(secret.into()),
            SqlParam::Number(now.0 as f64),
        ],
    )
}

/// Deletes a destination (its delivery log stays until retention removes it).
pub fn delete_statement(org: &str, id: &str) -> Statement {
    (
        "DELETE FROM destinations WHERE id = ?1 AND org_id = ?2".into(),
        vec![SqlParam::Text(id.into()), SqlParam::Text(org.into())],
    )
}

#[cfg(test)]
#[path = "destination_tests.rs"]
mod tests;
