//! Standard Webhooks (https://www.standardwebhooks.com/): a webhook carries `webhook-id` (the
//! same on every retry of one delivery), `webhook-timestamp` (Unix seconds of the attempt) and
//! `webhook-signature`, `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the
//! destination's secret. The secret is `whsec_` and base64 of 32 random bytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a secret (the specification allows 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// A new signing secret from `random` bytes (the caller's CSPRNG).
pub fn new_secret(random: [u8; SECRET_BYTES]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random))
}

/// The three headers for one attempt of a delivery with id `id` at `timestamp` (seconds).
/// `None` when `secret` is not a well-formed `whsec_` secret.
pub fn headers(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &str,
) -> Option<[(&'static str, String); 3]> {
    let key = STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    Some([
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", format!("v1,{signature}")),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_specifications_example() {
        // The example of the Standard Webhooks specification (spec/standard-webhooks.md).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let [id, ts, sig] =
            headers(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(id.1, "msg_p5jXN8AQM9LWM0D4loKWxJek");
        assert_eq!(ts.1, "1614265330");
        assert_eq!(sig.1, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_prefixed_base64_and_malformed_ones_sign_nothing() {
        let s = new_secret([7; SECRET_BYTES]);
        assert!(s.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&s[6..]).unwrap(), vec![7; SECRET_BYTES]);
        assert!(headers("not-a-secret", "m", 1, "{}").is_none());
        assert!(headers("whsec_!!!", "m", 1, "{}").is_none());
        let a = headers(&s, "m", 1, "{}").unwrap();
        let b = headers(&s, "m", 1, "{ }").unwrap();
        assert_ne!(a[2].1, b[2].1, "the body is signed");
    }
}
