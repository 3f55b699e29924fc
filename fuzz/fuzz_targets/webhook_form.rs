//! Provider webhooks as a stranger can send them: any form-urlencoded body and query, any signature, nonce and
//! Authorization header values, through the signature checks of every provider, the replay keys and guard,
//! and the stream-token checks (tokens come back in stream URLs): nothing may panic.
//!
//! Input layout: one selector byte, then fields separated by NUL: url, body, signature, nonce, authorization,
//! stream token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voicera_telephony::ws_stream::signature::{
    plivo_v3_signature, replay_key, twilio_signature, verify, ReplayGuard, SignedRequest, StreamTokens,
};
use voicera_telephony::ws_stream::{Provider, TokenKey};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let mut fields = rest.split(|b| *b == 0).map(String::from_utf8_lossy);
    let mut next = || fields.next().unwrap_or_default().into_owned();
    let (url, body, signature, nonce, authorization, token) = (next(), next(), next(), next(), next(), next());
    let provider = Provider::ALL[selector as usize % 4];
    let method = if selector & 0x10 == 0 { "POST" } else { "GET" };
    // As the webhook handler reads a form body.
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let header = |name: &str| -> Option<String> {
        match name {
            "x-twilio-signature" | "x-plivo-signature-v3" | "x-vobiz-signature-v3" => Some(signature.clone()),
            "x-plivo-signature-v3-nonce" | "x-vobiz-signature-v3-nonce" => Some(nonce.clone()),
            "authorization" => Some(authorization.clone()),
            _ => None,
        }
    };
    let request = SignedRequest { method, url: &url, form: &form, header: &header };
    let _ = verify(provider, "auth-token", &request);
    let _ = twilio_signature("auth-token", &url, &form);
    let _ = plivo_v3_signature("auth-token", method, &url, &form, &nonce);
    if let Some(key) = replay_key(provider, &request) {
        let mut guard = ReplayGuard::default();
        let _ = guard.begin(&key, 1_000);
        guard.finish(&key, selector & 0x20 == 0, 1_001);
        let _ = guard.begin(&key, 1_002);
    }
    let mut tokens = StreamTokens::new(TokenKey::new([9; 32]));
    let _ = tokens.check(&token, provider.as_str(), &url, &body, 1_000);
    let _ = tokens.redeem(&token, provider.as_str(), &url, &body, u64::MAX);
    let issued = tokens.issue(provider.as_str(), &url, &body, 1_000);
    assert_eq!(tokens.redeem(&issued, provider.as_str(), &url, &body, 1_000), Ok(()));
});
