//! SRTP and SRTCP (RFC 3711) keyed by SDES (RFC 4568), sans-IO: AES-CM with HMAC-SHA1 (80- or 32-bit tags,
//! 128- or 256-bit keys, RFC 6188) and AEAD AES-GCM (RFC 7714).
//!
//! One [`SrtpContext`] per direction of a call: the one made from our `a=crypto` key protects what we send, the
//! one made from the peer's unprotects what we receive (SDES gives each side its own master key). A context
//! derives its session keys once (RFC 3711 §4.3, key derivation rate 0) and keeps, per SSRC, the rollover
//! counter and a 64-packet replay window for SRTP and SRTCP. Packets are transformed in place in the caller's
//! buffer: no allocation, lock or clock read per packet; state changes only after a packet authenticates.
//!
//! Byte-compatible with libsrtp, including its first SRTCP index of 1 (RFC 3711 lets the sender choose).

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha1::Sha1;
use subtle::ConstantTimeEq;
pub use voicera_sip::sdp::{CryptoAttribute, Mki, SrtpSuite};

/// RFC 3711 §4.3.1 key derivation labels.
const LABEL_RTP_ENCRYPTION: u8 = 0x00;
const LABEL_RTP_AUTH: u8 = 0x01;
const LABEL_RTP_SALT: u8 = 0x02;
const LABEL_RTCP_ENCRYPTION: u8 = 0x03;
const LABEL_RTCP_AUTH: u8 = 0x04;
const LABEL_RTCP_SALT: u8 = 0x05;
/// HMAC-SHA1 session authentication key length (RFC 3711 §8.2: n_a = 160).
const AUTH_KEY_LEN: usize = 20;
/// The AES-CM KDF's salt: 112 bits; GCM's 96-bit master salt is zero-padded to it (RFC 7714 §11, as libsrtp).
const KDF_SALT_LEN: usize = 14;
/// Packets the replay window remembers below the highest index.
pub const REPLAY_WINDOW: u64 = 64;
/// SSRCs a context tracks at once (a transfer or a media server switch brings a new one); the least recently
/// used is forgotten first.
const MAX_SSRCS: usize = 4;
const RTP_HEADER_LEN: usize = 12;
/// RTCP header plus sender SSRC: never encrypted.
const RTCP_HEADER_LEN: usize = 8;
/// SRTCP's E flag and 31-bit index.
const SRTCP_TRAILER_LEN: usize = 4;
const SRTCP_E_FLAG: u32 = 0x8000_0000;
const SRTCP_MAX_INDEX: u32 = 0x7fff_ffff;

/// Why a packet could not be protected or unprotected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    /// The master key or salt has the wrong length for the suite.
    #[error("master key or salt has the wrong length for {0:?}")]
    KeyLength(SrtpSuite),
    /// An MKI must be 1 to 4 bytes.
    #[error("MKI length must be 1 to 4 bytes")]
    MkiLength,
    /// Not an RTP/RTCP packet, or too short for its header and trailer.
    #[error("packet is not RTP/RTCP or is too short")]
    Malformed,
    /// The buffer has no room after the packet for the tag (and MKI/index).
    #[error("buffer has no room for the SRTP trailer")]
    NoRoom,
    /// The tag does not match: forged, corrupted or another key. Dropped.
    #[error("authentication failed")]
    AuthFailed,
    /// The packet's MKI names no key of this context.
    #[error("packet carries an unknown MKI")]
    UnknownMki,
    /// This index was already accepted (a replay). Dropped.
    #[error("packet was already received")]
    Replayed,
    /// The index is behind the replay window, so it cannot be checked. Dropped.
    #[error("packet is older than the replay window")]
    TooOld,
    /// The 31-bit SRTCP index ran out: the key must be renewed.
    #[error("SRTCP index exhausted: the key must be renewed")]
    IndexExhausted,
    /// Unencrypted SRTCP was asked of an AEAD suite.
    #[error("unencrypted SRTCP under an AEAD suite is not supported")]
    Unsupported,
    /// The master key's lifetime (`a=crypto`'s `|2^n`) is used up: it must not protect or accept more
    /// packets until a re-INVITE brings a new one (RFC 3711 §9.2).
    #[error("the master key's lifetime is used up")]
    KeyExpired,
}

/// AES with either key size, for AES-CM and the KDF.
enum BlockCipher {
    Aes128(Box<Aes128>),
    Aes256(Box<Aes256>),
}

impl BlockCipher {
    fn new(key: &[u8]) -> Option<BlockCipher> {
        match key.len() {
            16 => Aes128::new_from_slice(key).ok().map(|c| BlockCipher::Aes128(Box::new(c))),
            32 => Aes256::new_from_slice(key).ok().map(|c| BlockCipher::Aes256(Box::new(c))),
            _ => None,
        }
    }

    /// XORs `data` with the AES counter-mode keystream starting at counter block `iv` (RFC 3711 §4.1.1).
    fn apply_keystream(&self, iv: &[u8; 16], data: &mut [u8]) {
        let start = u128::from_be_bytes(*iv);
        for (i, chunk) in data.chunks_mut(16).enumerate() {
            let mut block = aes::Block::from(start.wrapping_add(i as u128).to_be_bytes());
            match self {
                BlockCipher::Aes128(c) => c.encrypt_block(&mut block),
                BlockCipher::Aes256(c) => c.encrypt_block(&mut block),
            }
            for (d, k) in chunk.iter_mut().zip(block.iter()) {
                *d ^= k;
            }
        }
    }
}

