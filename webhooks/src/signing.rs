//! How a delivery proves where it came from: `Voicera-Signature: t=<unix secs>,v1=<hex>` where the hex is
//! HMAC-SHA256 keyed with the endpoint's secret (the whole `whsec_…` text, as shown at creation) over
//! `"<t>.<body>"`. The timestamp inside the signed text lets receivers refuse replays older than a few
//! minutes; the delivery id (`Voicera-Delivery`) stays the same across retries so they can drop duplicates.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying `t=<unix secs>,v1=<hex hmac>`.
pub const SIGNATURE_HEADER: &str = "Voicera-Signature";
/// The header naming the event (`call.ended`, ...).
pub const EVENT_HEADER: &str = "Voicera-Event";
/// The header carrying the delivery's id: the same on every retry of one delivery.
pub const DELIVERY_HEADER: &str = "Voicera-Delivery";
/// The prefix of every endpoint secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Why a signature header does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=<digits>,v1=<64 hex>`.
    #[error("malformed signature header: {0}")]
    Malformed(&'static str),
    /// The timestamp is further from now than the tolerance.
    #[error("the signature's timestamp is {age_secs} s away from now (tolerance {tolerance_secs} s)")]
    Stale {
        /// How far the timestamp is from now.
        age_secs: u64,
        /// The allowed distance.
        tolerance_secs: u64,
    },
    /// No `v1` value matches the body under this secret.
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// HMAC-SHA256 of `data` under `key` (RFC 2104 over SHA-256).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // `new_from_slice` takes keys of any length for HMAC; the error arm cannot happen, answered with zeros
    // rather than a panic so the signing path never aborts.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return [0; 32] };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// The hex signature of `body` sent at `timestamp_secs`: HMAC-SHA256(secret, "<t>.<body>").
pub fn signature(secret: &str, timestamp_secs: u64, body: &[u8]) -> String {
    let mut signed = Vec::with_capacity(body.len() + 21);
    signed.extend_from_slice(timestamp_secs.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    hex(&hmac_sha256(secret.as_bytes(), &signed))
}

/// The `Voicera-Signature` header value for `body` sent at `timestamp_secs`.
pub fn signature_header(secret: &str, timestamp_secs: u64, body: &[u8]) -> String {
    format!("t={timestamp_secs},v1={}", signature(secret, timestamp_secs, body))
}

/// Checks a `Voicera-Signature` header as a receiver would: well-formed, recent (within `tolerance_secs`
/// of `now_secs`) and a `v1` matching the body, compared in constant time.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now_secs: u64,
    tolerance_secs: u64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => {
                timestamp = Some(t.parse::<u64>().map_err(|_| SignatureError::Malformed("t is not a number"))?)
            }
            Some(("v1", v)) => candidates.push(v),
            // Other schemes (a future v2) are skipped, as receivers are told to.
            Some(_) => {}
            None => return Err(SignatureError::Malformed("a part is not key=value")),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no t="))?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed("no v1="));
    }
    let age_secs = now_secs.abs_diff(timestamp);
    if age_secs > tolerance_secs {
        return Err(SignatureError::Stale { age_secs, tolerance_secs });
    }
    let expected = signature(secret, timestamp, body);
    let matches = candidates.iter().any(|c| {
        c.len() == expected.len() && c.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// A new endpoint secret: `whsec_` and 32 random bytes in hex.
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", hex(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 1.
        let mac = hmac_sha256(&[0x0b; 20], b"Hi There");
        assert_eq!(hex(&mac), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        // Test case 2: a key shorter than the block.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex(&mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // Test case 6: a key longer than the block is hashed first.
        let mac = hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex(&mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn signature_covers_timestamp_and_body() {
        let body = br#"{"type":"call.ended"}"#;
        let header = signature_header("whsec_test", 1_700_000_000, body);
        let expected = hex(&hmac_sha256(b"whsec_test", b"1700000000.{\"type\":\"call.ended\"}"));
        assert_eq!(header, format!("t=1700000000,v1={expected}"));
        assert_eq!(verify("whsec_test", &header, body, 1_700_000_100, 300), Ok(()));
        assert_eq!(verify("whsec_other", &header, body, 1_700_000_100, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify("whsec_test", &header, b"{}", 1_700_000_100, 300), Err(SignatureError::Mismatch));
        // The timestamp is signed: moving it breaks the signature.
        let moved = header.replace("t=1700000000", "t=1700000050");
        assert_eq!(verify("whsec_test", &moved, body, 1_700_000_100, 300), Err(SignatureError::Mismatch));
        assert_eq!(
            verify("whsec_test", &header, body, 1_700_001_000, 300),
            Err(SignatureError::Stale { age_secs: 1000, tolerance_secs: 300 })
        );
        assert!(matches!(verify("whsec_test", "v1=ab", body, 0, 300), Err(SignatureError::Malformed(_))));
        assert!(matches!(verify("whsec_test", "t=x,v1=ab", body, 0, 300), Err(SignatureError::Malformed(_))));
    }

    #[test]
    fn secrets_are_prefixed_and_distinct() {
        let (a, b) = (generate_secret(), generate_secret());
        assert!(a.starts_with(SECRET_PREFIX) && a.len() == SECRET_PREFIX.len() + 64, "{a}");
        assert_ne!(a, b);
    }
}
