//! The key API (docs/api.md §5.10): new keys and their ids, what `POST /keys` and
//! `POST /keys/:id/rotate` accept, what `GET /keys` shows, and the organisation-scoped
//! statements behind them. A key is returned once, when made; D1 keeps only its SHA-256.

use crate::access::ids::{ApiKey, KeyHash};
use crate::access::scope::{Scope, Scopes};
use crate::api::error::{ApiError, FieldError};
use crate::api::sql::{SqlParam, Statement};
use crate::time::UnixMs;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// What every key made here starts with (the LiteSOC form, so SDK docs read the same).
pub const KEY_PREFIX: &str = "lsoc_live_";
/// Random base62 characters after [`KEY_PREFIX`] (about 190 bits).
pub const KEY_RANDOM_CHARS: usize = 32;
/// Characters of a key kept in D1 to name it to people: the prefix and four more.
pub const SHOWN_PREFIX_CHARS: usize = 14;
/// Active keys an organisation may hold (rotations included while they overlap).
pub const MAX_ACTIVE_KEYS: u32 = 100;
/// Longest `name`, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// A rotation's default overlap: the old key keeps working for a day.
pub const DEFAULT_OVERLAP_SECONDS: i64 = 86_400;
/// A rotation's longest overlap: 30 days.
pub const MAX_OVERLAP_SECONDS: i64 = 30 * 86_400;
/// How stale `last_used_at` may grow before a lookup writes it again (one row an hour a key).
pub const LAST_USED_GRANULARITY_MS: i64 = 3_600_000;

const BASE62: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A new key from CSPRNG bytes, `fill` called as often as needed: [`KEY_PREFIX`] and
/// [`KEY_RANDOM_CHARS`] base62 characters, each from one byte below 248 (4 × 62: no modulo bias).
pub fn new_key<E>(mut fill: impl FnMut(&mut [u8]) -> Result<(), E>) -> Result<String, E> {
    let mut out = String::from(KEY_PREFIX);
    let mut buf = [0u8; 64];
    while out.len() < KEY_PREFIX.len() + KEY_RANDOM_CHARS {
        fill(&mut buf)?;
        for b in buf {
            if b < 248 && out.len() < KEY_PREFIX.len() + KEY_RANDOM_CHARS {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

/// A key's public id from 8 random bytes: `key_` and 16 hex digits.
pub fn key_id(random: [u8; 8]) -> String {
    format!("key_{}", hex::encode(random))
}

/// A key id from a path, lowercased; anything else is a 404.
pub fn parse_key_id(raw: &str) -> Result<String, ApiError> {
    let id = raw.trim().to_ascii_lowercase();
    let ok =
        id.len() == 20 && id.starts_with("key_") && id[4..].bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(id).ok_or_else(|| ApiError::not_found("Key"))
}

/// A `POST /keys` body: a name for people and the scopes (all four when left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub name: String,
    pub scopes: Scopes,
}

fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(ApiError::invalid("body", "must be a JSON object")),
        Err(_) => Err(ApiError::invalid("body", "is not valid JSON")),
    }
}

impl NewKey {
    /// Parses and validates a `POST /keys` body (an empty body is a full-scope key named
    /// "API key"), naming every bad field.
    pub fn parse(body: &[u8]) -> Result<NewKey, ApiError> {
        let obj = object(body)?;
        let mut errors = Vec::new();
        let name = match obj.get("name") {
            None | Some(Value::Null) => Some("API key".to_string()),
            Some(Value::String(s)) => {
                let t = s.trim();
                if t.is_empty()
                    || t.chars().count() > MAX_NAME_CHARS
                    || t.chars().any(char::is_control)
                {
                    errors.push(FieldError::new(
                        "name",
                        format!(
                            "must be 1 to {MAX_NAME_CHARS} characters, without control characters"
                        ),
                    ));
                    None
                } else {
                    Some(t.to_string())
                }
            }
            Some(_) => {
                errors.push(FieldError::new("name", "must be a string"));
                None
            }
        };
        let scopes = match obj.get("scopes") {
            None | Some(Value::Null) => Some(Scopes::ALL),
            Some(v) => scopes(v).map_err(|e| errors.push(e)).ok(),
        };
        for k in obj
            .keys()
            .filter(|k| !["name", "scopes"].contains(&k.as_str()))
        {
            errors.push(FieldError::new(k.clone(), "is not a field of a key"));
        }
        match (name, scopes) {
            (Some(name), Some(scopes)) if errors.is_empty() => Ok(NewKey { name, scopes }),
            _ => Err(ApiError::validation(errors)),
        }
    }
}

/// `scopes`: a non-empty array of distinct scope names.
fn scopes(v: &Value) -> Result<Scopes, FieldError> {
    let Value::Array(items) = v else {
        return Err(FieldError::new("scopes", "must be an array of scope names"));
    };
    if items.is_empty() || items.len() > Scope::ALL.len() {
        return Err(FieldError::new(
            "scopes",
            "must list 1 to 4 of ingest, read, respond, admin",
        ));
    }
    let mut list = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str().and_then(Scope::parse) {
            Some(s) if !list.contains(&s) => list.push(s),
            Some(_) => return Err(FieldError::new(format!("scopes[{i}]"), "is listed twice")),
            None => {
                return Err(FieldError::new(
                    format!("scopes[{i}]"),
                    "must be one of ingest, read, respond, admin",
                ))
            }
        }
    }
    Ok(Scopes::of(&list))
}

