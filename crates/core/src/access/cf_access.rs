//! Cloudflare Access sign-in (docs/api.md §2.8): when the dashboard sits behind Access, every
//! request carries `Cf-Access-Jwt-Assertion`, a JWT Access signed with the team's key. This module
//! checks what needs no cryptography — the form, the `alg` allow-list (RS256 only: never `none`,
//! never an HMAC a public key could forge), the `kid`, the audience, the issuer, the times and
//! the e-mail — and picks the JWK the signature must verify against; the adapter verifies the
//! RS256 signature with WebCrypto (`src/access/cf_access.rs`). The signed-in e-mail maps to an
//! organisation and a role through `members`.

use crate::access::scope::{Scope, Scopes};
use crate::api::error::ApiError;
use crate::api::sql::{SqlParam, Statement};
use crate::time::UnixMs;
use base64::Engine;
use serde_json::{json, Value};

/// The header Access adds to every request it lets through.
pub const HEADER: &str = "Cf-Access-Jwt-Assertion";
/// The only signature algorithm accepted (Access signs with RSA keys).
pub const ALG: &str = "RS256";
/// Clock skew tolerated on `nbf` and `iat`, in seconds.
pub const LEEWAY_SECONDS: i64 = 60;
/// The longest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Where tokens come from: the team's domain (`acme.cloudflareaccess.com`, the issuer) and the
/// application's audience tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessConfig {
    pub team_domain: String,
    pub aud: String,
}

impl AccessConfig {
    /// A configuration from the vars, when the team domain is a Cloudflare Access one
    /// (`<team>.cloudflareaccess.com`): the only host the Worker fetches keys from.
    pub fn new(team_domain: &str, aud: &str) -> Option<AccessConfig> {
        let team = team_domain
            .trim()
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_ascii_lowercase();
        let label = team.strip_suffix(".cloudflareaccess.com")?;
        let plain = !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        (plain && !aud.trim().is_empty()).then(|| AccessConfig {
            team_domain: team.clone(),
            aud: aud.trim().to_string(),
        })
    }

    /// The issuer tokens must name.
    pub fn issuer(&self) -> String {
        format!("https://{}", self.team_domain.trim_end_matches('/'))
    }

    /// Where the team publishes its signing keys.
    pub fn certs_url(&self) -> String {
        format!("{}/cdn-cgi/access/certs", self.issuer())
    }
}

/// A token whose claims hold, waiting for its signature to be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The key id the signature names.
    pub kid: String,
    /// `header.payload`: what the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
    /// The signed-in person, lower-cased.
    pub email: String,
    /// When the token expires (Unix ms).
    pub expires_at: i64,
}

fn b64(part: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()
}

fn reject(why: &str) -> String {
    format!("Access token refused: {why}")
}

/// Checks a token's form and claims at `now`; `Err` says why it is refused (for the log only:
/// the caller answers a plain 401).
pub fn check(token: &str, cfg: &AccessConfig, now: UnixMs) -> Result<Claimed, String> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(reject("too long"));
    }
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(reject("not three parts"));
    };
    let header: Value = b64(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| reject("unreadable header"))?;
    if header["alg"] != ALG {
        return Err(reject("alg is not RS256"));
    }
    let kid = header["kid"]
        .as_str()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| reject("no kid"))?;
    let claims: Value = b64(p)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| reject("unreadable payload"))?;
    let signature = b64(s)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| reject("no signature"))?;
    let aud_ok = match &claims["aud"] {
        Value::String(a) => *a == cfg.aud,
        Value::Array(list) => list.iter().any(|a| a == cfg.aud.as_str()),
        _ => false,
    };
    if !aud_ok {
        return Err(reject("wrong audience"));
    }
    if claims["iss"] != cfg.issuer().as_str() {
        return Err(reject("wrong issuer"));
    }
    let secs = now.0 / 1000;
    let exp = claims["exp"].as_i64().ok_or_else(|| reject("no exp"))?;
    if exp <= secs {
        return Err(reject("expired"));
    }
    for (claim, what) in [("nbf", "not yet valid"), ("iat", "issued in the future")] {
        if claims[claim]
            .as_i64()
            .is_some_and(|t| t > secs + LEEWAY_SECONDS)
        {
            return Err(reject(what));
        }
    }
    let email = claims["email"]
        .as_str()
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| valid_email(e))
        .ok_or_else(|| reject("no e-mail"))?;
    Ok(Claimed {
        kid: kid.to_string(),
        signing_input: format!("{h}.{p}"),
        signature,
        email,
        expires_at: exp * 1000,
    })
}