/// RFC 3711 §4.3.1 with key_derivation_rate 0: `x = label at byte 7 XOR master salt`, keystream from `x·2^16`.
fn derive(kdf: &BlockCipher, master_salt: &[u8; KDF_SALT_LEN], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..KDF_SALT_LEN].copy_from_slice(master_salt);
    iv[7] ^= label;
    out.fill(0);
    kdf.apply_keystream(&iv, out);
}

/// The packet cipher of one session (SRTP or SRTCP).
enum SessionCipher {
    /// AES-CM encryption with HMAC-SHA1 authentication (the MAC is kept keyed and cloned per packet).
    CounterMode {
        cipher: BlockCipher,
        mac: Box<Hmac<Sha1>>,
    },
    Gcm128(Box<Aes128Gcm>),
    Gcm256(Box<Aes256Gcm>),
}

/// Session keys for SRTP or for SRTCP.
struct SessionKeys {
    cipher: SessionCipher,
    /// 14 bytes for AES-CM, the first 12 for GCM.
    salt: [u8; KDF_SALT_LEN],
}

impl SessionKeys {
    fn derive(
        suite: SrtpSuite,
        kdf: &BlockCipher,
        master_salt: &[u8; KDF_SALT_LEN],
        labels: [u8; 3],
    ) -> Result<SessionKeys, SrtpError> {
        let [encryption, auth, salt_label] = labels;
        let mut key = [0u8; 32];
        let key = &mut key[..suite.master_key_len()];
        derive(kdf, master_salt, encryption, key);
        let mut salt = [0u8; KDF_SALT_LEN];
        derive(kdf, master_salt, salt_label, &mut salt[..suite.master_salt_len()]);
        let cipher = if suite.is_aead() {
            match key.len() {
                16 => Aes128Gcm::new_from_slice(key).ok().map(|c| SessionCipher::Gcm128(Box::new(c))),
                _ => Aes256Gcm::new_from_slice(key).ok().map(|c| SessionCipher::Gcm256(Box::new(c))),
            }
        } else {
            let mut auth_key = [0u8; AUTH_KEY_LEN];
            derive(kdf, master_salt, auth, &mut auth_key);
            let mac = <Hmac<Sha1> as Mac>::new_from_slice(&auth_key).ok();
            auth_key.fill(0);
            BlockCipher::new(key)
                .zip(mac)
                .map(|(cipher, mac)| SessionCipher::CounterMode { cipher, mac: Box::new(mac) })
        };
        key.fill(0);
        Ok(SessionKeys { cipher: cipher.ok_or(SrtpError::KeyLength(suite))?, salt })
    }

    /// HMAC-SHA1 over `parts`, into `tag` (truncated to its length).
    fn hmac(mac: &Hmac<Sha1>, parts: &[&[u8]], tag: &mut [u8]) {
        let mut mac = mac.clone();
        for part in parts {
            mac.update(part);
        }
        let full = mac.finalize().into_bytes();
        tag.copy_from_slice(&full[..tag.len()]);
    }

    fn gcm_seal(&self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8], tag: &mut [u8]) -> Result<(), SrtpError> {
        let nonce = Nonce::from_slice(nonce);
        let sealed = match &self.cipher {
            SessionCipher::Gcm128(c) => c.encrypt_in_place_detached(nonce, aad, data),
            SessionCipher::Gcm256(c) => c.encrypt_in_place_detached(nonce, aad, data),
            SessionCipher::CounterMode { .. } => return Err(SrtpError::Unsupported),
        };
        // aes-gcm refuses only plaintexts beyond GCM's 2^36-byte limit.
        tag.copy_from_slice(&sealed.map_err(|_| SrtpError::Malformed)?);
        Ok(())
    }

    fn gcm_open(&self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8], tag: &[u8]) -> Result<(), SrtpError> {
        let nonce = Nonce::from_slice(nonce);
        let tag = Tag::from_slice(tag);
        let opened = match &self.cipher {
            SessionCipher::Gcm128(c) => c.decrypt_in_place_detached(nonce, aad, data, tag),
            SessionCipher::Gcm256(c) => c.decrypt_in_place_detached(nonce, aad, data, tag),
            SessionCipher::CounterMode { .. } => return Err(SrtpError::Unsupported),
        };
        opened.map_err(|_| SrtpError::AuthFailed)
    }

    /// The 12-byte GCM IV (RFC 7714 §8.1, §9.1): `00 00 | SSRC | high | low` XOR the session salt.
    fn gcm_nonce(&self, ssrc: u32, high: u32, low: u16) -> [u8; 12] {
        let mut nonce = [0u8; 12];
        nonce[2..6].copy_from_slice(&ssrc.to_be_bytes());
        nonce[6..10].copy_from_slice(&high.to_be_bytes());
        nonce[10..12].copy_from_slice(&low.to_be_bytes());
        for (n, s) in nonce.iter_mut().zip(self.salt.iter()) {
            *n ^= s;
        }
        nonce
    }

    /// The AES-CM IV (RFC 3711 §4.1.1): `salt·2^16 XOR SSRC·2^64 XOR index·2^16`.
    fn counter_iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..KDF_SALT_LEN].copy_from_slice(&self.salt);
        let ssrc = ssrc.to_be_bytes();
        for (i, b) in ssrc.iter().enumerate() {
            iv[4 + i] ^= b;
        }
        let index = (index << 16).to_be_bytes();
        for (i, b) in index.iter().enumerate() {
            iv[8 + i] ^= b;
        }
        iv
    }
}

/// A 64-packet sliding window over packet indices (RFC 3711 §3.3.2).
#[derive(Debug, Clone, Copy, Default)]
struct ReplayWindow {
    highest: u64,
    /// Bit n set: index `highest − n` was received.
    seen: u64,
}

