//! SRTP against libsrtp's reference packets (its `srtp_driver` validation vectors, byte for byte), and the
//! behaviours a call relies on: round trips for every suite, tampering and replay refused, the rollover
//! counter carried across sequence number 65535, MKIs, SRTCP.

use voicera_media::srtp::{CryptoAttribute, Mki, SrtpContext, SrtpError, SrtpSuite};

fn hex(text: &str) -> Vec<u8> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// libsrtp's `test_key` (key and salt are those of RFC 3711 B.3).
const LIBSRTP_KEY: &str = "e1f97a0d3e018be0d64fa32c06de4139";
const LIBSRTP_SALT: &str = "0ec675ad498afeebb6960b3aabe6";
/// RTP: SSRC cafebabe, sequence 0x1234, sixteen bytes of 0xab.
const RTP_PLAIN: &str = "800f1234decafbadcafebabe abababababababababababababababab";
/// RTCP sender report header, SSRC cafebabe, sixteen bytes of 0xab.
const RTCP_PLAIN: &str = "81c8000bcafebabe abababababababababababababababab";

/// Protects `plain` (with `overhead` spare bytes) and returns the packet.
fn protect(context: &mut SrtpContext, plain: &[u8], rtcp: bool) -> Vec<u8> {
    let mut buffer = plain.to_vec();
    buffer.resize(plain.len() + 64, 0);
    let n = if rtcp {
        context.protect_rtcp(&mut buffer, plain.len()).unwrap()
    } else {
        context.protect_rtp(&mut buffer, plain.len()).unwrap()
    };
    buffer.truncate(n);
    buffer
}

fn unprotect(context: &mut SrtpContext, packet: &[u8], rtcp: bool) -> Result<Vec<u8>, SrtpError> {
    let mut buffer = packet.to_vec();
    let n = if rtcp { context.unprotect_rtcp(&mut buffer)? } else { context.unprotect_rtp(&mut buffer)? };
    buffer.truncate(n);
    Ok(buffer)
}

/// libsrtp `srtp_validate()`: AES_CM_128_HMAC_SHA1_80 SRTP and SRTCP.
#[test]
fn aes_cm_128_matches_libsrtp() {
    let key = hex(LIBSRTP_KEY);
    let salt = hex(LIBSRTP_SALT);
    let mut sender = SrtpContext::new(SrtpSuite::AesCm128HmacSha1_80, &key, &salt).unwrap();
    let srtp = hex("800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb");
    let srtcp = hex("81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798");
    assert_eq!(protect(&mut sender, &hex(RTP_PLAIN), false), srtp);
    assert_eq!(protect(&mut sender, &hex(RTCP_PLAIN), true), srtcp);
    let mut receiver = SrtpContext::new(SrtpSuite::AesCm128HmacSha1_80, &key, &salt).unwrap();
    assert_eq!(unprotect(&mut receiver, &srtp, false).unwrap(), hex(RTP_PLAIN));
    assert_eq!(unprotect(&mut receiver, &srtcp, true).unwrap(), hex(RTCP_PLAIN));
}

/// libsrtp `srtp_validate_gcm()`: AEAD_AES_128_GCM SRTP and SRTCP (RFC 7714 framing).
#[test]
fn aead_aes_128_gcm_matches_libsrtp() {
    let key = hex("000102030405060708090a0b0c0d0e0f");
    let salt = hex("a0a1a2a3a4a5a6a7a8a9aaab");
    let mut sender = SrtpContext::new(SrtpSuite::AeadAes128Gcm, &key, &salt).unwrap();
    let srtp = hex("800f1234decafbadcafebabe c5002ede04cfdd2eb91159e0880aa06e d2976826f796b201df3131a127e8a392");
    let srtcp = hex("81c8000bcafebabe c98b8b5df0392a55852b6c21ac8e7025 c52c6fbea2b3b446ea31123ba88ce61e 80000001");
    assert_eq!(protect(&mut sender, &hex(RTP_PLAIN), false), srtp);
    assert_eq!(protect(&mut sender, &hex(RTCP_PLAIN), true), srtcp);
    let mut receiver = SrtpContext::new(SrtpSuite::AeadAes128Gcm, &key, &salt).unwrap();
    assert_eq!(unprotect(&mut receiver, &srtp, false).unwrap(), hex(RTP_PLAIN));
    assert_eq!(unprotect(&mut receiver, &srtcp, true).unwrap(), hex(RTCP_PLAIN));
}

