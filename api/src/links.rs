//! Short-lived signed links to a call's recording, for receivers that hold no API credential (a webhook's
//! `call.ended` carries one): `<public url>/api/v1/meetings/<id>/recording/signed?org_id=<org>&expires=<unix
//! secs>&sig=<hex>`, the signature an HMAC-SHA256 over the org, the meeting and the expiry under a key
//! derived from the master key ([`RECORDING_LINK_PURPOSE`]), so every node sharing the key makes and
//! accepts the same links and rotating the master key voids them all.

use voicera_store::secret::MasterKey;
use voicera_webhooks::signing::{hex, hmac_sha256};

/// The purpose the link key is derived from the master key for.
pub const RECORDING_LINK_PURPOSE: &str = "recording links";

fn signature(key: &[u8; 32], org_id: &str, meeting_id: &str, expires: u64) -> String {
    hex(&hmac_sha256(key, format!("recording\n{org_id}\n{meeting_id}\n{expires}").as_bytes()))
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A link to `meeting_id`'s recording in `org_id` that works until `expires` (Unix seconds), below
/// `public_url` (the console's origin, `[server] public_url`).
pub fn recording_link(
    public_url: &str,
    master_key: &MasterKey,
    org_id: &str,
    meeting_id: &str,
    expires: u64,
) -> String {
    let key = master_key.derive(RECORDING_LINK_PURPOSE);
    format!(
        "{}{}/meetings/{}/recording/signed?org_id={}&expires={expires}&sig={}",
        public_url.trim().trim_end_matches('/'),
        crate::routes::PREFIX,
        encode(meeting_id),
        encode(org_id),
        signature(&key, org_id, meeting_id, expires)
    )
}

/// Whether a link's signature is right and it has not expired at `now_secs`.
pub fn verify(master_key: &MasterKey, org_id: &str, meeting_id: &str, expires: u64, sig: &str, now_secs: u64) -> bool {
    let expected = signature(&master_key.derive(RECORDING_LINK_PURPOSE), org_id, meeting_id, expires);
    let same =
        sig.len() == expected.len() && sig.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    same && now_secs <= expires
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_for_their_call_until_they_expire() {
        let key = MasterKey::from_bytes([3; 32]);
        let link = recording_link("https://voice.example/", &key, "org 1", "rec-1", 1_000);
        let query = link.strip_prefix("https://voice.example/api/v1/meetings/rec-1/recording/signed?").unwrap();
        assert!(query.starts_with("org_id=org%201&expires=1000&sig="), "{query}");
        let sig = query.rsplit_once("sig=").unwrap().1;
        assert!(verify(&key, "org 1", "rec-1", 1_000, sig, 1_000));
        assert!(!verify(&key, "org 1", "rec-1", 1_000, sig, 1_001), "expired");
        assert!(!verify(&key, "org 1", "rec-2", 1_000, sig, 0), "another call");
        assert!(!verify(&key, "org 2", "rec-1", 1_000, sig, 0), "another org");
        assert!(!verify(&key, "org 1", "rec-1", 2_000, sig, 0), "a moved expiry");
        assert!(!verify(&MasterKey::from_bytes([4; 32]), "org 1", "rec-1", 1_000, sig, 0), "another key");
    }
}