/// The overlap of `POST /keys/:id/rotate`: `overlap_seconds`, 0 to [`MAX_OVERLAP_SECONDS`]
/// ([`DEFAULT_OVERLAP_SECONDS`] when left out).
pub fn parse_overlap(body: &[u8]) -> Result<i64, ApiError> {
    let obj = object(body)?;
    if let Some(k) = obj.keys().find(|k| k.as_str() != "overlap_seconds") {
        return Err(ApiError::invalid(k.clone(), "is not a field of a rotation"));
    }
    match obj.get("overlap_seconds") {
        None | Some(Value::Null) => Ok(DEFAULT_OVERLAP_SECONDS),
        Some(v) => v
            .as_i64()
            .filter(|s| (0..=MAX_OVERLAP_SECONDS).contains(s))
            .ok_or_else(|| {
                ApiError::invalid(
                    "overlap_seconds",
                    format!("must be an integer from 0 to {MAX_OVERLAP_SECONDS}"),
                )
            }),
    }
}

/// An `api_keys` row as `GET /keys` reads it (D1 numbers arrive as floats).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct KeyRow {
    pub id: String,
    pub name: Option<String>,
    pub key_prefix: String,
    pub scopes: Option<String>,
    pub created_at: f64,
    pub created_by: Option<String>,
    pub last_used_at: Option<f64>,
    pub expires_at: Option<f64>,
}

impl KeyRow {
    /// The API object: never the key, never its hash.
    pub fn to_api(&self) -> Value {
        let iso = |t: Option<f64>| t.map(|t| UnixMs(t as i64).iso_millis());
        json!({
            "id": self.id,
            "name": self.name,
            "prefix": self.key_prefix,
            "scopes": Scopes::from_stored(self.scopes.as_deref()),
            "created_at": UnixMs(self.created_at as i64).iso_millis(),
            "created_by": self.created_by,
            "last_used_at": iso(self.last_used_at),
            "expires_at": iso(self.expires_at),
        })
    }

    /// Whether the key holds the admin scope.
    pub fn is_admin(&self) -> bool {
        Scopes::from_stored(self.scopes.as_deref()).has(Scope::Admin)
    }
}

const COLUMNS: &str =
    "id, name, key_prefix, scopes, created_at, created_by, last_used_at, expires_at";

/// SQL: the key is usable at `now` (`?` is the placeholder of now).
fn active(now: &str) -> String {
    format!("revoked_at IS NULL AND (expires_at IS NULL OR expires_at > {now})")
}

/// `?1`–`?5` of a new key's row, in both inserts: its hash, the organisation, its shown prefix,
/// now, its id.
fn new_key_params(key: &ApiKey, org: &str, now: UnixMs, id: &str) -> Vec<SqlParam> {
    vec![
        SqlParam::Text(key.hash().0),
        SqlParam::Text(org.into()),
        SqlParam::Text(key.shown_prefix(SHOWN_PREFIX_CHARS)),
        SqlParam::Number(now.0 as f64),
        SqlParam::Text(id.into()),
    ]
}

/// `?1` organisation, `?2` key id, `?3` now: what the by-id statements bind.
fn org_id_now(org: &str, id: &str, now: UnixMs) -> Vec<SqlParam> {
    vec![
        SqlParam::Text(org.into()),
        SqlParam::Text(id.into()),
        SqlParam::Number(now.0 as f64),
    ]
}

/// SQL: the key holds the admin scope (NULL scopes hold every scope).
const IS_ADMIN: &str = "(scopes IS NULL OR ',' || scopes || ',' LIKE '%,admin,%')";

/// The organisation's usable keys, newest first.
pub fn list_statement(org: &str, now: UnixMs) -> Statement {
    (
        format!(
            "SELECT {COLUMNS} FROM api_keys WHERE org_id = ?1 AND {} \
             ORDER BY created_at DESC, id LIMIT {MAX_ACTIVE_KEYS}",
            active("?2")
        ),
        vec![SqlParam::Text(org.into()), SqlParam::Number(now.0 as f64)],
    )
}