impl ReplayWindow {
    fn check(&self, index: u64) -> Result<(), SrtpError> {
        if index > self.highest {
            return Ok(());
        }
        let behind = self.highest - index;
        if behind >= REPLAY_WINDOW {
            return Err(SrtpError::TooOld);
        }
        if self.seen & (1 << behind) != 0 {
            return Err(SrtpError::Replayed);
        }
        Ok(())
    }

    fn accept(&mut self, index: u64) {
        if index > self.highest {
            let ahead = index - self.highest;
            self.seen = if ahead >= REPLAY_WINDOW { 0 } else { self.seen << ahead };
            self.seen |= 1;
            self.highest = index;
        } else {
            self.seen |= 1 << (self.highest - index);
        }
    }

    fn first(index: u64) -> ReplayWindow {
        ReplayWindow { highest: index, seen: 1 }
    }
}

/// What a context remembers about one SSRC.
#[derive(Debug, Clone, Copy, Default)]
struct SsrcState {
    ssrc: u32,
    /// RTP: rollover counter and highest sequence number (`s_l`) live in `rtp.highest` (ROC·2^16 + SEQ).
    rtp: Option<ReplayWindow>,
    rtcp: Option<ReplayWindow>,
    /// The last SRTCP index we sent.
    rtcp_sent: u32,
    /// Recency, for eviction.
    last_used: u64,
}

impl SsrcState {
    /// RFC 3711 §3.3.1 / Appendix A: the packet index a sequence number most likely stands for, given the
    /// highest index so far (the rollover counter is not sent; it is inferred from the sequence numbers).
    fn estimate_index(&self, seq: u16) -> u64 {
        let Some(window) = self.rtp else {
            // SDES: both ends start at ROC 0 with the first sequence number seen.
            return u64::from(seq);
        };
        let roc = window.highest >> 16;
        let highest_seq = (window.highest & 0xffff) as u16;
        let guess = if highest_seq < 0x8000 {
            if seq > highest_seq && seq - highest_seq > 0x8000 && roc > 0 {
                roc - 1
            } else {
                roc
            }
        } else if highest_seq - 0x8000 > seq {
            roc + 1
        } else {
            roc
        };
        (guess << 16) | u64::from(seq)
    }
}

/// SRTP/SRTCP state for one direction of a call (see the module docs).
pub struct SrtpContext {
    suite: SrtpSuite,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    mki: Option<Mki>,
    ssrcs: [Option<SsrcState>; MAX_SSRCS],
    clock: u64,
    /// SRTP packets (and, counted apart, SRTCP packets) the master key may still protect or accept.
    rtp_packets_left: u64,
    rtcp_packets_left: u64,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext").field("suite", &self.suite).field("mki", &self.mki).finish_non_exhaustive()
    }
}

impl SrtpContext {
    /// Derives the session keys from a master key and salt of the suite's lengths.
    pub fn new(suite: SrtpSuite, master_key: &[u8], master_salt: &[u8]) -> Result<SrtpContext, SrtpError> {
        if master_key.len() != suite.master_key_len() || master_salt.len() != suite.master_salt_len() {
            return Err(SrtpError::KeyLength(suite));
        }
        let kdf = BlockCipher::new(master_key).ok_or(SrtpError::KeyLength(suite))?;
        let mut salt = [0u8; KDF_SALT_LEN];
        salt[..master_salt.len()].copy_from_slice(master_salt);
        let rtp = SessionKeys::derive(suite, &kdf, &salt, [LABEL_RTP_ENCRYPTION, LABEL_RTP_AUTH, LABEL_RTP_SALT])?;
        let rtcp = SessionKeys::derive(suite, &kdf, &salt, [LABEL_RTCP_ENCRYPTION, LABEL_RTCP_AUTH, LABEL_RTCP_SALT])?;
        Ok(SrtpContext {
            suite,
            rtp,
            rtcp,
            mki: None,
            ssrcs: [None; MAX_SSRCS],
            clock: 0,
            rtp_packets_left: u64::MAX,
            rtcp_packets_left: u64::MAX,
        })
    }

    /// The context for an SDP crypto attribute: its key, salt and MKI.
    pub fn from_crypto(crypto: &CryptoAttribute) -> Result<SrtpContext, SrtpError> {
        let mut context = SrtpContext::new(crypto.suite, crypto.master_key(), crypto.master_salt())?;
        if let Some(mki) = crypto.mki {
            context = context.with_mki(mki)?;
        }
        if let Some(lifetime) = crypto.lifetime {
            context = context.with_lifetime(lifetime);
        }
        Ok(context)
    }

    /// The master key may protect or accept at most `packets` SRTP packets (and as many SRTCP packets); past
    /// that every packet fails with [`SrtpError::KeyExpired`].
    pub fn with_lifetime(mut self, packets: u64) -> SrtpContext {
        self.rtp_packets_left = packets;
        self.rtcp_packets_left = packets;
        self
    }

    /// Packets carry (protect) or must carry (unprotect) this MKI.
    pub fn with_mki(mut self, mki: Mki) -> Result<SrtpContext, SrtpError> {
        if !(1..=4).contains(&mki.length) {
            return Err(SrtpError::MkiLength);
        }
        self.mki = Some(mki);
        Ok(self)
    }

    /// The crypto suite the context was keyed for.
    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// Bytes SRTP adds to an RTP packet: size send buffers as the RTP packet plus this.
    pub fn rtp_overhead(&self) -> usize {
        self.suite.rtp_tag_len() + self.mki_len()
    }