/// libsrtp `srtp_validate_aes_256()`: AES_256_CM_HMAC_SHA1_80 SRTP.
#[test]
fn aes_cm_256_matches_libsrtp() {
    let key = hex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6");
    let salt = hex("3b04803de51ee7c96423ab5b78d2");
    let mut sender = SrtpContext::new(SrtpSuite::AesCm256HmacSha1_80, &key, &salt).unwrap();
    let srtp = hex("800f1234decafbadcafebabe f1d9de17ff251ff1aa007774b0b4b40d a08d9d9a5b3a55d8873b");
    assert_eq!(protect(&mut sender, &hex(RTP_PLAIN), false), srtp);
    let mut receiver = SrtpContext::new(SrtpSuite::AesCm256HmacSha1_80, &key, &salt).unwrap();
    assert_eq!(unprotect(&mut receiver, &srtp, false).unwrap(), hex(RTP_PLAIN));
}

/// A fresh pair of contexts sharing one random master key, as SDES gives each direction.
fn pair(suite: SrtpSuite) -> (SrtpContext, SrtpContext) {
    let key_salt = voicera_media::srtp::generate_key_salt(suite);
    let (key, salt) = key_salt.split_at(suite.master_key_len());
    (SrtpContext::new(suite, key, salt).unwrap(), SrtpContext::new(suite, key, salt).unwrap())
}

/// An RTP packet with a CSRC and a header extension (both stay in the clear and are authenticated).
fn rtp_packet(seq: u16, ssrc: u32, payload_len: usize) -> Vec<u8> {
    let mut packet = vec![0x91, 0x00];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend_from_slice(&0x1111_1111u32.to_be_bytes()); // CSRC
    packet.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 0x10, 0x42, 0x00, 0x00]); // one-byte extension
    packet.extend((0..payload_len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seq as u8)));
    packet
}

#[test]
fn every_suite_round_trips_and_refuses_tampering() {
    for suite in SrtpSuite::PREFERENCE {
        let (mut sender, mut receiver) = pair(suite);
        for seq in 0..20u16 {
            let plain = rtp_packet(seq, 0x1234_5678, 160);
            let packet = protect(&mut sender, &plain, false);
            assert_eq!(packet.len(), plain.len() + suite.rtp_tag_len(), "{suite:?}");
            assert_ne!(packet[24..plain.len()], plain[24..], "{suite:?}: payload is encrypted");
            assert_eq!(packet[..24], plain[..24], "{suite:?}: header stays clear");
            // Every single bit flip (header, payload or tag) is refused — by authentication, or before it when
            // the flip turns the sequence number into one already received — and leaves the state alone.
            for at in [1, 3, 9, 13, 21, 30, packet.len() - 1] {
                let mut tampered = packet.clone();
                tampered[at] ^= 0x01;
                let result = unprotect(&mut receiver, &tampered, false);
                assert!(
                    matches!(result, Err(SrtpError::AuthFailed | SrtpError::Malformed | SrtpError::Replayed)),
                    "{suite:?} byte {at}: {result:?}"
                );
            }
            assert_eq!(unprotect(&mut receiver, &packet, false).unwrap(), plain, "{suite:?}");
        }
        let rtcp = hex(RTCP_PLAIN);
        for _ in 0..3 {
            let packet = protect(&mut sender, &rtcp, true);
            let mut tampered = packet.clone();
            tampered[10] ^= 0x80;
            assert_eq!(unprotect(&mut receiver, &tampered, true), Err(SrtpError::AuthFailed), "{suite:?}");
            assert_eq!(unprotect(&mut receiver, &packet, true).unwrap(), rtcp, "{suite:?}");
        }
    }
}

#[test]
fn a_wrong_key_fails_authentication() {
    let (mut sender, _) = pair(SrtpSuite::AesCm128HmacSha1_80);
    let (_, mut stranger) = pair(SrtpSuite::AesCm128HmacSha1_80);
    let packet = protect(&mut sender, &rtp_packet(1, 7, 160), false);
    assert_eq!(unprotect(&mut stranger, &packet, false), Err(SrtpError::AuthFailed));
}

