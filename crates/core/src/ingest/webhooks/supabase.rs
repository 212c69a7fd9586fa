//! Supabase database webhooks: a change to `auth.users` or `auth.audit_log_entries` becomes the
//! events it means, any other change one custom event (docs/integrations.md §2). Secrets in the
//! rows never reach the stored metadata.

use super::event::{actor, build, custom, lookup, scalar, Raw, MAX_TEXT};
use crate::api::error::ApiError;
use crate::text::shorten;
use serde_json::{json, Map, Value};

/// Supabase Auth audit-log actions by the event each becomes: a table of
/// docs/integrations.md §2. Any other action becomes `supabase.<action>`.
pub const AUDIT_EVENTS: &[(&str, &[&str])] = &[
    ("auth.login_success", &["login"]),
    ("auth.logout", &["logout"]),
    ("admin.user_created", &["user_signedup"]),
    ("admin.user_deleted", &["user_deleted"]),
    (
        "auth.password_reset",
        &["user_recovery_requested", "user_updated_password"],
    ),
    ("auth.token_refreshed", &["token_refreshed"]),
    ("auth.token_revoked", &["token_revoked"]),
    ("auth.user_updated", &["user_modified"]),
    ("auth.invite_accepted", &["invite_accepted"]),
    ("admin.user_invited", &["user_invited"]),
    ("auth.repeated_signup", &["user_repeated_signup"]),
    (
        "auth.email_verification_sent",
        &["user_confirmation_requested"],
    ),
    (
        "auth.reauthentication_requested",
        &["user_reauthenticate_requested"],
    ),
    ("auth.mfa_enrollment_started", &["factor_in_progress"]),
    (
        "auth.mfa_disabled",
        &["factor_unenrolled", "factor_deleted"],
    ),
    ("auth.mfa_challenge", &["challenge_created"]),
    ("auth.mfa_verified", &["mfa_code_login"]),
];

/// How an `auth.users` column moved in an UPDATE (both rows must hold it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Any different value.
    Changed,
    /// To a different, non-null value.
    Set,
    /// From a value to null.
    Cleared,
    /// From null to a value.
    Newly,
    /// To a later time (or from null).
    Later,
}

/// The `auth.users` UPDATE rules, in priority order: each that holds adds its event once
/// (docs/integrations.md §2); none holding gives `auth.user_updated`.
pub const USER_UPDATES: &[(&str, Change, &str)] = &[
    ("admin.user_suspended", Change::Set, "banned_until"),
    ("admin.user_unsuspended", Change::Cleared, "banned_until"),
    ("admin.user_deleted", Change::Set, "deleted_at"),
    ("authz.role_changed", Change::Changed, "role"),
    ("authz.role_changed", Change::Changed, "is_super_admin"),
    ("auth.password_reset", Change::Changed, "encrypted_password"),
    ("auth.password_reset", Change::Set, "recovery_sent_at"),
    ("auth.email_changed", Change::Changed, "email"),
    ("auth.phone_changed", Change::Changed, "phone"),
    ("auth.login_success", Change::Later, "last_sign_in_at"),
    ("auth.email_verified", Change::Newly, "email_confirmed_at"),
];

/// Each change of a Supabase database webhook body as `/collect` event objects: one, or for an
/// `auth.users` UPDATE one per change that matters. Errors: 400 naming the field at fault.
pub fn events(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    let root: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("malformed JSON: {e}")))?;
    let Value::Object(root) = root else {
        return Err(ApiError::invalid(
            "body",
            "must be a JSON object (a database webhook)",
        ));
    };
    let kind = required(&root, "type")?;
    let table = required(&root, "table")?;
    let schema = scalar(root.get("schema")).unwrap_or_default();
    let record = row(&root, "record")?;
    let old = row(&root, "old_record")?;
    let upper = kind.to_ascii_uppercase();
    let needs_row = matches!(upper.as_str(), "INSERT" | "UPDATE" | "DELETE");
    if needs_row && record.is_none() && old.is_none() {
        return Err(ApiError::invalid(
            "record",
            format!("a {upper} needs record or old_record"),
        ));
    }

    let mut metadata = Map::new();
    metadata.insert("source".into(), "supabase".into());
    metadata.insert("supabase_type".into(), shorten(&kind, MAX_TEXT).into());
    metadata.insert("table".into(), shorten(&table, MAX_TEXT).into());
    metadata.insert("schema".into(), shorten(&schema, MAX_TEXT).into());
    let generic = || vec![custom("supabase", &format!("{table}_{kind}"))];
    let (names, actor, ip) = match (schema.as_str(), table.as_str(), upper.as_str()) {
        ("auth", "audit_log_entries", "INSERT") => {
            let (name, actor) = audit(record.unwrap_or(&Map::new()), &mut metadata);
            (vec![name], actor, record.and_then(|r| r.get("ip_address")))
        }
        ("auth", "users", "INSERT") => (
            vec!["admin.user_created".into()],
            row_actor(record, old),
            None,
        ),
        ("auth", "users", "DELETE") => (
            vec!["admin.user_deleted".into()],
            row_actor(old, record),
            None,
        ),
        ("auth", "users", "UPDATE") => {
            let changed = changed_columns(record, old);
            let names = update_names(record, old);
            metadata.insert("changed".into(), changed.into());
            (names, row_actor(record, old), None)
        }
        _ => (generic(), row_actor(record, old), None),
    };

    let mut raw = json!({ "record": record, "old_record": old });
    redact(&mut raw);
    Ok(names
        .iter()
        .map(|name| {
            let raw = Raw {
                key: "supabase",
                value: raw.clone(),
                depth: 1,
            };
            build(name, actor.clone(), ip, metadata.clone(), raw)
        })
        .collect())
}