    /// Bytes SRTCP adds to an RTCP packet.
    pub fn rtcp_overhead(&self) -> usize {
        SRTCP_TRAILER_LEN + self.suite.rtcp_tag_len() + self.mki_len()
    }

    /// The current rollover counter for an SSRC (0 before any packet), for tests and diagnostics.
    pub fn rollover_counter(&self, ssrc: u32) -> u32 {
        self.find(ssrc).and_then(|s| s.rtp).map_or(0, |w| (w.highest >> 16) as u32)
    }

    /// Encrypts and authenticates the RTP packet in `buffer[..len]` in place, appending the MKI and tag;
    /// returns the SRTP packet's length. `buffer` needs [`SrtpContext::rtp_overhead`] bytes after `len`.
    pub fn protect_rtp(&mut self, buffer: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        if self.rtp_packets_left == 0 {
            return Err(SrtpError::KeyExpired);
        }
        let header_len = rtp_header_len(buffer.get(..len).ok_or(SrtpError::Malformed)?)?;
        let total = len + self.rtp_overhead();
        if buffer.len() < total {
            return Err(SrtpError::NoRoom);
        }
        let ssrc = read_u32(buffer, 8);
        let seq = u16::from_be_bytes([buffer[2], buffer[3]]);
        let mut state = self.state_or_new(ssrc);
        let index = state.estimate_index(seq);
        if let Some(window) = &state.rtp {
            window.check(index)?;
        }
        let tag_len = self.suite.rtp_tag_len();
        let mki_len = self.mki_len();
        match &self.rtp.cipher {
            SessionCipher::CounterMode { cipher, mac } => {
                cipher.apply_keystream(&self.rtp.counter_iv(ssrc, index), &mut buffer[header_len..len]);
                self.write_mki(&mut buffer[len..len + mki_len]);
                let roc = ((index >> 16) as u32).to_be_bytes();
                let (authenticated, trailer) = buffer.split_at_mut(len);
                SessionKeys::hmac(mac, &[authenticated, &roc], &mut trailer[mki_len..mki_len + tag_len]);
            }
            SessionCipher::Gcm128(_) | SessionCipher::Gcm256(_) => {
                let nonce = self.rtp.gcm_nonce(ssrc, (index >> 16) as u32, seq);
                let (header, rest) = buffer.split_at_mut(header_len);
                let (payload, trailer) = rest.split_at_mut(len - header_len);
                self.rtp.gcm_seal(&nonce, header, payload, &mut trailer[..tag_len])?;
                self.write_mki(&mut buffer[len + tag_len..len + tag_len + mki_len]);
            }
        }
        accept(&mut state.rtp, index);
        self.store(state);
        self.rtp_packets_left -= 1;
        Ok(total)
    }

    /// Authenticates and decrypts the SRTP packet `buffer` in place; returns the length of the RTP packet now
    /// at its start. Nothing changes (no state, no bytes) when it fails.
    pub fn unprotect_rtp(&mut self, buffer: &mut [u8]) -> Result<usize, SrtpError> {
        if self.rtp_packets_left == 0 {
            return Err(SrtpError::KeyExpired);
        }
        let overhead = self.rtp_overhead();
        let len = buffer.len().checked_sub(overhead).ok_or(SrtpError::Malformed)?;
        let header_len = rtp_header_len(&buffer[..len])?;
        let ssrc = read_u32(buffer, 8);
        let seq = u16::from_be_bytes([buffer[2], buffer[3]]);
        let mut state = self.find(ssrc).unwrap_or(SsrcState { ssrc, ..SsrcState::default() });
        let index = state.estimate_index(seq);
        if let Some(window) = &state.rtp {
            window.check(index)?;
        }
        let tag_len = self.suite.rtp_tag_len();
        let mki_len = self.mki_len();
        match &self.rtp.cipher {
            SessionCipher::CounterMode { cipher, mac } => {
                self.check_mki(&buffer[len..len + mki_len])?;
                let mut expected = [0u8; 10];
                let roc = ((index >> 16) as u32).to_be_bytes();
                SessionKeys::hmac(mac, &[&buffer[..len], &roc], &mut expected[..tag_len]);
                let received = &buffer[len + mki_len..];
                if !bool::from(received.ct_eq(&expected[..tag_len])) {
                    return Err(SrtpError::AuthFailed);
                }
                cipher.apply_keystream(&self.rtp.counter_iv(ssrc, index), &mut buffer[header_len..len]);
            }
            SessionCipher::Gcm128(_) | SessionCipher::Gcm256(_) => {
                // RFC 7714: the MKI follows the tag.
                let cipher_end = buffer.len() - mki_len;
                self.check_mki(&buffer[cipher_end..])?;
                let payload_end = cipher_end - tag_len;
                let nonce = self.rtp.gcm_nonce(ssrc, (index >> 16) as u32, seq);
                let (header, rest) = buffer.split_at_mut(header_len);
                let (payload, tag) = rest.split_at_mut(payload_end - header_len);
                self.rtp.gcm_open(&nonce, header, payload, &tag[..tag_len])?;
            }
        }
        accept(&mut state.rtp, index);
        self.store(state);
        self.rtp_packets_left -= 1;
        Ok(len)
    }