#[test]
fn replays_are_refused_and_reordering_within_the_window_is_not() {
    for suite in [SrtpSuite::AesCm128HmacSha1_32, SrtpSuite::AeadAes128Gcm] {
        let (mut sender, mut receiver) = pair(suite);
        let packets: Vec<Vec<u8>> = (100..200u16).map(|s| protect(&mut sender, &rtp_packet(s, 9, 40), false)).collect();
        assert!(unprotect(&mut receiver, &packets[0], false).is_ok());
        assert_eq!(unprotect(&mut receiver, &packets[0], false), Err(SrtpError::Replayed), "{suite:?}");
        // Out of order: 5 before 3.
        assert!(unprotect(&mut receiver, &packets[5], false).is_ok());
        assert!(unprotect(&mut receiver, &packets[3], false).is_ok());
        assert_eq!(unprotect(&mut receiver, &packets[3], false), Err(SrtpError::Replayed));
        // 90 ahead: packet 4 (86 behind) is now beyond the 64-packet window.
        assert!(unprotect(&mut receiver, &packets[90], false).is_ok());
        assert_eq!(unprotect(&mut receiver, &packets[4], false), Err(SrtpError::TooOld), "{suite:?}");
        assert!(unprotect(&mut receiver, &packets[40], false).is_ok(), "50 behind is inside the window");
        // SRTCP replay.
        let rtcp = protect(&mut sender, &hex(RTCP_PLAIN), true);
        assert!(unprotect(&mut receiver, &rtcp, true).is_ok());
        assert_eq!(unprotect(&mut receiver, &rtcp, true), Err(SrtpError::Replayed), "{suite:?}");
    }
}

#[test]
fn the_rollover_counter_carries_across_65535() {
    for suite in [SrtpSuite::AesCm128HmacSha1_80, SrtpSuite::AeadAes256Gcm] {
        let key_salt = voicera_media::srtp::generate_key_salt(suite);
        let (key, salt) = key_salt.split_at(suite.master_key_len());
        let context = || SrtpContext::new(suite, key, salt).unwrap();
        let (mut sender, mut receiver) = (context(), context());
        let ssrc = 0xdead_beef;
        let mut sent = Vec::new();
        for seq in (65530..=65535u16).chain(0..6) {
            let plain = rtp_packet(seq, ssrc, 20);
            sent.push((plain.clone(), protect(&mut sender, &plain, false)));
        }
        assert_eq!(sender.rollover_counter(ssrc), 1);
        // Deliver with the packet from just before the wrap arriving late, after the first ones after it.
        let order = [0, 1, 2, 3, 4, 6, 7, 5, 8, 9, 10, 11];
        for i in order {
            let (plain, packet) = &sent[i];
            assert_eq!(&unprotect(&mut receiver, packet, false).unwrap(), plain, "{suite:?} packet {i}");
        }
        assert_eq!(receiver.rollover_counter(ssrc), 1);
        // The ROC is in the MAC (and the GCM nonce): a receiver that joins after the wrap, and so assumes
        // ROC 0, cannot authenticate the packets.
        let mut late_joiner = context();
        assert_eq!(unprotect(&mut late_joiner, &sent[8].1, false), Err(SrtpError::AuthFailed), "{suite:?}");
    }
}

#[test]
fn several_ssrcs_keep_their_own_state() {
    let (mut sender, mut receiver) = pair(SrtpSuite::AesCm128HmacSha1_80);
    for seq in 0..10u16 {
        for ssrc in [1u32, 2, 3] {
            let plain = rtp_packet(seq.wrapping_add(ssrc as u16 * 1000), ssrc, 30);
            let packet = protect(&mut sender, &plain, false);
            assert_eq!(unprotect(&mut receiver, &packet, false).unwrap(), plain);
        }
    }
}

#[test]
fn mki_is_written_and_checked() {
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let key_salt = voicera_media::srtp::generate_key_salt(suite);
    let (key, salt) = key_salt.split_at(16);
    let mki = Mki { value: 0x0102, length: 2 };
    let mut sender = SrtpContext::new(suite, key, salt).unwrap().with_mki(mki).unwrap();
    let mut receiver = SrtpContext::new(suite, key, salt).unwrap().with_mki(mki).unwrap();
    let mut other = SrtpContext::new(suite, key, salt).unwrap().with_mki(Mki { value: 3, length: 2 }).unwrap();
    assert_eq!(sender.rtp_overhead(), 12);
    let plain = rtp_packet(5, 1, 50);
    let packet = protect(&mut sender, &plain, false);
    assert_eq!(packet[plain.len()..plain.len() + 2], [0x01, 0x02]);
    assert_eq!(unprotect(&mut other, &packet, false), Err(SrtpError::UnknownMki));
    assert_eq!(unprotect(&mut receiver, &packet, false).unwrap(), plain);
    let rtcp = protect(&mut sender, &hex(RTCP_PLAIN), true);
    assert_eq!(rtcp.len(), 24 + 4 + 2 + 10);
    assert_eq!(unprotect(&mut receiver, &rtcp, true).unwrap(), hex(RTCP_PLAIN));
    assert!(SrtpContext::new(suite, key, salt).unwrap().with_mki(Mki { value: 0, length: 5 }).is_err());
}

