//! Keyset cursors for the list endpoints: a position (time and id of the last row of a page),
//! sealed for one organisation and one list so clients can only hand back what they were given.

use crate::api::error::ApiError;
use crate::time::UnixMs;
use hmac::Mac;

/// Keyset position after the last row of a page, newest-first order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: UnixMs,
    pub id: String,
}

/// Seals cursors for one organisation and one list: a cursor is `base64url(created_at:id)`
/// and a truncated HMAC-SHA256 of it under a key derived from the Worker's `CURSOR_SECRET`,
/// the organisation and the list, so a cursor made or edited by hand, or taken from another
/// organisation or list, is a 400.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

/// Bytes of the MAC kept in a cursor (128 bits).
const CURSOR_MAC_BYTES: usize = 16;

impl CursorKey {
    /// The key for `list` (`"events"`, `"alerts"`, …) of `org`.
    pub fn new(secret: &str, org: &str, list: &str) -> CursorKey {
        let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        for part in [org, list] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        CursorKey(mac.finalize().into_bytes().into())
    }

    fn mac(&self, position: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(position);
        mac
    }

    /// The opaque form given to clients.
    pub fn encode(&self, cursor: &Cursor) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let position = format!("{}:{}", cursor.created_at.0, cursor.id);
        let tag = self.mac(position.as_bytes()).finalize().into_bytes();
        format!(
            "{}.{}",
            b64.encode(position),
            b64.encode(&tag[..CURSOR_MAC_BYTES])
        )
    }

    /// Opens a client's cursor; anything not sealed by [`Self::encode`] with this key is a 400
    /// on `cursor`.
    pub fn decode(&self, raw: &str) -> Result<Cursor, ApiError> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let bad = || ApiError::invalid("cursor", "is not a cursor returned by this API");
        let (position, tag) = raw.trim().split_once('.').ok_or_else(bad)?;
        let position = b64.decode(position).map_err(|_| bad())?;
        let tag = b64.decode(tag).map_err(|_| bad())?;
        if tag.len() != CURSOR_MAC_BYTES {
            return Err(bad());
        }
        self.mac(&position)
            .verify_truncated_left(&tag)
            .map_err(|_| bad())?;
        let text = String::from_utf8(position).map_err(|_| bad())?;
        let (t, id) = text.split_once(':').ok_or_else(bad)?;
        let created_at = UnixMs(t.parse().map_err(|_| bad())?);
        // A UUID (events, alerts, …) or a row id (log lines).
        let row_id = !id.is_empty() && id.len() <= 18 && id.bytes().all(|b| b.is_ascii_digit());
        let id = match crate::access::ids::EventId::parse(id) {
            Some(uuid) => uuid.to_string(),
            None if row_id => id.to_string(),
            None => return Err(bad()),
        };
        Ok(Cursor { created_at, id })
    }
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;
