//! The small XML documents a provider fetches from us besides the stream answer: the one that dials a
//! transfer's target.

use crate::account::Provider;

/// `text` escaped for an XML attribute or element.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The document that connects the caller to `target`: `<Dial><Number>` for numbers, `<User>`/`<Sip>` for SIP.
pub fn dial_document(provider: Provider, target: &str) -> String {
    let sip = target.starts_with("sip:") || target.starts_with("sips:");
    let target = xml_escape(target);
    match (provider, sip) {
        (Provider::Twilio, true) => format!("<Response><Dial><Sip>{target}</Sip></Dial></Response>"),
        (Provider::Twilio, false) => format!("<Response><Dial><Number>{target}</Number></Dial></Response>"),
        (_, true) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Dial><User>{target}</User></Dial></Response>\n"
        ),
        (_, false) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Dial><Number>{target}</Number></Dial></Response>\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_documents_escape_the_target() {
        assert!(dial_document(Provider::Vobiz, "+91800").contains("<Dial><Number>+91800</Number></Dial>"));
        assert!(dial_document(Provider::Plivo, "sip:a&b@h").contains("<User>sip:a&amp;b@h</User>"));
    }
}