    /// Encrypts and authenticates the RTCP compound packet in `buffer[..len]` in place, appending the E flag
    /// and SRTCP index, the MKI and the tag; returns the SRTCP packet's length. `buffer` needs
    /// [`SrtpContext::rtcp_overhead`] bytes after `len`.
    pub fn protect_rtcp(&mut self, buffer: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        if self.rtcp_packets_left == 0 {
            return Err(SrtpError::KeyExpired);
        }
        if len < RTCP_HEADER_LEN || len > buffer.len() || buffer[0] >> 6 != 2 {
            return Err(SrtpError::Malformed);
        }
        let total = len + self.rtcp_overhead();
        if buffer.len() < total {
            return Err(SrtpError::NoRoom);
        }
        let ssrc = read_u32(buffer, 4);
        let mut state = self.state_or_new(ssrc);
        if state.rtcp_sent >= SRTCP_MAX_INDEX {
            return Err(SrtpError::IndexExhausted);
        }
        let index = state.rtcp_sent + 1;
        let trailer = (SRTCP_E_FLAG | index).to_be_bytes();
        let tag_len = self.suite.rtcp_tag_len();
        let mki_len = self.mki_len();
        match &self.rtcp.cipher {
            SessionCipher::CounterMode { cipher, mac } => {
                cipher
                    .apply_keystream(&self.rtcp.counter_iv(ssrc, u64::from(index)), &mut buffer[RTCP_HEADER_LEN..len]);
                buffer[len..len + SRTCP_TRAILER_LEN].copy_from_slice(&trailer);
                let authenticated_end = len + SRTCP_TRAILER_LEN;
                self.write_mki(&mut buffer[authenticated_end..authenticated_end + mki_len]);
                let (authenticated, rest) = buffer.split_at_mut(authenticated_end);
                SessionKeys::hmac(mac, &[authenticated], &mut rest[mki_len..mki_len + tag_len]);
            }
            SessionCipher::Gcm128(_) | SessionCipher::Gcm256(_) => {
                let nonce = self.rtcp.gcm_nonce(ssrc, 0, 0);
                let nonce = xor_index(nonce, index);
                let mut aad = [0u8; RTCP_HEADER_LEN + SRTCP_TRAILER_LEN];
                aad[..RTCP_HEADER_LEN].copy_from_slice(&buffer[..RTCP_HEADER_LEN]);
                aad[RTCP_HEADER_LEN..].copy_from_slice(&trailer);
                let (payload, rest) = buffer[RTCP_HEADER_LEN..].split_at_mut(len - RTCP_HEADER_LEN);
                self.rtcp.gcm_seal(&nonce, &aad, payload, &mut rest[..tag_len])?;
                let trailer_at = len + tag_len;
                buffer[trailer_at..trailer_at + SRTCP_TRAILER_LEN].copy_from_slice(&trailer);
                let mki_at = trailer_at + SRTCP_TRAILER_LEN;
                self.write_mki(&mut buffer[mki_at..mki_at + mki_len]);
            }
        }
        state.rtcp_sent = index;
        self.store(state);
        self.rtcp_packets_left -= 1;
        Ok(total)
    }

    /// Authenticates and (when its E flag says so) decrypts the SRTCP packet `buffer` in place; returns the
    /// length of the RTCP packet now at its start.
    pub fn unprotect_rtcp(&mut self, buffer: &mut [u8]) -> Result<usize, SrtpError> {
        if self.rtcp_packets_left == 0 {
            return Err(SrtpError::KeyExpired);
        }
        let overhead = self.rtcp_overhead();
        let len = buffer.len().checked_sub(overhead).ok_or(SrtpError::Malformed)?;
        if len < RTCP_HEADER_LEN || buffer[0] >> 6 != 2 {
            return Err(SrtpError::Malformed);
        }
        let ssrc = read_u32(buffer, 4);
        let tag_len = self.suite.rtcp_tag_len();
        let mki_len = self.mki_len();
        let mut state = self.find(ssrc).unwrap_or(SsrcState { ssrc, ..SsrcState::default() });
        match &self.rtcp.cipher {
            SessionCipher::CounterMode { cipher, mac } => {
                // header | payload | E+index | MKI | tag
                let trailer = read_u32(buffer, len);
                let index = trailer & SRTCP_MAX_INDEX;
                if let Some(window) = &state.rtcp {
                    window.check(u64::from(index))?;
                }
                let authenticated_end = len + SRTCP_TRAILER_LEN;
                self.check_mki(&buffer[authenticated_end..authenticated_end + mki_len])?;
                let mut expected = [0u8; 10];
                SessionKeys::hmac(mac, &[&buffer[..authenticated_end]], &mut expected[..tag_len]);
                if !bool::from(buffer[authenticated_end + mki_len..].ct_eq(&expected[..tag_len])) {
                    return Err(SrtpError::AuthFailed);
                }
                if trailer & SRTCP_E_FLAG != 0 {
                    let iv = self.rtcp.counter_iv(ssrc, u64::from(index));
                    cipher.apply_keystream(&iv, &mut buffer[RTCP_HEADER_LEN..len]);
                }
                accept(&mut state.rtcp, u64::from(index));
            }
            SessionCipher::Gcm128(_) | SessionCipher::Gcm256(_) => {
                // header | ciphertext | tag | E+index | MKI
                let trailer_at = buffer.len() - mki_len - SRTCP_TRAILER_LEN;
                let trailer = read_u32(buffer, trailer_at);
                if trailer & SRTCP_E_FLAG == 0 {
                    return Err(SrtpError::Unsupported);
                }
                let index = trailer & SRTCP_MAX_INDEX;
                if let Some(window) = &state.rtcp {
                    window.check(u64::from(index))?;
                }
                self.check_mki(&buffer[trailer_at + SRTCP_TRAILER_LEN..])?;
                let nonce = xor_index(self.rtcp.gcm_nonce(ssrc, 0, 0), index);
                let mut aad = [0u8; RTCP_HEADER_LEN + SRTCP_TRAILER_LEN];
                aad[..RTCP_HEADER_LEN].copy_from_slice(&buffer[..RTCP_HEADER_LEN]);
                aad[RTCP_HEADER_LEN..].copy_from_slice(&trailer.to_be_bytes());
                let (payload, rest) = buffer[RTCP_HEADER_LEN..].split_at_mut(len - RTCP_HEADER_LEN);
                self.rtcp.gcm_open(&nonce, &aad, payload, &rest[..tag_len])?;
                accept(&mut state.rtcp, u64::from(index));
            }
        }
        self.store(state);
        self.rtcp_packets_left -= 1;
        Ok(len)
    }