/// One usable key of the organisation.
pub fn get_statement(org: &str, id: &str, now: UnixMs) -> Statement {
    (
        format!(
            "SELECT {COLUMNS} FROM api_keys WHERE org_id = ?1 AND id = ?2 AND {}",
            active("?3")
        ),
        org_id_now(org, id, now),
    )
}

/// Stores `key` (by its hash) for the organisation, unless it already holds
/// [`MAX_ACTIVE_KEYS`] usable keys; returns the new id's row (none when full).
pub fn insert_statement(
    org: &str,
    id: &str,
    key: &ApiKey,
    new: &NewKey,
    created_by: &str,
    now: UnixMs,
) -> Statement {
    (
        format!(
            "INSERT INTO api_keys (key_hash, org_id, key_prefix, created_at, id, name, scopes, created_by) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 \
             WHERE (SELECT count(*) FROM api_keys WHERE org_id = ?2 AND {}) < {MAX_ACTIVE_KEYS} RETURNING id",
            active("?4")
        ),
        [
            new_key_params(key, org, now, id),
            vec![
                SqlParam::Text(new.name.clone()),
                new.scopes.stored().map_or(SqlParam::Null, SqlParam::Text),
                SqlParam::Text(created_by.into()),
            ],
        ]
        .concat(),
    )
}

/// Revokes the organisation's key `id` at `now`, unless it is an admin key and no other
/// usable admin key without an expiry would remain (the organisation would lose its last way
/// to manage keys). Returns the revoked id (none: unknown, or refused).
pub fn revoke_statement(org: &str, id: &str, now: UnixMs) -> Statement {
    (
        format!(
            "UPDATE api_keys SET revoked_at = ?3 WHERE org_id = ?1 AND id = ?2 AND {active} \
             AND (NOT {IS_ADMIN} OR EXISTS (SELECT 1 FROM api_keys o WHERE o.org_id = ?1 AND o.id <> ?2 \
             AND o.revoked_at IS NULL AND o.expires_at IS NULL \
             AND (o.scopes IS NULL OR ',' || o.scopes || ',' LIKE '%,admin,%'))) RETURNING id",
            active = active("?3")
        ),
        org_id_now(org, id, now),
    )
}

/// A rotation of the organisation's key `old`: a new key `new_id` (hash of `key`) with the old
/// one's name and scopes, and the old key's expiry brought to `now + overlap` (never later than
/// it already was). One batch; the expiry changes only if the new key was stored (the old key
/// usable, the limit not reached); each statement returns the id it wrote, so an empty second
/// answer means no rotation happened.
pub fn rotate_statements(
    org: &str,
    old: &str,
    new_id: &str,
    key: &ApiKey,
    created_by: &str,
    now: UnixMs,
    overlap_seconds: i64,
) -> [Statement; 2] {
    let expires = now.0 + overlap_seconds * 1000;
    [
        (
            format!(
                "INSERT INTO api_keys (key_hash, org_id, key_prefix, created_at, id, name, scopes, created_by) \
                 SELECT ?1, ?2, ?3, ?4, ?5, name, scopes, ?6 FROM api_keys WHERE org_id = ?2 AND id = ?7 AND {} \
                 AND (SELECT count(*) FROM api_keys WHERE org_id = ?2 AND {}) < {MAX_ACTIVE_KEYS} RETURNING id",
                active("?4"),
                active("?4")
            ),
            [
                new_key_params(key, org, now, new_id),
                vec![SqlParam::Text(created_by.into()), SqlParam::Text(old.into())],
            ]
            .concat(),
        ),
        (
            format!(
                "UPDATE api_keys SET expires_at = min(coalesce(expires_at, ?4), ?4) \
                 WHERE org_id = ?1 AND id = ?2 AND {} \
                 AND EXISTS (SELECT 1 FROM api_keys n WHERE n.org_id = ?1 AND n.id = ?5) RETURNING id",
                active("?3")
            ),
            vec![
                SqlParam::Text(org.into()),
                SqlParam::Text(old.into()),
                SqlParam::Number(now.0 as f64),
                SqlParam::Number(expires as f64),
                SqlParam::Text(new_id.into()),
            ],
        ),
    ]
}

/// Records that the key with `hash` was used at `now` (to [`LAST_USED_GRANULARITY_MS`]): issued
/// by a key lookup that found `last_used_at` older than that, so at most a row an hour a key.
pub fn touch_statement(hash: &KeyHash, now: UnixMs) -> Statement {
    (
        "UPDATE api_keys SET last_used_at = ?2 WHERE key_hash = ?1 \
         AND (last_used_at IS NULL OR last_used_at <= ?2 - ?3)"
            .into(),
        vec![
            SqlParam::Text(hash.0.clone()),
            SqlParam::Number(now.0 as f64),
            SqlParam::Number(LAST_USED_GRANULARITY_MS as f64),
        ],
    )
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
