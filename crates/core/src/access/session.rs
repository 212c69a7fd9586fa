//! Dashboard sessions (docs/api.md §2.7): a person signs in once with a key (`POST /session`)
//! and gets a short-lived, signed, revocable session in an `HttpOnly; Secure; SameSite=Strict`
//! cookie, so no key sits in browser storage. D1 keeps the session id's SHA-256 only; the cookie
//! carries the id and an HMAC of it. A session reads and changes what its key could (never
//! ingest), stops with the key (revoked or expired) or at its own expiry, and every state-changing
//! call it makes must carry its CSRF token (`X-CSRF-Token`).

use crate::access::ids::KeyHash;
use crate::access::scope::{Scope, Scopes};
use crate::api::sql::{SqlParam, Statement};
use crate::time::UnixMs;
use hmac::Mac;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "edgesoc_session";
/// How long a session lasts: a working day.
pub const TTL_MS: i64 = 8 * 3_600_000;
/// The header a cookie-authenticated change carries its CSRF token in.
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// Random bytes in a session id.
pub const ID_BYTES: usize = 32;

type HmacSha256 = hmac::Hmac<Sha256>;

fn mac_hex(secret: &str, label: &str, id: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(label.as_bytes());
    mac.update(b"\n");
    mac.update(id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether two tokens are equal, in constant time.
pub fn token_eq(a: &str, b: &str) -> bool {
    ct_eq(a, b)
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A session id (hex of [`ID_BYTES`] random bytes). Never stored: D1 holds [`SessionId::hash`].
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId(…)")
    }
}

impl SessionId {
    /// A new id from CSPRNG bytes.
    pub fn new(random: [u8; ID_BYTES]) -> SessionId {
        SessionId(hex::encode(random))
    }

    /// SHA-256 (hex) of the id: the session's key in D1 (and in the isolate's cache, prefixed
    /// so it can never equal a key's hash).
    pub fn hash(&self) -> KeyHash {
        KeyHash(format!(
            "session:{}",
            hex::encode(Sha256::digest(self.0.as_bytes()))
        ))
    }

    /// The cookie's value: the id and its HMAC under `secret`.
    pub fn cookie_value(&self, secret: &str) -> String {
        format!("{}.{}", self.0, mac_hex(secret, "session", &self.0))
    }

    /// The id of a `Cookie` header's session cookie, if its signature holds.
    pub fn from_cookie_header(header: &str, secret: &str) -> Option<SessionId> {
        let value = header
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)?
            .1;
        let (id, sig) = value.split_once('.')?;
        let well_formed = id.len() == ID_BYTES * 2 && id.bytes().all(|b| b.is_ascii_hexdigit());
        (well_formed && ct_eq(sig, &mac_hex(secret, "session", id)))
            .then(|| SessionId(id.to_string()))
    }

    /// The session's CSRF token: an HMAC of its id, so it needs no storage and cannot be
    /// computed without the secret.
    pub fn csrf(&self, secret: &str) -> String {
        mac_hex(secret, "csrf", &self.0)
    }

    /// Whether `presented` (the `X-CSRF-Token` header) is this session's token.
    pub fn csrf_ok(&self, secret: &str, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| ct_eq(p.trim(), &self.csrf(secret)))
    }
}

/// The CSRF token a caller's changes must carry, if it signed in through the browser: a
/// session's (an HMAC of its id) or an Access person's (an HMAC of their e-mail); none for a key.
pub fn csrf_for(tenant: &crate::access::tenant::Tenant, secret: &str) -> Option<String> {
    match (&tenant.session, &tenant.person) {
        (Some(id), _) => Some(id.csrf(secret)),
        (None, Some(email)) => Some(mac_hex(secret, "csrf-access", email)),
        (None, None) => None,
    }
}

/// The `Set-Cookie` value that stores a session for [`TTL_MS`].
pub fn set_cookie(value: &str) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        TTL_MS / 1000
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

/// What a session may do: its key's scopes without `ingest` (a dashboard sends no events).
/// `None` when that leaves nothing, or no `read` (a session must at least read).
pub fn scopes_for(key: Scopes) -> Option<Scopes> {
    let list: Vec<Scope> = key
        .list()
        .into_iter()
        .filter(|s| *s != Scope::Ingest)
        .collect();
    let s = Scopes::of(&list);
    s.has(Scope::Read).then_some(s)
}

/// The role a session's scopes amount to, for people: `admin`, `responder` or `viewer`.
pub fn role(s: Scopes) -> &'static str {
    if s.has(Scope::Admin) {
        "admin"
    } else if s.has(Scope::Respond) {
        "responder"
    } else {
        "viewer"
    }
}

/// Stores a session of the organisation's key `key_id` until `now` + [`TTL_MS`].
pub fn insert_statement(
    id: &SessionId,
    org: &str,
    key_id: &str,
    scopes: Scopes,
    now: UnixMs,
) -> Statement {
    (
        "INSERT INTO sessions (id_hash, org_id, key_id, scopes, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            .into(),
        vec![
            SqlParam::Text(id.hash().0),
            SqlParam::Text(org.into()),
            SqlParam::Text(key_id.into()),
            SqlParam::Text(
                scopes
                    .stored()
                    .unwrap_or_else(|| "read,respond,admin".into()),
            ),
            SqlParam::Number(now.0 as f64),
            SqlParam::Number((now.0 + TTL_MS) as f64),
        ],
    )
}

/// The tenant of a usable session: not revoked, not expired, and its key still usable (a revoked
/// or expired key ends its sessions). Read as a `TenantRow` (`crate::access::tenant`): the
/// session's scopes, its expiry as the key's, and the key's identity.
pub fn tenant_statement(id: &SessionId, now: UnixMs) -> Statement {
    (
        format!(
            "SELECT {}, k.key_hash, k.key_prefix, k.id AS key_id, k.name AS key_name, s.scopes, \
             min(s.expires_at, coalesce(k.expires_at, s.expires_at)) AS expires_at, k.last_used_at \
             FROM sessions s JOIN api_keys k ON k.id = s.key_id AND k.org_id = s.org_id \
             JOIN orgs o ON o.id = s.org_id \
             WHERE s.id_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2 \
             AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?2)",
            crate::access::tenant::TENANT_COLUMNS
        ),
        vec![SqlParam::Text(id.hash().0), SqlParam::Number(now.0 as f64)],
    )
}

/// Ends a session (sign-out).
pub fn revoke_statement(id: &SessionId, now: UnixMs) -> Statement {
    (
        "UPDATE sessions SET revoked_at = ?2 WHERE id_hash = ?1 AND revoked_at IS NULL".into(),
        vec![SqlParam::Text(id.hash().0), SqlParam::Number(now.0 as f64)],
    )
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