    fn mki_len(&self) -> usize {
        self.mki.map_or(0, |m| usize::from(m.length))
    }

    fn write_mki(&self, out: &mut [u8]) {
        if let Some(mki) = self.mki {
            let bytes = mki.value.to_be_bytes();
            out.copy_from_slice(&bytes[4 - out.len()..]);
        }
    }

    fn check_mki(&self, received: &[u8]) -> Result<(), SrtpError> {
        let Some(mki) = self.mki else { return Ok(()) };
        let bytes = mki.value.to_be_bytes();
        if received == &bytes[4 - received.len()..] {
            Ok(())
        } else {
            Err(SrtpError::UnknownMki)
        }
    }

    fn find(&self, ssrc: u32) -> Option<SsrcState> {
        self.ssrcs.iter().flatten().find(|s| s.ssrc == ssrc).copied()
    }

    fn state_or_new(&self, ssrc: u32) -> SsrcState {
        self.find(ssrc).unwrap_or(SsrcState { ssrc, ..SsrcState::default() })
    }

    /// Saves an SSRC's state after a packet succeeded, evicting the least recently used SSRC if full.
    fn store(&mut self, mut state: SsrcState) {
        self.clock += 1;
        state.last_used = self.clock;
        let slot = self
            .ssrcs
            .iter()
            .position(|s| s.is_some_and(|s| s.ssrc == state.ssrc))
            .or_else(|| self.ssrcs.iter().position(Option::is_none))
            .or_else(|| (0..MAX_SSRCS).min_by_key(|i| self.ssrcs[*i].map_or(0, |s| s.last_used)))
            .unwrap_or(0);
        self.ssrcs[slot] = Some(state);
    }
}

/// The SDES keys of an SRTP call, as the offer/answer agreed them: each side sends under its own key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    /// Our `a=crypto` line: the key we protect with (the peer's receive key).
    pub local: CryptoAttribute,
    /// The peer's `a=crypto` line: the key it protects with (ours to unprotect with).
    pub remote: CryptoAttribute,
}

impl SrtpKeys {
    /// The agreed suite (both lines carry the same one).
    pub fn suite(&self) -> SrtpSuite {
        self.local.suite
    }
}

/// Both directions of an SRTP call: the context we protect with and the one we unprotect with.
#[derive(Debug)]
pub struct SrtpSession {
    send: SrtpContext,
    receive: SrtpContext,
    keys: SrtpKeys,
}

impl SrtpSession {
    /// The two contexts for `keys`.
    pub fn new(keys: &SrtpKeys) -> Result<SrtpSession, SrtpError> {
        Ok(SrtpSession {
            send: SrtpContext::from_crypto(&keys.local)?,
            receive: SrtpContext::from_crypto(&keys.remote)?,
            keys: keys.clone(),
        })
    }

    /// A renegotiation (re-INVITE): a direction whose key changed gets a new context; one whose key stayed
    /// keeps its context, so its rollover counter and replay window carry on (a new context on an unchanged
    /// key would restart the keystream's index: keystream reuse).
    pub fn rekey(&mut self, keys: &SrtpKeys) -> Result<(), SrtpError> {
        if !same_key(&keys.local, &self.keys.local) {
            self.send = SrtpContext::from_crypto(&keys.local)?;
        }
        if !same_key(&keys.remote, &self.keys.remote) {
            self.receive = SrtpContext::from_crypto(&keys.remote)?;
        }
        self.keys = keys.clone();
        Ok(())
    }

    /// The keys the session runs under.
    pub fn keys(&self) -> &SrtpKeys {
        &self.keys
    }

    /// The context that protects what we send.
    pub fn send(&mut self) -> &mut SrtpContext {
        &mut self.send
    }

    /// The context that unprotects what we receive.
    pub fn receive(&mut self) -> &mut SrtpContext {
        &mut self.receive
    }
}

/// Whether two `a=crypto` lines carry the same master key (the tag may differ: an answer keeps its key under
/// the tag of a new offer).
fn same_key(a: &CryptoAttribute, b: &CryptoAttribute) -> bool {
    a.suite == b.suite && a.key_salt == b.key_salt && a.mki == b.mki
}

/// A fresh master key and salt for `suite` from the thread's CSPRNG, for our `a=crypto` line.
pub fn generate_key_salt(suite: SrtpSuite) -> Vec<u8> {
    let mut key_salt = vec![0u8; suite.master_key_len() + suite.master_salt_len()];
    rand::rng().fill_bytes(&mut key_salt);
    key_salt
}

fn accept(window: &mut Option<ReplayWindow>, index: u64) {
    match window {
        Some(w) => w.accept(index),
        None => *window = Some(ReplayWindow::first(index)),
    }
}