#[test]
fn a_context_comes_from_an_sdp_crypto_line() {
    // RFC 4568 §8.1's example attribute (MKI 1, 4 bytes).
    let crypto =
        CryptoAttribute::parse("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4")
            .unwrap();
    let mut sender = SrtpContext::from_crypto(&crypto).unwrap();
    let mut receiver = SrtpContext::from_crypto(&crypto).unwrap();
    assert_eq!(sender.rtp_overhead(), 14);
    let plain = rtp_packet(1, 1, 10);
    let packet = protect(&mut sender, &plain, false);
    assert_eq!(packet[plain.len()..plain.len() + 4], [0, 0, 0, 1]);
    assert_eq!(unprotect(&mut receiver, &packet, false).unwrap(), plain);
}

#[test]
fn short_buffers_and_junk_are_errors_not_panics() {
    let (mut sender, mut receiver) = pair(SrtpSuite::AeadAes128Gcm);
    let plain = rtp_packet(1, 1, 10);
    let mut tight = plain.clone();
    assert_eq!(sender.protect_rtp(&mut tight, plain.len()), Err(SrtpError::NoRoom));
    assert_eq!(sender.protect_rtp(&mut tight, plain.len() + 1), Err(SrtpError::Malformed));
    assert_eq!(sender.protect_rtcp(&mut [0x81, 0xc8, 0, 1], 4), Err(SrtpError::Malformed));
    for len in 0..40 {
        let mut junk: Vec<u8> = (0..len).map(|i| (i * 37 + 0x80) as u8).collect();
        assert!(receiver.unprotect_rtp(&mut junk.clone()).is_err());
        assert!(receiver.unprotect_rtcp(&mut junk).is_err());
    }
}

#[test]
fn wrong_key_lengths_are_refused() {
    assert_eq!(
        SrtpContext::new(SrtpSuite::AeadAes128Gcm, &[0; 16], &[0; 14]).err(),
        Some(SrtpError::KeyLength(SrtpSuite::AeadAes128Gcm))
    );
    assert!(SrtpContext::new(SrtpSuite::AesCm256HmacSha1_32, &[0; 16], &[0; 14]).is_err());
}

proptest::proptest! {
    /// Whatever arrives on an SRTP port, unprotecting it is an error or a packet, never a panic, for every suite.
    #[test]
    fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
        for suite in SrtpSuite::PREFERENCE {
            let key_salt = vec![3u8; suite.master_key_len() + suite.master_salt_len()];
            let (key, salt) = key_salt.split_at(suite.master_key_len());
            let mut context = SrtpContext::new(suite, key, salt).unwrap();
            let _ = context.unprotect_rtp(&mut bytes.clone());
            let _ = context.unprotect_rtcp(&mut bytes.clone());
            let mut buffer = bytes.clone();
            buffer.resize(bytes.len() + 40, 0);
            let _ = context.protect_rtp(&mut buffer, bytes.len());
            let _ = context.protect_rtcp(&mut buffer, bytes.len());
        }
    }
}

/// Packets protected by libsrtp 2.5.0 (`srtp_libsrtp_vectors.c` made them): for the _32 suites, AES-256,
/// GCM-256, a 4-byte MKI, and a sequence number wrap (65533 → 2) that takes the rollover counter to 1. Our
/// protect must give the same bytes (so libsrtp accepts ours) and our unprotect must give the plaintext back.
#[test]
fn packets_match_libsrtp_across_suites_mki_and_a_sequence_wrap() {
    let vectors = include_str!("srtp_libsrtp_vectors.txt");
    let mut contexts: Option<(SrtpContext, SrtpContext)> = None;
    let mut checked = 0;
    for line in vectors.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["suite", name, "key", key_salt, "mki", mki] => {
                let suite = SrtpSuite::from_name(name).unwrap();
                let key_salt = hex(key_salt);
                let (key, salt) = key_salt.split_at(suite.master_key_len());
                let context = || {
                    let context = SrtpContext::new(suite, key, salt).unwrap();
                    match *mki {
                        "1" => context.with_mki(Mki { value: 1, length: 4 }).unwrap(),
                        _ => context,
                    }
                };
                contexts = Some((context(), context()));
            }
            [kind @ ("rtp" | "rtcp"), plain, expected] => {
                let (sender, receiver) = contexts.as_mut().unwrap();
                let rtcp = *kind == "rtcp";
                let (plain, expected) = (hex(plain), hex(expected));
                assert_eq!(protect(sender, &plain, rtcp), expected, "{line}");
                assert_eq!(unprotect(receiver, &expected, rtcp).unwrap(), plain, "{line}");
                checked += 1;
            }
            _ => {}
        }
    }
    assert_eq!(checked, 5 * 8, "every vector was checked");
    let (sender, receiver) = contexts.unwrap();
    assert_eq!((sender.rollover_counter(0xcafe_babe), receiver.rollover_counter(0xcafe_babe)), (1, 1));
}