/// A non-blank string member, else a 400 naming it.
fn required(root: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match root.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::String(_) | Value::Null) | None => Err(ApiError::invalid(field, "is required")),
        Some(_) => Err(ApiError::invalid(field, "must be a string")),
    }
}

/// `record` or `old_record`: an object, or `None` when null or absent.
fn row<'a>(
    root: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match root.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(ApiError::invalid(field, "must be an object or null")),
    }
}

/// The actor a row describes: its `id` and `email`, from `first`, else `second`.
fn row_actor(
    first: Option<&Map<String, Value>>,
    second: Option<&Map<String, Value>>,
) -> Option<Value> {
    let field = |key| {
        [first, second]
            .into_iter()
            .flatten()
            .find_map(|r| scalar(r.get(key)))
    };
    actor(field("id"), field("email"))
}

/// The name and actor of an audit-log row (its `payload` an object or a JSON string), adding
/// the entry's action, log type, id and time to `metadata`.
fn audit(
    record: &Map<String, Value>,
    metadata: &mut Map<String, Value>,
) -> (String, Option<Value>) {
    let payload = match record.get("payload") {
        Some(Value::Object(p)) => p.clone(),
        Some(Value::String(s)) => match serde_json::from_str(s) {
            Ok(Value::Object(p)) => p,
            _ => Map::new(),
        },
        _ => Map::new(),
    };
    let action = scalar(payload.get("action")).unwrap_or_default();
    for (key, value) in [
        ("action", Some(action.clone())),
        ("log_type", scalar(payload.get("log_type"))),
        ("audit_id", scalar(record.get("id"))),
        ("created_at", scalar(record.get("created_at"))),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            metadata.insert(key.into(), shorten(&v, MAX_TEXT).into());
        }
    }
    let name = match lookup(AUDIT_EVENTS, &action) {
        Some(name) => name.to_string(),
        None => custom("supabase", &action),
    };
    let actor = actor(
        scalar(payload.get("actor_id")),
        scalar(payload.get("actor_username")),
    );
    (name, actor)
}

/// The events of an `auth.users` UPDATE, by [`USER_UPDATES`]; without the old row nothing
/// counts as changed.
fn update_names(new: Option<&Map<String, Value>>, old: Option<&Map<String, Value>>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let (Some(new), Some(old)) = (new, old) else {
        return vec!["auth.user_updated".into()];
    };
    for &(name, change, column) in USER_UPDATES {
        if moved(change, new.get(column), old.get(column)) && !names.iter().any(|n| n == name) {
            names.push(name.into());
        }
    }
    if names.is_empty() {
        names.push("auth.user_updated".into());
    }
    names
}

/// Whether a column went from `old` to `new` as `change` says.
fn moved(change: Change, new: Option<&Value>, old: Option<&Value>) -> bool {
    let (Some(new), Some(old)) = (new, old) else {
        return false;
    };
    if new == old {
        return false;
    }
    match change {
        Change::Changed => true,
        Change::Set => !new.is_null(),
        Change::Cleared => new.is_null(),
        Change::Newly => old.is_null() && !new.is_null(),
        Change::Later => match (new, old) {
            (Value::String(n), Value::Null) => !n.is_empty(),
            (Value::String(n), Value::String(o)) => later(n, o),
            _ => false,
        },
    }
}

/// Whether time `a` is after `b`: as RFC 3339 instants, else as text.
fn later(a: &str, b: &str) -> bool {
    use chrono::DateTime;
    match (
        DateTime::parse_from_rfc3339(a),
        DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

/// The columns both rows hold with different values (names only), at most 64.
fn changed_columns(
    new: Option<&Map<String, Value>>,
    old: Option<&Map<String, Value>>,
) -> Vec<Value> {
    let (Some(new), Some(old)) = (new, old) else {
        return Vec::new();
    };
    new.iter()
        .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
        .map(|(k, _)| Value::String(shorten(k, 100)))
        .take(64)
        .collect()
}

/// Whether a column holds a secret: a password, a token or a secret by its name.
fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k == "password"
        || k.ends_with("_password")
        || k == "token"
        || k.starts_with("token_")
        || k.ends_with("_token")
        || k.contains("_token_")
        || k == "secret"
        || k.ends_with("_secret")
}

/// Replaces every non-null secret value, at any depth, by `"[REDACTED]"`.
fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if is_secret(k) && !v.is_null() {
                    *v = "[REDACTED]".into();
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
#[path = "supabase_tests.rs"]
mod tests;