/// Adds the SRTCP index to the last four bytes of a GCM nonce (RFC 7714 §9.1).
fn xor_index(mut nonce: [u8; 12], index: u32) -> [u8; 12] {
    for (n, b) in nonce[8..].iter_mut().zip(index.to_be_bytes()) {
        *n ^= b;
    }
    nonce
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Length of an RTP header with its CSRCs and extension: the part SRTP leaves in the clear.
fn rtp_header_len(packet: &[u8]) -> Result<usize, SrtpError> {
    if packet.len() < RTP_HEADER_LEN || packet[0] >> 6 != 2 {
        return Err(SrtpError::Malformed);
    }
    let mut len = RTP_HEADER_LEN + 4 * usize::from(packet[0] & 0x0f);
    if packet[0] & 0x10 != 0 {
        let words = packet.get(len + 2..len + 4).ok_or(SrtpError::Malformed)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    if len > packet.len() {
        return Err(SrtpError::Malformed);
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    /// RFC 3711 Appendix B.2: the AES-CM keystream for session key 2B7E…, salt F0F1…FD, SSRC 0, index 0.
    #[test]
    fn aes_cm_keystream_matches_rfc3711_b2() {
        let cipher = BlockCipher::new(&hex("2B7E151628AED2A6ABF7158809CF4F3C")).unwrap();
        let mut salt = [0u8; KDF_SALT_LEN];
        salt.copy_from_slice(&hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"));
        let keys = SessionKeys {
            cipher: SessionCipher::CounterMode {
                cipher: BlockCipher::new(&[0; 16]).unwrap(),
                mac: Box::new(<Hmac<Sha1> as Mac>::new_from_slice(&[0; 20]).unwrap()),
            },
            salt,
        };
        let iv = keys.counter_iv(0, 0);
        assert_eq!(iv.to_vec(), hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"));
        let mut keystream = [0u8; 32];
        cipher.apply_keystream(&iv, &mut keystream);
        assert_eq!(keystream.to_vec(), hex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB"));
    }

    /// RFC 3711 Appendix B.3: session keys from master key E1F9… and master salt 0EC6….
    #[test]
    fn key_derivation_matches_rfc3711_b3() {
        let kdf = BlockCipher::new(&hex("E1F97A0D3E018BE0D64FA32C06DE4139")).unwrap();
        let mut salt = [0u8; KDF_SALT_LEN];
        salt.copy_from_slice(&hex("0EC675AD498AFEEBB6960B3AABE6"));
        let mut key = [0u8; 16];
        derive(&kdf, &salt, LABEL_RTP_ENCRYPTION, &mut key);
        assert_eq!(key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut session_salt = [0u8; 14];
        derive(&kdf, &salt, LABEL_RTP_SALT, &mut session_salt);
        assert_eq!(session_salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        let mut auth = [0u8; 94];
        derive(&kdf, &salt, LABEL_RTP_AUTH, &mut auth);
        assert_eq!(
            auth.to_vec(),
            hex("CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
                 E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
                 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2")
        );
    }

    /// RFC 6188 §7.2: the AES-256 key derivation.
    #[test]
    fn aes_256_key_derivation_matches_rfc6188() {
        let kdf = BlockCipher::new(&hex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6")).unwrap();
        let mut salt = [0u8; KDF_SALT_LEN];
        salt.copy_from_slice(&hex("3b04803de51ee7c96423ab5b78d2"));
        let mut key = [0u8; 32];
        derive(&kdf, &salt, LABEL_RTP_ENCRYPTION, &mut key);
        assert_eq!(key.to_vec(), hex("5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4"));
        let mut session_salt = [0u8; 14];
        derive(&kdf, &salt, LABEL_RTP_SALT, &mut session_salt);
        assert_eq!(session_salt.to_vec(), hex("fa31791685ca444a9e07c6c64e93"));
    }

    /// RFC 7714's vectors start from session keys (no KDF): a context with the given GCM session key and salt.
    fn gcm_session_context(key: &[u8], salt: &[u8]) -> SrtpContext {
        let session = || {
            let mut session_salt = [0u8; KDF_SALT_LEN];
            session_salt[..12].copy_from_slice(salt);
            SessionKeys {
                cipher: SessionCipher::Gcm128(Box::new(Aes128Gcm::new_from_slice(key).unwrap())),
                salt: session_salt,
            }
        };
        SrtpContext {
            suite: SrtpSuite::AeadAes128Gcm,
            rtp: session(),
            rtcp: session(),
            mki: None,
            ssrcs: [None; MAX_SSRCS],
            clock: 0,
            rtp_packets_left: u64::MAX,
            rtcp_packets_left: u64::MAX,
        }
    }

    /// RFC 7714 §16.1.1: AEAD_AES_128_GCM encryption of an RTP packet, and §16.1 / §17.1 IVs.
    #[test]
    fn gcm_matches_rfc7714() {
        let mut sender =
            gcm_session_context(&hex("000102030405060708090a0b0c0d0e0f"), &hex("517569642070726f2071756f"));
        assert_eq!(sender.rtp.gcm_nonce(0x5501_a0b2, 0, 0xf17b).to_vec(), hex("51753c6580c2726f20718414"));
        assert_eq!(
            xor_index(sender.rtcp.gcm_nonce(0x4d61_7273, 0, 0), 0x5d4).to_vec(),
            hex("517524055203726f207170bb")
        );
        let plain = hex("8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976
             69736120 696e2070 61727465 73207472 6573");
        let protected = hex("8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 0d294e6f
             42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce");
        let mut buffer = plain.clone();
        buffer.resize(plain.len() + 16, 0);
        assert_eq!(sender.protect_rtp(&mut buffer, plain.len()), Ok(protected.len()));
        assert_eq!(buffer, protected);
        let mut receiver =
            gcm_session_context(&hex("000102030405060708090a0b0c0d0e0f"), &hex("517569642070726f2071756f"));
        assert_eq!(receiver.unprotect_rtp(&mut buffer), Ok(plain.len()));
        assert_eq!(buffer[..plain.len()], plain[..]);
    }

    #[test]
    fn the_replay_window_slides() {
        let mut window = ReplayWindow::first(100);
        assert_eq!(window.check(100), Err(SrtpError::Replayed));
        assert_eq!(window.check(99), Ok(()));
        window.accept(99);
        assert_eq!(window.check(99), Err(SrtpError::Replayed));
        window.accept(200);
        assert_eq!(window.check(100), Err(SrtpError::TooOld));
        assert_eq!(window.check(137), Ok(()));
        assert_eq!(window.check(136), Err(SrtpError::TooOld));
        window.accept(201);
        assert_eq!(window.check(200), Err(SrtpError::Replayed));
    }

    #[test]
    fn the_index_estimate_follows_rfc3711_appendix_a() {
        let mut state = SsrcState::default();
        assert_eq!(state.estimate_index(65000), 65000, "the first packet sets ROC 0");
        state.rtp = Some(ReplayWindow::first(65535));
        assert_eq!(state.estimate_index(3), (1 << 16) | 3, "wrapped forward");
        assert_eq!(state.estimate_index(40000), 40000, "late, same ROC");
        state.rtp = Some(ReplayWindow::first((1 << 16) | 3));
        assert_eq!(state.estimate_index(65534), 65534, "late from before the wrap");
        assert_eq!(state.estimate_index(10), (1 << 16) | 10);
        state.rtp = Some(ReplayWindow::first(3));
        assert_eq!(state.estimate_index(65534), 65534, "ROC 0 cannot go back");
    }

    fn crypto(tag: u32, suite: SrtpSuite, fill: u8) -> CryptoAttribute {
        CryptoAttribute {
            tag,
            suite,
            key_salt: vec![fill; suite.master_key_len() + suite.master_salt_len()],
            lifetime: None,
            mki: None,
            session_params: Vec::new(),
        }
    }

    fn rtp_packet(seq: u16) -> ([u8; 64], usize) {
        let mut buffer = [0u8; 64];
        buffer[0] = 0x80;
        buffer[2..4].copy_from_slice(&seq.to_be_bytes());
        buffer[8..12].copy_from_slice(&42u32.to_be_bytes());
        buffer[12..32].fill(0x55);
        (buffer, 32)
    }

    #[test]
    fn a_key_past_its_lifetime_protects_and_accepts_nothing() {
        let mut attribute = crypto(1, SrtpSuite::AesCm128HmacSha1_80, 3);
        attribute.lifetime = Some(2);
        let (mut sender, mut receiver) =
            (SrtpContext::from_crypto(&attribute).unwrap(), SrtpContext::from_crypto(&attribute).unwrap());
        for seq in 0..2 {
            let (mut buffer, len) = rtp_packet(seq);
            let len = sender.protect_rtp(&mut buffer, len).unwrap();
            assert_eq!(receiver.unprotect_rtp(&mut buffer[..len]), Ok(32));
        }
        let (mut buffer, len) = rtp_packet(2);
        assert_eq!(sender.protect_rtp(&mut buffer, len), Err(SrtpError::KeyExpired));
        let mut unlimited = SrtpContext::from_crypto(&crypto(1, SrtpSuite::AesCm128HmacSha1_80, 3)).unwrap();
        let (mut buffer, len) = rtp_packet(2);
        let len = unlimited.protect_rtp(&mut buffer, len).unwrap();
        assert_eq!(receiver.unprotect_rtp(&mut buffer[..len]), Err(SrtpError::KeyExpired));
    }

    /// A rekey replaces only the direction whose key changed: the other keeps its replay window.
    #[test]
    fn a_session_rekeys_only_the_direction_whose_key_changed() {
        let keys = SrtpKeys {
            local: crypto(1, SrtpSuite::AesCm128HmacSha1_80, 1),
            remote: crypto(1, SrtpSuite::AesCm128HmacSha1_80, 2),
        };
        let mut session = SrtpSession::new(&keys).unwrap();
        let mut peer_sender = SrtpContext::from_crypto(&keys.remote).unwrap();
        let (mut sent, len) = rtp_packet(10);
        let sent_len = peer_sender.protect_rtp(&mut sent, len).unwrap();
        let mut copy = sent;
        assert_eq!(session.receive().unprotect_rtp(&mut copy[..sent_len]), Ok(32));
        // Same keys under a new tag: nothing restarts, so the replay is still caught.
        let retagged =
            SrtpKeys { local: CryptoAttribute { tag: 5, ..keys.local.clone() }, remote: keys.remote.clone() };
        session.rekey(&retagged).unwrap();
        let mut copy = sent;
        assert_eq!(session.receive().unprotect_rtp(&mut copy[..sent_len]), Err(SrtpError::Replayed));
        // A new peer key: the old key's packets no longer authenticate, the new key's do.
        let rekeyed = SrtpKeys { local: keys.local.clone(), remote: crypto(2, SrtpSuite::AesCm128HmacSha1_80, 9) };
        session.rekey(&rekeyed).unwrap();
        let (mut old, len) = rtp_packet(11);
        let old_len = peer_sender.protect_rtp(&mut old, len).unwrap();
        assert_eq!(session.receive().unprotect_rtp(&mut old[..old_len]), Err(SrtpError::AuthFailed));
        let mut new_sender = SrtpContext::from_crypto(&rekeyed.remote).unwrap();
        let (mut new, len) = rtp_packet(12);
        let new_len = new_sender.protect_rtp(&mut new, len).unwrap();
        assert_eq!(session.receive().unprotect_rtp(&mut new[..new_len]), Ok(32));
        assert_eq!(session.keys(), &rekeyed);
    }
}
