//! [`CallKey`]: how the signalling service names a call (its dialog: Call-ID, our tag, the peer's tag), as a type
//! of its own so that a call's key cannot be mixed up with a Call-ID, a tag, a target or any other string.

use voicera_sip::dialog::DialogId;

/// The key of a call: its dialog id printed as `call-id;local=tag;remote=tag`. The text is what logs, the API
/// and the call's media see; the maps of the service are keyed by this type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey(String);

impl CallKey {
    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&DialogId> for CallKey {
    fn from(id: &DialogId) -> Self {
        CallKey(id.to_string())
    }
}

/// A key received as text (an API request, a test): not checked, a key no call has simply finds nothing.
impl From<String> for CallKey {
    fn from(text: String) -> Self {
        CallKey(text)
    }
}

/// See `From<String>`.
impl From<&str> for CallKey {
    fn from(text: &str) -> Self {
        CallKey(text.to_string())
    }
}

impl From<CallKey> for String {
    fn from(key: CallKey) -> Self {
        key.0
    }
}

/// Read access as `&str` (logging, the call's media and records), never the other way round.
impl std::ops::Deref for CallKey {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CallKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_its_dialog() {
        let id = DialogId { call_id: "c1@h".into(), local_tag: "ours".into(), remote_tag: "theirs".into() };
        let key = CallKey::from(&id);
        assert_eq!(key.as_str(), "c1@h;local=ours;remote=theirs");
        assert_eq!(key, CallKey::from("c1@h;local=ours;remote=theirs"));
        assert_ne!(key, CallKey::from(&DialogId { remote_tag: "other".into(), ..id }));
    }
}
