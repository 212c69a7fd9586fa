//! Newtypes for identifiers and secrets, so a key is never confused with its hash or an org id.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// An organisation id (`org_…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgId(pub String);

/// A server-assigned event or alert id: lowercase UUID v4. Ordered as its bytes, which is also
/// the order of its hyphenated text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub uuid::Uuid);

impl EventId {
    /// A fresh random id (CSPRNG-backed on both native and wasm targets).
    pub fn new_v4() -> EventId {
        EventId(uuid::Uuid::new_v4())
    }

    /// Parses an id from a path; anything but a hyphenated UUID is `None`.
    pub fn parse(s: &str) -> Option<EventId> {
        if s.len() != 36 {
            return None;
        }
        uuid::Uuid::parse_str(s).ok().map(EventId)
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hyphenated lowercase is uuid's Display.
        self.0.fmt(f)
    }
}

/// An API key as presented by a client. Never stored, never logged; only its hash is.
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a presented key; empty or whitespace-only keys are `None`.
    pub fn from_header(raw: &str) -> Option<ApiKey> {
        let t = raw.trim();
        (!t.is_empty()).then(|| ApiKey(t.to_string()))
    }

    /// The key's first `n` characters: what D1 keeps to name it to people (`lsoc_live_` and
    /// four more for keys made here).
    pub fn shown_prefix(&self, n: usize) -> String {
        self.0.chars().take(n).collect()
    }

    /// SHA-256 of the key, the only form the key table holds.
    pub fn hash(&self) -> KeyHash {
        KeyHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }

    /// Constant-time comparison with another presented secret (the bootstrap key).
    pub fn matches_secret(&self, secret: &str) -> bool {
        // Compare fixed-size digests so neither content nor length leaks through timing.
        let a = Sha256::digest(self.0.as_bytes());
        let b = Sha256::digest(secret.trim().as_bytes());
        bool::from(a.ct_eq(&b))
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(…)")
    }
}

/// Lowercase hex SHA-256 of an API key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyHash(pub String);

impl KeyHash {
    /// Constant-time equality, for checking a stored hash against a computed one.
    pub fn ct_eq(&self, other: &KeyHash) -> bool {
        self.0.len() == other.0.len() && bool::from(self.0.as_bytes().ct_eq(other.0.as_bytes()))
    }
}

/// Reads the key from `X-API-Key`, else `Authorization: Bearer`, else HTTP Basic's password
/// (Loki shippers). `X-API-Key` wins when several are present.
pub fn key_from_headers(x_api_key: Option<&str>, authorization: Option<&str>) -> Option<ApiKey> {
    if let Some(k) = x_api_key.and_then(ApiKey::from_header) {
        return Some(k);
    }
    let auth = authorization?.trim();
    let (scheme, rest) = auth.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        ApiKey::from_header(rest)
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64_decode(rest.trim())?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, password) = text.split_once(':')?;
        ApiKey::from_header(password)
    } else {
        None
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_lowercase_hex_sha256() {
        let k = ApiKey::from_header("lsoc_live_abc").unwrap();
        assert_eq!(k.hash().0.len(), 64);
        assert_eq!(
            ApiKey::from_header("abc").unwrap().hash().0,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn x_api_key_wins_over_bearer() {
        let k = key_from_headers(Some("a"), Some("Bearer b")).unwrap();
        assert!(k.matches_secret("a"));
        let k = key_from_headers(None, Some("bearer  b ")).unwrap();
        assert!(k.matches_secret("b"));
        let k = key_from_headers(Some("  "), Some("Bearer b")).unwrap();
        assert!(k.matches_secret("b"));
        assert!(key_from_headers(None, Some("Token b")).is_none());
        assert!(key_from_headers(None, None).is_none());
        assert!(key_from_headers(Some(""), Some("Bearer ")).is_none());
    }

    #[test]
    fn basic_auth_password_is_the_key() {
        // "loki:lsoc_live_k" base64
        let k = key_from_headers(None, Some("Basic bG9raTpsc29jX2xpdmVfaw==")).unwrap();
        assert!(k.matches_secret("lsoc_live_k"));
        assert!(key_from_headers(None, Some("Basic !!!")).is_none());
    }

    #[test]
    fn matches_secret_only_for_the_same_key() {
        let secret = "lsoc_live_bootstrapbootstrap1234";
        let k = ApiKey::from_header(secret).unwrap();
        assert!(k.matches_secret(secret));
        // The secret is trimmed like a presented key: a newline from `wrangler secret put`.
        assert!(k.matches_secret(&format!("  {secret}\n")));
        let other = ApiKey::from_header("lsoc_live_0000000000000000000000").unwrap();
        for wrong in [
            "",
            "   ",
            "lsoc_live_",
            &secret[..secret.len() - 1],
            &format!("{secret}x"),
            &format!("{secret}\0"),
            &format!("{secret} x"),
            &secret.to_uppercase(),
            &secret.replace('b', "B"),
            "lsoc_live_bootstrapbootstrap1235",
            "lsoc_live_0000000000000000000000",
        ] {
            assert!(!k.matches_secret(wrong), "{wrong:?}");
        }
        assert!(!other.matches_secret(secret), "another key");
        // A prefix of the key as the presented key does not match the whole secret either.
        let prefix = ApiKey::from_header(&secret[..14]).unwrap();
        assert!(!prefix.matches_secret(secret));
        // Nor does the key's hash stand in for the key.
        assert!(!k.matches_secret(&k.hash().0));
    }

    #[test]
    fn event_ids_parse_only_uuids() {
        let id = EventId::new_v4();
        assert_eq!(EventId::parse(&id.to_string()), Some(id));
        assert_eq!(id.to_string(), id.to_string().to_lowercase());
        assert_eq!(id.0.get_version_num(), 4);
        assert!(EventId::parse("not-a-uuid").is_none());
        assert!(EventId::parse("6ba7b8109dad11d180b400c04fd430c8").is_none());
    }

    #[test]
    fn key_hash_compare() {
        let a = ApiKey::from_header("x").unwrap().hash();
        assert!(a.ct_eq(&ApiKey::from_header("x").unwrap().hash()));
        assert!(!a.ct_eq(&ApiKey::from_header("y").unwrap().hash()));
        assert!(!a.ct_eq(&KeyHash("ab".into())));
    }
}