/// The key a verified token's tenant is cached under (never equal to a key's or a session's).
pub fn token_hash(token: &str) -> crate::access::ids::KeyHash {
    use sha2::Digest;
    crate::access::ids::KeyHash(format!(
        "access:{}",
        hex::encode(sha2::Sha256::digest(token.as_bytes()))
    ))
}

/// The RSA JWK (as JSON) of `jwks` with `kid`, if there is one.
pub fn jwk_for(jwks: &Value, kid: &str) -> Option<Value> {
    jwks["keys"]
        .as_array()?
        .iter()
        .find(|k| k["kid"] == kid && k["kty"] == "RSA")
        .map(|k| json!({"kty": "RSA", "n": k["n"], "e": k["e"], "alg": ALG, "ext": true}))
}

/// A plausible e-mail address (what Access signs; members are keyed by it).
pub fn valid_email(e: &str) -> bool {
    e.len() <= 320
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
}

/// A member's role: what a signed-in person may do in the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Viewer,
    Responder,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "responder" => Some(Role::Responder),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Admin => "admin",
        }
    }

    /// The scopes of the role: reading always, responding from `responder`, administering for
    /// `admin`; never ingesting.
    pub fn scopes(self) -> Scopes {
        match self {
            Role::Viewer => Scopes::READ,
            Role::Responder => Scopes::of(&[Scope::Read, Scope::Respond]),
            Role::Admin => Scopes::of(&[Scope::Read, Scope::Respond, Scope::Admin]),
        }
    }
}

/// A `PUT /members/:email` body: `{"role": "viewer" | "responder" | "admin"}`.
pub fn parse_role(body: &[u8]) -> Result<Role, ApiError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| ApiError::invalid("body", "is not valid JSON"))?;
    v.get("role")
        .and_then(Value::as_str)
        .and_then(Role::parse)
        .ok_or_else(|| ApiError::invalid("role", "must be viewer, responder or admin"))
}

/// A member e-mail from a path (percent-decoded, lower-cased); anything else is a 404.
pub fn parse_member(raw: &str) -> Result<String, ApiError> {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    let e = decoded.trim().to_ascii_lowercase();
    valid_email(&e)
        .then_some(e)
        .ok_or_else(|| ApiError::not_found("Member"))
}

/// Members an organisation may have.
pub const MAX_MEMBERS: u32 = 1_000;

/// The organisation and role of a signed-in e-mail, as a `TenantRow`-shaped row.
pub fn tenant_statement(email: &str) -> Statement {
    (
        format!(
            "SELECT {}, m.role FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.email = ?1",
            crate::access::tenant::TENANT_COLUMNS
        ),
        vec![SqlParam::Text(email.into())],
    )
}

/// The organisation's members, by e-mail.
pub fn list_statement(org: &str) -> Statement {
    (
        format!("SELECT email, role, created_at, created_by FROM members WHERE org_id = ?1 ORDER BY email LIMIT {MAX_MEMBERS}"),
        vec![SqlParam::Text(org.into())],
    )
}

/// Adds `email` to the organisation with `role`, or changes its role; refused (no row) when the
/// e-mail belongs to another organisation or the organisation is full. Returns the e-mail.
pub fn upsert_statement(org: &str, email: &str, role: Role, by: &str, now: UnixMs) -> Statement {
    (
        format!(
            "INSERT INTO members (email, org_id, role, created_at, created_by) \
             SELECT ?1, ?2, ?3, ?4, ?5 WHERE (SELECT count(*) FROM members WHERE org_id = ?2) < {MAX_MEMBERS} \
             OR EXISTS (SELECT 1 FROM members WHERE email = ?1 AND org_id = ?2) \
             ON CONFLICT (email) DO UPDATE SET role = excluded.role WHERE members.org_id = excluded.org_id \
             RETURNING email"
        ),
        vec![
            SqlParam::Text(email.into()),
            SqlParam::Text(org.into()),
            SqlParam::Text(role.as_str().into()),
            SqlParam::Number(now.0 as f64),
            SqlParam::Text(by.into()),
        ],
    )
}

/// Removes the organisation's member `email`. Returns the e-mail (none: not a member).
pub fn delete_statement(org: &str, email: &str) -> Statement {
    (
        "DELETE FROM members WHERE org_id = ?1 AND email = ?2 RETURNING email".into(),
        vec![SqlParam::Text(org.into()), SqlParam::Text(email.into())],
    )
}

#[cfg(test)]
#[path = "cf_access_tests.rs"]
mod tests;
